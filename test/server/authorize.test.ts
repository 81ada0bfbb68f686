import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, fetchWithJar, hiddenField, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, type Client, authorizeUrl, expectErrorPage, expectPageHeaders, expectRedirectError, get, location, signIn, validParams } from './support.js';

describe('/authorize (RFC 6749 §4.1.1, RFC 9700, OAuth 2.1 §4.1)', () => {
  let lk: TestLatchkey;
  let dev: TestLatchkey;
  let app: Client;
  let twoUris: Client;
  let loopback: Client;
  let withQuery: Client;
  let devApp: Client;
  let rawQuery: Client;

  beforeAll(async () => {
    [lk, dev] = await Promise.all([startLatchkey(), startLatchkey({ settings: { development: true } })]);
    await lk.createUser(ALICE.username, ALICE.password);
    app = await lk.createClient({ redirectUris: [APP] });
    twoUris = await lk.createClient({ redirectUris: [APP, 'https://app.example/other'] });
    loopback = await lk.createClient({
      redirectUris: ['http://127.0.0.1/cb', 'http://[::1]/cb', 'http://localhost/cb', 'http://127.0.0.1:8080/fixed'],
      public: true,
    });
    withQuery = await lk.createClient({ redirectUris: ['https://app.example/cb?tenant=acme&x=1'] });
    devApp = await dev.createClient({ redirectUris: [APP] });
    rawQuery = await lk.createClient({ redirectUris: ['https://app.example/cb?flag&x=a%20b&t=~'] });
  });
  afterAll(async () => Promise.all([lk?.close(), dev?.close()]));

  /** A request that passed every check is sent to the login page (no session yet). */
  async function expectAccepted(response: Response): Promise<void> {
    expect(response.status, (await response.clone().text()).slice(0, 300)).toBe(303);
    expect(location(response, lk.issuer).pathname).toBe('/login');
  }

  describe('redirect URI matching', () => {
    it('R1 RFC 9700 §4.1.3: the registered redirect URI, exactly as registered, is accepted', async () => {
      await expectAccepted(await get(authorizeUrl(lk, validParams(app))));
    });

    it.each([
      ['percent-encoding', 'https://app.example/%63b'],
      ['trailing slash', 'https://app.example/cb/'],
      ['host case', 'https://APP.example/cb'],
      ['path case', 'https://app.example/CB'],
      ['scheme case', 'HTTPS://app.example/cb'],
      ['default port', 'https://app.example:443/cb'],
      ['added query', 'https://app.example/cb?x=1'],
      ['added fragment', 'https://app.example/cb#x'],
      ['prefix', 'https://app.example/cb/evil'],
      ['other host', 'https://evil.example/cb'],
    ])('R1 RFC 9700 §4.1.3: a %s variant of the registered URI is refused on the error page', async (_what, variant) => {
      await expectErrorPage(await get(authorizeUrl(lk, validParams(app, { redirect_uri: variant }))));
    });

    it.each([
      ['127.0.0.1 with a port', 'http://127.0.0.1:51234/cb'],
      ['127.0.0.1 with another port', 'http://127.0.0.1:1/cb'],
      ['127.0.0.1 without a port', 'http://127.0.0.1/cb'],
      ['[::1] with a port', 'http://[::1]:49152/cb'],
      ['a port-registered 127.0.0.1 with another port', 'http://127.0.0.1:9999/fixed'],
    ])('R2 RFC 9700 §4.1.3 (RFC 8252 §7.3): loopback IP %s is accepted', async (_what, uri) => {
      await expectAccepted(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: uri }))));
    });

    it.each([
      ['a different path', 'http://127.0.0.1:51234/other'],
      ['a path with a trailing slash', 'http://127.0.0.1:51234/cb/'],
      ['a different loopback address', 'http://127.0.0.2:51234/cb'],
      ['https instead of http', 'https://127.0.0.1:51234/cb'],
      ['a host that starts with 127.0.0.1', 'http://127.0.0.1.evil.example:51234/cb'],
      ['userinfo in front of another host', 'http://127.0.0.1:1@evil.example/cb'],
      ['[::1] with a different path', 'http://[::1]:49152/x'],
    ])('R2 RFC 9700 §4.1.3: loopback with %s is refused (host and path still exact)', async (_what, uri) => {
      await expectErrorPage(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: uri }))));
    });

    it('R3 OAuth 2.1 §8.4.2: localhost gets no port exception; only its exact registered form matches', async () => {
      await expectErrorPage(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: 'http://localhost:51234/cb' }))));
      await expectAccepted(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: 'http://localhost/cb' }))));
    });

    it('R2 RFC 3986 §3.2.3: a loopback port outside 0-65535 is refused on the error page, not a 500', async () => {
      await expectErrorPage(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: 'http://127.0.0.1:99999/cb' }))));
      await expectErrorPage(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: 'http://127.0.0.1:99999/cb', prompt: 'none' }))));
      await expectAccepted(await get(authorizeUrl(lk, validParams(loopback, { redirect_uri: 'http://127.0.0.1:65535/cb' }))));
    });

    it('R8 OAuth 2.1 §2.3.2: with one registered URI, redirect_uri may be omitted and the code goes to it', async () => {
      await expectAccepted(await get(authorizeUrl(lk, validParams(app, { redirect_uri: undefined }))));
    });

    it('R8 OAuth 2.1 §2.3.2: with two registered URIs, redirect_uri is required (error page)', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(lk, validParams(twoUris, { redirect_uri: undefined }))));
      expect(body).toContain('invalid_request');
      await expectAccepted(await get(authorizeUrl(lk, validParams(twoUris, { redirect_uri: 'https://app.example/other' }))));
    });

    it('R5 OAuth 2.1 §2.3: the query of the registered redirect URI is preserved in the response', async () => {
      const jar = new CookieJar();
      await signIn(lk, jar);
      // First time: consent; prompt=none would refuse, which is itself an authorization response.
      const res = await get(authorizeUrl(lk, validParams(withQuery, { redirect_uri: 'https://app.example/cb?tenant=acme&x=1', prompt: 'none' })), jar);
      const target = expectRedirectError(lk, res, 'https://app.example/cb', 'consent_required', 'st-123');
      expect(target.searchParams.get('tenant')).toBe('acme');
      expect(target.searchParams.get('x')).toBe('1');
      expect(target.href.startsWith('https://app.example/cb?tenant=acme&x=1&')).toBe(true);
    });
  });

  it('R5 OAuth 2.1 §2.3: the registered query is kept byte for byte ("MUST be retained"), not re-encoded', async () => {
    const jar = new CookieJar();
    await signIn(lk, jar);
    const res = await get(authorizeUrl(lk, validParams(rawQuery, { redirect_uri: undefined, prompt: 'none' })), jar);
    expect(res.status).toBe(303);
    const raw = res.headers.get('location')!;
    expect(raw.startsWith('https://app.example/cb?flag&x=a%20b&t=~&'), raw).toBe(true);
    expect(new URL(raw).searchParams.get('error')).toBe('consent_required');
    expect(new URL(raw).searchParams.get('iss')).toBe(lk.issuer);
  });

  describe('R7: errors before the client and redirect URI are verified are shown, never redirected', () => {
    it('R7 RFC 6749 §4.1.2.1: a missing client_id gives the error page', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(lk, validParams(app, { client_id: undefined }))));
      expect(body).toContain('invalid_request');
    });

    it('R7 RFC 6749 §4.1.2.1: an unknown client_id gives the error page', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(lk, validParams({ clientId: 'no-such-client' }))));
      expect(body).toContain('invalid_client');
    });

    it('R7 RFC 6749 §4.1.2.1: an unregistered redirect_uri gives the error page even with other errors present', async () => {
      await expectErrorPage(await get(authorizeUrl(lk, validParams(app, { redirect_uri: 'https://evil.example/cb', response_type: 'token' }))));
    });

    it('R7 RFC 6749 §3.1: a duplicate client_id or redirect_uri gives the error page', async () => {
      const dupClient = authorizeUrl(lk, [...Object.entries(validParams(app)), ['client_id', app.clientId]]);
      await expectErrorPage(await get(dupClient));
      const dupRedirect = authorizeUrl(lk, [...Object.entries(validParams(app)), ['redirect_uri', 'https://evil.example/cb']]);
      await expectErrorPage(await get(dupRedirect));
    });

    it('R7 RFC 6749 §4.1.2.1: in development mode the page shows registered, received and "differs by a trailing slash"', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(dev, validParams(devApp, { redirect_uri: `${APP}/` }))));
      expect(body).toContain('Registered');
      expect(body).toContain(`<code>${APP}</code>`);
      expect(body).toContain('Received');
      expect(body).toContain(`<code>${APP}/</code>`);
      expect(body).toContain('differs by a trailing slash');
    });

    it('R7 RFC 6749 §4.1.2.1: in production mode the page does not show what was compared', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(lk, validParams(app, { redirect_uri: `${APP}/` }))));
      expect(body).not.toContain('differs by');
      expect(body).not.toContain(`${APP}/`);
      expect(body).not.toContain('Registered');
    });

    it('X7 OAuth 2.1 §7.11: the development page escapes the received redirect_uri (no HTML injection)', async () => {
      const body = await expectErrorPage(await get(authorizeUrl(dev, validParams(devApp, { redirect_uri: `${APP}"><script>alert(1)</script>` }))));
      expect(body).not.toContain('<script>alert(1)</script>');
      expect(body).toContain('&lt;script&gt;');
    });

    it('RFC 3986 §2.1: a malformed percent-escape in the query gives the error page, not a 500', async () => {
      const res = await fetch(`${lk.issuer}/authorize?client_id=${app.clientId}&state=%E0%A4&response_type=code`, { redirect: 'manual' });
      await expectErrorPage(res);
    });
  });

  describe('errors after the redirect URI is verified go back to the client, with state and iss', () => {
    it('G1 RFC 6749 §4.1.2.1: response_type=token gives unsupported_response_type with state and iss (M1 RFC 9207 §2)', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { response_type: 'token' }))), APP, 'unsupported_response_type', 'st-123');
    });

    it('RFC 6749 §4.1.1: a missing response_type gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { response_type: undefined }))), APP, 'invalid_request', 'st-123');
    });

    it('P2 RFC 9700 §2.1.1: a missing code_challenge gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { code_challenge: undefined }))), APP, 'invalid_request', 'st-123');
    });

    it('P5 P6 OAuth 2.1 §4.1.2.1: code_challenge_method=plain gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { code_challenge_method: 'plain' }))), APP, 'invalid_request', 'st-123');
    });

    it('P5 P6 RFC 7636 §4.3: an absent code_challenge_method (meaning plain) gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { code_challenge_method: undefined }))), APP, 'invalid_request', 'st-123');
    });

    it('P6 RFC 7636 §4.2: a code_challenge that is not an S256 hash gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { code_challenge: 'short' }))), APP, 'invalid_request', 'st-123');
    });

    it('RFC 6749 §3.3: a scope outside the client registration gives invalid_scope', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { scope: 'notes:read admin' }))), APP, 'invalid_scope', 'st-123');
    });

    it('A2 RFC 8707 §2: a resource the client is not registered for gives invalid_target', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { resource: 'https://api.example/notes' }))), APP, 'invalid_target', 'st-123');
    });

    it('X6 OAuth 2.1 §3.1: unknown parameters are ignored', async () => {
      await expectAccepted(await get(authorizeUrl(lk, validParams(app, { foo: 'bar', nonce_like: 'x', claims: '{}' }))));
    });

    it.each(['response_type', 'scope', 'code_challenge', 'code_challenge_method', 'prompt'])(
      'RFC 6749 §3.1: a duplicate %s gives invalid_request at the client',
      async (name) => {
        const params = validParams(app, { prompt: 'consent' });
        const url = authorizeUrl(lk, [...Object.entries(params), [name, params[name]!]]);
        expectRedirectError(lk, await get(url), APP, 'invalid_request', 'st-123');
      },
    );

    it('RFC 6749 §3.1: a duplicate state gives invalid_request without echoing either value', async () => {
      const url = authorizeUrl(lk, [...Object.entries(validParams(app)), ['state', 'other']]);
      expectRedirectError(lk, await get(url), APP, 'invalid_request', null);
    });

    it('X7 OAuth 2.1 §7.11: state is echoed verbatim (unicode, spaces, &, =, %, +)', async () => {
      const state = 'ü ñ 日本 & a=b %20 + ; /?#';
      const res = await get(authorizeUrl(lk, validParams(app, { response_type: 'token', state })));
      const target = expectRedirectError(lk, res, APP, 'unsupported_response_type', state);
      expect(target.searchParams.get('state')).toBe(state);
    });
  });

  describe('prompt and remembered consent (OpenID Connect Core §3.1.2.1)', () => {
    it('OIDC Core §3.1.2.6: prompt=none without a session gives login_required with state and iss', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { prompt: 'none' }))), APP, 'login_required', 'st-123');
    });

    it('OIDC Core §3.1.2.6: prompt=none with a session but no consent gives consent_required', async () => {
      const jar = new CookieJar();
      await signIn(lk, jar);
      const fresh = await lk.createClient({ redirectUris: [APP] });
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(fresh, { prompt: 'none' })), jar), APP, 'consent_required', 'st-123');
    });

    it('X2 RFC 9700 §4.12 and M1 RFC 9207 §2: every step of a full flow is a 303 and the code comes with iss', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      let res = await get(authorizeUrl(lk, validParams(fresh)), jar);
      expect(res.status).toBe(303);
      let next = location(res, lk.issuer);
      expect(next.pathname).toBe('/login');
      let page = await fetchWithJar(jar, next);
      expect(page.status).toBe(200);
      expectPageHeaders(page);
      let html = await page.text();
      res = await fetchWithJar(jar, new URL('/login', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), ...ALICE }),
      });
      expect(res.status).toBe(303);
      next = location(res, lk.issuer);
      expect(next.pathname).toBe('/consent');
      page = await fetchWithJar(jar, next);
      expect(page.status).toBe(200);
      expectPageHeaders(page);
      html = await page.text();
      res = await fetchWithJar(jar, new URL('/consent', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'approve' }),
      });
      expect(res.status).toBe(303);
      const callback = location(res, lk.issuer);
      expect(callback.origin + callback.pathname).toBe(APP);
      expect(callback.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{120,}$/);
      expect(callback.searchParams.get('state')).toBe('st-123');
      expect(callback.searchParams.get('iss')).toBe(lk.issuer);

      // Remembered consent: the same scope goes straight back with a code.
      const again = await get(authorizeUrl(lk, validParams(fresh)), jar);
      expect(again.status).toBe(303);
      expect(location(again, lk.issuer).searchParams.get('code')).toBeTruthy();
      // prompt=none now succeeds silently.
      const silent = await get(authorizeUrl(lk, validParams(fresh, { prompt: 'none' })), jar);
      expect(location(silent, lk.issuer).searchParams.get('code')).toBeTruthy();
      // A wider scope than consented asks again.
      const wider = await get(authorizeUrl(lk, validParams(fresh, { scope: 'notes:read notes:write' })), jar);
      expect(location(wider, lk.issuer).pathname).toBe('/consent');
    });

    it('RFC 6749 §4.1 (B): remembered consent covers a narrower scope than was granted', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      await signIn(lk, jar);
      const first = await get(authorizeUrl(lk, validParams(fresh, { scope: 'notes:read notes:write' })), jar);
      const consentUrl = location(first, lk.issuer);
      expect(consentUrl.pathname).toBe('/consent');
      const html = await (await fetchWithJar(jar, consentUrl)).text();
      const approved = await fetchWithJar(jar, new URL('/consent', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'approve' }),
      });
      expect(location(approved, lk.issuer).searchParams.get('code')).toBeTruthy();
      const narrower = await get(authorizeUrl(lk, validParams(fresh, { scope: 'notes:write' })), jar);
      expect(narrower.status).toBe(303);
      expect(location(narrower, lk.issuer).searchParams.get('code')).toBeTruthy();
    });

    it('OIDC Core §3.1.2.1: prompt=login shows the login page even when signed in, then returns a code', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      await signIn(lk, jar);
      // Consent first, so that only the login prompt stands between the request and the code.
      const first = await get(authorizeUrl(lk, validParams(fresh)), jar);
      const html = await (await fetchWithJar(jar, location(first, lk.issuer))).text();
      await fetchWithJar(jar, new URL('/consent', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'approve' }),
      });
      const res = await get(authorizeUrl(lk, validParams(fresh, { prompt: 'login' })), jar);
      const loginUrl = location(res, lk.issuer);
      expect(loginUrl.pathname).toBe('/login');
      const loginHtml = await (await fetchWithJar(jar, loginUrl)).text();
      const after = await fetchWithJar(jar, new URL('/login', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(loginHtml, '_csrf'), interaction: hiddenField(loginHtml, 'interaction'), ...ALICE }),
      });
      expect(after.status).toBe(303);
      expect(location(after, lk.issuer).searchParams.get('code')).toBeTruthy();
    });

    it('OIDC Core §3.1.2.1: prompt=login cannot be skipped by going straight to the consent page', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      await signIn(lk, jar);
      const res = await get(authorizeUrl(lk, validParams(fresh, { prompt: 'login' })), jar);
      const loginUrl = location(res, lk.issuer);
      expect(loginUrl.pathname).toBe('/login');
      const interaction = loginUrl.searchParams.get('interaction')!;
      // The old session must not reach consent for this interaction without a fresh login.
      const consentGet = await get(new URL(`/consent?interaction=${encodeURIComponent(interaction)}`, lk.issuer), jar);
      expect(consentGet.status).toBe(303);
      expect(location(consentGet, lk.issuer).pathname).toBe('/login');
      // Nor can a consent form (with a valid CSRF token from another page) be posted for it.
      const accountHtml = await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text();
      const post = await fetchWithJar(jar, new URL('/consent', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(accountHtml, '_csrf'), interaction, decision: 'approve' }),
      });
      expect(post.status).toBe(303);
      const target = location(post, lk.issuer);
      expect(target.pathname).toBe('/login');
      expect(target.searchParams.get('code')).toBeNull();
    });

    it('OIDC Core §3.1.2.1: prompt=consent shows the consent page even when consent is remembered', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      await signIn(lk, jar);
      const first = await get(authorizeUrl(lk, validParams(fresh)), jar);
      const html = await (await fetchWithJar(jar, location(first, lk.issuer))).text();
      await fetchWithJar(jar, new URL('/consent', lk.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'approve' }),
      });
      const remembered = await get(authorizeUrl(lk, validParams(fresh)), jar);
      expect(location(remembered, lk.issuer).searchParams.get('code')).toBeTruthy();
      const forced = await get(authorizeUrl(lk, validParams(fresh, { prompt: 'consent' })), jar);
      expect(location(forced, lk.issuer).pathname).toBe('/consent');
    });

    it('OIDC Core §3.1.2.1: prompt=none combined with another value gives invalid_request', async () => {
      expectRedirectError(lk, await get(authorizeUrl(lk, validParams(app, { prompt: 'none login' }))), APP, 'invalid_request', 'st-123');
    });
  });

  describe('POST and page headers', () => {
    it('X6 OAuth 2.1 §3.1: POST /authorize with a form body works like GET', async () => {
      const post = (params: Record<string, string>) =>
        fetch(new URL('/authorize', lk.issuer), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(params),
        });
      await expectAccepted(await post(validParams(app)));
      expectRedirectError(lk, await post(validParams(app, { code_challenge_method: 'plain' })), APP, 'invalid_request', 'st-123');
      await expectErrorPage(await post(validParams(app, { redirect_uri: `${APP}/` })));
    });

    it('X1 RFC 9700 §4.16, X3 §4.2.4: the login page forbids framing and referrers', async () => {
      const res = await get(authorizeUrl(lk, validParams(app)));
      const page = await get(location(res, lk.issuer));
      expect(page.status).toBe(200);
      expectPageHeaders(page);
      expect(page.headers.get('cache-control')).toBe('no-store');
    });

    it('X1 RFC 9700 §4.16, X3 §4.2.4: the consent page forbids framing and referrers', async () => {
      const fresh = await lk.createClient({ redirectUris: [APP] });
      const jar = new CookieJar();
      await signIn(lk, jar);
      const res = await get(authorizeUrl(lk, validParams(fresh)), jar);
      const page = await fetchWithJar(jar, location(res, lk.issuer));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('wants to access your account');
      expectPageHeaders(page);
    });

    it('X1 RFC 9700 §4.16, X3 §4.2.4: the error page forbids framing and referrers', async () => {
      const res = await get(authorizeUrl(lk, validParams({ clientId: 'nobody' })));
      await expectErrorPage(res);
    });

    it('X4 RFC 9700 §2.6: no CORS on the authorization endpoint', async () => {
      const res = await fetch(authorizeUrl(lk, validParams(app)), { redirect: 'manual', headers: { origin: 'https://evil.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
