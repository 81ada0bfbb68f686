/**
 * Attack and robustness tests against a scripted server over real HTTP: every forged, replayed,
 * malformed or error response is refused with the right typed error, and nothing is stored.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthorizationResponseError,
  calculateCodeChallenge,
  CallbackValidationError,
  MemorySessionStore,
  OAuthClient,
  ResponseBodyError,
  UnexpectedResponseError,
} from '../../src/client/index.js';
import type { OAuthClientConfig } from '../../src/client/index.js';
import { json, startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64url({ alg: 'ES256', typ: 'at+jwt' })}.${b64url(claims)}.c2ln`;
const ACCESS_TOKEN = jwt({ sub: 'alice', scope: 'api:read', username: 'alice', exp: 0 });

let as: ScriptedServer;
let store: MemorySessionStore;
let clock: number;

beforeAll(async () => {
  as = await startScriptedServer();
});
afterAll(async () => {
  await as.close();
});
beforeEach(() => {
  clock = Date.now();
  store = new MemorySessionStore({ now: () => clock });
  as.received.length = 0;
  as.metadataPath = '/.well-known/oauth-authorization-server';
  as.metadata.issuer = as.issuer;
  as.metadata.authorization_response_iss_parameter_supported = true;
  as.metadata.code_challenge_methods_supported = ['S256'];
  as.metadata.token_endpoint = `${as.issuer}/token`;
  as.token = json(200, { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 300, refresh_token: 'refresh-1', scope: 'api:read' });
  as.revocation = { status: 200, body: '' };
  as.api = [];
});

function makeClient(extra: Partial<OAuthClientConfig> = {}): OAuthClient {
  return new OAuthClient({
    issuer: as.issuer,
    clientId: 'app',
    clientSecret: 'app secret/+:é',
    redirectUri: REDIRECT_URI,
    scope: ['api:read'],
    store,
    now: () => clock,
    ...extra,
  });
}

/** Starts a sign-in and builds the redirect back the server would send. */
async function started(client: OAuthClient, parameters: Record<string, string> = {}) {
  const start = await client.startAuthorization(undefined, { returnTo: '/after' });
  const callback = new URL(REDIRECT_URI);
  callback.searchParams.set('code', 'the-code');
  callback.searchParams.set('state', start.url.searchParams.get('state')!);
  callback.searchParams.set('iss', as.issuer);
  for (const [name, value] of Object.entries(parameters)) {
    if (value === '') callback.searchParams.delete(name);
    else callback.searchParams.set(name, value);
  }
  return { ...start, callback };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(result).toBeInstanceOf(Error);
  return result as Error;
}

