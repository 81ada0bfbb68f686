/**
 * The middleware against real tokens from a running Latchkey (authorization code + PKCE through the
 * login and consent pages, RFC 8707 resource), over real HTTP, including a key rotation under load.
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, SignJWT } from 'jose';
import { createResourceServer, type ResourceServer } from '../../src/resource/index.js';
import { registerResourceServer } from '../../src/server/admin.js';
import { authorizeOverHttp, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { parseChallenge, startFastifyNotesApi, type NotesApi } from './notes-api.js';

const audience = 'https://notes.example/api';
const otherAudience = 'https://billing.example/api';
const redirectUri = 'http://127.0.0.1:9/callback';
const user = { username: 'alice', password: 'correct horse battery staple' };

let latchkey: TestLatchkey;
let otherLatchkey: TestLatchkey;
let client: { clientId: string; clientSecret?: string };
let server: ResourceServer;
let api: NotesApi;

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

async function tokenRequest(issuer: string, body: Record<string, string>, credentials = client): Promise<Tokens> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret ?? '')}`).toString('base64')}`,
    },
    body: new URLSearchParams(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof json['access_token'] !== 'string') throw new Error(`token: ${response.status} ${JSON.stringify(json)}`);
  return { accessToken: json['access_token'], refreshToken: String(json['refresh_token']) };
}

/** RFC 6749 §4.1 + RFC 7636 + RFC 8707 through Latchkey's pages. */
async function obtainTokens(instance: TestLatchkey, credentials: typeof client, scope: string, resource: string): Promise<Tokens> {
  const verifier = base64url.encode(randomBytes(32));
  const url = new URL('/authorize', instance.issuer);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: credentials.clientId,
    redirect_uri: redirectUri,
    scope,
    state: base64url.encode(randomBytes(16)),
    code_challenge: base64url.encode(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    resource,
  }).toString();
  const callback = await authorizeOverHttp(url, user);
  const code = callback.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${callback.href}`);
  return tokenRequest(
    instance.issuer,
    { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
    credentials,
  );
}

const call = (token: string, path = '/notes', method = 'GET') =>
  fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });

async function expectInvalidToken(response: Response) {
  expect(response.status).toBe(401);
  const challenge = parseChallenge(response.headers.get('www-authenticate'));
  expect(challenge.params).toMatchObject({ realm: audience, error: 'invalid_token' });
  expect(((await response.json()) as { error: string }).error).toBe('invalid_token');
}

beforeAll(async () => {
  latchkey = await startLatchkey();
  otherLatchkey = await startLatchkey();
  for (const instance of [latchkey, otherLatchkey]) await instance.createUser(user.username, user.password);
  client = await latchkey.createClient({
    redirectUris: [redirectUri],
    scopes: ['notes:read', 'notes:write'],
    grantTypes: ['authorization_code', 'refresh_token'],
    resources: [audience, otherAudience],
  });
  server = createResourceServer({ issuer: latchkey.issuer, audience });
  api = await startFastifyNotesApi(server);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await latchkey?.close();
  await otherLatchkey?.close();
});

describe('tokens from a running Latchkey', () => {
  it('RFC 9068 §4: a valid Latchkey access token reaches the route', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const response = await call(accessToken, '/me');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ clientId: client.clientId, scope: ['notes:read'] });
  });

  it('A6 RFC 6750 §3.1: a Latchkey token without notes:write gets 403 insufficient_scope', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const response = await call(accessToken, '/notes', 'POST');
    expect(response.status).toBe(403);
    expect(parseChallenge(response.headers.get('www-authenticate')).params).toMatchObject({
      error: 'insufficient_scope',
      scope: 'notes:read notes:write',
    });
  });

  it('RFC 9068 §4: an expired Latchkey token gets 401 invalid_token', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    // The same real token, checked by a resource server whose clock is an hour ahead.
    const later = createResourceServer({ issuer: latchkey.issuer, audience, now: () => Date.now() + 3_600_000 });
    const result = await later.authenticate(new Request(`${api.url}/notes`, { headers: { authorization: `Bearer ${accessToken}` } }));
    expect(result).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token', error_description: 'The access token has expired.' } });
  });

  it('A2 RFC 8707: a Latchkey token issued for another resource gets 401 invalid_token', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', otherAudience);
    await expectInvalidToken(await call(accessToken));
  });

  it('RFC 9068 §4: a token from another Latchkey (wrong issuer) gets 401 invalid_token', async () => {
    const otherClient = await otherLatchkey.createClient({ redirectUris: [redirectUri], scopes: ['notes:read'], resources: [audience] });
    const { accessToken } = await obtainTokens(otherLatchkey, otherClient, 'notes:read', audience);
    await expectInvalidToken(await call(accessToken));
  });

  it('RFC 9068 §4: a Latchkey token with a tampered payload gets 401', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = base64url.encode(JSON.stringify({ ...claims, scope: 'notes:read notes:write' }));
    await expectInvalidToken(await call(`${header}.${forged}.${signature}`, '/notes', 'POST'));
  });

  it('RFC 9068 §4: alg none with Latchkey claims gets 401', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const payload = accessToken.split('.')[1] as string;
    const none = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
    await expectInvalidToken(await call(`${none}.${payload}.`));
  });

  it('RFC 8725 §2.1: Latchkey claims re-signed with HS256 keyed by its public key get 401', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const header = JSON.parse(Buffer.from(accessToken.split('.')[0] as string, 'base64url').toString()) as { kid: string };
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
    const jwks = (await (await fetch(`${latchkey.issuer}/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const jwk = jwks.keys.find((key) => key.kid === header.kid);
    expect(jwk).toBeDefined();
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid }).sign(new TextEncoder().encode(pem));
    await expectInvalidToken(await call(forged));
  });

  it('RFC 9068 §4: a Latchkey token naming a kid not in the JWKS gets 401', async () => {
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
    const unknownKid = base64url.encode(JSON.stringify({ ...decoded, kid: 'no-such-kid' }));
    await expectInvalidToken(await call(`${unknownKid}.${payload}.${signature}`));
  });

  it('RFC 9068 §4: Latchkey rotates its keys three times while four clients keep calling; no request fails', async () => {
    const sessions = await Promise.all(Array.from({ length: 4 }, () => obtainTokens(latchkey, client, 'notes:read', audience)));
    const statuses: number[] = [];
    const kids = new Set<string>();
    let running = true;
    const loops = sessions.map(async (session) => {
      let { refreshToken } = session;
      while (running) {
        // Each round gets a fresh access token, signed with whatever key Latchkey signs with now.
        const fresh = await tokenRequest(latchkey.issuer, { grant_type: 'refresh_token', refresh_token: refreshToken });
        refreshToken = fresh.refreshToken;
        kids.add((JSON.parse(Buffer.from(fresh.accessToken.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid);
        for (let i = 0; i < 3; i += 1) {
          const response = await call(fresh.accessToken);
          await response.arrayBuffer();
          statuses.push(response.status);
        }
      }
    });
    /** Lets the clients make `count` more calls (however slow the machine is). */
    const calls = async (count: number) => {
      const target = statuses.length + count;
      while (statuses.length < target) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await calls(12);
    for (let rotation = 0; rotation < 3; rotation += 1) {
      await latchkey.rotateKeys();
      await calls(24);
    }
    running = false;
    await Promise.all(loops);

    // Tokens signed by the first key and by each of the three rotated in were all used.
    expect(kids.size).toBe(4);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('RFC 7662 §2.2: in introspection mode, with the API\'s own registration, a token revoked at Latchkey (RFC 7009) is refused on the next request', async () => {
    // The API is registered as a resource server for its audience (`clients create
    // --resource-server`): Latchkey tells it about access tokens for that audience.
    const { client: registered, clientSecret } = await registerResourceServer(latchkey.store, { name: 'Notes API', audience });
    const introspecting = createResourceServer({
      issuer: latchkey.issuer,
      audience,
      introspection: { clientId: registered.id, clientSecret },
    });
    const { accessToken } = await obtainTokens(latchkey, client, 'notes:read', audience);
    const request = () => new Request(`${api.url}/notes`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await introspecting.authenticate(request(), { scope: ['notes:read'] })).toMatchObject({ ok: true, token: { clientId: client.clientId } });

    const revoked = await fetch(`${latchkey.issuer}/revoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token' }),
    });
    expect(revoked.status).toBe(200);
    expect(await introspecting.authenticate(request())).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    // A resource server checking signatures locally still accepts it until exp (ARCHITECTURE.md).
    expect((await call(accessToken)).status).toBe(200);
  });
});
