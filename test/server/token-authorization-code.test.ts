import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient } from '../../src/server/admin.js';
import { sealCode } from '../../src/server/core/sealed-code.js';
import { cryptoRandom } from '../../src/server/platform/random.js';
import { ManualClock } from '../../src/server/platform/clock.js';
import { authorizeOverHttp, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { ALICE, APP, BOB, type Client, authorizeUrl, basic, expectOAuthError, introspect, obtainCode, postForm, redeem, refresh, validParams } from './support.js';

describe('/token grant_type=authorization_code (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3)', () => {
  let lk: TestLatchkey;
  let confidential: Client;
  let other: Client;
  let publicClient: Client;

  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(ALICE.username, ALICE.password);
    confidential = await lk.createClient({ redirectUris: [APP] });
    other = await lk.createClient({ redirectUris: [APP] });
    publicClient = await lk.createClient({ redirectUris: [APP], public: true });
  });
  afterAll(async () => lk?.close());

  const raw = (body: BodyInit | null, headers: Record<string, string> = {}) =>
    fetch(new URL('/token', lk.issuer), { method: 'POST', headers, ...(body === null ? {} : { body }) });

  async function rawCall(response: Response) {
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { text };
    }
    return { status: response.status, headers: response.headers, body };
  }

  describe('client authentication', () => {
    it('G4 RFC 6749 §2.3.1: client_secret_basic works', async () => {
      const res = await redeem(lk, confidential, await obtainCode(lk, confidential), 'basic');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.token_type).toBe('Bearer');
      expect(typeof res.body.refresh_token).toBe('string');
    });

    it('G4 RFC 6749 §2.3.1: client_secret_post works', async () => {
      const res = await redeem(lk, confidential, await obtainCode(lk, confidential), 'post');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });

    it('G8 OAuth 2.1 §2.4: a public client authenticates with client_id alone (none)', async () => {
      const res = await redeem(lk, publicClient, await obtainCode(lk, publicClient), 'none');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });

    it('G6 OAuth 2.1 §3.2.4: Basic with a wrong secret gives 401 invalid_client with WWW-Authenticate', async () => {
      const grant = await obtainCode(lk, confidential);
      const res = await redeem(lk, { clientId: confidential.clientId, clientSecret: 'wrong' }, grant, 'basic');
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      // The code was not touched: the right client can still redeem it.
      expect((await redeem(lk, confidential, grant)).status).toBe(200);
    });

    it('G6 RFC 6749 §5.2: client_secret_post with a wrong secret gives 401 invalid_client', async () => {
      const res = await redeem(lk, { clientId: confidential.clientId, clientSecret: 'wrong' }, await obtainCode(lk, confidential), 'post');
      expectOAuthError(res, 401, 'invalid_client');
    });

    it('RFC 6749 §3.2.1: a confidential client without its secret gives invalid_client', async () => {
      const res = await redeem(lk, { clientId: confidential.clientId }, await obtainCode(lk, confidential), 'none');
      expectOAuthError(res, 401, 'invalid_client');
    });

    it('G6 RFC 9110 §15.5.2: a 401 without an Authorization header still carries a WWW-Authenticate challenge', async () => {
      const noCredentials = await postForm(lk, '/token', { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43) });
      expectOAuthError(noCredentials, 401, 'invalid_client');
      expect(noCredentials.headers.get('www-authenticate')).toMatch(/^Basic /);
      const missingSecret = await redeem(lk, { clientId: confidential.clientId }, await obtainCode(lk, confidential), 'none');
      expectOAuthError(missingSecret, 401, 'invalid_client');
      expect(missingSecret.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('RFC 6749 §2.3: two authentication methods at once give invalid_request', async () => {
      const grant = await obtainCode(lk, confidential);
      const res = await fetch(new URL('/token', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(confidential) },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: grant.code,
          redirect_uri: grant.redirectUri,
          code_verifier: grant.verifier,
          client_id: confidential.clientId,
          client_secret: confidential.clientSecret!,
        }),
      });
      expectOAuthError(await rawCall(res), 400, 'invalid_request');
    });
  });

  describe('code binding and PKCE', () => {
    it('C2 OAuth 2.1 §4.1.3: the code of client A at client B gives invalid_grant', async () => {
      const grant = await obtainCode(lk, confidential);
      expectOAuthError(await redeem(lk, other, grant), 400, 'invalid_grant');
    });

    it('C2 OAuth 2.1 §4.1.3: a code issued before its client was deleted and registered again under the same id gives invalid_grant', async () => {
      const first = await lk.createClient({ redirectUris: [APP] });
      const issuedBefore = await obtainCode(lk, first);
      expect(await lk.store.deleteClient(first.clientId)).toBe(true);
      const again = await registerClient(lk.store, { name: 'Test App', redirectUris: [APP], scopes: ['notes:read', 'notes:write', 'profile'], clientId: first.clientId });
      const second = { clientId: again.client.id, clientSecret: again.clientSecret! };
      const res = await redeem(lk, second, issuedBefore);
      expectOAuthError(res, 400, 'invalid_grant');
      expect(res.body.error_description).toBe('The authorization code was issued to another client.');
      expect((await redeem(lk, second, await obtainCode(lk, second))).status).toBe(200);
    });

    it('R9 RFC 6749 §4.1.3: a different redirect_uri gives invalid_grant', async () => {
      const grant = await obtainCode(lk, confidential);
      expectOAuthError(await redeem(lk, confidential, { ...grant, redirectUri: `${APP}/` }), 400, 'invalid_grant');
    });

    it('R9 RFC 6749 §4.1.3: redirect_uri sent at /authorize must be sent again at /token', async () => {
      const grant = await obtainCode(lk, confidential);
      const res = await postForm(lk, '/token', { grant_type: 'authorization_code', code: grant.code, code_verifier: grant.verifier }, confidential);
      expectOAuthError(res, 400, 'invalid_grant');
    });

    it('R9 OAuth 2.1 §10.2: redirect_uri omitted at /authorize (one registered) may be omitted at /token', async () => {
      const grant = await obtainCode(lk, confidential, { omitRedirectUri: true });
      const res = await postForm(lk, '/token', { grant_type: 'authorization_code', code: grant.code, code_verifier: grant.verifier }, confidential);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });

    it('P3 RFC 7636 §4.6: a missing code_verifier gives invalid_grant', async () => {
      const grant = await obtainCode(lk, confidential);
      const res = await postForm(lk, '/token', { grant_type: 'authorization_code', code: grant.code, redirect_uri: APP }, confidential);
      expectOAuthError(res, 400, 'invalid_grant');
    });

    it('P3 RFC 7636 §4.6: a wrong code_verifier gives invalid_grant', async () => {
      const grant = await obtainCode(lk, confidential);
      expectOAuthError(await redeem(lk, confidential, { ...grant, verifier: randomBytes(32).toString('base64url') }), 400, 'invalid_grant');
      expectOAuthError(await redeem(lk, confidential, { ...grant, verifier: 'too-short' }), 400, 'invalid_grant');
    });

    it('P4 RFC 9700 §2.1.1, §4.8.2: a code_verifier for a code issued without a challenge gives invalid_grant', async () => {
      const user = await lk.store.findUserByUsername(ALICE.username);
      const now = Date.now();
      // The server issues no such code (PKCE is required at /authorize): seal one as it would have.
      const code = sealCode(lk.server.ctx.codeSecret, cryptoRandom, {
        clientId: confidential.clientId,
        userId: user!.id,
        grantId: randomBytes(16).toString('base64url'),
        redirectUri: APP,
        redirectUriExplicit: true,
        codeChallenge: null,
        scope: ['notes:read'],
        resource: null,
        authTime: now,
        issuedAt: now,
        expiresAt: now + 60_000,
      });
      const downgrade = await redeem(lk, confidential, { code, redirectUri: APP, verifier: randomBytes(32).toString('base64url') });
      expectOAuthError(downgrade, 400, 'invalid_grant');
      // The same code without a verifier is fine: it was the verifier that made the difference.
      const res = await postForm(lk, '/token', { grant_type: 'authorization_code', code, redirect_uri: APP }, confidential);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });

    it('RFC 6749 §4.1.2.1: an authorization request whose sealed code would exceed the token endpoint\'s parameter limit is refused with invalid_request, not issued', async () => {
      const longUri = `${APP}?${'x'.repeat(3200)}`;
      const client = await lk.createClient({ redirectUris: [longUri] });
      const params = validParams(client, { redirect_uri: longUri, scope: 'notes:read', code_challenge: pkcePair().challenge });
      const callback = await authorizeOverHttp(authorizeUrl(lk, params), ALICE);
      expect(callback.searchParams.get('code')).toBeNull();
      expect(callback.searchParams.get('error')).toBe('invalid_request');
      expect(callback.searchParams.get('error_description')).toMatch(/too large/);
    });

    it('RFC 6749 §4.1.3: an unknown code gives invalid_grant', async () => {
      expectOAuthError(await redeem(lk, confidential, { code: 'nope', verifier: randomBytes(32).toString('base64url'), redirectUri: APP }), 400, 'invalid_grant');
    });
  });

  describe('single use', () => {
    it('C3 RFC 6749 §4.1.2: 20 parallel redemptions of one code give exactly one success', async () => {
      const grant = await obtainCode(lk, confidential);
      const results = await Promise.all(Array.from({ length: 20 }, () => redeem(lk, confidential, grant)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 200)) expectOAuthError(r, 400, 'invalid_grant');
    });

    it('C4 RFC 6749 §4.1.2: a second valid redemption is refused and revokes the tokens of the first', async () => {
      const grant = await obtainCode(lk, confidential);
      const first = await redeem(lk, confidential, grant);
      expect(first.status).toBe(200);
      expect((await introspect(lk, confidential, String(first.body.access_token))).body.active).toBe(true);
      expectOAuthError(await redeem(lk, confidential, grant), 400, 'invalid_grant');
      expect((await introspect(lk, confidential, String(first.body.access_token))).body).toEqual({ active: false });
      expectOAuthError(await refresh(lk, confidential, String(first.body.refresh_token)), 400, 'invalid_grant');
    });

    it('C5 OAuth 2.1 §7.5.2: a replay with a wrong verifier or by another client revokes nothing', async () => {
      const grant = await obtainCode(lk, confidential);
      const first = await redeem(lk, confidential, grant);
      expect(first.status).toBe(200);
      expectOAuthError(await redeem(lk, confidential, { ...grant, verifier: randomBytes(32).toString('base64url') }), 400, 'invalid_grant');
      expectOAuthError(await redeem(lk, other, grant), 400, 'invalid_grant');
      expectOAuthError(await redeem(lk, { clientId: confidential.clientId, clientSecret: 'wrong' }, grant), 401, 'invalid_client');
      expect((await introspect(lk, confidential, String(first.body.access_token))).body.active).toBe(true);
      expect((await refresh(lk, confidential, String(first.body.refresh_token))).status).toBe(200);
    });

    /** A server on a clock the test moves, with Alice and one client. */
    async function onManualClock(test: (timed: TestLatchkey, client: Client, clock: ManualClock) => Promise<void>): Promise<void> {
      const clock = new ManualClock();
      const timed = await startLatchkey({ clock });
      try {
        await timed.createUser(ALICE.username, ALICE.password);
        await test(timed, await timed.createClient({ redirectUris: [APP] }), clock);
      } finally {
        await timed.close();
      }
    }

    it('C1 OAuth 2.1 §4.1.2: an expired code gives invalid_grant', () =>
      onManualClock(async (timed, client, clock) => {
        const grant = await obtainCode(timed, client);
        clock.advance(61_000);
        expectOAuthError(await redeem(timed, client, grant), 400, 'invalid_grant');
        const fresh = await obtainCode(timed, client);
        clock.advance(59_000);
        expect((await redeem(timed, client, fresh)).status).toBe(200);
      }));

    it('C4 RFC 6749 §4.1.2: a replay after the code expired still revokes the tokens of the first redemption', () =>
      onManualClock(async (timed, client, clock) => {
        const grant = await obtainCode(timed, client);
        const first = await redeem(timed, client, grant);
        expect(first.status).toBe(200);
        clock.advance(10 * 60_000);
        expectOAuthError(await redeem(timed, client, grant), 400, 'invalid_grant');
        expectOAuthError(await refresh(timed, client, String(first.body.refresh_token)), 400, 'invalid_grant');
      }));

    it('RFC 6749 §4.1.2: a code issued before its user revoked consent for the client, or before the user was deleted, gives invalid_grant', async () => {
      await lk.createUser(BOB.username, BOB.password);
      const user = (await lk.store.findUserByUsername(BOB.username))!;
      const beforeRevocation = await obtainCode(lk, confidential, { user: BOB });
      await new Promise((r) => setTimeout(r, 2));
      await lk.store.revokeConsent(user.id, confidential.clientId, Date.now());
      const res = await redeem(lk, confidential, beforeRevocation);
      expectOAuthError(res, 400, 'invalid_grant');
      expect(res.body.error_description).toBe('The authorization code is no longer valid.');

      const beforeDeletion = await obtainCode(lk, confidential, { user: BOB });
      await lk.store.deleteUser(user.id);
      expectOAuthError(await redeem(lk, confidential, beforeDeletion), 400, 'invalid_grant');
    });
  });

  describe('the response', () => {
    it('RFC 9068 §2: the access token is an ES256 at+jwt with iss, sub, aud, client_id, scope, exp, iat, jti; kid in /jwks.json', async () => {
      const res = await redeem(lk, confidential, await obtainCode(lk, confidential, { scope: 'notes:read profile' }));
      expect(res.status).toBe(200);
      const token = String(res.body.access_token);
      const header = decodeProtectedHeader(token);
      expect(header.typ).toBe('at+jwt');
      expect(header.alg).toBe('ES256');
      const jwks = (await (await fetch(new URL('/jwks.json', lk.issuer))).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL('/jwks.json', lk.issuer)), {
        issuer: lk.issuer,
        audience: lk.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      const user = await lk.store.findUserByUsername(ALICE.username);
      expect(payload.sub).toBe(user!.id);
      expect(payload.client_id).toBe(confidential.clientId);
      expect(payload.scope).toBe('notes:read profile');
      expect(typeof payload.jti).toBe('string');
      expect(payload.exp! - payload.iat!).toBe(res.body.expires_in);
      expect(res.body.scope).toBe('notes:read profile');
    });

    it('A2 RFC 8707 §2: a registered resource becomes the audience; another resource at /token gives invalid_target', async () => {
      const api = 'https://api.example/notes';
      const withResource = await lk.createClient({ redirectUris: [APP], resources: [api] });
      const pkce = pkcePair();
      const callback = await authorizeOverHttp(authorizeUrl(lk, validParams(withResource, { resource: api, code_challenge: pkce.challenge })), ALICE);
      const code = callback.searchParams.get('code')!;
      const wrong = await postForm(lk, '/token', { grant_type: 'authorization_code', code, redirect_uri: APP, code_verifier: pkce.verifier, resource: 'https://api.example/other' }, withResource);
      expectOAuthError(wrong, 400, 'invalid_target');
      const res = await postForm(lk, '/token', { grant_type: 'authorization_code', code, redirect_uri: APP, code_verifier: pkce.verifier, resource: api }, withResource);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const { payload } = await jwtVerify(String(res.body.access_token), createRemoteJWKSet(new URL('/jwks.json', lk.issuer)), { issuer: lk.issuer, audience: api });
      expect(payload.aud).toBe(api);
    });

    it('X5 OAuth 2.1 §3.2.3: the token response has Cache-Control: no-store and is JSON', async () => {
      const res = await redeem(lk, confidential, await obtainCode(lk, confidential));
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    });

    it('T1 RFC 9700 §4.14.2: a client not registered for refresh_token gets no refresh_token', async () => {
      const noRefresh = await lk.createClient({ redirectUris: [APP], grantTypes: ['authorization_code'] });
      const res = await redeem(lk, noRefresh, await obtainCode(lk, noRefresh));
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('refresh_token');
    });

    it('RFC 6749 §5.2: an unsupported grant_type gives unsupported_grant_type', async () => {
      expectOAuthError(await postForm(lk, '/token', { grant_type: 'password', username: 'alice', password: 'x' }, confidential), 400, 'unsupported_grant_type');
      expectOAuthError(await postForm(lk, '/token', { grant_type: 'client_credentials' }, confidential), 400, 'unsupported_grant_type');
    });

    it('RFC 6749 §5.2: error_description never carries characters outside %x20-21 / %x23-5B / %x5D-7E, whatever was sent', async () => {
      const allowed = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;
      const unsupported = await postForm(lk, '/token', { grant_type: 'ü"\\<script>\n' }, confidential);
      expectOAuthError(unsupported, 400, 'unsupported_grant_type');
      expect(String(unsupported.body.error_description)).toMatch(allowed);
      const tooLong = await postForm(lk, '/token', { grant_type: 'authorization_code', ['n"ä\\me']: 'x'.repeat(5000) }, confidential);
      expectOAuthError(tooLong, 400, 'invalid_request');
      expect(String(tooLong.body.error_description)).toMatch(allowed);
    });

    it('RFC 6749 §5.2: a missing grant_type gives invalid_request', async () => {
      expectOAuthError(await postForm(lk, '/token', { code: 'x' }, confidential), 400, 'invalid_request');
    });

    it('X6 OAuth 2.1 §3.2: unknown parameters at the token endpoint are ignored', async () => {
      const grant = await obtainCode(lk, confidential);
      const res = await postForm(
        lk,
        '/token',
        { grant_type: 'authorization_code', code: grant.code, redirect_uri: APP, code_verifier: grant.verifier, foo: 'bar', nonce: 'n' },
        confidential,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    });
  });

  describe('malformed requests: 4xx with a registered error code, never 5xx', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    it('RFC 6749 §3.2: a JSON body gives invalid_request', async () => {
      const res = await rawCall(await raw(JSON.stringify({ grant_type: 'authorization_code', code: 'x' }), { 'content-type': 'application/json', authorization: basic(confidential) }));
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('RFC 6749 §3.2: an empty body gives invalid_request', async () => {
      expectOAuthError(await rawCall(await raw('', { ...form, authorization: basic(confidential) })), 400, 'invalid_request');
      expectOAuthError(await rawCall(await raw(null, { authorization: basic(confidential) })), 400, 'invalid_request');
    });

    it('RFC 6749 Appendix B: a body that is not valid UTF-8 gives invalid_request', async () => {
      const body = Buffer.concat([Buffer.from('grant_type=authorization_code&code='), Buffer.from([0xff, 0xfe, 0xc3])]);
      expectOAuthError(await rawCall(await raw(body, { ...form, authorization: basic(confidential) })), 400, 'invalid_request');
      // The same bytes percent-encoded are refused too.
      expectOAuthError(await rawCall(await raw('grant_type=authorization_code&code=%FF%FE', { ...form, authorization: basic(confidential) })), 400, 'invalid_request');
    });

    it('RFC 6749 Appendix B: a broken percent-escape gives invalid_request', async () => {
      expectOAuthError(await rawCall(await raw('grant_type=authorization_code&code=%zz', { ...form, authorization: basic(confidential) })), 400, 'invalid_request');
    });

    it('RFC 6749 §5.2: a 100 KB parameter gives a 4xx invalid_request', async () => {
      const res = await rawCall(await raw(`grant_type=authorization_code&code=${'a'.repeat(100 * 1024)}`, { ...form, authorization: basic(confidential) }));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.error).toBe('invalid_request');
    });

    it('RFC 6749 §5.2: a 10 KB parameter (under the body limit) gives invalid_request', async () => {
      const res = await rawCall(await raw(`grant_type=authorization_code&code=${'a'.repeat(10 * 1024)}`, { ...form, authorization: basic(confidential) }));
      expectOAuthError(res, 400, 'invalid_request');
    });

    it.each(['grant_type', 'code', 'code_verifier', 'redirect_uri', 'client_id'])('RFC 6749 §3.1: a duplicate %s gives invalid_request', async (name) => {
      const grant = await obtainCode(lk, publicClient);
      const body = new URLSearchParams({ grant_type: 'authorization_code', code: grant.code, redirect_uri: APP, code_verifier: grant.verifier, client_id: publicClient.clientId });
      body.append(name, body.get(name)!);
      expectOAuthError(await rawCall(await raw(body.toString(), form)), 400, 'invalid_request');
      // The duplicate did not spend the code.
      expect((await redeem(lk, publicClient, grant, 'none')).status).toBe(200);
    });

    it('RFC 9110 §15.5.6: GET /token is not a token request (4xx, never 5xx)', async () => {
      const res = await fetch(new URL('/token?grant_type=authorization_code', lk.issuer));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    });
  });
});
