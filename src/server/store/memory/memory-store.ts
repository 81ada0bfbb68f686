import type {
  AuditEvent,
  ClientRecord,
  ConsentRecord,
  EventFilter,
  GrantRecord,
  InteractionRecord,
  KeyRecord,
  RefreshTokenRecord,
  RotationResult,
  SessionRecord,
  SignIn,
  Store,
  StoredAuditEvent,
  UserRecord,
} from '../../core/ports.js';
import { StoreConflictError, StoreUnavailableError } from '../../core/ports.js';
import { EVENT_RETENTION_MS, GRANT_AFTER_EXPIRY_MS } from '../retention.js';

const copy = <T>(value: T): T => structuredClone(value);

/**
 * The Store in process memory, for unit tests and throwaway demos. Same semantics as the SQL
 * adapters, including the atomic ones: no method awaits between reading and writing, so every
 * compare-and-set runs to completion before another call can start. Records go in and come out
 * as copies, so a caller mutating what it got back cannot change what is stored.
 */
export class MemoryStore implements Store {
  private readonly clients = new Map<string, ClientRecord>();
  private readonly users = new Map<string, UserRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly interactions = new Map<string, InteractionRecord>();
  /** Keyed by `${userId}\n${clientId}`. */
  private readonly consents = new Map<string, ConsentRecord>();
  /** The latest consent revocation's time, keyed like consents. */
  private readonly consentRevocations = new Map<string, number>();
  private readonly grants = new Map<string, GrantRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  /** jti → expiresAt. */
  private readonly revokedAccessTokens = new Map<string, number>();
  private readonly keys = new Map<string, KeyRecord>();
  private readonly secrets = new Map<string, string>();
  private readonly events: StoredAuditEvent[] = [];
  private readonly rateLimits = new Map<string, { count: number; resetAt: number }>();
  private nextEventId = 1;
  private closed = false;

  async createClient(client: ClientRecord): Promise<void> {
    this.assertOpen();
    if (this.clients.has(client.id)) throw new StoreConflictError(`client ${client.id} exists`);
    this.clients.set(client.id, copy(client));
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    this.assertOpen();
    return copyOrUndefined(this.clients.get(id));
  }

  async listClients(): Promise<ClientRecord[]> {
    this.assertOpen();
    return [...this.clients.values()].sort((a, b) => a.createdAt - b.createdAt || compare(a.id, b.id)).map(copy);
  }

  async deleteClient(id: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.clients.delete(id);
    deleteWhere(this.consentRevocations, (_, key) => key.endsWith(`\n${id}`));
    deleteWhere(this.refreshTokens, (t) => t.clientId === id);
    deleteWhere(this.grants, (g) => g.clientId === id);
    deleteWhere(this.consents, (c) => c.clientId === id);
    deleteWhere(this.interactions, (i) => i.clientId === id);
    return existed;
  }

  async createUser(user: UserRecord): Promise<void> {
    this.assertOpen();
    if (this.users.has(user.id)) throw new StoreConflictError(`user ${user.id} exists`);
    for (const existing of this.users.values()) {
      if (existing.username === user.username) throw new StoreConflictError(`username ${user.username} is taken`);
    }
    this.users.set(user.id, copy(user));
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    this.assertOpen();
    return copyOrUndefined(this.users.get(id));
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    this.assertOpen();
    for (const user of this.users.values()) if (user.username === username) return copy(user);
    return undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    this.assertOpen();
    return [...this.users.values()].sort((a, b) => a.createdAt - b.createdAt || compare(a.username, b.username)).map(copy);
  }

  async deleteUser(id: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.users.delete(id);
    deleteWhere(this.sessions, (s) => s.userId === id);
    deleteWhere(this.consents, (c) => c.userId === id);
    deleteWhere(this.consentRevocations, (_, key) => key.startsWith(`${id}\n`));
    const grantIds = new Set([...this.grants.values()].filter((g) => g.userId === id).map((g) => g.id));
    deleteWhere(this.refreshTokens, (t) => grantIds.has(t.grantId));
    deleteWhere(this.grants, (g) => g.userId === id);
    return existed;
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.assertOpen();
    if (this.sessions.has(session.idHash)) throw new StoreConflictError('session exists');
    this.sessions.set(session.idHash, copy(session));
  }

  async findSession(idHash: string, now: number): Promise<SessionRecord | undefined> {
    this.assertOpen();
    const session = this.sessions.get(idHash);
    return session && session.expiresAt > now ? copy(session) : undefined;
  }

  async findSessionWithConsent(idHash: string, now: number, clientId: string): Promise<SignIn | undefined> {
    const session = await this.findSession(idHash, now);
    return session && { session, consent: await this.findConsent(session.userId, clientId) };
  }

  async deleteSession(idHash: string): Promise<void> {
    this.assertOpen();
    this.sessions.delete(idHash);
  }

