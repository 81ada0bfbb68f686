import Database from 'better-sqlite3';
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
import { sqliteMigrations } from './migrations.js';
import { copyClient } from '../copy-client.js';
import { CheckpointThread } from './checkpoint-thread.js';

type Row = Record<string, unknown>;

const str = (v: unknown): string => v as string;
const num = (v: unknown): number => v as number;
const numOrNull = (v: unknown): number | null => (v === null ? null : (v as number));
const strOrNull = (v: unknown): string | null => (v === null ? null : (v as string));
const list = <T = string>(v: unknown): T[] => JSON.parse(v as string) as T[];

function toClient(r: Row): ClientRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    secretHash: strOrNull(r.secret_hash),
    redirectUris: list(r.redirect_uris),
    scopes: list(r.scopes),
    grantTypes: list(r.grant_types),
    resources: list(r.resources),
    createdAt: num(r.created_at),
  };
}

function toUser(r: Row): UserRecord {
  return { id: str(r.id), username: str(r.username), passwordHash: str(r.password_hash), createdAt: num(r.created_at) };
}

function toSession(r: Row): SessionRecord {
  return {
    idHash: str(r.id_hash),
    userId: str(r.user_id),
    authTime: num(r.auth_time),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
  };
}

function toGrant(r: Row): GrantRecord {
  return {
    id: str(r.id),
    clientId: str(r.client_id),
    userId: str(r.user_id),
    scope: list(r.scope),
    resource: strOrNull(r.resource),
    authTime: num(r.auth_time),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

function toRefreshToken(r: Row): RefreshTokenRecord {
  return {
    hash: str(r.hash),
    grantId: str(r.grant_id),
    clientId: str(r.client_id),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    rotatedAt: numOrNull(r.rotated_at),
  };
}

function toKey(r: Row): KeyRecord {
  return {
    kid: str(r.kid),
    alg: str(r.alg) as KeyRecord['alg'],
    publicJwk: str(r.public_jwk),
    privateJwkEncrypted: str(r.private_jwk_encrypted),
    createdAt: num(r.created_at),
    activatesAt: num(r.activates_at),
    retiresAt: numOrNull(r.retires_at),
    expiresAt: numOrNull(r.expires_at),
  };
}

/** At most this many clients are kept by a SQLite store with turnSnapshot. */
const CACHED_CLIENTS = 10_000;

/** Event ids per millisecond of `at` (see insertEvent): 2^53 / 1024 ms is about the year 2248. */
const EVENT_IDS_PER_MS = 1024;

/** The rest of a subquery that finds the consent revocation that revoked grant `g`, if any: the first after its generation (see revokeConsent). */
const REVOKED_BY_CONSENT =
  'FROM consent_revocations r WHERE r.user_id = g.user_id AND r.client_id = g.client_id AND r.generation > g.consent_generation ORDER BY r.generation LIMIT 1';

/** SQLite's automatic checkpoint mark, in WAL pages (see `open`). */
const AUTOCHECKPOINT_PAGES = 1000;

/** How long a batch sleeps between two tries while another process holds the write lock (see `lock`). */
const LOCK_PAUSE_US = 100;
/** How long it goes on so, blocking this process, before the event loop turns once. */
const LOCK_WAIT_CHUNK_US = 2_000;
/** Never notified: Atomics.wait on it is a sleep that gives the core away. */
const pause = new Int32Array(new SharedArrayBuffer(4));

export interface SqliteStoreOptions {
  /** Milliseconds to wait for a lock held by another process (the CLI, another worker). */
  busyTimeoutMs?: number;
  /**
   * Reads in one turn of the event loop share one snapshot (see `read`). Only for the one process
   * that serves requests from the file: with several (`--workers`), a request could reach one
   * process after another had answered it from a write this snapshot predates.
   */
  turnSnapshot?: boolean;
  /**
   * Milliseconds between two WAL checkpoints run by a thread of their own (CheckpointThread)
   * instead of inside a commit; 0 (the default) leaves them to SQLite's automatic checkpoint.
   */
  checkpointPeriodMs?: number;
  /** Called if that thread fails (SQLite's automatic checkpoints then do all the work, as without it). */
  onCheckpointThreadError?: (error: Error) => void;
}

/**
 * The embedded default: one SQLite file in WAL mode. better-sqlite3 is synchronous, so each
 * method's statements run to completion without yielding; writes are group-committed (see
 * `write`). Every statement is prepared once, at open.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly s;
  /** Transactions are wrapped once, here, not per call (each wrap builds four functions). */
  private readonly tx;
  /** Writes waiting for the next batch (see `write`). */
  private queue: QueuedWrite[] = [];
  private flushTimer: NodeJS.Immediate | undefined;
  private lockWaitSince: number | undefined;
  private readonly busyTimeoutMs: number;
  /** The read transaction this turn's reads share (see `read`). */
  private readOpen = false;
  private readonly turnSnapshot: boolean;
  /** With turnSnapshot: clients by id, valid while PRAGMA data_version is `clientsVersion` (see findClient). */
  private readonly clients = new Map<string, ClientRecord>();
  private clientsVersion = -1;
  private checkpoints: CheckpointThread | undefined;

  private constructor(db: Database.Database, busyTimeoutMs: number, turnSnapshot: boolean) {
    this.db = db;
    this.busyTimeoutMs = busyTimeoutMs;
    this.turnSnapshot = turnSnapshot;
    this.s = prepareStatements(db);
    this.tx = {
      // RFC 6749 §4.1.2 (C3): the grant's insert is the compare-and-set (see redeemGrant); it and
      // the first refresh token commit together or not at all.
      redeem: db.transaction((g: GrantRecord, refresh: RefreshTokenRecord | null, codeIssuedAt: number): boolean => {
        const inserted = this.s.redeemGrant.run({
          id: g.id,
          clientId: g.clientId,
          userId: g.userId,
          scope: JSON.stringify(g.scope),
          resource: g.resource,
          authTime: g.authTime,
          createdAt: g.createdAt,
          expiresAt: g.expiresAt,
          revokedAt: g.revokedAt,
          codeIssuedAt,
        });
        if (inserted.changes !== 1) return false;
        if (refresh) this.s.insertRefreshToken.run(refresh.hash, refresh.grantId, refresh.clientId, refresh.createdAt, refresh.expiresAt, refresh.rotatedAt);
        return true;
      }).immediate,
      // RFC 9700 §4.14.2: the UPDATE decides the race; the successor is inserted in the same transaction.
      rotate: db.transaction((hash: string, successor: RefreshTokenRecord, now: number, retryWindowMs: number): RotationResult => {
        const row = this.s.rotateRefreshToken.get({ hash, now, windowStart: now - retryWindowMs }) as Row | undefined;
        if (!row) return { kind: 'rejected' };
        this.s.insertRefreshTokenIfAbsent.run(
          successor.hash,
          successor.grantId,
          successor.clientId,
          successor.createdAt,
          successor.expiresAt,
          successor.rotatedAt,
        );
        return { kind: 'rotated' };
      }).immediate,
    };
  }

  /** Opens (creating if needed) and migrates the database file. `:memory:` works for tests. */
  static open(filename: string, options: SqliteStoreOptions = {}): SqliteStore {
    let db: Database.Database;
    try {
      db = new Database(filename);
    } catch (error) {
      throw new StoreUnavailableError(`cannot open SQLite database ${filename}: ${(error as Error).message}`, { cause: error });
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // WAL lets the CLI and a running server share the file; synchronous=NORMAL in WAL mode keeps
    // every committed transaction across a process crash (only an OS crash can lose the last ones).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // The automatic checkpoint runs inside whichever commit crosses the mark, copying pages into the
    // database file and fsyncing it while every request waits (better-sqlite3 is synchronous), so
    // its length is the server's worst latency. With group commit (see `write`) the WAL grows
    // slowly enough that SQLite's default mark, ~4 MB, costs no measurable throughput, and each
    // pause is short. Full flows at 32 connections, p99: 41-55 ms every 10,000 pages, 21-23 ms
    // every 1,000, 17-20 ms with no checkpoint at all. With `checkpointPeriodMs` a thread does most
    // of each checkpoint's work beforehand (checkpointOnThread).
    db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    db.pragma('foreign_keys = OFF');
    // The batch transaction (see `write`) holds savepoints and statement journals, whose copies of
    // the pages they change SQLite keeps in memory only up to 64 KiB, then spills to a temporary
    // file: under load that file took more writes than the WAL itself (about 6 per full flow).
    // In memory they are never written; they live only until the batch commits.
    db.pragma('temp_store = MEMORY');
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection; SQLite's own default is
    // 2 MB. What a flow touches (the ends of the time-ordered indexes, one session, one client) fits
    // in 2 MB, and a miss is a read from the OS's file cache. Full flows, alternating slices: peak
    // RSS 136 -> 119 MB, flows/s no lower (2,247 at 16 MB, 2,470 at 2 MB).
    db.pragma('cache_size = -2000');
    migrate(db);
    // From here the store waits for locks itself (`lock`, `read`): SQLite's busy handler sleeps,
    // and with it every request in the process.
    db.pragma('busy_timeout = 0');
    const store = new SqliteStore(db, busyTimeoutMs, options.turnSnapshot ?? false);
    if (options.checkpointPeriodMs && !db.memory) store.checkpointOnThread(filename, options.checkpointPeriodMs, options.onCheckpointThreadError);
    return store;
  }

  /*
   * SQLite's automatic checkpoint stays on: a PASSIVE checkpoint never catches up with a WAL that
   * grows while it copies, and only a checkpoint that has copied every frame lets the next commit
   * start the WAL again from its beginning. The thread's checkpoints copy and sync nearly all of it
   * between two marks, so the one inside a commit finds a few frames left to copy and little to
   * sync. Measured, full flows at 32 connections in alternating slices: 9-11 % more flows and p99
   * 23-27 -> 20-23 ms, for about 9.5 MB more resident (the thread's V8 isolate).
   */
  private checkpointOnThread(filename: string, periodMs: number, onError?: (error: Error) => void): void {
    // SQLite's own checkpoints go on without the thread: nothing more is needed if it fails.
    this.checkpoints = new CheckpointThread(filename, periodMs, (error) => {
      this.checkpoints = undefined;
      onError?.(error);
    });
  }

  createClient(c: ClientRecord): Promise<void> {
    return this.write(() => {
      this.clients.clear();
      unique(`client ${c.id} exists`, () =>
        this.s.insertClient.run(
          c.id,
          c.name,
          c.secretHash,
          JSON.stringify(c.redirectUris),
          JSON.stringify(c.scopes),
          JSON.stringify(c.grantTypes),
          JSON.stringify(c.resources),
          c.createdAt,
        ),
      );
    });
  }

  /*
   * With turnSnapshot, clients are kept as read until another connection commits anything: the
   * CLI changing a client is seen at the next look-up (PRAGMA data_version, read inside the
   * turn's read transaction, changes with every commit made by another connection and with none
   * made by this one), and this store's own changes empty the cache as they are written.
   * Measured, 20 look-ups per turn: 6.2 -> 0.9 us each; a full flow makes two.
   */
  findClient(id: string): Promise<ClientRecord | undefined> {
    return this.read(() => {
      if (this.turnSnapshot) {
        const version = this.s.dataVersion.get() as number;
        if (version !== this.clientsVersion) {
          this.clients.clear();
          this.clientsVersion = version;
        }
        const cached = this.clients.get(id);
        if (cached) return copyClient(cached);
      }
      const row = this.s.findClient.get(id) as Row | undefined;
      if (!row) return undefined;
      const client = toClient(row);
      if (this.turnSnapshot && this.clients.size < CACHED_CLIENTS) this.clients.set(id, copyClient(client));
      return client;
    });
  }

  listClients(): Promise<ClientRecord[]> {
    return this.read(() => (this.s.listClients.all() as Row[]).map(toClient));
  }

  deleteClient(id: string): Promise<boolean> {
    return this.write(() => {
      this.clients.clear();
      return this.db.transaction(() => {
        const deleted = this.s.deleteClient.run(id).changes > 0;
        for (const statement of this.s.deleteByClient) statement.run(id);
        return deleted;
      })();
    });
  }

  createUser(u: UserRecord): Promise<void> {
    return this.write(() => {
      unique(`username ${u.username} is taken`, () => this.s.insertUser.run(u.id, u.username, u.passwordHash, u.createdAt));
    });
  }

  findUserById(id: string): Promise<UserRecord | undefined> {
    return this.read(() => {
      const row = this.s.findUserById.get(id) as Row | undefined;
      return row && toUser(row);
    });
  }

  findUserByUsername(username: string): Promise<UserRecord | undefined> {
    return this.read(() => {
      const row = this.s.findUserByUsername.get(username) as Row | undefined;
      return row && toUser(row);
    });
  }

  listUsers(): Promise<UserRecord[]> {
    return this.read(() => (this.s.listUsers.all() as Row[]).map(toUser));
  }

  deleteUser(id: string): Promise<boolean> {
    return this.write(() => {
      return this.db.transaction(() => {
        const deleted = this.s.deleteUser.run(id).changes > 0;
        for (const statement of this.s.deleteByUser) statement.run(id);
        return deleted;
      })();
    });
  }

  createSession(s: SessionRecord): Promise<void> {
    return this.write(() => {
      unique('session exists', () => this.s.insertSession.run(s.idHash, s.userId, s.authTime, s.createdAt, s.expiresAt));
    });
  }

  findSession(idHash: string, now: number): Promise<SessionRecord | undefined> {
    return this.read(() => {
      const row = this.s.findSession.get(idHash, now) as Row | undefined;
      return row && toSession(row);
    });
  }

  deleteSession(idHash: string): Promise<void> {
    return this.write(() => {
      this.s.deleteSession.run(idHash);
    });
  }

  createInteraction(i: InteractionRecord): Promise<void> {
    return this.write(() => {
      unique(`interaction ${i.id} exists`, () => this.s.insertInteraction.run(i.id, i.clientId, JSON.stringify(i.request), i.createdAt, i.expiresAt));
    });
  }

  findInteraction(id: string, now: number): Promise<InteractionRecord | undefined> {
    return this.read(() => {
      const r = this.s.findInteraction.get(id, now) as Row | undefined;
      if (!r) return undefined;
      return {
        id: str(r.id),
        clientId: str(r.client_id),
        request: JSON.parse(str(r.request)) as InteractionRecord['request'],
        createdAt: num(r.created_at),
        expiresAt: num(r.expires_at),
      };
    });
  }

  deleteInteraction(id: string): Promise<boolean> {
    return this.write(() => this.s.deleteInteraction.run(id).changes === 1);
  }

  findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    return this.read(() => this.consent(userId, clientId));
  }

  findSessionWithConsent(idHash: string, now: number, clientId: string): Promise<SignIn | undefined> {
    // One statement: each statement outside a transaction takes and drops SQLite's read lock.
    return this.read(() => {
      const row = this.s.findSessionWithConsent.get(clientId, idHash, now) as Row | undefined;
      if (!row) return undefined;
      const session = toSession(row);
      const consent = row.consent_scope === null ? undefined : { userId: session.userId, clientId, scope: list(row.consent_scope), grantedAt: num(row.consent_granted_at) };
      return { session, consent };
    });
  }

  private consent(userId: string, clientId: string): ConsentRecord | undefined {
    const r = this.s.findConsent.get(userId, clientId) as Row | undefined;
    return r && { userId: str(r.user_id), clientId: str(r.client_id), scope: list(r.scope), grantedAt: num(r.granted_at) };
  }

  saveConsent(c: ConsentRecord): Promise<void> {
    return this.write(() => {
      this.s.upsertConsent.run(c.userId, c.clientId, JSON.stringify(c.scope), c.grantedAt);
    });
  }

  listConsents(userId: string): Promise<ConsentRecord[]> {
    return this.read(() => {
      return (this.s.listConsents.all(userId) as Row[]).map((r) => ({
        userId: str(r.user_id),
        clientId: str(r.client_id),
        scope: list(r.scope),
        grantedAt: num(r.granted_at),
      }));
    });
  }

  /*
   * The user's grants for the client are revoked by generation, not found and updated: grants are
   * not indexed by user (migration 5). Each grant records the (user, client)'s number of consent
   * revocations when it was created, n; revocation n + 1 revokes it. findGrant, revokeGrant and
   * rotation read it from there (REVOKED_BY_CONSENT), so a grant reads exactly as if its row
   * had been updated here, whatever the clock did in between; once revocation n + 1 is older
   * than the audit events and has been dropped, the grant reads the next one left (the latest
   * always is), so it stays revoked and only its time moves. The revocation's time also refuses
   * the codes issued before it (redeemGrant); the latest is never dropped, and an older one only
   * once every code has expired.
   */
  revokeConsent(userId: string, clientId: string, now: number): Promise<void> {
    return this.write(() => {
      this.db.transaction(() => {
        this.s.deleteConsent.run(userId, clientId);
        this.s.addConsentRevocation.run({ userId, clientId, now });
        this.s.dropOldConsentRevocations.run({ userId, clientId, before: now - EVENT_RETENTION_MS });
      })();
    });
  }

  redeemCode(grant: GrantRecord, refreshToken: RefreshTokenRecord | null, codeIssuedAt: number): Promise<boolean> {
    return this.write(() => unique('refresh token exists', () => this.tx.redeem(grant, refreshToken, codeIssuedAt)));
  }

  findGrant(id: string): Promise<GrantRecord | undefined> {
    return this.read(() => {
      const row = this.s.findGrant.get(id) as Row | undefined;
      return row && toGrant(row);
    });
  }

  revokeGrant(id: string, now: number): Promise<void> {
    return this.write(() => {
      this.s.revokeGrant.run(now, id);
    });
  }

  findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    return this.read(() => {
      const row = this.s.findRefreshToken.get(hash) as Row | undefined;
      return row && toRefreshToken(row);
    });
  }

  rotateRefreshToken(hash: string, successor: RefreshTokenRecord, now: number, retryWindowMs: number): Promise<RotationResult> {
    return this.write(() => this.tx.rotate(hash, successor, now, retryWindowMs));
  }

  revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    return this.write(() => {
      this.s.revokeAccessToken.run(jti, expiresAt);
    });
  }

  isAccessTokenRevoked(jti: string): Promise<boolean> {
    return this.read(() => this.s.isAccessTokenRevoked.get(jti) !== undefined);
  }

  listKeys(): Promise<KeyRecord[]> {
    return this.read(() => (this.s.listKeys.all() as Row[]).map(toKey));
  }

  insertKey(k: KeyRecord): Promise<void> {
    return this.write(() => {
      unique(`key ${k.kid} exists`, () => this.s.insertKey.run(k.kid, k.alg, k.publicJwk, k.privateJwkEncrypted, k.createdAt, k.activatesAt, k.retiresAt, k.expiresAt));
    });
  }

  updateKey(kid: string, changes: Partial<Pick<KeyRecord, 'activatesAt' | 'retiresAt' | 'expiresAt'>>): Promise<void> {
    return this.write(() => {
      const current = this.s.findKey.get(kid) as Row | undefined;
      if (!current) return;
      const key = { ...toKey(current), ...changes };
      this.s.updateKey.run(key.activatesAt, key.retiresAt, key.expiresAt, kid);
    });
  }

  deleteKey(kid: string): Promise<void> {
    return this.write(() => {
      this.s.deleteKey.run(kid);
    });
  }

  putSecretIfAbsent(name: string, value: string, now: number): Promise<string> {
    return this.write(() => {
      this.s.insertSecretIfAbsent.run(name, value, now);
      return str((this.s.findSecret.get(name) as Row).value);
    });
  }

  appendEvent(e: AuditEvent): Promise<void> {
    return this.write(() => {
      this.s.insertEvent.run({ at: e.at, type: e.type, clientId: e.clientId ?? null, userId: e.userId ?? null, detail: e.detail ? JSON.stringify(e.detail) : null });
    });
  }

  listEvents(filter: EventFilter): Promise<StoredAuditEvent[]> {
    // Queued behind the writes: events are appended without waiting (the request that caused one
    // does not wait for it), and whoever reads the trail must see those already appended.
    return this.write(() => {
      const rows = this.s.listEvents.all({
        clientId: filter.clientId ?? null,
        type: filter.type ?? null,
        since: filter.since ?? 0,
        limit: filter.limit ?? 100,
      }) as Row[];
      return rows.map((r) => ({
        id: num(r.id),
        at: num(r.at),
        type: str(r.type),
        clientId: strOrNull(r.client_id),
        userId: strOrNull(r.user_id),
        detail: r.detail === null ? {} : (JSON.parse(str(r.detail)) as Record<string, unknown>),
      }));
    });
  }

  hit(key: string, now: number, windowMs: number): Promise<{ count: number; resetAt: number }> {
    return this.write(() => {
      const row = this.s.hit.get({ key, now, resetAt: now + windowMs }) as Row;
      return { count: num(row.count), resetAt: num(row.reset_at) };
    });
  }

  resetHits(key: string): Promise<void> {
    return this.write(() => {
      this.s.resetHits.run(key);
    });
  }

  peekHits(key: string, now: number): Promise<number> {
    return this.read(() => {
      const row = this.s.peekHits.get(key, now) as { count: number } | undefined;
      return row?.count ?? 0;
    });
  }

  purgeExpired(now: number, batch: number): Promise<number> {
    return this.write(() => {
      let removed = 0;
      for (const statement of this.s.purge) removed += statement.run({ now, batch, eventsBefore: now - EVENT_RETENTION_MS, grantsBefore: now - GRANT_AFTER_EXPIRY_MS }).changes;
      return removed;
    });
  }

  ping(): Promise<void> {
    return this.read(() => {
      this.s.ping.get();
    });
  }

  async close(): Promise<void> {
    // The thread's connection closes first, so that this one, the last, checkpoints the whole WAL
    // into the file and removes it as it closes.
    const checkpoints = this.checkpoints;
    this.checkpoints = undefined;
    await checkpoints?.stop();
    this.endRead();
    if (this.db.open && this.queue.length > 0) this.flush();
    if (this.db.open) this.db.close();
  }

  /*
   * Group commit. A commit is the dearest thing SQLite does here (the WAL append and its locks,
   * 30-60 us, against 2-5 us for a statement), and better-sqlite3 runs everything synchronously on
   * one connection. So writes are queued during one turn of the event loop and run together at the
   * start of the next (setImmediate), in one IMMEDIATE transaction: under load, one commit for
   * dozens of requests. A write's promise settles only after that commit has succeeded, so no
   * answer rests on a write that is not yet durable; if the commit fails, every write of the batch
   * fails with it. The queued writes run one after another with nothing in between, so each
   * compare-and-set (a code's redemption, a refresh token's rotation) decides its race exactly as
   * alone, and the lock is held only while they run. Reads run at once on committed data (a
   * queued write has not happened yet for anyone). Multi-statement writes (redeem, rotate)
   * are transaction functions, which become savepoints inside the batch.
   */

  /** Queues `work` for this turn's batch; settles once the batch has committed. */
  private write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.flushTimer ??= setImmediate(() => this.flush());
    });
  }

  /*
   * With `turnSnapshot`, reads share one read transaction per turn of the event loop. A statement
   * outside a transaction takes SQLite's WAL read lock and drops it again (two fcntl calls and a
   * look at the WAL index, about 3 us, as much as the look-up itself); under load a turn holds
   * dozens of reads, so the first opens the transaction and the turn's end (setImmediate) or the
   * next batch, which must write, closes it. A read then sees what was committed when the turn's
   * first read ran: this process's writes commit only in a batch, which ends the shared read
   * first, so none is missed; another process's commit (the CLI's) shows from the next turn.
   */
  private read<T>(work: () => T): Promise<T> {
    try {
      if (this.turnSnapshot && !this.readOpen && !this.db.inTransaction) this.beginRead();
      return Promise.resolve(work());
    } catch (error) {
      if (!isBusy(error)) return Promise.reject(unavailableOr(error));
    }
    // In WAL mode a reader meets a lock only in rare moments (another process recovering the WAL
    // index); then it waits up to the busy timeout, as SQLite's busy handler would.
    try {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(unavailableOr(error));
    } finally {
      this.db.pragma('busy_timeout = 0');
    }
  }

  private beginRead(): void {
    this.s.beginRead.run();
    this.readOpen = true;
    setImmediate(() => this.endRead());
  }

  private endRead(): void {
    if (!this.readOpen) return;
    this.readOpen = false;
    // An I/O error may have made SQLite roll the transaction back already.
    if (!this.db.open || !this.db.inTransaction) return;
    try {
      this.s.commit.run();
    } catch {
      // Ending a read cannot lose anything; it must not leave the next batch inside a transaction.
      if (this.db.inTransaction) this.s.rollback.run();
    }
  }

  private flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.endRead();
    if (!this.lock()) return;
    const batch = this.queue;
    this.queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    for (const { work } of batch) {
      try {
        results.push({ ok: true, value: work() });
      } catch (error) {
        results.push({ ok: false, error: unavailableOr(error) });
        // Some errors (I/O, a full disk) make SQLite roll the whole transaction back.
        if (!this.db.inTransaction) return this.fail(batch, error);
      }
    }
    try {
      this.s.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.s.rollback.run();
      return this.fail(batch, error);
    }
    batch.forEach(({ resolve, reject }, i) => {
      const result = results[i]!;
      if (result.ok) resolve(result.value);
      else reject(result.error);
    });
  }

  /**
   * BEGIN IMMEDIATE without SQLite's busy handler, whose sleeps (1 ms, then 2, 5, 10 ...) are far
   * longer than another worker's batch holds the lock, and which sleeps with the whole process.
   * While another process (another worker, the CLI) holds the lock, the batch tries again every
   * LOCK_PAUSE_US, asleep in the kernel in between (which leaves the core to the process holding
   * the lock), for LOCK_WAIT_CHUNK_US at a time; between two such stretches the event loop turns
   * once, so that other requests go on and more writes join the batch, until the busy timeout.
   * SQLite's lock has no queue: whoever tries first after it is let go gets it. Polling from the
   * event loop once a millisecond, the earlier design, lost that race to the other worker's next
   * batch so often that one of two workers starved.
   */
  private lock(): boolean {
    for (let slept = 0; ; slept += LOCK_PAUSE_US) {
      try {
        this.s.begin.run();
        this.lockWaitSince = undefined;
        return true;
      } catch (error) {
        const now = Date.now();
        this.lockWaitSince ??= now;
        if (!isBusy(error) || now - this.lockWaitSince >= this.busyTimeoutMs) {
          this.lockWaitSince = undefined;
          const batch = this.queue;
          this.queue = [];
          this.fail(batch, error);
          return false;
        }
        if (slept >= LOCK_WAIT_CHUNK_US) {
          this.flushTimer = setImmediate(() => this.flush());
          return false;
        }
        Atomics.wait(pause, 0, 0, LOCK_PAUSE_US / 1000);
      }
    }
  }

  private fail(batch: QueuedWrite[], error: unknown): void {
    const mapped = unavailableOr(error);
    for (const { reject } of batch) reject(mapped);
  }
}

