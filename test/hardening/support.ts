import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../helpers/processes.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createUser, registerClient } from '../../src/server/admin.js';
import type { GrantType, Store } from '../../src/server/core/ports.js';
import type { Settings } from '../../src/server/core/settings.js';
import { createLatchkey, type Latchkey } from '../../src/server/server.js';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { fastTestHasher } from '../helpers/latchkey.js';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-hardening-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}



export interface Instance {
  url: string;
  server: Latchkey;
  store: Store;
  close(): Promise<void>;
}

/**
 * One Latchkey on 127.0.0.1:<ephemeral> over `databaseFile`. Several instances on one file with
 * one key-encryption key behave like a scaled-out deployment sharing its store.
 */
export async function startInstance(o: {
  databaseFile: string;
  kek: Buffer;
  settings?: Partial<Settings>;
  logger?: Logger;
  store?: Store;
}): Promise<Instance> {
  const store = o.store ?? SqliteStore.open(o.databaseFile);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await createLatchkey({
    store,
    issuer: url,
    keyEncryptionKey: o.kek,
    settings: o.settings,
    passwords: fastTestHasher,
    logger: o.logger ?? pino({ level: 'silent' }),
    housekeepingIntervalMs: 0,
  });
  await server.app.listen({ port, host: '127.0.0.1' });
  return {
    url,
    server,
    store,
    async close() {
      await server.close();
      await store.close();
    },
  };
}

export const newKek = (): Buffer => randomBytes(32);

export async function seedClient(store: Store, o: { redirectUris?: string[]; public?: boolean; grantTypes?: GrantType[]; scopes?: string[] } = {}) {
  const { client, clientSecret } = await registerClient(store, {
    name: 'Hardening App',
    redirectUris: o.redirectUris ?? ['https://app.example/cb'],
    public: o.public,
    scopes: o.scopes ?? ['notes:read', 'profile'],
    grantTypes: o.grantTypes,
  });
  return { clientId: client.id, clientSecret: clientSecret ?? undefined };
}

export async function seedUser(store: Store, username: string, password: string): Promise<void> {
  await createUser(store, fastTestHasher, username, password);
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form), redirect: 'manual' });
}

export function authorizeUrl(base: string, params: Record<string, string>): string {
  const url = new URL('/authorize', base);
  url.search = new URLSearchParams(params).toString();
  return url.href;
}

export { freePort };
