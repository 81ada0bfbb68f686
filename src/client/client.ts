/**
 * OAuthClient: the application's half of the Authorization Code Grant with PKCE, for the
 * backend-for-frontend pattern. It works with session ids (the value of the browser's cookie)
 * and keeps everything else in a SessionStore; it never imports a web framework, so the Fastify
 * and Express adapters stay thin.
 *
 *   startAuthorization(sessionId?)      → { sessionId, url }        redirect the browser to url
 *   handleCallback(sessionId, url)       → { sessionId, user, … }    new session id (fixation)
 *   getAccessToken(sessionId)            → access token, refreshed shortly before expiry
 *   signOut(sessionId)                   → revokes the refresh token, destroys the session
 */
import { buildAuthorizationUrl, validateAuthorizationResponse } from './authorization.js';
import type { AuthorizationServerMetadata } from './discovery.js';
import { discover } from './discovery.js';
import { CallbackValidationError, invalidArgument, NotSignedInError, ResponseBodyError, UnexpectedResponseError } from './errors.js';
import type { ClientAuthMethod, ClientCredentials, FetchLike, HttpOptions } from './http.js';
import { requireSecureUrl } from './http.js';
import { calculateCodeChallenge, generateCodeVerifier, generateState, randomToken, sha256 } from './random.js';
import type { PendingAuthorization, SessionData, SessionStore, SignedInUser, StoredTokens } from './session-store.js';
import type { TokenResponse } from './token.js';
import {
  authorizationCodeGrantRequest,
  processRevocationResponse,
  processTokenResponse,
  refreshTokenGrantRequest,
  revocationRequest,
} from './token.js';

/** Works out who signed in from the token response (see defaultResolveUser). */
export type ResolveUser = (
  tokens: TokenResponse,
  context: { metadata: AuthorizationServerMetadata; fetch: FetchLike; requestedScope: string[] },
) => Promise<SignedInUser>;

export interface OAuthClientConfig {
  /** The authorization server's issuer identifier, exactly as its metadata states it. */
  issuer: string;
  clientId: string;
  /** Absent for a public client. */
  clientSecret?: string | undefined;
  /** Default: client_secret_basic with a secret, none without. */
  clientAuthMethod?: ClientAuthMethod | undefined;
  /** The registered redirect URI of the callback route (exact string, RFC 9700 §2.1). */
  redirectUri: string;
  /** Requested scope, space-separated or a list. */
  scope?: string | string[] | undefined;
  /** RFC 8707 resource indicator: the API the access token is for. */
  resource?: string | undefined;
  /** Extra authorization request parameters, e.g. { prompt: 'consent' }. */
  authorizationParams?: Record<string, string> | undefined;
  store: SessionStore;
  /** Who signed in; default: the claims of a JWT access token (defaultResolveUser). */
  resolveUser?: ResolveUser | undefined;
  /** Injectable fetch (tests); default globalThis.fetch. */
  fetch?: FetchLike | undefined;
  /** Injectable clock (epoch ms). */
  now?: (() => number) | undefined;
  /** Refresh this long before the access token expires; default 30 s. */
  refreshBeforeExpiryMs?: number | undefined;
  /** Lifetime of a signed-in session; default 8 h. */
  sessionTtlMs?: number | undefined;
  /** How long a started sign-in may take; default 10 min. */
  pendingTtlMs?: number | undefined;
  /** How long discovered metadata is reused; default 1 h. */
  discoveryTtlMs?: number | undefined;
  /** Back-channel request timeout; default 10 s. */
  timeoutMs?: number | undefined;
}

export interface SignOutResult {
  /** Whether a token was revoked at the server. */
  revoked: boolean;
  /** Why revocation did not happen or failed; the session is destroyed regardless. */
  error?: Error;
}

/** The cookie value format: 32 random bytes, base64url (256 bits). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** A session id from a cookie, or undefined if it has not the shape this library issues. */
export function parseSessionId(value: string | undefined | null): string | undefined {
  return typeof value === 'string' && SESSION_ID.test(value) ? value : undefined;
}

/** Reads the JSON payload of a JWT without verifying it, or undefined if it is not one. */
function readJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    const payload: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default user resolution: read `sub`, `scope` and `username` (or `preferred_username`) from
 * the access token if it is a JWT (RFC 9068, as Latchkey issues).
 *
 * The signature is not verified here, on purpose: the token came straight from the token
 * endpoint over TLS in a request this client authenticated, the same trust on which the rest of
 * the token response is accepted (compare OpenID Connect Core §3.1.3.7, item 6). A resource
 * server must verify it; this client only reads who it is for. For an opaque access token, pass
 * `resolveUser` (e.g. a call to the userinfo endpoint).
 */
