/**
 * A small, real authorization server for the middleware tests: node:http on 127.0.0.1, port 0,
 * serving RFC 8414 metadata, a JWKS and RFC 7662 introspection, and minting RFC 9068 access tokens
 * with jose. It lets a test forge exactly the bad token it needs.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface MintOptions {
  claims?: JWTPayload;
  /** Claims to leave out of the defaults. */
  omit?: string[];
  header?: Record<string, unknown>;
  key?: SigningKey;
  /** Seconds from now; negative for an expired token. Default 300. */
  expiresIn?: number;
}

export interface TestIssuer {
  issuer: string;
  /** Requests served, per path. */
  hits: Map<string, number>;
  keys: SigningKey[];
  activeKey(): SigningKey;
  mint(options?: MintOptions): Promise<string>;
  /** Publishes a new key and signs with it from now on; old keys stay published. */
  rotate(): Promise<SigningKey>;
  /** RFC 7662: tokens answered active:false from now on. */
  revoke(token: string): void;
  /** Replace the metadata document (to test an impostor issuer, a missing jwks_uri …). */
  metadataOverride: Record<string, unknown> | null;
  /** Serve only /.well-known/openid-configuration (404 for the RFC 8414 path). */
  openIdOnly: boolean;
  introspectionClient: { clientId: string; clientSecret: string };
  close(): Promise<void>;
}

export const testAudience = 'https://notes.example/api';

export async function newSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const keys: SigningKey[] = [await newSigningKey('key-1')];
  const hits = new Map<string, number>();
  const revoked = new Set<string>();
  const issued = new Map<string, JWTPayload>();
  const introspectionClient = { clientId: 'notes-api', clientSecret: 'introspection secret/+&' };
  let issuer = '';

  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const metadata = state.metadataOverride ?? {
        issuer,
        jwks_uri: `${issuer}/jwks.json`,
        introspection_endpoint: `${issuer}/introspect`,
      };
      if (path === '/.well-known/oauth-authorization-server' && !state.openIdOnly) return json(200, metadata);
      if (path === '/.well-known/openid-configuration') return json(200, metadata);
      if (path === '/jwks.json') return json(200, { keys: keys.map((key) => key.publicJwk) });
      if (path === '/introspect' && request.method === 'POST') {
        const expected = `Basic ${Buffer.from(
          `${encodeURIComponent(introspectionClient.clientId)}:${encodeURIComponent(introspectionClient.clientSecret)}`.replace(/%20/g, '+'),
        ).toString('base64')}`;
        if (request.headers.authorization !== expected) return json(401, { error: 'invalid_client' });
        const token = new URLSearchParams(await readBody(request)).get('token') ?? '';
        const claims = issued.get(token);
        const now = Math.floor(Date.now() / 1000);
        if (!claims || revoked.has(token) || (typeof claims.exp === 'number' && claims.exp <= now)) return json(200, { active: false });
        return json(200, { active: true, token_type: 'Bearer', ...claims });
      }
      json(404, { error: 'not_found' });
    })().catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const activeKey = () => keys[keys.length - 1] as SigningKey;

  const state: TestIssuer = {
    issuer,
    hits,
    keys,
    activeKey,
    metadataOverride: null,
    openIdOnly: false,
    introspectionClient,
    async mint(options: MintOptions = {}) {
      const key = options.key ?? activeKey();
      const now = Math.floor(Date.now() / 1000);
      const claims: JWTPayload = {
        iss: issuer,
        sub: 'user-1',
        aud: testAudience,
        client_id: 'notes-app',
        scope: 'notes:read',
        iat: now,
        exp: now + (options.expiresIn ?? 300),
        jti: `jti-${Math.random().toString(36).slice(2)}`,
        ...options.claims,
      };
      for (const name of options.omit ?? []) delete claims[name];
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...options.header } as never)
        .sign(key.privateKey);
      issued.set(token, claims);
      return token;
    },
    async rotate() {
      const key = await newSigningKey(`key-${keys.length + 1}`);
      keys.push(key);
      return key;
    },
    revoke(token: string) {
      revoked.add(token);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return state;
}
