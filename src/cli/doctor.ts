import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { redirectUriProblem } from '../server/core/checks/redirect-uri.js';
import type { ClientRecord, KeyRecord, Store, UserRecord } from '../server/core/ports.js';
import { unseal } from '../server/keys/key-encryption.js';
import { openStore } from '../server/store/open-store.js';
import { UsageError } from './events.js';

export type Level = 'pass' | 'warn' | 'fail';

/** One result, named by its row in ../shared/SECURITY.md (R4, X8, G5, …). */
export interface Finding {
  id: string;
  level: Level;
  message: string;
}

export interface DoctorInput {
  /** The deployment's issuer / base URL. */
  url: string;
  /** The same Store the deployment uses (to read clients and keys); undefined skips those checks. */
  store?: Store;
  /** The deployment's environment (LATCHKEY_TRUST_PROXY, LATCHKEY_KEY_ENCRYPTION_KEY, NODE_ENV, …). */
  env: Record<string, string | undefined>;
  now?: number;
  timeoutMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
const KEY_MAX_AGE_MS = 90 * 24 * 3600 * 1000;

/**
 * `latchkey doctor`: checks a running deployment against the security checklist and reports each
 * finding with its checklist ID. Reads only: it never changes the deployment or its data.
 */
export async function runDoctor(input: DoctorInput): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (id: string, level: Level, message: string) => findings.push({ id, level, message });
  const now = input.now ?? Date.now();
  const base = new URL(input.url);
  const get = (path: string, init: RequestInit = {}) => fetch(new URL(path, base), { redirect: 'manual', signal: AbortSignal.timeout(input.timeoutMs ?? 5000), ...init });

  // --- Issuer and metadata (M1, M2, X8) ---
  let metadata: Record<string, unknown> | undefined;
  try {
    const res = await get('/.well-known/oauth-authorization-server');
    if (res.ok) metadata = (await res.json()) as Record<string, unknown>;
    else add('M2', 'fail', `metadata answered HTTP ${res.status} at ${new URL('/.well-known/oauth-authorization-server', base).href}`);
  } catch (error) {
    add('M2', 'fail', `cannot reach ${base.origin}: ${(error as Error).message}`);
    return findings;
  }
  if (metadata) {
    add('M2', 'pass', 'RFC 8414 metadata is published');
    const issuer = String(metadata.issuer ?? '');
    const issuerUrl = URL.canParse(issuer) ? new URL(issuer) : undefined;
    if (!issuerUrl) add('X8', 'fail', `issuer "${issuer}" is not a URL`);
    else if (issuerUrl.protocol === 'https:') add('X8', 'pass', `issuer ${issuer} uses https`);
    else if (LOOPBACK.has(issuerUrl.hostname)) add('X8', 'warn', `issuer ${issuer} uses http: acceptable on loopback for development only`);
    else add('X8', 'fail', `issuer ${issuer} uses http: authorization responses would travel unencrypted (RFC 9700 §2.6)`);
    if (issuerUrl && issuerUrl.origin !== base.origin) add('M2', 'warn', `issuer ${issuer} differs from the checked URL ${base.origin}`);
    add('M1', metadata.authorization_response_iss_parameter_supported === true ? 'pass' : 'fail', 'authorization_response_iss_parameter_supported (RFC 9207)');
    const methods = Array.isArray(metadata.code_challenge_methods_supported) ? metadata.code_challenge_methods_supported.map(String) : [];
    if (methods.length === 1 && methods[0] === 'S256') add('P5', 'pass', 'PKCE: S256 only is advertised');
    else if (methods.includes('S256')) add('P5', 'warn', `PKCE methods advertised: ${methods.join(', ')} (plain exposes the verifier)`);
    else add('P7', 'fail', 'code_challenge_methods_supported does not advertise S256');
    const responseTypes = Array.isArray(metadata.response_types_supported) ? metadata.response_types_supported.map(String) : [];
    add('G1', responseTypes.every((t) => t === 'code') ? 'pass' : 'fail', `response types: ${responseTypes.join(', ') || 'none'}`);
    const grants = Array.isArray(metadata.grant_types_supported) ? metadata.grant_types_supported.map(String) : [];
    add('G2', grants.includes('password') || grants.includes('implicit') ? 'fail' : 'pass', `grant types: ${grants.join(', ') || 'none listed'}`);
    await checkJwks(get, metadata, add);
    // X10: a forged X-Forwarded-Host must not change the issuer the server announces.
    const forged = await get('/.well-known/oauth-authorization-server', { headers: { 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'http' } }).catch(() => undefined);
    if (forged?.ok) {
      const forgedIssuer = String(((await forged.json()) as Record<string, unknown>).issuer ?? '');
      add('X10', forgedIssuer === issuer ? 'pass' : 'fail', forgedIssuer === issuer ? 'forwarded headers cannot change the issuer' : `a forged X-Forwarded-Host changed the issuer to ${forgedIssuer}`);
    }
  }

