import { hash, randomFillSync } from 'node:crypto';
import { REDIRECT_URI, SCOPE } from './targets.js';

/*
 * The load generator shares the machine's cores with the server it measures, so what it spends
 * per flow is taken from the server: random bytes come from a pooled buffer refilled 64 KiB at a
 * time (one randomBytes call per verifier cost more than the rest of building the request).
 */
const pool = Buffer.alloc(64 * 1024);
let used = pool.length;

function random(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('base64url', used - bytes, used);
}

/** A fresh PKCE verifier (RFC 7636 §4.1) and state, and the authorization request parameters. */
export function pkceParams(client: { clientId: string }): { verifier: string; state: string; params: Record<string, string> } {
  const verifier = random(32);
  const state = random(12);
  return {
    verifier,
    state,
    params: {
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      state,
      code_challenge: hash('sha256', verifier, 'base64url'),
      code_challenge_method: 'S256',
    },
  };
}
