import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, authorizeOverHttp, fetchWithJar, hiddenField } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from './support.js';

/** One login attempt through the real page: GET /login for the CSRF token, then POST. */
async function login(base: string, username: string, password: string): Promise<{ status: number; html: string; retryAfter: string | null; ms: number }> {
  const jar = new CookieJar();
  const page = await fetchWithJar(jar, new URL('/login', base));
  const csrf = hiddenField(await page.text(), '_csrf');
  const started = performance.now();
  const res = await fetchWithJar(jar, new URL('/login', base), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username, password }),
  });
  return { status: res.status, html: await res.text(), retryAfter: res.headers.get('retry-after'), ms: performance.now() - started };
}

/** A form POST sent from the loopback address `localAddress` (to 127.0.0.1, like every test). */
function postFormFrom(localAddress: string, url: string, form: Record<string, string>, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject).end(body);
  });
}

/** The page without what legitimately differs between two renderings (CSRF token, echoed username). */
const normalise = (html: string, username: string) => html.replace(/name="_csrf" value="[^"]*"/, '').replaceAll(username, 'USERNAME');

describe('G5 OAuth 2.1 §2.4.1: client-secret brute force at /token, /introspect and /revoke', () => {
  const tmp = tempDir();
  const kek = newKek();
  const file = `${tmp.dir}/shared.db`;
  let a: Instance;
  let b: Instance;
  const settings = { throttle: { clientSecret: { lockAfterFailures: 3, windowSeconds: 60 } } };
  beforeAll(async () => {
    a = await startInstance({ databaseFile: file, kek, settings });
    b = await startInstance({ databaseFile: file, kek, settings });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    tmp.remove();
  });

  it('G5 OAuth 2.1 §2.4.1: failures counted in the store across two instances lock the client_id with 429 and Retry-After', async () => {
    const { clientId, clientSecret } = await seedClient(a.store);
    const wrong = { grant_type: 'refresh_token', refresh_token: 'x' };
    // Three failures spread over both instances and three endpoints: still plain invalid_client.
    for (const [instance, path] of [[a, '/token'], [b, '/introspect'], [a, '/revoke']] as const) {
      const res = await postForm(`${instance.url}${path}`, { ...wrong, token: 'x' }, { authorization: basic(clientId, 'not-the-secret') });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    }
    // The fourth failure, on the other instance, is past the shared limit.
    const locked = await postForm(`${b.url}/token`, wrong, { authorization: basic(clientId, 'still-wrong') });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(locked.headers.get('cache-control')).toBe('no-store');
    expect(((await locked.json()) as { error: string }).error).toBe('invalid_request');
    // While locked, that instance refuses even the right secret without comparing it.
    const right = await postForm(`${b.url}/token`, wrong, { authorization: basic(clientId, clientSecret!) });
    expect(right.status).toBe(429);
    const events = await a.store.listEvents({ clientId, type: 'client_authentication.locked' });
    expect(events).toHaveLength(1);
  });

  it('G5 OAuth 2.1 §2.4.1: the lock is per client_id and address, so wrong secrets from elsewhere do not shut the client out', async () => {
    const { clientId, clientSecret } = await seedClient(a.store);
    const wrong = { grant_type: 'refresh_token', refresh_token: 'x' };
    // Someone who knows the client_id (it is public) sends wrong secrets from 127.0.0.3 until locked there.
    for (let i = 0; i < 3; i++) {
      const res = await postFormFrom('127.0.0.3', `${a.url}/token`, wrong, { authorization: basic(clientId, 'guess') });
      expect(res.status).toBe(401);
    }
    expect((await postFormFrom('127.0.0.3', `${a.url}/token`, wrong, { authorization: basic(clientId, 'guess') })).status).toBe(429);
    expect((await postFormFrom('127.0.0.3', `${a.url}/token`, wrong, { authorization: basic(clientId, clientSecret!) })).status).toBe(429);
    // The client itself, at 127.0.0.2, still authenticates on both instances (invalid_grant is about the token, after authentication).
    for (const instance of [a, b]) {
      const own = await postFormFrom('127.0.0.2', `${instance.url}/token`, wrong, { authorization: basic(clientId, clientSecret!) });
      expect(own.status).toBe(400);
      expect((JSON.parse(own.body) as { error: string }).error).toBe('invalid_grant');
    }
  });

  it('G5 OAuth 2.1 §2.4.1: another client is not affected, and a correct secret costs no counter', async () => {
    const other = await seedClient(a.store);
    for (let i = 0; i < 5; i++) {
      const res = await postForm(`${a.url}/token`, { grant_type: 'refresh_token', refresh_token: 'unknown' }, { authorization: basic(other.clientId, other.clientSecret!) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    }
  });
});

describe('Password brute force: growing delays, then a lock that hides whether the account exists', () => {
  const tmp = tempDir();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({
      databaseFile: `${tmp.dir}/login.db`,
      kek: newKek(),
      settings: { throttle: { login: { freeAttemptsPerAccount: 2, lockAfterPerAccount: 4, freeAttemptsPerIp: 50, lockAfterPerIp: 60, windowSeconds: 120, baseDelayMs: 150, maxDelayMs: 1000 } } },
    });
    await seedUser(lk.store, 'alice', 'correct horse battery');
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('G5 OAuth 2.1 §2.4.1: delays grow after the free attempts and the account locks after the limit, even for the right password', async () => {
    const first = await login(lk.url, 'alice', 'wrong-1');
    const second = await login(lk.url, 'alice', 'wrong-2');
    expect([first.status, second.status]).toEqual([401, 401]);
    const third = await login(lk.url, 'alice', 'wrong-3');
    const fourth = await login(lk.url, 'alice', 'wrong-4');
    expect(third.status).toBe(401);
    expect(third.ms).toBeGreaterThanOrEqual(140);
    expect(fourth.ms).toBeGreaterThanOrEqual(290);
    const locked = await login(lk.url, 'alice', 'correct horse battery');
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    expect(locked.html).toContain('Too many sign-in attempts');
    const events = await lk.store.listEvents({ type: 'login.locked' });
    expect(events).toHaveLength(1);
  });

  it('G5 OAuth 2.1 §2.4.1: an unknown account locks after the same number of attempts, with the same page', async () => {
    let last = { status: 0, html: '', retryAfter: null as string | null, ms: 0 };
    for (let i = 0; i < 5; i++) last = await login(lk.url, 'nobody-here', `guess-${i}`);
    const known = await login(lk.url, 'alice', 'whatever');
    expect(last.status).toBe(429);
    expect(known.status).toBe(429);
    expect(normalise(last.html, 'nobody-here')).toBe(normalise(known.html, 'alice'));
  });

  it('G5 OAuth 2.1 §2.4.1: a successful login clears the account counter', async () => {
    await seedUser(lk.store, 'bob', 'bob password 1');
    expect((await login(lk.url, 'bob', 'nope')).status).toBe(401);
    expect((await login(lk.url, 'bob', 'bob password 1')).status).toBe(303);
    // Counter cleared: two more failures are free again (no delay).
    const again = await login(lk.url, 'bob', 'nope');
    expect(again.status).toBe(401);
    expect(again.ms).toBeLessThan(140);
  });
});

describe('Password brute force across instances', () => {
  const tmp = tempDir();
  const kek = newKek();
  const settings = { throttle: { login: { freeAttemptsPerAccount: 2, lockAfterPerAccount: 2, baseDelayMs: 1 } } };
  let a: Instance;
  let b: Instance;
  beforeAll(async () => {
    a = await startInstance({ databaseFile: `${tmp.dir}/shared-login.db`, kek, settings });
    b = await startInstance({ databaseFile: `${tmp.dir}/shared-login.db`, kek, settings });
    await seedUser(a.store, 'mia', 'mia password');
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    tmp.remove();
  });

  it('G5 OAuth 2.1 §2.4.1: the account lock is kept in the store, so guesses spread over two instances still lock it', async () => {
    expect((await login(a.url, 'mia', 'guess-1')).status).toBe(401);
    expect((await login(b.url, 'mia', 'guess-2')).status).toBe(401);
    expect((await login(a.url, 'mia', 'mia password')).status).toBe(429);
    expect((await login(b.url, 'mia', 'mia password')).status).toBe(429);
  });
});

describe('Password brute force per client IP', () => {
  const tmp = tempDir();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({
      databaseFile: `${tmp.dir}/ip.db`,
      kek: newKek(),
      settings: { throttle: { login: { freeAttemptsPerAccount: 10, lockAfterPerAccount: 20, freeAttemptsPerIp: 3, lockAfterPerIp: 3, baseDelayMs: 1 }, rate: { exemptLoopback: false } } },
    });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('G5 OAuth 2.1 §2.4.1: spraying one password over many usernames from one IP locks that IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(lk.url, `user${i}`, 'Summer2026!')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('G5 OAuth 2.1 §2.4.1: the per-IP limit counts failures only, so many people signing in correctly from one address (NAT) are never slowed', async () => {
    const shared = await startInstance({
      databaseFile: `${tmp.dir}/ip-nat.db`,
      kek: newKek(),
      settings: { throttle: { login: { freeAttemptsPerAccount: 10, lockAfterPerAccount: 20, freeAttemptsPerIp: 3, lockAfterPerIp: 3, baseDelayMs: 1 }, rate: { exemptLoopback: false } } },
    });
    try {
      for (let i = 0; i < 6; i++) await seedUser(shared.store, `office${i}`, 'office password');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await login(shared.url, `office${i}`, 'office password')).status);
      expect(statuses).toEqual([303, 303, 303, 303, 303, 303]);
    } finally {
      await shared.close();
    }
  });

  it('G5 OAuth 2.1 §2.4.1: from a loopback address (an untrusted local proxy) only the per-account counters apply by default', async () => {
    const local = await startInstance({
      databaseFile: `${tmp.dir}/ip-loopback.db`,
      kek: newKek(),
      settings: { throttle: { login: { freeAttemptsPerAccount: 10, lockAfterPerAccount: 20, freeAttemptsPerIp: 3, lockAfterPerIp: 3, baseDelayMs: 1 } } },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await login(local.url, `user${i}`, 'Summer2026!')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    } finally {
      await local.close();
    }
  });
});

