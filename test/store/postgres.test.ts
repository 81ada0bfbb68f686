import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrantRecord } from '../../src/server/core/ports.js';
import { StoreUnavailableError } from '../../src/server/core/ports.js';
import { GRANT_AFTER_EXPIRY_MS } from '../../src/server/store/retention.js';
import { NotifiedCache } from '../../src/server/store/postgres/notified-cache.js';
import { migrate, postgresMigrations } from '../../src/server/store/postgres/migrations.js';
import { PostgresStore, sql } from '../../src/server/store/postgres/postgres-store.js';
import { clientRecord, grantRecord, refreshRecord, storeContract, T0, userRecord } from './contract.js';

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
  'consent_revocations',
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

  it('a pipelined connection the server ends is dropped, its statements fail as StoreUnavailableError, and the next one connects afresh', async () => {
    const applicationName = `latchkey-pipe-${randomBytes(4).toString('hex')}`;
    const piped = await PostgresStore.open({ connectionString: url, schema, max: 1, pipelines: 1, applicationName, clientCache: false });
    try {
      await piped.createClient(clientRecord('piped-client'));
      // Twenty statements in flight on the one pipelined connection, all answered.
      const found = await Promise.all(Array.from({ length: 20 }, () => piped.findClient('piped-client')));
      expect(found.every((c) => c?.id === 'piped-client')).toBe(true);
      await admin((client) => client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]));
      // Whatever was sent before the connection's end was noticed fails as unavailable (503), not as a 500.
      const outcome = await piped.findClient('piped-client').catch((e: unknown) => e);
      if (outcome instanceof Error) expect(outcome).toBeInstanceOf(StoreUnavailableError);
      let recovered: unknown;
      for (let i = 0; i < 50 && recovered === undefined; i++) {
        recovered = await piped.findClient('piped-client').catch(() => undefined);
        if (recovered === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      expect((recovered as { id: string } | undefined)?.id).toBe('piped-client');
    } finally {
      await piped.close();
    }
  });

  it('generic plans made while the tables are empty find each row of the token path by its key, never by a scan or by client alone', async () => {
    // A prepared statement's generic plan, chosen after five executions, stays until the table
    // is analyzed; made on an empty table it once used an index on client_id alone for the code
    // redemption, and read all of a client's codes at each one. redeemCode reads the user and
    // the consent revocation by their keys; the grant's id is checked by its insert (ON CONFLICT).
    const name = freshSchema();
    await (await PostgresStore.open({ connectionString: url, schema: name, max: 1 })).close();
    const plans = await admin(async (client) => {
      await client.query(`SET search_path = ${pg.escapeIdentifier(name)}`);
      await client.query('SET plan_cache_mode = force_generic_plan');
      const plan = async (statement: keyof typeof sql) => {
        const params = Math.max(...[...sql[statement].matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        await client.query(`PREPARE ${statement} AS ${sql[statement]}`);
        const rows = (await client.query(`EXPLAIN EXECUTE ${statement}(${Array(params).fill('NULL').join(', ')})`)).rows as Array<{ 'QUERY PLAN': string }>;
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      const hot = ['findClient', 'findSessionWithConsent', 'redeemCode', 'findRefreshToken', 'rotateRefreshToken'] as const;
      const plans: Record<string, string> = {};
      for (const statement of hot) plans[statement] = await plan(statement);
      return plans;
    });
    for (const [statement, text] of Object.entries(plans)) {
      expect(text, statement).not.toMatch(/Seq Scan on (clients|users|sessions|consents|consent_revocations|grants|refresh_tokens)/);
      for (const condition of text.match(/Index Cond: .*/g) ?? []) {
        if (condition.includes('client_id')) expect(condition, `${statement}: ${text}`).toMatch(/hash|user_id/);
      }
    }
    expect(plans.redeemCode).toMatch(/Index (Only )?Scan using users_pkey[^\n]*\n\s*Index Cond: \(id = \$3\)/);
    expect(plans.redeemCode).toMatch(/consent_revocations_pkey[^\n]*\n\s*Index Cond: \(\(user_id = \$3\) AND \(client_id = \$2\)\)/);
    expect(plans.redeemCode).toMatch(/Conflict Arbiter Indexes: grants_pkey/);
    expect(plans.findSessionWithConsent).toMatch(/Index Cond: .*user_id/);
  });

  it('every indexed text column but usernames compares bytes (COLLATE "C", migration 7), whatever the database collation', async () => {
    const { rows } = await store.pool.query<{ column: string; collation: string | null }>(
      `SELECT DISTINCT c.relname || '.' || a.attname AS column, co.collname AS collation
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       WHERE c.relnamespace = current_schema()::regnamespace AND a.atttypid = 'text'::regtype
       ORDER BY 1`,
    );
    const indexed = Object.fromEntries(rows.map((r) => [r.column, r.collation]));
    expect(indexed['consent_revocations.user_id']).toBe('C');
    expect(indexed['consent_revocations.client_id']).toBe('C');
    expect(indexed['users.username']).toBe('default');
    for (const [column, collation] of Object.entries(indexed)) {
      if (column !== 'users.username') expect(collation, column).toBe('C');
    }
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

  it('migration 8 upgrades a schema at migration 7: creates consent_revocations, and keeps codes for older instances until the purge empties it', async () => {
    const old = freshSchema();
    await admin(async (client) => {
      await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(old)}`);
      await client.query(`SET search_path TO ${pg.escapeIdentifier(old)}`);
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
      for (const m of postgresMigrations.filter((m) => m.version <= 7)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, T0]);
      }
      await client.query(
        `INSERT INTO codes (hash, client_id, user_id, grant_id, redirect_uri, redirect_uri_explicit, scope, auth_time, expires_at)
         VALUES ('old-code', 'c1', 'u1', 'g-old', 'https://c1.example/callback', true, '{openid}', $1, $2)`,
        [T0, T0 + 60_000],
      );
      expect(await migrate(client, { schema: old })).toEqual([8]);
      const tables = await client.query<{ codes: string | null; revocations: string | null }>(
        "SELECT to_regclass('codes')::text AS codes, to_regclass('consent_revocations')::text AS revocations",
      );
      expect(tables.rows[0]).toEqual({ codes: 'codes', revocations: 'consent_revocations' });
      const columns = await client.query<{ column: string; collation: string | null }>(
        `SELECT a.attname AS column, co.collname AS collation FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
         WHERE a.attrelid = 'consent_revocations'::regclass AND a.attnum > 0 ORDER BY a.attnum`,
      );
      expect(columns.rows).toEqual([
        { column: 'user_id', collation: 'C' },
        { column: 'client_id', collation: 'C' },
        { column: 'revoked_at', collation: null },
      ]);
    });
    const upgraded = await PostgresStore.open({ connectionString: url, schema: old, max: 1 });
    try {
      await upgraded.createUser(userRecord('u1'));
      await upgraded.revokeConsent('u1', 'c1', T0);
      expect(await upgraded.redeemCode(grantRecord('g-old'), null, T0)).toBe(false);
      expect(await upgraded.redeemCode(grantRecord('g-new'), null, T0 + 1)).toBe(true);
      // The code an older instance wrote goes once expired.
      expect(await upgraded.purgeExpired(T0 + 59_999, 100)).toBe(0);
      expect(await upgraded.purgeExpired(T0 + 60_000, 100)).toBe(1);
      expect((await upgraded.pool.query('SELECT count(*)::int AS n FROM codes')).rows[0].n).toBe(0);
    } finally {
      await upgraded.close();
    }
  });

  describe('consent revocations (a fresh schema)', () => {
    let s: PostgresStore;
    const revocations = async () =>
      (await s.pool.query<{ user_id: string; client_id: string; revoked_at: number }>('SELECT user_id, client_id, revoked_at FROM consent_revocations ORDER BY 1, 2')).rows;

    beforeAll(async () => {
      s = await PostgresStore.open({ connectionString: url, schema: freshSchema(), max: 2 });
    });

    afterAll(async () => {
      await s?.close();
    });

    it('C3 RFC 6749 §4.1.2: after revokeConsent a code issued at or before it is refused; after re-consent a later code is redeemed', async () => {
      await s.createUser(userRecord('u-rev'));
      await s.saveConsent({ userId: 'u-rev', clientId: 'c1', scope: ['openid'], grantedAt: T0 });
      await s.revokeConsent('u-rev', 'c1', T0 + 1000);
      const grant = (id: string) => grantRecord(id, { userId: 'u-rev' });
      expect(await s.redeemCode(grant('g-before'), refreshRecord('rt-before', 'g-before'), T0 + 999)).toBe(false);
      expect(await s.redeemCode(grant('g-at'), null, T0 + 1000)).toBe(false);
      expect(await s.findGrant('g-before')).toBeUndefined();
      expect(await s.findRefreshToken('rt-before')).toBeUndefined();
      await s.saveConsent({ userId: 'u-rev', clientId: 'c1', scope: ['openid'], grantedAt: T0 + 2000 });
      expect(await s.redeemCode(grant('g-after'), refreshRecord('rt-after', 'g-after'), T0 + 2000)).toBe(true);
      expect(await s.findRefreshToken('rt-after')).toBeDefined();
      // Another client's codes for the same user are untouched.
      expect(await s.redeemCode(grantRecord('g-c2', { userId: 'u-rev', clientId: 'c2' }), null, T0)).toBe(true);
    });

    it('revokeConsent keeps the latest revocation time whatever the order of the calls (GREATEST)', async () => {
      await s.createUser(userRecord('u-order'));
      await s.revokeConsent('u-order', 'c1', T0 + 2000);
      await s.revokeConsent('u-order', 'c1', T0 + 1500);
      expect((await revocations()).find((r) => r.user_id === 'u-order')?.revoked_at).toBe(T0 + 2000);
      expect(await s.redeemCode(grantRecord('g-order', { userId: 'u-order' }), null, T0 + 1800)).toBe(false);
    });

    it('C3 RFC 6749 §4.1.2: a code of a deleted user is refused, and deleteUser / deleteClient remove their revocations', async () => {
      await s.createUser(userRecord('u-del'));
      await s.revokeConsent('u-del', 'c1', T0);
      await s.revokeConsent('u-keep', 'c-del', T0);
      await s.revokeConsent('u-keep', 'c1', T0);
      expect(await s.deleteUser('u-del')).toBe(true);
      expect(await s.redeemCode(grantRecord('g-del', { userId: 'u-del' }), null, T0 + 1)).toBe(false);
      await s.createClient(clientRecord('c-del'));
      expect(await s.deleteClient('c-del')).toBe(true);
      const left = (await revocations()).map((r) => `${r.user_id} ${r.client_id}`);
      expect(left).toContain('u-keep c1');
      expect(left).not.toContain('u-del c1');
      expect(left).not.toContain('u-keep c-del');
    });

    it('C4: an expired grant is purged only GRANT_AFTER_EXPIRY_MS after its expiry; until then its code is still refused', async () => {
      await s.pool.query('TRUNCATE grants, refresh_tokens, consent_revocations');
      await s.createUser(userRecord('u-exp'));
      const grant = grantRecord('g-exp', { userId: 'u-exp', expiresAt: T0 + 60_000 });
      expect(await s.redeemCode(grant, refreshRecord('rt-exp', 'g-exp', { expiresAt: T0 + 60_000 }), T0)).toBe(true);
      const before = T0 + 60_000 + GRANT_AFTER_EXPIRY_MS - 1;
      await s.purgeExpired(before, 100);
      expect(await s.findRefreshToken('rt-exp')).toBeUndefined();
      expect(await s.findGrant('g-exp')).toBeDefined();
      expect(await s.redeemCode(grant, null, T0)).toBe(false);
      expect(await s.purgeExpired(before + 1, 100)).toBe(1);
      expect(await s.findGrant('g-exp')).toBeUndefined();
    });
  });

  it('keeps schemas apart: a store only sees its own schema', async () => {
    const other = await PostgresStore.open({ connectionString: url, schema: freshSchema(), max: 1 });
    try {
      await other.createUser(userRecord('u1'));
      expect(await other.redeemCode(grantRecord('only-in-other'), null, T0)).toBe(true);
      expect(await other.findGrant('only-in-other')).toBeDefined();
      expect(await store.findGrant('only-in-other')).toBeUndefined();
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
    await store.createUser(userRecord('u-locked'));
    const grant = grantRecord('g-locked', { userId: 'u-locked' });
    const holder = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await holder.connect();
    try {
      // An uncommitted insert of the same grant id makes redeemCode's insert wait for its outcome;
      // then terminate the waiting backend.
      await holder.query('BEGIN');
      await holder.query(insertGrant, grantValues(grant));
      const pending = store.redeemCode(grant, null, T0).catch((e: unknown) => e);
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
    // The holder rolled back: the code was never redeemed.
    expect(await store.redeemCode(grant, null, T0)).toBe(true);
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
      await a.createUser(userRecord('u1'));
    });

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    it('C3 RFC 6749 §4.1.2: 40 redemptions of one code split across two instances create its grant once; one caller gets true', async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).redeemCode(grantRecord('x-g', { createdAt: T0 + i }), refreshRecord(`x-rt${i}`, 'x-g'), T0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await count('grants')).toBe(1);
      // Only the winner's first refresh token was written.
      const { rows } = await a.pool.query<{ hash: string }>("SELECT hash FROM refresh_tokens WHERE grant_id = 'x-g'");
      expect(rows.map((r) => r.hash)).toEqual([`x-rt${results.indexOf(true)}`]);
      expect((await a.findGrant('x-g'))?.createdAt).toBe(T0 + results.indexOf(true));
    });

    it('T4 RFC 9700 §4.14.2: 40 rotations of one token across two instances all rotate into one successor row', async () => {
      expect(await a.redeemCode(grantRecord('rot-g'), refreshRecord('rot-1', 'rot-g'), T0)).toBe(true);
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
    await impatient.createUser(userRecord('u-timeout'));
    const grant = grantRecord('g-timeout', { userId: 'u-timeout' });
    const holder = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await holder.connect();
    try {
      // An uncommitted insert of the same grant id: redeemCode waits for it past the timeout.
      await holder.query('BEGIN');
      await holder.query(insertGrant, grantValues(grant));
      const started = Date.now();
      const error = await impatient.redeemCode(grant, null, T0).catch((e: unknown) => e);
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

  describe('in-process cache (clients and sign-ins kept in process, invalidated by NOTIFY)', () => {
    let a: PostgresStore;
    let b: PostgresStore;
    let shared: string;
    const application = `latchkey-cache-${randomBytes(4).toString('hex')}`;
    const sql = (text: string, values: unknown[] = []) =>
      admin(async (client) => {
        await client.query(`SET search_path TO ${pg.escapeIdentifier(shared)}`);
        return client.query(text, values);
      });
    /** Waits until `check` holds (a notification is delivered asynchronously), for up to 5 s. */
    async function eventually(check: () => Promise<boolean>): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    beforeAll(async () => {
      shared = freshSchema();
      a = await PostgresStore.open({ connectionString: url, schema: shared, max: 2 });
      b = await PostgresStore.open({ connectionString: url, schema: shared, max: 2, applicationName: application });
    });

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
    });

    it('serves a client from the cache (a change with the trigger off goes unseen) until a notified change', async () => {
      await a.createClient(clientRecord('cached'));
      // Let the notification of the insert arrive first: it would empty the cache filled below.
      await new Promise((r) => setTimeout(r, 200));
      expect(b.cache!.active).toBe(true);
      await b.findClient('cached');
      await sql('ALTER TABLE clients DISABLE TRIGGER clients_changed');
      try {
        await sql(`UPDATE clients SET name = 'silent' WHERE id = 'cached'`);
      } finally {
        await sql('ALTER TABLE clients ENABLE TRIGGER clients_changed');
      }
      expect((await b.findClient('cached'))?.name).toBe('Client cached');
      // Any change made with the trigger on (here from psql, not through a store) empties every cache.
      await sql(`UPDATE clients SET name = 'told' WHERE id = 'cached'`);
      await eventually(async () => (await b.findClient('cached'))?.name === 'told');
    });

    it('a client deleted through one instance is gone from the other once PostgreSQL notifies it', async () => {
      await a.createClient(clientRecord('doomed'));
      expect(await b.findClient('doomed')).toBeDefined();
      expect(await b.findClient('doomed')).toBeDefined();
      expect(await a.deleteClient('doomed')).toBe(true);
      await eventually(async () => (await b.findClient('doomed')) === undefined);
    });

    it('an unknown client id is not kept: a client created afterwards is found at once', async () => {
      expect(await b.findClient('later')).toBeUndefined();
      await a.createClient(clientRecord('later'));
      expect(await b.findClient('later')).toBeDefined();
    });

    it('while its listener is down the cache serves nothing, and it resumes once the listener is back', async () => {
      await a.createClient(clientRecord('offline'));
      await b.findClient('offline');
      await sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${application}-listener`]);
      await eventually(async () => !b.cache!.active);
      await sql('ALTER TABLE clients DISABLE TRIGGER clients_changed');
      try {
        await sql(`UPDATE clients SET name = 'unnotified' WHERE id = 'offline'`);
        // No notification was sent, yet the change is seen: nothing is served from the cache now.
        expect((await b.findClient('offline'))?.name).toBe('unnotified');
      } finally {
        await sql('ALTER TABLE clients ENABLE TRIGGER clients_changed');
      }
      await eventually(async () => b.cache!.active);
      expect((await b.findClient('offline'))?.name).toBe('unnotified');
    });

    const signIn = async (idHash: string) => {
      await a.createSession({ idHash, userId: `user-${idHash}`, authTime: T0, createdAt: T0, expiresAt: T0 + 60_000 });
    };

    it('serves a sign-in (a session and its consent) from the cache until a notified change to that session', async () => {
      await signIn('s-cached');
      expect((await b.findSessionWithConsent('s-cached', T0, 'c1'))?.session.userId).toBe('user-s-cached');
      await sql('ALTER TABLE sessions DISABLE TRIGGER sessions_changed');
      try {
        await sql(`DELETE FROM sessions WHERE id_hash = 's-cached'`);
      } finally {
        await sql('ALTER TABLE sessions ENABLE TRIGGER sessions_changed');
      }
      // Deleted without a notification: still served, which shows it comes from the cache.
      expect(await b.findSessionWithConsent('s-cached', T0, 'c1')).toBeDefined();
      await sql(`DELETE FROM sessions WHERE id_hash = 'no-such-session'`);
      await eventually(async () => (await b.findSessionWithConsent('s-cached', T0, 'c1')) === undefined);
    });

    it('a session deleted (sign-out) is gone at once on the instance that deleted it, and on the other once notified', async () => {
      await signIn('s-out');
      expect(await a.findSessionWithConsent('s-out', T0, 'c1')).toBeDefined();
      expect(await b.findSessionWithConsent('s-out', T0, 'c1')).toBeDefined();
      await a.deleteSession('s-out');
      expect(await a.findSessionWithConsent('s-out', T0, 'c1')).toBeUndefined();
      await eventually(async () => (await b.findSessionWithConsent('s-out', T0, 'c1')) === undefined);
    });

    it('a consent granted, then revoked, through one instance is seen by the other once notified', async () => {
      await signIn('s-consent');
      expect((await b.findSessionWithConsent('s-consent', T0, 'c1'))?.consent).toBeUndefined();
      await a.saveConsent({ userId: 'user-s-consent', clientId: 'c1', scope: ['openid', 'notes'], grantedAt: T0 });
      await eventually(async () => (await b.findSessionWithConsent('s-consent', T0, 'c1'))?.consent?.scope.join(' ') === 'openid notes');
      await a.revokeConsent('user-s-consent', 'c1', T0 + 1);
      await eventually(async () => (await b.findSessionWithConsent('s-consent', T0, 'c1'))?.consent === undefined);
      expect((await b.findSessionWithConsent('s-consent', T0, 'c1'))?.session).toBeDefined();
    });

    it('a user deleted through one instance signs out everywhere once notified (the delete runs inside one statement)', async () => {
      await a.createUser(userRecord('user-s-gone'));
      await signIn('s-gone');
      expect(await b.findSessionWithConsent('s-gone', T0, 'c1')).toBeDefined();
      expect(await a.deleteUser('user-s-gone')).toBe(true);
      await eventually(async () => (await b.findSessionWithConsent('s-gone', T0, 'c1')) === undefined);
    });

    it('a cached session is not served once it has expired', async () => {
      await signIn('s-expiring');
      expect(await b.findSessionWithConsent('s-expiring', T0, 'c1')).toBeDefined();
      expect(await b.findSessionWithConsent('s-expiring', T0 + 60_000, 'c1')).toBeUndefined();
    });

    it('reads a cached client again after maxAgeMs even without a notification', async () => {
      let now = T0;
      let loads = 0;
      const cache = new NotifiedCache({ schema: shared, connect: () => new pg.Client({ connectionString: url }), maxAgeMs: 1000, now: () => now });
      await cache.start();
      try {
        expect(cache.active).toBe(true);
        const load = async () => {
          loads += 1;
          return clientRecord('aged');
        };
        await cache.clients.get('aged', load);
        await cache.clients.get('aged', load);
        expect(loads).toBe(1);
        now += 1000;
        await cache.clients.get('aged', load);
        expect(loads).toBe(2);
      } finally {
        await cache.close();
      }
    });
  });

  it('a closed store answers StoreUnavailableError', async () => {
    const closed = await PostgresStore.open({ connectionString: url, schema, max: 1 });
    await closed.close();
    await expect(closed.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

/** A grant row written behind the store's back, e.g. inside a transaction held open. */
const insertGrant =
  'INSERT INTO grants (id, client_id, user_id, scope, resource, auth_time, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)';

function grantValues(g: GrantRecord): unknown[] {
  return [g.id, g.clientId, g.userId, g.scope, g.resource, g.authTime, g.createdAt, g.expiresAt, g.revokedAt];
}

/** A 127.0.0.1 port nothing listens on: bind port 0, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
