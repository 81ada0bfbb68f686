import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/server/config.js';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from './support.js';

/** Checklist rows that no other test names: each proved over real HTTP. */
describe('Checklist rows proved end to end', () => {
  const tmp = tempDir();
  let lk: Instance;
  let client: { clientId: string; clientSecret?: string };
  let callback: URL;
  let challenge: string;
  let tokens: Record<string, unknown>;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: `${tmp.dir}/checklist.db`, kek: newKek() });
    await seedUser(lk.store, 'lee', 'lee password');
    client = await seedClient(lk.store, { scopes: ['notes:read', 'profile'] });
    const pkce = pkcePair();
    challenge = pkce.challenge;
    callback = await authorizeOverHttp(
      authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope: 'notes:read' }),
      { username: 'lee', password: 'lee password' },
    );
    const res = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: pkce.verifier }, { authorization: basic(client.clientId, client.clientSecret!) });
    tokens = (await res.json()) as Record<string, unknown>;
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('P1 P7 RFC 9700 §2.1.1: the metadata advertises PKCE with S256 only', async () => {
    const metadata = (await (await fetch(`${lk.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('G2 RFC 9700 §2.4 and G9 OAuth 2.1 §4.2: the password and client_credentials grants are refused with unsupported_grant_type', async () => {
    for (const grantType of ['password', 'client_credentials', 'implicit']) {
      const res = await postForm(`${lk.url}/token`, { grant_type: grantType, username: 'lee', password: 'lee password' }, { authorization: basic(client.clientId, client.clientSecret!) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('unsupported_grant_type');
    }
  });

  it('C6 OAuth 2.1 §7.7 and P9 OAuth 2.1 §4.1.2: the code is sealed (AES-256-GCM): no trace of the challenge, user or client can be read from it', () => {
    const code = callback.searchParams.get('code')!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{120,}$/);
    const bytes = Buffer.from(code, 'base64url');
    for (const form of ['base64url', 'latin1'] as const) {
      const text = bytes.toString(form);
      expect(text).not.toContain(challenge.slice(0, 10));
      expect(text).not.toContain(client.clientId);
    }
  });

  it('T5 RFC 9700 §4.14.2: the refresh token is 256 random bits behind its issue time (no grant id inside to tamper with)', () => {
    expect(tokens.refresh_token).toMatch(/^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/);
  });

  it('A4 OAuth 2.1 §7.1.3.5 and A5 §3.2.3: the access token lives 5 minutes and the response states its scope', () => {
    const claims = decodeJwt(String(tokens.access_token));
    expect(decodeProtectedHeader(String(tokens.access_token)).typ).toBe('at+jwt');
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(tokens.expires_in).toBe(300);
    expect(tokens.scope).toBe('notes:read');
  });

  it('G5 OAuth 2.1 §2.4.1: the limits are configurable through LATCHKEY_* variables', () => {
    const config = resolveConfig({}, { LATCHKEY_RATE_LIMIT_TOKEN_PER_IP: '5', LATCHKEY_LOGIN_LOCK_AFTER: '3', LATCHKEY_RATE_LIMIT_EXEMPT_LOOPBACK: 'false', LATCHKEY_KEY_ENCRYPTION_KEY: newKek().toString('base64url') });
    expect(config.settings.throttle?.rate).toMatchObject({ tokenPerIp: 5, exemptLoopback: false });
    expect(config.settings.throttle?.login).toMatchObject({ lockAfterPerAccount: 3 });
    expect(() => resolveConfig({}, { LATCHKEY_CLIENT_AUTH_LOCK_AFTER: 'many', LATCHKEY_KEY_ENCRYPTION_KEY: newKek().toString('base64url') })).toThrow(/LATCHKEY_CLIENT_AUTH_LOCK_AFTER/);
  });
});
