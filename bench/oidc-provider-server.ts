/**
 * The comparison peer: node-oidc-provider 9 in its own process, on 127.0.0.1 and an ephemeral port.
 *
 * Configured like Latchkey for the benchmark: one confidential client (client_secret_basic),
 * PKCE S256, ES256 JWT access tokens (RFC 9068, through resource indicators), a refresh token on
 * every code exchange and rotation on every refresh, introspection on. Its own in-memory adapter,
 * with one change: the LRU that backs it holds 1,000,000 entries instead of 1,000, so a pool of
 * codes minted before a row is not evicted before it is exchanged.
 *
 * Login and consent are programmatic: /interaction/:uid finishes the interaction at once for the
 * user named in the request's login_hint, with a grant that covers the requested scope and
 * resource, so each user's session cookies and remembered grant serve every later authorization
 * request made with them.
 *
 * Reports `{ port }` to the parent over IPC once listening.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, string>;
  grantId?: string;
}
interface GrantInstance {
  addResourceScope(indicator: string, scope: string): void;
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => Provider;

// Non-literal specifiers: the package ships no type declarations.
const providerModule = 'oidc-provider';
const adapterModule = 'oidc-provider/lib/adapters/memory_adapter.js';
const lruModule = 'oidc-provider/lib/helpers/lru.js';
const { default: ProviderClass } = (await import(providerModule)) as { default: ProviderConstructor };
const { default: MemoryAdapter } = (await import(adapterModule)) as { default: new (model: string, store: unknown) => unknown };
const { default: LRU } = (await import(lruModule)) as { default: new (options: { maxSize: number }) => unknown };

const clientId = process.env.BENCH_CLIENT_ID ?? 'bench-client';
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? 'bench-secret-0123456789abcdef0123456789abcdef';
const redirectUri = process.env.BENCH_REDIRECT_URI ?? 'http://127.0.0.1:9/cb';
const audience = process.env.BENCH_AUDIENCE ?? 'http://127.0.0.1/api';
const scope = process.env.BENCH_SCOPE ?? 'api:read';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const storage = new LRU({ maxSize: 1_000_000 });

let provider: Provider | undefined;
const server = createServer((req, res) => {
  if (!provider) {
    res.statusCode = 503;
    res.end();
    return;
  }
  if (req.url?.startsWith('/interaction/')) {
    finishInteraction(provider, req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  handler(req, res);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const issuer = `http://127.0.0.1:${port}`;

provider = new ProviderClass(issuer, {
  adapter: (model: string) => new MemoryAdapter(model, storage),
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [{ ...ec, alg: 'ES256', use: 'sig', kid: 'es256' }, { ...rsa, alg: 'RS256', use: 'sig', kid: 'rs256' }] },
  pkce: { required: () => true },
  scopes: [scope],
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => ({
        scope,
        audience: resourceIndicator,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async () => true,
  // Rotate on every refresh, as Latchkey does (the default rotates confidential clients' tokens only late in their life).
  rotateRefreshToken: () => true,
  findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  ttl: { AccessToken: 300, AuthorizationCode: 60, Grant: 30 * 24 * 3600, Interaction: 600, RefreshToken: 14 * 24 * 3600, Session: 8 * 3600, IdToken: 300 },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
});
const handler = provider.callback();

/** Programmatic login and consent: the user the request names in login_hint, and a grant covering what was asked. */
async function finishInteraction(p: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await p.interactionDetails(req, res);
  const accountId = details.params.login_hint ?? 'bench-user';
  const grant = details.grantId ? ((await p.Grant.find(details.grantId)) ?? new p.Grant({ accountId, clientId })) : new p.Grant({ accountId, clientId });
  grant.addResourceScope(audience, scope);
  const missingOidc = details.prompt.details.missingOIDCScope as string[] | undefined;
  if (missingOidc) grant.addOIDCScope(missingOidc.join(' '));
  const missingResource = details.prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
  for (const [indicator, scopes] of Object.entries(missingResource ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await p.interactionFinished(req, res, { login: { accountId, remember: true }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

// Exit normally on SIGTERM (bench/lib/targets.ts stops servers so), which lets `node --cpu-prof` write its profile.
process.once('SIGTERM', () => process.exit(0));

process.send?.({ port });