describe('Rate limits at /authorize and /token: 429 with Retry-After', () => {
  const tmp = tempDir();
  let lk: Instance;
  let defaults: Instance;
  beforeAll(async () => {
    lk = await startInstance({
      databaseFile: `${tmp.dir}/rate.db`,
      kek: newKek(),
      settings: { throttle: { rate: { exemptLoopback: false, tokenPerIp: 3, authorizePerIp: 100, authorizePerClient: 2, windowSeconds: 30 } } },
    });
    defaults = await startInstance({ databaseFile: `${tmp.dir}/defaults.db`, kek: newKek() });
  });
  afterAll(async () => {
    await lk.close();
    await defaults.close();
    tmp.remove();
  });

  it('RFC 6585 §4: the fourth /token request from one IP in the window gets 429, Retry-After and a registered error code', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: 'x', client_id: 'nobody' });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(last!.headers.get('retry-after'))).toBeLessThanOrEqual(30);
    expect(last!.headers.get('cache-control')).toBe('no-store');
    const body = (await last!.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect((await lk.store.listEvents({ type: 'rate_limit.exceeded' })).length).toBe(1);
    // A flood past the limit writes no further events: one per window.
    const before = (await lk.store.listEvents({ limit: 1000 })).length;
    for (let i = 0; i < 5; i++) expect((await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: 'x', client_id: 'nobody' })).status).toBe(429);
    expect((await lk.store.listEvents({ limit: 1000 })).length).toBe(before);
  });

  it('RFC 6585 §4: the third /authorize request for one client in the window gets a 429 page with Retry-After', async () => {
    const { clientId } = await seedClient(lk.store);
    const { challenge } = pkcePair();
    const params = { response_type: 'code', client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' };
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await fetch(authorizeUrl(lk.url, params), { redirect: 'manual' });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([303, 303, 429]);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last!.headers.get('content-type')).toContain('text/html');
    expect(await last!.text()).toContain('Too many requests');
  });

  it('with the default settings, 200 requests from 127.0.0.1 are not throttled (a local proxy or benchmark)', async () => {
    const { clientId } = await seedClient(defaults.store, { public: true });
    const results = await Promise.all(
      Array.from({ length: 200 }, () => postForm(`${defaults.url}/token`, { grant_type: 'authorization_code', code: 'x', client_id: clientId }).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 429)).toHaveLength(0);
    expect(results.every((s) => s === 400)).toBe(true);
  });
});

