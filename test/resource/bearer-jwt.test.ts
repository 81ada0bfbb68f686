/**
 * The middleware against real tokens over real HTTP: a local issuer (test-issuer.ts) and a Fastify
 * API using the plugin. Each negative case asserts the RFC 6750 §3 answer: status, challenge, body.
 */
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { createResourceServer, type ResourceServer } from '../../src/resource/index.js';
import { newSigningKey, startTestIssuer, testAudience, type TestIssuer } from './test-issuer.js';
import { parseChallenge, startFastifyNotesApi, type NotesApi } from './notes-api.js';

const metadataUrl = 'https://notes.example/.well-known/oauth-protected-resource/api';

let issuer: TestIssuer;
let server: ResourceServer;
let api: NotesApi;

beforeAll(async () => {
  issuer = await startTestIssuer();
  server = createResourceServer({
    issuer: issuer.issuer,
    audience: testAudience,
    algorithms: ['ES256'],
    clockToleranceSeconds: 5,
    jwks: { refetchIntervalSeconds: 60, refetchBurst: 2 },
    metadata: { scopesSupported: ['notes:read', 'notes:write'], resourceName: 'Notes' },
  });
  api = await startFastifyNotesApi(server);
});

afterAll(async () => {
  await api?.close();
  await issuer?.close();
});

function get(path: string, token?: string, headers: Record<string, string> = {}) {
  return fetch(`${api.url}${path}`, { headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } });
}

async function expectInvalidToken(response: Response, description: RegExp) {
  expect(response.status).toBe(401);
  const challenge = parseChallenge(response.headers.get('www-authenticate'));
  expect(challenge.scheme).toBe('Bearer');
  expect(challenge.params).toMatchObject({ realm: testAudience, error: 'invalid_token', resource_metadata: metadataUrl });
  expect(challenge.params['error_description']).toMatch(description);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = (await response.json()) as { error: string; error_description: string };
  expect(body.error).toBe('invalid_token');
  expect(body.error_description).toBe(challenge.params['error_description']);
}

describe('RFC 9068 JWT access tokens through the Fastify plugin', () => {
  it('RFC 9068 §4: a valid token reaches the route, with sub, client_id and scope', async () => {
    const token = await issuer.mint({ claims: { scope: 'notes:read profile' } });
    const response = await get('/me', token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: 'user-1', clientId: 'notes-app', scope: ['notes:read', 'profile'] });
    const notes = await get('/notes', token);
    expect(notes.status).toBe(200);
    expect(await notes.json()).toEqual({ owner: 'user-1', notes: ['first note'] });
  });

  it('RFC 9068 §4: an expired token gets 401 invalid_token', async () => {
    const token = await issuer.mint({ expiresIn: -60 });
    await expectInvalidToken(await get('/notes', token), /expired/);
  });

  it('RFC 9068 §4: exp within the configured clock skew is still accepted, beyond it is not', async () => {
    expect((await get('/notes', await issuer.mint({ expiresIn: -2 }))).status).toBe(200);
    expect((await get('/notes', await issuer.mint({ expiresIn: -8 }))).status).toBe(401);
  });

  it('RFC 7519 §4.1.5: a token whose nbf is in the future gets 401 invalid_token', async () => {
    const token = await issuer.mint({ claims: { nbf: Math.floor(Date.now() / 1000) + 120 } });
    await expectInvalidToken(await get('/notes', token), /not valid yet/);
  });

  it('A2 RFC 9068 §4: a token for another audience gets 401 invalid_token', async () => {
    const token = await issuer.mint({ claims: { aud: 'https://other.example/api' } });
    await expectInvalidToken(await get('/notes', token), /not meant for this resource/);
  });

  it('A2 RFC 9068 §4: an audience array that includes this API is accepted', async () => {
    const token = await issuer.mint({ claims: { aud: ['https://other.example/api', testAudience] } });
    expect((await get('/notes', token)).status).toBe(200);
  });

  it('RFC 9068 §4: a token from another issuer (even one signed with a trusted key) gets 401', async () => {
    const token = await issuer.mint({ claims: { iss: 'http://127.0.0.1:1/impostor' } });
    await expectInvalidToken(await get('/notes', token), /expected authorization server/);
  });

  it('RFC 9068 §4: a tampered payload (signature no longer matches) gets 401', async () => {
    const token = await issuer.mint({ claims: { scope: 'notes:read' } });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
    const forged = base64url.encode(JSON.stringify({ ...claims, scope: 'notes:read notes:write admin' }));
    await expectInvalidToken(await get('/notes', `${header}.${forged}.${signature}`), /signature is not valid/);
  });

  it('RFC 9068 §4: a token signed by a key the issuer never published gets 401', async () => {
    const stranger = await newSigningKey('key-1'); // same kid as the real key, different key
    await expectInvalidToken(await get('/notes', await issuer.mint({ key: stranger })), /signature is not valid/);
  });

  it('RFC 9068 §4, RFC 8725 §3.1: alg none gets 401 invalid_token', async () => {
    const token = new UnsecuredJWT({ sub: 'user-1', client_id: 'x', scope: 'notes:read' })
      .setIssuer(issuer.issuer)
      .setAudience(testAudience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .encode();
    // RFC 6750 §2.1 b64token allows a trailing empty segment only as "…payload." — the header keeps it.
    await expectInvalidToken(await get('/notes', token), /algorithm|malformed/);
  });

  it('RFC 8725 §2.1: an HS256 token keyed with the public key (algorithm confusion) gets 401', async () => {
    const publicPem = createPublicKey({ key: issuer.activeKey().publicJwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const now = Math.floor(Date.now() / 1000);
    for (const secret of [publicPem, JSON.stringify(issuer.activeKey().publicJwk)]) {
      const token = await new SignJWT({ sub: 'user-1', client_id: 'x', scope: 'notes:read', iss: issuer.issuer, aud: testAudience, iat: now, exp: now + 300 })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.activeKey().kid })
        .sign(new TextEncoder().encode(secret));
      await expectInvalidToken(await get('/notes', token), /algorithm/);
    }
  });

  it('RFC 9068 §4: typ other than at+jwt (an ID token, say) gets 401', async () => {
    const token = await issuer.mint({ header: { typ: 'JWT' } });
    await expectInvalidToken(await get('/notes', token), /typ must be at\+jwt/);
    const withMediaType = await issuer.mint({ header: { typ: 'application/at+jwt' } });
    expect((await get('/notes', withMediaType)).status).toBe(200);
  });

  it('RFC 9068 §2.2: a token without client_id or exp gets 401', async () => {
    await expectInvalidToken(await get('/notes', await issuer.mint({ omit: ['client_id'] })), /required claim/);
    await expectInvalidToken(await get('/notes', await issuer.mint({ omit: ['exp'] })), /required claim/);
  });

  it('RFC 9068 §4: a kid not in the JWKS gets 401 after at most one refetch', async () => {
    const before = issuer.hits.get('/jwks.json') ?? 0;
    const stranger = await newSigningKey('kid-nobody-knows');
    await expectInvalidToken(await get('/notes', await issuer.mint({ key: stranger })), /key this resource does not know/);
    expect((issuer.hits.get('/jwks.json') ?? 0) - before).toBeLessThanOrEqual(1);
  });

  it('A6 RFC 6750 §3.1: a token that is not a JWT at all gets 401 invalid_token', async () => {
    await expectInvalidToken(await get('/notes', 'mF_9.B5f-4.1JqM'), /malformed/);
  });
});

