import pg from 'pg';
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
import { NotifiedCache } from './notified-cache.js';
import { assertSchemaName, migrate } from './migrations.js';
import { Pipelines } from './pipelines.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database?...` */
  connectionString: string;
  /** Schema to create (if missing) and use through search_path; `public` (the server default) otherwise. */
  schema?: string;
  /** Pool size (default 10). */
  max?: number;
  /** How long to wait for a connection before answering StoreUnavailableError (default 5000 ms). */
  connectionTimeoutMs?: number;
  /**
   * Server-side limit per statement (default 10000 ms). A statement stuck behind a lock or an
   * overloaded server is cancelled (57014) and answered as StoreUnavailableError, so a request
   * fails with 503 instead of hanging.
   */
  statementTimeoutMs?: number;
  /** Shown in pg_stat_activity (default `latchkey`; the cache's listener adds `-listener`). */
  applicationName?: string;
  /**
   * Keep registered clients and sign-ins (a session with its consent) in process, forgotten on
   * every change PostgreSQL notifies (default true; see NotifiedCache). Off, every request reads
   * them from the database.
   */
  clientCache?: boolean;
  /**
   * Connections in pg's pipeline mode for the statements of the token path (default 2; see
   * pipelines.ts). 0 sends every statement through the pool, as a pooler that cannot pass
   * pipelined statements on needs (PgBouncer in transaction mode).
   */
  pipelines?: number;
}

type Row = Record<string, unknown>;

/**
 * The statements sent over the pipelined connections: the request path's, each short and alone.
 * Listings, deletions by owner, migrations and housekeeping go through the pool, so a long one
 * never holds up a request's statement queued behind it.
 */
const pipelined = new Set<StatementName>([
  'findClient',
  'findUserById',
  'findUserByUsername',
  'insertSession',
  'findSession',
  'findSessionWithConsent',
  'deleteSession',
  'insertInteraction',
  'findInteraction',
  'deleteInteraction',
  'findConsent',
  'upsertConsent',
  'redeemCode',
  'findGrant',
  'revokeGrant',
  'findRefreshToken',
  'rotateRefreshToken',
  'revokeAccessToken',
  'isAccessTokenRevoked',
  'insertEvents',
  'hit',
  'resetHits',
  'peekHits',
]);

/**
 * BIGINT (int8) columns arrive as JS numbers. Set on this pool only, so other pg users in the
 * process keep pg's default (strings). Millisecond times stay far below 2^53.
 */
const int8AsNumber: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The statements, each prepared once per connection under its key as the statement name. Columns
 * are listed, never `*`: a prepared `SELECT *` fails ("cached plan must not change result type")
 * on every running instance once a newer one adds a column, which breaks rolling upgrades. Every
 * race is decided inside one statement: data-modifying CTEs run in the statement's transaction,
 * and under READ COMMITTED an UPDATE that waited for a concurrent one re-checks its WHERE against
 * the committed row before it writes.
 */
