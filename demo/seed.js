// @ts-check
/**
 * The demo's data: a user and two clients with fixed ids, created on the first start and reused
 * on every later one. Nothing here is random per start: the client secret and the user's password
 * are derived from the key-encryption key that Latchkey keeps beside the database in development
 * (latchkey-demo.db.kek), so they stay the same for as long as that file does, and no second
 * secret file is needed.
 */
import { createHash, createHmac } from 'node:crypto';
import { createUser, registerClient } from 'latchkey/server';

export const DEMO_APP_CLIENT_ID = 'latchkey-demo-app';
export const DEMO_NATIVE_CLIENT_ID = 'latchkey-demo-native';
export const DEMO_USERNAME = 'demo';
export const DEMO_SCOPES = ['notes:read', 'notes:write', 'profile'];

/** Plain words for the consent page, one per scope the demo API understands. */
export const DEMO_SCOPE_DESCRIPTIONS = {
  'notes:read': 'Read your notes',
  'notes:write': 'Create new notes for you',
  profile: 'See your username',
};

/**
 * @param {Buffer} kek
 * @param {string} purpose
 */
function derive(kek, purpose) {
  return createHmac('sha256', kek).update(`latchkey-demo/${purpose}`).digest();
}

/** The demo password: 12 characters from an alphabet without look-alikes, in groups of four. */
export function demoPassword(/** @type {Buffer} */ kek) {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = derive(kek, 'user-password');
  let out = '';
  for (let i = 0; i < 12; i++) out += alphabet[bytes[i] % alphabet.length];
  return `${out.slice(0, 4)}-${out.slice(4, 8)}-${out.slice(8)}`;
}

export function demoClientSecret(/** @type {Buffer} */ kek) {
  return derive(kek, 'client-secret').toString('base64url');
}

/** The digest form a Store keeps for a client secret (ports.ts: SHA-256, base64url). */
const secretDigest = (/** @type {string} */ secret) => createHash('sha256').update(secret).digest('base64url');

/** @param {string[]} a @param {string[]} b */
const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Creates what is missing and repairs what no longer fits (a port changed, the key file was
 * replaced). Returns the credentials to print and what was created.
 *
 * @param {import('latchkey/server').Store} store
 * @param {import('latchkey/server').PasswordHasher} passwords
 * @param {{ kek: Buffer, appUrl: string, apiUrl: string }} options
 */
export async function ensureDemoData(store, passwords, { kek, appUrl, apiUrl }) {
  /** @type {string[]} */
  const created = [];
  const clientSecret = demoClientSecret(kek);
  const appRecord = {
    id: DEMO_APP_CLIENT_ID,
    name: 'Latchkey Notes',
    redirectUris: [`${appUrl}/callback`],
    scopes: DEMO_SCOPES,
    resources: [apiUrl],
  };
  const existingApp = await store.findClient(DEMO_APP_CLIENT_ID);
  const appFits =
    existingApp !== undefined &&
    existingApp.secretHash === secretDigest(clientSecret) &&
    sameSet(existingApp.redirectUris, appRecord.redirectUris) &&
    sameSet(existingApp.scopes, appRecord.scopes) &&
    sameSet(existingApp.resources, appRecord.resources);
  if (!appFits) {
    if (existingApp) await store.deleteClient(DEMO_APP_CLIENT_ID);
    // registerClient checks every value (exact redirect URI, RFC 8707 resource) and generates a
    // random secret; the demo then stores its own derived secret in its place, so later starts
    // know it without writing it anywhere.
    const { client } = await registerClient(store, { ...appRecord, clientId: DEMO_APP_CLIENT_ID });
    await store.deleteClient(client.id);
    await store.createClient({ ...client, secretHash: secretDigest(clientSecret) });
    created.push(existingApp ? 'demo app client (updated)' : 'demo app client');
  }

  // A public client for trying the server with other tools: a native app on a loopback redirect
  // URI, which matches on any port (SECURITY.md R2, RFC 8252 §7.3).
  const existingNative = await store.findClient(DEMO_NATIVE_CLIENT_ID);
  if (!existingNative || !sameSet(existingNative.resources, [apiUrl])) {
    if (existingNative) await store.deleteClient(DEMO_NATIVE_CLIENT_ID);
    await registerClient(store, {
      clientId: DEMO_NATIVE_CLIENT_ID,
      name: 'Latchkey CLI (demo)',
      public: true,
      redirectUris: ['http://127.0.0.1/callback'],
      scopes: DEMO_SCOPES,
      resources: [apiUrl],
    });
    created.push('native (public) client');
  }

  const password = demoPassword(kek);
  const user = await store.findUserByUsername(DEMO_USERNAME);
  if (!user || !(await passwords.verify(user.passwordHash, password))) {
    if (user) await store.deleteUser(user.id);
    await createUser(store, passwords, DEMO_USERNAME, password);
    created.push(user ? 'demo user (password reset)' : 'demo user');
  }
  return { clientId: DEMO_APP_CLIENT_ID, clientSecret, username: DEMO_USERNAME, password, created };
}
