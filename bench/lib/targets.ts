/**
 * The two servers under load, each in its own child process: Latchkey through its built CLI
 * (`bin/latchkey.js serve`, on a fresh SQLite file or a fresh PostgreSQL schema, one process or
 * `--workers N`), and oidc-provider through bench/oidc-provider-server.ts. Both get the same
 * client (confidential, client_secret_basic, one redirect URI), the same scope, and BENCH_USERS
 * users (default 256), each with a signed-in session and remembered consent, so GET /authorize
 * answers at once with a 303 carrying a code.
 *
 * Many users, not one: a user's grant collects every token issued to it, and oidc-provider's
 * memory adapter rewrites a grant's whole member list at each token it stores. With one user for
 * every flow of a run, oidc-provider's CPU per flow doubled within 36 s (44 % of it in
 * `setGrantMembers`), which no real user's few flows would cause.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { registerClient } from '../../src/server/admin.js';
import { sha256 } from '../../src/server/core/digest.js';
import type { Store } from '../../src/server/core/ports.js';
import { openStore } from '../../src/server/store/open-store.js';
import { processTree } from './proc.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REDIRECT_URI = 'http://127.0.0.1:9/cb';
export const SCOPE = 'api:read';
/** Signed-in users per server; the flows take their sessions in turn. */
export const USERS = Number(process.env.BENCH_USERS ?? 256);
/** The local PostgreSQL's Unix socket (Debian's place for it). */
const POSTGRES_SOCKET_DIR = '/var/run/postgresql';

/**
 * BENCH_POSTGRES_URL, read when a server starts so that bench/ab.ts variants may each name their
 * own; by default the local server, through its Unix socket when it has one (as a server on the
 * same machine is best reached, docs/deployment.md), else over TCP to 127.0.0.1.
 */
export function postgresUrl(): string {
  if (process.env.BENCH_POSTGRES_URL) return process.env.BENCH_POSTGRES_URL;
  return existsSync(`${POSTGRES_SOCKET_DIR}/.s.PGSQL.5432`)
    ? `postgres://postgres@localhost/test?host=${POSTGRES_SOCKET_DIR}`
    : 'postgres://postgres@127.0.0.1:5432/test';
}

