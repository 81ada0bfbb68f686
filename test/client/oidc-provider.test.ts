/**
 * Interop: the client library runs the whole Authorization Code Grant with PKCE, refresh and
 * revocation against oidc-provider, an independent certified authorization server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientAuthMethod } from '../../src/client/index.js';
import { AuthorizationResponseError, CallbackValidationError, MemorySessionStore, NotSignedInError, SqliteSessionStore } from '../../src/client/index.js';
import { authorizeAtOidcProvider, TestBrowser } from './helpers/browser.js';
import { CONFIDENTIAL, startOidcProvider, type TestProvider } from './helpers/oidc-provider.js';
import { oidcClient } from './helpers/setup.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
let op: TestProvider;

beforeAll(async () => {
  op = await startOidcProvider([REDIRECT_URI]);
});
afterAll(async () => {
  await op.close();
});

describe('interop with oidc-provider', () => {
  it.each<ClientAuthMethod>(['client_secret_basic', 'client_secret_post', 'none'])(
    'RFC 6749 §4.1 + RFC 7636: completes sign-in, refresh and RFC 7009 revocation with %s',
    async (method) => {
      let clock = Date.now();
      const client = oidcClient(op.issuer, REDIRECT_URI, method, { now: () => clock, store: new MemorySessionStore({ now: () => clock }) });
      const browser = new TestBrowser();
      const started = await client.startAuthorization(undefined, { returnTo: '/dashboard' });
      expect(started.url.searchParams.get('code_challenge_method')).toBe('S256');
      const callback = await authorizeAtOidcProvider(browser, started.url, { username: 'alice' });
      expect(callback.searchParams.get('iss')).toBe(op.issuer);

      const result = await client.handleCallback(started.sessionId, callback);
      expect(result.user.sub).toBe('alice');
      expect(result.returnTo).toBe('/dashboard');
      // Session fixation: the signed-in session has a new id, and the old one is gone.
      expect(result.sessionId).not.toBe(started.sessionId);
      expect(await client.getUser(started.sessionId)).toBeUndefined();

      const first = await client.getAccessToken(result.sessionId);
      const userinfo = (await client.metadata()).userinfo_endpoint!;
      expect((await client.fetchWithToken(result.sessionId, userinfo)).status).toBe(200);

      // Past expiry: the next call refreshes and gets a new access token that works.
      clock += 3_600_000;
      const second = await client.getAccessToken(result.sessionId);
      expect(second).not.toBe(first);
      expect((await client.fetchWithToken(result.sessionId, userinfo)).status).toBe(200);

      const signOut = await client.signOut(result.sessionId);
      expect(signOut).toEqual({ revoked: true });
      await expect(client.getAccessToken(result.sessionId)).rejects.toBeInstanceOf(NotSignedInError);
    },
  );

  it('a sign-in kept in the SQLite session store survives a restart of the application', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-client-'));
    try {
      let clock = Date.now();
      const file = join(dir, 'sessions.db');
      const before = await SqliteSessionStore.open(file, { now: () => clock });
      const first = oidcClient(op.issuer, REDIRECT_URI, 'client_secret_post', { store: before, now: () => clock });
      const started = await first.startAuthorization();
      const { sessionId } = await first.handleCallback(started.sessionId, await authorizeAtOidcProvider(new TestBrowser(), started.url));
      const token = await first.getAccessToken(sessionId);
      before.close();

      const after = await SqliteSessionStore.open(file, { now: () => clock });
      const second = oidcClient(op.issuer, REDIRECT_URI, 'client_secret_post', { store: after, now: () => clock });
      expect((await second.getUser(sessionId))?.sub).toBe('alice');
      expect(await second.getAccessToken(sessionId)).toBe(token);
      clock += 3_600_000;
      expect(await second.getAccessToken(sessionId)).not.toBe(token);
      expect((await second.signOut(sessionId)).revoked).toBe(true);
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RFC 7009 §2.1: after sign-out the revoked refresh token is refused by the server', async () => {
    const store = new MemorySessionStore();
    const client = oidcClient(op.issuer, REDIRECT_URI, 'client_secret_basic', { store });
    const started = await client.startAuthorization();
    const result = await client.handleCallback(started.sessionId, await authorizeAtOidcProvider(new TestBrowser(), started.url));
    const refreshToken = store.entries()[0]?.[1].tokens?.refreshToken;
    expect(typeof refreshToken).toBe('string');
    expect((await client.signOut(result.sessionId)).revoked).toBe(true);
    const metadata = await client.metadata();
    const response = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${CONFIDENTIAL.clientId}:${CONFIDENTIAL.clientSecret}`)}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken! }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('RFC 6749 §4.1.2.1: a denied consent becomes AuthorizationResponseError access_denied with a plain-words message', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    const started = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(new TestBrowser(), started.url, { approve: false });
    const error = await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationResponseError);
    expect((error as AuthorizationResponseError).error).toBe('access_denied');
    expect((error as Error).message).toMatch(/declined/);
  });

  it('RFC 6749 §4.1.2 / P10: a replayed callback is refused (no_pending_authorization), and the next attempt has fresh state and verifier', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    const browser = new TestBrowser();
    const started = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(browser, started.url);
    const result = await client.handleCallback(started.sessionId, callback);
    for (const sessionId of [started.sessionId, result.sessionId]) {
      const replay = await client.handleCallback(sessionId, callback).catch((e: unknown) => e);
      expect(replay).toBeInstanceOf(CallbackValidationError);
      expect((replay as CallbackValidationError).code).toBe('no_pending_authorization');
    }
    const again = await client.startAuthorization(result.sessionId);
    expect(again.url.searchParams.get('state')).not.toBe(started.url.searchParams.get('state'));
    expect(again.url.searchParams.get('code_challenge')).not.toBe(started.url.searchParams.get('code_challenge'));
  });

  it('RFC 6749 §10.12: a callback with a forged state is refused and its code is never redeemed', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    const started = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(new TestBrowser(), started.url);
    callback.searchParams.set('state', 'forged-state-value-of-attacker');
    const tokenCalls = op.requests.filter((r) => r.path === '/token').length;
    const error = await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallbackValidationError);
    expect((error as CallbackValidationError).code).toBe('state_mismatch');
    expect(op.requests.filter((r) => r.path === '/token').length).toBe(tokenCalls);
  });

  it('M1 RFC 9207 §2.4: a callback with a foreign iss is refused', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    const started = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(new TestBrowser(), started.url);
    callback.searchParams.set('iss', 'https://attacker.example');
    const error = await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e);
    expect((error as CallbackValidationError).code).toBe('iss_mismatch');
  });

  it('M1 RFC 9207 §2.4: the server advertises iss support, so a callback without iss is refused', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    expect((await client.metadata()).authorization_response_iss_parameter_supported).toBe(true);
    const started = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(new TestBrowser(), started.url);
    callback.searchParams.delete('iss');
    const error = await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e);
    expect((error as CallbackValidationError).code).toBe('iss_missing');
  });

  it('RFC 9700 §2.1: a callback that this session did not start (login CSRF) is refused', async () => {
    const client = oidcClient(op.issuer, REDIRECT_URI, 'none');
    const attacker = await client.startAuthorization();
    const callback = await authorizeAtOidcProvider(new TestBrowser(), attacker.url, { username: 'mallory' });
    const victim = await client.startAuthorization();
    const noSession = await client.handleCallback(undefined, callback).catch((e: unknown) => e);
    expect((noSession as CallbackValidationError).code).toBe('no_pending_authorization');
    const otherSession = await client.handleCallback(victim.sessionId, callback).catch((e: unknown) => e);
    expect((otherSession as CallbackValidationError).code).toBe('state_mismatch');
  });
});