  async createInteraction(interaction: InteractionRecord): Promise<void> {
    this.assertOpen();
    if (this.interactions.has(interaction.id)) throw new StoreConflictError(`interaction ${interaction.id} exists`);
    this.interactions.set(interaction.id, copy(interaction));
  }

  async findInteraction(id: string, now: number): Promise<InteractionRecord | undefined> {
    this.assertOpen();
    const interaction = this.interactions.get(id);
    return interaction && interaction.expiresAt > now ? copy(interaction) : undefined;
  }

  async deleteInteraction(id: string): Promise<boolean> {
    this.assertOpen();
    return this.interactions.delete(id);
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    this.assertOpen();
    return copyOrUndefined(this.consents.get(consentKey(userId, clientId)));
  }

  async saveConsent(consent: ConsentRecord): Promise<void> {
    this.assertOpen();
    this.consents.set(consentKey(consent.userId, consent.clientId), copy(consent));
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    this.assertOpen();
    return [...this.consents.values()]
      .filter((c) => c.userId === userId)
      .sort((a, b) => b.grantedAt - a.grantedAt || compare(a.clientId, b.clientId))
      .map(copy);
  }

  async revokeConsent(userId: string, clientId: string, now: number): Promise<void> {
    this.assertOpen();
    this.consents.delete(consentKey(userId, clientId));
    for (const grant of this.grants.values()) {
      if (grant.userId === userId && grant.clientId === clientId && grant.revokedAt === null) grant.revokedAt = now;
    }
    const key = consentKey(userId, clientId);
    this.consentRevocations.set(key, Math.max(now, this.consentRevocations.get(key) ?? now));
  }

  async redeemCode(grant: GrantRecord, refreshToken: RefreshTokenRecord | null, codeIssuedAt: number): Promise<boolean> {
    this.assertOpen();
    // RFC 6749 §4.1.2 (C3): compare-and-set; nothing awaits between the check and the writes.
    if (this.grants.has(grant.id) || !this.users.has(grant.userId)) return false;
    const revokedAt = this.consentRevocations.get(consentKey(grant.userId, grant.clientId));
    if (revokedAt !== undefined && revokedAt >= codeIssuedAt) return false;
    // Check every write before making any, so a conflict leaves nothing behind (as a rolled-back transaction would).
    if (refreshToken && this.refreshTokens.has(refreshToken.hash)) throw new StoreConflictError('refresh token exists');
    this.grants.set(grant.id, copy(grant));
    if (refreshToken) this.refreshTokens.set(refreshToken.hash, copy(refreshToken));
    return true;
  }

  async findGrant(id: string): Promise<GrantRecord | undefined> {
    this.assertOpen();
    return copyOrUndefined(this.grants.get(id));
  }

  async revokeGrant(id: string, now: number): Promise<void> {
    this.assertOpen();
    const grant = this.grants.get(id);
    if (grant && grant.revokedAt === null) grant.revokedAt = now;
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    this.assertOpen();
    return copyOrUndefined(this.refreshTokens.get(hash));
  }

  async rotateRefreshToken(hash: string, successor: RefreshTokenRecord, now: number, retryWindowMs: number): Promise<RotationResult> {
    this.assertOpen();
    // RFC 9700 §4.14.2: current, or rotated within the retry window; unexpired; grant live.
    const token = this.refreshTokens.get(hash);
    if (!token || token.expiresAt <= now) return { kind: 'rejected' };
    if (token.rotatedAt !== null && token.rotatedAt <= now - retryWindowMs) return { kind: 'rejected' };
    const grant = this.grants.get(token.grantId);
    if (!grant || grant.revokedAt !== null || grant.expiresAt <= now) return { kind: 'rejected' };
    token.rotatedAt ??= now;
    // A retry derives the same successor: insert it only if absent.
    if (!this.refreshTokens.has(successor.hash)) this.refreshTokens.set(successor.hash, copy(successor));
    return { kind: 'rotated' };
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    this.assertOpen();
    if (!this.revokedAccessTokens.has(jti)) this.revokedAccessTokens.set(jti, expiresAt);
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    this.assertOpen();
    return this.revokedAccessTokens.has(jti);
  }

  async listKeys(): Promise<KeyRecord[]> {
    this.assertOpen();
    return [...this.keys.values()].sort((a, b) => a.createdAt - b.createdAt || compare(a.kid, b.kid)).map(copy);
  }

  async insertKey(key: KeyRecord): Promise<void> {
    this.assertOpen();
    if (this.keys.has(key.kid)) throw new StoreConflictError(`key ${key.kid} exists`);
    this.keys.set(key.kid, copy(key));
  }

  async updateKey(kid: string, changes: Partial<Pick<KeyRecord, 'activatesAt' | 'retiresAt' | 'expiresAt'>>): Promise<void> {
    this.assertOpen();
    const key = this.keys.get(kid);
    if (!key) return;
    if (changes.activatesAt !== undefined) key.activatesAt = changes.activatesAt;
    if (changes.retiresAt !== undefined) key.retiresAt = changes.retiresAt;
    if (changes.expiresAt !== undefined) key.expiresAt = changes.expiresAt;
  }

