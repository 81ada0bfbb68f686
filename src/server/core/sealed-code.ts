import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import type { CodeRecord, Random } from './ports.js';

/**
 * Authorization codes are sealed, not stored: a code is its own record (client, user, redirect URI,
 * code challenge, scope, resource, times), encrypted and authenticated with AES-256-GCM under a
 * secret every instance shares (CODE_SECRET_NAME in server.ts). Issuing a code writes nothing; redeeming
 * it writes its grant, whose id the code carries, and that row is what makes the code single-use
 * (Store.redeemCode, C3) and recognises a replay (C4).
 *
 * Why: the code's insert at /authorize was the largest single cost of a full flow on PostgreSQL
 * (docs/benchmarks.md). What it bought, a row to mark used, the grant row gives as well.
 *
 * C6 RFC 6749 §10.10: a code cannot be guessed or forged: without the secret no one can make
 * a sealed code that opens, and the GCM tag (128 bits) refuses any change to one. Nor can it be
 * read: the user's id and the grant id inside are hidden from the browser it passes through.
 *
 * Each code has a 128-bit random salt, and its AES key is HMAC-SHA256(secret, salt): every key
 * encrypts exactly one code, so GCM's fixed nonce is never reused, and no count of codes wears out
 * the secret (one key with random 96-bit nonces would, after about 2^32 codes).
 */
const VERSION = 1;
const SALT_BYTES = 16;
const TAG_BYTES = 16;
const NONCE = Buffer.alloc(12);
const HEADER = Buffer.from([VERSION]);

export function sealCode(secret: Buffer, random: Random, code: CodeRecord): string {
  const salt = Buffer.from(random.token(SALT_BYTES), 'base64url');
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
  ]);
  const cipher = createCipheriv('aes-256-gcm', codeKey(secret, salt), NONCE);
  cipher.setAAD(HEADER);
  const sealed = Buffer.concat([HEADER, salt, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString('base64url');
}

/** The record a code carries; undefined for anything that is not a code this secret sealed. */
export function openCode(secret: Buffer, code: string): CodeRecord | undefined {
  const sealed = Buffer.from(code, 'base64url');
  // Buffer.from skips characters outside base64url; such a string is no code of ours.
  if (sealed.length < 1 + SALT_BYTES + TAG_BYTES || sealed[0] !== VERSION || sealed.toString('base64url') !== code) return undefined;
  const salt = sealed.subarray(1, 1 + SALT_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', codeKey(secret, salt), NONCE);
  decipher.setAAD(HEADER);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  let plain: string;
  try {
    plain = decipher.update(sealed.subarray(1 + SALT_BYTES, sealed.length - TAG_BYTES), undefined, 'utf8') + decipher.final('utf8');
  } catch {
    return undefined; // the tag does not match: altered, or sealed under another secret
  }
  const [clientId, userId, grantId, redirectUri, redirectUriExplicit, codeChallenge, scope, resource, authTime, issuedAt, expiresAt] = JSON.parse(plain);
  return { clientId, userId, grantId, redirectUri, redirectUriExplicit, codeChallenge, scope, resource, authTime, issuedAt, expiresAt };
}

function codeKey(secret: Buffer, salt: Buffer): Buffer {
  return createHmac('sha256', secret).update(salt).digest();
}
