import { isWellFormedVerifier, verifierMatchesS256 } from '../checks/pkce.js';
import { firstRefreshToken, grantFromCode } from '../code-redemption.js';
import type { CoreContext } from '../context.js';
import { openCode } from '../sealed-code.js';
import { newToken, storageKey } from '../token-keys.js';
import { oauthError } from '../errors.js';
import type { Params } from '../params.js';
import type { ClientRecord } from '../ports.js';
import { tokenResponse, type GrantHandler, type TokenResponse } from './grant.js';

/** RFC 6749 §4.1.3: exchange an authorization code for tokens. */
export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier', 'resource'],

  async handle(ctx: CoreContext, client: ClientRecord, params: Params): Promise<TokenResponse> {
    const code = params.get('code');
    if (code === undefined) throw oauthError('invalid_request', { description: 'The code parameter is missing.', detail: 'missing code' });
    const now = ctx.clock.now();
    const redirectUri = params.get('redirect_uri');
    const verifier = params.get('code_verifier');
    const resource = params.get('resource');
    const grantExpiresAt = now + ctx.settings.refreshAbsoluteTtlSeconds * 1000;
    // SECURITY.md T1: refresh tokens only for clients registered for that grant.
    const refreshToken = client.grantTypes.includes('refresh_token') ? newToken(ctx.random, now) : undefined;
    const firstRefresh = refreshToken ? { hash: storageKey(refreshToken), expiresAt: Math.min(now + ctx.settings.refreshIdleTtlSeconds * 1000, grantExpiresAt) } : null;

    const record = openCode(ctx.codeSecret, code);
    if (!record) throw oauthError('invalid_grant', { description: 'The authorization code is invalid.', detail: 'unknown code' });

    // C5 OAuth 2.1 §7.5.2: every check on what the request presented comes before the code is
    // looked at as used, so a replay with bad parameters (wrong client, redirect_uri or verifier)
    // is refused without redeeming or revoking anything.

    // C2 OAuth 2.1 §4.1.3: the code was issued to the authenticated client, and to this
    // registration of it: not to one deleted since and registered again under the same id. (A code
    // sealed by a version before this binding carries no registration, and is checked by id alone.)
    if (record.clientId !== client.id || (record.clientCreatedAt !== undefined && record.clientCreatedAt !== client.createdAt)) {
      throw oauthError('invalid_grant', {
        description: 'The authorization code was issued to another client.',
        detail: record.clientId !== client.id ? 'code client mismatch' : 'code issued to an earlier registration of this client id',
      });
    }
    // R9 RFC 6749 §4.1.3: redirect_uri is required if it was in the authorization request, and identical.
    if (redirectUri !== undefined ? redirectUri !== record.redirectUri : record.redirectUriExplicit) {
      throw oauthError('invalid_grant', {
        description: 'redirect_uri must be identical to the one in the authorization request.',
        detail: redirectUri === undefined ? 'redirect_uri missing' : 'redirect_uri mismatch',
      });
    }
    if (record.codeChallenge === null) {
      // P4 RFC 9700 §2.1.1, §4.8.2: a code_verifier for a code issued without a challenge is a downgrade attempt.
      if (verifier !== undefined) {
        throw oauthError('invalid_grant', { description: 'code_verifier was sent, but the authorization request had no code_challenge.', detail: 'pkce downgrade' });
      }
    } else {
      // P3 RFC 7636 §4.6: the verifier must hash to the stored challenge.
      if (verifier === undefined) throw oauthError('invalid_grant', { description: 'code_verifier is required (PKCE).', detail: 'missing code_verifier' });
      if (!isWellFormedVerifier(verifier) || !verifierMatchesS256(verifier, record.codeChallenge)) {
        throw oauthError('invalid_grant', { description: 'code_verifier does not match the code_challenge.', detail: 'pkce mismatch' });
      }
    }
    // RFC 8707 §2.2: a resource at the token endpoint must be one the code was granted for.
    if (resource !== undefined && resource !== record.resource) {
      throw oauthError('invalid_target', { description: 'resource differs from the one in the authorization request.', detail: 'resource mismatch' });
    }
    if (record.expiresAt <= now) {
      // C4 RFC 6749 §4.1.2: a late replay of a redeemed code still revokes; its grant row is kept
      // for longer than any code lives (retention.ts).
      if (await ctx.store.findGrant(record.grantId)) return replayed(ctx, record.grantId, client.id);
      // C1 OAuth 2.1 §4.1.2: codes expire quickly.
      throw oauthError('invalid_grant', { description: 'The authorization code has expired.', detail: 'code expired' });
    }

    const grant = grantFromCode(record, now, grantExpiresAt);
    // C3 RFC 6749 §4.1.2: creating the grant whose id the code carries is the one atomic step
    // that decides who redeems the code.
    if (!(await ctx.store.redeemCode(grant, firstRefreshToken(grant, firstRefresh), record.issuedAt))) {
      // Its grant exists: the code was redeemed before, or by a request that won the race.
      if (await ctx.store.findGrant(record.grantId)) return replayed(ctx, record.grantId, client.id);
      // Store.revokeConsent / deleteUser since the code was issued.
      throw oauthError('invalid_grant', { description: 'The authorization code is no longer valid.', detail: 'consent revoked or user deleted' });
    }
    ctx.events.emit({ type: 'code.redeemed', at: now, clientId: client.id, userId: record.userId, detail: { grant_id: grant.id } });

    return tokenResponse(ctx, { clientId: client.id, grant, scope: record.scope, refreshToken });
  },
};

/**
 * C4 RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server
 * MUST deny the request and SHOULD revoke (when possible) all tokens previously issued based on
 * that authorization code."
 */
async function replayed(ctx: CoreContext, grantId: string, clientId: string): Promise<never> {
  const now = ctx.clock.now();
  await ctx.store.revokeGrant(grantId, now);
  ctx.events.emit({ type: 'code.replayed', at: now, clientId, detail: { grant_id: grantId, action: 'grant revoked' } });
  throw oauthError('invalid_grant', { description: 'The authorization code has already been used.', detail: 'code replayed' });
}
