/**
 * Server-side sessions for the backend-for-frontend pattern: the browser holds only a random
 * session id in a cookie; everything else (the pending authorization's state and PKCE verifier,
 * the tokens, the user) lives here, keyed by the SHA-256 of that id.
 */

/** An authorization started by this session and not yet completed (RFC 9700 §2.1, checklist P10). */
export interface PendingAuthorization {
  state: string;
  codeVerifier: string;
  /** Local path to return to after sign-in. */
  returnTo: string;
  /** The issuer the request was sent to (RFC 9207: the callback must come from it). */
  issuer: string;
  startedAt: number;
}

/** The tokens of a signed-in session. They never leave the server. */
export interface StoredTokens {
  accessToken: string;
  /** Epoch ms; null when the server did not say (then the token is used until refused). */
  expiresAt: number | null;
  refreshToken: string | null;
  scope: string[];
}

/** Who is signed in: the demo needs `sub`, `scope` and an optional `username`. */
export interface SignedInUser {
  sub: string;
  scope: string[];
  username?: string;
}

/** Everything kept for one browser session. Must stay JSON-serialisable. */
export interface SessionData {
  /** When the session ends (epoch ms); the store is told the same time. */
  expiresAt: number;
  pending?: PendingAuthorization;
  tokens?: StoredTokens;
  user?: SignedInUser;
}

/**
 * Where sessions live. `key` is opaque to the store (the library passes the SHA-256 of the
 * cookie's session id, never the id itself). A store returns only unexpired sessions.
 */
export interface SessionStore {
  get(key: string): Promise<SessionData | undefined>;
  /** Inserts or replaces; the session disappears at `expiresAt` (epoch ms). */
  set(key: string, data: SessionData, expiresAt: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A store in process memory: for tests and single-process development. Sessions are lost on
 * restart and not shared between processes; use SqliteSessionStore (or your own) otherwise.
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, { data: string; expiresAt: number }>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<SessionData | undefined> {
    const entry = this.#sessions.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    // Stored as JSON so a caller mutating the result cannot change the stored session.
    return JSON.parse(entry.data) as SessionData;
  }

  async set(key: string, data: SessionData, expiresAt: number): Promise<void> {
    this.#sweep();
    this.#sessions.set(key, { data: JSON.stringify(data), expiresAt });
  }

  async delete(key: string): Promise<void> {
    this.#sessions.delete(key);
  }

  /** Number of live sessions (for tests and metrics). */
  get size(): number {
    this.#sweep();
    return this.#sessions.size;
  }

  /** Every live session, for tests that inspect what the server holds. */
  entries(): Array<[string, SessionData]> {
    this.#sweep();
    return [...this.#sessions].map(([key, entry]) => [key, JSON.parse(entry.data) as SessionData]);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#sessions) if (entry.expiresAt <= now) this.#sessions.delete(key);
  }
}
