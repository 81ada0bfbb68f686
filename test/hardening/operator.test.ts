import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type Finding } from '../../src/cli/doctor.js';
import { eventFilter, listEvents, parseSince, UsageError } from '../../src/cli/events.js';
import { authorizeOverHttp } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from './support.js';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('latchkey events: the audit trail, and why a client\'s requests fail', () => {
  const tmp = tempDir();
  const file = `${tmp.dir}/events.db`;
  let lk: Instance;
  let clientId: string;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: file, kek: newKek() });
    await seedUser(lk.store, 'hana', 'hana password');
    const client = await seedClient(lk.store);
    clientId = client.clientId;
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeOverHttp(authorizeUrl(lk.url, { response_type: 'code', client_id: clientId, code_challenge: challenge, code_challenge_method: 'S256' }), {
      username: 'hana',
      password: 'hana password',
    });
    const code = callback.searchParams.get('code')!;
    const auth = { authorization: basic(clientId, client.clientSecret!) };
    // A wrong verifier: the caller sees invalid_grant; the reason goes to the audit trail.
    const wrong = await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: pkcePair().verifier }, auth);
    const body = await wrong.text();
    expect(JSON.parse(body).error).toBe('invalid_grant');
    expect(body).not.toContain('pkce mismatch');
    await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth);
    await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth);
    await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(clientId, 'wrong secret') });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('has a stable name for each event of the flow: login, consent, code issued, redeemed, replayed, client authentication failed', async () => {
    const types = new Set((await lk.store.listEvents({ limit: 1000 })).map((e) => e.type));
    for (const t of ['login.succeeded', 'consent.granted', 'code.issued', 'code.redeemed', 'code.replayed', 'client_authentication.failed', 'request.rejected']) expect(types, t).toContain(t);
  });

  it('filters by client, type and time, and shows the machine-readable reason', async () => {
    const lines = await listEvents(lk.store, { client: clientId, type: 'request.rejected', since: '1h', limit: '10' });
    // Newest first: the replayed code, then the wrong verifier.
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.includes(`client=${clientId}`) && l.includes('request.rejected'))).toBe(true);
    expect(lines[0]).toContain('reason="code replayed"');
    expect(lines[1]).toContain('reason="pkce mismatch"');
    expect(await listEvents(lk.store, { client: 'someone-else', limit: '10' })).toHaveLength(0);
    expect(await listEvents(lk.store, { client: clientId, since: '2000-01-01', limit: '100' })).not.toHaveLength(0);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await listEvents(lk.store, { client: clientId, since: future, limit: '100' })).toHaveLength(0);
  });

  it('parses --since durations and dates, and refuses anything else', () => {
    const now = Date.UTC(2026, 0, 31, 12);
    expect(parseSince('1h', now)).toBe(now - 3_600_000);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2026-01-30T00:00:00Z', now)).toBe(Date.UTC(2026, 0, 30));
    for (const bad of ['1y', '-1h', 'yesterday', '', '1h; DROP TABLE events']) expect(() => parseSince(bad, now), bad).toThrow(UsageError);
    expect(() => eventFilter({ type: 'Login Failed', limit: '10' }, now)).toThrow(UsageError);
  });

  it('`npx latchkey events --client ID --type T --since 1h` prints the matching events', async () => {
    const { code, stdout } = await cli(['events', '--client', clientId, '--type', 'code.replayed', '--since', '1h', '--database', file]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/code\.replayed\s+client=/);
    const json = await cli(['events', '--type', 'client_authentication.failed', '--json', '--database', file]);
    expect(json.code).toBe(0);
    const event = JSON.parse(json.stdout.trim().split('\n')[0]!) as { type: string; client_id: string; detail: { reason: string } };
    expect(event).toMatchObject({ type: 'client_authentication.failed', client_id: clientId, detail: { reason: 'wrong secret' } });
  });
});

