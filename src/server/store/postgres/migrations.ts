import pg from 'pg';

/**
 * PostgreSQL schema, versioned. Each entry is applied once, in order, and recorded in
 * schema_migrations. Never edit an applied migration: add a new one.
 *
 * Times are BIGINT milliseconds since the epoch (parsed to JS numbers by the store's pool);
 * string lists are text[]; structured values are JSONB. Every expiry column is indexed, because
 * purgeExpired deletes by it in small batches. Tables whose rows are updated in place on the hot
 * path (refresh_tokens.rotated_at, grants.revoked_at, rate_limits) leave room in each page so
 * those updates stay HOT (no index writes): none of the updated columns is indexed. Authorization
 * codes are not stored since migration 8 (a code is sealed, and its grant row records its use);
 * the codes table is left for instances of earlier versions during a rolling upgrade.
 */
export const postgresMigrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE clients (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_hash text,
  redirect_uris text[] NOT NULL,
  scopes text[] NOT NULL,
  grant_types text[] NOT NULL,
  resources text[] NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE users (
  id text PRIMARY KEY,
  username text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE sessions (
  id_hash text PRIMARY KEY,
  user_id text NOT NULL,
  auth_time bigint NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE interactions (
  id text PRIMARY KEY,
  client_id text NOT NULL,
  request jsonb NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX interactions_expires_at ON interactions (expires_at);
CREATE INDEX interactions_client_id ON interactions (client_id);

CREATE TABLE consents (
  user_id text NOT NULL,
  client_id text NOT NULL,
  scope text[] NOT NULL,
  granted_at bigint NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE codes (
  hash text PRIMARY KEY,
  client_id text NOT NULL,
  user_id text NOT NULL,
  grant_id text NOT NULL,
  redirect_uri text NOT NULL,
  redirect_uri_explicit boolean NOT NULL,
  code_challenge text,
  scope text[] NOT NULL,
  resource text,
  auth_time bigint NOT NULL,
  expires_at bigint NOT NULL,
  consumed_at bigint
) WITH (fillfactor = 90);
CREATE INDEX codes_expires_at ON codes (expires_at);
CREATE INDEX codes_client_id ON codes (client_id);
CREATE INDEX codes_user_id ON codes (user_id);

CREATE TABLE grants (
  id text PRIMARY KEY,
  client_id text NOT NULL,
  user_id text NOT NULL,
  scope text[] NOT NULL,
  resource text,
  auth_time bigint NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
) WITH (fillfactor = 90);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_client_id ON grants (client_id);
-- purgeExpired finds the refresh tokens of revoked grants through this.
CREATE INDEX grants_revoked_at ON grants (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
  hash text PRIMARY KEY,
  grant_id text NOT NULL,
  client_id text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  rotated_at bigint
) WITH (fillfactor = 90);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_client_id ON refresh_tokens (client_id);

CREATE TABLE revoked_access_tokens (
  jti text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE keys (
  kid text PRIMARY KEY,
  alg text NOT NULL,
  public_jwk text NOT NULL,
  private_jwk_encrypted text NOT NULL,
  created_at bigint NOT NULL,
  activates_at bigint NOT NULL,
  retires_at bigint,
  expires_at bigint
);

CREATE TABLE secrets (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  type text NOT NULL,
  client_id text,
  user_id text,
  detail jsonb
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_client_id_at ON events (client_id, at);

CREATE TABLE rate_limits (
  key text PRIMARY KEY,
  count integer NOT NULL,
  reset_at bigint NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX rate_limits_reset_at ON rate_limits (reset_at);
`,
  },
  {
    version: 2,
    name: 'index codes by client and challenge (P8: a reused PKCE challenge is found by a read)',
    sql: `CREATE INDEX codes_client_challenge ON codes (client_id, code_challenge);`,
  },
  {
    version: 3,
    name: 'drop codes_client_id: codes_client_challenge begins with client_id and serves the same lookups',
    // One index fewer to write per code issued.
    sql: `DROP INDEX codes_client_id;`,
  },
  {
    version: 4,
    name: 'notify latchkey_clients on every change to clients (instances keep clients cached until told)',
    // Per statement, after it: the notification is sent when the transaction commits, with the
    // schema so that deployments sharing a database ignore each other's changes.
    sql: `
CREATE FUNCTION notify_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('latchkey_clients', TG_TABLE_SCHEMA);
  RETURN NULL;
END
$$;
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
  FOR EACH STATEMENT EXECUTE FUNCTION notify_clients_changed();`,
  },
  {
    version: 5,
    name: 'index codes by client and hash, consents by client and user: P8 is detected in process memory',
    // Keyed by a random challenge, codes_client_challenge cost every code insert a random index
    // page. The new indexes serve deletion by client through their first column, and match the
    // hot look-ups (a code by hash and client, a consent by user and client) on every column: a
    // generic plan made while the tables were empty once chose an index on client_id alone for
    // those, and read every code of the client on each redemption.
    sql: `DROP INDEX codes_client_challenge;
CREATE INDEX codes_client_hash ON codes (client_id, hash);
DROP INDEX consents_client_id;
CREATE INDEX consents_client_user ON consents (client_id, user_id);`,
  },
  {
    version: 6,
    name: 'notify latchkey_sign_ins on every change to a session (but an insert) or a consent (instances keep sign-ins cached until told)',
    // As migration 4. A new session needs no notice: a session that was not found is never kept.
    sql: `
CREATE FUNCTION notify_sign_ins_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('latchkey_sign_ins', TG_TABLE_SCHEMA);
  RETURN NULL;
END
$$;
CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE OR TRUNCATE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION notify_sign_ins_changed();
CREATE TRIGGER consents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON consents
  FOR EACH STATEMENT EXECUTE FUNCTION notify_sign_ins_changed();`,
  },
  {
    version: 7,
    name: 'identifiers, token digests and rate-limit keys compared byte by byte (COLLATE "C")',
    // These columns hold opaque ASCII keys, compared only for equality and ordered only within
    // an index. Under the database's collation (C.UTF-8, en_US.UTF-8, ...) every index step
    // compares through strcoll; "C" compares bytes. Each table's indexes on them are rebuilt
    // once, under an exclusive lock; the rows are not rewritten. Usernames keep the database's
    // collation: people read them sorted.
    sql: `
ALTER TABLE clients ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE users ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE sessions ALTER COLUMN id_hash TYPE text COLLATE "C", ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE interactions ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN client_id TYPE text COLLATE "C";
ALTER TABLE consents ALTER COLUMN user_id TYPE text COLLATE "C", ALTER COLUMN client_id TYPE text COLLATE "C";
ALTER TABLE codes ALTER COLUMN hash TYPE text COLLATE "C", ALTER COLUMN client_id TYPE text COLLATE "C",
  ALTER COLUMN user_id TYPE text COLLATE "C", ALTER COLUMN grant_id TYPE text COLLATE "C";
ALTER TABLE grants ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN client_id TYPE text COLLATE "C",
  ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE refresh_tokens ALTER COLUMN hash TYPE text COLLATE "C", ALTER COLUMN grant_id TYPE text COLLATE "C",
  ALTER COLUMN client_id TYPE text COLLATE "C";
ALTER TABLE revoked_access_tokens ALTER COLUMN jti TYPE text COLLATE "C";
ALTER TABLE keys ALTER COLUMN kid TYPE text COLLATE "C";
ALTER TABLE secrets ALTER COLUMN name TYPE text COLLATE "C";
ALTER TABLE events ALTER COLUMN client_id TYPE text COLLATE "C", ALTER COLUMN user_id TYPE text COLLATE "C";
ALTER TABLE rate_limits ALTER COLUMN key TYPE text COLLATE "C";`,
  },
  {
    version: 8,
    name: 'add consent_revocations: codes are sealed, not stored; a redemption is its grant row, refused for a code issued before its consent was revoked',
    // A code carries its own record (core/sealed-code.ts), and redeemCode's insert of the grant is
    // the single-use check (RFC 6749 §4.1.2). A (user, client)'s latest revocation refuses the
    // codes issued before it; one row per pair, like consents, gone with the user or client. The
    // codes table stays for now: instances of the previous version still write it during a
    // rolling upgrade, and the purge empties it.
    sql: `
CREATE TABLE consent_revocations (
  user_id text COLLATE "C" NOT NULL,
  client_id text COLLATE "C" NOT NULL,
  revoked_at bigint NOT NULL,
  PRIMARY KEY (user_id, client_id)
);`,
  },
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name before it goes into SQL text (search_path, CREATE SCHEMA). */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  }
}

export interface MigrateOptions {
  /** Schema to create (if missing) and migrate; the connection's search_path otherwise. */
  schema?: string;
  /** Time source for schema_migrations.applied_at. */
  now?: () => number;
}

/**
 * Applies the migrations that are missing, in one transaction, and returns the versions it
 * applied (empty when the schema was current). A transaction-scoped advisory lock, keyed by the
 * schema, makes several instances starting at once apply each migration exactly once: the others
 * wait, then find nothing left to do. Usable by `latchkey migrate` with a plain pg.Client.
 */
export async function migrate(db: pg.Pool | pg.ClientBase, options: MigrateOptions = {}): Promise<number[]> {
  const { schema, now = Date.now } = options;
  if (schema !== undefined) assertSchemaName(schema);
  const client = db instanceof pg.Pool ? await db.connect() : db;
  let failed = false;
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`latchkey.migrate:${schema ?? ''}`]);
      if (schema !== undefined) {
        const quoted = pg.escapeIdentifier(schema);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
        await client.query(`SET LOCAL search_path TO ${quoted}`);
      }
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const present = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of postgresMigrations) {
        if (present.has(m.version)) continue;
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
        applied.push(m.version);
      }
      await client.query('COMMIT');
      return applied;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (client !== db) (client as pg.PoolClient).release(failed);
  }
}
