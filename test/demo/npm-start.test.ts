/**
 * `npm start` on a fresh checkout: a temporary copy of the committed files (node_modules linked),
 * started for real with free ports, probed over HTTP, stopped with SIGTERM and started again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp, CookieJar, fetchWithJar } from '../helpers/latchkey.js';
import { freePort } from '../helpers/processes.js';

const repo = resolve(import.meta.dirname, '../..');
let copy: string;
const running = new Set<ChildProcess>();

interface Started {
  child: ChildProcess;
  output: string;
  password: string;
}

/** Runs a command in the copy (its own process group) and waits for the demo's banner. */
async function startDemo(command: string[], env: Record<string, string>, timeoutMs = 100_000): Promise<Started> {
  const child = spawn(command[0]!, command.slice(1), { cwd: copy, env: { ...process.env, NO_COLOR: '1', ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      const match = /Sign in as\s+demo \/ (\S+)/.exec(output);
      if (match && output.includes('Stop with Ctrl+C')) {
        clearTimeout(timer);
        resolveStart({ child, output, password: match[1]! });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before the banner:\n${output}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  // The whole group: npm, the shell it runs, and node demo/start.js.
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
  running.delete(child);
}

/** Signs in as the demo user over plain HTTP and returns the app's home page once signed in. */
async function signIn(appUrl: string, password: string): Promise<{ home: string; authorizationUrl: URL }> {
  const jar = new CookieJar();
  const login = await fetchWithJar(jar, `${appUrl}/login`);
  expect(login.status).toBe(303);
  const authorizationUrl = new URL(login.headers.get('location')!);
  const callback = await authorizeOverHttp(authorizationUrl, { username: 'demo', password }, { jar });
  const back = await fetchWithJar(jar, callback);
  expect(back.status).toBe(303);
  const home = await fetchWithJar(jar, new URL(back.headers.get('location')!, appUrl));
  expect(home.status).toBe(200);
  return { home: await home.text(), authorizationUrl };
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'latchkey-npm-start-'));
  // What a fresh clone gets: the committed tree (git ls-files at HEAD), not work in progress.
  const archive = spawnSync('sh', ['-c', `git archive --format=tar HEAD | tar -x -C "${copy}"`], { cwd: repo, encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`git archive failed: ${archive.stderr}`);
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'), 'dir');
});

afterAll(async () => {
  for (const child of running) await stop(child).catch(() => {});
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('npm start (issue 6)', () => {
  const ports = { as: 0, app: 0, api: 0 };
  const env = () => ({ LATCHKEY_PORT: String(ports.as), DEMO_APP_PORT: String(ports.app), DEMO_API_PORT: String(ports.api) });
  let firstPassword = '';
  let firstKid = '';

  it('first start: builds, creates the database, key, demo user and clients, prints the URLs; all three servers answer and a sign-in works end to end', async () => {
    ports.as = await freePort();
    ports.app = await freePort();
    ports.api = await freePort();
    const { child, output, password } = await startDemo(['npm', 'start'], env());
    const appUrl = `http://localhost:${ports.app}`;
    const issuer = `http://localhost:${ports.as}`;
    const apiUrl = `http://localhost:${ports.api}`;
    expect(output).toContain('first start');
    expect(output).toContain(`Demo app              ${appUrl}`);
    expect(output).toContain(`Authorization server  ${issuer}`);
    expect(output).toContain(`Demo API              ${apiUrl}`);
    expect(existsSync(join(copy, 'latchkey-demo.db'))).toBe(true);
    expect(existsSync(join(copy, 'latchkey-demo.db.kek'))).toBe(true);

    const landing = await fetch(appUrl);
    expect(landing.status).toBe(200);
    expect(await landing.text()).toContain('Sign in with Latchkey');
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
    expect(metadata.issuer).toBe(issuer);
    // A6 RFC 6750 §3: the API refuses a request without a token, with a Bearer challenge.
    const api = await fetch(`${apiUrl}/notes`);
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toMatch(/^Bearer /);

    const { home, authorizationUrl } = await signIn(appUrl, password);
    expect(authorizationUrl.searchParams.get('client_id')).toBe('latchkey-demo-app');
    expect(authorizationUrl.searchParams.get('resource')).toBe(apiUrl);
    expect(home).toContain('Hello, demo');
    expect(home).toContain('This note came from the demo API');
    // The browser never sees a token: no JWT anywhere in the page.
    expect(home).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);

    firstPassword = password;
    const jwks = (await (await fetch(`${issuer}/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    firstKid = jwks.keys[0]!.kid;
    await stop(child);
  }, 150_000);

  it('a second start reuses the same database, signing key, demo user and client', async () => {
    expect(firstPassword).not.toBe('');
    const { child, output, password } = await startDemo(['npm', 'start'], env());
    expect(output).toContain('reusing the existing demo data');
    expect(password).toBe(firstPassword);
    const issuer = `http://localhost:${ports.as}`;
    const jwks = (await (await fetch(`${issuer}/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(firstKid);
    const { home, authorizationUrl } = await signIn(`http://localhost:${ports.app}`, password);
    expect(authorizationUrl.searchParams.get('client_id')).toBe('latchkey-demo-app');
    expect(home).toContain('Hello, demo');
    await stop(child);
  }, 150_000);

  it('a port already in use gives one clear line naming the port and its variable, and exit code 1', async () => {
    const blocker: Server = createServer();
    const taken = await new Promise<number>((resolvePort) =>
      blocker.listen(0, '127.0.0.1', () => {
        const address = blocker.address();
        resolvePort(typeof address === 'object' && address ? address.port : 0);
      }),
    );
    try {
      // dist/ was built by the first start; run the entry directly.
      const result = spawnSync('node', ['demo/start.js'], {
        cwd: copy,
        env: { ...process.env, NO_COLOR: '1', ...env(), DEMO_API_PORT: String(taken) },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`port ${taken}`);
      expect(result.stderr).toContain('DEMO_API_PORT');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((resolveClose) => blocker.close(resolveClose));
    }
  }, 90_000);
});