export const defaultResolveUser: ResolveUser = async (tokens, { requestedScope }) => {
  const claims = readJwtPayload(tokens.access_token);
  if (claims === undefined || typeof claims.sub !== 'string' || claims.sub.length === 0) {
    throw new UnexpectedResponseError(
      'token',
      'the access token is not a JWT with a "sub" claim, so the signed-in user is unknown. Pass `resolveUser` to the client (for example, one that calls the userinfo endpoint).',
    );
  }
  const scope = typeof claims.scope === 'string' ? claims.scope : (tokens.scope ?? requestedScope.join(' '));
  const username = typeof claims.username === 'string' ? claims.username : typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined;
  return { sub: claims.sub, scope: splitScope(scope), ...(username === undefined ? {} : { username }) };
};

function splitScope(scope: string | string[] | undefined): string[] {
  if (scope === undefined) return [];
  return (Array.isArray(scope) ? scope : scope.split(' ')).filter((s) => s.length > 0);
}

/** A returnTo value is kept only if it is a local path (no open redirect through /login?returnTo=). */
export function safeReturnTo(value: string | undefined | null): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value;
}

/** RFC 9700 §2.1 / RFC 6749 §10.12: only a response to a request this user agent started is accepted. */
function noPendingAuthorization(): CallbackValidationError {
  return new CallbackValidationError(
    'no_pending_authorization',
    'This browser session has no sign-in in progress: the callback was not started here (login CSRF), was already used (a replay or a double click), or the session cookie was lost (check the cookie is sent to the callback path, and SameSite/Secure settings).',
  );
}

export class OAuthClient {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string[];
  // Private, so that logging the client never prints its secret.
  readonly #config: Readonly<OAuthClientConfig>;
  readonly #credentials: ClientCredentials;
  readonly #store: SessionStore;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  readonly #http: HttpOptions;
  readonly #resolveUser: ResolveUser;
  #metadata: { promise: Promise<AuthorizationServerMetadata>; until: number } | undefined;
  /** Single flight: at most one token read-and-refresh per session at a time (see #flight); an entry lives only while its flight runs. */
  readonly #inflight = new Map<string, Promise<StoredTokens>>();
  /** Sessions whose callback is being processed right now. */
  readonly #callbacks = new Set<string>();

  constructor(config: OAuthClientConfig) {
    if (typeof config.issuer !== 'string') throw invalidArgument('issuer must be a string (the authorization server issuer URL).');
    requireSecureUrl(config.issuer, 'The issuer');
    if (typeof config.clientId !== 'string' || config.clientId.length === 0) throw invalidArgument('clientId must be a non-empty string (the client_id registered at the authorization server).');
    const redirect = requireSecureUrl(config.redirectUri, 'The redirectUri');
    if (redirect.hash !== '') throw invalidArgument('redirectUri must not contain a fragment (RFC 6749 §3.1.2).');
    const authMethod = config.clientAuthMethod ?? (config.clientSecret === undefined ? 'none' : 'client_secret_basic');
    if (authMethod !== 'none' && !config.clientSecret) throw invalidArgument(`clientAuthMethod ${authMethod} needs clientSecret; pass the client's secret, or use 'none' for a public client.`);
    if (authMethod === 'none' && config.clientSecret !== undefined) throw invalidArgument("clientAuthMethod 'none' is for public clients; remove clientSecret, or choose client_secret_basic or client_secret_post.");
    if (config.store === undefined) throw invalidArgument('store is required: pass a SessionStore (MemorySessionStore, SqliteSessionStore, or your own).');
    this.#config = config;
    this.#credentials = { clientId: config.clientId, clientSecret: config.clientSecret, authMethod };
    this.clientId = config.clientId;
    this.redirectUri = config.redirectUri;
    this.scope = splitScope(config.scope);
    this.#store = config.store;
    this.#fetch = config.fetch ?? ((input, init) => fetch(input, init));
    this.#now = config.now ?? Date.now;
    this.#http = { fetch: this.#fetch, timeoutMs: config.timeoutMs };
    this.#resolveUser = config.resolveUser ?? defaultResolveUser;
  }

