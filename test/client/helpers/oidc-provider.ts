/**
 * oidc-provider 9 (an independent, certified authorization server) running in-process on an
 * ephemeral 127.0.0.1 port, as the interop peer of the client library.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The little of oidc-provider's API the tests use (the package ships no type declarations). */
export interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  Grant: { find(id: string): Promise<{ destroy(): Promise<void> } | undefined> };
  RefreshToken: { find(value: string): Promise<{ grantId: string } | undefined> };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => Provider;
// A non-literal specifier keeps TypeScript from looking for declarations the package does not have.
const oidcProviderModule = 'oidc-provider';
const { default: ProviderClass } = (await import(oidcProviderModule)) as { default: ProviderConstructor };

export const CONFIDENTIAL = { clientId: 'confidential-app', clientSecret: 'confidential-secret-0123456789abcdef' };
export const POST_CLIENT = { clientId: 'post-app', clientSecret: 'post-secret-0123456789abcdef' };
export const PUBLIC_CLIENT = { clientId: 'public-app' };

export interface TestProvider {
  issuer: string;
  provider: Provider;
  /** Every request the provider received (method and path), in order. */
  requests: Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

/**
 * Starts the provider with three clients (client_secret_basic, client_secret_post, none), all
 * registered for `redirectUris`, PKCE required, refresh tokens always issued, revocation on.
 */
export async function startOidcProvider(redirectUris: string[], options: { accessTokenTtl?: number } = {}): Promise<TestProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const requests: TestProvider['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '' });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const common = { redirect_uris: redirectUris, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  const provider = new ProviderClass(issuer, {
    clients: [
      { ...common, client_id: CONFIDENTIAL.clientId, client_secret: CONFIDENTIAL.clientSecret, token_endpoint_auth_method: 'client_secret_basic' },
      { ...common, client_id: POST_CLIENT.clientId, client_secret: POST_CLIENT.clientSecret, token_endpoint_auth_method: 'client_secret_post' },
      { ...common, client_id: PUBLIC_CLIENT.clientId, token_endpoint_auth_method: 'none' },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true, allowedPolicy: async () => true } },
    issueRefreshToken: async () => true,
    scopes: ['openid', 'offline_access', 'api:read'],
    claims: { openid: ['sub'], profile: ['preferred_username'] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, preferred_username: sub }) }),
    ttl: { AccessToken: options.accessTokenTtl ?? 3600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 86_400, IdToken: 3600, AuthorizationCode: 60 },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
  });
  handler = provider.callback();
  return {
    issuer,
    provider,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