  // --- Headers on the pages and the token endpoint (X1, X3, X5, HSTS) ---
  const page = await get('/authorize').catch(() => undefined);
  if (page) {
    const csp = page.headers.get('content-security-policy') ?? '';
    const xfo = page.headers.get('x-frame-options') ?? '';
    add('X1', /frame-ancestors 'none'/.test(csp) && /deny/i.test(xfo) ? 'pass' : 'fail', `framing on the authorization page: CSP "${csp.match(/frame-ancestors[^;]*/)?.[0] ?? 'none'}", X-Frame-Options "${xfo || 'absent'}"`);
    const referrer = page.headers.get('referrer-policy') ?? '';
    add('X3', referrer === 'no-referrer' ? 'pass' : 'fail', `Referrer-Policy on the authorization page: ${referrer || 'absent'}`);
    if (base.protocol === 'https:') {
      const hsts = page.headers.get('strict-transport-security');
      add('X8', hsts ? 'pass' : 'warn', hsts ? `HSTS: ${hsts}` : 'no Strict-Transport-Security header');
    }
  }
  const token = await get('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' }).catch(() => undefined);
  if (token) add('X5', token.headers.get('cache-control') === 'no-store' ? 'pass' : 'fail', `Cache-Control on /token: ${token.headers.get('cache-control') ?? 'absent'}`);
  const metrics = await get('/metrics').catch(() => undefined);
  if (metrics?.status === 200 && !LOOPBACK.has(base.hostname)) add('X10', 'warn', '/metrics answers through the public URL: the proxy presents itself as loopback; set LATCHKEY_TRUST_PROXY');

  // --- Proxy set-up (X10) ---
  const trustProxy = input.env.LATCHKEY_TRUST_PROXY;
  if (trustProxy === 'true') add('X10', 'fail', 'LATCHKEY_TRUST_PROXY=true trusts X-Forwarded-* from anyone: clients can forge their IP and escape per-IP limits; list the proxy addresses instead');
  else if (trustProxy && trustProxy !== 'false') add('X10', 'pass', `forwarded headers trusted only from ${trustProxy}`);
  else if (base.protocol === 'https:' && !LOOPBACK.has(base.hostname)) add('X10', 'warn', 'no trusted proxy is set: if TLS ends at a proxy, set LATCHKEY_TRUST_PROXY to its address, or every client shares the proxy\'s IP limits');
  else add('X10', 'pass', 'no proxy is trusted');

  // --- Secrets (C6, key-encryption key) ---
  checkKeyEncryptionKey(input.env, add);

  // --- What the Store holds: key ring, clients, password hashes ---
  if (input.store) {
    const [keys, clients, users] = await Promise.all([input.store.listKeys(), input.store.listClients(), input.store.listUsers()]);
    checkKeyRing(keys, now, input.env, add);
    checkClients(clients, add);
    checkPasswordHashes(users, add);
  } else {
    add('C6', 'warn', 'no --database given: clients, keys and password hashes were not checked');
  }
  return findings;
}

type Add = (id: string, level: Level, message: string) => void;

