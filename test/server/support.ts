/**
 * Small helpers shared by the HTTP conformance tests in this folder: building authorization
 * URLs, walking login and consent, and calling the back-channel endpoints over real HTTP.
 */
import { expect } from 'vitest';
import { CookieJar, authorizeOverHttp, fetchWithJar, hiddenField, type TestLatchkey } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';

export const APP = 'https://app.example/cb';
export const ALICE = { username: 'alice', password: 'correct horse battery' };
export const BOB = { username: 'bob', password: 'staple battery horse' };

/** What the helpers need of a running server: where it is. */
export type Server = Pick<TestLatchkey, 'issuer'>;

export interface Client {
  clientId: string;
  clientSecret?: string;
}

/** GET without following redirects. */
export function get(url: string | URL, jar?: CookieJar): Promise<Response> {
  return jar ? fetchWithJar(jar, url) : fetch(url, { redirect: 'manual' });
}

export function authorizeUrl(lk: Server, params: Record<string, string> | Array<[string, string]>): URL {
  const url = new URL('/authorize', lk.issuer);
  url.search = new URLSearchParams(params).toString();
  return url;
}

/** A complete, valid authorization request for `client`, with overrides (undefined drops a parameter). */
export function validParams(client: Client, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: APP,
    scope: 'notes:read',
    state: 'st-123',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

export function basic(client: Client): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}`;
}

export function location(response: Response, base: string): URL {
  const value = response.headers.get('location');
  expect(value, `status ${response.status} without Location`).not.toBeNull();
  return new URL(value!, base);
}

/** R7 RFC 6749 §4.1.2.1: an error shown on the server's page, never redirected. */
export async function expectErrorPage(response: Response, status = 400): Promise<string> {
  const body = await response.text();
  expect(response.status, body.slice(0, 300)).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  expectPageHeaders(response);
  return body;
}

/** X1 RFC 9700 §4.16, X3 §4.2.4: no framing, no referrer. */
export function expectPageHeaders(response: Response): void {
  expect(response.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
}

/** An authorization error response at the client (RFC 6749 §4.1.2.1), with iss (M1 RFC 9207 §2). */
export function expectRedirectError(lk: Server, response: Response, redirectUri: string, error: string, state: string | null): URL {
  expect(response.status).toBe(303);
  const target = location(response, lk.issuer);
  expect(target.origin + target.pathname).toBe(redirectUri);
  expect(target.searchParams.get('error')).toBe(error);
  expect(target.searchParams.get('code')).toBeNull();
  expect(target.searchParams.get('iss')).toBe(lk.issuer);
  expect(target.searchParams.get('state')).toBe(state);
  return target;
}

/** Signs in at /login without an authorization request; the jar then holds the session cookie. */
export async function signIn(lk: Server, jar: CookieJar, user = ALICE): Promise<Response> {
  const page = await fetchWithJar(jar, new URL('/login', lk.issuer));
  const html = await page.text();
  return fetchWithJar(jar, new URL('/login', lk.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), username: user.username, password: user.password }),
  });
}

/** Runs the front channel to a code. */
export async function obtainCode(
  lk: Server,
  client: Client,
  options: { user?: typeof ALICE; scope?: string; redirectUri?: string; jar?: CookieJar; omitRedirectUri?: boolean; resource?: string } = {},
): Promise<{ code: string; verifier: string; redirectUri: string }> {
  const { verifier, challenge } = pkcePair();
  const redirectUri = options.redirectUri ?? APP;
  const params = validParams(client, {
    redirect_uri: options.omitRedirectUri ? undefined : redirectUri,
    scope: options.scope ?? 'notes:read',
    code_challenge: challenge,
    resource: options.resource,
  });
  const callback = await authorizeOverHttp(authorizeUrl(lk, params), options.user ?? ALICE, { jar: options.jar ?? new CookieJar() });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { code, verifier, redirectUri };
}

export interface TokenCall {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POST a form to a back-channel endpoint; client credentials by Basic (default for confidential), post or none. */
export async function postForm(
  lk: Server,
  path: string,
  form: Record<string, string>,
  client?: Client,
  method: 'basic' | 'post' | 'none' = client?.clientSecret ? 'basic' : 'none',
): Promise<TokenCall> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (client) {
    if (method === 'basic') headers.authorization = basic(client);
    else {
      body.set('client_id', client.clientId);
      if (method === 'post') body.set('client_secret', client.clientSecret ?? '');
    }
  }
  const response = await fetch(new URL(path, lk.issuer), { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export function redeem(lk: Server, client: Client, grant: { code: string; verifier: string; redirectUri: string }, method?: 'basic' | 'post' | 'none') {
  return postForm(lk, '/token', { grant_type: 'authorization_code', code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.verifier }, client, method);
}

export function refresh(lk: Server, client: Client, refreshToken: string, extra: Record<string, string> = {}) {
  return postForm(lk, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, client);
}

export function introspect(lk: Server, client: Client, token: string, extra: Record<string, string> = {}) {
  return postForm(lk, '/introspect', { token, ...extra }, client);
}

/** A full flow to tokens; the result is asserted to be a 200. */
export async function tokensFor(lk: Server, client: Client, options: Parameters<typeof obtainCode>[2] = {}): Promise<{ access: string; refresh: string | undefined; body: Record<string, unknown> }> {
  const grant = await obtainCode(lk, client, options);
  const res = await redeem(lk, client, grant);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { access: String(res.body.access_token), refresh: res.body.refresh_token as string | undefined, body: res.body };
}

/** The OAuth error shape of RFC 6749 §5.2, with X5 Cache-Control: no-store. */
export function expectOAuthError(res: TokenCall, status: number, error: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error).toBe(error);
  expect(res.headers.get('cache-control')).toBe('no-store');
}
