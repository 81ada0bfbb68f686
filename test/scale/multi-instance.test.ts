import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, registerClient } from '../../src/server/admin.js';
import type { Store } from '../../src/server/core/ports.js';
import { argon2Hasher } from '../../src/server/platform/password-hasher.js';
import { openStore } from '../../src/server/store/open-store.js';
import { authorizeOverHttp, CookieJar, fetchWithJar } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { bin, freePort, freshSchema, POSTGRES_URL, startServe, type ServeProcess } from '../helpers/processes.js';

/**
 * Several stateless `latchkey serve` processes on one PostgreSQL, as behind a load balancer: they
 * share the issuer, the database and the key-encryption key, and nothing else.
 */
const schema = freshSchema('lk_multi');
const database = `${POSTGRES_URL}?schema=${schema}`;
const env = {
  LATCHKEY_DATABASE: database,
  LATCHKEY_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
  LATCHKEY_KEY_RELOAD_SECONDS: '1',
  LATCHKEY_REFRESH_RETRY_WINDOW: '1',
  NODE_ENV: 'production',
};
const user = { username: 'multi', password: 'multi instance password' };
const redirectUri = 'https://app.example/cb';

let issuer: string;
let one: ServeProcess;
let two: ServeProcess;
let store: Store;
let client: { id: string; secret: string };

function basic(): string {
  return `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
}

async function token(instance: ServeProcess, body: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${instance.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic() },
    body: new URLSearchParams(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function authorizationUrl(instance: ServeProcess, challenge: string): URL {
  const url = new URL('/authorize', instance.url);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: redirectUri,
    scope: 'notes:read',
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url;
}

/** With a signed-in jar and remembered consent: one GET /authorize → 303 with a code. */
async function codeFrom(instance: ServeProcess, jar: CookieJar): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const response = await fetchWithJar(jar, authorizationUrl(instance, challenge));
  expect(response.status).toBe(303);
  const location = new URL(response.headers.get('location')!);
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location.href}`);
  return { code, verifier };
}

beforeAll(async () => {
  store = await openStore(database);
  const registered = await registerClient(store, { name: 'Multi', redirectUris: [redirectUri], scopes: ['notes:read'] });
  client = { id: registered.client.id, secret: registered.clientSecret! };
  await createUser(store, argon2Hasher, user.username, user.password);
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  one = await startServe({ port, issuer, env });
  two = await startServe({ issuer, env });
}, 90_000);

afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
  await store?.close();
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

