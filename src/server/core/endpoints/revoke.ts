import { verifyAccessToken } from '../access-token.js';
import { authenticateClient, type Caller } from '../client-auth/index.js';
import type { CoreContext } from '../context.js';
import { storageKey } from '../token-keys.js';
import { oauthError } from '../errors.js';
import type { Params } from '../params.js';

/**
 * RFC 7009: token revocation. Revoking a refresh token revokes its whole grant (family) and so the
 * access tokens issued under it (§2.1); revoking an access token revokes that token. Unknown
 * tokens, and tokens of other clients, get the same 200 (§2.2), and nothing happens to them.
 */
export async function revocationEndpoint(ctx: CoreContext, params: Params, caller: Caller): Promise<void> {
  params.assertNoDuplicates(['token', 'token_type_hint']);
  const { client } = await authenticateClient(ctx, params, caller);
  const token = params.get('token');
  if (token === undefined) throw oauthError('invalid_request', { description: 'The token parameter is missing.', detail: 'missing token' });
  const now = ctx.clock.now();

  const refresh = await ctx.store.findRefreshToken(storageKey(token));
  if (refresh) {
    if (refresh.clientId === client.id) {
      await ctx.store.revokeGrant(refresh.grantId, now);
      ctx.events.emit({ type: 'grant.revoked', at: now, clientId: client.id, detail: { grant_id: refresh.grantId, via: 'revocation endpoint' } });
    }
    return;
  }
  const claims = token.split('.').length === 3 ? await verifyAccessToken(ctx, token) : undefined;
  if (claims && claims.client_id === client.id) {
    await ctx.store.revokeAccessToken(claims.jti, claims.exp * 1000);
    ctx.events.emit({ type: 'access_token.revoked', at: now, clientId: client.id, detail: { jti: claims.jti } });
  }
}
