/**
 * getAccessToken(): refresh shortly before expiry, one refresh request however many concurrent
 * callers, and a clean sign-out when the grant is gone — checked at a real oidc-provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySessionStore, NotSignedInError, ResponseBodyError } from '../../src/client/index.js';
import { authorizeAtOidcProvider, TestBrowser } from './helpers/browser.js';
import { startOidcProvider, type TestProvider } from './helpers/oidc-provider.js';
import { oidcClient } from './helpers/setup.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
let op: TestProvider;

beforeAll(async () => {
  op = await startOidcProvider([REDIRECT_URI]);
});
afterAll(async () => {
  await op.close();
});

async function signedIn(method: 'client_secret_basic' | 'none' = 'client_secret_basic') {
  let clock = Date.now();
  const store = new MemorySessionStore({ now: () => clock });
  const client = oidcClient(op.issuer, REDIRECT_URI, method, { store, now: () => clock, refreshBeforeExpiryMs: 60_000 });
  const started = await client.startAuthorization();
  const { sessionId } = await client.handleCallback(started.sessionId, await authorizeAtOidcProvider(new TestBrowser(), started.url));
  return { client, store, sessionId, advance: (ms: number) => (clock += ms) };
}

const tokenRequests = () => op.requests.filter((r) => r.method === 'POST' && r.path === '/token').length;

describe('getAccessToken', () => {
  it('RFC 6749 §6: 50 concurrent calls on an expired token send exactly one refresh request to the server', async () => {
    const { client, sessionId, advance } = await signedIn();
    const before = await client.getAccessToken(sessionId);
    advance(3_600_000);
    const requestsBefore = tokenRequests();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getAccessToken(sessionId)));
    expect(tokenRequests() - requestsBefore).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(before);
    // The refreshed token is stored: later calls need no request at all.
    await client.getAccessToken(sessionId);
    expect(tokenRequests() - requestsBefore).toBe(1);
  });

  it('refreshes shortly before expiry (refreshBeforeExpiryMs), not only after it', async () => {
    const { client, sessionId, advance } = await signedIn();
    const before = await client.getAccessToken(sessionId);
    advance(3_600_000 - 59_000); // 59 s left, inside the 60 s margin
    expect(await client.getAccessToken(sessionId)).not.toBe(before);
  });

  it('a fresh token is returned without any request to the server', async () => {
    const { client, sessionId } = await signedIn();
    const requestsBefore = tokenRequests();
    await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken(sessionId)));
    expect(tokenRequests()).toBe(requestsBefore);
  });

  it('RFC 6749 §5.2: a refresh refused with invalid_grant (grant revoked at the server) signs the session out cleanly', async () => {
    const { client, store, sessionId, advance } = await signedIn('none');
    const refreshToken = store.entries()[0]![1].tokens!.refreshToken!;
    // Revoke the grant at the server behind the client's back.
    const record = await op.provider.RefreshToken.find(refreshToken);
    await (await op.provider.Grant.find(record!.grantId))!.destroy();
    advance(3_600_000);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.getAccessToken(sessionId)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as NotSignedInError;
      expect(reason).toBeInstanceOf(NotSignedInError);
      expect(reason.reason).toBe('grant_revoked');
      expect(reason.cause).toBeInstanceOf(ResponseBodyError);
    }
    expect(store.size).toBe(0);
    expect(await client.getUser(sessionId)).toBeUndefined();
    await expect(client.getAccessToken(sessionId)).rejects.toMatchObject({ reason: 'no_session' });
  });

  it('refuses a session id that was never issued, without touching the store', async () => {
    const { client } = await signedIn();
    await expect(client.getAccessToken(undefined)).rejects.toMatchObject({ name: 'NotSignedInError', reason: 'no_session' });
    await expect(client.getAccessToken('x'.repeat(43))).rejects.toMatchObject({ reason: 'no_session' });
    await expect(client.getAccessToken('not a session id')).rejects.toMatchObject({ reason: 'no_session' });
  });
});