async function checkJwks(get: (path: string) => Promise<Response>, metadata: Record<string, unknown>, add: Add): Promise<void> {
  const jwksUri = typeof metadata.jwks_uri === 'string' ? metadata.jwks_uri : undefined;
  if (!jwksUri) return add('C6', 'fail', 'metadata has no jwks_uri');
  const res = await get(new URL(jwksUri).pathname).catch(() => undefined);
  if (!res?.ok) return add('C6', 'fail', `JWKS at ${jwksUri} is not reachable`);
  const { keys } = (await res.json()) as { keys?: Record<string, unknown>[] };
  if (!Array.isArray(keys) || keys.length === 0) return add('C6', 'fail', 'the JWKS publishes no key: resource servers cannot verify access tokens');
  const privateMembers = keys.filter((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in k));
  if (privateMembers.length > 0) add('C6', 'fail', `the JWKS publishes private key material for ${privateMembers.map((k) => String(k.kid)).join(', ')}`);
  else add('C6', 'pass', `the JWKS publishes ${keys.length} public key(s) and no private material`);
}

function checkKeyEncryptionKey(env: Record<string, string | undefined>, add: Add): void {
  const production = env.NODE_ENV === 'production';
  const text = env.LATCHKEY_KEY_ENCRYPTION_KEY;
  if (text) {
    const key = Buffer.from(text.trim(), 'base64url');
    if (key.length !== 32) return add('C6', 'fail', `LATCHKEY_KEY_ENCRYPTION_KEY is ${key.length} bytes; it must be 32 random bytes`);
    // A random 32-byte key has about 30 distinct byte values; a typed or patterned one has few.
    if (new Set(key).size < 16) return add('C6', 'fail', 'LATCHKEY_KEY_ENCRYPTION_KEY has too few distinct bytes to be random: generate it with `openssl rand -base64 32`');
    return add('C6', 'pass', 'the key-encryption key is 32 bytes and looks random');
  }
  if (env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE) return add('C6', 'pass', 'the key-encryption key is read from LATCHKEY_KEY_ENCRYPTION_KEY_FILE');
  add('C6', production ? 'fail' : 'warn', 'no key-encryption key is configured: development mode keeps one beside the database file, where a backup of the database also holds it');
}

function checkKeyRing(keys: KeyRecord[], now: number, env: Record<string, string | undefined>, add: Add): void {
  const signing = keys.filter((k) => k.activatesAt <= now && (k.retiresAt === null || k.retiresAt > now)).sort((a, b) => b.activatesAt - a.activatesAt)[0];
  if (!signing) return add('C6', 'fail', `key ring: no key is signing now (${keys.length} key(s) stored)`);
  const age = now - signing.createdAt;
  add('C6', age > KEY_MAX_AGE_MS ? 'warn' : 'pass', `key ring: ${signing.kid} (${signing.alg}) signs, created ${Math.floor(age / 86_400_000)} day(s) ago${age > KEY_MAX_AGE_MS ? ': rotate it (`latchkey keys rotate`)' : ''}`);
  const stale = keys.filter((k) => k.expiresAt !== null && k.expiresAt <= now);
  if (stale.length > 0) add('C6', 'warn', `key ring: ${stale.length} expired key(s) still stored; housekeeping prunes them`);
  const text = env.LATCHKEY_KEY_ENCRYPTION_KEY;
  if (text) {
    try {
      unseal(Buffer.from(text.trim(), 'base64url'), signing.privateJwkEncrypted);
      add('C6', 'pass', `key ring: the configured key-encryption key opens ${signing.kid}`);
    } catch {
      add('C6', 'fail', `key ring: the configured key-encryption key does not open ${signing.kid}: the server cannot sign`);
    }
  }
}

