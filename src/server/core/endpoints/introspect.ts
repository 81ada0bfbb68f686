import { verifyAccessToken } from '../access-token.js';
import { authenticateClient, type Caller } from '../client-auth/index.js';
import { isResourceServer } from '../client-kind.js';
import { formatScope } from '../checks/scope.js';
import type { CoreContext } from '../context.js';
import { storageKey } from '../token-keys.js';
import { oauthError } from '../errors.js';
import type { Params } from '../params.js';
import type { ClientRecord } from '../ports.js';

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

const INACTIVE: IntrospectionResponse = { active: false };

/**
 * RFC 7662: token introspection. A client learns only about tokens issued to it, and a registered
 * resource server only about access tokens for its audience; everything else, like expired,
 * revoked or unknown tokens, is `{ "active": false }` (§2.2).
 */
export async function introspectionEndpoint(ctx: CoreContext, params: Params, caller: Caller): Promise<IntrospectionResponse> {
  params.assertNoDuplicates(['token', 'token_type_hint']);
  const { client, method } = await authenticateClient(ctx, params, caller);
  // RFC 7662 §2.1: the endpoint MUST require authorization; a public client cannot authenticate.
  if (method === 'none') {
    throw oauthError('invalid_client', { description: 'Introspection requires a confidential client (client_secret_basic or client_secret_post).', detail: 'public client at introspection' });
  }
  const token = params.get('token');
  if (token === undefined) throw oauthError('invalid_request', { description: 'The token parameter is missing.', detail: 'missing token' });
  // The hint only sets the order of the look-ups (RFC 7662 §2.1).
  if (params.get('token_type_hint') === 'refresh_token') return (await introspectRefreshToken(ctx, client, token)) ?? (await introspectAccessToken(ctx, client, token)) ?? INACTIVE;
  return (await introspectAccessToken(ctx, client, token)) ?? (await introspectRefreshToken(ctx, client, token)) ?? INACTIVE;
}

async function introspectAccessToken(ctx: CoreContext, client: ClientRecord, token: string): Promise<IntrospectionResponse | undefined> {
  if (token.split('.').length !== 3) return undefined;
  const claims = await verifyAccessToken(ctx, token);
  if (!claims) return INACTIVE;
  // RFC 7662 §2.2: a client learns only about tokens issued to it; a registered resource server,
  // only about access tokens for its own audience (RFC 8707), so an API can introspect as itself.
  const entitled = claims.client_id === client.id || (isResourceServer(client) && client.resources[0] === claims.aud);
  if (!entitled) return INACTIVE;
  // A token whose grant (family) or itself was revoked is inactive at once, though its signature is still good.
  const grant = await ctx.store.findGrant(claims.grant_id);
  if (!grant || grant.revokedAt !== null) return INACTIVE;
  if (await ctx.store.isAccessTokenRevoked(claims.jti)) return INACTIVE;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}

async function introspectRefreshToken(ctx: CoreContext, client: ClientRecord, token: string): Promise<IntrospectionResponse | undefined> {
  const record = await ctx.store.findRefreshToken(storageKey(token));
  if (!record) return undefined;
  const now = ctx.clock.now();
  if (record.clientId !== client.id || record.rotatedAt !== null || record.expiresAt <= now) return INACTIVE;
  const grant = await ctx.store.findGrant(record.grantId);
  if (!grant || grant.revokedAt !== null || grant.expiresAt <= now) return INACTIVE;
  return {
    active: true,
    scope: formatScope(grant.scope),
    client_id: client.id,
    token_type: 'refresh_token',
    exp: Math.floor(record.expiresAt / 1000),
    iat: Math.floor(record.createdAt / 1000),
    sub: grant.userId,
    iss: ctx.settings.issuer,
    ...(grant.resource ? { aud: grant.resource } : {}),
  };
}
