import { decodeProtectedHeader } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, launchBrowser } from '../helpers/browser.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { startClientApp, type ClientApp } from './client-app.js';

/**
 * The whole authorization code flow in real Chromium: a client app sends the browser to
 * Latchkey, the user signs in and allows (or denies) on Latchkey's own pages, and the browser
 * lands back on the app. Screenshots of every page go to test-artifacts/browser/.
 */

const user = { username: 'alice', password: 'correct horse battery' };

interface Watched {
  page: Page;
  /** Console errors, uncaught page errors (a CSP violation shows up here) and HTTP errors. */
  problems: string[];
  /** Every URL the browser requested. */
  requests: string[];
}

async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const watched: Watched = { page, problems: [], requests: [] };
  page.on('console', (message) => {
    // Failed loads are reported with their URL by the response listener below.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) watched.problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    // Chromium asks every origin for /favicon.ico; neither server has one.
    if (response.status() >= 400 && url.pathname !== '/favicon.ico') watched.problems.push(`HTTP ${response.status()} ${response.request().method()} ${url.pathname}`);
  });
  page.on('pageerror', (error) => watched.problems.push(`pageerror: ${error.message}`));
  page.on('request', (request) => watched.requests.push(request.url()));
  return watched;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: artifactPath('browser', `${name}.png`), fullPage: true });
}

/** What has keyboard focus, as `tag#id "text"`. */
async function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? '').trim()}"`;
  });
}

