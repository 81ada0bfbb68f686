/**
 * The JWKS cache under key rotation and under a flood of made-up kids, over real HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createResourceServer, type ResourceServerOptions } from '../../src/resource/index.js';
import { newSigningKey, startTestIssuer, testAudience, type TestIssuer } from './test-issuer.js';
import { startFastifyNotesApi, type NotesApi } from './notes-api.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function setUp(options: Partial<ResourceServerOptions> = {}) {
  const issuer = await startTestIssuer();
  cleanup.push(() => issuer.close());
  const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience, ...options });
  const api = await startFastifyNotesApi(server);
  cleanup.push(() => api.close());
  return { issuer, server, api };
}

const jwksHits = (issuer: TestIssuer) => issuer.hits.get('/jwks.json') ?? 0;
const call = (api: NotesApi, token: string) =>
  fetch(`${api.url}/notes`, { headers: { authorization: `Bearer ${token}` } }).then(async (response) => {
    await response.arrayBuffer();
    return response.status;
  });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JWKS cache: key rotation', () => {
  it('RFC 9068 §4: the issuer rotates keys three times while clients keep calling; no request fails', async () => {
    const { issuer, server, api } = await setUp();
    // Warm: the first request loads the keys. Every rotation below happens well inside what jose's
    // createRemoteJWKSet would treat as its 30 s cooldown.
    expect(await call(api, await issuer.mint())).toBe(200);

    const statuses: number[] = [];
    const perKid = new Map<string, number>();
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        // Each client mints with whatever key is active right now, as a real issuer would.
        const kid = issuer.activeKey().kid;
        statuses.push(await call(api, await issuer.mint()));
        perKid.set(kid, (perKid.get(kid) ?? 0) + 1);
      }
    });
    /** Lets the clients make `count` more calls (however slow the machine is). */
    const calls = async (count: number) => {
      const target = statuses.length + count;
      while (statuses.length < target) await sleep(5);
    };
    await calls(10);
    const oldToken = await issuer.mint();
    for (let rotation = 0; rotation < 3; rotation += 1) {
      await issuer.rotate();
      await calls(15);
    }
    running = false;
    await Promise.all(clients);

    // Every key, the first and the three rotated in, signed tokens that the API was called with.
    expect([...perKid.keys()].sort()).toEqual(['key-1', 'key-2', 'key-3', 'key-4']);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // A token signed before the rotations stays valid: the old key is still published.
    expect(await call(api, oldToken)).toBe(200);
    // One initial load plus at most one refetch per rotation.
    expect(jwksHits(issuer)).toBeLessThanOrEqual(4);
    expect(server.stats().jwks.refusedRefetches).toBe(0);
  });

  it('the JWKS is not fetched per request once cached', async () => {
    const { issuer, api } = await setUp();
    const token = await issuer.mint();
    for (let i = 0; i < 20; i += 1) expect(await call(api, token)).toBe(200);
    expect(jwksHits(issuer)).toBe(1);
    expect(issuer.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
  });

  it('a stale key set is refreshed in the background, and kept when the issuer is down', async () => {
    const { issuer, api } = await setUp({ jwks: { maxAgeSeconds: 0.1, refetchIntervalSeconds: 0.1 } });
    const token = await issuer.mint();
    expect(await call(api, token)).toBe(200);
    await sleep(150);
    expect(await call(api, token)).toBe(200);
    await sleep(50);
    expect(jwksHits(issuer)).toBe(2);
    await issuer.close();
    await sleep(150);
    // The refresh fails (connection refused); verification goes on with the cached keys.
    expect(await call(api, token)).toBe(200);
    expect(await call(api, token)).toBe(200);
  });
});

