import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argon2Hasher } from '../../src/server/platform/password-hasher.js';
import { CookieJar, fetchWithJar, hiddenField, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import {
  ALICE,
  APP,
  type Client,
  authorizeUrl,
  expectOAuthError,
  expectPageHeaders,
  expectRedirectError,
  get,
  introspect,
  location,
  refresh,
  signIn,
  tokensFor,
  validParams,
} from './support.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SESSION = 'latchkey-session';

function postPage(jar: CookieJar, url: URL, form: Record<string, string>): Promise<Response> {
  return fetchWithJar(jar, url, { method: 'POST', headers: FORM, body: new URLSearchParams(form) });
}

function sessionCookieLine(response: Response): string | undefined {
  return response.headers.getSetCookie().find((line) => line.startsWith(`${SESSION}=`));
}

describe('login, consent, logout and /account', () => {
  let lk: TestLatchkey;
  let client: Client;

  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(ALICE.username, ALICE.password);
    client = await lk.createClient({ redirectUris: [APP], name: 'Notes App' });
  });
  afterAll(async () => lk?.close());

  /** Starts an authorization request and signs in; returns the consent page URL. */
  async function toConsent(jar: CookieJar, who: Client = client): Promise<URL> {
    const res = await get(authorizeUrl(lk, validParams(who)), jar);
    const loginUrl = location(res, lk.issuer);
    const html = await (await fetchWithJar(jar, loginUrl)).text();
    const after = await postPage(jar, new URL('/login', lk.issuer), { _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), ...ALICE });
    const consentUrl = location(after, lk.issuer);
    expect(consentUrl.pathname).toBe('/consent');
    return consentUrl;
  }

  it('RFC 6749 §4.1.2.1: Deny gives access_denied at the client with state and iss (M1 RFC 9207 §2)', async () => {
    const jar = new CookieJar();
    const consentUrl = await toConsent(jar);
    const html = await (await fetchWithJar(jar, consentUrl)).text();
    expect(html).toContain('Notes App');
    const res = await postPage(jar, new URL('/consent', lk.issuer), { _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'deny' });
    expectRedirectError(lk, res, APP, 'access_denied', 'st-123');
    // Denying remembers nothing: the next request asks again.
    const again = await get(authorizeUrl(lk, validParams(client)), jar);
    expect(location(again, lk.issuer).pathname).toBe('/consent');
  });

  it('RFC 6265bis §4.1.2: the session cookie is HttpOnly and SameSite=Lax, and not Secure on http', async () => {
    const jar = new CookieJar();
    const res = await signIn(lk, jar);
    expect(res.status).toBe(303);
    const line = sessionCookieLine(res);
    expect(line, res.headers.getSetCookie().join('\n')).toBeDefined();
    expect(line).toMatch(/;\s*HttpOnly/i);
    expect(line).toMatch(/;\s*SameSite=Lax/i);
    expect(line).not.toMatch(/;\s*Secure/i);
    expect(line).toMatch(/;\s*Path=\//i);
    // ≥ 256 random bits (43 base64url characters).
    expect(jar.get(SESSION)!.length).toBeGreaterThanOrEqual(43);
  });

  it('RFC 6749 §10.12, OWASP session fixation: the session id changes at login, and a planted id never becomes a session', async () => {
    const jar = new CookieJar();
    await signIn(lk, jar);
    const first = jar.get(SESSION)!;
    await signIn(lk, jar);
    const second = jar.get(SESSION)!;
    expect(second).not.toBe(first);
    // The old id no longer signs anyone in.
    const old = await fetch(new URL('/account', lk.issuer), { headers: { cookie: `${SESSION}=${first}` } });
    expect(await old.text()).toContain('Sign in');

    // An attacker plants a cookie before the victim signs in.
    const planted = 'attacker-chosen-session-id-0123456789abcdefghijkl';
    const victim = new CookieJar();
    victim.store(new Response(null, { headers: { 'set-cookie': `${SESSION}=${planted}; Path=/` } }));
    await signIn(lk, victim);
    expect(victim.get(SESSION)).not.toBe(planted);
    const attacker = await fetch(new URL('/account', lk.issuer), { headers: { cookie: `${SESSION}=${planted}` } });
    expect(await attacker.text()).not.toContain('Applications with access');
  });

  it('RFC 6749 §10.12 (CSRF): a login form POST without a CSRF token gives the 403 page', async () => {
    const jar = new CookieJar();
    await fetchWithJar(jar, new URL('/login', lk.issuer));
    const res = await postPage(jar, new URL('/login', lk.issuer), { ...ALICE });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expectPageHeaders(res);
    expect(sessionCookieLine(res)).toBeUndefined();
  });

  it('RFC 6749 §10.12 (CSRF): a login form POST with a wrong CSRF token, or without the CSRF cookie, gives the 403 page', async () => {
    const jar = new CookieJar();
    const html = await (await fetchWithJar(jar, new URL('/login', lk.issuer))).text();
    const token = hiddenField(html, '_csrf');
    const wrong = await postPage(jar, new URL('/login', lk.issuer), { _csrf: `${token.slice(0, -4)}AAAA`, ...ALICE });
    expect(wrong.status).toBe(403);
    expectPageHeaders(wrong);
    // A token lifted from another browser is useless without that browser's cookie.
    const foreign = await postPage(new CookieJar(), new URL('/login', lk.issuer), { _csrf: token, ...ALICE });
    expect(foreign.status).toBe(403);
  });

  it('RFC 6749 §10.12 (CSRF): a consent POST without a valid CSRF token gives 403 and issues no code', async () => {
    const jar = new CookieJar();
    const consentUrl = await toConsent(jar);
    const html = await (await fetchWithJar(jar, consentUrl)).text();
    const interaction = hiddenField(html, 'interaction');
    const missing = await postPage(jar, new URL('/consent', lk.issuer), { interaction, decision: 'approve' });
    expect(missing.status).toBe(403);
    expect(missing.headers.get('location')).toBeNull();
    const wrong = await postPage(jar, new URL('/consent', lk.issuer), { _csrf: 'forged', interaction, decision: 'approve' });
    expect(wrong.status).toBe(403);
  });

  it('G5 OAuth 2.1 §2.4.1 (no account enumeration): a wrong password and an unknown user give the same status and message', async () => {
    const attempt = async (username: string, password: string) => {
      const jar = new CookieJar();
      const html = await (await fetchWithJar(jar, new URL('/login', lk.issuer))).text();
      const res = await postPage(jar, new URL('/login', lk.issuer), { _csrf: hiddenField(html, '_csrf'), username, password });
      const body = await res.text();
      return { status: res.status, alert: /<div class="alert"[^>]*>([^<]*)</.exec(body)?.[1], cookie: sessionCookieLine(res) };
    };
    const wrongPassword = await attempt(ALICE.username, 'not the password');
    const unknownUser = await attempt('mallory', 'not the password');
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(wrongPassword.status);
    expect(wrongPassword.alert).toBeTruthy();
    expect(unknownUser.alert).toBe(wrongPassword.alert);
    expect(wrongPassword.cookie).toBeUndefined();
    expect(unknownUser.cookie).toBeUndefined();
  });

  it('T6 RFC 9700 §4.14.2 (sessions): POST /logout ends the session', async () => {
    const jar = new CookieJar();
    await signIn(lk, jar);
    const cookie = jar.get(SESSION)!;
    const accountHtml = await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text();
    expect(accountHtml).toContain('Applications with access');
    const res = await postPage(jar, new URL('/logout', lk.issuer), { _csrf: hiddenField(accountHtml, '_csrf') });
    expect(res.status).toBe(200);
    expect(jar.get(SESSION)).toBeUndefined();
    // The old cookie value is dead on the server, not only dropped by the browser.
    const replay = await fetch(new URL('/account', lk.issuer), { headers: { cookie: `${SESSION}=${cookie}` } });
    expect(await replay.text()).not.toContain('Applications with access');
    expectRedirectError(lk, await get(authorizeUrl(lk, validParams(client, { prompt: 'none' })), jar), APP, 'login_required', 'st-123');
  });

  it('RFC 6749 §10.12 (CSRF): POST /logout without a CSRF token is refused and the session survives', async () => {
    const jar = new CookieJar();
    await signIn(lk, jar);
    const res = await postPage(jar, new URL('/logout', lk.issuer), {});
    expect(res.status).toBe(403);
    expect(await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text()).toContain('Applications with access');
  });

  it('T6 RFC 9700 §4.14.2: /account lists the client after consent; revoking there makes its refresh token fail', async () => {
    const app = await lk.createClient({ redirectUris: [APP], name: 'Revocable App' });
    const jar = new CookieJar();
    const { access, refresh: token } = await tokensFor(lk, app, { jar });
    const html = await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text();
    expect(html).toContain('Revocable App');
    const forms = html.split('<form method="post" action="/account/revoke">');
    const form = forms.find((f) => f.includes(`value="${app.clientId}"`));
    expect(form).toBeDefined();
    const res = await postPage(jar, new URL('/account/revoke', lk.issuer), { _csrf: hiddenField(html, '_csrf'), client_id: app.clientId });
    expect(res.status).toBe(303);
    const after = await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text();
    expect(after).not.toContain('Revocable App');
    expectOAuthError(await refresh(lk, app, token!), 400, 'invalid_grant');
    expect((await introspect(lk, app, access)).body).toEqual({ active: false });
    // Consent is gone too: the next request asks again.
    const again = await get(authorizeUrl(lk, validParams(app)), jar);
    expect(location(again, lk.issuer).pathname).toBe('/consent');
  });

  it('RFC 6749 §10.12: a login or consent with an unknown interaction gives a page, not a redirect', async () => {
    const jar = new CookieJar();
    const page = await fetchWithJar(jar, new URL('/login?interaction=unknown', lk.issuer));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expectPageHeaders(page);
    const consent = await fetchWithJar(jar, new URL('/consent?interaction=unknown', lk.issuer));
    expect(consent.status).toBe(400);
    expect(consent.headers.get('location')).toBeNull();
  });
});

