import type { CodeRecord, GrantRecord, RefreshTokenRecord } from './ports.js';

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
export function firstRefreshToken(grant: GrantRecord, token: { hash: string; expiresAt: number } | null): RefreshTokenRecord | null {
  return token && { hash: token.hash, grantId: grant.id, clientId: grant.clientId, createdAt: grant.createdAt, expiresAt: token.expiresAt, rotatedAt: null };
}
