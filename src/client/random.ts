/**
 * Random values and PKCE (RFC 7636), on Web Crypto only so the core runs on any modern runtime.
 */

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes, base64url-encoded. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * A fresh `state` for one authorization attempt: 256 bits (RFC 6749 §10.10 asks that it be
 * unguessable; RFC 9700 §2.1 asks for one per attempt, bound to the user agent).
 */
export function generateState(): string {
  return randomToken(32);
}

/**
 * A fresh PKCE `code_verifier`: 32 random bytes, base64url-encoded = 43 characters from the
 * unreserved set (RFC 7636 §4.1 recommends exactly this).
 */
export function generateCodeVerifier(): string {
  return randomToken(32);
}

/** RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))). */
export async function calculateCodeChallenge(codeVerifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(codeVerifier));
  return base64url(new Uint8Array(digest));
}

/** SHA-256 of a secret, base64url: session ids are stored only in this form. */
export async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  return base64url(new Uint8Array(digest));
}

/**
 * Constant-time string comparison: the time taken depends on the lengths only, never on where the
 * strings first differ (STYLE.md anti-pattern 4).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  const length = Math.max(left.length, right.length);
  let difference = left.length ^ right.length;
  for (let i = 0; i < length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}
