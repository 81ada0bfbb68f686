/**
 * One contract suite for every SessionStore adapter (hono's shared router suite is the model):
 * the memory store and the SQLite store (a real file in a temp dir) run the same tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionData, SessionStore } from '../../src/client/index.js';
import { MemorySessionStore, RedisSessionStore, SqliteSessionStore } from '../../src/client/index.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-client-sessions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Subject {
  store: SessionStore;
  now(): number;
  /** Moves the store's clock forward (Redis keeps real time, so there it waits). */
  advance(ms: number): void | Promise<void>;
  close(): void | Promise<void>;
}

let redis: TestRedis | undefined;
afterAll(async () => {
  await redis?.close();
});

const adapters: Array<[string, () => Subject | Promise<Subject>]> = [
  [
    'MemorySessionStore',
    () => {
      let clock = Date.now();
      return { store: new MemorySessionStore({ now: () => clock }), now: () => clock, advance: (ms) => void (clock += ms), close: () => {} };
    },
  ],
  [
    'SqliteSessionStore',
    async () => {
      let clock = Date.now();
      const store = await SqliteSessionStore.open(join(dir, `${Math.random().toString(36).slice(2)}.db`), { now: () => clock });
      return { store, now: () => clock, advance: (ms) => void (clock += ms), close: () => store.close() };
    },
  ],
  [
    'RedisSessionStore (real redis-server)',
    async () => {
      redis ??= await startRedis();
      const store = new RedisSessionStore({ command: redis.command, prefix: `test:${Math.random().toString(36).slice(2)}:` });
      return { store, now: () => Date.now(), advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), close: () => {} };
    },
  ],
];

const session = (expiresAt: number): SessionData => ({
  expiresAt,
  tokens: { accessToken: 'at', expiresAt: null, refreshToken: 'rt', scope: ['a', 'b'] },
  user: { sub: 'alice', scope: ['a', 'b'], username: 'alice' },
});

describe.each(adapters)('%s contract', (_name, make) => {
  it('stores, returns and replaces a session by key', async () => {
    const { store, now, close } = await make();
    const later = now() + 60_000;
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', session(later), later);
    expect(await store.get('k')).toEqual(session(later));
    const replaced = { ...session(later + 1), user: { sub: 'bob', scope: [] } };
    await store.set('k', replaced, later + 1);
    expect(await store.get('k')).toEqual(replaced);
    await close();
  });

  it('returns nothing once a session expired', async () => {
    const { store, now, advance, close } = await make();
    const expiresAt = now() + 300;
    await store.set('k', session(expiresAt), expiresAt);
    await advance(100);
    expect(await store.get('k')).toBeDefined();
    await advance(250);
    expect(await store.get('k')).toBeUndefined();
    await close();
  });

  it('deletes a session; deleting an unknown key is fine', async () => {
    const { store, now, close } = await make();
    await store.set('k', session(now() + 60_000), now() + 60_000);
    await store.delete('k');
    await store.delete('never');
    expect(await store.get('k')).toBeUndefined();
    await close();
  });

  it('returns a copy: changing the result does not change the stored session', async () => {
    const { store, now, close } = await make();
    await store.set('k', session(now() + 60_000), now() + 60_000);
    const read = (await store.get('k'))!;
    read.user!.sub = 'mallory';
    expect((await store.get('k'))!.user!.sub).toBe('alice');
    await close();
  });
});

describe('SqliteSessionStore', () => {
  it('keeps sessions across a reopen of the same file, and purges expired rows', async () => {
    let clock = 1_000_000;
    const file = join(dir, 'reopen.db');
    const first = await SqliteSessionStore.open(file, { now: () => clock });
    await first.set('live', session(5_000_000), 5_000_000);
    await first.set('old', session(1_000_100), 1_000_100);
    first.close();
    const second = await SqliteSessionStore.open(file, { now: () => clock });
    expect((await second.get('live'))?.user?.sub).toBe('alice');
    clock += 200;
    expect(second.purgeExpired()).toBe(1);
    expect((second.db.prepare('SELECT count(*) AS n FROM latchkey_client_sessions').get() as { n: number }).n).toBe(1);
    second.close();
  });
});