describe('RFC 6750 §3 challenges', () => {
  it('RFC 6750 §3.1: no credentials gets 401 with a bare challenge (realm and resource_metadata, no error)', async () => {
    const response = await get('/notes');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${testAudience}", resource_metadata="${metadataUrl}"`);
    expect(((await response.json()) as Record<string, unknown>)['error']).toBeUndefined();
  });

  it('RFC 6750 §3.1: another authentication scheme is answered like no credentials', async () => {
    const response = await get('/notes', undefined, { authorization: 'Basic dXNlcjpwYXNz' });
    expect(response.status).toBe(401);
    expect(parseChallenge(response.headers.get('www-authenticate')).params['error']).toBeUndefined();
  });

  it.each([
    ['Bearer', 'no token'],
    ['Bearer ', 'an empty token'],
    ['Bearer a b', 'two tokens'],
    ['Bearer tok@n', 'a character outside b64token'],
    ['Bearer ab=cd', '= inside the token'],
  ])('A6 RFC 6750 §2.1: "%s" (%s) gets 400 invalid_request', async (authorization) => {
    const response = await get('/notes', undefined, { authorization });
    expect(response.status).toBe(400);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    expect(challenge.params['error']).toBe('invalid_request');
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('RFC 6750 §2.1: the scheme name is case-insensitive', async () => {
    const token = await issuer.mint();
    expect((await get('/notes', undefined, { authorization: `bEaReR ${token}` })).status).toBe(200);
  });

  it('A6 RFC 9700 §4.3.2, RFC 6750 §2.3: a valid token in the query string is refused with 400 invalid_request', async () => {
    const token = await issuer.mint();
    const response = await fetch(`${api.url}/notes?access_token=${token}`);
    expect(response.status).toBe(400);
    expect(parseChallenge(response.headers.get('www-authenticate')).params['error']).toBe('invalid_request');
  });

  it('A6 RFC 6750 §3.1: header plus query token (more than one method) gets 400 invalid_request', async () => {
    const token = await issuer.mint();
    const response = await fetch(`${api.url}/notes?access_token=${token}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('A6 RFC 6750 §3.1: a token without the needed scope gets 403 insufficient_scope naming the scope', async () => {
    const token = await issuer.mint({ claims: { scope: 'notes:read' } });
    const response = await fetch(`${api.url}/notes`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
    const challenge = parseChallenge(response.headers.get('www-authenticate'));
    expect(challenge.params).toMatchObject({
      realm: testAudience,
      error: 'insufficient_scope',
      scope: 'notes:read notes:write',
      resource_metadata: metadataUrl,
    });
    expect(((await response.json()) as { error: string }).error).toBe('insufficient_scope');

    const both = await issuer.mint({ claims: { scope: 'notes:write notes:read' } });
    expect((await fetch(`${api.url}/notes`, { method: 'POST', headers: { authorization: `Bearer ${both}` } })).status).toBe(200);
  });

  it('A6 RFC 6750 §3.1: a token with no scope claim gets 403 on a scoped route', async () => {
    const response = await get('/notes', await issuer.mint({ omit: ['scope'] }));
    expect(response.status).toBe(403);
  });
});

describe('RFC 9728 protected-resource metadata', () => {
  it('RFC 9728 §3: the API serves its metadata at the well-known path derived from its resource identifier', async () => {
    const response = await fetch(`${api.url}/.well-known/oauth-protected-resource/api`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      resource: testAudience,
      authorization_servers: [issuer.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['notes:read', 'notes:write'],
      resource_name: 'Notes',
    });
  });
});