describe('latchkey doctor: a running deployment against the checklist', () => {
  const tmp = tempDir();
  const file = `${tmp.dir}/doctor.db`;
  const kek = newKek();
  let lk: Instance;
  let findings: Finding[];
  const has = (id: string, level: string, text?: string) => findings.some((f) => f.id === id && f.level === level && (text === undefined || f.message.includes(text)));
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: file, kek });
    await seedClient(lk.store, { redirectUris: ['https://good.example/cb'] });
    // Rows written before today's registration checks (or by hand): the doctor must find them.
    const legacy = { secretHash: null, scopes: [], grantTypes: ['authorization_code' as const], resources: [], createdAt: Date.now() };
    await lk.store.createClient({ ...legacy, id: 'legacy-http', name: 'Legacy', redirectUris: ['http://app.example/cb'] });
    await lk.store.createClient({ ...legacy, id: 'legacy-wild', name: 'Wild', redirectUris: ['https://*.example.com/cb'] });
    await lk.store.createClient({ ...legacy, id: 'legacy-local', name: 'Local', redirectUris: ['http://localhost:8080/cb'] });
    await lk.store.createClient({ ...legacy, id: 'legacy-secret', name: 'Weak secret', secretHash: 'hunter2', redirectUris: ['https://ok.example/cb'] });
    findings = await runDoctor({ url: lk.url, store: lk.store, env: { LATCHKEY_KEY_ENCRYPTION_KEY: kek.toString('base64url'), LATCHKEY_TRUST_PROXY: 'true' } });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('R4 RFC 9700 §2.6: flags an http redirect URI on a non-loopback host', () => expect(has('R4', 'fail', 'legacy-http')).toBe(true));
  it('R1 RFC 9700 §2.1: flags a wildcard-looking redirect URI', () => expect(has('R1', 'fail', 'legacy-wild')).toBe(true));
  it('R3 RFC 8252 §8.3: warns about localhost redirect URIs', () => expect(has('R3', 'warn', 'legacy-local')).toBe(true));
  it('C6 OAuth 2.1 §7.7: flags a client secret that is not a digest of a generated secret', () => expect(has('C6', 'fail', 'legacy-secret')).toBe(true));
  it('X8 RFC 9700 §2.6: an http issuer on loopback is a warning (development only)', () => expect(has('X8', 'warn', 'http')).toBe(true));
  it('X10 RFC 9700 §4.13: trusting every proxy hop is a failure', () => expect(has('X10', 'fail', 'LATCHKEY_TRUST_PROXY=true')).toBe(true));
  it('passes what the server does right: M1, P5, X1, X3, X5, JWKS and key ring health', () => {
    for (const id of ['M1', 'M2', 'P5', 'G1', 'G2', 'X1', 'X3', 'X5']) expect(has(id, 'pass'), id).toBe(true);
    expect(has('C6', 'pass', 'no private material')).toBe(true);
    expect(has('C6', 'pass', 'opens')).toBe(true);
    expect(has('C6', 'pass', 'looks random')).toBe(true);
  });
  it('C6: a key-encryption key that does not open the signing key, or is not random, fails', async () => {
    const other = await runDoctor({ url: lk.url, store: lk.store, env: { LATCHKEY_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url') } });
    expect(other.some((f) => f.id === 'C6' && f.level === 'fail' && f.message.includes('does not open'))).toBe(true);
    const patterned = await runDoctor({ url: lk.url, env: { LATCHKEY_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url') } });
    expect(patterned.some((f) => f.id === 'C6' && f.level === 'fail' && f.message.includes('distinct bytes'))).toBe(true);
  });

  it('`npx latchkey doctor` prints each finding with its checklist ID and exits 1 when something failed', async () => {
    const { code, stdout } = await cli(['doctor', '--url', lk.url, '--database', file], { LATCHKEY_KEY_ENCRYPTION_KEY: kek.toString('base64url') });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL {2}R4 {3}client legacy-http/m);
    expect(stdout).toMatch(/^PASS {2}M1 /m);
    expect(stdout).toMatch(/\d+ failed, \d+ warning\(s\), \d+ passed/);
  });
});
