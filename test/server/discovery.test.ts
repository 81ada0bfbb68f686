import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/platform/clock.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, type Client, introspect, tokensFor } from './support.js';

async function jwks(lk: TestLatchkey): Promise<JSONWebKeySet> {
  const res = await fetch(new URL('/jwks.json', lk.issuer));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/(jwk-set\+)?json/);
  return (await res.json()) as JSONWebKeySet;
}

describe('discovery (RFC 8414) and keys (RFC 7517)', () => {
  let lk: TestLatchkey;

  beforeAll(async () => {
    lk = await startLatchkey();
  });
  afterAll(async () => lk?.close());

  it.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])(
    'M2 RFC 8414 §2: %s lists exactly what is supported',
    async (path) => {
      const res = await fetch(new URL(path, lk.issuer));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const m = (await res.json()) as Record<string, unknown>;
      // RFC 8414 §3.3: the issuer is identical to the one the metadata was fetched for.
      expect(m.issuer).toBe(lk.issuer);
      expect(m.authorization_endpoint).toBe(`${lk.issuer}/authorize`);
      expect(m.token_endpoint).toBe(`${lk.issuer}/token`);
      expect(m.jwks_uri).toBe(`${lk.issuer}/jwks.json`);
      expect(m.introspection_endpoint).toBe(`${lk.issuer}/introspect`);
      expect(m.revocation_endpoint).toBe(`${lk.issuer}/revoke`);
      expect(m.response_types_supported).toEqual(['code']);
      expect(m.grant_types_supported).toEqual(['authorization_code', 'refresh_token']);
      expect(m.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
      expect(m.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
      // P5 P7 RFC 9700 §2.1.1: S256 only, never plain.
      expect(m.code_challenge_methods_supported).toEqual(['S256']);
      // M1 RFC 9207 §3.
      expect(m.authorization_response_iss_parameter_supported).toBe(true);
      // G1 RFC 9700 §2.1.2: no implicit grant, no password grant.
      expect(m.grant_types_supported).not.toContain('implicit');
      expect(m.grant_types_supported).not.toContain('password');
      // Every endpoint it names answers.
      for (const name of ['jwks_uri']) expect((await fetch(String(m[name]))).status).toBe(200);
    },
  );

  it('RFC 7517 §5: the JWKS has the public signing key (EC P-256, ES256, kid, use sig) and no private part', async () => {
    const set = await jwks(lk);
    expect(set.keys.length).toBeGreaterThanOrEqual(1);
    const key = set.keys[0]!;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(typeof key.kid).toBe('string');
    expect(key).not.toHaveProperty('d');
  });

  it('X4 RFC 9700 §2.6: metadata and JWKS allow CORS', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/jwks.json']) {
      expect((await fetch(new URL(path, lk.issuer))).headers.get('access-control-allow-origin')).toBe('*');
    }
  });
});

describe('key rotation (RFC 7517, RFC 9068 §4)', () => {
  const clock = new ManualClock();
  let lk: TestLatchkey;
  let client: Client;

  beforeAll(async () => {
    lk = await startLatchkey({ clock });
    await lk.createUser(ALICE.username, ALICE.password);
    client = await lk.createClient({ redirectUris: [APP] });
  });
  afterAll(async () => lk?.close());

  it('RFC 7517: a token signed before rotation still verifies after it; both keys overlap, then only the new one remains', async () => {
    const before = await jwks(lk);
    expect(before.keys).toHaveLength(1);
    const oldKid = before.keys[0]!.kid;
    const { access: oldToken } = await tokensFor(lk, client);
    expect(decodeProtectedHeader(oldToken).kid).toBe(oldKid);

    await lk.rotateKeys();
    const during = await jwks(lk);
    expect(during.keys).toHaveLength(2);
    const newKid = during.keys.map((k) => k.kid).find((k) => k !== oldKid)!;
    expect(newKid).toBeTruthy();
    // The old token verifies against the JWKS served after the rotation.
    const verified = await jwtVerify(oldToken, createLocalJWKSet(during), { issuer: lk.issuer, typ: 'at+jwt' });
    expect(verified.protectedHeader.kid).toBe(oldKid);
    expect((await introspect(lk, client, oldToken)).body.active).toBe(true);

    // New tokens are signed with the new key.
    const { access: newToken } = await tokensFor(lk, client);
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid);
    await jwtVerify(newToken, createLocalJWKSet(during), { issuer: lk.issuer, typ: 'at+jwt' });

    // Still published while tokens it signed may be alive (access token lifetime 300 s).
    clock.advance(299_000);
    await lk.server.keys.prune();
    expect((await jwks(lk)).keys.map((k) => k.kid).sort()).toEqual([newKid, oldKid].sort());

    // Once every token the old key signed has expired, it leaves the JWKS.
    clock.advance(62_000);
    await lk.server.keys.prune();
    const after = await jwks(lk);
    expect(after.keys.map((k) => k.kid)).toEqual([newKid]);
  });
});
