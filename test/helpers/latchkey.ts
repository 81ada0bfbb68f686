import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createUser, registerClient } from '../../src/server/admin.js';
import type { Clock, GrantType, PasswordHasher, Store } from '../../src/server/core/ports.js';
import type { Settings } from '../../src/server/core/settings.js';
import { createLatchkey, type Latchkey } from '../../src/server/server.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { freePort } from './processes.js';
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

export interface TestLatchkey {
  issuer: string;
  url: string;
  store: Store;
  server: Latchkey;
  databaseFile: string;
  createClient(o: {
    redirectUris: string[];
    public?: boolean;
    scopes?: string[];
    grantTypes?: GrantType[];
    resources?: string[];
    name?: string;
  }): Promise<{ clientId: string; clientSecret?: string }>;
  createUser(username: string, password: string): Promise<void>;
  /** A new signing key, published and signing now; the old one stays in the JWKS. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

/** A fast hasher for tests that are not about password hashing (argon2 costs ~50 ms a call). */
export const fastTestHasher: PasswordHasher = {
  async hash(password) {
    const salt = randomBytes(8);
    return `test$${salt.toString('hex')}$${scryptSync(password, salt, 16, { N: 16 }).toString('hex')}`;
  },
  async verify(stored, password) {
    const [, salt, hash] = stored.split('$');
    if (!salt || !hash) return false;
    const computed = scryptSync(password, Buffer.from(salt, 'hex'), 16, { N: 16 });
    return timingSafeEqual(computed, Buffer.from(hash, 'hex'));
  },
  dummyHash: 'test$0000000000000000$00000000000000000000000000000000',
};

/**
 * Starts a real Latchkey on 127.0.0.1 and an ephemeral port, on a SQLite file in a fresh temp dir.
 */
export async function startLatchkey(
  options: { settings?: Partial<Settings>; clock?: Clock; passwords?: PasswordHasher; databaseFile?: string; logLevel?: string } = {},
): Promise<TestLatchkey> {
  const dir = options.databaseFile ? undefined : mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const databaseFile = options.databaseFile ?? join(dir!, 'latchkey.db');
  const store = SqliteStore.open(databaseFile);
  const passwords = options.passwords ?? fastTestHasher;
  const logger = pino({ level: options.logLevel ?? 'silent' });
  // The issuer must be known before listening, so pick the port first.
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const server = await createLatchkey({
    store,
    issuer,
    keyEncryptionKey: randomBytes(32),
    settings: options.settings,
    clock: options.clock,
    passwords,
    logger,
    housekeepingIntervalMs: 0,
  });
  await server.app.listen({ port, host: '127.0.0.1' });
  return {
    issuer,
    url: issuer,
    store,
    server,
    databaseFile,
    async createClient(o) {
      const { client, clientSecret } = await registerClient(store, {
        name: o.name ?? 'Test App',
        redirectUris: o.redirectUris,
        public: o.public,
        scopes: o.scopes ?? ['notes:read', 'notes:write', 'profile'],
        grantTypes: o.grantTypes,
        resources: o.resources,
      });
      return clientSecret ? { clientId: client.id, clientSecret } : { clientId: client.id };
    },
    async createUser(username, password) {
      await createUser(store, passwords, username, password);
    },
    async rotateKeys() {
      await server.keys.rotate({ immediate: true });
    },
    async close() {
      await server.close();
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal cookie jar for driving the pages over plain HTTP. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

export async function fetchWithJar(jar: CookieJar, url: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = jar.header();
  if (cookie) headers.set('cookie', cookie);
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(response);
  return response;
}

export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no hidden field ${name} in page:\n${html.slice(0, 500)}`);
  return match[1]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
}

/**
 * Follows an authorization URL through Latchkey's login and consent pages over plain HTTP
 * (cookies and CSRF handled) and returns the final redirect target (redirect_uri?code=…).
 */
export async function authorizeOverHttp(
  authorizationUrl: string | URL,
  user: { username: string; password: string },
  options: { approve?: boolean; jar?: CookieJar } = {},
): Promise<URL> {
  const jar = options.jar ?? new CookieJar();
  let response = await fetchWithJar(jar, authorizationUrl);
  let base = new URL(authorizationUrl);
  for (let step = 0; step < 10; step++) {
    if (response.status !== 303) {
      throw new Error(`expected a 303 from ${base.href}, got ${response.status}: ${(await response.text()).slice(0, 400)}`);
    }
    const location = new URL(response.headers.get('location')!, base);
    if (location.origin !== new URL(authorizationUrl).origin || !['/login', '/consent'].includes(location.pathname)) return location;
    const page = await fetchWithJar(jar, location);
    const html = await page.text();
    const form = new URLSearchParams({ _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction') });
    if (location.pathname === '/login') {
      form.set('username', user.username);
      form.set('password', user.password);
    } else {
      form.set('decision', options.approve === false ? 'deny' : 'approve');
    }
    base = location;
    response = await fetchWithJar(jar, new URL(location.pathname, location), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
  }
  throw new Error('too many steps through login and consent');
}
