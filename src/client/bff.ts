/**
 * The backend-for-frontend routes (/login, /callback, /logout) and the per-request context, in a
 * framework-neutral form: a plain request in, a plain response out. The Fastify plugin and the
 * Express middleware only translate to and from these shapes.
 *
 * The browser gets one cookie holding a random session id (256 bits): HttpOnly, SameSite=Lax,
 * Path=/, and on https Secure with the `__Host-` prefix (RFC 6265bis §4.1.3.2), so it is never
 * readable by scripts, never sent cross-site on POST, and cannot be set by a sibling domain.
 * No token ever appears in a response to the browser.
 */
import type { OAuthClient } from './client.js';
import { parseSessionId } from './client.js';
import { AuthorizationResponseError, CallbackValidationError } from './errors.js';
import type { SignedInUser } from './session-store.js';

export interface BffOptions {
  client: OAuthClient;
  /** Default '/login'. `?returnTo=/path` picks where to land after sign-in (local paths only). */
  loginPath?: string;
  /** Default '/logout' (POST only, so a cross-site link or image cannot sign the user out). */
  logoutPath?: string;
  /** Where to go after sign-out; default '/'. */
  afterLogoutPath?: string;
  /** Default '__Host-latchkey' when the redirect URI is https, 'latchkey' otherwise. */
  cookieName?: string;
  /** Called with every error of the callback and logout routes (for logging). */
  onError?: (error: unknown) => void;
}

export interface BffRequest {
  method: string;
  /** Path and query of the request (origin ignored). */
  url: string;
  /** The raw Cookie header. */
  cookie: string | undefined;
}

export interface BffResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a route handler gets: the signed-in user and a way to call an API as that user. */
export interface LatchkeyContext {
  /** The signed-in user, or undefined. */
  user: SignedInUser | undefined;
  /** A fresh access token; throws NotSignedInError when there is no usable sign-in. */
  getAccessToken(): Promise<string>;
  /** fetch() with the user's access token as a Bearer token. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
}

/** Reads one cookie from a Cookie header (RFC 6265 §5.4 syntax); the first one wins. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** Headers on every response of these routes: nothing cached, and the callback URL (with its code) never leaks as a Referer (checklist X3, X5). */
const BASE_HEADERS = { 'cache-control': 'no-store', pragma: 'no-cache', 'referrer-policy': 'no-referrer' };

export class BackendForFrontend {
  readonly client: OAuthClient;
  readonly loginPath: string;
  readonly callbackPath: string;
  readonly logoutPath: string;
  readonly afterLogoutPath: string;
  readonly cookieName: string;
  readonly secure: boolean;
  readonly #onError: (error: unknown) => void;

  constructor(options: BffOptions) {
    this.client = options.client;
    const redirect = new URL(options.client.redirectUri);
    this.secure = redirect.protocol === 'https:';
    this.loginPath = options.loginPath ?? '/login';
    // The callback route is wherever the registered redirect URI points.
    this.callbackPath = redirect.pathname;
    this.logoutPath = options.logoutPath ?? '/logout';
    this.afterLogoutPath = options.afterLogoutPath ?? '/';
    this.cookieName = options.cookieName ?? (this.secure ? '__Host-latchkey' : 'latchkey');
    if (this.cookieName.startsWith('__Host-') && !this.secure) {
      throw new TypeError('A __Host- cookie needs https (RFC 6265bis §4.1.3.2); use an https redirectUri or another cookieName.');
    }
    this.#onError = options.onError ?? (() => {});
  }

  /** The session id from a Cookie header, if it has the right shape. */
  sessionId(cookieHeader: string | undefined): string | undefined {
    return parseSessionId(readCookie(cookieHeader, this.cookieName));
  }

  /** Set-Cookie for a session id; no Max-Age, so the server-side session decides the lifetime. */
  sessionCookie(sessionId: string): string {
    return `${this.cookieName}=${sessionId}; Path=/; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  clearedCookie(): string {
    return `${this.cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${this.secure ? '; Secure' : ''}`;
  }

  /** Answers a request for one of the three routes, or returns undefined for any other request. */
  async handle(request: BffRequest): Promise<BffResponse | undefined> {
    const url = new URL(request.url, 'http://localhost');
    const path = url.pathname;
    if (path === this.loginPath && (request.method === 'GET' || request.method === 'HEAD')) return this.login(request, url);
    // GET only: a HEAD (a link preview, a prefetch) must not consume the pending sign-in.
    if (path === this.callbackPath && request.method === 'GET') return this.callback(request, url);
    if (path === this.logoutPath) {
      if (request.method !== 'POST') return { status: 405, headers: { ...BASE_HEADERS, allow: 'POST', 'content-type': 'text/plain; charset=utf-8' }, body: 'Sign out with POST.\n' };
      return this.logout(request);
    }
    return undefined;
  }

  async login(request: BffRequest, url: URL): Promise<BffResponse> {
    const current = this.sessionId(request.cookie);
    const { sessionId, url: target } = await this.client.startAuthorization(current, { returnTo: url.searchParams.get('returnTo') ?? undefined });
    const headers: Record<string, string> = { ...BASE_HEADERS, location: target.href };
    if (sessionId !== current) headers['set-cookie'] = this.sessionCookie(sessionId);
    // RFC 9700 §4.12: 303, never 307, for redirects in the flow.
    return { status: 303, headers, body: '' };
  }

  async callback(request: BffRequest, url: URL): Promise<BffResponse> {
    try {
      // The library reads only the query; the origin of the URL does not matter.
      const result = await this.client.handleCallback(this.sessionId(request.cookie), new URL(url.pathname + url.search, this.client.redirectUri));
      return { status: 303, headers: { ...BASE_HEADERS, location: result.returnTo, 'set-cookie': this.sessionCookie(result.sessionId) }, body: '' };
    } catch (error) {
      this.#onError(error);
      const status = error instanceof AuthorizationResponseError || error instanceof CallbackValidationError ? 400 : 502;
      const message = error instanceof Error ? error.message : 'Sign-in failed.';
      const body = `<!doctype html><meta charset="utf-8"><title>Sign-in failed</title><h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p><a href="${escapeHtml(this.loginPath)}">Sign in again</a></p>\n`;
      return { status, headers: { ...BASE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" }, body };
    }
  }

  async logout(request: BffRequest): Promise<BffResponse> {
    const result = await this.client.signOut(this.sessionId(request.cookie));
    if (result.error !== undefined) this.#onError(result.error);
    return { status: 303, headers: { ...BASE_HEADERS, location: this.afterLogoutPath, 'set-cookie': this.clearedCookie() }, body: '' };
  }

  /** The per-request context for route handlers. */
  async context(cookieHeader: string | undefined): Promise<LatchkeyContext> {
    const sessionId = this.sessionId(cookieHeader);
    const user = await this.client.getUser(sessionId);
    return {
      user,
      getAccessToken: () => this.client.getAccessToken(sessionId),
      fetch: (input, init) => this.client.fetchWithToken(sessionId, input, init),
    };
  }
}
