import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isWellFormedS256Challenge, isWellFormedVerifier, verifierMatchesS256 } from '../../src/server/core/checks/pkce.js';

describe('PKCE (RFC 7636)', () => {
  // RFC 7636 Appendix B: the worked S256 example.
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

  it('P3 RFC 7636 Appendix B: the test vector verifier matches its challenge', () => {
    expect(verifierMatchesS256(verifier, challenge)).toBe(true);
    expect(isWellFormedVerifier(verifier)).toBe(true);
    expect(isWellFormedS256Challenge(challenge)).toBe(true);
  });

  it('P3 RFC 7636 §4.6: any other verifier, or a changed challenge, does not match', () => {
    expect(verifierMatchesS256(`${verifier.slice(0, -1)}j`, challenge)).toBe(false);
    expect(verifierMatchesS256(verifier, `${challenge.slice(0, -1)}d`)).toBe(false);
    expect(verifierMatchesS256(verifier, challenge.slice(0, -1))).toBe(false);
    // "plain" (challenge = verifier) never matches under S256.
    expect(verifierMatchesS256(verifier, verifier)).toBe(false);
  });

  it.each([
    ['43 characters', 'a'.repeat(43), true],
    ['128 characters', 'a'.repeat(128), true],
    ['all unreserved characters', `${'A'.repeat(39)}-._~`, true],
    ['42 characters', 'a'.repeat(42), false],
    ['129 characters', 'a'.repeat(129), false],
    ['a space', `${'a'.repeat(42)} `, false],
    ['a plus', `${'a'.repeat(42)}+`, false],
    ['a slash', `${'a'.repeat(42)}/`, false],
    ['a padding =', `${'a'.repeat(42)}=`, false],
    ['non-ASCII', `${'a'.repeat(42)}é`, false],
  ])('P3 RFC 7636 §4.1: a verifier with %s is well-formed: %s', (_what, value, ok) => {
    expect(isWellFormedVerifier(value)).toBe(ok);
  });

  it.each([
    ['the S256 of a verifier', createHash('sha256').update('a'.repeat(43)).digest('base64url'), true],
    ['42 characters', 'a'.repeat(42), false],
    ['44 characters', 'a'.repeat(44), false],
    ['standard base64 (+ and /)', `${'a'.repeat(41)}+/`, false],
    ['padding', `${'a'.repeat(42)}=`, false],
  ])('P6 RFC 7636 §4.2: a challenge of %s is a well-formed S256 challenge: %s', (_what, value, ok) => {
    expect(isWellFormedS256Challenge(value)).toBe(ok);
  });
});
