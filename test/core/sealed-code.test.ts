import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CodeRecord } from '../../src/server/core/ports.js';
import { openCode, sealCode } from '../../src/server/core/sealed-code.js';
import { cryptoRandom } from '../../src/server/platform/random.js';

const T = Date.UTC(2026, 10, 22, 12, 0, 0);
const secret = randomBytes(32);

const record: CodeRecord = {
  clientId: 'demo-app',
  clientCreatedAt: T - 86_400_000,
  userId: 'u-2f1c9a7e5b3d4c6a',
  grantId: 'mh9x0k2abQk3ZpV1c9m5x2T7wq',
  redirectUri: 'https://app.example.com/callback?tenant=ü',
  redirectUriExplicit: true,
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  scope: ['openid', 'profile', 'offline_access'],
  resource: 'https://api.example.com/',
  authTime: T - 5000,
  issuedAt: T,
  expiresAt: T + 60_000,
};

describe('sealed authorization codes (sealed-code.ts)', () => {
  it('a sealed code opens to the record it carries, field for field, nulls and false included', () => {
    expect(openCode(secret, sealCode(secret, cryptoRandom, record))).toEqual(record);
    const sparse: CodeRecord = { ...record, redirectUriExplicit: false, codeChallenge: null, resource: null, scope: [] };
    expect(openCode(secret, sealCode(secret, cryptoRandom, sparse))).toEqual(sparse);
    // A record without the client's registration (an interaction stored by an earlier version).
    const { clientCreatedAt: _, ...unbound } = record;
    expect(openCode(secret, sealCode(secret, cryptoRandom, unbound))).toStrictEqual(unbound);
  });

  it('C6 RFC 6749 §10.10: two codes for the same record differ, are base64url, and show nothing of the record', () => {
    const a = sealCode(secret, cryptoRandom, record);
    const b = sealCode(secret, cryptoRandom, record);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    const bytes = Buffer.from(a, 'base64url').toString('latin1');
    for (const value of [record.clientId, record.userId, record.grantId, 'callback', record.codeChallenge!]) expect(bytes).not.toContain(value);
  });

  it('C6 RFC 6749 §10.10: a code with any one character changed does not open', () => {
    const code = sealCode(secret, cryptoRandom, record);
    for (let i = 0; i < code.length; i++) {
      const changed = code.slice(0, i) + (code[i] === 'A' ? 'B' : 'A') + code.slice(i + 1);
      expect(openCode(secret, changed), `position ${i}`).toBeUndefined();
    }
  });

  it('C6 RFC 6749 §10.10: a code sealed under another secret, cut short, lengthened or made up does not open', () => {
    const code = sealCode(secret, cryptoRandom, record);
    expect(openCode(randomBytes(32), code)).toBeUndefined();
    expect(openCode(secret, code.slice(0, -1))).toBeUndefined();
    expect(openCode(secret, `${code}A`)).toBeUndefined();
    expect(openCode(secret, `${code.slice(0, 10)}!${code.slice(10)}`)).toBeUndefined();
    for (const made of ['', 'A', 'not-a-code', randomBytes(32).toString('base64url'), randomBytes(300).toString('base64url')]) expect(openCode(secret, made)).toBeUndefined();
  });
});

describe('sealed-code keys', () => {
  it('codes issued in different key windows (2^22 ms each) all open, whatever was opened in between', () => {
    const windows = [0, 1, 2, 3, 4, 5, 6].map((n) => ({ ...record, issuedAt: T + n * 2 ** 22, expiresAt: T + n * 2 ** 22 + 60_000 }));
    const codes = windows.map((r) => sealCode(secret, cryptoRandom, r));
    // More windows than the few keys kept: each is derived again when needed.
    for (const [i, code] of [...codes.entries(), ...codes.entries()].reverse()) expect(openCode(secret, code)).toEqual(windows[i]);
  });
});
