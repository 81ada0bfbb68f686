import type { CodeRecord, CodeRedemption, GrantRecord, RefreshTokenRecord } from './ports.js';

/**
 * Store.redeemCode's conditions, for the stores that evaluate them in JavaScript (PostgreSQL
 * states the same ones in SQL). Each is one the authorization_code grant checks before it redeems
 * a code (authorization-code.ts), so a request those checks would refuse never redeems: the
 * checks stay the authority, this only lets a correct request finish in one store call.
 *
 * The challenge is compared as plain text, not in constant time like the grant's own P3 check:
 * the request chooses only the verifier, and cannot steer the SHA-256 of it, so how long a
 * comparison of that digest takes tells it nothing it could use.
 */
export function isRedeemable(code: CodeRecord, r: CodeRedemption): boolean {
  const { expect } = r;
  return (
    code.consumedAt === null &&
    code.expiresAt > r.now &&
    code.clientId === expect.clientId &&
    expect.codeChallenge !== null &&
    code.codeChallenge === expect.codeChallenge &&
    (expect.redirectUri === null ? !code.redirectUriExplicit : code.redirectUri === expect.redirectUri) &&
    (expect.resource === null || code.resource === expect.resource)
  );
}

/** The grant a redeemed code turns into. */
export function grantFromCode(code: CodeRecord, now: number, expiresAt: number): GrantRecord {
  return {
    id: code.grantId,
    clientId: code.clientId,
    userId: code.userId,
    scope: code.scope,
    resource: code.resource,
    authTime: code.authTime,
    createdAt: now,
    expiresAt,
    revokedAt: null,
  };
}

/** The grant's first refresh token, if one is issued. */
export function firstRefreshToken(grant: GrantRecord, token: CodeRedemption['refreshToken']): RefreshTokenRecord | null {
  return token && { hash: token.hash, grantId: grant.id, clientId: grant.clientId, createdAt: grant.createdAt, expiresAt: token.expiresAt, rotatedAt: null };
}