interface QueuedWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

function isBusy(error: unknown): boolean {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_BUSY');
}

/** SQLite failures that say the database cannot be used right now (503), not that a request was wrong. */
function unavailableOr(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof StoreUnavailableError) return error;
  const code = 'code' in error ? String(error.code) : '';
  const unavailable =
    code === 'SQLITE_BUSY' ||
    code.startsWith('SQLITE_BUSY_') ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_FULL' ||
    code.startsWith('SQLITE_READONLY') ||
    error.message === 'The database connection is not open';
  return unavailable ? new StoreUnavailableError(`SQLite unavailable: ${error.message}`, { cause: error }) : error;
}

/** Runs an insert; a duplicate key becomes StoreConflictError, as on the other stores. */
function unique<T>(message: string, insert: () => T): T {
  try {
    return insert();
  } catch (error) {
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_CONSTRAINT')) throw new StoreConflictError(message);
    throw error;
  }
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  // IMMEDIATE: a second process opening the same file at the same moment waits instead of racing.
  db.transaction(() => {
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => num(r.version)));
    for (const m of sqliteMigrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
  }).immediate();
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertClient: p(
      'INSERT INTO clients (id, name, secret_hash, redirect_uris, scopes, grant_types, resources, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    findClient: p('SELECT * FROM clients WHERE id = ?'),
    dataVersion: p('PRAGMA data_version').pluck(),
    listClients: p('SELECT * FROM clients ORDER BY created_at, id'),
    deleteClient: p('DELETE FROM clients WHERE id = ?'),
    deleteByClient: [
      p('DELETE FROM refresh_tokens WHERE client_id = ?'),
      p('DELETE FROM grants WHERE client_id = ?'),
      p('DELETE FROM consent_revocations WHERE client_id = ?'),
      p('DELETE FROM consents WHERE client_id = ?'),
      p('DELETE FROM interactions WHERE client_id = ?'),
    ],
    insertUser: p('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)'),
    findUserById: p('SELECT * FROM users WHERE id = ?'),
    findUserByUsername: p('SELECT * FROM users WHERE username = ?'),
    listUsers: p('SELECT * FROM users ORDER BY created_at, username'),
    deleteUser: p('DELETE FROM users WHERE id = ?'),
    deleteByUser: [
      p('DELETE FROM sessions WHERE user_id = ?'),
      p('DELETE FROM consents WHERE user_id = ?'),
      p('DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = ?)'),
      p('DELETE FROM grants WHERE user_id = ?'),
      p('DELETE FROM consent_revocations WHERE user_id = ?'),
    ],
    insertSession: p('INSERT INTO sessions (id_hash, user_id, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?)'),
    findSession: p('SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?'),
    findSessionWithConsent: p(
      'SELECT s.*, c.scope AS consent_scope, c.granted_at AS consent_granted_at FROM sessions s LEFT JOIN consents c ON c.user_id = s.user_id AND c.client_id = ? WHERE s.id_hash = ? AND s.expires_at > ?',
    ),
    deleteSession: p('DELETE FROM sessions WHERE id_hash = ?'),
    insertInteraction: p('INSERT INTO interactions (id, client_id, request, created_at, expires_at) VALUES (?, ?, ?, ?, ?)'),
    findInteraction: p('SELECT * FROM interactions WHERE id = ? AND expires_at > ?'),
    deleteInteraction: p('DELETE FROM interactions WHERE id = ?'),
    findConsent: p('SELECT * FROM consents WHERE user_id = ? AND client_id = ?'),
    upsertConsent: p(
      'INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at',
    ),
    listConsents: p('SELECT * FROM consents WHERE user_id = ? ORDER BY granted_at DESC, client_id'),
    deleteConsent: p('DELETE FROM consents WHERE user_id = ? AND client_id = ?'),
    addConsentRevocation: p(`
      INSERT INTO consent_revocations (user_id, client_id, generation, revoked_at)
      SELECT @userId, @clientId, coalesce(max(generation), 0) + 1, @now FROM consent_revocations WHERE user_id = @userId AND client_id = @clientId`),
    // The latest stays: grants created after it carry its count. So the table keeps a user and
    // client's revocations of the last EVENT_RETENTION_MS and their latest, and no purge reads it.
    dropOldConsentRevocations: p(`
      DELETE FROM consent_revocations WHERE user_id = @userId AND client_id = @clientId AND revoked_at < @before
        AND generation < (SELECT max(generation) FROM consent_revocations WHERE user_id = @userId AND client_id = @clientId)`),
    // RFC 6749 §4.1.2 (C3): a code is redeemed once, and not after its user is gone or revoked
    // consent at or after its issue (revokeConsent): the grant's row is the mark, inserted only if
    // absent. consent_generation as for every grant (REVOKED_BY_CONSENT).
    redeemGrant: p(`
      INSERT INTO grants (id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at, consent_generation)
      SELECT @id, @clientId, @userId, @scope, @resource, @authTime, @createdAt, @expiresAt, @revokedAt,
             (SELECT coalesce(max(generation), 0) FROM consent_revocations WHERE user_id = @userId AND client_id = @clientId)
      WHERE NOT EXISTS (SELECT 1 FROM grants WHERE id = @id)
        AND EXISTS (SELECT 1 FROM users WHERE id = @userId)
        AND NOT EXISTS (SELECT 1 FROM consent_revocations WHERE user_id = @userId AND client_id = @clientId AND revoked_at >= @codeIssuedAt)`),
    findGrant: p(`
      SELECT id, client_id, user_id, scope, resource, auth_time, created_at, expires_at,
             coalesce(revoked_at, (SELECT r.revoked_at ${REVOKED_BY_CONSENT})) AS revoked_at
      FROM grants g WHERE id = ?`),
    // A grant its consent's revocation revoked stays revoked at that time.
    revokeGrant: p(`UPDATE grants AS g SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 ${REVOKED_BY_CONSENT})`),
    insertRefreshToken: p('INSERT INTO refresh_tokens (hash, grant_id, client_id, created_at, expires_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?)'),
    insertRefreshTokenIfAbsent: p(
      'INSERT INTO refresh_tokens (hash, grant_id, client_id, created_at, expires_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING',
    ),
    findRefreshToken: p('SELECT * FROM refresh_tokens WHERE hash = ?'),
    // Named parameters: better-sqlite3 cannot bind positional values to numbered ones (?1).
    rotateRefreshToken: p(`
      UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, @now)
      WHERE hash = @hash AND expires_at > @now AND (rotated_at IS NULL OR rotated_at > @windowStart)
        -- Correlated EXISTS: one primary-key probe. (An IN (SELECT id FROM grants WHERE …) list was
        -- built from every live grant on each rotation: ~23 ms at 20,000 grants.)
        AND EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id AND g.revoked_at IS NULL AND g.expires_at > @now
                    AND NOT EXISTS (SELECT 1 ${REVOKED_BY_CONSENT}))
      RETURNING 1 AS rotated`),
    revokeAccessToken: p('INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING'),
    isAccessTokenRevoked: p('SELECT 1 FROM revoked_access_tokens WHERE jti = ?'),
    listKeys: p('SELECT * FROM keys ORDER BY created_at, kid'),
    findKey: p('SELECT * FROM keys WHERE kid = ?'),
    insertKey: p(
      'INSERT INTO keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, activates_at, retires_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updateKey: p('UPDATE keys SET activates_at = ?, retires_at = ?, expires_at = ? WHERE kid = ?'),
    deleteKey: p('DELETE FROM keys WHERE kid = ?'),
    insertSecretIfAbsent: p('INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING'),
    findSecret: p('SELECT value FROM secrets WHERE name = ?'),
    // An event's id is at least its time × 1024 and above every id before it (migration 6): ids
    // sort as the events were appended, which is time order while the clock does not step back, so
    // `at >= since` lies within `id >= since × 1024` and listing is a range of the table. An id
    // below t × 1024 belongs to an event from before t, which the purge relies on.
    insertEvent: p(`
      INSERT INTO events (id, at, type, client_id, user_id, detail)
      VALUES (max(@at * ${EVENT_IDS_PER_MS}, coalesce((SELECT max(id) FROM events), -1) + 1), @at, @type, @clientId, @userId, @detail)`),
    listEvents: p(`
      SELECT * FROM events
      WHERE id >= @since * ${EVENT_IDS_PER_MS} AND at >= @since AND (@clientId IS NULL OR client_id = @clientId) AND (@type IS NULL OR type = @type)
      ORDER BY id DESC LIMIT @limit`),
    // Fixed window: a hit at or after reset_at starts a new window.
    hit: p(`
      INSERT INTO rate_limits (key, count, reset_at) VALUES (@key, 1, @resetAt)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limits.reset_at <= @now THEN 1 ELSE rate_limits.count + 1 END,
        reset_at = CASE WHEN rate_limits.reset_at <= @now THEN @resetAt ELSE rate_limits.reset_at END
      RETURNING count, reset_at`),
    resetHits: p('DELETE FROM rate_limits WHERE key = ?'),
    peekHits: p('SELECT count FROM rate_limits WHERE key = ? AND reset_at > ?'),
    purge: [
      p('DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires_at <= @now LIMIT @batch)'),
      p('DELETE FROM interactions WHERE rowid IN (SELECT rowid FROM interactions WHERE expires_at <= @now LIMIT @batch)'),
      p('DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE expires_at <= @now LIMIT @batch)'),
      // Tokens of a revoked grant are left to their own expiry or their grant's: rotation and
      // introspection refuse them already, and finding revoked grants would scan every grant (at
      // 300,000 grants, 20-70 ms with the write lock held, once a minute).
      p(`DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE grant_id IN
           (SELECT id FROM grants WHERE expires_at <= @now) LIMIT @batch)`),
      // A revoked grant stays one access-token lifetime at most; the grant row is kept until it expires
      // so introspection of its last access tokens still reports them inactive. An expired grant goes
      // after its refresh tokens, which the statement above may not have reached in this batch, and
      // only GRANT_AFTER_EXPIRY_MS later: its row records that its code was redeemed (C3, C4), and
      // must outlive the code.
      p(`DELETE FROM grants WHERE rowid IN (SELECT rowid FROM grants g WHERE expires_at <= @grantsBefore
           AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = g.id) LIMIT @batch)`),
      p('DELETE FROM revoked_access_tokens WHERE rowid IN (SELECT rowid FROM revoked_access_tokens WHERE expires_at <= @now LIMIT @batch)'),
      p('DELETE FROM rate_limits WHERE rowid IN (SELECT rowid FROM rate_limits WHERE reset_at <= @now LIMIT @batch)'),
      p(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < @eventsBefore * ${EVENT_IDS_PER_MS} LIMIT @batch)`),
    ],
    ping: p('SELECT 1'),
    begin: p('BEGIN IMMEDIATE'),
    beginRead: p('BEGIN DEFERRED'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
  };
}