describe('several instances on one PostgreSQL', () => {
  it('a code issued by instance 1 is redeemed at instance 2; the login session of one is honoured by the other', async () => {
    const jar = new CookieJar();
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeOverHttp(authorizationUrl(one, challenge), user, { jar });
    const redeemed = await token(two, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
    expect(redeemed.status, JSON.stringify(redeemed.json)).toBe(200);
    expect(callback.searchParams.get('iss')).toBe(issuer);

    // The session cookie set by instance 1 signs the browser in at instance 2 (consent remembered).
    const { code, verifier: v2 } = await codeFrom(two, jar);
    expect((await token(one, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: v2 })).status).toBe(200);
  });

  it('C3 RFC 6749 §4.1.2: the same code sent to both instances at once succeeds exactly once, 100 times in a row', async () => {
    const jar = new CookieJar();
    const { challenge } = pkcePair();
    await authorizeOverHttp(authorizationUrl(one, challenge), user, { jar });
    for (let round = 0; round < 100; round++) {
      const { code, verifier } = await codeFrom(round % 2 ? one : two, jar);
      const body = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier };
      const results = await Promise.all([token(one, body), token(two, body)]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses, `round ${round}: ${JSON.stringify(results.map((r) => r.json))}`).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)!.json.error).toBe('invalid_grant');
    }
  }, 120_000);

  it('T4 RFC 9700 §4.14.2: a refresh family rotated through alternating instances stays consistent, and reuse is detected across instances', async () => {
    const jar = new CookieJar();
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeOverHttp(authorizationUrl(one, challenge), user, { jar });
    const first = await token(one, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
    const tokens = [String(first.json.refresh_token)];
    for (let i = 0; i < 10; i++) {
      const rotated = await token(i % 2 ? one : two, { grant_type: 'refresh_token', refresh_token: tokens.at(-1)! });
      expect(rotated.status, JSON.stringify(rotated.json)).toBe(200);
      expect(rotated.json.refresh_token).not.toBe(tokens.at(-1));
      tokens.push(String(rotated.json.refresh_token));
    }
    // Outside the retry window (1 s here), an old token is reuse: the family is revoked.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const reuse = await token(two, { grant_type: 'refresh_token', refresh_token: tokens[3]! });
    expect(reuse.json.error).toBe('invalid_grant');
    const current = await token(one, { grant_type: 'refresh_token', refresh_token: tokens.at(-1)! });
    expect(current.status).toBe(400);
    expect(current.json.error).toBe('invalid_grant');
  }, 30_000);

  it('a key rotated through one instance is served by the other\'s JWKS within the reload interval (LATCHKEY_KEY_RELOAD_SECONDS)', async () => {
    const before = (await (await fetch(`${two.url}/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    execFileSync(process.execPath, [bin, 'keys', 'rotate', '--now'], { env: { ...process.env, ...env } });
    const rotatedAt = Date.now();
    let kids: string[] = before.keys.map((k) => k.kid);
    while (Date.now() - rotatedAt < 5_000) {
      kids = ((await (await fetch(`${two.url}/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
      if (kids.length > before.keys.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(kids.length).toBe(before.keys.length + 1);
    expect(Date.now() - rotatedAt).toBeLessThan(3_000);
    // The other instance signs with the new key once it has reloaded; the old one still verifies.
    const jar = new CookieJar();
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeOverHttp(authorizationUrl(one, challenge), user, { jar });
    const issued = await token(one, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
    const header = JSON.parse(Buffer.from(String(issued.json.access_token).split('.')[0]!, 'base64url').toString()) as { kid: string };
    expect(kids).toContain(header.kid);
  });

  it('/healthz answers while the process is up; /readyz checks the store', async () => {
    expect((await fetch(`${one.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${two.url}/readyz`)).status).toBe(200);
  });

  it('kill -9 in the middle of a load of flows: after restart no code is redeemed twice and no issued refresh token is lost', async () => {
    const jar = new CookieJar();
    const { challenge } = pkcePair();
    await authorizeOverHttp(authorizationUrl(one, challenge), user, { jar });
    const redeemedCodes: Array<{ code: string; verifier: string }> = [];
    const refreshTokens: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const { code, verifier } = await codeFrom(one, jar);
          const result = await token(two, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
          if (result.status === 200) {
            redeemedCodes.push({ code, verifier });
            refreshTokens.push(String(result.json.refresh_token));
          }
        } catch {
          // instance two was killed under us: the request failed, nothing was received
        }
      }
    };
    const load = Array.from({ length: 8 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await two.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(load);
    expect(redeemedCodes.length).toBeGreaterThan(5);

    two = await startServe({ port: two.port, issuer, env });
    // Every refresh token whose response reached the client still works.
    for (const refreshToken of refreshTokens.slice(-20)) {
      const rotated = await token(two, { grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(rotated.status, JSON.stringify(rotated.json)).toBe(200);
    }
    // No code that was redeemed before the crash can be redeemed again, at either instance
    // (and each replay revokes what the code issued: C4).
    for (const [i, { code, verifier }] of redeemedCodes.slice(-20).entries()) {
      const again = await token(i % 2 ? one : two, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
      expect(again.json.error).toBe('invalid_grant');
    }
  }, 60_000);

  it('--workers 2 runs two worker processes that serve the same flows', async () => {
    const port = await freePort();
    const workers = await startServe({ port, issuer: `http://127.0.0.1:${port}`, env, args: ['--workers', '2'], readyText: 'latchkey listening' });
    try {
      // Wait for both workers to listen.
      const deadline = Date.now() + 20_000;
      while ((workers.output().match(/latchkey listening/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((workers.output().match(/latchkey listening/g) ?? []).length).toBe(2);
      const pids = new Set([...workers.output().matchAll(/"pid":(\d+)[^\n]*latchkey listening/g)].map((m) => m[1]));
      expect(pids.size).toBe(2);
      const jar = new CookieJar();
      const { verifier, challenge } = pkcePair();
      const callback = await authorizeOverHttp(authorizationUrl(workers, challenge), user, { jar });
      const result = await token(workers, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
      expect(result.status).toBe(200);

      // /metrics sums every worker's counters: each request below opens its own connection, and
      // node:cluster hands connections to the workers in turn, so both answer health checks and
      // scrapes, and every scrape must count all ten.
      const getFresh = (path: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          http
            .get(`${workers.url}${path}`, { agent: false }, (res) => {
              let text = '';
              res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            })
            .on('error', reject);
        });
      for (let i = 0; i < 10; i++) expect((await getFresh('/healthz')).status).toBe(200);
      for (let i = 0; i < 4; i++) {
        const scrape = await getFresh('/metrics');
        expect(scrape.status).toBe(200);
        expect(scrape.text).toMatch(/^latchkey_http_requests_total\{route="\/healthz",method="GET",status="200"\} 10$/m);
        expect(scrape.text).toMatch(/^latchkey_tokens_issued_total\{grant_type="authorization_code"\} 1$/m);
      }
    } finally {
      expect(await workers.stop()).toBe(0);
    }
  }, 60_000);

  it('graceful shutdown: SIGTERM stops accepting but lets an in-flight request finish, then exits 0', async () => {
    const extra = await startServe({ issuer, env });
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), client_id: client.id, client_secret: client.secret }).toString();
    // A request whose body is only half sent when SIGTERM arrives.
    const request = http.request(`${extra.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      request.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = extra.stop();
    const deadline = Date.now() + 5_000;
    while (!extra.output().includes('shutting down') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // New connections are refused while the old request is still open.
    await expect(fetch(`${extra.url}/healthz`)).rejects.toThrow();
    request.end(body.slice(10));
    const answer = await response;
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error).toBe('invalid_grant');
    expect(await exited).toBe(0);
  });
});