export interface Target {
  /** Row label, e.g. "Latchkey (SQLite)". */
  name: string;
  origin: string;
  authorizationPath: string;
  tokenPath: string;
  introspectionPath: string;
  /** A cheap GET, sent only while autocannon stops after a row (never counted). */
  fillerPath: string;
  clientId: string;
  clientSecret: string;
  /** Cookie headers of the signed-in sessions with remembered consent, one per user. */
  cookies: string[];
  /**
   * Processes that answer requests (a CLI's workers; 1 otherwise). Each gets its share of the
   * load, so each needs that many times the warm-up to see as many requests before it is measured.
   */
  servingProcesses: number;
  /** The server's processes now (the CLI primary and its workers). */
  pids(): number[];
  /** Last lines of the server's log, for error reports. */
  logTail(): string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitFor(url: string, child: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${log()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer ${url} within ${timeoutMs} ms:\n${log()}`);
}

/** Servers still running: killed if the bench itself exits early (an error, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(130);
  });
}

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** The client and USERS users, each with a session and consent, written straight through the Store API. */
async function seed(store: Store, api: ServerApi): Promise<{ clientId: string; clientSecret: string; cookies: string[] }> {
  const now = Date.now();
  const { client, clientSecret } = await api.registerClient(store, { name: 'Bench App', redirectUris: [REDIRECT_URI], scopes: [SCOPE] });
  const cookies: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const userId = randomBytes(16).toString('base64url');
    await store.createUser({ id: userId, username: `bench-${i}`, passwordHash: 'not-used-by-the-bench', createdAt: now });
    const cookieValue = randomBytes(32).toString('base64url');
    await store.createSession({ idHash: sha256(cookieValue), userId, authTime: now, createdAt: now, expiresAt: now + 8 * 3600 * 1000 });
    await store.saveConsent({ userId, clientId: client.id, scope: [SCOPE], grantedAt: now });
    cookies.push(`latchkey-session=${cookieValue}`);
  }
  return { clientId: client.id, clientSecret: clientSecret!, cookies };
}

export interface LatchkeyTargetOptions {
  database: 'sqlite' | 'postgres';
  workers?: number;
  /** Extra node flags for the server process, e.g. --cpu-prof. */
  nodeFlags?: string[];
  name?: string;
}

/**
 * The environment and node flags the CLI's own launcher line gives (`#!/usr/bin/env -S NAME=value
 * node FLAGS`), so that the server runs as `npx latchkey serve` runs it; `nodeFlags` come after
 * the flags and, for the same flag, win, and the bench's own environment wins over the line's.
 */
function launcher(bin: string): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\S*env\s+(?:-S\s+)?((?:\w+=\S*\s+)*)node\b(.*)$/.exec(first);
  if (!match) return { env: {}, flags: [] };
  const env = Object.fromEntries(match[1]!.trim().split(/\s+/).filter(Boolean).map((assignment) => assignment.split('=', 2) as [string, string]));
  return { env, flags: match[2]!.trim().split(/\s+/).filter(Boolean) };
}

interface ServerApi {
  openStore: typeof openStore;
  registerClient: typeof registerClient;
}

/**
 * The build under test: this tree's, or the one BENCH_LATCHKEY_BIN names (bench/ab.ts compares
 * builds), whose own migrations must create the database it is given.
 */
async function serverApi(): Promise<{ bin: string; api: ServerApi }> {
  const bin = process.env.BENCH_LATCHKEY_BIN;
  if (!bin) return { bin: join(root, 'bin/latchkey.js'), api: { openStore, registerClient } };
  const api = (await import(pathToFileURL(resolve(dirname(bin), '../dist/server/index.js')).href)) as ServerApi;
  return { bin, api };
}

export async function startLatchkey(options: LatchkeyTargetOptions): Promise<Target> {
  const { bin, api } = await serverApi();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const workers = options.workers ?? 1;
  let database: string;
  let schema: string | undefined;
  let store: Store;
  if (options.database === 'postgres') {
    schema = `bench_${randomBytes(6).toString('hex')}`;
    const url = postgresUrl();
    store = await api.openStore(url, { schema });
    database = `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;
  } else {
    database = join(dir, 'latchkey.db');
    store = await api.openStore(database);
  }
  const seeded = await seed(store, api);
  await store.close();

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const line = launcher(bin);
  const child = track(spawn(
    process.execPath,
    [...line.flags, ...(options.nodeFlags ?? []), bin, 'serve', '--port', String(port), '--host', '127.0.0.1', '--issuer', origin, '--database', database, '--workers', String(workers)],
    {
      cwd: dir,
      stdio: ['ignore', log, log],
      env: {
        ...line.env,
        ...process.env,
        NODE_ENV: 'production',
        LATCHKEY_DEVELOPMENT: 'false',
        LATCHKEY_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      },
    },
  ));
  closeSync(log);
  try {
    await waitFor(`${origin}/healthz`, child, () => tail(logFile));
    if (workers > 1) {
      // Every worker must be listening before the load starts.
      const deadline = Date.now() + 30_000;
      while (processTree(child.pid!).length < workers + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500));
    }
  } catch (error) {
    await stop(child);
    throw error;
  }
  const label = options.name ?? `Latchkey (${options.database === 'postgres' ? 'PostgreSQL' : 'SQLite'}${workers > 1 ? `, ${workers} workers` : ''})`;
  return {
    name: label,
    origin,
    authorizationPath: '/authorize',
    tokenPath: '/token',
    introspectionPath: '/introspect',
    fillerPath: '/healthz',
    ...seeded,
    servingProcesses: workers,
    pids: () => processTree(child.pid!),
    logTail: () => tail(logFile),
    async close() {
      await stop(child);
      if (schema) {
        const client = new pg.Client({ connectionString: postgresUrl() });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** oidc-provider in its own process, each user signed in once through its (programmatic) interaction. */
export async function startOidcProvider(options: { nodeFlags?: string[] } = {}): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-provider-bench-'));
  const logFile = join(dir, 'server.log');
  const log = openSync(logFile, 'a');
  const clientId = 'bench-client';
  const clientSecret = randomBytes(32).toString('base64url');
  const child = track(spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', join(root, 'bench/oidc-provider-server.ts')], {
    cwd: root,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', BENCH_CLIENT_ID: clientId, BENCH_CLIENT_SECRET: clientSecret, BENCH_REDIRECT_URI: REDIRECT_URI, BENCH_SCOPE: SCOPE },
  }));
  closeSync(log);
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start:\n${tail(logFile)}`)), 30_000);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolvePort(message.port);
    });
    child.once('exit', (code) => reject(new Error(`oidc-provider exited with ${code}:\n${tail(logFile)}`)));
  });
  const origin = `http://127.0.0.1:${port}`;
  const target: Target = {
    name: 'oidc-provider 9 (memory)',
    origin,
    authorizationPath: '/auth',
    tokenPath: '/token',
    introspectionPath: '/token/introspection',
    fillerPath: '/jwks',
    clientId,
    clientSecret,
    cookies: [],
    servingProcesses: 1,
    pids: () => processTree(child.pid!),
    logTail: () => tail(logFile),
    async close() {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Eight sign-ins at a time; each user is named by login_hint, which the interaction signs in.
    const users = Array.from({ length: USERS }, (_, i) => `bench-${i}`);
    for (let i = 0; i < users.length; i += 8) target.cookies.push(...(await Promise.all(users.slice(i, i + 8).map((user) => signInToOidcProvider(target, user)))));
  } catch (error) {
    await target.close();
    throw error;
  }
  return target;
}

/** Follows one authorization request for `user` through the interaction; returns the session cookies. */
async function signInToOidcProvider(target: Target, user: string): Promise<string> {
  const jar = new Map<string, string>();
  const { pkceParams } = await import('./pkce.js');
  let url = new URL(`${target.authorizationPath}?${new URLSearchParams({ ...pkceParams(target).params, login_hint: user })}`, target.origin);
  for (let step = 0; step < 10; step++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    const location = response.headers.get('location');
    if (response.status !== 303 && response.status !== 302) throw new Error(`oidc-provider sign-in: HTTP ${response.status} at ${url.pathname}: ${(await response.text()).slice(0, 300)}`);
    const next = new URL(location!, url);
    if (next.href.startsWith(REDIRECT_URI)) {
      if (!next.searchParams.get('code')) throw new Error(`oidc-provider sign-in ended without a code: ${next.href}`);
      const session = [...jar].filter(([name]) => name.startsWith('_session'));
      if (session.length === 0) throw new Error('oidc-provider sign-in set no session cookie');
      return session.map(([k, v]) => `${k}=${v}`).join('; ');
    }
    url = next;
  }
  throw new Error('oidc-provider sign-in: too many redirects');
}
