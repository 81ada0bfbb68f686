import type { CoreContext } from '../context.js';
import type { Params } from '../params.js';
import { issueAccessToken } from '../access-token.js';
import { formatScope } from '../checks/scope.js';
import type { ClientRecord, GrantRecord, GrantType } from '../ports.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/**
 * Issues the access token for a grant and builds the RFC 6749 §5.1 response. The access token's
 * audience is the granted resource (RFC 8707) or the default audience.
 */
export async function tokenResponse(
  ctx: CoreContext,
  input: { clientId: string; grant: Pick<GrantRecord, 'id' | 'userId' | 'resource' | 'authTime'>; scope: readonly string[]; refreshToken: string | undefined },
): Promise<TokenResponse> {
  const access = await issueAccessToken(ctx, {
    clientId: input.clientId,
    userId: input.grant.userId,
    scope: input.scope,
    audience: input.grant.resource ?? ctx.settings.defaultAudience,
    grantId: input.grant.id,
    authTime: input.grant.authTime,
  });
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    // A5 OAuth 2.1 §3.2.3: scope is always included, so the client never has to guess.
    scope: formatScope(input.scope),
    ...(input.refreshToken ? { refresh_token: input.refreshToken } : {}),
  };
}

/** One grant type at the token endpoint (like fosite's handlers and node-oidc-provider's grants/). */
export interface GrantHandler {
  grantType: GrantType;
  /** The parameters this grant reads; each must appear at most once (RFC 6749 §3.1). */
  parameters: readonly string[];
  handle(ctx: CoreContext, client: ClientRecord, params: Params): Promise<TokenResponse>;
}
