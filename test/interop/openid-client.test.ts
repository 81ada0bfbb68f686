import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { alice, oauthErrorOf, redirectUri, startInteropServer, type InteropServer } from './setup.js';

/**
 * openid-client v6 (panva), an independent and widely used client, drives a running Latchkey:
 * discovery from the issuer, PKCE authorization, the callback checks it does itself (state,
 * RFC 9207 iss), code exchange, refresh, introspection and revocation.
 */

interface SeenRequest {
  url: string;
  authorization: string | null;
  body: URLSearchParams;
}

/** A fetch that records what openid-client sent, so the tests can prove which client auth was used. */
function recordingFetch(seen: SeenRequest[]): client.CustomFetch {
  return async (url, options) => {
    const body = typeof options.body === 'string' ? new URLSearchParams(options.body) : options.body instanceof URLSearchParams ? options.body : new URLSearchParams();
    seen.push({ url, authorization: new Headers(options.headers).get('authorization'), body });
    return fetch(url, options as RequestInit);
  };
}

async function configure(
  server: InteropServer,
  clientId: string,
  auth: client.ClientAuth,
  seen: SeenRequest[],
  algorithm: 'oidc' | 'oauth2',
): Promise<client.Configuration> {
  return client.discovery(new URL(server.lk.issuer), clientId, undefined, auth, {
    algorithm,
    // The test server is plain http on 127.0.0.1; openid-client refuses that unless told.
    execute: [client.allowInsecureRequests],
    [client.customFetch]: recordingFetch(seen),
  });
}

/** Runs the authorization request through Latchkey's login and consent pages; returns the callback URL. */
async function authorize(config: client.Configuration, scope: string): Promise<{ callback: URL; verifier: string; state: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await authorizeOverHttp(url, alice);
  return { callback, verifier, state };
}

async function expectOAuthError(promise: Promise<unknown>, error: string): Promise<void> {
  expect((await oauthErrorOf(promise)).error, `expected the server to answer ${error}`).toBe(error);
}

