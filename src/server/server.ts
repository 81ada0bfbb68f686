import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { CoreContext } from './core/context.js';
import type { Clock, KeyAlgorithm, PasswordHasher, Random, Store } from './core/ports.js';
import { defaultSettings, type Settings } from './core/settings.js';
import { buildApp } from './http/app.js';
import { seal, unseal } from './keys/key-encryption.js';
import { StoreKeyRing } from './keys/key-ring.js';
import { systemClock } from './platform/clock.js';
import { auditEventSink } from './platform/event-sink.js';
import { argon2Hasher } from './platform/password-hasher.js';
import { cryptoRandom } from './platform/random.js';
import { CODE_TTL_LIMIT_MS } from './store/retention.js';

export interface LatchkeyOptions {
  store: Store;
  issuer: string;
  keyEncryptionKey: Buffer;
  settings?: Partial<Omit<Settings, 'issuer'>>;
  signingAlgorithm?: KeyAlgorithm;
  logger?: Logger;
  clock?: Clock;
  random?: Random;
  passwords?: PasswordHasher;
  trustProxy?: boolean | string | string[];
  /** Run housekeeping (purge expired rows, prune keys) every this many ms; 0 turns it off. */
  housekeepingIntervalMs?: number;
  /** How often keys are re-read from the store (a rotation by another instance shows up within this). */
  keyReloadIntervalMs?: number;
  /** Rotate the signing key automatically when it has signed for this long; 0 turns it off. */
  keyRotationIntervalMs?: number;
  /** A rotated-in key is published this long before it signs (default 2 minutes). */
  keyPrePublishMs?: number;
  /** In a node:cluster worker whose primary called serveClusterMetrics: /metrics answers every worker's metrics, summed. */
  clusterMetrics?: boolean;
}

export interface Latchkey {
  app: FastifyInstance;
  ctx: CoreContext;
  keys: StoreKeyRing;
  /** Deletes expired rows in small batches and prunes keys that left the JWKS; returns rows removed. */
  housekeeping(): Promise<number>;
  close(): Promise<void>;
}

export const REFRESH_SECRET_NAME = 'refresh-successor-hmac';
export const CODE_SECRET_NAME = 'authorization-code-seal';

/** Builds a ready-to-listen authorization server on the given store. */
export async function createLatchkey(options: LatchkeyOptions): Promise<Latchkey> {
  const logger = options.logger ?? pino({ level: 'info' });
  const clock = options.clock ?? systemClock;
  const settings: Settings = { ...defaultSettings(options.issuer), ...options.settings, issuer: options.issuer };
  const { store, keyEncryptionKey: kek } = options;

  const keys = new StoreKeyRing(store, kek, clock, {
    algorithm: options.signingAlgorithm ?? 'ES256',
    reloadIntervalMs: options.keyReloadIntervalMs ?? 30_000,
    prePublishMs: options.keyPrePublishMs ?? 2 * 60 * 1000,
    retainAfterRetireMs: (settings.accessTokenTtlSeconds + 60) * 1000,
  });
  await keys.ensureSigningKey();

  if (settings.codeTtlSeconds * 1000 > CODE_TTL_LIMIT_MS) throw new RangeError(`codeTtlSeconds must be at most ${CODE_TTL_LIMIT_MS / 1000}`);
  // Each secret is one for every instance, created by whichever starts first.
  const sharedSecret = async (name: string) =>
    Buffer.from(unseal(kek, await store.putSecretIfAbsent(name, seal(kek, randomBytes(32).toString('base64url')), clock.now())), 'base64url');
  const refreshSecret = await sharedSecret(REFRESH_SECRET_NAME);
  const codeSecret = await sharedSecret(CODE_SECRET_NAME);

  const ctx: CoreContext = {
    settings,
    store,
    keys,
    clock,
    random: options.random ?? cryptoRandom,
    passwords: options.passwords ?? argon2Hasher,
    events: auditEventSink(logger, store),
    refreshSecret,
    codeSecret,
  };
  const app = await buildApp(ctx, { logger, trustProxy: options.trustProxy, clusterMetrics: options.clusterMetrics });

  const rotationInterval = options.keyRotationIntervalMs ?? 30 * 24 * 3600 * 1000;
  async function housekeeping(): Promise<number> {
    const now = clock.now();
    let removed = 0;
    // Small batches so the token endpoint never waits behind a long delete.
    for (let round = 0; round < 20; round++) {
      const n = await store.purgeExpired(now, 500);
      removed += n;
      if (n === 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await keys.prune();
    if (rotationInterval > 0) {
      const newest = (await keys.list()).filter((k) => k.state !== 'expired').sort((a, b) => b.createdAt - a.createdAt)[0];
      if (!newest || now - newest.createdAt >= rotationInterval) {
        const key = await keys.rotate();
        ctx.events.emit({ type: 'key.rotated', at: now, detail: { kid: key.kid, reason: 'schedule' } });
      }
    }
    return removed;
  }

  const interval = options.housekeepingIntervalMs ?? 60_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          housekeeping().catch((error: unknown) => logger.warn({ err: error }, 'housekeeping failed'));
        }, interval)
      : undefined;
  timer?.unref();

  return {
    app,
    ctx,
    keys,
    housekeeping,
    async close() {
      if (timer) clearInterval(timer);
      await app.close();
    },
  };
}
