import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
// The one function from its own entry point: jose's index loads all of jose (some 180 modules).
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint';
import type { JWK } from 'jose';
import type { Clock, KeyAlgorithm, KeyRecord, KeyRing, Signer, Store } from '../core/ports.js';
import { seal, unseal } from './key-encryption.js';

export interface KeyRingOptions {
  algorithm: KeyAlgorithm;
  /** Keys are re-read from the store this often, so a rotation by another instance is seen. */
  reloadIntervalMs: number;
  /** A rotated-in key is published this long before it signs, so JWKS caches pick it up first. */
  prePublishMs: number;
  /** A retired key stays published this long after it stopped signing (≥ the access-token lifetime). */
  retainAfterRetireMs: number;
}

interface LoadedKey {
  record: KeyRecord;
  publicKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

interface Snapshot {
  loadedAt: number;
  keys: LoadedKey[];
  signer: Signer | undefined;
  signerUntil: number;
}

/**
 * The key ring kept in the Store. Keys are decrypted and imported once per reload, never per
 * request; signing uses node:crypto directly (about 6× faster than WebCrypto for ES256 here).
 */
export class StoreKeyRing implements KeyRing {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;

  constructor(
    private readonly store: Store,
    private readonly kek: Buffer,
    private readonly clock: Clock,
    private readonly options: KeyRingOptions,
  ) {}

  /** Creates the first key if the store has none that can sign. */
  async ensureSigningKey(): Promise<void> {
    const now = this.clock.now();
    const keys = await this.store.listKeys();
    if (!keys.some((k) => isSigning(k, now))) {
      await this.store.insertKey(await generateKeyRecord(this.options.algorithm, this.kek, now, now));
    }
    await this.reload();
  }

  /**
   * Rotation without anyone noticing: the new key is published now and signs after the
   * pre-publication period; the current key signs until then and stays published until every
   * token it signed has expired.
   */
  async rotate(options: { immediate?: boolean; algorithm?: KeyAlgorithm } = {}): Promise<KeyRecord> {
    const now = this.clock.now();
    const activatesAt = options.immediate ? now : now + this.options.prePublishMs;
    const fresh = await generateKeyRecord(options.algorithm ?? this.options.algorithm, this.kek, now, activatesAt);
    for (const key of await this.store.listKeys()) {
      if (key.retiresAt === null || key.retiresAt > activatesAt) {
        await this.store.updateKey(key.kid, { retiresAt: activatesAt, expiresAt: activatesAt + this.options.retainAfterRetireMs });
      }
    }
    await this.store.insertKey(fresh);
    await this.reload();
    return fresh;
  }

  /** Deletes keys that have left the JWKS. */
  async prune(): Promise<number> {
    const now = this.clock.now();
    let removed = 0;
    for (const key of await this.store.listKeys()) {
      if (key.expiresAt !== null && key.expiresAt <= now) {
        await this.store.deleteKey(key.kid);
        removed++;
      }
    }
    if (removed) await this.reload();
    return removed;
  }

  async signer(): Promise<Signer> {
    const now = this.clock.now();
    let snap = this.snapshot;
    if (!snap || now - snap.loadedAt > this.options.reloadIntervalMs || !snap.signer || now >= snap.signerUntil) {
      snap = await this.reload();
    }
    if (!snap.signer) throw new Error('no signing key is active: run `latchkey keys rotate`');
    return snap.signer;
  }

  async verifier(kid: string): Promise<{ alg: KeyAlgorithm; verify: (data: Buffer, signature: Buffer) => boolean } | undefined> {
    let snap = this.snapshot ?? (await this.reload());
    let key = snap.keys.find((k) => k.record.kid === kid);
    // An unknown kid may be a key another instance just rotated in: reload at most once a second.
    if (!key && this.clock.now() - snap.loadedAt > 1000) {
      snap = await this.reload();
      key = snap.keys.find((k) => k.record.kid === kid);
    }
    if (!key || !isPublished(key.record, this.clock.now())) return undefined;
    const { publicKey, record } = key;
    return { alg: record.alg, verify: (data, signature) => verifySignature(record.alg, publicKey, data, signature) };
  }

  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    let snap = this.snapshot;
    const now = this.clock.now();
    if (!snap || now - snap.loadedAt > this.options.reloadIntervalMs) snap = await this.reload();
    return { keys: snap.keys.filter((k) => isPublished(k.record, now)).map((k) => k.publicJwk) };
  }

