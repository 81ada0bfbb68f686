/**
 * The ports: everything the protocol core needs from the outside world.
 *
 * `core` never touches a database driver, the clock, randomness or the environment directly; it
 * reaches them through these interfaces, so every rule can be unit-tested and the same core runs
 * on SQLite, PostgreSQL or memory. All times are milliseconds since the epoch (UTC).
 *
 * Secrets (refresh tokens, session ids, client secrets) never reach the Store in clear: only
 * their SHA-256 digests, base64url-encoded, are stored and looked up. Authorization codes are not
 * stored at all: a code is its own record, sealed (core/sealed-code.ts), and only its redemption
 * is written, as the grant it turns into.
 */

export type GrantType = 'authorization_code' | 'refresh_token';

export interface ClientRecord {
  id: string;
  name: string;
  /** SHA-256 digest (base64url) of the generated secret; null for a public client. */
  secretHash: string | null;
  redirectUris: string[];
  /** Scopes the client may ask for. */
  scopes: string[];
  grantTypes: GrantType[];
  /** RFC 8707 resource indicators (audiences) the client may ask for. */
  resources: string[];
  createdAt: number;
}

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
}

/** A signed-in browser at the authorization server. Keyed by the digest of the cookie value. */
export interface SessionRecord {
  idHash: string;
  userId: string;
  /** When the user last entered their password (OpenID `auth_time`, used for prompt=login). */
  authTime: number;
  createdAt: number;
  expiresAt: number;
}

/** A validated authorization request waiting for the user to log in or consent. */
export interface InteractionRecord {
  id: string;
  clientId: string;
  request: AuthorizationRequest;
  createdAt: number;
  expiresAt: number;
}

/** The parameters of an authorization request after every check passed. */
export interface AuthorizationRequest {
  clientId: string;
  /**
   * The createdAt of the client registration the request was checked against: a client deleted
   * and registered again under the same id is another client. Absent in interactions stored by
   * versions before it.
   */
  clientCreatedAt?: number;
  redirectUri: string;
  /** Whether redirect_uri was sent (RFC 6749 §4.1.3: then it is required at the token endpoint). */
  redirectUriExplicit: boolean;
  scope: string[];
  state: string | null;
  codeChallenge: string;
  codeChallengeMethod: 'S256';
  resource: string | null;
  prompt: Array<'none' | 'login' | 'consent'>;
}

/** A live session and its user's consent for one client: what the authorization endpoint reads. */
export interface SignIn {
  session: SessionRecord;
  consent: ConsentRecord | undefined;
}

export interface ConsentRecord {
  userId: string;
  clientId: string;
  /** Every scope the user has granted this client so far. */
  scope: string[];
  grantedAt: number;
}

/** What an authorization code carries, sealed inside it (core/sealed-code.ts). */
export interface CodeRecord {
  clientId: string;
  /** AuthorizationRequest.clientCreatedAt; absent in codes sealed by versions before it. */
  clientCreatedAt?: number;
  userId: string;
  /** The grant (refresh-token family) the code turns into when redeemed; its row marks the code used. */
  grantId: string;
  redirectUri: string;
  redirectUriExplicit: boolean;
  codeChallenge: string | null;
  scope: string[];
  resource: string | null;
  authTime: number;
  issuedAt: number;
  expiresAt: number;
}

/** One grant = one code redemption = one refresh-token family. */
export interface GrantRecord {
  id: string;
  clientId: string;
  userId: string;
  scope: string[];
  resource: string | null;
  authTime: number;
  createdAt: number;
  /** Absolute lifetime: no refresh token of the family lives past this. */
  expiresAt: number;
  revokedAt: number | null;
}

export interface RefreshTokenRecord {
  hash: string;
  grantId: string;
  clientId: string;
  createdAt: number;
  /** Idle expiry; never later than the grant's absolute expiry. */
  expiresAt: number;
  /** When the token was exchanged for its successor; null while it is the current one. */
  rotatedAt: number | null;
}

