import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { alice, oauthErrorOf, redirectUri, startInteropServer, type InteropServer } from './setup.js';

/**
 * oauth4webapi v3 (panva), the low-level client openid-client is built on, drives a running
 * Latchkey one request/response pair at a time, so each step's validation is its own.
 */

// The test server is plain http on 127.0.0.1; oauth4webapi refuses that unless told, per request.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

async function discover(server: InteropServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.lk.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
}

/** Builds the authorization request by hand, as oauth4webapi expects, and drives login and consent over HTTP. */
async function authorize(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  options: { scope: string; approve?: boolean },
): Promise<{ callback: URL; verifier: string; state: string }> {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope: options.scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const callback = await authorizeOverHttp(url, alice, { approve: options.approve });
  return { callback, verifier, state };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('oauth4webapi v3 against Latchkey', () => {
  let server: InteropServer;
  let as: oauth.AuthorizationServer;
  beforeAll(async () => {
    server = await startInteropServer();
    as = await discover(server);
  });
  afterAll(async () => server?.close());

  it('M2 RFC 8414 §3.3: processDiscoveryResponse accepts the metadata (issuer matches the URL it was fetched for)', () => {
    expect(as.issuer).toBe(server.lk.issuer);
    expect(as.introspection_endpoint).toBe(`${server.lk.issuer}/introspect`);
    expect(as.revocation_endpoint).toBe(`${server.lk.issuer}/revoke`);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
  });

  for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
    it(`RFC 6749 §4.1, §6, RFC 7662, RFC 7009: a confidential client (${method}) gets an at+jwt, refreshes with rotation, introspects and revokes`, async () => {
      const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
      const client: oauth.Client = { client_id: clientId };
      const auth = method === 'client_secret_basic' ? oauth.ClientSecretBasic(clientSecret!) : oauth.ClientSecretPost(clientSecret!);

      const { callback, verifier, state } = await authorize(as, client, { scope: 'notes:read notes:write' });
      // M1 RFC 9207 §2.4: validateAuthResponse compares iss with the discovered issuer, and checks state.
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const tokens = await oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, verifier, insecure),
      );
      expect(tokens.token_type).toBe('bearer'); // oauth4webapi lower-cases it
      const claims = await server.verifyAccessToken(tokens.access_token);
      expect(claims).toMatchObject({ client_id: clientId, scope: 'notes:read notes:write' });

      const introspect = async (token: string, hint?: string) =>
        oauth.processIntrospectionResponse(
          as,
          client,
          await oauth.introspectionRequest(as, client, auth, token, { ...insecure, ...(hint ? { additionalParameters: { token_type_hint: hint } } : {}) }),
        );
      // RFC 7662 §2.2
      expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: clientId, sub: claims.sub, token_type: 'Bearer' });
      expect(await introspect(tokens.refresh_token!, 'refresh_token')).toMatchObject({ active: true, client_id: clientId });

      // T4 RFC 9700 §4.14.2: rotation.
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure),
      );
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      expect((await server.verifyAccessToken(refreshed.access_token)).client_id).toBe(clientId);
      expect(await introspect(tokens.refresh_token!, 'refresh_token')).toEqual({ active: false });
      expect(await introspect(refreshed.refresh_token!, 'refresh_token')).toMatchObject({ active: true });

      // RFC 7009 §2.1: revoke the refresh token; the grant and its access tokens end with it.
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } }),
      );
      const error = await rejection(
        oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, insecure).then((r) => oauth.processRefreshTokenResponse(as, client, r)),
      );
      expect(error).toBeInstanceOf(oauth.ResponseBodyError);
      expect(error).toMatchObject({ error: 'invalid_grant', status: 400 });
      expect(await introspect(refreshed.refresh_token!)).toEqual({ active: false });
      expect(await introspect(refreshed.access_token)).toEqual({ active: false });
    });
  }

  it('RFC 6749 §2.1, G8 OAuth 2.1 §2.4: a public client (None) completes the flow, refresh rotates, revocation ends the grant', async () => {
    const { clientId } = await server.lk.createClient({ redirectUris: [redirectUri], public: true });
    const client: oauth.Client = { client_id: clientId };
    const auth = oauth.None();

    const { callback, verifier, state } = await authorize(as, client, { scope: 'notes:read' });
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, verifier, insecure),
    );
    expect((await server.verifyAccessToken(tokens.access_token)).client_id).toBe(clientId);

    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure));
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await server.verifyAccessToken(refreshed.access_token);

    // RFC 7662 §2.1: a public client cannot authenticate, so it may not introspect.
    const introspection = await oauthErrorOf(
      oauth.introspectionRequest(as, client, auth, refreshed.access_token, insecure).then((r) => oauth.processIntrospectionResponse(as, client, r)),
    );
    expect(introspection).toMatchObject({ status: 401, error: 'invalid_client' });

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, insecure));
    const error = await rejection(
      oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, insecure).then((r) => oauth.processRefreshTokenResponse(as, client, r)),
    );
    expect(error).toMatchObject({ error: 'invalid_grant' });
  });

  it('M1 RFC 9207 §2, RFC 6749 §4.1.2.1: a denied consent comes back as access_denied with iss, which validateAuthResponse accepts and reports', async () => {
    const { clientId } = await server.lk.createClient({ redirectUris: [redirectUri] });
    const client: oauth.Client = { client_id: clientId };
    const { callback, state } = await authorize(as, client, { scope: 'notes:read', approve: false });
    expect(callback.searchParams.get('iss')).toBe(server.lk.issuer);
    expect(callback.searchParams.get('state')).toBe(state);
    let thrown: unknown;
    try {
      oauth.validateAuthResponse(as, client, callback, state);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(oauth.AuthorizationResponseError);
    expect((thrown as oauth.AuthorizationResponseError).error).toBe('access_denied');
  });

  it('G6 OAuth 2.1 §3.2.4: a wrong client_secret_basic gets 401 invalid_client with a Basic challenge, which oauth4webapi recognises', async () => {
    const { clientId } = await server.lk.createClient({ redirectUris: [redirectUri] });
    const client: oauth.Client = { client_id: clientId };
    const { callback, verifier, state } = await authorize(as, client, { scope: 'notes:read' });
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic('not-the-secret'), params, redirectUri, verifier, insecure);
    expect(response.status).toBe(401);
    const error = await rejection(oauth.processAuthorizationCodeResponse(as, client, response));
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challenges = (error as oauth.WWWAuthenticateChallengeError).cause;
    expect(challenges.map((c) => c.scheme)).toContain('basic');
  });
});
