import { sqliteMigrations } from '../../src/server/store/sqlite/migrations.js';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore, type SqliteStoreOptions } from '../../src/server/store/sqlite/sqlite-store.js';
import { CheckpointThread } from '../../src/server/store/sqlite/checkpoint-thread.js';
import { clientRecord, grantRecord, refreshRecord, storeContract, T0, userRecord } from './contract.js';
import Database from 'better-sqlite3';
import { StoreConflictError, StoreUnavailableError } from '../../src/server/core/ports.js';
import { EVENT_RETENTION_MS, GRANT_AFTER_EXPIRY_MS } from '../../src/server/store/retention.js';

const DAY = 24 * 3600 * 1000;

/** The contract on a SQLite file; with turnSnapshot, as `latchkey serve` runs it (one process). */
function sqliteContract(name: string, options: SqliteStoreOptions): void {
  storeContract(name, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
    const store = SqliteStore.open(join(dir, 'latchkey.db'), options);
    return {
      store,
      rows: async (table) => (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
sqliteContract('sqlite', {});
sqliteContract('sqlite (turnSnapshot)', { turnSnapshot: true });
sqliteContract('sqlite (turnSnapshot, checkpoint thread)', { turnSnapshot: true, checkpointPeriodMs: 5 });

/** Runs `body` with the path of a database file in a new temporary directory, removed afterwards. */
async function withFile(body: (file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
  try {
    await body(join(dir, 'latchkey.db'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A database file as the store left it at migration `version`: open, for rows to be added. */
function fileAtVersion(file: string, version: number): Database.Database {
  const old = new Database(file);
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  for (const m of sqliteMigrations.filter((m) => m.version <= version)) {
    old.exec(m.sql);
    old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, T0);
  }
  return old;
}

/** A store on a new file with user u1, in which codes of client c1 can be redeemed. */
async function withStore(body: (store: SqliteStore, file: string) => Promise<void>, options: SqliteStoreOptions = {}): Promise<void> {
  await withFile(async (file) => {
    const store = SqliteStore.open(file, options);
    try {
      await store.createUser(userRecord('u1'));
      await body(store, file);
    } finally {
      await store.close();
    }
  });
}

describe('SqliteStore', () => {
  it('opens in WAL mode with synchronous=NORMAL, a 2 MB page cache and savepoints kept in memory', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file);
      try {
        expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(store.db.pragma('synchronous', { simple: true })).toBe(1);
        expect(store.db.pragma('cache_size', { simple: true })).toBe(-2000);
        expect(store.db.pragma('temp_store', { simple: true })).toBe(2);
      } finally {
        await store.close();
      }
    });
  });

  it('keeps its data across a close and a reopen of the file, and migrates only once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
    try {
      const file = join(dir, 'latchkey.db');
      const first = SqliteStore.open(file);
      await first.createClient(clientRecord('c1'));
      await first.close();
      const second = SqliteStore.open(file);
      expect(await second.findClient('c1')).toEqual(clientRecord('c1'));
      const versions = second.db.prepare('SELECT version FROM schema_migrations').all();
      expect(versions).toEqual(sqliteMigrations.map((m) => ({ version: m.version })));
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteStore schema migrations 5 and 6', () => {
  it('a version-4 file keeps its revoked grants revoked and its events, in order, with ids by time', async () => {
    await withFile(async (file) => {
      const old = fileAtVersion(file, 4);
      const grant = old.prepare(
        "INSERT INTO grants (id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at) VALUES (?, 'c1', 'u1', '[]', NULL, 0, ?, ?, ?)",
      );
      grant.run('g-revoked', T0, T0 + 1000, T0 + 5);
      grant.run('g-live', T0, T0 + 1000, null);
      const event = old.prepare("INSERT INTO events (at, type) VALUES (?, ?)");
      for (const [at, type] of [[T0, 'a'], [T0, 'b'], [T0 + 1, 'c']] as const) event.run(at, type);
      old.close();

      const store = SqliteStore.open(file);
      try {
        expect((await store.findGrant('g-revoked'))?.revokedAt).toBe(T0 + 5);
        expect((await store.findGrant('g-live'))?.revokedAt).toBeNull();
        await store.appendEvent({ type: 'd', at: T0 + 1 });
        const events = await store.listEvents({ since: T0 });
        expect(events.map((e) => [e.type, e.id])).toEqual([
          ['d', (T0 + 1) * 1024 + 1],
          ['c', (T0 + 1) * 1024],
          ['b', T0 * 1024 + 1],
          ['a', T0 * 1024],
        ]);
      } finally {
        await store.close();
      }
    });
  });

  it('an event appended after the clock stepped back still lists first, and is found by its own time', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file);
      try {
        await store.appendEvent({ type: 'before', at: T0 + 100 });
        await store.appendEvent({ type: 'after-step-back', at: T0 + 50 });
        expect((await store.listEvents({})).map((e) => e.type)).toEqual(['after-step-back', 'before']);
        expect((await store.listEvents({ since: T0 + 60 })).map((e) => e.type)).toEqual(['before']);
        expect((await store.listEvents({ since: T0 + 50 })).map((e) => e.type)).toEqual(['after-step-back', 'before']);
      } finally {
        await store.close();
      }
    });
  });
});

describe('SqliteStore schema migration 7', () => {
  it('C3 RFC 6749 §4.1.2: a version-6 file loses its codes table and indexes, and keeps its grants, which still mark their codes redeemed', async () => {
    await withFile(async (file) => {
      const old = fileAtVersion(file, 6);
      old
        .prepare(
          "INSERT INTO codes (hash, client_id, user_id, grant_id, redirect_uri, redirect_uri_explicit, code_challenge, scope, resource, auth_time, expires_at, consumed_at) VALUES ('h1', 'c1', 'u1', 'g1', 'https://c1.example/callback', 1, NULL, '[]', NULL, 0, ?, ?)",
        )
        .run(T0 + 60_000, T0);
      old.prepare("INSERT INTO users (id, username, password_hash, created_at) VALUES ('u1', 'name-u1', 'x', ?)").run(T0);
      old.prepare(
        "INSERT INTO grants (id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at) VALUES ('g1', 'c1', 'u1', '[]', NULL, 0, ?, ?, NULL)",
      ).run(T0, T0 + 1000);
      old.close();

      const store = SqliteStore.open(file);
      try {
        expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'codes%'").all()).toEqual([]);
        expect(store.db.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: 7 });
        expect((await store.findGrant('g1'))?.id).toBe('g1');
        expect(await store.redeemCode(grantRecord('g1'), null, T0)).toBe(false);
      } finally {
        await store.close();
      }
    });
  });
});

describe('SqliteStore redeemCode and purge', () => {
  it('C3 RFC 6749 §4.1.2: a redemption whose refresh token exists fails alone, leaving no grant, while the rest of its batch commits', async () => {
    await withStore(async (store) => {
      expect(await store.redeemCode(grantRecord('g0'), refreshRecord('r0', 'g0'), T0)).toBe(true);
      const [conflict, created] = await Promise.all([
        store.redeemCode(grantRecord('g1'), refreshRecord('r0', 'g1'), T0).catch((error: unknown) => error),
        store.createClient(clientRecord('c1')),
      ]);
      expect(conflict).toBeInstanceOf(StoreConflictError);
      expect(created).toBeUndefined();
      expect(await store.findGrant('g1')).toBeUndefined();
      expect((await store.findRefreshToken('r0'))?.grantId).toBe('g0');
      expect((await store.findClient('c1'))?.id).toBe('c1');
      // Nothing marks g1's code redeemed: it still can be.
      expect(await store.redeemCode(grantRecord('g1'), refreshRecord('r1', 'g1'), T0)).toBe(true);
    });
  });

  it('C3 RFC 6749 §4.1.2: the purge keeps an expired grant, which marks its code redeemed, until GRANT_AFTER_EXPIRY_MS after its expiry; its refresh tokens go at expiry', async () => {
    await withStore(async (store) => {
      const expiresAt = T0 + 120_000;
      expect(await store.redeemCode(grantRecord('g1', { expiresAt }), refreshRecord('r1', 'g1', { expiresAt }), T0)).toBe(true);
      await store.purgeExpired(expiresAt, 100);
      expect(await store.findRefreshToken('r1')).toBeUndefined();
      await store.purgeExpired(expiresAt + GRANT_AFTER_EXPIRY_MS - 1, 100);
      expect((await store.findGrant('g1'))?.id).toBe('g1');
      expect(await store.redeemCode(grantRecord('g1', { expiresAt }), null, T0)).toBe(false);
      expect(await store.purgeExpired(expiresAt + GRANT_AFTER_EXPIRY_MS, 100)).toBe(1);
      expect(await store.findGrant('g1')).toBeUndefined();
    });
  });
});

describe('SqliteStore consent revocations', () => {
  it('a revocation drops the earlier ones of its user and client as old as the audit events, keeping the latest; their grants stay revoked', async () => {
    await withStore(async (store) => {
      const issue = async (id: string, at: number) => {
        expect(await store.redeemCode(grantRecord(id, { userId: 'u1', clientId: 'c1', createdAt: at, expiresAt: at + 400 * DAY }), null, at)).toBe(true);
      };
      const revocations = () => store.db.prepare('SELECT user_id, client_id, generation FROM consent_revocations ORDER BY 1, 2, 3').all();
      await issue('first', T0);
      await store.revokeConsent('u1', 'c1', T0 + 1);
      await issue('second', T0 + 2);
      await store.revokeConsent('u2', 'c1', T0 + 3);
      // Younger than the audit events: every revocation stays.
      await store.revokeConsent('u1', 'c1', T0 + 1 + EVENT_RETENTION_MS);
      expect(revocations()).toHaveLength(3);
      expect((await store.findGrant('first'))?.revokedAt).toBe(T0 + 1);
      expect((await store.findGrant('second'))?.revokedAt).toBe(T0 + 1 + EVENT_RETENTION_MS);

      // Older: u1's first goes; u1's latest stays, and so does u2's, which no revocation of u2 followed.
      const later = T0 + 2 + EVENT_RETENTION_MS;
      await issue('third', later);
      await store.revokeConsent('u1', 'c1', later + 1);
      expect(revocations()).toEqual([
        { user_id: 'u1', client_id: 'c1', generation: 2 },
        { user_id: 'u1', client_id: 'c1', generation: 3 },
        { user_id: 'u2', client_id: 'c1', generation: 1 },
      ]);
      // 'first' lost the revocation that revoked it and reads the next one; the others are unchanged.
      expect((await store.findGrant('first'))?.revokedAt).toBe(T0 + 1 + EVENT_RETENTION_MS);
      expect((await store.findGrant('second'))?.revokedAt).toBe(T0 + 1 + EVENT_RETENTION_MS);
      expect((await store.findGrant('third'))?.revokedAt).toBe(later + 1);
      // C3 RFC 6749 §4.1.2: a code issued at or before the latest revocation is refused.
      expect(await store.redeemCode(grantRecord('issued-then', { createdAt: later + 2 }), null, later + 1)).toBe(false);
      // Grants after the latest are still numbered on from it.
      await issue('fourth', later + 2);
      expect((await store.findGrant('fourth'))?.revokedAt).toBeNull();
      await store.revokeConsent('u1', 'c1', later + 2 * EVENT_RETENTION_MS);
      expect(revocations()).toEqual([
        { user_id: 'u1', client_id: 'c1', generation: 4 },
        { user_id: 'u2', client_id: 'c1', generation: 1 },
      ]);
      for (const id of ['first', 'second', 'third', 'fourth']) expect((await store.findGrant(id))?.revokedAt, id).toBe(later + 2 * EVENT_RETENTION_MS);
    });
  });
});

describe('SqliteStore group commit', () => {
  it('the writes of one turn commit together, and each settles only once it is visible to another connection', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file);
      const other = new Database(file, { readonly: true });
      const visible = (id: string) => other.prepare('SELECT 1 FROM clients WHERE id = ?').get(id) !== undefined;
      const first = store.createClient(clientRecord('c1'));
      const second = store.createClient(clientRecord('c2'));
      // Nothing is committed yet, so no answer can have been sent on these writes; a read sees
      // committed data only (a queued write has not happened yet for anyone).
      expect(visible('c1') || visible('c2')).toBe(false);
      expect(await store.findClient('c1')).toBeUndefined();
      await first;
      expect(visible('c1') && visible('c2')).toBe(true);
      await second;
      other.close();
      await store.close();
    });
  });

  it('C3 RFC 6749 §4.1.2: two redemptions of one code in the same turn: exactly one wins, and both settle after the commit', async () => {
    await withStore(async (store) => {
      const results = await Promise.all([
        store.redeemCode(grantRecord('g1'), refreshRecord('r1', 'g1'), T0),
        store.redeemCode(grantRecord('g1'), refreshRecord('r2', 'g1'), T0),
      ]);
      expect(results.sort()).toEqual([false, true]);
      expect(store.db.prepare('SELECT count(*) AS n FROM grants').get()).toEqual({ n: 1 });
      // The loser wrote nothing: its refresh token was never created.
      expect(store.db.prepare('SELECT count(*) AS n FROM refresh_tokens').get()).toEqual({ n: 1 });
    });
  });

  it('a write while another process holds the write lock past the busy timeout fails with StoreUnavailableError (503), then works again', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file, { busyTimeoutMs: 50 });
      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE');
      const refused = await store.createClient(clientRecord('c1')).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(StoreUnavailableError);
      other.exec('COMMIT');
      await store.createClient(clientRecord('c1'));
      expect((await store.findClient('c1'))?.id).toBe('c1');
      other.close();
      await store.close();
    });
  });

  it('a write waits while another connection holds the write lock, sleeping at most briefly, then polling with the event loop free', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file);
      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE');
      const ticks: number[] = [];
      const ticker = setInterval(() => ticks.push(performance.now()), 1);
      const started = performance.now();
      const write = store.createClient(clientRecord('c1'));
      setTimeout(() => other.exec('COMMIT'), 150);
      await write;
      clearInterval(ticker);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      expect((await store.findClient('c1'))?.id).toBe('c1');
      // The event loop kept turning while the lock was held: no gap near the 150 ms wait.
      const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
      expect(ticks.length).toBeGreaterThan(20);
      expect(Math.max(...gaps)).toBeLessThan(50);
      other.close();
      await store.close();
    });
  });

  it('when a batch cannot commit, every write in it fails with StoreUnavailableError (503) and none is kept', async () => {
    await withStore(async (store) => {
      // Stand in for a disk failing at COMMIT: the statement throws as better-sqlite3 would.
      const statements = (store as unknown as { s: { commit: { run(): unknown } } }).s;
      const realCommit = statements.commit;
      statements.commit = {
        run() {
          throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
        },
      };
      const outcomes = await Promise.all([
        store.createClient(clientRecord('c1')).catch((error: unknown) => error),
        store.redeemCode(grantRecord('g1'), refreshRecord('r1', 'g1'), T0).catch((error: unknown) => error),
      ]);
      for (const outcome of outcomes) expect(outcome).toBeInstanceOf(StoreUnavailableError);
      statements.commit = realCommit;
      expect(await store.findClient('c1')).toBeUndefined();
      expect(await store.findGrant('g1')).toBeUndefined();
      expect(await store.findRefreshToken('r1')).toBeUndefined();
      // The store works again once the disk does, and the code was never marked redeemed.
      expect(await store.redeemCode(grantRecord('g1'), refreshRecord('r1', 'g1'), T0)).toBe(true);
    });
  });

  it('close() commits an open batch first', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file);
      const pending = store.createClient(clientRecord('c1'));
      await store.close();
      await pending;
      const reopened = SqliteStore.open(file);
      expect((await reopened.findClient('c1'))?.id).toBe('c1');
      await reopened.close();
    });
  });
});

