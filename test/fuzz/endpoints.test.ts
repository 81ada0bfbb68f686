import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, fetchWithJar, hiddenField } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { basic, newKek, seedClient, seedUser, startInstance, tempDir, type Instance } from '../hardening/support.js';
import { encode, FUZZ_RUNS, FUZZ_SEED, nastyString, paramName, registeredCodes, snapshot, STACK_TRACE } from './support.js';

/**
 * Property-based tests: generated malformed requests at every endpoint. For each: no 5xx, no
 * stack trace, every error a registered RFC error code, and no row changed by a refused request.
 */
describe('Fuzz: malformed requests at /authorize, /token, /introspect, /revoke and the login and consent forms', () => {
  const tmp = tempDir();
  const file = `${tmp.dir}/fuzz.db`;
  let lk: Instance;
  let confidential: { clientId: string; clientSecret?: string };
  let pub: { clientId: string };
  const jar = new CookieJar();
  let csrf = '';
  let interaction = '';
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const challenge = pkcePair().challenge;

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    lk = await startInstance({
      databaseFile: file,
      kek: newKek(),
      // The fuzzer is one IP sending hundreds of failed logins: lift the limits it would trip
      // (they are tested in test/hardening/abuse.test.ts).
      settings: { throttle: { login: { freeAttemptsPerAccount: 1e6, lockAfterPerAccount: 1e6, freeAttemptsPerIp: 1e6, lockAfterPerIp: 1e6 }, clientSecret: { lockAfterFailures: 0 } } },
    });
    confidential = await seedClient(lk.store, { redirectUris: ['https://app.example/cb', 'https://app.example/other'] });
    pub = await seedClient(lk.store, { public: true, redirectUris: ['http://127.0.0.1/cb'] });
    await seedUser(lk.store, 'ivy', 'ivy password');
    // A pending interaction and a CSRF token, so generated forms reach the handlers behind them.
    const start = await fetchWithJar(
      jar,
      `${lk.url}/authorize?${encode([['response_type', 'code'], ['client_id', confidential.clientId], ['redirect_uri', 'https://app.example/cb'], ['code_challenge', challenge], ['code_challenge_method', 'S256']], false)}`,
    );
    interaction = new URL(start.headers.get('location')!, lk.url).searchParams.get('interaction')!;
    csrf = hiddenField(await (await fetchWithJar(jar, `${lk.url}/login?interaction=${interaction}`)).text(), '_csrf');
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await lk.close();
    tmp.remove();
  });

  /** Values that are sometimes right, so requests get past the first checks and fail deeper. */
  const plausibleValue = () =>
    fc.oneof(
      { weight: 3, arbitrary: nastyString },
      { weight: 2, arbitrary: fc.constantFrom(confidential.clientId, pub.clientId, 'https://app.example/cb', challenge, 'S256', 'code', 'authorization_code', 'refresh_token', 'notes:read', interaction, 'approve', 'deny') },
    );
  const pairs = () => fc.array(fc.tuple(paramName, plausibleValue()), { maxLength: 12 });

  function assertJsonError(status: number, text: string, allowOk: boolean) {
    expect(status, text.slice(0, 200)).toBeLessThan(500);
    expect(text).not.toMatch(STACK_TRACE);
    if (status >= 400) {
      const body = JSON.parse(text) as { error: string };
      expect(registeredCodes.has(body.error), body.error).toBe(true);
    } else {
      expect(allowOk).toBe(true);
    }
  }

  for (const path of ['/token', '/introspect', '/revoke'] as const) {
    it(`${path}: no 5xx, registered error codes only, no row changed by a refused request`, async () => {
      await fc.assert(
        fc.asyncProperty(
          pairs(),
          fc.boolean(),
          fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', '', 'application/x-www-form-urlencoded; charset=latin1', 'multipart/form-data; boundary=x'),
          fc.oneof(fc.constant(undefined), fc.constant('confidential'), nastyString.map((s) => `Basic ${Buffer.from(s).toString('base64')}`), nastyString.map((s) => s.replace(/[\r\n\u0000-\u001f\u007f-\uffff]/g, ''))),
          async (params, raw, contentType, authorization) => {
            const before = snapshot(file);
            const headers: Record<string, string> = {};
            if (contentType) headers['content-type'] = contentType;
            if (authorization === 'confidential') headers.authorization = basic(confidential.clientId, confidential.clientSecret!);
            else if (authorization) headers.authorization = authorization;
            const res = await fetch(`${lk.url}${path}`, { method: 'POST', headers, body: Buffer.from(encode(params, raw)) });
            const text = await res.text();
            assertJsonError(res.status, text, path !== '/token');
            if (res.status >= 400) expect(snapshot(file)).toEqual(before);
          },
        ),
        { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
      );
    }, 90_000);
  }

  it('/authorize (GET and POST, with and without a session): no 5xx, errors registered, no row changed by a refused request', async () => {
    // A signed-in browser too, so requests can get as far as issuing a code.
    const signedIn = new CookieJar();
    const form = await fetchWithJar(signedIn, `${lk.url}/login`);
    await fetchWithJar(signedIn, `${lk.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: hiddenField(await form.text(), '_csrf'), username: 'ivy', password: 'ivy password' }),
    });
    await fc.assert(
      fc.asyncProperty(pairs(), fc.boolean(), fc.constantFrom('GET', 'POST'), fc.boolean(), async (params, raw, method, withSession) => {
        const before = snapshot(file);
        const query = encode(params, raw);
        const init: RequestInit = method === 'GET' ? {} : { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query };
        let res: Response;
        try {
          res = withSession
            ? await fetchWithJar(signedIn, method === 'GET' ? `${lk.url}/authorize?${query}` : `${lk.url}/authorize`, init)
            : await fetch(method === 'GET' ? `${lk.url}/authorize?${query}` : `${lk.url}/authorize`, { ...init, redirect: 'manual' });
        } catch (error) {
          // fetch itself refuses some raw URLs (a client-side TypeError, nothing reached the server).
          if (error instanceof TypeError) return;
          throw error;
        }
        const text = await res.text();
        expect(res.status, text.slice(0, 200)).toBeLessThan(500);
        expect(text).not.toMatch(STACK_TRACE);
        let refused = res.status >= 400;
        if (res.status === 303) {
          const location = new URL(res.headers.get('location')!, lk.url);
          const error = location.searchParams.get('error');
          if (error !== null) {
            expect(registeredCodes.has(error), error).toBe(true);
            refused = true;
          }
        } else if (res.status >= 400 && res.status !== 413 && res.status !== 414 && res.status !== 431) {
          // The error page names the registered code.
          const code = /<strong>([a-z_]+)<\/strong>/.exec(text)?.[1];
          if (code !== undefined) expect(registeredCodes.has(code), code).toBe(true);
        }
        if (refused) expect(snapshot(file)).toEqual(before);
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
    );
  }, 90_000);

  for (const path of ['/login', '/consent'] as const) {
    it(`${path} form: no 5xx, no stack trace, no row changed by a refused post`, async () => {
      await fc.assert(
        fc.asyncProperty(pairs(), fc.boolean(), fc.boolean(), async (params, raw, withCsrf) => {
          const before = snapshot(file);
          const body = encode(withCsrf ? [['_csrf', csrf], ...params.filter(([k]) => k !== '_csrf')] : params, raw);
          const res = await fetchWithJar(jar, `${lk.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
          const text = await res.text();
          expect(res.status, text.slice(0, 200)).toBeLessThan(500);
          expect(text).not.toMatch(STACK_TRACE);
          if (res.status >= 400) expect(snapshot(file)).toEqual(before);
        }),
        { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
      );
    }, 90_000);
  }

  it('no unhandled promise rejection during the whole run', () => {
    expect(rejections).toEqual([]);
  });
});
