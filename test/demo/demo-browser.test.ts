/**
 * The demo in real Chromium, as a newcomer walks it: from the demo app, through Latchkey's login
 * and consent pages, back to the app with notes loaded from the demo API, then the "what just
 * happened" page, then sign-out. The demo runs as `npm start` runs it (node demo/start.js on the
 * built package, here built into a temporary copy), on free ports and a temporary database. Screenshots of every page go to
 * test-artifacts/demo/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, launchBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/processes.js';

const repo = resolve(import.meta.dirname, '../..');
const JWT = /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/;

let demo: ChildProcess;
let output = '';
let dir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const urls = { app: '', as: '', api: '' };
let password = '';
const problems: string[] = [];
const requested: string[] = [];

async function shot(name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: artifactPath('demo', `${name}.png`), fullPage: options.fullPage ?? true });
}

/**
 * WCAG 2.2 SC 1.4.3: every visible text element's colour against its effective background has a
 * contrast ratio of at least 4.5:1 (3:1 for large text). Returns the failures.
 */
async function contrastFailures(target: Page): Promise<string[]> {
  return target.evaluate(() => {
    const parse = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const [r, g, b, a] = parse(getComputedStyle(e).backgroundColor);
        if (a === undefined || a > 0.5) return [r ?? 255, g ?? 255, b ?? 255];
      }
      return [255, 255, 255];
    };
    const failures: string[] = [];
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      if (el.closest('svg') || !(el instanceof HTMLElement)) continue;
      const ownText = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '');
      if (!ownText || el.offsetParent === null || el.closest('.skip-link, .skip, .visually-hidden')) continue;
      const style = getComputedStyle(el);
      const [l1, l2] = [luminance(parse(style.color)), luminance(background(el))].sort((a, b) => b - a) as [number, number];
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) failures.push(`${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? '').trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
    }
    return failures;
  });
}

/** What has keyboard focus, as `tag#id "text"`. */
async function focused(): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? '').trim()}"`;
  });
}

