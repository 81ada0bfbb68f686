/**
 * A session store in its own SQLite file (better-sqlite3), so sessions survive a restart and
 * can be shared by processes on one machine. Tokens are stored in clear: protect the file like
 * any other secret of the application (file permissions, disk encryption).
 */
// Type-only: the driver is loaded by open(), so applications using another store never load the
// native module just by importing latchkey/client.
import type Database from 'better-sqlite3';
import type { SessionData, SessionStore } from './session-store.js';

export class SqliteSessionStore implements SessionStore {
  readonly db: Database.Database;
  readonly #now: () => number;
  readonly #get: Database.Statement<[string, number]>;
  readonly #set: Database.Statement<[string, string, number]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #purge: Database.Statement<[number]>;
  #writes = 0;

  private constructor(db: Database.Database, now: () => number) {
    this.db = db;
    this.#now = now;
    db.exec(`CREATE TABLE IF NOT EXISTS latchkey_client_sessions (
      key TEXT PRIMARY KEY,
      data TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID`);
    db.exec('CREATE INDEX IF NOT EXISTS latchkey_client_sessions_expires ON latchkey_client_sessions (expires_at)');
    this.#get = db.prepare('SELECT data FROM latchkey_client_sessions WHERE key = ? AND expires_at > ?');
    this.#set = db.prepare(
      'INSERT INTO latchkey_client_sessions (key, data, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at',
    );
    this.#delete = db.prepare('DELETE FROM latchkey_client_sessions WHERE key = ?');
    this.#purge = db.prepare('DELETE FROM latchkey_client_sessions WHERE expires_at <= ?');
  }

  /** Opens (creating if needed) the file; `:memory:` works for tests. */
  static async open(filename: string, options: { now?: () => number } = {}): Promise<SqliteSessionStore> {
    const { default: DatabaseConstructor } = await import('better-sqlite3');
    const db = new DatabaseConstructor(filename);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    return new SqliteSessionStore(db, options.now ?? Date.now);
  }

  async get(key: string): Promise<SessionData | undefined> {
    const row = this.#get.get(key, this.#now()) as { data: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.data) as SessionData);
  }

  async set(key: string, data: SessionData, expiresAt: number): Promise<void> {
    this.#set.run(key, JSON.stringify(data), expiresAt);
    // Expired rows are invisible to get(); clear them out now and then.
    if (++this.#writes % 100 === 0) this.purgeExpired();
  }

  async delete(key: string): Promise<void> {
    this.#delete.run(key);
  }

  /** Deletes expired sessions; returns how many went. */
  purgeExpired(): number {
    return this.#purge.run(this.#now()).changes;
  }

  close(): void {
    this.db.close();
  }
}
