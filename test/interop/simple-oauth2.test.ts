import { createHash, randomBytes } from 'node:crypto';
import { AuthorizationCode, type AccessToken } from 'simple-oauth2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { alice, redirectUri, startInteropServer, type InteropServer } from './setup.js';

/**
 * simple-oauth2 v5 (lelylan; a different author from openid-client and oauth4webapi, on
 * @hapi/wreck rather than fetch) drives a running Latchkey. It knows nothing of PKCE or RFC 9207,
 * so the test adds code_challenge and state itself and checks iss by hand, as its users must.
 */

interface BoomLike {
  isBoom: true;
  output: { statusCode: number };
  data: { payload: unknown };
}

async function httpError(promise: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const thrown = await promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e as BoomLike,
  );
  expect(thrown.isBoom, String(thrown)).toBe(true);
  const payload = thrown.data.payload;
  const body = Buffer.isBuffer(payload) ? (JSON.parse(payload.toString('utf8')) as Record<string, unknown>) : (payload as Record<string, unknown>);
  return { status: thrown.output.statusCode, body };
}

describe('simple-oauth2 v5 against Latchkey', () => {
  let server: InteropServer;
  beforeAll(async () => {
    server = await startInteropServer();
  });
  afterAll(async () => server?.close());

  /** RFC 7662 introspection over plain HTTP: simple-oauth2 has no introspection call. */
  async function introspect(clientId: string, clientSecret: string, token: string): Promise<Record<string, unknown>> {
    const response = await fetch(new URL('/introspect', server.lk.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>;
  }

  for (const authorizationMethod of ['header', 'body'] as const) {
    const method = authorizationMethod === 'header' ? 'client_secret_basic' : 'client_secret_post';
    it(`RFC 6749 §4.1, §6, RFC 7009: a confidential client (${method}) gets an at+jwt, refreshes with rotation and revokes the refresh token`, async () => {
      const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
      const oauth2 = new AuthorizationCode({
        client: { id: clientId, secret: clientSecret! },
        auth: { tokenHost: server.lk.issuer, tokenPath: '/token', authorizePath: '/authorize', revokePath: '/revoke' },
        options: { authorizationMethod },
      });

      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      // simple-oauth2 passes extra parameters through; PKCE is the caller's job with it.
      const authorizationUrl = oauth2.authorizeURL({
        redirect_uri: redirectUri,
        scope: ['notes:read', 'profile'],
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      } as Parameters<typeof oauth2.authorizeURL>[0]);
      const callback = await authorizeOverHttp(authorizationUrl, alice);
      expect(callback.searchParams.get('state')).toBe(state);
      // M1 RFC 9207 §2.4: the client compares iss with the issuer it expects.
      expect(callback.searchParams.get('iss')).toBe(server.lk.issuer);

      const accessToken: AccessToken = await oauth2.getToken({
        code: callback.searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      } as Parameters<typeof oauth2.getToken>[0]);
      const first = accessToken.token as Record<string, string>;
      const claims = await server.verifyAccessToken(first.access_token!);
      expect(claims).toMatchObject({ client_id: clientId, scope: 'notes:read profile' });
      expect(accessToken.expired()).toBe(false);
      expect(await introspect(clientId, clientSecret!, first.access_token!)).toMatchObject({ active: true, client_id: clientId, sub: claims.sub });
      expect(await introspect(clientId, clientSecret!, first.refresh_token!)).toMatchObject({ active: true, client_id: clientId });

      // T4 RFC 9700 §4.14.2: a refresh rotates the refresh token.
      const refreshed = await accessToken.refresh();
      const second = refreshed.token as Record<string, string>;
      expect(second.refresh_token).toEqual(expect.any(String));
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect((await server.verifyAccessToken(second.access_token!)).client_id).toBe(clientId);
      expect(await introspect(clientId, clientSecret!, first.refresh_token!)).toEqual({ active: false });

      // RFC 7009 §2.1: revoking the refresh token ends the grant, its access tokens included.
      // RFC 7009 §2.2: success is 200 and the body is to be ignored; Latchkey sends it empty. simple-oauth2
      // defaults to wreck's json: 'strict', which refuses any non-JSON answer (lelylan/simple-oauth2#350),
      // so its users pass json: true for revocation.
      await refreshed.revoke('refresh_token', { json: true });
      const failed = await httpError(refreshed.refresh());
      expect(failed.status).toBe(400);
      expect(failed.body.error).toBe('invalid_grant');
      expect(await introspect(clientId, clientSecret!, second.refresh_token!)).toEqual({ active: false });
      expect(await introspect(clientId, clientSecret!, second.access_token!)).toEqual({ active: false });
    });
  }

  it('RFC 6749 §2.3.1, §3.1, G8 OAuth 2.1 §2.4: a public client (secret "" in the body, read as omitted) completes the flow, rotates and revokes', async () => {
    const { clientId } = await server.lk.createClient({ redirectUris: [redirectUri], public: true });
    // simple-oauth2 always sends client_secret; with authorizationMethod 'body' and an empty secret it
    // sends client_secret= , which RFC 6749 §3.1 says to treat as omitted.
    const oauth2 = new AuthorizationCode({
      client: { id: clientId, secret: '' },
      auth: { tokenHost: server.lk.issuer, tokenPath: '/token', authorizePath: '/authorize', revokePath: '/revoke' },
      options: { authorizationMethod: 'body' },
    });
    const verifier = randomBytes(32).toString('base64url');
    const authorizationUrl = oauth2.authorizeURL({
      redirect_uri: redirectUri,
      scope: 'notes:read',
      state: 'public-state',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    } as Parameters<typeof oauth2.authorizeURL>[0]);
    const callback = await authorizeOverHttp(authorizationUrl, alice);
    const accessToken = await oauth2.getToken({ code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier } as Parameters<typeof oauth2.getToken>[0]);
    const first = accessToken.token as Record<string, string>;
    expect((await server.verifyAccessToken(first.access_token!)).client_id).toBe(clientId);

    const refreshed = await accessToken.refresh();
    const second = refreshed.token as Record<string, string>;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await server.verifyAccessToken(second.access_token!);

    await refreshed.revoke('refresh_token', { json: true });
    const failed = await httpError(refreshed.refresh());
    expect(failed.body.error).toBe('invalid_grant');
  });

  it('P3 RFC 7636 §4.6: getToken with the wrong code_verifier fails with invalid_grant', async () => {
    const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
    const oauth2 = new AuthorizationCode({
      client: { id: clientId, secret: clientSecret! },
      auth: { tokenHost: server.lk.issuer, tokenPath: '/token', authorizePath: '/authorize', revokePath: '/revoke' },
    });
    const verifier = randomBytes(32).toString('base64url');
    const authorizationUrl = oauth2.authorizeURL({
      redirect_uri: redirectUri,
      scope: 'notes:read',
      state: 'abc',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    } as Parameters<typeof oauth2.authorizeURL>[0]);
    const callback = await authorizeOverHttp(authorizationUrl, alice);
    const failed = await httpError(
      oauth2.getToken({ code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: randomBytes(32).toString('base64url') } as Parameters<
        typeof oauth2.getToken
      >[0]),
    );
    expect(failed.status).toBe(400);
    expect(failed.body.error).toBe('invalid_grant');
  });
});
