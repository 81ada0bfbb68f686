import type { CoreContext } from '../context.js';
import type { Params } from '../params.js';
import type { ClientRecord, GrantType } from '../ports.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** One grant type at the token endpoint (like fosite's handlers and node-oidc-provider's grants/). */
export interface GrantHandler {
  grantType: GrantType;
  /** The parameters this grant reads; each must appear at most once (RFC 6749 §3.1). */
  parameters: readonly string[];
  handle(ctx: CoreContext, client: ClientRecord, params: Params): Promise<TokenResponse>;
}