/** Presses Tab until the focused element matches; fails with the focus order seen if it never does. */
async function tabTo(page: Page, matches: (description: string) => boolean, limit = 20): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i <= limit; i++) {
    const now = await focused(page);
    if (matches(now)) return;
    seen.push(now);
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached the element; focus went: ${seen.join(' → ')}`);
}

// A real browser on a busy two-core machine: give each scenario more room than the 30 s default.
describe('login and consent in real Chromium', { timeout: 60_000 }, () => {
  let lk: TestLatchkey;
  let browser: Browser;
  const opened: Array<BrowserContext | ClientApp> = [];

  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(user.username, user.password);
    browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const item of opened.splice(0)) await item.close();
  });
  afterAll(async () => {
    await browser?.close();
    await lk?.close();
  });

  /** A fresh client registration and a fresh browser profile (no cookies) per scenario. */
  async function scenario(name: string): Promise<{ app: ClientApp; watched: Watched }> {
    const app = await startClientApp(lk, { name });
    const context = await browser.newContext();
    opened.push(app, context);
    return { app, watched: await watchedPage(context) };
  }

  function expectOnlyLoopbackTraffic(watched: Watched): void {
    const foreign = watched.requests.filter((u) => new URL(u).hostname !== '127.0.0.1');
    expect(foreign, 'requests that left 127.0.0.1').toEqual([]);
  }

  it('RFC 6749 §4.1: sign in with labelled fields, Allow on the consent page, land on the app signed in', async () => {
    const { app, watched } = await scenario('Notes App');
    const { page } = watched;

    await page.goto(`${app.url}/start`);
    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/login');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByText('to continue to Notes App').count()).toBe(1);
    await shot(page, '1-login');

    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/consent');
    await page.getByRole('heading', { name: 'Notes App wants to access your account' }).waitFor();
    const consentText = await page.locator('main').innerText();
    expect(consentText).toContain('notes:read');
    expect(consentText).toContain('See your username'); // the plain-words description of profile
    await shot(page, '2-consent');

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    expect(await page.locator('#scope').innerText()).toBe('notes:read profile');
    await shot(page, '3-callback-signed-in');

    // M1 RFC 9207 §2: the browser arrived with code, state and iss; the app checked them and got tokens.
    const landed = new URL(page.url());
    expect(landed.searchParams.get('iss')).toBe(lk.issuer);
    expect(landed.searchParams.get('code')).toEqual(expect.any(String));
    expect(app.tokens).toHaveLength(1);
    expect(decodeProtectedHeader(String(app.tokens[0]!.access_token)).typ).toBe('at+jwt');

    expect(watched.problems).toEqual([]);
    expectOnlyLoopbackTraffic(watched);
  });

  it('RFC 6749 §4.1.2.1: Deny on the consent page lands on the app with error=access_denied (and iss, M1 RFC 9207 §2)', async () => {
    const { app, watched } = await scenario('Deny App');
    const { page } = watched;

    await page.goto(`${app.url}/start`);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/consent');
    await page.getByRole('button', { name: 'Deny' }).click();

    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('iss')).toBe(lk.issuer);
    expect(landed.searchParams.has('code')).toBe(false);
    await page.getByRole('heading', { name: 'Not signed in' }).waitFor();
    expect(await page.locator('#error').innerText()).toBe('error=access_denied');
    await shot(page, '4-callback-denied');

    expect(app.tokens).toEqual([]);
    expect(watched.problems).toEqual([]);
    expectOnlyLoopbackTraffic(watched);
  });

  it('back after Allow shows the request as expired (no second code); the next sign-in returns straight to the app; cookies are HttpOnly and SameSite=Lax', async () => {
    const { app, watched } = await scenario('Return App');
    const { page } = watched;

    await page.goto(`${app.url}/start`);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    expect(app.tokens).toHaveLength(1);

    // Latchkey's session and CSRF cookies are out of reach of scripts and of cross-site POSTs.
    const cookies = await page.context().cookies(lk.issuer);
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect({ name: cookie.name, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite }).toEqual({ name: cookie.name, httpOnly: true, sameSite: 'Lax' });

    // C3 RFC 6749 §4.1.2: the interaction was used up; Back cannot approve it again.
    await page.goBack();
    expect(new URL(page.url()).pathname).toBe('/consent');
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(0);
    await shot(page, '8-consent-after-back');
    const pageProblems = watched.problems.splice(0);
    expect(pageProblems.every((p) => p.endsWith(' GET /consent')), pageProblems.join('\n')).toBe(true);

    // Signed in and consent remembered: the next authorization goes straight back with a code.
    await page.goto(`${app.url}/start`);
    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    expect(app.tokens).toHaveLength(2);
    expect(watched.problems).toEqual([]);
    expectOnlyLoopbackTraffic(watched);
  });

  it('keyboard only: Tab to the fields, Enter to sign in (after a wrong password), Tab to Allow and Enter', async () => {
    const { app, watched } = await scenario('Keyboard App');
    const { page } = watched;

    await page.goto(`${app.url}/start`);
    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/login');

    // A wrong password first: the page says so, and the keyboard user can go again.
    await tabTo(page, (d) => d.startsWith('input#username'));
    await page.keyboard.type(user.username);
    await tabTo(page, (d) => d.startsWith('input#password'));
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor();
    await shot(page, '5-login-wrong-password');
    expect(watched.problems.splice(0)).toEqual(['HTTP 401 POST /login']);
    expect(await page.getByLabel('Username').inputValue()).toBe(user.username);
    expect(await page.getByLabel('Username').getAttribute('aria-describedby')).toBe('login-error');

    await tabTo(page, (d) => d.startsWith('input#password'));
    await page.keyboard.type(user.password);
    await page.keyboard.press('Enter');

    await page.waitForURL((url) => url.origin === lk.issuer && url.pathname === '/consent');
    await tabTo(page, (d) => d === 'button "Allow"');
    await shot(page, '6-consent-keyboard-focus-on-allow');
    await page.keyboard.press('Enter');

    await page.waitForURL((url) => url.href.startsWith(app.redirectUri));
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    await shot(page, '7-callback-keyboard');
    expect(app.tokens).toHaveLength(1);
    expect(watched.problems).toEqual([]);
    expectOnlyLoopbackTraffic(watched);
  });
});