async function tabTo(matches: (description: string) => boolean, limit = 25): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i <= limit; i++) {
    const now = await focused();
    if (matches(now)) return;
    seen.push(now);
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached the element; focus went: ${seen.join(' → ')}`);
}

beforeAll(async () => {
  // The demo imports the package by its own name, so it runs on a build: compile this tree's
  // src/ into a private copy (package.json + demo/ + dist/), never into the shared dist/.
  dir = mkdtempSync(join(tmpdir(), 'latchkey-demo-browser-'));
  mkdirSync(join(dir, 'demo'));
  copyFileSync(join(repo, 'package.json'), join(dir, 'package.json'));
  for (const file of readdirSync(join(repo, 'demo'))) if (file.endsWith('.js')) copyFileSync(join(repo, 'demo', file), join(dir, 'demo', file));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const build = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: repo, encoding: 'utf8' });
  if (!existsSync(join(dir, 'dist/server/index.js'))) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`);
  const [as, app, api] = [await freePort(), await freePort(), await freePort()];
  urls.as = `http://localhost:${as}`;
  urls.app = `http://localhost:${app}`;
  urls.api = `http://localhost:${api}`;
  demo = spawn(process.execPath, ['demo/start.js'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', LATCHKEY_PORT: String(as), DEMO_APP_PORT: String(app), DEMO_API_PORT: String(api), LATCHKEY_DATABASE: join(dir, 'demo.db') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`the demo did not start:\n${output}`)), 30_000);
    demo.stdout!.on('data', () => {
      const match = /Sign in as\s+demo \/ (\S+)/.exec(output);
      if (match) {
        password = match[1]!;
        clearTimeout(timer);
        ready();
      }
    });
    demo.once('exit', (code) => fail(new Error(`the demo exited with ${code}:\n${output}`)));
  });

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('request', (request) => requested.push(request.url()));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((done) => demo.once('exit', done));
    demo.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the demo in Chromium (issue 6)', () => {
  it('RFC 6749 §4.1 A–C: from the demo app, sign in and allow on Latchkey’s own pages (keyboard only), and land back signed in', async () => {
    await page.goto(urls.app);
    await page.getByRole('heading', { name: 'Your notes, behind a real sign-in' }).waitFor();
    expect(await contrastFailures(page)).toEqual([]);
    await shot('1-app-start');

    await page.getByRole('link', { name: 'Sign in with Latchkey' }).click();
    await page.waitForURL((url) => url.origin === urls.as && url.pathname === '/login');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByText('to continue to Latchkey Notes').count()).toBe(1);
    expect(await contrastFailures(page)).toEqual([]);
    await shot('2-login');

    // Keyboard only: the skip link comes first, then the labelled fields, then the button.
    await page.keyboard.press('Shift+Tab');
    await tabTo((d) => d.startsWith('a') && d.includes('Skip to main content'));
    await tabTo((d) => d.startsWith('input#username'));
    await page.keyboard.type('demo');
    await tabTo((d) => d.startsWith('input#password'));
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');

    await page.waitForURL((url) => url.origin === urls.as && url.pathname === '/consent');
    await page.getByRole('heading', { name: 'Latchkey Notes wants to access your account' }).waitFor();
    const consent = await page.locator('main').innerText();
    // The scopes in plain words, and the API the token is for (RFC 8707).
    expect(consent).toContain('Read your notes');
    expect(consent).toContain('Create new notes for you');
    expect(consent).toContain('See your username');
    expect(consent).toContain(urls.api);
    expect(await contrastFailures(page)).toEqual([]);
    await tabTo((d) => d === 'button "Allow"');
    await shot('3-consent');
    await page.keyboard.press('Enter');

    await page.waitForURL((url) => url.origin === urls.app && url.pathname === '/');
    await page.getByRole('heading', { name: 'Hello, demo' }).waitFor();
    expect(await contrastFailures(page)).toEqual([]);
  });

  it('RFC 6750 §2.1 F–G: the app shows data from the demo API, fetched server-side; the browser never holds a token', async () => {
    const main = await page.locator('main').innerText();
    expect(main).toContain('This note came from the demo API');
    expect(main).toContain('notes:read');
    expect(await page.content()).not.toMatch(JWT);
    // The browser's cookies: opaque session ids only, all HttpOnly.
    const cookies = await context.cookies();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.value).not.toMatch(JWT);
      expect(cookie.httpOnly, cookie.name).toBe(true);
    }

    // Writing goes through the app too (notes:write), by keyboard.
    await page.getByLabel('New note').focus();
    await page.keyboard.type('Written through the BFF');
    await page.keyboard.press('Enter');
    await page.getByText('Written through the BFF').waitFor();
    await shot('4-app-signed-in');
  });

  it('"what just happened": every step A–G with its RFC section, a server-drawn sequence diagram, secrets redacted', async () => {
    await page.getByRole('link', { name: 'What just happened', exact: true }).click();
    await page.waitForURL(`${urls.app}/flow`);
    await page.getByRole('heading', { name: 'What just happened' }).waitFor();
    const text = await page.locator('main').innerText();
    for (const title of ['Authorization request', 'You sign in and decide', 'Authorization response', 'Access token request', 'Access token response', 'Protected resource request', 'Protected resource response']) {
      expect(text).toContain(title);
    }
    for (const section of ['RFC 6749 §4.1.1', 'RFC 7636 §4.3', 'RFC 6749 §4.1.2', 'RFC 9207 §2', 'RFC 6749 §4.1.3', 'RFC 7636 §4.5', 'RFC 6749 §4.1.4', 'RFC 9068 §2', 'RFC 6750 §2.1']) {
      expect(text).toContain(section);
    }
    // The real messages: the authorization request's parameters, the token request's body.
    expect(text).toContain('code_challenge_method=S256');
    expect(text).toContain('grant_type=authorization_code');
    expect(text).toContain('"token_type": "Bearer"');
    expect(text).toContain(`"aud": "${urls.api}"`);
    // Redacted: no token, code, verifier or password in the page.
    const html = await page.content();
    expect(html).not.toMatch(JWT);
    expect(html).not.toContain(password);
    expect(html).toMatch(/code_verifier=[\w-]{6}…/);
    expect(html).toMatch(/"access_token": "eyJ[\w-]{3}…"/);
    expect(html).toMatch(/code=[\w-]{6}…/);
    // The diagram is inline SVG drawn by the app; no scripts anywhere.
    const svg = page.locator('svg.sequence');
    expect(await svg.count()).toBe(1);
    expect(await svg.locator('g.msg').count()).toBeGreaterThanOrEqual(14);
    expect(await page.locator('script').count()).toBe(0);
    expect(await contrastFailures(page)).toEqual([]);
    await shot('5-what-just-happened');
    await shot('5-what-just-happened-top', { fullPage: false });
    await page.locator('.diagram').screenshot({ path: artifactPath('demo', '5a-sequence-diagram.png') });
    await page.locator('#step-D').screenshot({ path: artifactPath('demo', '5b-step-D.png') });
    await page.locator('#step-E').screenshot({ path: artifactPath('demo', '5c-step-E.png') });
  });

  it('RFC 7009 §2.1: sign out ends the session and revokes the tokens', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${urls.app}/`);
    await page.getByRole('link', { name: 'Sign in with Latchkey' }).waitFor();
    await shot('6-signed-out');
    // The recording shows the revocation request and the server's 200.
    await page.goto(`${urls.app}/flow`);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Token revocation');
    expect(text).toMatch(/POST \/revoke HTTP\/1\.1[\s\S]*token_type_hint=refresh_token[\s\S]*HTTP\/1\.1 200/);
  });

  it('signing in again while signed in at the server skips login and consent (A answered by C), and the replay says so', async () => {
    await page.goto(urls.app);
    await page.getByRole('link', { name: 'Sign in with Latchkey' }).click();
    await page.getByRole('heading', { name: 'Hello, demo' }).waitFor();
    await page.goto(`${urls.app}/flow`);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Skipped this time');
    expect(text).toContain('Access token response');
  });

  it('R7 RFC 6749 §4.1.2.1: a redirect_uri with a trailing slash gets an error page that says what was compared with what', async () => {
    const authorize = new URL('/authorize', urls.as);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: 'latchkey-demo-app',
      redirect_uri: `${urls.app}/callback/`,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 'x',
    }).toString();
    const response = await page.goto(authorize.href);
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(urls.as);
    const text = await page.locator('main').innerText();
    expect(text).toContain(`${urls.app}/callback`);
    expect(text).toContain(`${urls.app}/callback/`);
    expect(text).toContain('differs by a trailing slash');
    expect(await contrastFailures(page)).toEqual([]);
    await shot('7-error-redirect-uri');
  });

  it('the account page lists the demo app with its scopes in plain words, and the pages fit a phone screen', async () => {
    await page.goto(`${urls.as}/account`);
    await page.getByRole('heading', { name: 'Applications with access' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('Latchkey Notes');
    expect(text).toContain('Read your notes');
    expect(await contrastFailures(page)).toEqual([]);
    await shot('8-account');

    await page.setViewportSize({ width: 390, height: 844 });
    // Nothing wider than the screen: no sideways scrolling on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('9-account-phone');
    await page.goto(urls.app);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // The replay too: the diagram scrolls inside its own (focusable) box, the page does not.
    await page.goto(`${urls.app}/flow`);
    await page.locator('svg.sequence').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('9a-what-just-happened-phone', { fullPage: false });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('RFC 6749 §4.1.2.1: after consent is withdrawn on the account page, Deny on the consent page brings the user back to a page that says no token was issued', async () => {
    // Withdraw the earlier consent on the account page, so the server asks again.
    await page.goto(`${urls.as}/account`);
    await page.getByRole('button', { name: 'Revoke access for Latchkey Notes' }).click();
    await page.getByText('You have not given any application access').waitFor();
    const fresh = await browser.newContext();
    try {
      const other = await fresh.newPage();
      await other.goto(`${urls.app}/login`);
      await other.getByLabel('Username').fill('demo');
      await other.getByLabel('Password').fill(password);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('button', { name: 'Deny' }).click();
      await other.waitForURL((url) => url.origin === urls.app && url.pathname === '/callback');
      await other.getByRole('heading', { name: 'You chose not to allow access' }).waitFor();
      expect(await other.locator('main').innerText()).toContain('error=access_denied');
      expect(await other.getByRole('link', { name: 'Sign in again' }).count()).toBe(1);
      await other.screenshot({ path: artifactPath('demo', '6a-denied.png'), fullPage: true });
      expect(await contrastFailures(other)).toEqual([]);
      // The replay shows the flow up to C and why it stopped there.
      await other.goto(`${urls.app}/flow`);
      const replay = await other.locator('main').innerText();
      expect(replay).toContain('This sign-in stopped at step C');
      expect(replay).toContain('error=access_denied');
      expect(replay).toContain('POST /consent');
      expect(await other.locator('#step-C').count()).toBe(1);
      expect(await other.locator('#step-D').count()).toBe(0);
      expect(replay).not.toContain('Access token request');
    } finally {
      await fresh.close();
    }
  });

  it('a visit to 127.0.0.1 is sent to localhost, where the registered redirect URI points', async () => {
    const response = await fetch(`${urls.app.replace('localhost', '127.0.0.1')}/flow`, { redirect: 'manual' });
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe(`${urls.app}/flow`);
  });

  it('the app refuses a POST from another origin (CSRF), even from another port on localhost', async () => {
    const attempts: Array<Record<string, string>> = [{ 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'cross-site' }, { origin: urls.as }];
    for (const headers of attempts) {
      const response = await fetch(`${urls.app}/notes`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'text=x', redirect: 'manual' });
      expect(response.status, JSON.stringify(headers)).toBe(403);
    }
  });

  it('nothing but the three local servers was contacted, and no page logged an error (CSP included)', () => {
    const foreign = requested.filter((u) => !['localhost', '127.0.0.1'].includes(new URL(u).hostname));
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });
});
