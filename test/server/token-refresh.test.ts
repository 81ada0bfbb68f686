import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/platform/clock.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, BOB, type Client, expectOAuthError, introspect, postForm, refresh, tokensFor } from './support.js';

const WINDOW_MS = 5_000;

describe('/token grant_type=refresh_token (RFC 6749 §6, RFC 9700 §4.14.2)', () => {
  const clock = new ManualClock();
  let lk: TestLatchkey;
  let client: Client;
  let other: Client;

  beforeAll(async () => {
    lk = await startLatchkey({ clock, settings: { refreshRetryWindowSeconds: WINDOW_MS / 1000 } });
    await lk.createUser(ALICE.username, ALICE.password);
    await lk.createUser(BOB.username, BOB.password);
    client = await lk.createClient({ redirectUris: [APP] });
    other = await lk.createClient({ redirectUris: [APP] });
  });
  afterAll(async () => lk?.close());

  it('T4 RFC 9700 §4.14.2: each refresh rotates the token; the old one fails once the retry window has passed', async () => {
    const { refresh: first } = await tokensFor(lk, client);
    const res = await refresh(lk, client, first!);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const second = String(res.body.refresh_token);
    expect(second).not.toBe(first);
    expect(String(res.body.access_token).split('.')).toHaveLength(3);
    expect(res.body.scope).toBe('notes:read');
    clock.advance(WINDOW_MS + 1);
    expectOAuthError(await refresh(lk, client, first!), 400, 'invalid_grant');
  });

  it('T4 RFC 9700 §4.14.2: reuse outside the window revokes that family only', async () => {
    const aliceA = await tokensFor(lk, client);
    const aliceB = await tokensFor(lk, client);
    const bob = await tokensFor(lk, client, { user: BOB });
    const rotated = await refresh(lk, client, aliceA.refresh!);
    expect(rotated.status).toBe(200);
    const successor = String(rotated.body.refresh_token);
    const successorAccess = String(rotated.body.access_token);
    clock.advance(WINDOW_MS + 1);

    // The attacker (or a stale tab) replays the rotated token.
    expectOAuthError(await refresh(lk, client, aliceA.refresh!), 400, 'invalid_grant');
    // The family is revoked: the current token and every access token of it.
    expectOAuthError(await refresh(lk, client, successor), 400, 'invalid_grant');
    expect((await introspect(lk, client, aliceA.access)).body).toEqual({ active: false });
    expect((await introspect(lk, client, successorAccess)).body).toEqual({ active: false });
    // Alice's other family and Bob's family are untouched.
    expect((await introspect(lk, client, aliceB.access)).body.active).toBe(true);
    expect((await introspect(lk, client, bob.access)).body.active).toBe(true);
    expect((await refresh(lk, client, aliceB.refresh!)).status).toBe(200);
    expect((await refresh(lk, client, bob.refresh!)).status).toBe(200);
  });

  it('RFC 9700 §4.14.2: two parallel refreshes with the same token inside the window both succeed with the same successor', async () => {
    const { refresh: token } = await tokensFor(lk, client);
    const [a, b] = await Promise.all([refresh(lk, client, token!), refresh(lk, client, token!)]);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    // The shared successor works, and the family was not treated as a reuse.
    const next = await refresh(lk, client, String(a.body.refresh_token));
    expect(next.status, JSON.stringify(next.body)).toBe(200);
  });

  it('RFC 9700 §4.14.2: a retry after a lost response, within the window, gets the same successor', async () => {
    const { refresh: token } = await tokensFor(lk, client);
    const lost = await refresh(lk, client, token!);
    expect(lost.status).toBe(200);
    clock.advance(WINDOW_MS - 1_000);
    const retry = await refresh(lk, client, token!);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.refresh_token).toBe(lost.body.refresh_token);
    expect(retry.body.access_token).not.toBe(lost.body.access_token);
    expect((await refresh(lk, client, String(retry.body.refresh_token))).status).toBe(200);
  });

  it('T2 RFC 6749 §6: a refresh may narrow the scope; the family keeps the granted scope', async () => {
    const { refresh: token } = await tokensFor(lk, client, { scope: 'notes:read notes:write' });
    const narrow = await refresh(lk, client, token!, { scope: 'notes:read' });
    expect(narrow.status, JSON.stringify(narrow.body)).toBe(200);
    expect(narrow.body.scope).toBe('notes:read');
    expect(decodeJwt(String(narrow.body.access_token)).scope).toBe('notes:read');
    // T2 RFC 9700 §4.14.2: the rotated token keeps the identical (granted) scope.
    const full = await refresh(lk, client, String(narrow.body.refresh_token));
    expect(full.status).toBe(200);
    expect(full.body.scope).toBe('notes:read notes:write');
  });

  it('T2 RFC 9700 §4.14.2: a refresh cannot widen the scope (invalid_scope), and the token stays usable', async () => {
    const { refresh: token } = await tokensFor(lk, client, { scope: 'notes:read' });
    expectOAuthError(await refresh(lk, client, token!, { scope: 'notes:read notes:write' }), 400, 'invalid_scope');
    expectOAuthError(await refresh(lk, client, token!, { scope: 'admin' }), 400, 'invalid_scope');
    expect((await refresh(lk, client, token!)).status).toBe(200);
  });

  it("T3 OAuth 2.1 §4.3: client A's refresh token at client B gives invalid_grant and revokes nothing", async () => {
    const { refresh: token } = await tokensFor(lk, client);
    expectOAuthError(await refresh(lk, other, token!), 400, 'invalid_grant');
    expect((await refresh(lk, client, token!)).status).toBe(200);
  });

  it('RFC 6749 §6: a missing or unknown refresh_token gives invalid_request / invalid_grant', async () => {
    const res = await refresh(lk, client, 'unknown-token');
    expectOAuthError(res, 400, 'invalid_grant');
    expectOAuthError(await postForm(lk, '/token', { grant_type: 'refresh_token' }, client), 400, 'invalid_request');
  });

  it('RFC 6749 §5.2: a client not registered for refresh_token gets unauthorized_client', async () => {
    const noRefresh = await lk.createClient({ redirectUris: [APP], grantTypes: ['authorization_code'] });
    expectOAuthError(await refresh(lk, noRefresh, 'whatever'), 400, 'unauthorized_client');
  });
});