export const sql = {
  insertClient:
    'INSERT INTO clients (id, name, secret_hash, redirect_uris, scopes, grant_types, resources, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  findClient: 'SELECT id, name, secret_hash, redirect_uris, scopes, grant_types, resources, created_at FROM clients WHERE id = $1',
  listClients: 'SELECT id, name, secret_hash, redirect_uris, scopes, grant_types, resources, created_at FROM clients ORDER BY created_at, id COLLATE "C"',
  deleteClient: `
    WITH deleted AS (DELETE FROM clients WHERE id = $1 RETURNING 1),
      r AS (DELETE FROM refresh_tokens WHERE client_id = $1),
      g AS (DELETE FROM grants WHERE client_id = $1),
      s AS (DELETE FROM consents WHERE client_id = $1),
      -- Read without an index by client: clients are deleted rarely, and the table holds one row per (user, client) that revoked.
      v AS (DELETE FROM consent_revocations WHERE client_id = $1),
      i AS (DELETE FROM interactions WHERE client_id = $1)
    SELECT count(*)::int AS deleted FROM deleted`,
  insertUser: 'INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)',
  findUserById: 'SELECT id, username, password_hash, created_at FROM users WHERE id = $1',
  findUserByUsername: 'SELECT id, username, password_hash, created_at FROM users WHERE username = $1',
  listUsers: 'SELECT id, username, password_hash, created_at FROM users ORDER BY created_at, username COLLATE "C"',
  deleteUser: `
    WITH deleted AS (DELETE FROM users WHERE id = $1 RETURNING 1),
      s AS (DELETE FROM sessions WHERE user_id = $1),
      n AS (DELETE FROM consents WHERE user_id = $1),
      v AS (DELETE FROM consent_revocations WHERE user_id = $1),
      r AS (DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = $1)),
      g AS (DELETE FROM grants WHERE user_id = $1)
    SELECT count(*)::int AS deleted FROM deleted`,
  insertSession: 'INSERT INTO sessions (id_hash, user_id, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
  findSession: 'SELECT id_hash, user_id, auth_time, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2',
  // A live session, and its user's consent for client $3 if there is one (NULL columns if not).
  // LIMIT 1 keeps the lateral look-up from being flattened into a join: it runs per session row
  // with both keys bound. As a join, the generic plan made on an empty table scanned the client's
  // consents and filtered them by user.
  findSessionWithConsent: `
    SELECT s.id_hash, s.user_id, s.auth_time, s.created_at, s.expires_at, c.scope AS consent_scope, c.granted_at AS consent_granted_at
    FROM sessions s LEFT JOIN LATERAL (
      SELECT scope, granted_at FROM consents WHERE user_id = s.user_id AND client_id = $3 LIMIT 1
    ) c ON true
    WHERE s.id_hash = $1 AND s.expires_at > $2`,
  deleteSession: 'DELETE FROM sessions WHERE id_hash = $1',
  insertInteraction: 'INSERT INTO interactions (id, client_id, request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
  findInteraction: 'SELECT id, client_id, request, created_at, expires_at FROM interactions WHERE id = $1 AND expires_at > $2',
  deleteInteraction: 'DELETE FROM interactions WHERE id = $1 RETURNING id',
  findConsent: 'SELECT user_id, client_id, scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2',
  upsertConsent: `
    INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope, granted_at = EXCLUDED.granted_at`,
  listConsents: 'SELECT user_id, client_id, scope, granted_at FROM consents WHERE user_id = $1 ORDER BY granted_at DESC, client_id COLLATE "C"',
  // The revocation time is remembered (the latest one, whatever the order of racing calls) so
  // that redeemCode refuses the codes issued to this user for this client until then.
  revokeConsent: `
    WITH c AS (DELETE FROM consents WHERE user_id = $1 AND client_id = $2),
      v AS (
        INSERT INTO consent_revocations (user_id, client_id, revoked_at) VALUES ($1, $2, $3)
        ON CONFLICT (user_id, client_id) DO UPDATE SET revoked_at = GREATEST(consent_revocations.revoked_at, EXCLUDED.revoked_at)
      )
    UPDATE grants SET revoked_at = $3 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL`,
  // RFC 6749 §4.1.2 (C3): a code is sealed, not stored; its grant row is the record that it was
  // used. ON CONFLICT DO NOTHING decides among racing redemptions: an insert of the same id waits
  // for the other's commit, then does nothing. The first refresh token is inserted only from the
  // RETURNING row, so a loser, or a code refused (user gone, consent revoked at or after the
  // code's issue, $10), writes nothing.
  redeemCode: `
    WITH new_grant AS (
      INSERT INTO grants (id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at)
      SELECT $1::text, $2::text, $3::text, $4::text[], $5::text, $6::bigint, $7::bigint, $8::bigint, $9::bigint
      WHERE EXISTS (SELECT 1 FROM users WHERE id = $3::text)
        AND NOT EXISTS (SELECT 1 FROM consent_revocations WHERE user_id = $3::text AND client_id = $2::text AND revoked_at >= $10::bigint)
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), new_refresh AS (
      INSERT INTO refresh_tokens (hash, grant_id, client_id, created_at, expires_at, rotated_at)
      SELECT $11::text, $12::text, $13::text, $14::bigint, $15::bigint, $16::bigint FROM new_grant WHERE $11::text IS NOT NULL
    )
    SELECT count(*)::int AS redeemed FROM new_grant`,
  findGrant: 'SELECT id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at FROM grants WHERE id = $1',
  revokeGrant: 'UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
  findRefreshToken: 'SELECT hash, grant_id, client_id, created_at, expires_at, rotated_at FROM refresh_tokens WHERE hash = $1',
  // RFC 9700 §4.14.2: current, or rotated less than the window ago; unexpired; grant live. The
  // first rotation time is kept, so the window never slides. A concurrent rotation waits on the
  // row lock, then re-checks this WHERE against the committed row: inside the window it rotates
  // too and its successor insert finds the row already there (insert-if-absent).
  rotateRefreshToken: `
    WITH rotated AS (
      UPDATE refresh_tokens AS rt SET rotated_at = COALESCE(rt.rotated_at, $2)
      FROM grants AS g
      WHERE rt.hash = $1 AND rt.expires_at > $2 AND (rt.rotated_at IS NULL OR rt.rotated_at > $3)
        AND g.id = rt.grant_id AND g.revoked_at IS NULL AND g.expires_at > $2
        -- The grant by its key (a token's grant never changes): planned on empty tables, the join
        -- alone was a sequential scan of grants.
        AND g.id = (SELECT grant_id FROM refresh_tokens WHERE hash = $1)
      RETURNING g.id
    ), successor AS (
      INSERT INTO refresh_tokens (hash, grant_id, client_id, created_at, expires_at, rotated_at)
      SELECT $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::bigint FROM rotated
      ON CONFLICT (hash) DO NOTHING
    )
    SELECT * FROM rotated`,
  revokeAccessToken: 'INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
  isAccessTokenRevoked: 'SELECT 1 FROM revoked_access_tokens WHERE jti = $1',
  listKeys: 'SELECT kid, alg, public_jwk, private_jwk_encrypted, created_at, activates_at, retires_at, expires_at FROM keys ORDER BY created_at, kid COLLATE "C"',
  insertKey: `
    INSERT INTO keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, activates_at, retires_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  // $2/$4/$6 say whether the field is being changed, so null can be written (retiresAt: null).
  updateKey: `
    UPDATE keys SET
      activates_at = CASE WHEN $2::boolean THEN $3::bigint ELSE activates_at END,
      retires_at = CASE WHEN $4::boolean THEN $5::bigint ELSE retires_at END,
      expires_at = CASE WHEN $6::boolean THEN $7::bigint ELSE expires_at END
    WHERE kid = $1`,
  deleteKey: 'DELETE FROM keys WHERE kid = $1',
  // DO UPDATE (to the same value) instead of DO NOTHING: it locks and returns the row a concurrent
  // caller committed, which a separate SELECT in this statement's snapshot could not see.
  putSecretIfAbsent: `
    INSERT INTO secrets AS s (name, value, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET value = s.value
    RETURNING value`,
  // One row per array element, in order (ids follow the order the events were appended in).
  insertEvents: `
    INSERT INTO events (at, type, client_id, user_id, detail)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[])`,
  // Fixed window: a hit at or after reset_at starts a new window.
  hit: `
    INSERT INTO rate_limits AS r (key, count, reset_at) VALUES ($1, 1, $3)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN r.reset_at <= $2 THEN 1 ELSE r.count + 1 END,
      reset_at = CASE WHEN r.reset_at <= $2 THEN EXCLUDED.reset_at ELSE r.reset_at END
    RETURNING count, reset_at`,
  resetHits: 'DELETE FROM rate_limits WHERE key = $1',
  peekHits: 'SELECT count FROM rate_limits WHERE key = $1 AND reset_at > $2',
  ping: 'SELECT 1',
} as const;

type StatementName = keyof typeof sql;

/** How long the first audit event of a batch waits for more, and the most one batch holds. */
const EVENT_BATCH_MS = 10;
const EVENT_BATCH_MAX = 500;

/**
 * Housekeeping, one small batch per statement ($1 = the cutoff, $2 = batch). Each picks its rows
 * through the expiry index, locks them (FOR UPDATE re-checks the condition on the latest row
 * version) skipping rows another instance is purging (SKIP LOCKED), and deletes them by primary
 * key. `= ANY(ARRAY(subquery))` rather than `IN (subquery)`: the planner turns IN into a hash
 * join over every expired row, ignoring LIMIT.
 */
function purgeExpired(table: string, key: string, column: string, cutoff: (now: number) => number) {
  return {
    name: `purge_${table}`,
    text: `DELETE FROM ${table} WHERE ${key} = ANY(ARRAY(SELECT ${key} FROM ${table} WHERE ${column} <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    cutoff,
  };
}

/** Rows whose expiry has passed by now. */
const expiredByNow = (at: number) => at;

const purgeStatements: ReadonlyArray<{ name: string; text: string; cutoff: (now: number) => number }> = [
  // Written only by instances of a version before migration 8, during a rolling upgrade.
  purgeExpired('codes', 'hash', 'expires_at', expiredByNow),
  purgeExpired('sessions', 'id_hash', 'expires_at', expiredByNow),
  purgeExpired('interactions', 'id', 'expires_at', expiredByNow),
  purgeExpired('refresh_tokens', 'hash', 'expires_at', expiredByNow),
  {
    name: 'purge_refresh_tokens_of_expired_grants',
    // Tokens of a revoked grant are left to their own expiry or their grant's: rotation and
    // introspection refuse them already, and revoked grants are not indexed.
    // Walk the expired grants and look their tokens up by grant_id (OFFSET 0 keeps the planner from
    // flattening this into a hash join that scans all of refresh_tokens: most expired grants have
    // no tokens left, so matches are rarer than it estimates).
    text: `DELETE FROM refresh_tokens WHERE hash = ANY(ARRAY(
             SELECT rt.hash FROM grants g
             CROSS JOIN LATERAL (SELECT hash FROM refresh_tokens WHERE grant_id = g.id OFFSET 0) rt
             WHERE g.expires_at <= $1
             LIMIT $2))`,
    cutoff: expiredByNow,
  },
  // A revoked grant is kept until it expires, so introspection of its last access tokens still reports
  // them inactive. An expired grant goes after its refresh tokens, which the statement above may not
  // have reached in this batch, and only once its code has expired too: the row is the record that
  // the code was used (redeemCode), so a replay is refused, and revokes, until then (C4).
  {
    name: 'purge_grants',
    text: `DELETE FROM grants WHERE id = ANY(ARRAY(
             SELECT id FROM grants g WHERE expires_at <= $1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = g.id)
             LIMIT $2 FOR UPDATE SKIP LOCKED))`,
    cutoff: (at) => at - GRANT_AFTER_EXPIRY_MS,
  },
  purgeExpired('revoked_access_tokens', 'jti', 'expires_at', expiredByNow),
  purgeExpired('rate_limits', 'key', 'reset_at', expiredByNow),
  // Audit events are kept EVENT_RETENTION_MS (`at < cutoff` and `at <= cutoff - 1` are the same for integer ms).
  purgeExpired('events', 'id', 'at', (at) => at - EVENT_RETENTION_MS - 1),
];

function toClient(r: Row): ClientRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    secretHash: r.secret_hash as string | null,
    redirectUris: r.redirect_uris as string[],
    scopes: r.scopes as string[],
    grantTypes: r.grant_types as ClientRecord['grantTypes'],
    resources: r.resources as string[],
    createdAt: r.created_at as number,
  };
}

