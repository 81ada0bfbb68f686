/**
 * Model-based check that the adapters agree: fast-check generates random sequences of Store
 * calls over a small key space (so codes get redeemed twice, tokens rotated twice, windows crossed),
 * runs each sequence on memory, SQLite and PostgreSQL, and requires the same answer from all
 * three at every step and the same state at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/server/core/ports.js';
import { MemoryStore } from '../../src/server/store/memory/memory-store.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { grantRecord, refreshRecord, T0, userRecord } from './contract.js';

const url = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;

// Few keys and coarse times, so sequences hit the edges: replays, second rotations, window and expiry boundaries.
const at = fc.integer({ min: 0, max: 4 }).map((n) => T0 + n * 1000);
const lifetime = fc.integer({ min: 0, max: 5 }).map((n) => n * 1000);
const grant = fc.constantFrom('grant-a', 'grant-b', 'grant-c');
const token = fc.constantFrom('rt-a', 'rt-b');
const user = fc.constantFrom('u1', 'u2');
const client = fc.constantFrom('c1', 'c2');

type Command = { name: string; run: (store: Store) => Promise<unknown> };

const flowCommands: fc.Arbitrary<Command>[] = [
  fc.record({ grantId: grant, userId: user, clientId: client, now: at, issuedAt: at, grantLife: lifetime, tokenLife: lifetime, refresh: fc.option(token, { nil: null, freq: 6 }) }).map((c) => ({
    name: `redeemCode(${JSON.stringify(c)})`,
    run: (s) =>
      s.redeemCode(
        grantRecord(c.grantId, { userId: c.userId, clientId: c.clientId, createdAt: c.now, expiresAt: c.now + c.grantLife }),
        c.refresh === null ? null : refreshRecord(c.refresh, c.grantId, { clientId: c.clientId, createdAt: c.now, expiresAt: c.now + c.tokenLife }),
        c.issuedAt,
      ),
  })),
  fc.record({ hash: token, successor: token, grantId: grant, now: at, life: lifetime, window: fc.constantFrom(0, 1000, 3000) }).map((c) => ({
    name: `rotateRefreshToken(${JSON.stringify(c)})`,
    run: (s) => s.rotateRefreshToken(c.hash, refreshRecord(c.successor, c.grantId, { createdAt: c.now, expiresAt: c.now + c.life }), c.now, c.window),
  })),
];

const otherCommands: fc.Arbitrary<Command>[] = [
  fc.record({ id: grant, now: at }).map((c) => ({ name: `revokeGrant(${JSON.stringify(c)})`, run: (s) => s.revokeGrant(c.id, c.now) })),
  fc.record({ userId: user, clientId: client, now: at }).map((c) => ({
    name: `saveConsent(${JSON.stringify(c)})`,
    run: (s) => s.saveConsent({ userId: c.userId, clientId: c.clientId, scope: ['openid'], grantedAt: c.now }),
  })),
  fc.record({ userId: user, clientId: client, now: at }).map((c) => ({
    name: `revokeConsent(${JSON.stringify(c)})`,
    run: (s) => s.revokeConsent(c.userId, c.clientId, c.now),
  })),
  fc.record({ id: client }).map((c) => ({ name: `deleteClient(${c.id})`, run: (s) => s.deleteClient(c.id) })),
  fc.record({ id: user }).map((c) => ({ name: `createUser(${c.id})`, run: (s) => s.createUser(userRecord(c.id)) })),
  fc.record({ id: user }).map((c) => ({ name: `deleteUser(${c.id})`, run: (s) => s.deleteUser(c.id) })),
  fc.record({ key: fc.constantFrom('k1', 'k2'), now: at, window: fc.constantFrom(1000, 3000) }).map((c) => ({
    name: `hit(${JSON.stringify(c)})`,
    run: (s) => s.hit(c.key, c.now, c.window),
  })),
  fc.record({ key: fc.constantFrom('k1', 'k2') }).map((c) => ({ name: `resetHits(${c.key})`, run: (s) => s.resetHits(c.key) })),
  fc.record({ name: fc.constantFrom('s1', 's2'), value: fc.constantFrom('x', 'y') }).map((c) => ({
    name: `putSecretIfAbsent(${JSON.stringify(c)})`,
    run: (s) => s.putSecretIfAbsent(c.name, c.value, T0),
  })),
  // A batch larger than any table here, so which rows go does not depend on storage order.
  fc.record({ now: at }).map((c) => ({ name: `purgeExpired(${c.now})`, run: (s) => s.purgeExpired(c.now + 3_600_000, 1000) })),
];

// The code, refresh and rotation calls come four times as often: the interesting states need a chain of them.
const command: fc.Arbitrary<Command> = fc
  .oneof(...flowCommands.map((arbitrary) => ({ arbitrary, weight: 4 })), ...otherCommands.map((arbitrary) => ({ arbitrary, weight: 1 })))
  // Counterexamples print as the calls they stand for.
  .map((c) => Object.assign(c, { [fc.toStringMethod]: () => c.name }));

/** Everything observable through the port, for the keys the commands use. */
async function snapshot(s: Store): Promise<unknown> {
  const ids = (values: string[], find: (v: string) => Promise<unknown>) => Promise.all(values.map(find));
  return {
    grants: await ids(['grant-a', 'grant-b', 'grant-c'], (g) => s.findGrant(g)),
    tokens: await ids(['rt-a', 'rt-b'], (t) => s.findRefreshToken(t)),
    consents: await ids(['u1', 'u2'], (u) => s.listConsents(u)),
  };
}