describe('login timing with the real argon2id hasher', () => {
  let lk: TestLatchkey;

  beforeAll(async () => {
    // Guessing delays (core/throttle.ts) would swamp the hash time being measured: lift them here.
    const lifted = { freeAttemptsPerAccount: 1000, lockAfterPerAccount: 1000, freeAttemptsPerIp: 1000, lockAfterPerIp: 1000 };
    lk = await startLatchkey({ passwords: argon2Hasher, settings: { throttle: { login: lifted } } });
    await lk.createUser(ALICE.username, ALICE.password);
  });
  afterAll(async () => lk?.close());

  it('G5 OAuth 2.1 §2.4.1 (no account enumeration): an unknown user and a wrong password take similar time (medians within 3x)', async () => {
    const jar = new CookieJar();
    const html = await (await fetchWithJar(jar, new URL('/login', lk.issuer))).text();
    const csrf = hiddenField(html, '_csrf');
    const time = async (username: string) => {
      const started = performance.now();
      const res = await postPage(jar, new URL('/login', lk.issuer), { _csrf: csrf, username, password: 'not the password' });
      await res.text();
      expect(res.status).toBe(401);
      return performance.now() - started;
    };
    await time(ALICE.username);
    await time('mallory');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(ALICE.username));
      unknown.push(await time('mallory'));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [k, u] = [median(known), median(unknown)];
    console.log(`login timing: wrong password median ${k.toFixed(1)} ms, unknown user median ${u.toFixed(1)} ms`);
    // The hash must really run for an unknown user (argon2id m=19 MiB takes milliseconds, not microseconds).
    expect(u).toBeGreaterThan(3);
    expect(Math.max(k, u) / Math.min(k, u)).toBeLessThan(3);
  }, 180_000);
});
