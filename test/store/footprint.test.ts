/**
 * Footprint of one completed flow on each Store: one code redeemed into a grant and its first
 * refresh token (a sealed code itself is never stored), and one refresh rotation. Asserts the rows each flow leaves, and reports
 * bytes (table + index growth, and WAL written) for capacity planning (docs/deployment.md).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { newGrantId, newToken, storageKey, timeOrdered } from '../../src/server/core/token-keys.js';
import { cryptoRandom } from '../../src/server/platform/random.js';
import type { Store } from '../../src/server/core/ports.js';
import { MemoryStore } from '../../src/server/store/memory/memory-store.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { grantRecord, refreshRecord, T0, userRecord } from './contract.js';

const url = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const FLOWS = 500;
const flowTables = ['grants', 'refresh_tokens'] as const;
const token = () => randomBytes(32).toString('base64url');

/**
 * One flow with production-shaped values: first refresh tokens and grant ids carry their
 * issue time (src/server/core/token-keys.ts); a rotated successor is its predecessor's issue time
 * and an HMAC (src/server/core/grants/refresh-token-secret.ts).
 */
async function flow(store: Store, now: number): Promise<void> {
  const grantId = newGrantId(cryptoRandom, now);
  const first = storageKey(newToken(cryptoRandom, now));
  const second = storageKey(timeOrdered(now, token()));
  const grant = grantRecord(grantId, { ...parties, scope: ['openid', 'profile', 'offline_access'], createdAt: now });
  expect(await store.redeemCode(grant, refreshRecord(first, grantId, { clientId: parties.clientId, createdAt: now }), now - 1000)).toBe(true);
  const rotated = await store.rotateRefreshToken(first, refreshRecord(second, grantId, { clientId: parties.clientId, createdAt: now + 1 }), now + 1, 5000);
  expect(rotated.kind).toBe('rotated');
}

const parties = { clientId: 'demo-app', userId: 'u-2f1c9a7e5b3d4c6a' };

/** The flows' user: a code is redeemed only for a user who exists. */
async function withUser<S extends Store>(store: S): Promise<S> {
  await store.createUser(userRecord(parties.userId));
  return store;
}

const report: string[] = [];
afterAll(() => {
  console.log(['', `Store footprint per completed flow (averaged over ${FLOWS} flows):`, ...report].join('\n'));
});

const perFlow = (bytes: number) => `${Math.round(bytes / FLOWS)} B`;