describe('JWKS cache: a flood of unknown kids', () => {
  it('RFC 9068 §4: 600 tokens with made-up kids cost the issuer at most one fetch per interval after the burst', async () => {
    const intervalMs = 200;
    const { issuer, api } = await setUp({ jwks: { refetchIntervalSeconds: intervalMs / 1000, refetchBurst: 3 } });
    expect(await call(api, await issuer.mint())).toBe(200);
    const bogus = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => issuer.mint({ key: await newSigningKey(`bogus-${i}`) })),
    );
    const started = Date.now();
    const statuses: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      statuses.push(...(await Promise.all(bogus.map((token) => call(api, token)))));
    }
    const elapsed = Date.now() - started;
    expect(statuses).toHaveLength(600);
    expect(statuses.every((status) => status === 401)).toBe(true);
    // One initial load, the burst of 3, then at most one per interval of the flood's duration.
    expect(jwksHits(issuer)).toBeLessThanOrEqual(1 + 3 + Math.ceil(elapsed / intervalMs));
  });

  it('RFC 9068 §4: a rotation in the middle of a kid flood still fails no legitimate request', async () => {
    const { issuer, server, api } = await setUp({ jwks: { refetchIntervalSeconds: 0.3, refetchBurst: 2 } });
    expect(await call(api, await issuer.mint())).toBe(200);
    let flooding = true;
    const flood = (async () => {
      let i = 0;
      while (flooding) {
        const batch = await Promise.all(
          Array.from({ length: 10 }, async () => issuer.mint({ key: await newSigningKey(`flood-${(i += 1)}`) })),
        );
        await Promise.all(batch.map((token) => call(api, token)));
      }
    })();
    const started = Date.now();
    await sleep(300); // the burst is long spent by now
    const legit: number[] = [];
    for (let rotation = 0; rotation < 2; rotation += 1) {
      await issuer.rotate();
      for (let i = 0; i < 5; i += 1) legit.push(await call(api, await issuer.mint()));
      await sleep(100);
    }
    flooding = false;
    await flood;
    expect(legit).toEqual(Array(10).fill(200));
    // The initial load, the burst of 2, then at most one per 0.3 s interval.
    expect(server.stats().jwks.fetches).toBeLessThanOrEqual(1 + 2 + Math.ceil((Date.now() - started) / 300));
  });

  it('a token that could not be valid here anyway (another issuer) never causes a refetch', async () => {
    const { issuer, server, api } = await setUp();
    expect(await call(api, await issuer.mint())).toBe(200);
    for (let i = 0; i < 20; i += 1) {
      const token = await issuer.mint({ key: await newSigningKey(`other-${i}`), claims: { iss: 'https://elsewhere.example' } });
      expect(await call(api, token)).toBe(401);
    }
    expect(jwksHits(issuer)).toBe(1);
    expect(server.stats().jwks.refusedRefetches).toBe(20);
  });
});

describe('discovery (RFC 8414)', () => {
  it('RFC 8414 §3: falls back to OpenID Connect Discovery when the RFC 8414 document is missing', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    issuer.openIdOnly = true;
    const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience });
    const token = await issuer.mint();
    const result = await server.authenticate(new Request('http://api.test/notes', { headers: { authorization: `Bearer ${token}` } }));
    expect(result.ok).toBe(true);
    expect(issuer.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
    expect(issuer.hits.get('/.well-known/openid-configuration')).toBe(1);
  });

  it('RFC 8414 §3.3: metadata naming another issuer is not used; tokens are not accepted (503)', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    issuer.metadataOverride = { issuer: 'https://impostor.example', jwks_uri: `${issuer.issuer}/jwks.json` };
    const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience });
    const result = await server.authenticate(
      new Request('http://api.test/notes', { headers: { authorization: `Bearer ${await issuer.mint()}` } }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(503);
    expect(result.detail).toMatch(/impostor/);
    expect(jwksHitsOf(issuer)).toBe(0);
    await expect(server.ready()).rejects.toThrow(/impostor/);
  });

  it('ready() discovers and loads the keys before the first request', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience });
    await server.ready();
    expect(jwksHitsOf(issuer)).toBe(1);
  });
});

function jwksHitsOf(issuer: TestIssuer): number {
  return issuer.hits.get('/jwks.json') ?? 0;
}

describe('verified-token cache', () => {
  it('a token reused by its client is verified once; exp is still checked on every request', async () => {
    let clock = Date.now();
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience, clockToleranceSeconds: 0, now: () => clock });
    const token = await issuer.mint({ expiresIn: 60 });
    const request = () => new Request('https://notes.example/api/notes', { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i += 1) expect((await server.authenticate(request())).ok).toBe(true);
    expect(server.stats().verifiedTokens).toBe(1);
    clock += 61_000;
    expect(await server.authenticate(request())).toMatchObject({ ok: false, status: 401, body: { error_description: 'The access token has expired.' } });
  });

  it('a key the issuer withdraws stops vouching for tokens it signed, even ones verified before', async () => {
    const { issuer, server, api } = await setUp({ jwks: { maxAgeSeconds: 0.1 } });
    const token = await issuer.mint();
    expect(await call(api, token)).toBe(200);
    expect(server.stats().verifiedTokens).toBe(1);
    await issuer.rotate();
    issuer.keys.splice(0, 1); // key-1 leaves the JWKS
    await sleep(150);
    const statuses: number[] = [];
    for (let i = 0; i < 10 && statuses.at(-1) !== 401; i += 1) {
      statuses.push(await call(api, token));
      await sleep(20);
    }
    expect(statuses.at(-1)).toBe(401);
    expect(await call(api, await issuer.mint())).toBe(200);
  });

  it('verifiedTokenCache: false verifies every request in full', async () => {
    const issuer = await startTestIssuer();
    cleanup.push(() => issuer.close());
    const server = createResourceServer({ issuer: issuer.issuer, audience: testAudience, verifiedTokenCache: false });
    const token = await issuer.mint();
    const request = () => new Request('https://notes.example/api/notes', { headers: { authorization: `Bearer ${token}` } });
    expect((await server.authenticate(request())).ok).toBe(true);
    expect((await server.authenticate(request())).ok).toBe(true);
    expect(server.stats().verifiedTokens).toBe(0);
  });
});