  async deleteKey(kid: string): Promise<void> {
    this.assertOpen();
    this.keys.delete(kid);
  }

  async putSecretIfAbsent(name: string, value: string, _now: number): Promise<string> {
    this.assertOpen();
    const existing = this.secrets.get(name);
    if (existing !== undefined) return existing;
    this.secrets.set(name, value);
    return value;
  }

  async appendEvent(event: AuditEvent): Promise<void> {
    this.assertOpen();
    this.events.push({
      id: this.nextEventId++,
      type: event.type,
      at: event.at,
      clientId: event.clientId ?? null,
      userId: event.userId ?? null,
      detail: copy(event.detail ?? {}),
    });
  }

  async listEvents(filter: EventFilter): Promise<StoredAuditEvent[]> {
    this.assertOpen();
    const since = filter.since ?? 0;
    return this.events
      .filter((e) => (filter.clientId === undefined || e.clientId === filter.clientId) && (filter.type === undefined || e.type === filter.type) && e.at >= since)
      .sort((a, b) => b.at - a.at || b.id - a.id)
      .slice(0, filter.limit ?? 100)
      .map(copy);
  }

  async hit(key: string, now: number, windowMs: number): Promise<{ count: number; resetAt: number }> {
    this.assertOpen();
    const current = this.rateLimits.get(key);
    // Fixed window: the first hit at or after resetAt starts a new one.
    const next = !current || current.resetAt <= now ? { count: 1, resetAt: now + windowMs } : { count: current.count + 1, resetAt: current.resetAt };
    this.rateLimits.set(key, next);
    return { ...next };
  }

  async resetHits(key: string): Promise<void> {
    this.assertOpen();
    this.rateLimits.delete(key);
  }

  async peekHits(key: string, now: number): Promise<number> {
    this.assertOpen();
    const current = this.rateLimits.get(key);
    return current && current.resetAt > now ? current.count : 0;
  }

  async purgeExpired(now: number, batch: number): Promise<number> {
    this.assertOpen();
    let removed = 0;
    removed += deleteWhere(this.sessions, (s) => s.expiresAt <= now, batch);
    removed += deleteWhere(this.interactions, (i) => i.expiresAt <= now, batch);
    removed += deleteWhere(this.refreshTokens, (t) => t.expiresAt <= now, batch);
    // Tokens of a revoked grant go with their own expiry or their grant's (see SqliteStore's purge).
    removed += deleteWhere(this.refreshTokens, (t) => (this.grants.get(t.grantId)?.expiresAt ?? Infinity) <= now, batch);
    // A revoked grant is kept until it expires, so introspection of its last access tokens still
    // reports them inactive; an expired one goes after its refresh tokens, and only once its code
    // can no longer be redeemed (GRANT_AFTER_EXPIRY_MS).
    const withTokens = new Set([...this.refreshTokens.values()].map((t) => t.grantId));
    removed += deleteWhere(this.grants, (g) => g.expiresAt <= now - GRANT_AFTER_EXPIRY_MS && !withTokens.has(g.id), batch);
    removed += deleteWhere(this.revokedAccessTokens, (expiresAt) => expiresAt <= now, batch);
    removed += deleteWhere(this.rateLimits, (r) => r.resetAt <= now, batch);
    const eventsBefore = now - EVENT_RETENTION_MS;
    let events = 0;
    for (let i = 0; i < this.events.length && events < batch; ) {
      if (this.events[i]!.at < eventsBefore) {
        this.events.splice(i, 1);
        events++;
      } else {
        i++;
      }
    }
    return removed + events;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  /** How many records each table holds, by the SQL adapters' table names (for tests and diagnostics). */
  rowCounts(): Record<string, number> {
    return {
      clients: this.clients.size,
      users: this.users.size,
      sessions: this.sessions.size,
      interactions: this.interactions.size,
      consents: this.consents.size,
      consent_revocations: this.consentRevocations.size,
      grants: this.grants.size,
      refresh_tokens: this.refreshTokens.size,
      revoked_access_tokens: this.revokedAccessTokens.size,
      keys: this.keys.size,
      secrets: this.secrets.size,
      events: this.events.length,
      rate_limits: this.rateLimits.size,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('the memory store is closed');
  }
}

function consentKey(userId: string, clientId: string): string {
  return `${userId}\n${clientId}`;
}

function copyOrUndefined<T>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : copy(value);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deletes up to `limit` entries matching `predicate`; returns how many went. */
function deleteWhere<K, V>(map: Map<K, V>, predicate: (value: V, key: K) => boolean, limit = Infinity): number {
  let removed = 0;
  for (const [key, value] of map) {
    if (removed >= limit) break;
    if (predicate(value, key)) {
      map.delete(key);
      removed++;
    }
  }
  return removed;
}
