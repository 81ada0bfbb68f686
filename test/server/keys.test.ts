import Database from 'better-sqlite3';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unseal } from '../../src/server/keys/key-encryption.js';
import { StoreKeyRing } from '../../src/server/keys/key-ring.js';
import { systemClock } from '../../src/server/platform/clock.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, introspect, tokensFor, type Client } from './support.js';

describe('signing keys', () => {
  let lk: TestLatchkey;
  let app: Client;
  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(ALICE.username, ALICE.password);
    app = await lk.createClient({ redirectUris: [APP] });
  });
  afterAll(async () => lk.close());

  for (const alg of ['RS256', 'EdDSA', 'ES256'] as const) {
    it(`RFC 9068 §2.1: access tokens signed with a rotated-in ${alg} key verify against the JWKS and introspect as active`, async () => {
      const key = await lk.server.keys.rotate({ immediate: true, algorithm: alg });
      const { access } = await tokensFor(lk, app);
      const jwks = createRemoteJWKSet(new URL('/jwks.json', lk.issuer));
      const { protectedHeader, payload } = await jwtVerify(access, jwks, { issuer: lk.issuer, typ: 'at+jwt', algorithms: [alg] });
      expect(protectedHeader).toMatchObject({ alg, kid: key.kid, typ: 'at+jwt' });
      expect(payload.client_id).toBe(app.clientId);
      expect((await introspect(lk, app, access)).body.active).toBe(true);
      // RFC 8414 §2: the metadata lists the algorithm of every published key, without a restart.
      const metadata = (await (await fetch(new URL('/.well-known/oauth-authorization-server', lk.issuer))).json()) as Record<string, string[]>;
      expect(metadata.access_token_signing_alg_values_supported).toContain(alg);
    });
  }

  it('private keys at rest are sealed with the key-encryption key: no private JWK member is stored in clear', async () => {
    const db = new Database(lk.databaseFile, { readonly: true });
    const rows = db.prepare('SELECT public_jwk, private_jwk_encrypted FROM keys').all() as Array<{ public_jwk: string; private_jwk_encrypted: string }>;
    db.close();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) {
      expect(JSON.parse(row.public_jwk)).not.toHaveProperty('d');
      expect(row.private_jwk_encrypted).toMatch(/^v1\./);
      expect(row.private_jwk_encrypted).not.toContain('"d"');
    }
  });

  it('a wrong key-encryption key fails with a message that names the setting, not a crypto stack', async () => {
    const ring = new StoreKeyRing(lk.store, Buffer.alloc(32, 1), systemClock, { algorithm: 'ES256', reloadIntervalMs: 0, prePublishMs: 0, retainAfterRetireMs: 0 });
    await expect(ring.signer()).rejects.toThrow(/LATCHKEY_KEY_ENCRYPTION_KEY/);
    expect(() => unseal(Buffer.alloc(32, 1), 'v1.bad')).toThrow(/unknown format/);
  });
});

describe('automatic key rotation', () => {
  it('the key ring rotates on schedule: a new key is published before it signs, and the old one leaves once its tokens expired', async () => {
    const { ManualClock } = await import('../../src/server/platform/clock.js');
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const lk = await startLatchkey({ clock, settings: { accessTokenTtlSeconds: 300 } });
    try {
      const kidsOf = async () => ((await (await fetch(new URL('/jwks.json', lk.issuer))).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
      const [first] = await kidsOf();
      // Default schedule: 30 days. Housekeeping runs every minute in production; here by hand.
      clock.advance(30 * 24 * 3600 * 1000);
      await lk.server.housekeeping();
      const during = await kidsOf();
      expect(during).toHaveLength(2);
      expect(during).toContain(first);
      // Pre-publication (2 minutes by default): the old key still signs until the new one activates.
      expect((await lk.server.keys.signer()).kid).toBe(first);
      clock.advance(2 * 60 * 1000 + 1);
      const second = (await lk.server.keys.signer()).kid;
      expect(second).not.toBe(first);
      // The old key stays published for the access-token lifetime (+60 s), then leaves.
      clock.advance((300 + 60) * 1000 + 1);
      await lk.server.housekeeping();
      expect(await kidsOf()).toEqual([second]);
      expect((await lk.store.listEvents({ type: 'key.rotated' })).length).toBeGreaterThanOrEqual(1);
    } finally {
      await lk.close();
    }
  });
});