describe('openid-client v6 against Latchkey', () => {
  let server: InteropServer;
  beforeAll(async () => {
    server = await startInteropServer();
  });
  afterAll(async () => server?.close());

  it('M2 RFC 8414 §3: discovery from the issuer URL yields Latchkey\'s endpoints (oauth and oidc well-known paths)', async () => {
    const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      const config = await configure(server, clientId, client.ClientSecretBasic(clientSecret!), [], algorithm);
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(server.lk.issuer);
      expect(metadata.token_endpoint).toBe(`${server.lk.issuer}/token`);
      expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
      expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    }
  });

  for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
    it(`RFC 6749 §4.1, §6, RFC 7662, RFC 7009: a confidential client (${method}) gets an at+jwt, refreshes with rotation, introspects and revokes`, async () => {
      const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
      const seen: SeenRequest[] = [];
      const auth = method === 'client_secret_basic' ? client.ClientSecretBasic(clientSecret!) : client.ClientSecretPost(clientSecret!);
      const config = await configure(server, clientId, auth, seen, 'oauth2');

      const { callback, verifier, state } = await authorize(config, 'notes:read profile');
      // M1 RFC 9207 §2: Latchkey sends iss; openid-client compares it with the discovered issuer.
      expect(callback.searchParams.get('iss')).toBe(server.lk.issuer);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });

      // The request really used the method under test (G4 OAuth 2.1 §2.4.1 for client_secret_post).
      const tokenRequest = seen.find((r) => r.url === `${server.lk.issuer}/token`)!;
      if (method === 'client_secret_basic') {
        expect(tokenRequest.authorization).toMatch(/^Basic /);
        expect(tokenRequest.body.has('client_secret')).toBe(false);
      } else {
        expect(tokenRequest.authorization).toBeNull();
        expect(tokenRequest.body.get('client_secret')).toBe(clientSecret);
      }

      expect(tokens.token_type.toLowerCase()).toBe('bearer');
      const claims = await server.verifyAccessToken(tokens.access_token);
      expect(claims.client_id).toBe(clientId);
      expect(claims.scope).toBe('notes:read profile');
      const firstRefresh = tokens.refresh_token!;
      expect(firstRefresh).toEqual(expect.any(String));

      // RFC 7662 §2.2: both tokens are active for the client they were issued to.
      const activeAccess = await client.tokenIntrospection(config, tokens.access_token);
      expect(activeAccess).toMatchObject({ active: true, client_id: clientId, scope: 'notes:read profile', sub: claims.sub });
      expect(await client.tokenIntrospection(config, firstRefresh, { token_type_hint: 'refresh_token' })).toMatchObject({ active: true, client_id: clientId });

      // T4 RFC 9700 §4.14.2: a refresh rotates the refresh token.
      const refreshed = await client.refreshTokenGrant(config, firstRefresh);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect(refreshed.refresh_token).not.toBe(firstRefresh);
      expect((await server.verifyAccessToken(refreshed.access_token)).client_id).toBe(clientId);
      // The rotated-away token is no longer active.
      expect(await client.tokenIntrospection(config, firstRefresh, { token_type_hint: 'refresh_token' })).toMatchObject({ active: false });

      // RFC 7009 §2.1: revoking the refresh token revokes its grant and the access tokens under it.
      await client.tokenRevocation(config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
      await expectOAuthError(client.refreshTokenGrant(config, refreshed.refresh_token!), 'invalid_grant');
      expect(await client.tokenIntrospection(config, refreshed.refresh_token!)).toEqual({ active: false });
      expect(await client.tokenIntrospection(config, refreshed.access_token)).toEqual({ active: false });
      expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    });
  }

  it('RFC 6749 §2.1, G8 OAuth 2.1 §2.4: a public client (None) completes the flow, refresh rotates, revocation ends the grant', async () => {
    const { clientId } = await server.lk.createClient({ redirectUris: [redirectUri], public: true });
    const seen: SeenRequest[] = [];
    const config = await configure(server, clientId, client.None(), seen, 'oauth2');

    const { callback, verifier, state } = await authorize(config, 'notes:read');
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const tokenRequest = seen.find((r) => r.url === `${server.lk.issuer}/token`)!;
    expect(tokenRequest.authorization).toBeNull();
    expect(tokenRequest.body.get('client_id')).toBe(clientId);
    expect(tokenRequest.body.has('client_secret')).toBe(false);

    expect((await server.verifyAccessToken(tokens.access_token)).client_id).toBe(clientId);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await server.verifyAccessToken(refreshed.access_token);

    // RFC 7662 §2.1: introspection requires client authentication, which a public client lacks.
    expect(await oauthErrorOf(client.tokenIntrospection(config, refreshed.access_token))).toMatchObject({ status: 401, error: 'invalid_client' });

    // RFC 7009 §2.1: public clients may revoke their own tokens.
    await client.tokenRevocation(config, refreshed.refresh_token!);
    await expectOAuthError(client.refreshTokenGrant(config, refreshed.refresh_token!), 'invalid_grant');
  });

  it('P3 RFC 7636 §4.6: a wrong code_verifier is refused with invalid_grant, which openid-client surfaces', async () => {
    const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
    const config = await configure(server, clientId, client.ClientSecretBasic(clientSecret!), [], 'oauth2');
    const { callback, state } = await authorize(config, 'notes:read');
    await expectOAuthError(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state }), 'invalid_grant');
  });

  it('M1 RFC 9207 §2.4: openid-client refuses a callback whose iss is not Latchkey\'s, so the iss Latchkey sends is what protects the client', async () => {
    const { clientId, clientSecret } = await server.lk.createClient({ redirectUris: [redirectUri] });
    const config = await configure(server, clientId, client.ClientSecretBasic(clientSecret!), [], 'oauth2');
    const { callback, verifier, state } = await authorize(config, 'notes:read');
    const forged = new URL(callback);
    forged.searchParams.set('iss', 'https://attacker.example');
    const refused = await client.authorizationCodeGrant(config, forged, { pkceCodeVerifier: verifier, expectedState: state }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(client.ClientError);
    expect(String((refused as client.ClientError).cause)).toMatch(/unexpected "iss"/);
    // Latchkey advertises authorization_response_iss_parameter_supported, so a callback without iss is refused too.
    const stripped = new URL(callback);
    stripped.searchParams.delete('iss');
    const missing = await client.authorizationCodeGrant(config, stripped, { pkceCodeVerifier: verifier, expectedState: state }).then(() => undefined, (e: unknown) => e);
    expect(String((missing as client.ClientError).cause)).toMatch(/"iss" \(issuer\) missing/);
    // The genuine callback still works: the forged attempt did not consume the code.
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    await server.verifyAccessToken(tokens.access_token);
  });
});
