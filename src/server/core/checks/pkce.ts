import { hash } from 'node:crypto';
import { constantTimeEqual } from '../digest.js';

// RFC 7636 §4.2: S256 code_challenge = BASE64URL(SHA256(verifier)) — always 43 characters.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
// RFC 7636 §4.1: code_verifier = 43*128unreserved.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function isWellFormedS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

export function isWellFormedVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}

/**
 * RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), for a verifier already checked
 * by isWellFormedVerifier (ASCII, so its UTF-8 is its ASCII).
 */
function s256Challenge(verifier: string): string {
  return hash('sha256', verifier, 'base64url');
}

/** RFC 7636 §4.6: the verifier's S256 == code_challenge, in constant time. */
export function verifierMatchesS256(verifier: string, challenge: string): boolean {
  return constantTimeEqual(s256Challenge(verifier), challenge);
}