describe('P8 RFC 9700 §2.1.1: a constant PKCE challenge is detected', () => {
  const tmp = tempDir();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: `${tmp.dir}/pkce.db`, kek: newKek() });
    await seedUser(lk.store, 'carol', 'carol password');
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('P8 RFC 9700 §2.1.1: the same code_challenge used twice by one client is logged as pkce.challenge_reused', async () => {
    const { clientId } = await seedClient(lk.store);
    const fresh = pkcePair();
    const constant = pkcePair();
    const params = (challenge: string) => ({ response_type: 'code', client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256', scope: 'notes:read' });
    const jar = new CookieJar();
    await authorizeOverHttp(authorizeUrl(lk.url, params(fresh.challenge)), { username: 'carol', password: 'carol password' }, { jar });
    expect(await lk.store.listEvents({ type: 'pkce.challenge_reused' })).toHaveLength(0);
    await authorizeOverHttp(authorizeUrl(lk.url, params(constant.challenge)), { username: 'carol', password: 'carol password' }, { jar });
    await authorizeOverHttp(authorizeUrl(lk.url, params(constant.challenge)), { username: 'carol', password: 'carol password' }, { jar });
    const events = await lk.store.listEvents({ type: 'pkce.challenge_reused' });
    expect(events).toHaveLength(1);
    expect(events[0]!.clientId).toBe(clientId);
    // The challenge itself is not written into the event.
    expect(JSON.stringify(events[0])).not.toContain(constant.challenge);
  });
});

