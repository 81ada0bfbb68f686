import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ResponseBodyError, WWWAuthenticateChallengeError } from 'oauth4webapi';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';

/** The user every interop flow signs in as. */
export const alice = { username: 'alice', password: 'correct horse battery' };

/** Where the interop clients are sent back to; authorizeOverHttp stops before contacting it. */
export const redirectUri = 'https://app.example/callback';

export interface InteropServer {
  lk: TestLatchkey;
  /**
   * Verifies an access token the way an independent resource server would: RFC 9068 §2.1
   * `typ: at+jwt`, a signature from a key in /jwks.json (fetched over HTTP), iss and aud.
   */
  verifyAccessToken(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

export async function startInteropServer(): Promise<InteropServer> {
  const lk = await startLatchkey();
  await lk.createUser(alice.username, alice.password);
  const jwks = createRemoteJWKSet(new URL('/jwks.json', lk.issuer));
  return {
    lk,
    async verifyAccessToken(token) {
      const header = decodeProtectedHeader(token);
      if (header.typ !== 'at+jwt') throw new Error(`access token typ is ${String(header.typ)}, not at+jwt`);
      const { payload } = await jwtVerify(token, jwks, { issuer: lk.issuer, audience: lk.issuer, typ: 'at+jwt' });
      return payload;
    },
    close: () => lk.close(),
  };
}

/**
 * The OAuth error a client library surfaced from a rejected promise: a ResponseBodyError (the error
 * body), or, for a 401 with a WWW-Authenticate challenge (G6 OAuth 2.1 §3.2.4), a
 * WWWAuthenticateChallengeError whose response still carries the error body. openid-client
 * re-exports both classes from oauth4webapi.
 */
export async function oauthErrorOf(promise: Promise<unknown>): Promise<{ status: number; error: unknown; challenged: boolean }> {
  const thrown = await promise.then(
    () => {
      throw new Error('expected the server to refuse the request');
    },
    (e: unknown) => e,
  );
  if (thrown instanceof ResponseBodyError) return { status: thrown.status, error: thrown.error, challenged: false };
  if (thrown instanceof WWWAuthenticateChallengeError) {
    const body = (await thrown.response.json()) as { error?: unknown };
    return { status: thrown.status, error: body.error, challenged: true };
  }
  throw thrown;
}