describe('SqliteStore turnSnapshot', () => {
  const withSnapshotStore = (body: (store: SqliteStore, file: string) => Promise<void>) => withStore(body, { turnSnapshot: true });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('a read after an awaited write sees it, even in the turn of an earlier read', async () => {
    await withSnapshotStore(async (store) => {
      expect(await store.findGrant('g1')).toBeUndefined();
      expect(await store.redeemCode(grantRecord('g1'), refreshRecord('r1', 'g1'), T0)).toBe(true);
      expect((await store.findGrant('g1'))?.revokedAt).toBeNull();
      await store.revokeGrant('g1', T0 + 1);
      expect((await store.findGrant('g1'))?.revokedAt).toBe(T0 + 1);
    });
  });

  it("another connection's commit shows from the next turn, and the shared read never keeps the next batch from writing", async () => {
    await withSnapshotStore(async (store, file) => {
      await store.createClient(clientRecord('c1'));
      const other = new Database(file);
      try {
        expect(await store.findClient('c1')).toBeDefined();
        other.prepare('DELETE FROM clients WHERE id = ?').run('c1');
        await nextTurn();
        expect(await store.findClient('c1')).toBeUndefined();
        // The read above left a transaction open for this turn: the batch must end it, then write.
        await store.createClient(clientRecord('c2'));
        expect(other.prepare('SELECT id FROM clients').all()).toEqual([{ id: 'c2' }]);
      } finally {
        other.close();
      }
    });
  });

  it('clients are read again once another connection has committed, and at once after this store changes them', async () => {
    await withSnapshotStore(async (store, file) => {
      await store.createClient(clientRecord('c1', { name: 'first' }));
      expect((await store.findClient('c1'))?.name).toBe('first');
      const other = new Database(file);
      try {
        other.prepare('UPDATE clients SET name = ? WHERE id = ?').run('changed by the CLI', 'c1');
        await nextTurn();
        expect((await store.findClient('c1'))?.name).toBe('changed by the CLI');
        // Any commit by another connection counts, not only one to clients.
        other.prepare('UPDATE clients SET name = ? WHERE id = ?').run('again', 'c1');
        await nextTurn();
        expect((await store.findClient('c1'))?.name).toBe('again');
      } finally {
        other.close();
      }
      expect(await store.deleteClient('c1')).toBe(true);
      expect(await store.findClient('c1')).toBeUndefined();
      await store.createClient(clientRecord('c1', { name: 'recreated' }));
      expect((await store.findClient('c1'))?.name).toBe('recreated');
    });
  });

  it('holds no read lock between turns, so another connection can checkpoint the whole WAL', async () => {
    await withSnapshotStore(async (store, file) => {
      await store.createClient(clientRecord('c1'));
      expect((await store.findClient('c1'))?.id).toBe('c1');
      await nextTurn();
      const other = new Database(file);
      try {
        // TRUNCATE waits for no reader: busy = 0 means no snapshot of ours pinned the WAL.
        expect(other.pragma('wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
      } finally {
        other.close();
      }
    });
  });

  it('close() with a read open in this turn closes cleanly and keeps every write', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file, { turnSnapshot: true });
      await store.createClient(clientRecord('c1'));
      await store.findClient('c1');
      const pending = store.createClient(clientRecord('c2'));
      await store.close();
      await pending;
      const reopened = SqliteStore.open(file);
      expect((await reopened.findClient('c2'))?.id).toBe('c2');
      await reopened.close();
    });
  });
});