describe('footprint of one completed flow', () => {
  it('memory: 1 grant, 2 refresh tokens per flow', async () => {
    const store = await withUser(new MemoryStore());
    for (let i = 0; i < FLOWS; i++) await flow(store, T0 + i);
    const counts = store.rowCounts();
    expect([counts.grants, counts.refresh_tokens]).toEqual([FLOWS, 2 * FLOWS]);
    report.push(`memory:   rows grants=1 refresh_tokens=2`);
  });

  it('sqlite: 1 grant, 2 refresh tokens per flow; reports table+index bytes and WAL bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-footprint-'));
    const file = join(dir, 'latchkey.db');
    const store = await withUser(SqliteStore.open(file));
    try {
      await flow(store, T0); // warm: first pages of each table exist
      store.db.pragma('wal_autocheckpoint = 0');
      // The flow tables and their indexes, page by page (dbstat).
      const objects = store.db
        .prepare(`SELECT name FROM sqlite_schema WHERE tbl_name IN (${flowTables.map(() => '?').join(', ')})`)
        .pluck()
        .all(...flowTables) as string[];
      const measure = store.db.prepare(`SELECT sum(payload) AS payload, sum(pgsize) AS allocated FROM dbstat WHERE name IN (${objects.map(() => '?').join(', ')})`);
      const bytes = () => measure.get(...objects) as { payload: number; allocated: number };

      store.db.pragma('wal_checkpoint(TRUNCATE)');
      await flow(store, T0 + 1);
      const walOne = statSync(`${file}-wal`).size;

      store.db.pragma('wal_checkpoint(TRUNCATE)');
      const before = bytes();
      for (let i = 0; i < FLOWS; i++) await flow(store, T0 + 10 + i);
      const walMany = statSync(`${file}-wal`).size;
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      const after = bytes();

      // The same flows from 32 clients at once, as under load: group commit writes each page
      // once per turn of the event loop, however many flows touched it.
      const chains = 32;
      await Promise.all(Array.from({ length: chains }, async (_, c) => {
        for (let i = c; i < FLOWS; i += chains) await flow(store, T0 + 10_000 + i);
      }));
      const walConcurrent = statSync(`${file}-wal`).size;
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      expect(walConcurrent).toBeLessThan(walMany / 2);

      const count = (t: string) => (store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      expect(flowTables.map(count)).toEqual([2 * FLOWS + 2, 2 * (2 * FLOWS + 2)]);
      report.push(
        `sqlite:   rows grants=1 refresh_tokens=2; 2 transactions; record payload ${perFlow(after.payload - before.payload)}, ` +
          `pages allocated (tables+indexes) ${perFlow(after.allocated - before.allocated)}; WAL ${perFlow(walMany)} one flow after another, ` +
          `${perFlow(walConcurrent)} with 32 at once (a lone flow on a warm file: ${walOne} B, ${Math.round(walOne / (4096 + 24))} page frames of 4 KiB)`,
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('postgres: 1 grant, 2 refresh tokens per flow; reports tuple, relation and WAL bytes', async () => {
    const schema = `lk_test_${randomBytes(6).toString('hex')}`;
    // One connection, so one backend's statistics cover the whole run.
    const store = await withUser(await PostgresStore.open({ connectionString: url, schema, max: 1 }));
    try {
      const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await store.pool.query<T>(text, values)).rows;
      await flow(store, T0);
      const sizes = async () =>
        (
          await q<{ heap: number; indexes: number; tuples: number }>(
            `SELECT sum(pg_relation_size(c.oid))::int8 AS heap, sum(pg_indexes_size(c.oid))::int8 AS indexes,
                    (SELECT sum(pg_column_size(t.*)) FROM grants t)::int8
                      + (SELECT sum(pg_column_size(t.*)) FROM refresh_tokens t)::int8 AS tuples
             FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relname = ANY($2)`,
            [schema, flowTables],
          )
        )[0]!;
      const lsn = async () => (await q<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
      const walSince = async (from: string) => (await q<{ n: number }>('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1)::int8 AS n', [from]))[0]!.n;

      const lone = await lsn();
      await flow(store, T0 + 1);
      const walOne = await walSince(lone);

      const before = await sizes();
      const start = await lsn();
      for (let i = 0; i < FLOWS; i++) await flow(store, T0 + 10 + i);
      const walMany = await walSince(start);
      const after = await sizes();

      const counts = await q<{ n: number }>(`SELECT (SELECT count(*) FROM grants)::int AS n UNION ALL SELECT (SELECT count(*) FROM refresh_tokens)::int`);
      expect(counts.map((r) => r.n)).toEqual([FLOWS + 2, 2 * (FLOWS + 2)]);

      await q('SELECT pg_stat_force_next_flush()');
      await new Promise((r) => setTimeout(r, 300));
      const stats = await q<{ relname: string; ins: number; upd: number; hot: number }>(
        `SELECT relname, n_tup_ins::int AS ins, n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables
         WHERE schemaname = $1 AND relname = ANY($2) ORDER BY relname`,
        [schema, flowTables],
      );
      report.push(
        `postgres: rows grants=1 refresh_tokens=2; 2 statements (autocommit); live tuple bytes ${perFlow(after.tuples - before.tuples)}, ` +
          `heap growth ${perFlow(after.heap - before.heap)}, index growth ${perFlow(after.indexes - before.indexes)}; ` +
          `WAL ${perFlow(walMany)} (a lone flow: ${walOne} B; server-wide LSN, so concurrent activity on the server adds noise)` +
          `\n          tuple writes over ${FLOWS + 2} flows: ${stats.map((s) => `${s.relname} ins=${s.ins} upd=${s.upd} (HOT ${s.hot})`).join(', ')}`,
      );
    } finally {
      await store.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      await admin.end();
    }
  });
});
