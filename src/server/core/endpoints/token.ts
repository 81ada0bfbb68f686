import { authenticateClient, type Caller } from '../client-auth/index.js';
import type { CoreContext } from '../context.js';
import { oauthError } from '../errors.js';
import { grantHandlers } from '../grants/index.js';
import type { TokenResponse } from '../grants/grant.js';
import type { Params } from '../params.js';

/** RFC 6749 §3.2: the token endpoint. Client authentication, then dispatch on grant_type. */
export async function tokenEndpoint(ctx: CoreContext, params: Params, caller: Caller): Promise<TokenResponse> {
  params.assertNoDuplicates(['grant_type']);
  const grantType = params.get('grant_type');
  if (grantType === undefined) throw oauthError('invalid_request', { description: 'The grant_type parameter is missing.', detail: 'missing grant_type' });
  const handler = grantHandlers.get(grantType);
  // SECURITY.md G1, G2: no implicit, no password grant; only what the registry holds.
  if (!handler) throw oauthError('unsupported_grant_type', { description: `grant_type ${grantType.slice(0, 64)} is not supported.`, detail: 'unsupported grant type' });
  // RFC 6749 §3.1: duplicate parameters are refused.
  params.assertNoDuplicates(handler.parameters);

  const { client } = await authenticateClient(ctx, params, caller);
  // RFC 6749 §5.2 unauthorized_client: the client is not registered for this grant type.
  if (!client.grantTypes.includes(handler.grantType)) {
    throw oauthError('unauthorized_client', { description: `This client may not use the ${handler.grantType} grant.`, detail: 'grant type not allowed' });
  }
  return handler.handle(ctx, client, params);
}
