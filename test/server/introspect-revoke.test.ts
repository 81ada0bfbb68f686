import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/platform/clock.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, type Client, basic, expectOAuthError, introspect, postForm, refresh, tokensFor } from './support.js';

describe('/introspect (RFC 7662) and /revoke (RFC 7009)', () => {
  const clock = new ManualClock();
  let lk: TestLatchkey;
  let client: Client;
  let other: Client;
  let publicClient: Client;

  beforeAll(async () => {
    lk = await startLatchkey({ clock });
    await lk.createUser(ALICE.username, ALICE.password);
    client = await lk.createClient({ redirectUris: [APP] });
    other = await lk.createClient({ redirectUris: [APP] });
    publicClient = await lk.createClient({ redirectUris: [APP], public: true });
  });
  afterAll(async () => lk?.close());

  const revoke = (who: Client, token: string, extra: Record<string, string> = {}) => postForm(lk, '/revoke', { token, ...extra }, who);

  describe('introspection', () => {
    it('RFC 7662 §2.1: the endpoint requires client authentication', async () => {
      const { access } = await tokensFor(lk, client);
      expectOAuthError(await postForm(lk, '/introspect', { token: access }), 401, 'invalid_client');
      const wrong = await introspect(lk, { clientId: client.clientId, clientSecret: 'wrong' }, access);
      expectOAuthError(wrong, 401, 'invalid_client');
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('RFC 7662 §2.1: a public client cannot introspect (it cannot authenticate)', async () => {
      const { access } = await tokensFor(lk, publicClient);
      expectOAuthError(await introspect(lk, publicClient, access), 401, 'invalid_client');
    });

    it('RFC 7662 §2.2: an active access token is described with scope, client_id, sub, aud, iss, exp, iat, jti', async () => {
      const { access } = await tokensFor(lk, client, { scope: 'notes:read profile' });
      const res = await introspect(lk, client, access);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const user = await lk.store.findUserByUsername(ALICE.username);
      expect(res.body).toMatchObject({
        active: true,
        scope: 'notes:read profile',
        client_id: client.clientId,
        token_type: 'Bearer',
        sub: user!.id,
        aud: lk.issuer,
        iss: lk.issuer,
      });
      expect(typeof res.body.exp).toBe('number');
      expect(typeof res.body.iat).toBe('number');
      expect(typeof res.body.jti).toBe('string');
      // client_secret_post works here too.
      expect((await postForm(lk, '/introspect', { token: access }, client, 'post')).body.active).toBe(true);
    });

    it('RFC 7662 §2.2: an active refresh token is described too', async () => {
      const { refresh: token } = await tokensFor(lk, client);
      const res = await introspect(lk, client, token!, { token_type_hint: 'refresh_token' });
      expect(res.body).toMatchObject({ active: true, client_id: client.clientId, scope: 'notes:read' });
      // A wrong hint only changes the order of the look-ups (RFC 7662 §2.1).
      expect((await introspect(lk, client, token!, { token_type_hint: 'access_token' })).body.active).toBe(true);
    });

    it("RFC 7662 §2.2: another client's token is active:false", async () => {
      const { access, refresh: token } = await tokensFor(lk, client);
      expect((await introspect(lk, other, access)).body).toEqual({ active: false });
      expect((await introspect(lk, other, token!)).body).toEqual({ active: false });
    });

    it('RFC 7662 §2.2: unknown and malformed tokens are active:false', async () => {
      for (const token of ['nope', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'x'.repeat(3000)]) {
        const res = await introspect(lk, client, token);
        expect(res.status, token.slice(0, 20)).toBe(200);
        expect(res.body).toEqual({ active: false });
      }
    });

    it('RFC 7662 §2.2: a tampered access token is active:false', async () => {
      const { access } = await tokensFor(lk, client);
      const [h, p, s] = access.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url')}.${s}`;
      expect((await introspect(lk, client, forged)).body).toEqual({ active: false });
    });

    it('RFC 7662 §2.2: an expired access token is active:false', async () => {
      const { access } = await tokensFor(lk, client);
      expect((await introspect(lk, client, access)).body.active).toBe(true);
      clock.advance(301_000);
      expect((await introspect(lk, client, access)).body).toEqual({ active: false });
    });

    it('RFC 7662 §2.1: the token parameter is required', async () => {
      expectOAuthError(await postForm(lk, '/introspect', {}, client), 400, 'invalid_request');
    });
  });

  describe('revocation', () => {
    it('RFC 7009 §2.1: revoking a refresh token revokes its family, access tokens included', async () => {
      const { access, refresh: token } = await tokensFor(lk, client);
      const rotated = await refresh(lk, client, token!);
      const res = await revoke(client, String(rotated.body.refresh_token), { token_type_hint: 'refresh_token' });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect((await introspect(lk, client, access)).body).toEqual({ active: false });
      expect((await introspect(lk, client, String(rotated.body.access_token))).body).toEqual({ active: false });
      expectOAuthError(await refresh(lk, client, String(rotated.body.refresh_token)), 400, 'invalid_grant');
    });

    it('RFC 7009 §2.1: revoking an access token makes it inactive', async () => {
      const { access } = await tokensFor(lk, client);
      expect((await revoke(client, access, { token_type_hint: 'access_token' })).status).toBe(200);
      expect((await introspect(lk, client, access)).body).toEqual({ active: false });
    });

    it('RFC 7009 §2.1: a public client revokes its own refresh token with client_id alone', async () => {
      const { refresh: token } = await tokensFor(lk, publicClient);
      expect((await revoke(publicClient, token!)).status).toBe(200);
      expectOAuthError(await refresh(lk, publicClient, token!), 400, 'invalid_grant');
    });

    it('RFC 7009 §2.2: an unknown token gives 200', async () => {
      const res = await revoke(client, 'never-issued');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
    });

    it("RFC 7009 §2.2: another client's tokens give 200 and are NOT revoked", async () => {
      const { access, refresh: token } = await tokensFor(lk, client);
      expect((await revoke(other, token!)).status).toBe(200);
      expect((await revoke(other, access)).status).toBe(200);
      expect((await introspect(lk, client, access)).body.active).toBe(true);
      expect((await refresh(lk, client, token!)).status).toBe(200);
    });

    it('RFC 7009 §2.1: revocation requires client authentication', async () => {
      const { refresh: token } = await tokensFor(lk, client);
      expectOAuthError(await postForm(lk, '/revoke', { token: token! }), 401, 'invalid_client');
      const res = await fetch(new URL('/revoke', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic({ clientId: client.clientId, clientSecret: 'wrong' }) },
        body: new URLSearchParams({ token: token! }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect((await refresh(lk, client, token!)).status).toBe(200);
    });

    it('RFC 7009 §2.1: the token parameter is required', async () => {
      expectOAuthError(await postForm(lk, '/revoke', {}, client), 400, 'invalid_request');
    });
  });
});