export type KeyAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

export interface KeyRecord {
  kid: string;
  alg: KeyAlgorithm;
  /** Public JWK as JSON text. */
  publicJwk: string;
  /** Private JWK, encrypted under the key-encryption key (see keys/key-encryption.ts). */
  privateJwkEncrypted: string;
  createdAt: number;
  /** Published in the JWKS from createdAt; signs from activatesAt. */
  activatesAt: number;
  /** Stops signing at retiresAt (null: until a newer key activates). */
  retiresAt: number | null;
  /** Leaves the JWKS at expiresAt (every token it signed has expired by then). */
  expiresAt: number | null;
}

export interface AuditEvent {
  /** Stable name, e.g. `login.succeeded`, `code.replayed`, `refresh.reuse_detected`. */
  type: string;
  at: number;
  clientId?: string | null;
  userId?: string | null;
  /** Machine-readable reason and context; never a secret. */
  detail?: Record<string, unknown>;
}

export interface StoredAuditEvent extends AuditEvent {
  id: number;
}

export interface EventFilter {
  clientId?: string;
  type?: string;
  since?: number;
  limit?: number;
}

/**
 * The outcome of the atomic refresh-token rotation. A rotated token's grant was live at that
 * moment; its other fields never change, so the caller's earlier findGrant still holds.
 */
export type RotationResult =
  | { kind: 'rotated' }
  /** The token was not current (rotated outside the window, expired, revoked or unknown). */
  | { kind: 'rejected' };

/**
 * The Store: the only place state lives. Every method is asynchronous because the PostgreSQL
 * adapter implements the same contract; one contract test suite (test/store/contract.ts) runs
 * against every adapter.
 */
