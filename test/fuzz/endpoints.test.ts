import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp, CookieJar, fetchWithJar, hiddenField } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from '../hardening/support.js';
import { encode, FUZZ_RUNS, FUZZ_SEED, mutated, nastyString, registeredCodes, snapshot, STACK_TRACE } from './support.js';

/**
 * Property-based tests: generated malformed requests at every endpoint. For each: no 5xx, no
 * stack trace, every error a registered RFC error code, and no row changed by a refused request.
 * Requests are mutations of well-formed ones (with real client ids, tokens, interactions and
 * CSRF tokens), so most get past the parser and fail deeper.
 */
describe('Fuzz: malformed requests at /authorize, /token, /introspect, /revoke and the login and consent forms', () => {
  const tmp = tempDir();
  const file = `${tmp.dir}/fuzz.db`;
  let lk: Instance;
  let confidential: { clientId: string; clientSecret?: string };
  let pub: { clientId: string };
  // A browser with a pending login, and a signed-in one with a pending consent.
  const jar = new CookieJar();
  const signedIn = new CookieJar();
  let csrf = '';
  let interaction = '';
  let consentCsrf = '';
  let consentInteraction = '';
  let tokens: { access_token: string; refresh_token: string };
  const pkce = pkcePair();
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  /** What each property reached, printed so a run shows the fuzzer got past the first checks. */
  const seen = new Map<string, Map<string, number>>();
  const note = (property: string, outcome: string) => {
    const counts = seen.get(property) ?? new Map<string, number>();
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    seen.set(property, counts);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    lk = await startInstance({
      databaseFile: file,
      kek: newKek(),
      // The fuzzer is one IP sending hundreds of failed logins and secrets: lift the limits it
      // would trip (they are tested in test/hardening/abuse.test.ts).
      settings: { throttle: { login: { freeAttemptsPerAccount: 1e6, lockAfterPerAccount: 1e6 }, clientSecret: { lockAfterFailures: 0 } } },
    });
    confidential = await seedClient(lk.store, { redirectUris: ['https://app.example/cb', 'https://app.example/other'] });
    pub = await seedClient(lk.store, { public: true, redirectUris: ['http://127.0.0.1/cb'] });
    await seedUser(lk.store, 'ivy', 'ivy password');
    const request = authorizeUrl(lk.url, { response_type: 'code', client_id: confidential.clientId, redirect_uri: 'https://app.example/cb', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    const start = await fetchWithJar(jar, request);
    interaction = new URL(start.headers.get('location')!, lk.url).searchParams.get('interaction')!;
    csrf = hiddenField(await (await fetchWithJar(jar, `${lk.url}/login?interaction=${interaction}`)).text(), '_csrf');
    const form = await fetchWithJar(signedIn, `${lk.url}/login`);
    await fetchWithJar(signedIn, `${lk.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: hiddenField(await form.text(), '_csrf'), username: 'ivy', password: 'ivy password' }),
    });
    const toConsent = await fetchWithJar(signedIn, request);
    consentInteraction = new URL(toConsent.headers.get('location')!, lk.url).searchParams.get('interaction')!;
    consentCsrf = hiddenField(await (await fetchWithJar(signedIn, `${lk.url}/consent?interaction=${consentInteraction}`)).text(), '_csrf');
    // Real tokens, for introspection, revocation and refresh requests to chew on.
    const callback = await authorizeOverHttp(request, { username: 'ivy', password: 'ivy password' });
    const res = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: 'https://app.example/cb' }, { authorization: basic(confidential.clientId, confidential.clientSecret!) });
    tokens = (await res.json()) as typeof tokens;
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await lk.close();
    tmp.remove();
  });

  const known = () =>
    fc.constantFrom(confidential.clientId, pub.clientId, 'https://app.example/cb', pkce.challenge, pkce.verifier, 'S256', 'code', 'authorization_code', 'refresh_token', 'notes:read', interaction, consentInteraction, tokens.access_token, tokens.refresh_token, 'approve', 'deny');

  /** The audit events that mean "a refused request legitimately revoked something" (C4, T4). */
  async function revocations(): Promise<number> {
    const [replayed, reused] = await Promise.all([lk.store.listEvents({ type: 'code.replayed', limit: 10_000 }), lk.store.listEvents({ type: 'refresh.reuse_detected', limit: 10_000 })]);
    return replayed.length + reused.length;
  }

  const authorization = () =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant<string | undefined>('confidential') },
      { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
      { weight: 1, arbitrary: nastyString.map((s) => `Basic ${Buffer.from(s).toString('base64')}`) },
      { weight: 1, arbitrary: nastyString.map((s) => s.replace(/[\r\n\u0000-\u001f\u007f-\uffff]/g, '')) },
    );
  const contentType = () =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/x-www-form-urlencoded') },
      { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', '', 'application/x-www-form-urlencoded; charset=latin1', 'multipart/form-data; boundary=x') },
    );
  const rawEncoding = () => fc.integer({ min: 0, max: 4 }).map((n) => n === 0);

  const bases = (): Record<'/token' | '/introspect' | '/revoke', Array<Array<[string, string]>>> => ({
    '/token': [
      [['grant_type', 'authorization_code'], ['code', pkcePair().verifier], ['code_verifier', pkce.verifier], ['redirect_uri', 'https://app.example/cb']],
      [['grant_type', 'authorization_code'], ['client_id', pub.clientId], ['code', pkcePair().verifier], ['code_verifier', pkce.verifier]],
      [['grant_type', 'refresh_token'], ['refresh_token', tokens.refresh_token], ['scope', 'notes:read']],
    ],
    '/introspect': [[['token', tokens.access_token], ['token_type_hint', 'access_token']], [['token', tokens.refresh_token], ['token_type_hint', 'refresh_token']]],
    '/revoke': [[['token', tokens.access_token], ['token_type_hint', 'access_token']], [['token', tokens.refresh_token]]],
  });

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
      const requests = fc.oneof(...bases()[path].map((base) => mutated(base, known())));
      await fc.assert(
        fc.asyncProperty(requests, rawEncoding(), contentType(), authorization(), async (params, raw, type, auth) => {
          const [before, revoked] = [snapshot(file), await revocations()];
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (auth === 'confidential') headers.authorization = basic(confidential.clientId, confidential.clientSecret!);
          else if (auth) headers.authorization = auth;
          const res = await fetch(`${lk.url}${path}`, { method: 'POST', headers, body: Buffer.from(encode(params, raw)) });
          const text = await res.text();
          note(path, res.status >= 400 ? `${res.status} ${String((JSON.parse(text) as { error?: string }).error)}` : String(res.status));
          assertJsonError(res.status, text, true);
          // C4, T4: a refused replay of a used code or rotated refresh token revokes its grant on purpose.
          if (res.status >= 400 && (await revocations()) === revoked) expect(snapshot(file)).toEqual(before);
        }),
        { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
      );
    }, 90_000);
  }

  it('/authorize (GET and POST, with and without a session): no 5xx, errors registered, no row changed by a refused request', async () => {
    const base: Array<[string, string]> = [
      ['response_type', 'code'],
      ['client_id', confidential.clientId],
      ['redirect_uri', 'https://app.example/cb'],
      ['code_challenge', pkce.challenge],
      ['code_challenge_method', 'S256'],
      ['scope', 'notes:read'],
      ['state', 'st'],
    ];
    await fc.assert(
      fc.asyncProperty(mutated(base, known()), rawEncoding(), fc.constantFrom('GET', 'POST'), fc.boolean(), async (params, raw, method, withSession) => {
        const before = snapshot(file);
        const query = encode(params, raw);
        const init: RequestInit = method === 'GET' ? {} : { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query };
        const target = method === 'GET' ? `${lk.url}/authorize?${query}` : `${lk.url}/authorize`;
        let res: Response;
        try {
          res = withSession ? await fetchWithJar(signedIn, target, init) : await fetch(target, { ...init, redirect: 'manual' });
        } catch (error) {
          // fetch itself refuses some raw URLs (a client-side TypeError, nothing reached the server).
          if (error instanceof TypeError) return;
          throw error;
        }
        const text = await res.text();
        const to = res.status === 303 ? new URL(res.headers.get('location')!, lk.url) : undefined;
        note('/authorize', to ? `303 ${to.searchParams.get('error') ?? (to.searchParams.has('code') ? 'code' : to.pathname)}` : String(res.status));
        expect(res.status, text.slice(0, 200)).toBeLessThan(500);
        expect(text).not.toMatch(STACK_TRACE);
        let refused = res.status >= 400;
        if (to) {
          const error = to.searchParams.get('error');
          if (error !== null) {
            expect(registeredCodes.has(error), error).toBe(true);
            // An error goes only to a registered redirect URI (R7, R10; loopback with any port, R2).
            expect(['https://app.example/cb', 'https://app.example/other', 'http://127.0.0.1/cb']).toContain(`${to.protocol}//${to.hostname}${to.pathname}`);
            refused = true;
          }
        } else if (refused && res.headers.get('content-type')?.includes('text/html')) {
          // The error page names the registered code, when it shows one.
          const code = /<strong>([a-z_]+)<\/strong>/.exec(text)?.[1];
          if (code !== undefined) expect(registeredCodes.has(code), code).toBe(true);
        } else if (refused) {
          expect(registeredCodes.has((JSON.parse(text) as { error: string }).error)).toBe(true);
        }
        if (refused) expect(snapshot(file)).toEqual(before);
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
    );
  }, 90_000);

  for (const path of ['/login', '/consent'] as const) {
    it(`${path} form: no 5xx, no stack trace, no row changed by a refused post`, async () => {
      const base: Array<[string, string]> =
        path === '/login'
          ? [['_csrf', csrf], ['interaction', interaction], ['username', 'ivy'], ['password', 'not the password']]
          : [['_csrf', consentCsrf], ['interaction', consentInteraction], ['decision', 'deny']];
      await fc.assert(
        fc.asyncProperty(mutated(base, known()), rawEncoding(), async (params, raw) => {
          const before = snapshot(file);
          const browser = path === '/consent' ? signedIn : jar;
          const res = await fetchWithJar(browser, `${lk.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encode(params, raw) });
          const text = await res.text();
          note(path, res.status === 303 ? `303 ${new URL(res.headers.get('location')!, lk.url).pathname}` : String(res.status));
          expect(res.status, text.slice(0, 200)).toBeLessThan(500);
          expect(text).not.toMatch(STACK_TRACE);
          if (res.status >= 400) expect(snapshot(file)).toEqual(before);
        }),
        { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
      );
    }, 90_000);
  }

  it('no unhandled promise rejection during the whole run', () => {
    for (const [property, counts] of seen) console.log(`fuzz ${property}: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    expect(rejections).toEqual([]);
  });
});
