import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Private keys and server secrets at rest are sealed with AES-256-GCM under the key-encryption key
 * (KEK), which never lives in the database. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
export function seal(kek: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

export function unseal(kek: Buffer, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('sealed value has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('cannot decrypt a stored key: the key-encryption key (LATCHKEY_KEY_ENCRYPTION_KEY) is not the one it was sealed with');
  }
}
