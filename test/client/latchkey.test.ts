/**
 * Interop with a running Latchkey (real HTTP, real SQLite): sign-in with every client
 * authentication method, refresh, revocation, the callback attacks, single-flight refresh and
 * the BFF adapter. The user comes from Latchkey's RFC 9068 JWT access token (defaultResolveUser).
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKey } from '../../src/server/core/token-keys.js';
import type { ClientAuthMethod, OAuthClientConfig } from '../../src/client/index.js';
import { CallbackValidationError, latchkeyFastify, MemorySessionStore, NotSignedInError, OAuthClient, RedisSessionStore } from '../../src/client/index.js';
import { createResourceServer, fastifyRequireScope, fastifyResourceServer } from '../../src/resource/index.js';
import { authorizeOverHttp, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { TestBrowser } from './helpers/browser.js';
import { startLateServer } from './helpers/late-server.js';
import { startRedis } from './helpers/redis.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const API = 'https://api.notes.example';
const ALICE = { username: 'alice', password: 'correct horse battery staple' };

let lk: TestLatchkey;
let confidential: { clientId: string; clientSecret?: string };
let publicClient: { clientId: string };

beforeAll(async () => {
  lk = await startLatchkey();
  await lk.createUser(ALICE.username, ALICE.password);
  confidential = await lk.createClient({ redirectUris: [REDIRECT_URI], grantTypes: ['authorization_code', 'refresh_token'], resources: [API] });
  publicClient = await lk.createClient({ redirectUris: [REDIRECT_URI], public: true, grantTypes: ['authorization_code', 'refresh_token'] });
});
afterAll(async () => {
  await lk.close();
});

function latchkeyClient(method: ClientAuthMethod, extra: Partial<OAuthClientConfig> = {}) {
  let clock = Date.now();
  const store = new MemorySessionStore({ now: () => clock });
  const registration = method === 'none' ? publicClient : confidential;
  const client = new OAuthClient({
    issuer: lk.issuer,
    clientId: registration.clientId,
    clientSecret: method === 'none' ? undefined : confidential.clientSecret,
    clientAuthMethod: method,
    redirectUri: REDIRECT_URI,
    scope: 'notes:read profile',
    store,
    now: () => clock,
    ...extra,
  });
  return { client, store, advance: (ms: number) => (clock += ms) };
}

async function signIn(client: OAuthClient) {
  const started = await client.startAuthorization();
  return client.handleCallback(started.sessionId, await authorizeOverHttp(started.url, ALICE));
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('interop with Latchkey', () => {
  it.each<ClientAuthMethod>(['client_secret_basic', 'client_secret_post', 'none'])(
    'RFC 6749 §4.1 + RFC 7636: sign-in, refresh and RFC 7009 revocation with %s',
    async (method) => {
      const { client, store, advance } = latchkeyClient(method);
      expect((await client.metadata()).authorization_response_iss_parameter_supported).toBe(true);
      const { sessionId, user } = await signIn(client);
      const first = await client.getAccessToken(sessionId);
      const claims = claimsOf(first);
      expect(user.sub).toBe(claims.sub);
      expect(user.scope).toEqual(['notes:read', 'profile']);
      expect(claims.client_id).toBe(method === 'none' ? publicClient.clientId : confidential.clientId);

      advance(3_600_000);
      const second = await client.getAccessToken(sessionId);
      expect(second).not.toBe(first);
      expect(claimsOf(second).sub).toBe(claims.sub);

      const refreshToken = store.entries()[0]![1].tokens!.refreshToken!;
      expect(await client.signOut(sessionId)).toEqual({ revoked: true });
      // The server agrees: the refresh token no longer works.
      const record = await lk.store.findRefreshToken(storageKey(refreshToken));
      const grant = await lk.store.findGrant(record!.grantId);
      expect(grant?.revokedAt).not.toBeNull();
    },
  );

  it('two application instances sharing a Redis session store serve one sign-in, refresh and sign-out', async () => {
    const redis = await startRedis();
    try {
      let clock = Date.now();
      const instance = () =>
        new OAuthClient({
          issuer: lk.issuer,
          clientId: confidential.clientId,
          clientSecret: confidential.clientSecret,
          redirectUri: REDIRECT_URI,
          scope: 'notes:read',
          store: new RedisSessionStore({ command: redis.command }),
          now: () => clock,
        });
      const [a, b] = [instance(), instance()];
      const started = await a.startAuthorization();
      const callback = await authorizeOverHttp(started.url, ALICE);
      const { sessionId } = await b.handleCallback(started.sessionId, callback);
      const token = await a.getAccessToken(sessionId);
      expect(await b.getAccessToken(sessionId)).toBe(token);
      clock += 3_600_000;
      const refreshed = await b.getAccessToken(sessionId);
      expect(refreshed).not.toBe(token);
      expect(await a.getAccessToken(sessionId)).toBe(refreshed);
      expect((await a.signOut(sessionId)).revoked).toBe(true);
      expect(await b.getUser(sessionId)).toBeUndefined();
    } finally {
      await redis.close();
    }
  });

  it('RFC 8707 §2: the configured resource becomes the access token audience', async () => {
    const { client } = latchkeyClient('client_secret_basic', { resource: API });
    const { sessionId } = await signIn(client);
    expect(claimsOf(await client.getAccessToken(sessionId)).aud).toBe(API);
  });

  it('RFC 6749 §10.12: a forged state is refused', async () => {
    const { client } = latchkeyClient('none');
    const started = await client.startAuthorization();
    const callback = await authorizeOverHttp(started.url, ALICE);
    callback.searchParams.set('state', 'forged');
    expect(await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e)).toMatchObject({ name: 'CallbackValidationError', code: 'state_mismatch' });
  });

  it('M1 RFC 9207 §2.4: a foreign iss, or none, is refused', async () => {
    const { client } = latchkeyClient('none');
    for (const change of [(u: URL) => u.searchParams.set('iss', 'https://evil.example'), (u: URL) => u.searchParams.delete('iss')]) {
      const started = await client.startAuthorization();
      const callback = await authorizeOverHttp(started.url, ALICE);
      change(callback);
      const error = await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CallbackValidationError);
      expect(['iss_mismatch', 'iss_missing']).toContain((error as CallbackValidationError).code);
    }
  });

  it('RFC 6749 §4.1.2: a replayed callback is refused', async () => {
    const { client } = latchkeyClient('none');
    const started = await client.startAuthorization();
    const callback = await authorizeOverHttp(started.url, ALICE);
    await client.handleCallback(started.sessionId, callback);
    expect(await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e)).toMatchObject({ code: 'no_pending_authorization' });
  });

  it('RFC 6749 §4.1.2.1: a denied consent becomes AuthorizationResponseError access_denied', async () => {
    // A client alice has never consented to, so the consent page is shown.
    const fresh = await lk.createClient({ redirectUris: [REDIRECT_URI], public: true });
    const { client } = latchkeyClient('none', { clientId: fresh.clientId });
    const started = await client.startAuthorization();
    const callback = await authorizeOverHttp(started.url, ALICE, { approve: false });
    expect(await client.handleCallback(started.sessionId, callback).catch((e: unknown) => e)).toMatchObject({ name: 'AuthorizationResponseError', error: 'access_denied' });
  });

  it('RFC 6749 §6: 50 concurrent calls on an expired token make exactly one refresh at Latchkey', async () => {
    const { client, advance } = latchkeyClient('client_secret_basic');
    const { sessionId } = await signIn(client);
    const rotate = lk.store.rotateRefreshToken.bind(lk.store);
    let rotations = 0;
    lk.store.rotateRefreshToken = (...args) => {
      rotations++;
      return rotate(...args);
    };
    try {
      advance(3_600_000);
      const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getAccessToken(sessionId)));
      expect(rotations).toBe(1);
      expect(new Set(tokens).size).toBe(1);
    } finally {
      lk.store.rotateRefreshToken = rotate;
    }
  });

  it('RFC 6749 §5.2: a grant revoked at Latchkey signs the session out at the next refresh', async () => {
    const { client, store, advance } = latchkeyClient('client_secret_post');
    const { sessionId } = await signIn(client);
    const record = await lk.store.findRefreshToken(storageKey(store.entries()[0]![1].tokens!.refreshToken!));
    await lk.store.revokeGrant(record!.grantId, Date.now());
    advance(3_600_000);
    const error = await client.getAccessToken(sessionId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotSignedInError);
    expect((error as NotSignedInError).reason).toBe('grant_revoked');
    expect(store.size).toBe(0);
  });

  it('BFF: a full sign-in through the Fastify plugin shows the browser no token', async () => {
    const app = await startLateServer();
    const registration = await lk.createClient({ redirectUris: [`${app.url}/callback`], grantTypes: ['authorization_code', 'refresh_token'] });
    const store = new MemorySessionStore();
    const client = new OAuthClient({ issuer: lk.issuer, clientId: registration.clientId, clientSecret: registration.clientSecret, redirectUri: `${app.url}/callback`, scope: 'notes:read', store });
    const fastify = Fastify();
    await fastify.register(latchkeyFastify, { client });
    fastify.get('/me', async (request) => ({ user: request.latchkey.user ?? null, hasToken: request.latchkey.user ? (await request.latchkey.getAccessToken()).length > 0 : false }));
    await fastify.ready();
    app.setHandler((req, res) => fastify.routing(req, res));
    try {
      const browser = new TestBrowser();
      const login = await browser.request(`${app.url}/login?returnTo=/me`);
      const callback = await authorizeOverHttp(login.headers.find(([k]) => k === 'location')![1], ALICE);
      const landed = await browser.request(callback);
      expect(landed.status).toBe(303);
      const me = JSON.parse((await browser.request(`${app.url}/me`)).body) as { user: { sub: string }; hasToken: boolean };
      expect(me.hasToken).toBe(true);
      const tokens = store.entries().flatMap(([, s]) => (s.tokens ? [s.tokens.accessToken, s.tokens.refreshToken!] : []));
      expect(tokens).toHaveLength(2);
      expect(me.user.sub).toBe(claimsOf(tokens[0]!).sub);
      await browser.request(`${app.url}/logout`, { method: 'POST', form: {} });
      const everything = browser.log.map((r) => JSON.stringify(r)).join('\n');
      for (const token of tokens) expect(everything).not.toContain(token);
    } finally {
      await fastify.close();
      await app.close();
    }
  });

  it('end to end: browser → BFF → Latchkey → protected API (latchkey/resource), across a key rotation and a sign-out', async () => {
    const api = Fastify();
    const resourceServer = createResourceServer({ issuer: lk.issuer, audience: API });
    await api.register(fastifyResourceServer, { server: resourceServer });
    api.get('/notes', { preHandler: fastifyRequireScope(resourceServer, 'notes:read') }, async (request) => ({ owner: request.latchkeyToken?.sub }));
    const apiUrl = await api.listen({ port: 0, host: '127.0.0.1' });

    const app = await startLateServer();
    const registration = await lk.createClient({ redirectUris: [`${app.url}/callback`], grantTypes: ['authorization_code', 'refresh_token'], resources: [API] });
    let clock = Date.now();
    const client = new OAuthClient({
      issuer: lk.issuer,
      clientId: registration.clientId,
      clientSecret: registration.clientSecret,
      redirectUri: `${app.url}/callback`,
      scope: 'notes:read',
      resource: API,
      store: new MemorySessionStore({ now: () => clock }),
      now: () => clock,
    });
    const bff = Fastify();
    await bff.register(latchkeyFastify, { client });
    bff.get('/notes', async (request, reply) => {
      try {
        const response = await request.latchkey.fetch(`${apiUrl}/notes`);
        return reply.code(response.status).send(await response.json());
      } catch (error) {
        if (error instanceof NotSignedInError) return reply.code(401).send({ signIn: '/login' });
        throw error;
      }
    });
    await bff.ready();
    app.setHandler((req, res) => bff.routing(req, res));
    try {
      const browser = new TestBrowser();
      const login = await browser.request(`${app.url}/login?returnTo=/notes`);
      await browser.request(await authorizeOverHttp(login.headers.find(([k]) => k === 'location')![1], ALICE));
      const first = await browser.request(`${app.url}/notes`);
      expect(first.status).toBe(200);
      const owner = (JSON.parse(first.body) as { owner: string }).owner;
      expect(owner).toMatch(/.+/);

      // New signing key at Latchkey; the next (refreshed) token is signed with it.
      await lk.rotateKeys();
      clock += 3_600_000;
      const second = await browser.request(`${app.url}/notes`);
      expect(second.status).toBe(200);
      expect(JSON.parse(second.body)).toEqual({ owner });

      await browser.request(`${app.url}/logout`, { method: 'POST', form: {} });
      expect((await browser.request(`${app.url}/notes`)).status).toBe(401);
    } finally {
      await bff.close();
      await app.close();
      await api.close();
    }
  });
});
