/**
 * Interop: the middleware accepts RFC 9068 JWT access tokens from an independent issuer,
 * oidc-provider (in-process, port 0), obtained with the client_credentials grant and RFC 8707
 * resource indicators. oidc-provider publishes only OpenID Connect Discovery, so this also runs the
 * discovery fallback.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { createResourceServer, type ResourceServer } from '../../src/resource/index.js';
import { parseChallenge, startFastifyNotesApi, type NotesApi } from './notes-api.js';

/** The little of oidc-provider's API used here (the package ships no type declarations). */
type ProviderConstructor = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => { callback(): (request: unknown, response: unknown) => void };
const oidcProviderModule = 'oidc-provider';
const { default: Provider } = (await import(oidcProviderModule)) as { default: ProviderConstructor };

const audience = 'https://notes.example/api';
const otherAudience = 'https://billing.example/api';
const client = { client_id: 'notes-worker', client_secret: 'notes-worker-secret-0123456789abcdef' };

let httpServer: Server;
let issuer: string;
let server: ResourceServer;
let api: NotesApi;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: 'op-es256', alg: 'ES256', use: 'sig' };
  httpServer = (await import('node:http')).createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      { ...client, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' },
    ],
    jwks: { keys: [signingJwk] },
    scopes: ['notes:read', 'notes:write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => ({
          scope: 'notes:read notes:write',
          audience: resourceIndicator,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  httpServer.on('request', provider.callback());

  server = createResourceServer({ issuer, audience, algorithms: ['ES256'] });
  api = await startFastifyNotesApi(server);
});

afterAll(async () => {
  await api?.close();
  await new Promise<void>((resolve) => {
    httpServer?.closeAllConnections();
    httpServer?.close(() => resolve());
  });
});

async function clientCredentialsToken(scope: string, resource: string): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
  if (response.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

describe('interop: JWT access tokens from oidc-provider', () => {
  it('RFC 9068 §4: a client_credentials JWT access token from oidc-provider is accepted', async () => {
    const token = await clientCredentialsToken('notes:read', audience);
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: 'op-es256' });

    const response = await fetch(`${api.url}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: client.client_id, clientId: client.client_id, scope: ['notes:read'] });
    expect((await fetch(`${api.url}/notes`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('A6 RFC 6750 §3.1: the oidc-provider token without notes:write gets 403 insufficient_scope', async () => {
    const token = await clientCredentialsToken('notes:read', audience);
    const response = await fetch(`${api.url}/notes`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
    expect(parseChallenge(response.headers.get('www-authenticate')).params['scope']).toBe('notes:read notes:write');
  });

  it('A2 RFC 8707 §2: an oidc-provider token issued for another resource gets 401 invalid_token', async () => {
    const token = await clientCredentialsToken('notes:read', otherAudience);
    const response = await fetch(`${api.url}/notes`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(parseChallenge(response.headers.get('www-authenticate')).params['error']).toBe('invalid_token');
  });
});
