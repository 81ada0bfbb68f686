import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/server/core/ports.js';
import { StoreUnavailableError } from '../../src/server/core/ports.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { authorizeOverHttp, CookieJar, fetchWithJar, hiddenField } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, freePort, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from './support.js';

/** A Store whose every method throws StoreUnavailableError while `down` is set: a database that went away. */
function flakyStore(inner: Store): { store: Store; setDown(down: boolean): void } {
  let down = false;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || property === 'close') return value;
      return (...args: unknown[]) => {
        if (down) return Promise.reject(new StoreUnavailableError('database is unreachable (test)'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, setDown: (d) => (down = d) };
}

const STACK = /at .+\.(ts|js):\d+|node:internal|Error: /;

async function expect503(res: Response, kind: 'json' | 'page'): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  const text = await res.text();
  expect(text).not.toMatch(STACK);
  expect(text).not.toContain('unreachable (test)');
  if (kind === 'json') expect(JSON.parse(text).error).toBe('temporarily_unavailable');
  else expect(res.headers.get('content-type')).toContain('text/html');
}

/** Drives a whole flow and returns the token response status. */
async function flow(lk: Instance, client: { clientId: string; clientSecret?: string }, user: { username: string; password: string }): Promise<number> {
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeOverHttp(
    authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256', scope: 'notes:read' }),
    user,
    { jar: new CookieJar() },
  );
  const res = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier }, { authorization: basic(client.clientId, client.clientSecret!) });
  return res.status;
}

describe('A store that is briefly unreachable (SQLite behind a failing wrapper)', () => {
  const tmp = tempDir();
  let lk: Instance;
  let flaky: ReturnType<typeof flakyStore>;
  let client: { clientId: string; clientSecret?: string };
  const user = { username: 'dora', password: 'dora password' };
  beforeAll(async () => {
    const sqlite = SqliteStore.open(`${tmp.dir}/outage.db`);
    flaky = flakyStore(sqlite);
    lk = await startInstance({ databaseFile: `${tmp.dir}/outage.db`, kek: newKek(), store: flaky.store });
    client = await seedClient(sqlite);
    await seedUser(sqlite, user.username, user.password);
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('answers 503 with Retry-After on every endpoint and page, never a 500 or a stack trace, then recovers by itself', async () => {
    expect(await flow(lk, client, user)).toBe(200);
    flaky.setDown(true);
    const { challenge } = pkcePair();
    await expect503(await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(client.clientId, client.clientSecret!) }), 'json');
    await expect503(await postForm(`${lk.url}/introspect`, { token: 'x' }, { authorization: basic(client.clientId, client.clientSecret!) }), 'json');
    await expect503(await postForm(`${lk.url}/revoke`, { token: 'x' }, { authorization: basic(client.clientId, client.clientSecret!) }), 'json');
    await expect503(await fetch(authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' }), 'page');
    await expect503(await fetch(`${lk.url}/login?interaction=abc`, { redirect: 'manual' }), 'page');
    await expect503(await fetch(`${lk.url}/consent?interaction=abc`, { redirect: 'manual' }), 'page');
    // The login form itself, posted with a valid CSRF token.
    const jar = new CookieJar();
    flaky.setDown(false);
    const form = await fetchWithJar(jar, `${lk.url}/login`);
    const csrf = hiddenField(await form.text(), '_csrf');
    flaky.setDown(true);
    await expect503(
      await fetchWithJar(jar, `${lk.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...user }) }),
      'page',
    );
    const ready = await fetch(`${lk.url}/readyz`);
    expect(ready.status).toBe(503);
    flaky.setDown(false);
    expect((await fetch(`${lk.url}/readyz`)).status).toBe(200);
    expect(await flow(lk, client, user)).toBe(200);
  });
});

/** A TCP relay in front of PostgreSQL that can be cut (every connection dropped) and restored. */
async function relay(target: { host: string; port: number }): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((incoming) => {
        const outgoing = connect(target.port, target.host);
        sockets.add(incoming).add(outgoing);
        const drop = () => {
          incoming.destroy();
          outgoing.destroy();
          sockets.delete(incoming);
          sockets.delete(outgoing);
        };
        incoming.on('error', drop).on('close', drop);
        outgoing.on('error', drop).on('close', drop);
        incoming.pipe(outgoing).pipe(incoming);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}

describe('PostgreSQL that goes away mid-test', () => {
  const base = new URL(process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const schema = `lk_outage_${randomBytes(6).toString('hex')}`;
  let proxy: Awaited<ReturnType<typeof relay>>;
  let lk: Instance;
  let client: { clientId: string; clientSecret?: string };
  const user = { username: 'erin', password: 'erin password' };
  const tmp = tempDir();

  beforeAll(async () => {
    proxy = await relay({ host: base.hostname, port: Number(base.port || 5432) });
    const url = new URL(base.href);
    url.port = String(proxy.port);
    const store = await PostgresStore.open({ connectionString: url.href, schema, connectionTimeoutMs: 1000, max: 4 });
    lk = await startInstance({ databaseFile: `${tmp.dir}/unused.db`, kek: newKek(), store });
    client = await seedClient(store);
    await seedUser(store, user.username, user.password);
  });
  afterAll(async () => {
    await lk?.close();
    await proxy?.close();
    const admin = new pg.Client({ connectionString: base.href });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
    tmp.remove();
  });

  it('a dropped connection yields 503 with Retry-After (never a 500 or a stack trace), and the server recovers by itself', async () => {
    expect(await flow(lk, client, user)).toBe(200);
    await proxy.cut();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(client.clientId, client.clientSecret!) });
      statuses.push(res.status);
      await expect503(res, 'json');
    }
    const { challenge } = pkcePair();
    await expect503(await fetch(authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' }), 'page');
    expect((await fetch(`${lk.url}/readyz`)).status).toBe(503);
    await proxy.restore();
    // No restart, no operator: the pool reconnects on the next request.
    let ready = 0;
    for (let i = 0; i < 20 && ready !== 200; i++) {
      ready = (await fetch(`${lk.url}/readyz`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toBe(200);
    expect(await flow(lk, client, user)).toBe(200);
  }, 60_000);
});
