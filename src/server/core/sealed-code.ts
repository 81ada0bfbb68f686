import { createCipheriv, createDecipheriv, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { CodeRecord, Random } from './ports.js';

/**
 * Authorization codes are sealed, not stored: a code is its own record (client and its
 * registration, user, redirect URI, code challenge, scope, resource, times), encrypted and
 * authenticated with AES-256-GCM under a secret every instance shares (CODE_SECRET_NAME in
 * server.ts). Issuing a code writes nothing; redeeming it writes its grant, whose id the code
 * carries, and that row is what makes the code single-use (Store.redeemCode, C3) and recognises a
 * replay (C4).
 *
 * Why: the code's insert at /authorize was the largest single cost of a full flow on PostgreSQL
 * (docs/benchmarks.md). What it bought, a row to mark used, the grant row gives as well.
 *
 * C6 RFC 6749 §10.10: a code cannot be guessed or forged: without the secret no one can make
 * a sealed code that opens, and the GCM tag (128 bits) refuses any change to one. Nor can it be
 * read (P9): the challenge, the user's id and the grant id inside are hidden from the browser it
 * passes through.
 *
 * Each code has a random 96-bit nonce. GCM allows 2^32 random nonces per key, so the key changes
 * every 2^22 ms (about 70 minutes): HMAC-SHA256(secret, window), the window's number travelling
 * in clear in the code. A key would wear out only past a million codes a second.
 */
const VERSION = 1;
const WINDOW_BITS = 22;
const HEADER_BYTES = 1 + 4; // version, window
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The window keys in use, derived once each (a code lives minutes: two windows at most). */
const windowKeys = new WeakMap<Buffer, Map<number, KeyObject>>();

export function sealCode(secret: Buffer, random: Random, code: CodeRecord): string {
  const window = Math.floor(code.issuedAt / 2 ** WINDOW_BITS);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt8(VERSION, 0);
  header.writeUInt32BE(window, 1);
  const nonce = Buffer.from(random.token(NONCE_BYTES), 'base64url');
  const plain = JSON.stringify([
    code.clientId,
    code.userId,
    code.grantId,
    code.redirectUri,
    code.redirectUriExplicit,
    code.codeChallenge,
    code.scope,
    code.resource,
    code.authTime,
    code.issuedAt,
    code.expiresAt,
    // Last, so that a version before it, which reads the first eleven, still opens the code.
    code.clientCreatedAt ?? null,
  ]);
  const cipher = createCipheriv('aes-256-gcm', windowKey(secret, window), nonce);
  cipher.setAAD(header);
  return Buffer.concat([header, nonce, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64url');
}

/** The record a code carries; undefined for anything that is not a code this secret sealed. */
export function openCode(secret: Buffer, code: string): CodeRecord | undefined {
  const sealed = Buffer.from(code, 'base64url');
  // Buffer.from skips characters outside base64url; such a string is no code of ours.
  if (sealed.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION || sealed.toString('base64url') !== code) return undefined;
  const header = sealed.subarray(0, HEADER_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', windowKey(secret, header.readUInt32BE(1)), sealed.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
  decipher.setAAD(header);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  let plain: string;
  try {
    plain = decipher.update(sealed.subarray(HEADER_BYTES + NONCE_BYTES, sealed.length - TAG_BYTES), undefined, 'utf8') + decipher.final('utf8');
  } catch {
    return undefined; // the tag does not match: altered, or sealed under another secret
  }
  const [clientId, userId, grantId, redirectUri, redirectUriExplicit, codeChallenge, scope, resource, authTime, issuedAt, expiresAt, clientCreatedAt] = JSON.parse(plain);
  const record: CodeRecord = { clientId, userId, grantId, redirectUri, redirectUriExplicit, codeChallenge, scope, resource, authTime, issuedAt, expiresAt };
  if (typeof clientCreatedAt === 'number') record.clientCreatedAt = clientCreatedAt;
  return record;
}

function windowKey(secret: Buffer, window: number): KeyObject {
  let keys = windowKeys.get(secret);
  if (!keys) windowKeys.set(secret, (keys = new Map()));
  let key = keys.get(window);
  if (!key) {
    // Any window a code names gets a key, so a made-up code can add one: keep only the last few.
    if (keys.size >= 4) keys.delete(keys.keys().next().value!);
    key = createSecretKey(createHmac('sha256', secret).update(`latchkey code key ${window}`).digest());
    keys.set(window, key);
  }
  return key;
}
