/**
 * RFC 7662 mode against the local issuer's real /introspect endpoint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createResourceServer, type ResourceServerOptions } from '../../src/resource/index.js';
import { startTestIssuer, testAudience } from './test-issuer.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function setUp(introspection: Partial<NonNullable<ResourceServerOptions['introspection']>> = {}, now?: () => number) {
  const issuer = await startTestIssuer();
  cleanup.push(() => issuer.close());
  const server = createResourceServer({
    issuer: issuer.issuer,
    audience: testAudience,
    introspection: { ...issuer.introspectionClient, ...introspection },
    ...(now ? { now } : {}),
  });
  const request = (token: string) => new Request('https://notes.example/api/notes', { headers: { authorization: `Bearer ${token}` } });
  return { issuer, server, request };
}

describe('RFC 7662 introspection mode', () => {
  it('RFC 7662 §2.2: an active token is accepted, with the claims the issuer reports', async () => {
    const { issuer, server, request } = await setUp();
    const result = await server.authenticate(request(await issuer.mint({ claims: { scope: 'notes:read notes:write' } })), {
      scope: ['notes:write'],
    });
    expect(result).toMatchObject({ ok: true, token: { sub: 'user-1', clientId: 'notes-app', scope: ['notes:read', 'notes:write'] } });
    expect(issuer.hits.get('/introspect')).toBe(1);
    // Introspection mode never needs the keys.
    expect(issuer.hits.get('/jwks.json')).toBeUndefined();
  });

  it('RFC 7662 §2.2: a revoked token is refused on the very next request when caching is off', async () => {
    const { issuer, server, request } = await setUp();
    const token = await issuer.mint();
    expect((await server.authenticate(request(token))).ok).toBe(true);
    issuer.revoke(token);
    const result = await server.authenticate(request(token));
    expect(result).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
  });

  it('RFC 7662 §4: a cached answer is reused, but never past the token exp', async () => {
    let clock = Date.now();
    const { issuer, server, request } = await setUp({ cacheSeconds: 60 }, () => clock);
    const token = await issuer.mint({ expiresIn: 20 });
    for (let i = 0; i < 5; i += 1) expect((await server.authenticate(request(token))).ok).toBe(true);
    expect(server.stats().introspectionCalls).toBe(1);

    issuer.revoke(token);
    clock += 10_000; // inside the cache and before exp: the cached answer still holds
    expect((await server.authenticate(request(token))).ok).toBe(true);
    expect(server.stats().introspectionCalls).toBe(1);

    clock += 15_000; // past exp (20 s) but inside cacheSeconds (60 s): the cache entry is gone
    const result = await server.authenticate(request(token));
    expect(result.ok).toBe(false);
    expect(server.stats().introspectionCalls).toBe(2);
  });

  it('concurrent requests with the same token share one introspection call', async () => {
    const { issuer, server, request } = await setUp({ cacheSeconds: 5 });
    const token = await issuer.mint();
    const results = await Promise.all(Array.from({ length: 10 }, () => server.authenticate(request(token))));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(issuer.hits.get('/introspect')).toBe(1);
  });

  it('A2 RFC 9700 §2.3: an active token for another audience is refused', async () => {
    const { issuer, server, request } = await setUp();
    const result = await server.authenticate(request(await issuer.mint({ claims: { aud: 'https://other.example' } })));
    expect(result).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    if (!result.ok) expect(result.detail).toBe('introspection: aud');
  });

  it('RFC 7662 §2.1: wrong client credentials make tokens uncheckable (503), not invalid', async () => {
    const { issuer, server, request } = await setUp({ clientSecret: 'wrong' });
    const result = await server.authenticate(request(await issuer.mint()));
    expect(result).toMatchObject({ ok: false, status: 503, wwwAuthenticate: null });
  });
});
