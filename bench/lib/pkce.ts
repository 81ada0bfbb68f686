import { createHash, randomBytes } from 'node:crypto';

/** A fresh PKCE verifier (RFC 7636 §4.1) and state, and the authorization request parameters. */
export function pkceParams(client: { clientId: string }): { verifier: string; state: string; params: Record<string, string> } {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  return {
    verifier,
    state,
    params: {
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: 'http://127.0.0.1:9/cb',
      scope: 'api:read',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    },
  };
}
