import type { ClientAuthMethod, ResolveUser } from '../../../src/client/index.js';
import { MemorySessionStore, OAuthClient } from '../../../src/client/index.js';
import { CONFIDENTIAL, POST_CLIENT, PUBLIC_CLIENT } from './oidc-provider.js';

/** oidc-provider issues opaque access tokens: the user comes from its userinfo endpoint. */
export const userinfoResolver: ResolveUser = async (tokens, { metadata, fetch }) => {
  if (metadata.userinfo_endpoint === undefined) throw new Error('no userinfo endpoint');
  const response = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  const body: unknown = await response.json();
  if (response.status !== 200 || typeof body !== 'object' || body === null || typeof (body as { sub?: unknown }).sub !== 'string') {
    throw new Error(`userinfo failed: ${response.status}`);
  }
  const claims = body as { sub: string; preferred_username?: unknown };
  return {
    sub: claims.sub,
    scope: (tokens.scope ?? '').split(' ').filter(Boolean),
    ...(typeof claims.preferred_username === 'string' ? { username: claims.preferred_username } : {}),
  };
};

/** A client for the oidc-provider test server, for one of its three registrations. */
export function oidcClient(
  issuer: string,
  redirectUri: string,
  method: ClientAuthMethod,
  extra: Partial<ConstructorParameters<typeof OAuthClient>[0]> = {},
): OAuthClient {
  const registration = method === 'client_secret_basic' ? CONFIDENTIAL : method === 'client_secret_post' ? POST_CLIENT : undefined;
  return new OAuthClient({
    issuer,
    clientId: registration?.clientId ?? PUBLIC_CLIENT.clientId,
    clientSecret: registration?.clientSecret,
    clientAuthMethod: method,
    redirectUri,
    scope: 'openid api:read',
    store: new MemorySessionStore(),
    resolveUser: userinfoResolver,
    ...extra,
  });
}
