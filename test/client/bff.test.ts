/**
 * The backend-for-frontend adapters (Fastify plugin, Express middleware) through a full sign-in
 * at oidc-provider, driven by a recording browser: every response the browser received is
 * inspected, and no access or refresh token is in any of them.
 */
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendForFrontend, latchkeyExpress, latchkeyFastify, MemorySessionStore, OAuthClient } from '../../src/client/index.js';
import { authorizeAtOidcProvider, TestBrowser, type RecordedResponse } from './helpers/browser.js';
import { startLateServer } from './helpers/late-server.js';
import { startOidcProvider, type TestProvider } from './helpers/oidc-provider.js';
import { oidcClient } from './helpers/setup.js';

type Framework = 'fastify' | 'express';

interface Harness {
  appUrl: string;
  op: TestProvider;
  store: MemorySessionStore;
  client: OAuthClient;
  close(): Promise<void>;
}

async function startApp(framework: Framework): Promise<Harness> {
  const app = await startLateServer();
  const op = await startOidcProvider([`${app.url}/auth/callback`]);
  const store = new MemorySessionStore();
  const client = oidcClient(op.issuer, `${app.url}/auth/callback`, 'client_secret_basic', { store });
  const userinfo = `${op.issuer}/me`;
  let close: () => Promise<void>;
  if (framework === 'fastify') {
    const fastify = Fastify();
    await fastify.register(latchkeyFastify, { client });
    fastify.get('/me', async (request) => ({ user: request.latchkey.user ?? null }));
    fastify.get('/profile', async (request, reply) => {
      const response = await request.latchkey.fetch(userinfo);
      return reply.code(response.status).send(await response.json());
    });
    await fastify.ready();
    app.setHandler((req, res) => fastify.routing(req, res));
    close = () => fastify.close();
  } else {
    const expressApp = express();
    expressApp.use(latchkeyExpress({ client }));
    expressApp.get('/me', (req, res) => {
      res.json({ user: req.latchkey?.user ?? null });
    });
    expressApp.get('/profile', async (req, res) => {
      const response = await req.latchkey!.fetch(userinfo);
      res.status(response.status).json(await response.json());
    });
    app.setHandler(expressApp);
    close = async () => {};
  }
  return {
    appUrl: app.url,
    op,
    store,
    client,
    close: async () => {
      await close();
      await app.close();
      await op.close();
    },
  };
}

const header = (response: RecordedResponse, name: string) => response.headers.find(([k]) => k === name)?.[1];

