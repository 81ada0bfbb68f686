import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/server/store/open-store.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { clientRecord } from './contract.js';

const url = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;

afterAll(async () => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await client.end();
});

describe('openStore', () => {
  it('opens a SQLite file for a path, creating and migrating it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-open-'));
    try {
      const file = join(dir, 'latchkey.db');
      const store = await openStore(file);
      expect(store).toBeInstanceOf(SqliteStore);
      await store.createClient(clientRecord('c1'));
      await store.close();
      expect(existsSync(file)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['postgres', 'postgresql', 'POSTGRES'])('opens PostgreSQL for a %s:// URL', async (scheme) => {
    const store = await openStore(url.replace(/^postgres(ql)?/, scheme), { schema, max: 1 });
    try {
      expect(store).toBeInstanceOf(PostgresStore);
      await store.ping();
    } finally {
      await store.close();
    }
  });

  it('?client_cache=off opens PostgreSQL without the client cache; anything but on or off is refused', async () => {
    const store = (await openStore(`${url}?schema=${schema}&client_cache=off`, { max: 1 })) as PostgresStore;
    try {
      expect(store.cache).toBeUndefined();
    } finally {
      await store.close();
    }
    const cached = (await openStore(`${url}?schema=${schema}`, { max: 1 })) as PostgresStore;
    try {
      expect(cached.cache?.active).toBe(true);
    } finally {
      await cached.close();
    }
    await expect(openStore(`${url}?client_cache=maybe`)).rejects.toThrow(/client_cache/);
  });

  it('?pipelines=N sets the pipelined connections of the request path, 0 none; anything else is refused', async () => {
    const pooled = (await openStore(`${url}?schema=${schema}&pipelines=0`, { max: 1 })) as PostgresStore;
    try {
      expect(pooled.pipelines).toBeUndefined();
      await pooled.ping();
    } finally {
      await pooled.close();
    }
    const four = (await openStore(`${url}?schema=${schema}&pipelines=4`, { max: 1 })) as PostgresStore;
    try {
      expect(four.pipelines?.size).toBe(4);
    } finally {
      await four.close();
    }
    const byDefault = (await openStore(`${url}?schema=${schema}`, { max: 1 })) as PostgresStore;
    try {
      expect(byDefault.pipelines?.size).toBe(2);
    } finally {
      await byDefault.close();
    }
    await expect(openStore(`${url}?pipelines=many`)).rejects.toThrow(/pipelines/);
    await expect(openStore(`${url}?pipelines=17`)).rejects.toThrow(/pipelines/);
  });
});
