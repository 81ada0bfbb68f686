import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';

describe('RFC 6749 §4.1: the authorization code grant end to end', () => {
  let lk: TestLatchkey;
  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser('alice', 'correct horse battery');
  });
  afterAll(async () => lk.close());

  it('RFC 6749 §4.1: a confidential client completes the flow and gets a JWT access token and a refresh token', async () => {
    const { clientId, clientSecret } = await lk.createClient({ redirectUris: ['https://app.example/cb'] });
    const { verifier, challenge } = pkcePair();
    const url = new URL('/authorize', lk.issuer);
    url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'https://app.example/cb', scope: 'notes:read', state: 'xyz', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
    const callback = await authorizeOverHttp(url, { username: 'alice', password: 'correct horse battery' });
    expect(callback.origin + callback.pathname).toBe('https://app.example/cb');
    expect(callback.searchParams.get('state')).toBe('xyz');
    expect(callback.searchParams.get('iss')).toBe(lk.issuer);
    const code = callback.searchParams.get('code')!;
    const res = await fetch(new URL('/token', lk.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'https://app.example/cb', code_verifier: verifier }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(body.token_type).toBe('Bearer');
    expect(typeof body.refresh_token).toBe('string');
    expect(String(body.access_token).split('.')).toHaveLength(3);
  });
});
