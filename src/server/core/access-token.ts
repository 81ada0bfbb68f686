import type { CoreContext } from './context.js';
import { formatScope } from './checks/scope.js';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  exp: number;
  iat: number;
  jti: string;
  auth_time: number;
  /** The grant (refresh-token family) the token was issued under, so revoking it is seen at once by introspection. */
  grant_id: string;
}

export interface IssuedAccessToken {
  token: string;
  claims: AccessTokenClaims;
  expiresIn: number;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * RFC 9068 §2: a JWT access token with `typ: at+jwt` and the claims iss, exp, aud, sub, client_id,
 * iat, jti (+ scope, auth_time). Signed with node:crypto, the key imported once by the key ring.
 */
export async function issueAccessToken(
  ctx: CoreContext,
  input: { clientId: string; userId: string; scope: readonly string[]; audience: string; grantId: string; authTime: number },
): Promise<IssuedAccessToken> {
  const signer = await ctx.keys.signer();
  const iat = Math.floor(ctx.clock.now() / 1000);
  const expiresIn = ctx.settings.accessTokenTtlSeconds;
  const claims: AccessTokenClaims = {
    iss: ctx.settings.issuer,
    sub: input.userId,
    aud: input.audience,
    client_id: input.clientId,
    scope: formatScope(input.scope),
    exp: iat + expiresIn,
    iat,
    jti: ctx.random.token(16),
    auth_time: Math.floor(input.authTime / 1000),
    grant_id: input.grantId,
  };
  const signingInput = `${b64({ alg: signer.alg, typ: 'at+jwt', kid: signer.kid })}.${b64(claims)}`;
  const signature = signer.sign(Buffer.from(signingInput)).toString('base64url');
  return { token: `${signingInput}.${signature}`, claims, expiresIn };
}

/**
 * Verifies one of our own access tokens (signature, typ, iss, exp). Returns the claims, or
 * undefined for anything that is not a valid, unexpired token we issued.
 */
export async function verifyAccessToken(ctx: CoreContext, token: string): Promise<AccessTokenClaims | undefined> {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  let header: { alg?: unknown; typ?: unknown; kid?: unknown };
  let claims: Partial<AccessTokenClaims>;
  try {
    header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as typeof header;
    claims = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return undefined;
  }
  // RFC 9068 §4: typ must be at+jwt; RFC 8725 §3.1: only the algorithm the key was made for.
  if (header.typ !== 'at+jwt' || typeof header.kid !== 'string' || typeof header.alg !== 'string') return undefined;
  const key = await ctx.keys.verifier(header.kid);
  if (!key || key.alg !== header.alg) return undefined;
  if (!key.verify(Buffer.from(`${encodedHeader}.${encodedPayload}`), Buffer.from(encodedSignature, 'base64url'))) return undefined;
  if (claims.iss !== ctx.settings.issuer || typeof claims.exp !== 'number' || typeof claims.jti !== 'string') return undefined;
  if (claims.exp * 1000 <= ctx.clock.now()) return undefined;
  if (typeof claims.client_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.grant_id !== 'string') return undefined;
  return claims as AccessTokenClaims;
}