function toUser(r: Row): UserRecord {
  return { id: r.id as string, username: r.username as string, passwordHash: r.password_hash as string, createdAt: r.created_at as number };
}

function toSession(r: Row): SessionRecord {
  return {
    idHash: r.id_hash as string,
    userId: r.user_id as string,
    authTime: r.auth_time as number,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}

function toConsent(r: Row): ConsentRecord {
  return { userId: r.user_id as string, clientId: r.client_id as string, scope: r.scope as string[], grantedAt: r.granted_at as number };
}

function toGrant(r: Row): GrantRecord {
  return {
    id: r.id as string,
    clientId: r.client_id as string,
    userId: r.user_id as string,
    scope: r.scope as string[],
    resource: r.resource as string | null,
    authTime: r.auth_time as number,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    revokedAt: r.revoked_at as number | null,
  };
}

function toRefreshToken(r: Row): RefreshTokenRecord {
  return {
    hash: r.hash as string,
    grantId: r.grant_id as string,
    clientId: r.client_id as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    rotatedAt: r.rotated_at as number | null,
  };
}

function toKey(r: Row): KeyRecord {
  return {
    kid: r.kid as string,
    alg: r.alg as KeyRecord['alg'],
    publicJwk: r.public_jwk as string,
    privateJwkEncrypted: r.private_jwk_encrypted as string,
    createdAt: r.created_at as number,
    activatesAt: r.activates_at as number,
    retiresAt: r.retires_at as number | null,
    expiresAt: r.expires_at as number | null,
  };
}

/**
 * The scale-out Store: several stateless Latchkey instances share one PostgreSQL. Every race is
 * decided by one statement in the database. The only things kept in process are clients and
 * sign-ins, forgotten whenever PostgreSQL notifies a change (notified-cache.ts).
 */
export class PostgresStore implements Store {
  /** The pool, for the CLI and for tests that look behind the port. */
  readonly pool: pg.Pool;
  /** Undefined when turned off. */
  readonly cache: NotifiedCache | undefined;
  private pendingEvents: Array<{ event: AuditEvent; resolve: () => void; reject: (error: unknown) => void }> = [];
  private eventTimer: NodeJS.Timeout | undefined;
  /** Settles when every batch handed to the database so far is written (successfully or not). */
  private eventsWritten: Promise<void> = Promise.resolve();

  /** The pipelined connections of the request path; undefined when turned off (pipelines: 0). */
  readonly pipelines: Pipelines | undefined;

  private constructor(pool: pg.Pool, cache: NotifiedCache | undefined, pipelines: Pipelines | undefined) {
    this.pool = pool;
    this.cache = cache;
    this.pipelines = pipelines;
  }

  /** Connects, creates the schema if asked, and applies missing migrations. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    if (options.schema !== undefined) assertSchemaName(options.schema);
    const connection: pg.ClientConfig = {
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      // TCP keepalive notices a server that vanished without closing the connection.
      keepAlive: true,
      application_name: options.applicationName ?? 'latchkey',
      // search_path is set at connection start, so no statement needs a schema prefix.
      ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
      types: int8AsNumber,
    };
    const pool = new pg.Pool({ ...connection, max: options.max ?? 10 });
    // An idle client whose server went away emits here; without a listener the process would
    // crash. pg drops that client from the pool; the next query connects afresh or fails mapped.
    pool.on('error', () => undefined);
    try {
      await migrate(pool, options.schema !== undefined ? { schema: options.schema } : {});
      let cache: NotifiedCache | undefined;
      if (options.clientCache ?? true) {
        const { rows } = await pool.query<{ schema: string }>('SELECT current_schema() AS schema');
        cache = new NotifiedCache({
          schema: rows[0]!.schema,
          connect: () => new pg.Client({ ...connection, application_name: `${connection.application_name}-listener` }),
        });
        await cache.start();
      }
      const pipelines = (options.pipelines ?? 2) > 0 ? new Pipelines(connection, options.pipelines ?? 2) : undefined;
      return new PostgresStore(pool, cache, pipelines);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw mapError(error);
    }
  }

  private async run(name: StatementName, values: unknown[]): Promise<pg.QueryResult<Row>> {
    try {
      const query = { name, text: sql[name], values };
      return await (this.pipelines && pipelined.has(name) ? this.pipelines.query<Row>(query) : this.pool.query<Row>(query));
    } catch (error) {
      throw mapError(error);
    }
  }

  private async rows(name: StatementName, values: unknown[]): Promise<Row[]> {
    return (await this.run(name, values)).rows;
  }

  private async first(name: StatementName, values: unknown[]): Promise<Row | undefined> {
    return (await this.run(name, values)).rows[0];
  }

  async createClient(c: ClientRecord): Promise<void> {
    await this.run('insertClient', [c.id, c.name, c.secretHash, c.redirectUris, c.scopes, c.grantTypes, c.resources, c.createdAt]).catch(
      conflict(`client ${c.id} exists`),
    );
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    return this.cache ? this.cache.clients.get(id, () => this.readClient(id)) : this.readClient(id);
  }

  private async readClient(id: string): Promise<ClientRecord | undefined> {
    const row = await this.first('findClient', [id]);
    return row && toClient(row);
  }

  async listClients(): Promise<ClientRecord[]> {
    return (await this.rows('listClients', [])).map(toClient);
  }

  async deleteClient(id: string): Promise<boolean> {
    try {
      return (await this.first('deleteClient', [id]))?.deleted === 1;
    } finally {
      this.cache?.invalidate();
    }
  }

  async createUser(u: UserRecord): Promise<void> {
    await this.run('insertUser', [u.id, u.username, u.passwordHash, u.createdAt]).catch(conflict(`username ${u.username} is taken`));
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const row = await this.first('findUserById', [id]);
    return row && toUser(row);
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.first('findUserByUsername', [username]);
    return row && toUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.rows('listUsers', [])).map(toUser);
  }

  async deleteUser(id: string): Promise<boolean> {
    return (await this.changingSignIns(() => this.first('deleteUser', [id])))?.deleted === 1;
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.run('insertSession', [s.idHash, s.userId, s.authTime, s.createdAt, s.expiresAt]).catch(conflict('session exists'));
  }

  async findSession(idHash: string, now: number): Promise<SessionRecord | undefined> {
    const row = await this.first('findSession', [idHash, now]);
    return row && toSession(row);
  }

  /*
   * The authorization endpoint's one look-up, from the cache (NotifiedCache) while it is
   * listening: a session only while unexpired at `now`, as the statement checks.
   */
  findSessionWithConsent(idHash: string, now: number, clientId: string): Promise<SignIn | undefined> {
    const read = () => this.readSignIn(idHash, now, clientId);
    return this.cache ? this.cache.signIns.get(`${idHash} ${clientId}`, read, (s) => s.session.expiresAt > now) : read();
  }

  private async readSignIn(idHash: string, now: number, clientId: string): Promise<SignIn | undefined> {
    const row = await this.first('findSessionWithConsent', [idHash, now, clientId]);
    if (!row) return undefined;
    const session = toSession(row);
    const consent = row.consent_scope === null ? undefined : { userId: session.userId, clientId, scope: row.consent_scope as string[], grantedAt: row.consent_granted_at as number };
    return { session, consent };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.changingSignIns(() => this.run('deleteSession', [idHash]));
  }

  /**
   * Runs a statement that changes sessions or consents. This instance forgets its sign-ins at
   * once, even when the outcome is unknown; the others when PostgreSQL's notification arrives.
   */
  private async changingSignIns<T>(change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      this.cache?.signIns.invalidate();
    }
  }

  async createInteraction(i: InteractionRecord): Promise<void> {
    await this.run('insertInteraction', [i.id, i.clientId, JSON.stringify(i.request), i.createdAt, i.expiresAt]).catch(
      conflict(`interaction ${i.id} exists`),
    );
  }

  async findInteraction(id: string, now: number): Promise<InteractionRecord | undefined> {
    const r = await this.first('findInteraction', [id, now]);
    if (!r) return undefined;
    return {
      id: r.id as string,
      clientId: r.client_id as string,
      request: r.request as InteractionRecord['request'],
      createdAt: r.created_at as number,
      expiresAt: r.expires_at as number,
    };
  }

  async deleteInteraction(id: string): Promise<boolean> {
    return (await this.run('deleteInteraction', [id])).rowCount === 1;
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const row = await this.first('findConsent', [userId, clientId]);
    return row && toConsent(row);
  }

  async saveConsent(c: ConsentRecord): Promise<void> {
    await this.changingSignIns(() => this.run('upsertConsent', [c.userId, c.clientId, c.scope, c.grantedAt]));
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return (await this.rows('listConsents', [userId])).map(toConsent);
  }

  async revokeConsent(userId: string, clientId: string, now: number): Promise<void> {
    await this.changingSignIns(() => this.run('revokeConsent', [userId, clientId, now]));
  }

  async redeemCode(g: GrantRecord, t: RefreshTokenRecord | null, codeIssuedAt: number): Promise<boolean> {
    const row = await this.first('redeemCode', [
      g.id,
      g.clientId,
      g.userId,
      g.scope,
      g.resource,
      g.authTime,
      g.createdAt,
      g.expiresAt,
      g.revokedAt,
      codeIssuedAt,
      t?.hash ?? null,
      t?.grantId ?? null,
      t?.clientId ?? null,
      t?.createdAt ?? null,
      t?.expiresAt ?? null,
      t?.rotatedAt ?? null,
    ]).catch(conflict(`refresh token of grant ${g.id} exists`));
    return row?.redeemed === 1;
  }

  async findGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await this.first('findGrant', [id]);
    return row && toGrant(row);
  }

  async revokeGrant(id: string, now: number): Promise<void> {
    await this.run('revokeGrant', [id, now]);
  }

  async findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined> {
    const row = await this.first('findRefreshToken', [hash]);
    return row && toRefreshToken(row);
  }

  async rotateRefreshToken(hash: string, s: RefreshTokenRecord, now: number, retryWindowMs: number): Promise<RotationResult> {
    const row = await this.first('rotateRefreshToken', [hash, now, now - retryWindowMs, s.hash, s.grantId, s.clientId, s.createdAt, s.expiresAt, s.rotatedAt]);
    return row ? { kind: 'rotated' } : { kind: 'rejected' };
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    await this.run('revokeAccessToken', [jti, expiresAt]);
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return (await this.run('isAccessTokenRevoked', [jti])).rowCount === 1;
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.rows('listKeys', [])).map(toKey);
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.run('insertKey', [k.kid, k.alg, k.publicJwk, k.privateJwkEncrypted, k.createdAt, k.activatesAt, k.retiresAt, k.expiresAt]).catch(
      conflict(`key ${k.kid} exists`),
    );
  }

  async updateKey(kid: string, changes: Partial<Pick<KeyRecord, 'activatesAt' | 'retiresAt' | 'expiresAt'>>): Promise<void> {
    await this.run('updateKey', [
      kid,
      changes.activatesAt !== undefined,
      changes.activatesAt ?? null,
      changes.retiresAt !== undefined,
      changes.retiresAt ?? null,
      changes.expiresAt !== undefined,
      changes.expiresAt ?? null,
    ]);
  }

  async deleteKey(kid: string): Promise<void> {
    await this.run('deleteKey', [kid]);
  }

  async putSecretIfAbsent(name: string, value: string, now: number): Promise<string> {
    return (await this.first('putSecretIfAbsent', [name, value, now]))!.value as string;
  }

  /**
   * Audit events are written in batches: the first event waits EVENT_BATCH_MS for others, then
   * all go in one INSERT. Each event is its own statement and commit otherwise, which cost a
   * full flow about a fifth of its throughput (docs/benchmarks.md). The promise settles once the
   * event's batch is committed; the request that caused the event never waits for it.
   */
  appendEvent(e: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingEvents.push({ event: e, resolve, reject });
      if (this.pendingEvents.length >= EVENT_BATCH_MAX) void this.flushEvents();
      else this.eventTimer ??= setTimeout(() => void this.flushEvents(), EVENT_BATCH_MS);
    });
  }

  /** Writes the pending events; batches are written one after another, so ids follow append order. */
  private flushEvents(): Promise<void> {
    clearTimeout(this.eventTimer);
    this.eventTimer = undefined;
    const batch = this.pendingEvents;
    this.pendingEvents = [];
    if (batch.length === 0) return this.eventsWritten;
    const events = batch.map((p) => p.event);
    this.eventsWritten = this.eventsWritten.then(() =>
      this.run('insertEvents', [
        events.map((e) => e.at),
        events.map((e) => e.type),
        events.map((e) => e.clientId ?? null),
        events.map((e) => e.userId ?? null),
        events.map((e) => (e.detail ? JSON.stringify(e.detail) : null)),
      ]).then(
        () => batch.forEach((p) => p.resolve()),
        (error: unknown) => batch.forEach((p) => p.reject(error)),
      ),
    );
    return this.eventsWritten;
  }

  async listEvents(filter: EventFilter): Promise<StoredAuditEvent[]> {
    // Events appended by this instance and not yet written are part of the trail being read.
    await this.flushEvents();
    // Built per call (unnamed): only the filters given reach the planner, so each combination
    // gets a plan that uses the matching index instead of one generic plan for all.
    const values: unknown[] = [filter.since ?? 0];
    const where = ['at >= $1'];
    if (filter.clientId !== undefined) where.push(`client_id = $${values.push(filter.clientId)}`);
    if (filter.type !== undefined) where.push(`type = $${values.push(filter.type)}`);
    const limit = `$${values.push(filter.limit ?? 100)}`;
    const text = `SELECT id, at, type, client_id, user_id, detail FROM events WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC LIMIT ${limit}`;
    let result: pg.QueryResult<Row>;
    try {
      result = await this.pool.query<Row>(text, values);
    } catch (error) {
      throw mapError(error);
    }
    return result.rows.map((r) => ({
      id: r.id as number,
      at: r.at as number,
      type: r.type as string,
      clientId: r.client_id as string | null,
      userId: r.user_id as string | null,
      detail: (r.detail ?? {}) as Record<string, unknown>,
    }));
  }

  async hit(key: string, now: number, windowMs: number): Promise<{ count: number; resetAt: number }> {
    const row = (await this.first('hit', [key, now, now + windowMs]))!;
    return { count: row.count as number, resetAt: row.reset_at as number };
  }

  async resetHits(key: string): Promise<void> {
    await this.run('resetHits', [key]);
  }

  async peekHits(key: string, now: number): Promise<number> {
    const row = await this.first('peekHits', [key, now]);
    return row ? (row.count as number) : 0;
  }

  async purgeExpired(now: number, batch: number): Promise<number> {
    let removed = 0;
    for (const statement of purgeStatements) {
      try {
        const result = await this.pool.query({ name: statement.name, text: statement.text, values: [statement.cutoff(now), batch] });
        removed += result.rowCount ?? 0;
      } catch (error) {
        throw mapError(error);
      }
    }
    return removed;
  }

  async ping(): Promise<void> {
    await this.run('ping', []);
  }

  async close(): Promise<void> {
    await this.flushEvents();
    await this.cache?.close();
    await this.pipelines?.end();
    if (!this.pool.ended) await this.pool.end();
  }
}

/** SQLSTATEs and socket errors that mean "the database cannot be reached right now". */
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown (pg_terminate_backend, fast shutdown)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '57014', // query_canceled: statement_timeout, or cancelled by an operator
  '53300', // too_many_connections
  '3D000', // invalid_catalog_name: the database does not exist
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
]);

const unavailableMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end on the pool',
  'Client was closed and is not queryable',
];

/** Connection failures become StoreUnavailableError (the HTTP layer answers 503); others pass through. */
export function mapError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || error instanceof StoreConflictError) return error;
  if (!(error instanceof Error)) return error;
  const code = 'code' in error ? String((error as { code: unknown }).code) : '';
  const unavailable =
    code.startsWith('08') || // connection_exception class
    unavailableCodes.has(code) ||
    unavailableMessages.some((m) => error.message.includes(m)) ||
    (error instanceof AggregateError && error.errors.some((e) => mapError(e) instanceof StoreUnavailableError));
  return unavailable ? new StoreUnavailableError(`PostgreSQL unavailable: ${error.message || code}`, { cause: error }) : error;
}

/** 23505 unique_violation becomes StoreConflictError. */
function conflict(message: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === '23505') {
      throw new StoreConflictError(message);
    }
    throw error;
  };
}
