import { isSubset, parseScope } from '../checks/scope.js';
import type { CoreContext } from '../context.js';
import { storageKey } from '../token-keys.js';
import { oauthError } from '../errors.js';
import type { Params } from '../params.js';
import type { ClientRecord, RefreshTokenRecord } from '../ports.js';
import { tokenResponse, type GrantHandler, type TokenResponse } from './grant.js';
import { successorOf } from './refresh-token-secret.js';

/** RFC 6749 §6: refresh, with rotation on every use and family-scoped reuse detection (RFC 9700 §4.14.2). */
export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope', 'resource'],

  async handle(ctx: CoreContext, client: ClientRecord, params: Params): Promise<TokenResponse> {
    const token = params.get('refresh_token');
    if (token === undefined) throw oauthError('invalid_request', { description: 'The refresh_token parameter is missing.', detail: 'missing refresh_token' });
    const now = ctx.clock.now();
    const hash = storageKey(token);
    const record = await ctx.store.findRefreshToken(hash);
    if (!record) throw oauthError('invalid_grant', { description: 'The refresh token is invalid.', detail: 'unknown refresh token' });
    // T3 OAuth 2.1 §4.3: the refresh token is bound to the client it was issued to.
    if (record.clientId !== client.id) {
      throw oauthError('invalid_grant', { description: 'The refresh token was issued to another client.', detail: 'refresh client mismatch' });
    }
    const grant = await ctx.store.findGrant(record.grantId);
    if (!grant) throw oauthError('invalid_grant', { description: 'The refresh token is invalid.', detail: 'grant gone' });

    // T2 RFC 9700 §4.14.2, RFC 6749 §6: a refresh may narrow the scope, never widen it.
    let scope = grant.scope;
    const requestedScope = params.get('scope');
    if (requestedScope !== undefined) {
      const parsed = parseScope(requestedScope);
      if (!parsed) throw oauthError('invalid_scope', { description: 'The scope parameter is malformed.', detail: 'malformed scope' });
      if (!isSubset(parsed, grant.scope)) {
        throw oauthError('invalid_scope', { description: 'The requested scope exceeds what was originally granted.', detail: 'scope widening' });
      }
      scope = parsed;
    }
    // RFC 8707 §2.2: the resource must be the one granted.
    const resource = params.get('resource');
    if (resource !== undefined && resource !== grant.resource) {
      throw oauthError('invalid_target', { description: 'resource differs from the one originally granted.', detail: 'resource mismatch' });
    }

    const successor = successorOf(ctx.refreshSecret, token, record.createdAt);
    const successorRecord: RefreshTokenRecord = {
      hash: storageKey(successor),
      grantId: grant.id,
      clientId: client.id,
      createdAt: now,
      // T6 RFC 9700 §4.14.2: idle expiry, never past the family's absolute lifetime.
      expiresAt: Math.min(now + ctx.settings.refreshIdleTtlSeconds * 1000, grant.expiresAt),
      rotatedAt: null,
    };
    const windowMs = ctx.settings.refreshRetryWindowSeconds * 1000;
    // T4 RFC 9700 §4.14.2: rotation, decided by one atomic statement.
    const result = await ctx.store.rotateRefreshToken(hash, successorRecord, now, windowMs);
    if (result.kind === 'rejected') return rejected(ctx, hash, client.id, now, windowMs);

    ctx.events.emit({ type: 'refresh.rotated', at: now, clientId: client.id, userId: grant.userId, detail: { grant_id: grant.id } });
    return tokenResponse(ctx, { clientId: client.id, grant, scope, refreshToken: successor });
  },
};

/** Why the rotation was refused; reuse of a rotated token revokes its family, and only it. */
async function rejected(ctx: CoreContext, hash: string, clientId: string, now: number, windowMs: number): Promise<never> {
  const current = await ctx.store.findRefreshToken(hash);
  if (current?.rotatedAt != null && now - current.rotatedAt >= windowMs) {
    const grant = await ctx.store.findGrant(current.grantId);
    if (grant && grant.revokedAt === null) {
      // T4 RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the active token of the family.
      await ctx.store.revokeGrant(current.grantId, now);
      ctx.events.emit({ type: 'refresh.reuse_detected', at: now, clientId, userId: grant.userId, detail: { grant_id: current.grantId, action: 'family revoked' } });
    }
    throw oauthError('invalid_grant', { description: 'The refresh token has already been used.', detail: 'refresh token reuse' });
  }
  throw oauthError('invalid_grant', { description: 'The refresh token is expired or revoked.', detail: 'refresh token expired or revoked' });
}