  /** The server's metadata, discovered once and cached for discoveryTtlMs (a failure is not cached). */
  metadata(): Promise<AuthorizationServerMetadata> {
    const now = this.#now();
    if (this.#metadata === undefined || this.#metadata.until <= now) {
      const promise = discover(this.#config.issuer, this.#http).then((metadata) => {
        this.#checkAuthMethod(metadata);
        return metadata;
      });
      this.#metadata = { promise, until: now + (this.#config.discoveryTtlMs ?? 3_600_000) };
      promise.catch(() => {
        if (this.#metadata?.promise === promise) this.#metadata = undefined;
      });
    }
    return this.#metadata.promise;
  }

  #checkAuthMethod(metadata: AuthorizationServerMetadata): void {
    // RFC 8414 §2: if omitted, the default is client_secret_basic.
    const supported = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (!supported.includes(this.#credentials.authMethod)) {
      throw invalidArgument(
        `${metadata.issuer} does not support client authentication method ${this.#credentials.authMethod} at its token endpoint (it lists ${supported.join(', ')}). Set clientAuthMethod to one of those.`,
      );
    }
  }

  /**
   * Starts a sign-in: a fresh state and PKCE pair for every attempt (RFC 9700 §2.1.1, checklist
   * P10), stored in the session. Reuses the session if `sessionId` names a live one, else makes
   * a new one; the caller must set the returned id as the cookie.
   */
  async startAuthorization(sessionId?: string, options: { returnTo?: string | undefined } = {}): Promise<{ sessionId: string; url: URL }> {
    const metadata = await this.metadata();
    const now = this.#now();
    let id = parseSessionId(sessionId);
    let session = id === undefined ? undefined : await this.#store.get(await sha256(id));
    if (id === undefined || session === undefined) {
      id = randomToken(32);
      session = { expiresAt: now + this.#pendingTtl };
    }
    const state = generateState();
    const codeVerifier = generateCodeVerifier();
    session.pending = { state, codeVerifier, returnTo: safeReturnTo(options.returnTo), issuer: metadata.issuer, startedAt: now };
    session.expiresAt = Math.max(session.expiresAt, now + this.#pendingTtl);
    await this.#store.set(await sha256(id), session, session.expiresAt);
    const url = buildAuthorizationUrl(metadata, {
      clientId: this.#credentials.clientId,
      redirectUri: this.redirectUri,
      scope: this.scope.join(' '),
      state,
      codeChallenge: await calculateCodeChallenge(codeVerifier),
      resource: this.#config.resource,
      extra: this.#config.authorizationParams,
    });
    return { sessionId: id, url };
  }

  /**
   * Completes a sign-in from the redirect back. The pending authorization is consumed before
   * anything is checked, so a callback is accepted at most once and a failed attempt needs a new
   * state and verifier (checklist P10). On success the session gets a new id (session fixation).
   */
  async handleCallback(sessionId: string | undefined, callbackUrl: string | URL): Promise<{ sessionId: string; user: SignedInUser; returnTo: string }> {
    const url = new URL(callbackUrl);
    const id = parseSessionId(sessionId);
    const key = id === undefined ? undefined : await sha256(id);
    const session = key === undefined ? undefined : await this.#store.get(key);
    const pending = session?.pending;
    // A second callback for the same session while the first is still running (a double click)
    // is a replay: it must not send the code again, or the server may revoke what the first one
    // got (RFC 6749 §4.1.2). Within one process this map decides; across processes the store's
    // read-then-delete leaves a small window, and the server's single-use code closes it.
    if (key !== undefined && this.#callbacks.has(key)) throw noPendingAuthorization();
    if (key === undefined || session === undefined || pending === undefined) throw noPendingAuthorization();
    this.#callbacks.add(key);
    try {
      return await this.#completeCallback(key, session, pending, url);
    } finally {
      this.#callbacks.delete(key);
    }
  }

  async #completeCallback(key: string, session: SessionData, pending: PendingAuthorization, url: URL): Promise<{ sessionId: string; user: SignedInUser; returnTo: string }> {
    delete session.pending;
    if (session.tokens === undefined) await this.#store.delete(key);
    else await this.#store.set(key, session, session.expiresAt);

    const now = this.#now();
    if (now - pending.startedAt > this.#pendingTtl) {
      throw new CallbackValidationError('authorization_expired', `This sign-in was started more than ${Math.round(this.#pendingTtl / 1000)} s ago and has expired. Start the sign-in again.`);
    }
    const metadata = await this.metadata();
    if (pending.issuer !== metadata.issuer) {
      throw new CallbackValidationError('iss_mismatch', `This sign-in was started at ${pending.issuer}, but the client is now configured for ${metadata.issuer}. Start the sign-in again.`);
    }
    const { code } = validateAuthorizationResponse(metadata, url.searchParams, pending.state);

    const response = await authorizationCodeGrantRequest(
      metadata,
      this.#credentials,
      { code, redirectUri: this.redirectUri, codeVerifier: pending.codeVerifier, resource: this.#config.resource },
      this.#http,
    );
    const tokens = await processTokenResponse(response, 'token');
    const user = await this.#resolveUser(tokens, { metadata, fetch: this.#fetch, requestedScope: this.scope });

    // Session fixation: the signed-in session never keeps the id it had before sign-in.
    if (session.tokens !== undefined) await this.#store.delete(key);
    const newId = randomToken(32);
    const signedIn: SessionData = { expiresAt: this.#now() + (this.#config.sessionTtlMs ?? 8 * 3_600_000), tokens: this.#toStored(tokens, undefined), user };
    await this.#store.set(await sha256(newId), signedIn, signedIn.expiresAt);
    return { sessionId: newId, user, returnTo: pending.returnTo };
  }

  /** The signed-in user of a session, or undefined. Does not touch the network. */
  async getUser(sessionId: string | undefined): Promise<SignedInUser | undefined> {
    const id = parseSessionId(sessionId);
    if (id === undefined) return undefined;
    const session = await this.#store.get(await sha256(id));
    return session?.tokens === undefined ? undefined : session.user;
  }

  /**
   * A usable access token for the session, refreshed when it expires within
   * refreshBeforeExpiryMs. Any number of concurrent calls for one session share one store read
   * and at most one refresh request (single flight).
   *
   * The single flight holds within this process. Across processes sharing a store two refreshes
   * may race; Latchkey accepts the same refresh token again within its retry window and hands
   * out the same successor (RFC 9700 §4.14.2 rotation with a grace period), so the duplicate is
   * harmless there. Against a server without such a window, run the refresh in one process.
   *
   * Throws NotSignedInError when there is no sign-in, or when the grant is gone (the session is
   * then signed out), ResponseBodyError / UnexpectedResponseError for other refresh failures.
   */
  async getAccessToken(sessionId: string | undefined): Promise<string> {
    const id = parseSessionId(sessionId);
    if (id === undefined) throw new NotSignedInError('no_session', 'No session cookie: the user is not signed in. Send them to the login route.');
    return (await this.#flight(id, undefined)).accessToken;
  }

  /**
   * The read and the refresh both happen inside the flight: a call that arrives while a refresh
   * runs waits for it instead of reading the old, already rotated refresh token from the store.
   * `rejected` is an access token a resource server refused: it is refreshed even if unexpired,
   * unless the flight already replaced it.
   */
  async #flight(id: string, rejected: string | undefined): Promise<StoredTokens> {
    for (;;) {
      // Keyed by the session id itself (known synchronously), so a flight is registered before
      // any await: a signOut called after getAccessToken always sees the refresh it must wait for.
      let flight = this.#inflight.get(id);
      const joined = flight !== undefined;
      if (flight === undefined) {
        const started: Promise<StoredTokens> = sha256(id)
          .then((key) => this.#freshTokens(key, rejected))
          .finally(() => {
            if (this.#inflight.get(id) === started) this.#inflight.delete(id);
          });
        this.#inflight.set(id, started);
        flight = started;
      }
      const tokens = await flight;
      if (!joined || rejected === undefined || tokens.accessToken !== rejected) return tokens;
    }
  }

  async #freshTokens(key: string, rejected: string | undefined): Promise<StoredTokens> {
    const session = await this.#store.get(key);
    const tokens = session?.tokens;
    if (session === undefined || tokens === undefined) {
      throw new NotSignedInError('no_session', 'This session is not signed in (it never was, it expired, or it signed out). Send the user to the login route.');
    }
    const now = this.#now();
    const refused = rejected !== undefined && tokens.accessToken === rejected;
    if (!refused && (tokens.expiresAt === null || tokens.expiresAt - (this.#config.refreshBeforeExpiryMs ?? 30_000) > now)) return tokens;
    if (tokens.refreshToken === null) {
      await this.#store.delete(key);
      throw new NotSignedInError('expired', 'The access token expired (or a resource server refused it) and the server issued no refresh token, so the session was signed out. Ask for offline access (e.g. the refresh_token grant or offline_access scope) to stay signed in longer.');
    }
    const metadata = await this.metadata();
    let refreshed: TokenResponse;
    try {
      const response = await refreshTokenGrantRequest(metadata, this.#credentials, tokens.refreshToken, { ...this.#http, resource: this.#config.resource });
      refreshed = await processTokenResponse(response, 'refresh');
    } catch (error) {
      // RFC 6749 §5.2: invalid_grant means the refresh token is expired, revoked or was reused:
      // the grant is gone, so the session is signed out rather than left half-alive.
      if (error instanceof ResponseBodyError && error.error === 'invalid_grant') {
        await this.#store.delete(key);
        throw new NotSignedInError('grant_revoked', `The authorization server refused the refresh token (${error.error_description ?? 'invalid_grant'}): the grant was revoked or expired, so the session was signed out. Send the user to the login route.`, { cause: error });
      }
      throw error;
    }
    const stored = this.#toStored(refreshed, tokens);
    // The user may have signed out while the refresh ran: never bring a destroyed session back.
    if ((await this.#store.get(key))?.tokens === undefined) {
      throw new NotSignedInError('no_session', 'The session was signed out while its access token was being refreshed. Send the user to the login route.');
    }
    await this.#store.set(key, { ...session, tokens: stored }, session.expiresAt);
    return stored;
  }

  /** Token response → what the session keeps. RFC 6749 §6: a refresh may omit refresh_token and scope (then unchanged). */
  #toStored(tokens: TokenResponse, previous: StoredTokens | undefined): StoredTokens {
    return {
      accessToken: tokens.access_token,
      expiresAt: tokens.expires_in === undefined ? null : this.#now() + tokens.expires_in * 1000,
      refreshToken: tokens.refresh_token ?? previous?.refreshToken ?? null,
      // RFC 6749 §5.1: scope absent means the requested scope was granted.
      scope: tokens.scope !== undefined ? splitScope(tokens.scope) : (previous?.scope ?? this.scope),
    };
  }

  /**
   * fetch() with the session's access token as a Bearer token (RFC 6750 §2.1). If the resource
   * server answers 401 with `error="invalid_token"`, the token is refreshed once and the request
   * retried (RFC 6750 §3.1: the client MAY request a new access token and retry), provided the
   * body can be sent twice (none, a string, URLSearchParams, bytes or a Blob).
   */
  async fetchWithToken(sessionId: string | undefined, input: string | URL, init: RequestInit = {}): Promise<Response> {
    const token = await this.getAccessToken(sessionId);
    const send = (accessToken: string) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${accessToken}`);
      return this.#fetch(input, { ...init, headers });
    };
    const response = await send(token);
    const body = init.body;
    const replayable = body === undefined || body === null || typeof body === 'string' || body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob;
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (response.status !== 401 || !replayable || !/^\s*bearer\b.*\berror\s*=\s*"?invalid_token\b/i.test(challenge)) return response;
    await response.body?.cancel();
    const id = parseSessionId(sessionId)!;
    const fresh = await this.#flight(id, token);
    return send(fresh.accessToken);
  }

  /**
   * Signs out: destroys the session first (so it cannot be used while revocation runs), then
   * revokes the refresh token (or the access token if there is none) at the server (RFC 7009).
   * A revocation failure is returned, not thrown: the local sign-out has happened either way.
   */
  async signOut(sessionId: string | undefined): Promise<SignOutResult> {
    const id = parseSessionId(sessionId);
    if (id === undefined) return { revoked: false };
    // Let a refresh that is running finish first, so the refresh token revoked is the current one.
    await this.#inflight.get(id)?.catch(() => undefined);
    const key = await sha256(id);
    const session = await this.#store.get(key);
    await this.#store.delete(key);
    const tokens = session?.tokens;
    if (tokens === undefined) return { revoked: false };
    try {
      const metadata = await this.metadata();
      if (metadata.revocation_endpoint === undefined) {
        return { revoked: false, error: new UnexpectedResponseError('revocation', `${metadata.issuer} publishes no revocation_endpoint, so the tokens stay valid until they expire.`) };
      }
      const [token, hint] = tokens.refreshToken !== null ? [tokens.refreshToken, 'refresh_token' as const] : [tokens.accessToken, 'access_token' as const];
      await processRevocationResponse(await revocationRequest(metadata, this.#credentials, token, hint, this.#http));
      return { revoked: true };
    } catch (error) {
      return { revoked: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  get #pendingTtl(): number {
    return this.#config.pendingTtlMs ?? 600_000;
  }
}
