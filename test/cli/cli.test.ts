import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClientId } from '../../src/server/admin.js';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { freePort } from '../helpers/processes.js';

const bin = join(process.cwd(), 'bin', 'latchkey.js');
let dir: string;
let database: string;
const env = () => ({ ...process.env, LATCHKEY_DATABASE: database, NODE_ENV: 'development', LATCHKEY_LOG_LEVEL: 'warn' });

function latchkey(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: env(), input, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  database = join(dir, 'latchkey.db');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('latchkey clients', () => {
  it('clients create --json prints client_id and a client_secret that is stored only as a hash', () => {
    const r = latchkey(['clients', 'create', '--name', 'Notes', '--redirect-uri', 'https://app.example/cb', '--scope', 'notes:read notes:write', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { client_id: string; client_secret: string };
    expect(out.client_id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(out.client_secret.length).toBeGreaterThanOrEqual(43);
    const db = new Database(database, { readonly: true });
    const row = db.prepare('SELECT * FROM clients WHERE id = ?').get(out.client_id) as { secret_hash: string; grant_types: string };
    db.close();
    expect(row.secret_hash).not.toContain(out.client_secret);
    expect(row.secret_hash).toBe(createHash('sha256').update(out.client_secret).digest('base64url'));
    expect(JSON.parse(row.grant_types)).toEqual(['authorization_code', 'refresh_token']);
  });

  it('clients create --public has no secret', () => {
    const r = latchkey(['clients', 'create', '--name', 'CLI tool', '--redirect-uri', 'http://127.0.0.1/cb', '--public', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).client_secret).toBeNull();
  });

  it('R4 RFC 9700 §2.6: an http redirect URI for a non-loopback host is refused with one clear line', () => {
    const r = latchkey(['clients', 'create', '--name', 'Bad', '--redirect-uri', 'http://app.example/cb']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/http.*not loopback/);
  });

  it('R5 OAuth 2.1 §2.3: a redirect URI with a fragment is refused; R6: a private-use scheme needs a dot', () => {
    expect(latchkey(['clients', 'create', '--name', 'Bad', '--redirect-uri', 'https://app.example/cb#x']).stderr).toMatch(/fragment/);
    expect(latchkey(['clients', 'create', '--name', 'Bad', '--redirect-uri', 'myapp:/cb']).stderr).toMatch(/reverse domain/);
    expect(latchkey(['clients', 'create', '--name', 'Ok', '--redirect-uri', 'com.example.app:/cb']).code).toBe(0);
  });

  it('RFC 7662 §2.1: clients create --resource-server registers an API that may introspect, with a secret and no redirect URI', () => {
    const r = latchkey(['clients', 'create', '--name', 'Notes API', '--resource-server', 'https://api.example/notes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { client_id: string; client_secret: string };
    expect(out.client_secret.length).toBeGreaterThanOrEqual(43);
    const shown = latchkey(['clients', 'show', out.client_id]);
    expect({ code: shown.code, stderr: shown.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(shown.stdout)).toMatchObject({ type: 'resource server', resources: ['https://api.example/notes'], grant_types: [], redirect_uris: [] });
    const mixed = latchkey(['clients', 'create', '--name', 'Both', '--resource-server', 'https://api.example/notes', '--redirect-uri', 'https://app.example/cb']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/takes no --redirect-uri/);
    expect(latchkey(['clients', 'create', '--name', 'Neither']).stderr).toMatch(/at least one --redirect-uri is required/);
  });

  it('generated client ids never begin with "-", which `clients show ID` would read as an option', () => {
    // Drawn plainly, about one base64url id in 64 begins with "-": 5,000 would hold one almost surely.
    const ids = Array.from({ length: 5000 }, () => newClientId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('clients list, show and delete', () => {
    const created = JSON.parse(latchkey(['clients', 'create', '--name', 'Temp', '--redirect-uri', 'https://t.example/cb', '--json']).stdout) as { client_id: string };
    expect(latchkey(['clients', 'list']).stdout).toContain(created.client_id);
    const show = latchkey(['clients', 'show', created.client_id]);
    expect(show.code, `stdout: ${show.stdout}\nstderr: ${show.stderr}`).toBe(0);
    const shown = JSON.parse(show.stdout) as { name: string; type: string };
    expect(shown).toMatchObject({ name: 'Temp', type: 'confidential' });
    expect(latchkey(['clients', 'delete', created.client_id]).code).toBe(0);
    expect(latchkey(['clients', 'show', created.client_id]).code).toBe(2);
  });
});

describe('latchkey users', () => {
  it('users create --password-stdin stores an argon2id hash; list and delete', () => {
    const r = latchkey(['users', 'create', '--username', 'carol', '--password-stdin'], 'a long enough password\n');
    expect(r.code, r.stderr).toBe(0);
    const db = new Database(database, { readonly: true });
    const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('carol') as { password_hash: string };
    db.close();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(latchkey(['users', 'create', '--username', 'carol', '--password-stdin'], 'another password\n').stderr).toMatch(/taken/);
    expect(latchkey(['users', 'list']).stdout).toContain('carol');
    expect(latchkey(['users', 'delete', 'carol']).code).toBe(0);
    expect(latchkey(['users', 'list']).stdout).not.toContain('carol');
  });

  it('refuses a short password', () => {
    expect(latchkey(['users', 'create', '--username', 'dave', '--password-stdin'], 'short\n').code).toBe(2);
  });
});

describe('latchkey keys', () => {
  it('keys rotate publishes a pending key; keys list shows each state', () => {
    expect(latchkey(['keys', 'rotate', '--now']).code).toBe(0);
    const first = latchkey(['keys', 'list']).stdout;
    expect(first).toMatch(/active/);
    expect(latchkey(['keys', 'rotate']).code).toBe(0);
    const listed = latchkey(['keys', 'list']).stdout;
    expect(listed).toMatch(/pending/);
    expect(listed.trim().split('\n').length).toBeGreaterThanOrEqual(2);
  });
});

describe('latchkey serve', () => {
  it('bad configuration stops start-up with one line naming the setting', () => {
    const port = latchkey(['serve', '--port', 'ninety']);
    expect(port.code).toBe(2);
    expect(port.stderr.trim()).toMatch(/^latchkey: configuration error: port \(LATCHKEY_PORT\)/);
    const issuer = latchkey(['serve', '--issuer', 'http://auth.example.com']);
    expect(issuer.code).toBe(2);
    expect(issuer.stderr).toMatch(/issuer \(LATCHKEY_ISSUER\).*https/);
  });

  it('the CLI and a running server share one database file: a client created while it runs can sign in', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [bin, 'serve', '--port', String(port), '--issuer', issuer], {
      env: { ...env(), LATCHKEY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('latchkey listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      const { client_id, client_secret } = JSON.parse(
        latchkey(['clients', 'create', '--name', 'Live', '--redirect-uri', 'https://live.example/cb', '--scope', 'profile', '--json']).stdout,
      ) as { client_id: string; client_secret: string };
      expect(latchkey(['users', 'create', '--username', 'erin', '--password-stdin'], 'erin password 1\n').code).toBe(0);
      const { verifier, challenge } = pkcePair();
      const url = new URL('/authorize', issuer);
      url.search = new URLSearchParams({ response_type: 'code', client_id, scope: 'profile', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
      const callback = await authorizeOverHttp(url, { username: 'erin', password: 'erin password 1' });
      const token = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id, client_secret }),
      });
      expect(token.status).toBe(200);

      // A second server on the same port fails with one clear line.
      const second = spawnSync(process.execPath, [bin, 'serve', '--port', String(port), '--issuer', issuer], { env: env(), encoding: 'utf8', timeout: 20_000 });
      expect(second.status).toBe(1);
      expect(second.stderr.trim()).toBe(`latchkey: port ${port} is already in use; choose another with --port or LATCHKEY_PORT`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