describe('SqliteStore checkpoint thread', () => {
  /** Bytes of the database file itself: in WAL mode, pages reach it only through a checkpoint. */
  const fileSize = (file: string) => statSync(file).size;
  const writeClients = async (store: SqliteStore, count: number) => {
    await Promise.all(Array.from({ length: count }, (_, i) => store.createClient(clientRecord(`c${i}`, { name: 'x'.repeat(2000) }))));
  };

  it('copies committed pages into the database file long before the 1,000-page mark', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file, { turnSnapshot: true, checkpointPeriodMs: 5 });
      try {
        const before = fileSize(file);
        await writeClients(store, 200);
        // A checkpoint writes page after page, so the file may be seen half grown: wait for all of it.
        const deadline = Date.now() + 5000;
        while (fileSize(file) <= before + 200 * 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(fileSize(file)).toBeGreaterThan(before + 200 * 2000);
        expect((await store.findClient('c199'))?.name).toBe('x'.repeat(2000));
      } finally {
        await store.close();
      }
    });
  });

  it('without it, the same writes stay in the WAL until the mark (the test above can fail)', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file, { turnSnapshot: true });
      try {
        const before = fileSize(file);
        await writeClients(store, 200);
        await new Promise((r) => setTimeout(r, 100));
        expect(fileSize(file)).toBe(before);
      } finally {
        await store.close();
      }
    });
  });

  it('close() ends the thread first, so the store closes last, checkpoints everything and removes the WAL', async () => {
    await withFile(async (file) => {
      const store = SqliteStore.open(file, { checkpointPeriodMs: 5 });
      await writeClients(store, 20);
      expect(existsSync(`${file}-wal`)).toBe(true);
      await store.close();
      expect(existsSync(`${file}-wal`)).toBe(false);
      const reopened = SqliteStore.open(file);
      expect((await reopened.listClients()).length).toBe(20);
      await reopened.close();
    });
  });

  it('a thread that cannot open the database reports it, and stop() still settles', async () => {
    const failed = new Promise<Error>((resolve) => {
      const thread = new CheckpointThread(join(tmpdir(), 'latchkey-no-such-dir', 'x.db'), 5, (error) => {
        resolve(error);
      });
      setTimeout(() => void thread.stop(), 2000);
    });
    expect((await failed).message).toMatch(/directory does not exist|unable to open|no such file/i);
  });

  it('a store whose thread fails tells onCheckpointThreadError, and goes on with SQLite\'s own checkpoints', async () => {
    await withFile(async (file) => {
      let reported: (error: Error) => void = () => {};
      const failed = new Promise<Error>((resolve) => (reported = resolve));
      const store = SqliteStore.open(file, { checkpointPeriodMs: 5, onCheckpointThreadError: (error) => reported(error) });
      // The thread opens the file by name after the store has; moved away at once, it is not there.
      renameSync(file, `${file}.moved`);
      try {
        expect((await failed).message).toMatch(/unable to open|no such file|does not exist/i);
        await store.createClient(clientRecord('c1'));
        expect((await store.findClient('c1'))?.id).toBe('c1');
      } finally {
        await store.close();
      }
    });
  });

  it('a store on :memory: runs no thread (there is no file for a second connection)', async () => {
    const store = SqliteStore.open(':memory:', { checkpointPeriodMs: 5 });
    await store.createClient(clientRecord('c1'));
    expect((await store.findClient('c1'))?.id).toBe('c1');
    await store.close();
  });
});
