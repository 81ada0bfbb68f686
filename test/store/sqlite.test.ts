import { sqliteMigrations } from '../../src/server/store/sqlite/migrations.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { clientRecord, storeContract } from './contract.js';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
  const store = SqliteStore.open(join(dir, 'latchkey.db'));
  return {
    store,
    rows: async (table) => (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore', () => {
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
