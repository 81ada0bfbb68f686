/**
 * SQLite schema, versioned. Each entry is applied once, in order, inside one transaction, and
 * recorded in schema_migrations. Never edit an applied migration: add a new one.
 * Times are INTEGER milliseconds since the epoch; lists are JSON text.
 */
export const sqliteMigrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE clients (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash TEXT,
  redirect_uris TEXT NOT NULL,
  scopes TEXT NOT NULL,
  grant_types TEXT NOT NULL,
  resources TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  auth_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE interactions (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  request TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX interactions_expires_at ON interactions (expires_at);

CREATE TABLE consents (
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id ON consents (client_id);

CREATE TABLE codes (
  hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  grant_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  redirect_uri_explicit INTEGER NOT NULL,
  code_challenge TEXT,
  scope TEXT NOT NULL,
  resource TEXT,
  auth_time INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER
);
CREATE INDEX codes_expires_at ON codes (expires_at);
CREATE INDEX codes_client_id ON codes (client_id);

CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  resource TEXT,
  auth_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX grants_expires_at ON grants (expires_at);
CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_client_id ON grants (client_id);

CREATE TABLE refresh_tokens (
  hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated_at INTEGER
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_jwk_encrypted TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  activates_at INTEGER NOT NULL,
  retires_at INTEGER,
  expires_at INTEGER
);

CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  client_id TEXT,
  user_id TEXT,
  detail TEXT
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_client_id_at ON events (client_id, at);

CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  reset_at INTEGER NOT NULL
);
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
    name: 'index codes by client alone: P8 (a reused PKCE challenge) is detected in process memory',
    // codes_client_challenge, keyed by a random challenge, cost every code a random index page in
    // its commit; (client_id) sorts each client's codes by rowid, so inserts append.
    sql: `DROP INDEX codes_client_challenge;
CREATE INDEX codes_client_id ON codes (client_id);`,
  },
  {
    version: 5,
    name: 'revoke a consent\'s grants by generation: drop grants_user_id, the one index a new grant wrote at a random page',
    // grants_user_id, keyed by user, put each new grant's entry on a page of its own in the batch's
    // commit; every other index a full flow writes appends. A consent revocation now adds a row
    // here instead of updating the user's grants, and a grant created under generation n is
    // revoked by the (user, client)'s revocation n + 1 (SqliteStore.revokeConsent).
    sql: `DROP INDEX grants_user_id;
ALTER TABLE grants ADD COLUMN consent_generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE consent_revocations (
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id, generation)
) WITHOUT ROWID;`,
  },
  {
    version: 6,
    name: 'events keyed by time: an id of at x 1024 and up replaces the index on at; events_client_id_at, which no query used, goes',
    // Every full flow appends two events; each wrote its row, two index entries and, for
    // AUTOINCREMENT, sqlite_sequence. Ids now sort as the events' times (SqliteStore.appendEvent),
    // so listing and purging by time are ranges of the table itself.
    sql: `CREATE TABLE events_by_time (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  client_id TEXT,
  user_id TEXT,
  detail TEXT
);
INSERT INTO events_by_time (id, at, type, client_id, user_id, detail)
  SELECT at * 1024 + row_number() OVER (PARTITION BY at ORDER BY id) - 1, at, type, client_id, user_id, detail FROM events;
DROP TABLE events;
ALTER TABLE events_by_time RENAME TO events;`,
  },
  {
    version: 7,
    name: 'drop codes: authorization codes are sealed, not stored; their redemption is the grant row',
    // A code carries its own record (core/sealed-code.ts); SqliteStore.redeemCode inserts its grant
    // only if absent. Codes issued by the previous version cannot be opened and are lost, as a
    // code lives minutes at most. The table's indexes go with it.
    sql: `DROP TABLE IF EXISTS codes;`,
  },
];
