import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { argon2Hasher } from '../../src/server/platform/password-hasher.js';
import { authorizeOverHttp, CookieJar, fetchWithJar } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, freePort, postForm, tempDir } from './support.js';
import { createUser, registerClient } from '../../src/server/admin.js';
import { storageKey } from '../../src/server/core/token-keys.js';


/** `latchkey serve` as its own process, so it can be killed with SIGKILL. */
async function startServer(file: string, kek: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port), '--database', file], {
    env: { ...process.env, LATCHKEY_KEY_ENCRYPTION_KEY: kek, LATCHKEY_ISSUER: url, LATCHKEY_LOG_LEVEL: 'warn', NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start: ${stderr}`);
}

interface Family {
  /** The newest refresh token received for the family. */
  current: string;
  /** A rotation of `current` was sent and its answer never came (the kill cut it). */
  inFlight: boolean;
}

describe('Crash safety on SQLite: SIGKILL during a load of flows', () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    tmp.remove();
  });

  it('C3 RFC 6749 §4.1.2, T4 RFC 9700 §4.14.2: after a SIGKILL mid-load and a restart: the file is intact, no code redeems twice, no refresh token is lost, no half-written grant', async () => {
    const file = `${tmp.dir}/crash.db`;
    const kek = randomBytes(32).toString('base64url');
    // Seed through the store API, then hand the file to the server.
    const seed = SqliteStore.open(file);
    const { client, clientSecret } = await registerClient(seed, { name: 'Crash App', redirectUris: ['https://app.example/cb'], scopes: ['notes:read'] });
    await createUser(seed, argon2Hasher, 'kim', 'kim password 1');
    await seed.close();
    const auth = { authorization: basic(client.id, clientSecret!) };

    let server = await startServer(file, kek);
    children.push(server.child);
    const jar = new CookieJar();
    const params = () => {
      const pkce = pkcePair();
      return { pkce, url: authorizeUrl(server.url, { response_type: 'code', client_id: client.id, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope: 'notes:read' }) };
    };
    // Log in and consent once; from then on /authorize answers with a code straight away.
    const first = params();
    await authorizeOverHttp(first.url, { username: 'kim', password: 'kim password 1' }, { jar });

    const issued = new Map<string, string>(); // code → verifier
    const redeemed = new Set<string>(); // codes we saw a 200 for
    const families: Family[] = [];
    const received: string[] = []; // every refresh token in a 200
    let stop = false;
    let completed = 0;

    const worker = async () => {
      while (!stop) {
        try {
          const p = params();
          const res = await fetchWithJar(jar, p.url);
          if (res.status !== 303) continue;
          const code = new URL(res.headers.get('location')!).searchParams.get('code');
          if (!code) continue;
          issued.set(code, p.pkce.verifier);
          const token = await postForm(`${server.url}/token`, { grant_type: 'authorization_code', code, code_verifier: p.pkce.verifier }, auth);
          if (token.status !== 200) continue;
          const body = (await token.json()) as { refresh_token: string };
          redeemed.add(code);
          received.push(body.refresh_token);
          const family: Family = { current: body.refresh_token, inFlight: false };
          families.push(family);
          for (let i = 0; i < 2 && !stop; i++) {
            family.inFlight = true;
            const refreshed = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: family.current }, auth);
            if (refreshed.status !== 200) break;
            const next = ((await refreshed.json()) as { refresh_token: string }).refresh_token;
            received.push(next);
            family.current = next;
            family.inFlight = false;
          }
          completed++;
        } catch {
          // The kill cuts requests in flight; their state is what this test is about.
          if (stop) return;
        }
      }
    };
    const workers = Array.from({ length: 12 }, () => worker());
    while (completed < 40) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 100)));
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    await new Promise<void>((resolve) => (server.child.exitCode !== null || server.child.signalCode !== null ? resolve() : server.child.once('exit', () => resolve())));
    expect(server.child.signalCode).toBe('SIGKILL');
    expect(issued.size).toBeGreaterThan(40);

    // The database opens clean (the WAL is replayed) and passes SQLite's own check.
    const db = new Database(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // No half-written redemption: every grant has its first refresh token (one transaction).
    const grantsWithoutRefresh = db.prepare('SELECT count(*) AS n FROM grants g WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)').get() as { n: number };
    expect(grantsWithoutRefresh.n).toBe(0);
    // No issued refresh token is lost: every one the client received is in the file.
    const find = db.prepare('SELECT 1 FROM refresh_tokens WHERE hash = ?');
    const lost = received.filter((t) => find.get(storageKey(t)) === undefined);
    expect(lost).toEqual([]);
    db.close();

    server = await startServer(file, kek);
    children.push(server.child);

    // Every refresh token held before the kill still works, unless its rotation was cut mid-flight
    // (then the server may legitimately have rotated it already).
    const refreshStatuses = await Promise.all(
      families.map(async (f) => ({ f, status: (await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: f.current }, auth)).status })),
    );
    const broken = refreshStatuses.filter(({ f, status }) => status !== 200 && !f.inFlight);
    expect(broken).toEqual([]);
    expect(refreshStatuses.filter(({ status }) => status === 200).length).toBeGreaterThan(0);

    // Every code seen issued redeems at most once: those redeemed before the kill never again;
    // the others at most once now, and never a second time.
    const codes = [...issued];
    const replays = await Promise.all(
      codes.map(async ([code, verifier]) => {
        const once = (await postForm(`${server.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth)).status;
        const twice = (await postForm(`${server.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth)).status;
        return { code, once, twice, before: redeemed.has(code) };
      }),
    );
    expect(replays.filter((r) => r.before && r.once === 200)).toEqual([]);
    expect(replays.filter((r) => r.twice === 200)).toEqual([]);
    console.log(
      `crash: ${issued.size} codes issued, ${redeemed.size} redeemed before the kill, ${replays.filter((r) => !r.before && r.once === 200).length} redeemed after; ` +
        `${families.length} refresh families, ${families.filter((f) => f.inFlight).length} with a rotation cut by the kill; ${received.length} refresh tokens all present`,
    );
    server.child.kill('SIGTERM');
  }, 120_000);
});