describe('refresh token lifetimes (T6 RFC 9700 §4.14.2)', () => {
  const clock = new ManualClock();
  let lk: TestLatchkey;
  let client: Client;
  const IDLE = 100;
  const ABSOLUTE = 250;

  beforeAll(async () => {
    lk = await startLatchkey({ clock, settings: { refreshIdleTtlSeconds: IDLE, refreshAbsoluteTtlSeconds: ABSOLUTE, accessTokenTtlSeconds: 30 } });
    await lk.createUser(ALICE.username, ALICE.password);
    client = await lk.createClient({ redirectUris: [APP] });
  });
  afterAll(async () => lk?.close());

  it('T6 RFC 9700 §4.14.2: a refresh token unused for the idle lifetime expires', async () => {
    const { refresh: token } = await tokensFor(lk, client);
    clock.advance(IDLE * 1000 + 1);
    expectOAuthError(await refresh(lk, client, token!), 400, 'invalid_grant');
  });

  it('T6 RFC 9700 §4.14.2: a token used within the idle lifetime keeps working up to it', async () => {
    const { refresh: token } = await tokensFor(lk, client);
    clock.advance(IDLE * 1000 - 1000);
    expect((await refresh(lk, client, token!)).status).toBe(200);
  });

  it('T6 RFC 9700 §4.14.2: a refresh never extends the family past its absolute lifetime', async () => {
    const start = clock.now();
    let { refresh: token } = await tokensFor(lk, client);
    // Refresh every 90 s: each stays inside the idle lifetime, but the family still ends at 250 s.
    for (const at of [90, 180, 249]) {
      clock.set(start + at * 1000);
      const res = await refresh(lk, client, token!);
      expect(res.status, `refresh at ${at}s: ${JSON.stringify(res.body)}`).toBe(200);
      token = String(res.body.refresh_token);
      const info = await introspect(lk, client, token, { token_type_hint: 'refresh_token' });
      expect(info.body.active).toBe(true);
      expect(Number(info.body.exp)).toBeLessThanOrEqual(Math.floor((start + ABSOLUTE * 1000) / 1000) + 1);
    }
    clock.set(start + (ABSOLUTE + 1) * 1000);
    expectOAuthError(await refresh(lk, client, token!), 400, 'invalid_grant');
  });
});
