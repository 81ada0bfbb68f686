import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, registerClient } from '../../src/server/admin.js';
import type { Store } from '../../src/server/core/ports.js';
import { ManualClock } from '../../src/server/platform/clock.js';
import { createLatchkey, type Latchkey } from '../../src/server/server.js';
import { openStore } from '../../src/server/store/open-store.js';
import { authorizeOverHttp, CookieJar, fastTestHasher, fetchWithJar } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { freePort, freshSchema, POSTGRES_URL } from '../helpers/processes.js';

/**
 * An hour of simulated time (the clock is injected) at a steady load of flows and refreshes on
 * the real PostgreSQL, with housekeeping every five minutes: table sizes must level off.
 */
const schema = freshSchema('lk_growth');
const TABLES = ['sessions', 'interactions', 'consents', 'grants', 'refresh_tokens', 'revoked_access_tokens', 'rate_limits'] as const;

let store: Store;
let server: Latchkey;
let admin: pg.Client;
let issuer: string;
const clock = new ManualClock(Date.UTC(2026, 0, 1));

beforeAll(async () => {
  store = await openStore(`${POSTGRES_URL}?schema=${schema}`);
  admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  server = await createLatchkey({
    store,
    issuer,
    keyEncryptionKey: randomBytes(32),
    clock,
    passwords: fastTestHasher,
    logger: pino({ level: 'silent' }),
    housekeepingIntervalMs: 0,
    keyRotationIntervalMs: 0,
    settings: { sessionTtlSeconds: 900, refreshIdleTtlSeconds: 600, refreshAbsoluteTtlSeconds: 1800, accessTokenTtlSeconds: 300 },
  });
  await server.app.listen({ port, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await store?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const result = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`);
    counts[table] = Number(result.rows[0]!.n);
  }
  return counts;
}

describe('growth', () => {
  it('an hour of simulated time at steady load leaves the table sizes flat', async () => {
    const redirectUri = 'https://app.example/cb';
    const { client, clientSecret } = await registerClient(store, { name: 'Steady', redirectUris: [redirectUri], scopes: ['notes:read'] });
    const auth = `Basic ${Buffer.from(`${client.id}:${clientSecret}`).toString('base64')}`;
    const users = Array.from({ length: 2 }, (_, i) => ({ username: `steady${i}`, password: 'steady password' }));
    for (const u of users) await createUser(store, fastTestHasher, u.username, u.password, clock.now());

    const tokenRequest = async (body: Record<string, string>) => {
      const response = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams(body) });
      return (await response.json()) as Record<string, string>;
    };
    const authorizationUrl = (challenge: string) => {
      const url = new URL('/authorize', issuer);
      url.search = new URLSearchParams({ response_type: 'code', client_id: client.id, scope: 'notes:read', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
      return url;
    };

    const snapshots: Array<Record<string, number>> = [];
    let refreshTokens: string[] = [];
    for (let minute = 1; minute <= 60; minute++) {
      // Each minute: every user signs in afresh once, then runs two more flows on that session,
      // and the newest refresh tokens are rotated.
      for (const u of users) {
        const jar = new CookieJar();
        for (let flow = 0; flow < 2; flow++) {
          const { verifier, challenge } = pkcePair();
          let code: string;
          if (flow === 0) {
            code = (await authorizeOverHttp(authorizationUrl(challenge), u, { jar })).searchParams.get('code')!;
          } else {
            const response = await fetchWithJar(jar, authorizationUrl(challenge));
            code = new URL(response.headers.get('location')!).searchParams.get('code')!;
          }
          const tokens = await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier });
          expect(tokens.access_token).toBeTruthy();
          refreshTokens.push(tokens.refresh_token!);
        }
      }
      const next: string[] = [];
      for (const refreshToken of refreshTokens.slice(-10)) {
        const rotated = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
        if (rotated.refresh_token) next.push(rotated.refresh_token);
      }
      refreshTokens = next;
      clock.advance(60_000);
      if (minute % 5 === 0) await server.housekeeping();
      if (minute % 20 === 0) snapshots.push(await rowCounts());
    }

    if (process.env.GROWTH_REPORT) console.log("GROWTH", JSON.stringify(snapshots));
    const [, at40, at60] = snapshots as [Record<string, number>, Record<string, number>, Record<string, number>];
    for (const table of TABLES) {
      // Level once every lifetime has passed: no table grows by more than a tenth between minute 40 and 60.
      expect(at60[table]!, `${table}: ${JSON.stringify(snapshots.map((s) => s[table]))}`).toBeLessThanOrEqual(Math.ceil(at40[table]! * 1.1) + 5);
    }
    // And the bounded tables really were purged: far fewer rows than were ever written.
    expect(at60.sessions!).toBeLessThan(60 * 5);
  }, 300_000);
});