function checkClients(clients: ClientRecord[], add: Add): void {
  let problems = 0;
  for (const c of clients) {
    for (const uri of c.redirectUris) {
      // R1: anything that looks like a pattern will only ever be compared as a string, so it is a mistake.
      if (/\*|%2a|\{|\}/i.test(uri)) {
        add('R1', 'fail', `client ${c.id} (${c.name}): redirect URI ${uri} looks like a wildcard; redirect URIs are matched exactly`);
        problems++;
        continue;
      }
      const problem = redirectUriProblem(uri);
      if (problem) {
        const id = /http for a host/.test(problem) ? 'R4' : /private-use/.test(problem) ? 'R6' : 'R5';
        add(id, id === 'R6' ? 'warn' : 'fail', `client ${c.id} (${c.name}): redirect URI ${uri} ${problem}`);
        problems++;
        continue;
      }
      if (URL.canParse(uri) && new URL(uri).hostname === 'localhost') {
        add('R3', 'warn', `client ${c.id} (${c.name}): redirect URI ${uri} uses localhost; 127.0.0.1 or [::1] is recommended (RFC 8252 §8.3)`);
        problems++;
      }
    }
    // C6: generated secrets are stored as a SHA-256 digest (43 base64url characters) of 256 random bits.
    if (c.secretHash !== null && !/^[A-Za-z0-9_-]{43}$/.test(c.secretHash)) {
      add('C6', 'fail', `client ${c.id} (${c.name}): the stored secret is not a SHA-256 digest of a generated secret; register a new secret`);
      problems++;
    }
  }
  if (problems === 0) add('R1', 'pass', `${clients.length} client(s): every redirect URI is complete, https or loopback, without wildcards`);
}

function checkPasswordHashes(users: UserRecord[], add: Add): void {
  const weak = users.filter((u) => {
    const m = /^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=\d+\$/.exec(u.passwordHash);
    // OWASP: argon2id with at least 19 MiB and 2 iterations.
    return !m || Number(m[1]) < 19_456 || Number(m[2]) < 2;
  });
  if (weak.length > 0) add('C6', 'warn', `${weak.length} of ${users.length} user password hash(es) are weaker than argon2id m=19 MiB t=2 (they are rehashed only when the user sets a new password)`);
  else add('C6', 'pass', `${users.length} user password hash(es): argon2id at OWASP strength or above`);
}

export function formatFinding(f: Finding, color = false): string {
  const label = f.level === 'pass' ? 'PASS' : f.level === 'warn' ? 'WARN' : 'FAIL';
  const painted = !color ? label : f.level === 'pass' ? pc.green(label) : f.level === 'warn' ? pc.yellow(label) : pc.red(label);
  return `${painted}  ${f.id.padEnd(3)}  ${f.message}`;
}

/** `latchkey doctor [--url URL] [--database D]`: exit 0 when nothing failed, 1 when something did. */
export function doctorCommand(databaseOption: () => Option): Command {
  return new Command('doctor')
    .description('check a running deployment against the security checklist (SECURITY.md IDs)')
    .addOption(new Option('--url <url>', 'the deployment\'s issuer URL').env('LATCHKEY_ISSUER').default('http://localhost:9000'))
    .option('--json', 'print the findings as JSON')
    .addOption(databaseOption())
    .action(async (o: { url: string; json?: boolean; database: string }) => {
      if (!URL.canParse(o.url) || !/^https?:$/.test(new URL(o.url).protocol)) throw new UsageError(`--url "${o.url.slice(0, 80)}" must be an http(s) URL`);
      const isFile = !/^postgres(ql)?:\/\//i.test(o.database);
      // Never create a database: the doctor only reads.
      const store = isFile && !existsSync(o.database) ? undefined : await openStore(o.database);
      try {
        const findings = await runDoctor({ url: o.url, env: process.env, ...(store ? { store } : {}) });
        if (o.json) console.log(JSON.stringify(findings, null, 2));
        else for (const f of findings) console.log(formatFinding(f, process.stdout.isTTY));
        const failed = findings.filter((f) => f.level === 'fail').length;
        const warned = findings.filter((f) => f.level === 'warn').length;
        if (!o.json) console.log(`\n${failed} failed, ${warned} warning(s), ${findings.length - failed - warned} passed`);
        if (failed > 0) process.exitCode = 1;
      } finally {
        await store?.close();
      }
    });
}
