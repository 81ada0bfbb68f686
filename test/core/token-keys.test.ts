import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/server/core/digest.js';
import { newGrantId, newToken, storageKey } from '../../src/server/core/token-keys.js';
import { cryptoRandom } from '../../src/server/platform/random.js';
import { successorOf } from '../../src/server/core/grants/refresh-token-secret.js';

const T = Date.UTC(2026, 10, 21, 12, 0, 0);

describe('refresh tokens and grant ids: issue-time prefix, stored under prefix + digest', () => {
  it('C6 OAuth 2.1 §7.7, T5 RFC 9700 §4.14.2: a new token is the issue time, a dot, then 256 random bits', () => {
    const token = newToken(cryptoRandom, T);
    expect(token).toMatch(/^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/);
    expect(parseInt(token.slice(0, 9), 36)).toBe(T);
    expect(newToken(cryptoRandom, T)).not.toBe(token);
  });

  it('keys of later tokens sort after earlier ones, so inserts land at the end of the index', () => {
    const random = cryptoRandom;
    const keys = [T, T + 1, T + 1000, T + 86_400_000, T + 10 * 365 * 86_400_000].map((t) => storageKey(newToken(random, t)));
    expect([...keys].sort()).toEqual(keys);
    const ids = [T, T + 1, T + 86_400_000].map((t) => newGrantId(random, t));
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{22}$/);
  });

  it('the key holds the digest of the whole token, never the secret part', () => {
    const token = newToken(cryptoRandom, T);
    const key = storageKey(token);
    expect(key).toBe(`${token.slice(0, 10)}${sha256(token)}`);
    expect(key).not.toContain(token.slice(10));
  });

  it('changing a token\'s time prefix changes its key (a tampered token is not found)', () => {
    const token = newToken(cryptoRandom, T);
    const tampered = `${(T + 1).toString(36).padStart(9, '0')}${token.slice(9)}`;
    expect(storageKey(tampered)).not.toBe(storageKey(token));
    expect(storageKey(tampered).slice(10)).not.toBe(storageKey(token).slice(10));
  });

  it('a token without the prefix (issued before the prefix existed) is keyed by its digest alone', () => {
    const legacy = cryptoRandom.token(32);
    expect(storageKey(legacy)).toBe(sha256(legacy));
  });

  it('T4 RFC 9700 §4.14.2: a successor is its predecessor\'s issue time and an HMAC of the predecessor, the same at every retry', () => {
    const secret = Buffer.alloc(32, 7);
    const first = newToken(cryptoRandom, T);
    const successor = successorOf(secret, first, T);
    expect(successor).toMatch(/^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/);
    expect(parseInt(successor.slice(0, 9), 36)).toBe(T);
    expect(successorOf(secret, first, T)).toBe(successor);
    expect(successorOf(Buffer.alloc(32, 8), first, T)).not.toBe(successor);
    // Successors of later tokens sort after those of earlier ones, like every other token key.
    const next = successorOf(secret, successor, T + 60_000);
    expect([storageKey(next), storageKey(successor)].sort()).toEqual([storageKey(successor), storageKey(next)]);
  });
});
