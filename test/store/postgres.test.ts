import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/server/core/ports.js';
import { migrate, postgresMigrations } from '../../src/server/store/postgres/migrations.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { codeRecord, grantRecord, refreshRecord, storeContract, T0 } from './contract.js';

// CI starts PostgreSQL; when it is unreachable these tests fail rather than skip.
const url = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema per test file, dropped afterwards, so parallel files never collide. */
const schema = `lk_test_${randomBytes(6).toString('hex')}`;
const schemas = [schema];

function freshSchema(): string {
  const name = `lk_test_${randomBytes(6).toString('hex')}`;
  schemas.push(name);
  return name;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await admin(async (client) => {
    for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
  });
});

const tables = [
  'clients',
  'users',
  'sessions',
  'interactions',
  'consents',
  'codes',
  'grants',
  'refresh_tokens',
  'revoked_access_tokens',
  'keys',
  'secrets',
  'events',
  'rate_limits',
];

storeContract('postgres', async () => {
  const store = await PostgresStore.open({ connectionString: url, schema, max: 8 });
  await store.pool.query(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY`);
  return {
    store,
    rows: async (table) => {
      const { rows } = await store.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return rows[0]!.n;
    },
    close: () => store.close(),
  };
});

describe('PostgresStore', () => {
  let store: PostgresStore;

  beforeAll(async () => {
    store = await PostgresStore.open({ connectionString: url, schema, max: 2, applicationName: `latchkey-${schema}` });
  });

  afterAll(async () => {
    await store?.close();
  });

  it('five instances opening a new schema at once apply each migration exactly once (pg_advisory_xact_lock)', async () => {
    const fresh = freshSchema();
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresStore.open({ connectionString: url, schema: fresh, max: 1 })));
    try {
      const { rows } = await stores[0]!.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(postgresMigrations.map((m) => m.version));
      await Promise.all(stores.map((s) => s.ping()));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('migrate() works with a plain client (for `latchkey migrate`) and applies nothing the second time', async () => {
    const fresh = freshSchema();
    const applied = await admin(async (client) => [await migrate(client, { schema: fresh }), await migrate(client, { schema: fresh })]);
    expect(applied).toEqual([postgresMigrations.map((m) => m.version), []]);
  });

  it('keeps schemas apart: a store only sees its own schema', async () => {
    const other = await PostgresStore.open({ connectionString: url, schema: freshSchema(), max: 1 });
    try {
      await other.saveCode(codeRecord('only-in-other'));
      expect(await other.findCode('only-in-other')).toBeDefined();
      expect(await store.findCode('only-in-other')).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('parses int8 as numbers on its own pool only, not globally', async () => {
    await store.revokeAccessToken('jti-int8', T0 + 2 ** 40);
    const { rows } = await store.pool.query<{ expires_at: unknown }>('SELECT expires_at FROM revoked_access_tokens WHERE jti = $1', ['jti-int8']);
    expect(rows[0]!.expires_at).toBe(T0 + 2 ** 40);
    const plain = await admin((client) => client.query<{ n: unknown }>('SELECT 42::int8 AS n'));
    expect(plain.rows[0]!.n).toBe('42');
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(PostgresStore.open({ connectionString: url, schema: 'x; DROP TABLE y' })).rejects.toBeInstanceOf(TypeError);
  });

  it('an unreachable server surfaces as StoreUnavailableError at open', async () => {
    const port = await closedPort();
    const error = await PostgresStore.open({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, connectionTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/ECONNREFUSED|connect/);
  });

  it('a terminated backend (57P01 admin shutdown) surfaces as StoreUnavailableError, and the pool recovers', async () => {
    await store.saveCode(codeRecord('locked-code'));
    const holder = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await holder.connect();
    try {
      // Hold the code's row lock so consumeCode waits on it, then terminate the waiting backend.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM codes WHERE hash = $1 FOR UPDATE', ['locked-code']);
      const pending = store.consumeCode('locked-code', T0, grantRecord('g-locked'), null).catch((e: unknown) => e);
      let pid: number | undefined;
      for (let i = 0; i < 100 && pid === undefined; i++) {
        const { rows } = await holder.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [`latchkey-${schema}`],
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      expect(pid).toBeDefined();
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await pending;
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(((error as Error).cause as { code?: string }).code).toBe('57P01');
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    await expect(store.ping()).resolves.toBeUndefined();
    expect(await store.consumeCode('locked-code', T0, grantRecord('g-locked'), null)).toBe(true);
  });

  describe('two instances sharing one database (two pools)', () => {
    let a: PostgresStore;
    let b: PostgresStore;
    const count = async (table: string) => (await a.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

    beforeAll(async () => {
      const shared = freshSchema();
      [a, b] = await Promise.all([
        PostgresStore.open({ connectionString: url, schema: shared, max: 10 }),
        PostgresStore.open({ connectionString: url, schema: shared, max: 10 }),
      ]);
    });

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    it('C3 RFC 6749 §4.1.2: consumeCode has exactly one winner among 40 calls split across two instances', async () => {
      await a.saveCode(codeRecord('shared-code'));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).consumeCode('shared-code', T0 + i, grantRecord(`x-g${i}`), refreshRecord(`x-rt${i}`, `x-g${i}`))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await count('grants')).toBe(1);
      expect(await count('refresh_tokens')).toBe(1);
    });

    it('T4 RFC 9700 §4.14.2: 40 rotations of one token across two instances all rotate into one successor row', async () => {
      await a.saveCode(codeRecord('rot-code', { grantId: 'rot-g' }));
      expect(await a.consumeCode('rot-code', T0, grantRecord('rot-g'), refreshRecord('rot-1', 'rot-g'))).toBe(true);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).rotateRefreshToken('rot-1', refreshRecord('rot-2', 'rot-g'), T0 + 100 + i, 5000)),
      );
      expect(results.every((r) => r.kind === 'rotated')).toBe(true);
      const { rows } = await a.pool.query<{ hash: string }>("SELECT hash FROM refresh_tokens WHERE grant_id = 'rot-g' ORDER BY hash");
      expect(rows.map((r) => r.hash)).toEqual(['rot-1', 'rot-2']);
    });

    it('purgeExpired from both instances at once removes each expired row once (SKIP LOCKED), without errors', async () => {
      for (let i = 0; i < 300; i++) await a.createSession({ idHash: `dead-${i}`, userId: 'u1', authTime: T0, createdAt: T0, expiresAt: T0 });
      await a.createSession({ idHash: 'alive', userId: 'u1', authTime: T0, createdAt: T0, expiresAt: T0 + 10_000 });
      const drain = async (s: PostgresStore) => {
        let total = 0;
        for (let n = -1; n !== 0; total += n) n = await s.purgeExpired(T0 + 1, 10);
        return total;
      };
      const [fromA, fromB] = await Promise.all([drain(a), drain(b)]);
      expect(fromA + fromB).toBe(300);
      expect(await count('sessions')).toBe(1);
    });
  });

  it('a statement stuck behind a lock past statementTimeoutMs (57014) surfaces as StoreUnavailableError', async () => {
    const impatient = await PostgresStore.open({ connectionString: url, schema, max: 1, statementTimeoutMs: 300 });
    await impatient.saveCode(codeRecord('timeout-code'));
    const holder = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM codes WHERE hash = $1 FOR UPDATE', ['timeout-code']);
      const started = Date.now();
      const error = await impatient.consumeCode('timeout-code', T0, grantRecord('g-timeout'), null).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(((error as Error).cause as { code?: string }).code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(5000);
      await holder.query('ROLLBACK');
      expect(await impatient.findGrant('g-timeout')).toBeUndefined();
    } finally {
      await holder.end();
      await impatient.close();
    }
  });

  it('an exhausted pool (no connection within connectionTimeoutMs) surfaces as StoreUnavailableError', async () => {
    const small = await PostgresStore.open({ connectionString: url, schema, max: 1, connectionTimeoutMs: 200 });
    const held = await small.pool.connect();
    try {
      await expect(small.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      held.release();
      await small.close();
    }
  });

  it('a closed store answers StoreUnavailableError', async () => {
    const closed = await PostgresStore.open({ connectionString: url, schema, max: 1 });
    await closed.close();
    await expect(closed.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

/** A 127.0.0.1 port nothing listens on: bind port 0, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
