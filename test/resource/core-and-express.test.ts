/**
 * The framework-agnostic core over Web `Request`, and the Express adapter over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResourceServer, failureResponse, protectedResourceMetadataUrl, type ResourceServer } from '../../src/resource/index.js';
import { quote } from '../../src/resource/challenge.js';
import { startTestIssuer, testAudience, type TestIssuer } from './test-issuer.js';
import { parseChallenge, startExpressNotesApi, type NotesApi } from './notes-api.js';

let issuer: TestIssuer;
let server: ResourceServer;
let api: NotesApi;

beforeAll(async () => {
  issuer = await startTestIssuer();
  server = createResourceServer({ issuer: issuer.issuer, audience: testAudience });
  api = await startExpressNotesApi(server);
});

afterAll(async () => {
  await api?.close();
  await issuer?.close();
});

describe('core over Web Request', () => {
  it('A6 RFC 6750 §2.2: a form-body access_token is never used; the request gets 400 invalid_request', async () => {
    const token = await issuer.mint();
    const request = new Request('https://notes.example/api/notes', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: token, title: 'x' }),
    });
    const result = await server.authenticate(request);
    expect(result).toMatchObject({ ok: false, status: 400, body: { error: 'invalid_request' } });
    // The request body is still there for the application.
    expect(await request.text()).toContain('title=x');
  });

  it('RFC 6750 §3: realm values with a quote or backslash are escaped in the challenge', async () => {
    const quirky = createResourceServer({ issuer: issuer.issuer, audience: testAudience, realm: 'notes "v2" \\ api' });
    const result = await quirky.authenticate(new Request('https://notes.example/api/notes'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.wwwAuthenticate).toBe(
      `Bearer realm="notes \\"v2\\" \\\\ api", resource_metadata="https://notes.example/.well-known/oauth-protected-resource/api"`,
    );
    expect(parseChallenge(result.wwwAuthenticate).params['realm']).toBe('notes "v2" \\ api');
  });

  it('RFC 6750 §3: failureResponse() turns a failure into a Web Response with the challenge', async () => {
    const result = await server.authenticate(new Request('https://notes.example/api/notes', { headers: { authorization: 'Bearer not.a.jwt' } }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const response = failureResponse(result);
    expect(response.status).toBe(401);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(parseChallenge(response.headers.get('www-authenticate')).params['error']).toBe('invalid_token');
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('RFC 7235 §2.1: quote() escapes " and \\ and drops control characters', () => {
    expect(quote('a"b\\c\r\nd')).toBe('"a\\"b\\\\cd"');
  });

  it('RFC 9728 §3.1: the metadata URL puts the well-known suffix between host and path', () => {
    expect(protectedResourceMetadataUrl('https://api.example/notes/')).toBe('https://api.example/.well-known/oauth-protected-resource/notes');
    expect(protectedResourceMetadataUrl('https://api.example')).toBe('https://api.example/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataUrl('urn:example:notes')).toBeNull();
  });

  it('a non-URL audience publishes no metadata and leaves resource_metadata out of the challenge', async () => {
    const urnServer = createResourceServer({ issuer: issuer.issuer, audience: 'urn:example:notes' });
    expect(urnServer.resourceMetadataPath).toBeNull();
    const result = await urnServer.authenticate(new Request('https://notes.example/x'));
    expect(!result.ok && result.wwwAuthenticate).toBe('Bearer realm="urn:example:notes"');
  });

  it('RFC 9068 §4, RFC 8725 §3.1: HS* and none cannot be configured as accepted algorithms', () => {
    for (const algorithms of [['HS256'], ['ES256', 'none'], []]) {
      expect(() => createResourceServer({ issuer: issuer.issuer, audience: testAudience, algorithms })).toThrow(TypeError);
    }
  });
});

describe('Express middleware', () => {
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api.url}${path}`, { headers });

  it('RFC 9068 §4: a valid token reaches the route', async () => {
    const response = await get('/notes', { authorization: `Bearer ${await issuer.mint()}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ owner: 'user-1', notes: ['first note'] });
  });

  it('RFC 6750 §3.1: no token gets 401 with a bare challenge', async () => {
    const response = await get('/me');
    expect(response.status).toBe(401);
    expect(parseChallenge(response.headers.get('www-authenticate')).params).toEqual({
      realm: testAudience,
      resource_metadata: 'https://notes.example/.well-known/oauth-protected-resource/api',
    });
  });

  it('A6 RFC 6750 §3.1: an expired token gets 401 invalid_token', async () => {
    const response = await get('/notes', { authorization: `Bearer ${await issuer.mint({ expiresIn: -600 })}` });
    expect(response.status).toBe(401);
    expect(parseChallenge(response.headers.get('www-authenticate')).params['error']).toBe('invalid_token');
  });

  it('A6 RFC 6750 §3.1: missing scope gets 403 insufficient_scope with scope', async () => {
    const response = await fetch(`${api.url}/notes`, { method: 'POST', headers: { authorization: `Bearer ${await issuer.mint()}` } });
    expect(response.status).toBe(403);
    expect(parseChallenge(response.headers.get('www-authenticate')).params).toMatchObject({
      error: 'insufficient_scope',
      scope: 'notes:read notes:write',
    });
  });

  it('A6 RFC 6750 §2.2: a token in a form body (parsed by express.urlencoded) gets 400 invalid_request', async () => {
    const response = await fetch(`${api.url}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: await issuer.mint({ claims: { scope: 'notes:read notes:write' } }) }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('A6 RFC 9700 §4.3.2: a token in the query string gets 400 invalid_request', async () => {
    const response = await get(`/notes?access_token=${await issuer.mint()}`);
    expect(response.status).toBe(400);
  });

  it('RFC 9728 §3.2: serves the protected-resource metadata', async () => {
    const response = await get('/.well-known/oauth-protected-resource/api');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ resource: testAudience, authorization_servers: [issuer.issuer] });
  });
});