export interface Store {
  // clients
  createClient(client: ClientRecord): Promise<void>;
  findClient(id: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  /** Deletes the client and everything issued to it. Returns false if it did not exist. */
  deleteClient(id: string): Promise<boolean>;

  // users
  /** Throws StoreConflictError if the username is taken. */
  createUser(user: UserRecord): Promise<void>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  findUserByUsername(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Deletes the user, their sessions, consents and grants. Returns false if it did not exist. */
  deleteUser(id: string): Promise<boolean>;

  // login sessions
  createSession(session: SessionRecord): Promise<void>;
  /** Only an unexpired session is returned. */
  findSession(idHash: string, now: number): Promise<SessionRecord | undefined>;
  /**
   * findSession and findConsent(session.userId, clientId) in one look-up, for the authorization
   * endpoint: undefined when there is no live session.
   */
  findSessionWithConsent(idHash: string, now: number, clientId: string): Promise<SignIn | undefined>;
  deleteSession(idHash: string): Promise<void>;

  // pending authorization requests
  createInteraction(interaction: InteractionRecord): Promise<void>;
  /** Only an unexpired interaction is returned. */
  findInteraction(id: string, now: number): Promise<InteractionRecord | undefined>;
  /**
   * Deletes the interaction; true for the one caller that deleted it. Two parallel answers to one
   * consent page therefore issue one code, not two.
   */
  deleteInteraction(id: string): Promise<boolean>;

  // consent
  findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Inserts or replaces the (user, client) consent. */
  saveConsent(consent: ConsentRecord): Promise<void>;
  listConsents(userId: string): Promise<ConsentRecord[]>;
  /**
   * Removes the consent, revokes every grant of that user for that client, and from then on
   * refuses to redeem the codes issued to that user for that client at or before `now`.
   */
  revokeConsent(userId: string, clientId: string, now: number): Promise<void>;

  // authorization codes
  /**
   * RFC 6749 §4.1.2 / checklist C3: redeems a code by creating, in one atomic step, its grant
   * (`grant.id` is the code's grant id) and the grant's first refresh token, if any. It creates
   * nothing if a grant with that id exists (the code was redeemed before: of any number of racing
   * callers exactly one creates it), if the user no longer exists, or if the user revoked their
   * consent for the client at or after `codeIssuedAt`. True for the caller that created the grant.
   */
  redeemCode(grant: GrantRecord, refreshToken: RefreshTokenRecord | null, codeIssuedAt: number): Promise<boolean>;

  // grants (refresh-token families)
  findGrant(id: string): Promise<GrantRecord | undefined>;
  /** Revokes the grant, which makes its refresh and access tokens inactive. Idempotent. */
  revokeGrant(id: string, now: number): Promise<void>;

  // refresh tokens
  findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * RFC 9700 §4.14.2: one atomic statement decides the race. Marks `hash` rotated (keeping the
   * first rotation time) if it is current, or was rotated less than `retryWindowMs` ago, and is
   * unexpired with an unrevoked, unexpired grant; then inserts `successor` unless a row with its
   * hash already exists (a retry derives the same successor). Otherwise returns `rejected` and
   * writes nothing.
   */
  rotateRefreshToken(hash: string, successor: RefreshTokenRecord, now: number, retryWindowMs: number): Promise<RotationResult>;

  // access tokens (JWTs; only revocations are stored)
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  // signing keys
  listKeys(): Promise<KeyRecord[]>;
  insertKey(key: KeyRecord): Promise<void>;
  updateKey(kid: string, changes: Partial<Pick<KeyRecord, 'activatesAt' | 'retiresAt' | 'expiresAt'>>): Promise<void>;
  deleteKey(kid: string): Promise<void>;

  // server secrets (encrypted by the caller)
  /** Stores `value` under `name` unless a value exists; returns the value that is stored. */
  putSecretIfAbsent(name: string, value: string, now: number): Promise<string>;

  // audit events
  appendEvent(event: AuditEvent): Promise<void>;
  /** Newest first (SQLite: in the order they were appended, the same unless the clock stepped back). */
  listEvents(filter: EventFilter): Promise<StoredAuditEvent[]>;

  // rate limiting and brute-force counters (fixed windows)
  /** Adds one hit to `key` in the window that ends `windowMs` after its first hit; returns the count and the window's end. */
  hit(key: string, now: number, windowMs: number): Promise<{ count: number; resetAt: number }>;
  resetHits(key: string): Promise<void>;
  /** The count of `key` in its current window (0 if none, or if the window ended by `now`), without adding a hit. */
  peekHits(key: string, now: number): Promise<number>;

  // housekeeping
  /** Deletes up to `batch` expired rows per table; returns how many went. */
  purgeExpired(now: number, batch: number): Promise<number>;
  /** Cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/** The store could not be reached; the HTTP layer answers 503 with Retry-After. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface Clock {
  now(): number;
}

export interface Random {
  /** `bytes` random bytes, base64url-encoded. */
  token(bytes: number): string;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** A hash of nothing, verified against when the user does not exist, so timing is the same. */
  readonly dummyHash: string;
}

/** One signing key, ready to use: imported once, not per request. */
export interface Signer {
  kid: string;
  alg: KeyAlgorithm;
  /** Signs the JWS signing input; returns the raw JWS signature (ES256: IEEE P1363 r||s). */
  sign(data: Buffer): Buffer;
}

/** The signing keys: the one that signs now, and every key a resource server may still meet. */
export interface KeyRing {
  signer(): Promise<Signer>;
  /** The public key for `kid` while it is published: its algorithm and a verifier; undefined if unknown. */
  verifier(kid: string): Promise<{ alg: KeyAlgorithm; verify: (data: Buffer, signature: Buffer) => boolean } | undefined>;
  /** RFC 7517 JWK Set of the published public keys. */
  jwks(): Promise<{ keys: Record<string, unknown>[] }>;
}

export interface EventSink {
  emit(event: AuditEvent): void;
}