/** What a call answered; a thrown error counts as "threw" (the port names no error type for most calls). */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await run();
    return value === undefined ? 'ok' : value;
  } catch {
    return 'threw';
  }
}

describe('adapters agree on random call sequences', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-equivalence-'));
  const tables = ['clients', 'users', 'sessions', 'interactions', 'consents', 'consent_revocations', 'grants', 'refresh_tokens', 'revoked_access_tokens', 'keys', 'secrets', 'events', 'rate_limits'];
  // Emptied with DELETE between runs: TRUNCATE of 13 tables costs more than the whole run.
  const empty = tables.map((t) => `DELETE FROM ${t};`).join(' ');
  let postgres: PostgresStore;
  let sqlite: SqliteStore;

  beforeAll(async () => {
    postgres = await PostgresStore.open({ connectionString: url, schema, max: 2 });
    // Durability is not what this test checks; visibility and locking are the same without the fsync.
    postgres.pool.on('connect', (client) => void client.query('SET synchronous_commit = off'));
    sqlite = SqliteStore.open(join(dir, 'equivalence.db'));
  });

  afterAll(async () => {
    await sqlite?.close();
    await postgres?.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('memory, SQLite and PostgreSQL give the same answers and end in the same state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40, size: 'max' }), async (commands) => {
        await postgres.pool.query(empty);
        sqlite.db.exec(empty);
        const stores: Array<[string, Store]> = [
          ['memory', new MemoryStore()],
          ['sqlite', sqlite],
          ['postgres', postgres],
        ];
        for (const c of commands) {
          const [reference, ...others] = await Promise.all(stores.map(([, s]) => outcome(() => c.run(s))));
          others.forEach((answer, i) => expect(answer, `${stores[i + 1]![0]} after ${c.name}`).toEqual(reference));
        }
        const [reference, ...others] = await Promise.all(stores.map(([, s]) => snapshot(s)));
        others.forEach((state, i) => expect(state, `${stores[i + 1]![0]} final state`).toEqual(reference));
      }),
      // Shrinking a failure runs every candidate on PostgreSQL too: stop it in time to report.
      { numRuns: 60, interruptAfterTimeLimit: 45_000 },
    );
  }, 90_000);
});