  async list(): Promise<Array<KeyRecord & { state: 'pending' | 'active' | 'retired' | 'expired' }>> {
    const now = this.clock.now();
    return (await this.store.listKeys()).map((k) => ({ ...k, state: keyState(k, now) }));
  }

  reload(): Promise<Snapshot> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const now = this.clock.now();
    const records = await this.store.listKeys();
    const keys: LoadedKey[] = records.map((record) => {
      const jwk = JSON.parse(record.publicJwk) as Record<string, unknown>;
      return { record, publicJwk: jwk, publicKey: createPublicKey({ key: jwk as never, format: 'jwk' }) };
    });
    const current = records
      .filter((k) => isSigning(k, now))
      .sort((a, b) => b.activatesAt - a.activatesAt || b.createdAt - a.createdAt)[0];
    let signer: Signer | undefined;
    if (current) {
      const privateKey = createPrivateKey({ key: JSON.parse(unseal(this.kek, current.privateJwkEncrypted)) as never, format: 'jwk' });
      signer = makeSigner(current.kid, current.alg, privateKey);
    }
    // Reload when the signer retires or a pending key activates.
    const nextChange = Math.min(
      ...records.flatMap((k) => [k.activatesAt, k.retiresAt ?? Infinity].filter((t) => t > now)),
      Infinity,
    );
    this.snapshot = { loadedAt: now, keys, signer, signerUntil: nextChange };
    return this.snapshot;
  }
}

function isSigning(k: KeyRecord, now: number): boolean {
  return k.activatesAt <= now && (k.retiresAt === null || k.retiresAt > now);
}

function isPublished(k: KeyRecord, now: number): boolean {
  return k.createdAt <= now && (k.expiresAt === null || k.expiresAt > now);
}

function keyState(k: KeyRecord, now: number): 'pending' | 'active' | 'retired' | 'expired' {
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  if (k.activatesAt > now) return 'pending';
  if (k.retiresAt !== null && k.retiresAt <= now) return 'retired';
  return 'active';
}

function makeSigner(kid: string, alg: KeyAlgorithm, key: KeyObject): Signer {
  switch (alg) {
    case 'ES256':
      // RFC 7518 §3.4: the JWS signature is R || S (IEEE P1363), not DER.
      return { kid, alg, sign: (data) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) };
    case 'RS256':
      return { kid, alg, sign: (data) => sign('sha256', data, key) };
    case 'EdDSA':
      return { kid, alg, sign: (data) => sign(null, data, key) };
  }
}

function verifySignature(alg: KeyAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  switch (alg) {
    case 'ES256':
      return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'RS256':
      return verify('sha256', data, key, signature);
    case 'EdDSA':
      return verify(null, data, key, signature);
  }
}

export async function generateKeyRecord(alg: KeyAlgorithm, kek: Buffer, now: number, activatesAt: number): Promise<KeyRecord> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const publicJwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  // RFC 7638 thumbprint as kid: stable, and derived from the key itself.
  const kid = await calculateJwkThumbprint(publicJwk);
  const published = { ...publicJwk, kid, alg, use: 'sig' };
  const privateJwk = { ...(pair.privateKey.export({ format: 'jwk' }) as JWK), kid, alg };
  return {
    kid,
    alg,
    publicJwk: JSON.stringify(published),
    privateJwkEncrypted: seal(kek, JSON.stringify(privateJwk)),
    createdAt: now,
    activatesAt,
    retiresAt: null,
    expiresAt: null,
  };
}