describe('authorization request', () => {
  it('P10 RFC 7636 §4.1-4.2: state and verifier are fresh 256-bit values per attempt and the challenge is S256 of the verifier', async () => {
    const client = makeClient();
    const a = await started(client);
    const b = await started(client);
    for (const attempt of [a, b]) {
      expect(attempt.url.searchParams.get('response_type')).toBe('code');
      expect(attempt.url.searchParams.get('client_id')).toBe('app');
      expect(attempt.url.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
      expect(attempt.url.searchParams.get('scope')).toBe('api:read');
      expect(attempt.url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(attempt.url.searchParams.get('code_challenge_method')).toBe('S256');
    }
    expect(a.url.searchParams.get('state')).not.toBe(b.url.searchParams.get('state'));
    expect(a.url.searchParams.get('code_challenge')).not.toBe(b.url.searchParams.get('code_challenge'));
    await client.handleCallback(a.sessionId, a.callback);
    const verifier = as.received.find((r) => r.path === '/token')!.body.get('code_verifier')!;
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await calculateCodeChallenge(verifier)).toBe(a.url.searchParams.get('code_challenge'));
  });

  it('RFC 7636 Appendix B: the S256 challenge of the test vector', async () => {
    expect(await calculateCodeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('RFC 8414 §3: metadata is discovered once and cached', async () => {
    const client = makeClient();
    await client.startAuthorization();
    await client.startAuthorization();
    expect(as.received.filter((r) => r.path.startsWith('/.well-known')).length).toBe(1);
  });

  it('OpenID Discovery §4: falls back to openid-configuration when RFC 8414 metadata is 404', async () => {
    as.metadataPath = '/.well-known/openid-configuration';
    const { url } = await makeClient().startAuthorization();
    expect(url.origin + url.pathname).toBe(`${as.issuer}/authorize`);
  });

  it('RFC 8414 §3.3: refuses metadata whose issuer is not the configured issuer', async () => {
    as.metadata.issuer = 'https://other.example';
    const error = await failure(makeClient().startAuthorization());
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toMatch(/RFC 8414 §3.3/);
  });

  it('P7 RFC 9700 §2.1.1: refuses a server that lists PKCE methods without S256', async () => {
    as.metadata.code_challenge_methods_supported = ['plain'];
    expect(await failure(makeClient().startAuthorization())).toBeInstanceOf(UnexpectedResponseError);
  });

  it('X8 RFC 9700 §2.6: refuses a non-TLS endpoint outside loopback', async () => {
    as.metadata.token_endpoint = 'http://token.example/token';
    const error = await failure(makeClient().startAuthorization());
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/https/);
  });
});

describe('callback', () => {
  it('RFC 6749 §4.1.2-4.1.3: a valid callback is exchanged with client_secret_basic (form-encoded credentials) and signs the user in', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const result = await client.handleCallback(sessionId, callback);
    expect(result.user).toEqual({ sub: 'alice', scope: ['api:read'], username: 'alice' });
    expect(result.returnTo).toBe('/after');
    const request = as.received.find((r) => r.path === '/token')!;
    expect(request.body.get('grant_type')).toBe('authorization_code');
    expect(request.body.get('code')).toBe('the-code');
    expect(request.body.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(request.body.get('client_secret')).toBeNull();
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('app:app+secret%2F%2B%3A%C3%A9').toString('base64')}`);
  });

  it('the store never sees a session id, only its SHA-256', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    const keys = store.entries().map(([key]) => key);
    expect(keys).toEqual([createHash('sha256').update(signedIn.sessionId).digest('base64url')]);
    expect(signedIn.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('RFC 6749 §10.12: refuses a forged state', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { state: 'forged' });
    const error = await failure(client.handleCallback(sessionId, callback));
    expect(error).toBeInstanceOf(CallbackValidationError);
    expect((error as CallbackValidationError).code).toBe('state_mismatch');
    expect(as.received.some((r) => r.path === '/token')).toBe(false);
  });

  it('RFC 6749 §4.1.2: refuses a callback without state', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { state: '' });
    expect(await failure(client.handleCallback(sessionId, callback))).toMatchObject({ code: 'state_missing' });
  });

  it('refuses a callback that repeats state', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    callback.searchParams.append('state', 'second');
    expect(await failure(client.handleCallback(sessionId, callback))).toMatchObject({ code: 'malformed_callback' });
  });

  it('M1 RFC 9207 §2.4: refuses a foreign iss, checked before an error response is believed', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { iss: 'https://evil.example', error: 'access_denied', code: '' });
    expect(await failure(client.handleCallback(sessionId, callback))).toMatchObject({ name: 'CallbackValidationError', code: 'iss_mismatch' });
  });

  it('M1 RFC 9207 §2.4: without advertised support, a callback without iss is accepted', async () => {
    as.metadata.authorization_response_iss_parameter_supported = false;
    const client = makeClient();
    const { sessionId, callback } = await started(client, { iss: '' });
    expect((await client.handleCallback(sessionId, callback)).user.sub).toBe('alice');
  });

  it('RFC 6749 §4.1.2.1: login_required becomes AuthorizationResponseError saying what to do', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { code: '', error: 'login_required', error_description: 'no session' });
    const error = (await failure(client.handleCallback(sessionId, callback))) as AuthorizationResponseError;
    expect(error).toBeInstanceOf(AuthorizationResponseError);
    expect(error.error).toBe('login_required');
    expect(error.error_description).toBe('no session');
    expect(error.message).toMatch(/prompt=none/);
  });

  it('RFC 6749 §10.12: an error response with a forged state is refused as forged, not reported as the server\'s error', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { code: '', error: 'access_denied', state: 'forged' });
    expect(await failure(client.handleCallback(sessionId, callback))).toMatchObject({ code: 'state_mismatch' });
  });

  it('P10: after an error response the pending attempt is gone; a retry needs a new state and verifier', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client, { code: '', error: 'server_error' });
    await failure(client.handleCallback(sessionId, callback));
    callback.searchParams.delete('error');
    callback.searchParams.set('code', 'the-code');
    expect(await failure(client.handleCallback(sessionId, callback))).toMatchObject({ code: 'no_pending_authorization' });
  });

  it('RFC 6749 §4.1.2: a replayed callback is refused and the code is sent to the server only once', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const result = await client.handleCallback(sessionId, callback);
    for (const id of [sessionId, result.sessionId]) {
      expect(await failure(client.handleCallback(id, callback))).toMatchObject({ code: 'no_pending_authorization' });
    }
    expect(as.received.filter((r) => r.path === '/token').length).toBe(1);
  });

  it('RFC 6749 §4.1.2: two concurrent callbacks for one session (a double click) send the code once', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const results = await Promise.allSettled([client.handleCallback(sessionId, callback), client.handleCallback(sessionId, callback)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as CallbackValidationError).code).toBe('no_pending_authorization');
    expect(as.received.filter((r) => r.path === '/token').length).toBe(1);
  });

  it('refuses a callback after the pending attempt expired (pendingTtlMs)', async () => {
    const client = makeClient({ pendingTtlMs: 60_000 });
    // A session that only holds a pending attempt ends with it.
    const fresh = await started(client);
    clock += 61_000;
    expect(await failure(client.handleCallback(fresh.sessionId, fresh.callback))).toMatchObject({ code: 'no_pending_authorization' });
    // A signed-in session outlives it, so the attempt's own age is checked.
    const first = await started(client);
    const signedIn = await client.handleCallback(first.sessionId, first.callback);
    const again = await client.startAuthorization(signedIn.sessionId);
    expect(again.sessionId).toBe(signedIn.sessionId);
    clock += 61_000;
    const callback = new URL(first.callback);
    callback.searchParams.set('state', again.url.searchParams.get('state')!);
    expect(await failure(client.handleCallback(signedIn.sessionId, callback))).toMatchObject({ code: 'authorization_expired' });
  });
});

describe('token response validation (STYLE pattern 7: never a cast)', () => {
  const cases: Array<[string, () => void, RegExp]> = [
    ['a response missing access_token', () => (as.token = json(200, { token_type: 'Bearer', expires_in: 300 })), /"access_token"/],
    ['a response missing token_type', () => (as.token = json(200, { access_token: ACCESS_TOKEN })), /"token_type"/],
    ['a non-Bearer token_type', () => (as.token = json(200, { access_token: ACCESS_TOKEN, token_type: 'DPoP' })), /Bearer/],
    ['expires_in as a string', () => (as.token = json(200, { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: '300' })), /expires_in/],
    ['a numeric refresh_token', () => (as.token = json(200, { access_token: ACCESS_TOKEN, token_type: 'Bearer', refresh_token: 5 })), /refresh_token/],
    ['an HTML 200 page', () => (as.token = { status: 200, contentType: 'text/html', body: '<h1>hi</h1>' }), /application\/json/],
    ['a JSON array', () => (as.token = json(200, [ACCESS_TOKEN])), /not an object/],
    ['a 500 error page', () => (as.token = { status: 500, contentType: 'text/html', body: 'oops' }), /HTTP 500/],
    ['a redirect', () => (as.token = { status: 302, body: '', headers: { location: 'http://127.0.0.1:9/elsewhere' } }), /redirect/],
  ];
  it.each(cases)('RFC 6749 §5.1: refuses %s with UnexpectedResponseError and stores nothing', async (_name, script, message) => {
    script();
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const error = await failure(client.handleCallback(sessionId, callback));
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toMatch(message);
    expect(store.entries().some(([, s]) => s.tokens !== undefined)).toBe(false);
  });

  it('RFC 6749 §5.2: an error body becomes ResponseBodyError with status, error and description, and says what to check', async () => {
    as.token = json(400, { error: 'invalid_grant', error_description: 'code expired' });
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const error = (await failure(client.handleCallback(sessionId, callback))) as ResponseBodyError;
    expect(error).toBeInstanceOf(ResponseBodyError);
    expect([error.status, error.error, error.error_description]).toEqual([400, 'invalid_grant', 'code expired']);
    expect(error.message).toMatch(/redirect_uri/);
  });

  it('RFC 6749 §5.2: invalid_client (401) says to check the credentials', async () => {
    as.token = json(401, { error: 'invalid_client' });
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const error = (await failure(client.handleCallback(sessionId, callback))) as ResponseBodyError;
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/client_secret/);
  });
});

describe('client authentication and configuration', () => {
  it('RFC 6749 §2.3.1: client_secret_post sends the credentials in the body', async () => {
    const client = makeClient({ clientAuthMethod: 'client_secret_post' });
    const { sessionId, callback } = await started(client);
    await client.handleCallback(sessionId, callback);
    const request = as.received.find((r) => r.path === '/token')!;
    expect(request.headers.authorization).toBeUndefined();
    expect([request.body.get('client_id'), request.body.get('client_secret')]).toEqual(['app', 'app secret/+:é']);
  });

  it('RFC 6749 §3.2.1: a public client (none) sends only client_id, with the PKCE verifier', async () => {
    const client = makeClient({ clientSecret: undefined });
    const { sessionId, callback } = await started(client);
    await client.handleCallback(sessionId, callback);
    const request = as.received.find((r) => r.path === '/token')!;
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body.get('client_id')).toBe('app');
    expect(request.body.has('client_secret')).toBe(false);
    expect(request.body.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('logging the client never prints its secret', () => {
    const client = makeClient();
    expect(inspect(client, { depth: 5 })).not.toContain('app secret');
    expect(JSON.stringify(client)).not.toContain('app secret');
  });

  it('refuses an auth method the server does not list, saying which it does', async () => {
    as.metadata.token_endpoint_auth_methods_supported = ['client_secret_post'];
    const error = await failure(makeClient().startAuthorization());
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/client_secret_post/);
    as.metadata.token_endpoint_auth_methods_supported = ['client_secret_basic', 'client_secret_post', 'none'];
  });

  it.each<[string, Partial<OAuthClientConfig>, RegExp]>([
    ['a non-TLS issuer outside loopback', { issuer: 'http://auth.example' }, /https/],
    ['a secret with auth method none', { clientAuthMethod: 'none' }, /public clients/],
    ['client_secret_basic without a secret', { clientSecret: undefined, clientAuthMethod: 'client_secret_basic' }, /needs clientSecret/],
    ['a redirect URI with a fragment', { redirectUri: 'http://127.0.0.1:9/callback#x' }, /fragment/],
  ])('throws TypeError for %s', (_name, config, message) => {
    expect(() => makeClient(config)).toThrow(TypeError);
    expect(() => makeClient(config)).toThrow(message);
  });

  it('refuses returnTo values that leave the site (open redirect)', async () => {
    const client = makeClient();
    for (const returnTo of ['https://evil.example/', '//evil.example/', '/\\evil.example']) {
      const start = await client.startAuthorization(undefined, { returnTo });
      const callback = new URL(REDIRECT_URI);
      callback.search = new URLSearchParams({ code: 'c', state: start.url.searchParams.get('state')!, iss: as.issuer }).toString();
      expect((await client.handleCallback(start.sessionId, callback)).returnTo).toBe('/');
    }
  });
});

describe('refresh and sign-out', () => {
  it('RFC 6749 §6: a refresh response without refresh_token keeps the old one; the refresh request carries it', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    as.token = json(200, { access_token: jwt({ sub: 'alice', n: 2 }), token_type: 'bearer', expires_in: 300 });
    clock += 300_000;
    await client.getAccessToken(signedIn.sessionId);
    const refresh = as.received.filter((r) => r.path === '/token')[1]!;
    expect([refresh.body.get('grant_type'), refresh.body.get('refresh_token')]).toEqual(['refresh_token', 'refresh-1']);
    expect(store.entries()[0]![1].tokens!.refreshToken).toBe('refresh-1');
  });

  it('a refresh error other than invalid_grant is thrown and keeps the session', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    as.token = { status: 503, contentType: 'text/plain', body: 'maintenance' };
    clock += 300_000;
    expect(await failure(client.getAccessToken(signedIn.sessionId))).toBeInstanceOf(UnexpectedResponseError);
    expect(await client.getUser(signedIn.sessionId)).toMatchObject({ sub: 'alice' });
  });

  it('RFC 6750 §3.1: an API answer 401 invalid_token makes fetchWithToken refresh once and retry with the new token', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    const newToken = jwt({ sub: 'alice', n: 2 });
    as.token = json(200, { access_token: newToken, token_type: 'Bearer', expires_in: 300, refresh_token: 'refresh-2' });
    as.api = [{ status: 401, body: '', headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="signature"' } }];
    const response = await client.fetchWithToken(signedIn.sessionId, `${as.issuer}/api`, { method: 'POST', body: 'x=1' });
    expect(response.status).toBe(200);
    const calls = as.received.filter((r) => r.path === '/api');
    expect(calls.map((c) => c.headers.authorization)).toEqual([`Bearer ${ACCESS_TOKEN}`, `Bearer ${newToken}`]);
    expect(calls[1]!.body.get('x')).toBe('1');
    expect(as.received.filter((r) => r.path === '/token').length).toBe(2);
  });

  it('RFC 6750 §3.1: a 401 without invalid_token (or 403 insufficient_scope) is returned as is, without a refresh', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    as.api = [
      { status: 401, body: '', headers: { 'www-authenticate': 'Bearer realm="api"' } },
      { status: 403, body: '', headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' } },
    ];
    expect((await client.fetchWithToken(signedIn.sessionId, `${as.issuer}/api`)).status).toBe(401);
    expect((await client.fetchWithToken(signedIn.sessionId, `${as.issuer}/api`)).status).toBe(403);
    expect(as.received.filter((r) => r.path === '/token').length).toBe(1);
  });

  it('RFC 7009 §2.1: sign-out revokes the refresh token with client authentication and destroys the session', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    expect(await client.signOut(signedIn.sessionId)).toEqual({ revoked: true });
    const revoke = as.received.find((r) => r.path === '/revoke')!;
    expect([revoke.body.get('token'), revoke.body.get('token_type_hint')]).toEqual(['refresh-1', 'refresh_token']);
    expect(revoke.headers.authorization).toMatch(/^Basic /);
    expect(store.size).toBe(0);
  });

  it('RFC 7009 §2.1: sign-out during a refresh revokes the new refresh token and the session stays destroyed', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    as.token = json(200, { access_token: jwt({ sub: 'alice', n: 2 }), token_type: 'Bearer', expires_in: 300, refresh_token: 'refresh-2' });
    clock += 300_000;
    const [refresh, signOut] = await Promise.allSettled([client.getAccessToken(signedIn.sessionId), client.signOut(signedIn.sessionId)]);
    expect(refresh.status).toBe('fulfilled');
    expect(signOut).toEqual({ status: 'fulfilled', value: { revoked: true } });
    expect(as.received.find((r) => r.path === '/revoke')!.body.get('token')).toBe('refresh-2');
    expect(store.size).toBe(0);
    await expect(client.getAccessToken(signedIn.sessionId)).rejects.toMatchObject({ reason: 'no_session' });
  });

  it('RFC 7009 §2.2.1: a failed revocation is reported, and the session is destroyed anyway', async () => {
    const client = makeClient();
    const { sessionId, callback } = await started(client);
    const signedIn = await client.handleCallback(sessionId, callback);
    as.revocation = json(400, { error: 'unsupported_token_type' });
    const result = await client.signOut(signedIn.sessionId);
    expect(result.revoked).toBe(false);
    expect(result.error).toBeInstanceOf(ResponseBodyError);
    expect(store.size).toBe(0);
  });
});