describe('Request size, header size, parameter count and time limits', () => {
  const tmp = tempDir();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: `${tmp.dir}/limits.db`, kek: newKek() });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('a body over 16 KiB is refused with 413 and invalid_request, on every POST endpoint', async () => {
    for (const path of ['/token', '/introspect', '/revoke', '/login', '/consent', '/authorize']) {
      const res = await fetch(`${lk.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a=${'x'.repeat(17 * 1024)}` });
      expect(res.status, path).toBe(413);
      const text = await res.text();
      expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
      if (res.headers.get('content-type')?.includes('json')) expect(JSON.parse(text).error).toBe('invalid_request');
    }
  });

  it('headers over 8 KiB are refused with 431', async () => {
    const res = await fetch(`${lk.url}/healthz`, { headers: { 'x-filler': 'x'.repeat(9 * 1024) } });
    expect(res.status).toBe(431);
  });

  it('RFC 6749 §3.1: more than 64 parameters, or a parameter over 4096 characters, is invalid_request', async () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, 'v']));
    const tooMany = await postForm(`${lk.url}/token`, many);
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: string }).error).toBe('invalid_request');
    const tooLong = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: 'x'.repeat(5000) });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('the server has request, header and connection time limits', () => {
    const server = lk.server.app.server as import('node:http').Server & { maxHeaderSize?: number };
    expect(server.requestTimeout).toBe(30_000);
    expect(server.headersTimeout).toBe(10_000);
    expect(server.maxHeaderSize).toBe(8 * 1024);
  });
});