describe.each<Framework>(['fastify', 'express'])('%s adapter', (framework) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startApp(framework);
  });
  afterAll(async () => {
    await h.close();
  });

  it('RFC 9700 §2.1 BFF: a full sign-in, API call and sign-out never show the browser an access or refresh token', async () => {
    const browser = new TestBrowser();
    expect(JSON.parse((await browser.request(`${h.appUrl}/me`)).body)).toEqual({ user: null });

    const login = await browser.request(`${h.appUrl}/login?returnTo=/me`);
    expect(login.status).toBe(303);
    expect(header(login, 'cache-control')).toBe('no-store');
    const loginCookie = login.setCookies[0]!;
    expect(loginCookie).toMatch(/^latchkey=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);

    const callback = await authorizeAtOidcProvider(browser, header(login, 'location')!, { username: 'alice' });
    expect(callback.origin).toBe(h.appUrl);
    // A HEAD (link preview, prefetch) does not consume the pending sign-in.
    expect((await browser.request(callback, { method: 'HEAD' })).status).toBe(404);
    const landed = await browser.request(callback);
    expect(landed.status).toBe(303);
    expect(header(landed, 'location')).toBe('/me');
    expect(header(landed, 'referrer-policy')).toBe('no-referrer');
    // Session fixation: the signed-in cookie is a new id.
    expect(landed.setCookies[0]!.split(';')[0]).not.toBe(loginCookie.split(';')[0]);

    expect(JSON.parse((await browser.request(`${h.appUrl}/me`)).body)).toMatchObject({ user: { sub: 'alice' } });
    const profile = await browser.request(`${h.appUrl}/profile`);
    expect(profile.status).toBe(200);
    expect(JSON.parse(profile.body)).toMatchObject({ sub: 'alice' });

    // What the server holds: the tokens, which must appear in no response to the browser.
    const tokens = h.store.entries().flatMap(([, session]) => (session.tokens ? [session.tokens.accessToken, session.tokens.refreshToken!] : []));
    expect(tokens).toHaveLength(2);
    const logout = await browser.request(`${h.appUrl}/logout`, { method: 'POST', form: {} });
    expect(logout.status).toBe(303);
    expect(logout.setCookies[0]).toMatch(/^latchkey=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
    expect(h.op.requests.some((r) => r.path === '/token/revocation')).toBe(true);
    expect(JSON.parse((await browser.request(`${h.appUrl}/me`)).body)).toEqual({ user: null });
    expect(h.store.size).toBe(0);

    const everything = browser.log.map((r) => JSON.stringify(r)).join('\n');
    expect(browser.log.length).toBeGreaterThan(8);
    for (const token of tokens) expect(everything).not.toContain(token);
  });

  it('RFC 6749 §10.12: a forged callback gets an error page (400, no-store, no-referrer) with the plain-words reason and no cookie change', async () => {
    const browser = new TestBrowser();
    const login = await browser.request(`${h.appUrl}/login`);
    const state = new URL(header(login, 'location')!).searchParams.get('state');
    const forged = await browser.request(`${h.appUrl}/auth/callback?code=stolen&state=${state}x&iss=${encodeURIComponent(h.op.issuer)}`);
    expect(forged.status).toBe(400);
    expect(header(forged, 'cache-control')).toBe('no-store');
    expect(header(forged, 'referrer-policy')).toBe('no-referrer');
    expect(forged.body).toContain('does not match the one this session sent');
    expect(forged.setCookies).toEqual([]);
  });

  it('RFC 6749 §4.1.2.1: a denied consent shows what happened in plain words', async () => {
    const browser = new TestBrowser();
    const login = await browser.request(`${h.appUrl}/login`);
    const callback = await authorizeAtOidcProvider(browser, header(login, 'location')!, { approve: false });
    const page = await browser.request(callback);
    expect(page.status).toBe(400);
    expect(page.body).toContain('The user declined the request');
  });

  it('sign-out is POST only (a cross-site link cannot sign the user out)', async () => {
    const response = await new TestBrowser().request(`${h.appUrl}/logout`);
    expect(response.status).toBe(405);
    expect(header(response, 'allow')).toBe('POST');
  });

  it('getAccessToken from a handler without a session fails with NotSignedInError', async () => {
    const response = await new TestBrowser().request(`${h.appUrl}/profile`);
    expect(response.status).toBe(500);
    expect(response.body).not.toContain('access_token');
  });
});

describe('session cookie on https', () => {
  it('RFC 6265bis §4.1.3.2: Secure and the __Host- prefix when the redirect URI is https', () => {
    const client = new OAuthClient({ issuer: 'https://as.example', clientId: 'app', redirectUri: 'https://app.example/callback', store: new MemorySessionStore() });
    const bff = new BackendForFrontend({ client });
    expect(bff.sessionCookie('x'.repeat(43))).toBe(`__Host-latchkey=${'x'.repeat(43)}; Path=/; HttpOnly; SameSite=Lax; Secure`);
    expect(bff.clearedCookie()).toMatch(/^__Host-latchkey=; Path=\/; Max-Age=0; .*Secure$/);
    expect(bff.sessionId(`other=1; __Host-latchkey=${'y'.repeat(43)}`)).toBe('y'.repeat(43));
    expect(bff.sessionId('__Host-latchkey=short')).toBeUndefined();
  });

  it('refuses a __Host- cookie name without https', () => {
    const client = new OAuthClient({ issuer: 'http://127.0.0.1:1', clientId: 'app', redirectUri: 'http://127.0.0.1:2/callback', store: new MemorySessionStore() });
    expect(() => new BackendForFrontend({ client, cookieName: '__Host-x' })).toThrow(TypeError);
  });
});
