/**
 * The Store contract: one suite every adapter runs (test/store/<adapter>.test.ts), so SQLite,
 * PostgreSQL and memory cannot drift apart. Each test is named after the rule it proves; the
 * rules are the doc comments on the Store port (src/server/core/ports.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AuthorizationRequest,
  ClientRecord,
  GrantRecord,
  InteractionRecord,
  KeyRecord,
  RefreshTokenRecord,
  SessionRecord,
  Store,
  UserRecord,
} from '../../src/server/core/ports.js';
import { StoreConflictError } from '../../src/server/core/ports.js';
import { CODE_TTL_LIMIT_MS, EVENT_RETENTION_MS, GRANT_AFTER_EXPIRY_MS } from '../../src/server/store/retention.js';

/** The tables every adapter keeps (memory keeps maps of the same names). */
export type StoreTable =
  | 'clients'
  | 'users'
  | 'sessions'
  | 'interactions'
  | 'consents'
  | 'consent_revocations'
  | 'grants'
  | 'refresh_tokens'
  | 'revoked_access_tokens'
  | 'keys'
  | 'secrets'
  | 'events'
  | 'rate_limits';

export interface OpenedStore {
  /** An empty, migrated store. */
  store: Store;
  /** Row count of one table, read behind the port: proves what a call did NOT write. */
  rows(table: StoreTable): Promise<number>;
  close(): Promise<void>;
}

export const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 3600 * 1000;

export function clientRecord(id: string, overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id,
    name: `Client ${id}`,
    secretHash: `secret-hash-${id}`,
    redirectUris: [`https://${id}.example/callback`, 'http://127.0.0.1/cb'],
    scopes: ['openid', 'profile', 'offline_access'],
    grantTypes: ['authorization_code', 'refresh_token'],
    resources: ['https://api.example/'],
    createdAt: T0,
    ...overrides,
  };
}

export function userRecord(id: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return { id, username: `name-${id}`, passwordHash: `$argon2id$hash-of-${id}`, createdAt: T0, ...overrides };
}

export function grantRecord(id: string, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id,
    clientId: 'c1',
    userId: 'u1',
    scope: ['openid', 'offline_access'],
    resource: 'https://api.example/',
    authTime: T0 - MINUTE,
    createdAt: T0,
    expiresAt: T0 + 30 * DAY,
    revokedAt: null,
    ...overrides,
  };
}

export function refreshRecord(hash: string, grantId: string, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return { hash, grantId, clientId: 'c1', createdAt: T0, expiresAt: T0 + 14 * DAY, rotatedAt: null, ...overrides };
}

function sessionRecord(idHash: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return { idHash, userId: 'u1', authTime: T0, createdAt: T0, expiresAt: T0 + 8 * 3600 * 1000, ...overrides };
}

function authorizationRequest(clientId: string): AuthorizationRequest {
  return {
    clientId,
    redirectUri: `https://${clientId}.example/callback`,
    redirectUriExplicit: false,
    scope: ['openid', 'profile'],
    state: null,
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    resource: null,
    prompt: ['login', 'consent'],
  };
}

function interactionRecord(id: string, overrides: Partial<InteractionRecord> = {}): InteractionRecord {
  const clientId = overrides.clientId ?? 'c1';
  return { id, clientId, request: authorizationRequest(clientId), createdAt: T0, expiresAt: T0 + 10 * MINUTE, ...overrides };
}

function keyRecord(kid: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    kid,
    alg: 'ES256',
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid }),
    privateJwkEncrypted: `encrypted-${kid}`,
    createdAt: T0,
    activatesAt: T0 + MINUTE,
    retiresAt: null,
    expiresAt: null,
    ...overrides,
  };
}

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;
    const rows = (table: StoreTable) => opened!.rows(table);

    /** Redeems a code issued at T0 into `grant` (creating its user first, as a code always has one). */
    async function redeemed(grant: GrantRecord, refresh: RefreshTokenRecord | null = null): Promise<void> {
      if (!(await store.findUserById(grant.userId))) await store.createUser(userRecord(grant.userId));
      expect(await store.redeemCode(grant, refresh, T0)).toBe(true);
    }

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });

    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    describe('clients', () => {
      it('stores a client and returns it field for field', async () => {
        const confidential = clientRecord('c1');
        const publicClient = clientRecord('c2', { secretHash: null, resources: [], grantTypes: ['authorization_code'], createdAt: T0 + 1 });
        await store.createClient(confidential);
        await store.createClient(publicClient);
        expect(await store.findClient('c1')).toEqual(confidential);
        expect(await store.findClient('c2')).toEqual(publicClient);
        expect(await store.findClient('nope')).toBeUndefined();
        expect(await store.listClients()).toEqual([confidential, publicClient]);
      });

      it('refuses a second client with the same id (StoreConflictError)', async () => {
        await store.createClient(clientRecord('c1'));
        await expect(store.createClient(clientRecord('c1', { name: 'other' }))).rejects.toBeInstanceOf(StoreConflictError);
        expect((await store.findClient('c1'))?.name).toBe('Client c1');
      });

      it('returns copies: changing a returned record does not change the stored one', async () => {
        await store.createClient(clientRecord('c1'));
        const found = (await store.findClient('c1'))!;
        found.redirectUris.push('https://evil.example/');
        found.name = 'changed';
        expect(await store.findClient('c1')).toEqual(clientRecord('c1'));
      });

      it('deleteClient removes its grants, refresh tokens, consents, consent revocations and interactions, and leaves other clients alone', async () => {
        await store.createUser(userRecord('u1'));
        for (const c of ['c1', 'c2']) {
          await store.createClient(clientRecord(c));
          await redeemed(grantRecord(`g-${c}`, { clientId: c }), refreshRecord(`rt-${c}`, `g-${c}`, { clientId: c }));
          await store.revokeConsent('u1', c, T0 - 1);
          await store.saveConsent({ userId: 'u1', clientId: c, scope: ['openid'], grantedAt: T0 });
          await store.createInteraction(interactionRecord(`i-${c}`, { clientId: c }));
        }
        await store.createSession(sessionRecord('s1'));

        expect(await store.deleteClient('c1')).toBe(true);

        expect(await store.findClient('c1')).toBeUndefined();
        expect(await store.findGrant('g-c1')).toBeUndefined();
        expect(await store.findRefreshToken('rt-c1')).toBeUndefined();
        expect(await store.findConsent('u1', 'c1')).toBeUndefined();
        expect(await store.findInteraction('i-c1', T0)).toBeUndefined();

        expect(await store.findClient('c2')).toBeDefined();
        expect(await store.findGrant('g-c2')).toBeDefined();
        expect(await store.findRefreshToken('rt-c2')).toBeDefined();
        expect(await store.findConsent('u1', 'c2')).toBeDefined();
        expect(await store.findInteraction('i-c2', T0)).toBeDefined();
        expect(await store.findUserById('u1')).toBeDefined();
        expect(await store.findSession('s1', T0)).toBeDefined();
        expect(await rows('consent_revocations')).toBe(1);
        expect(await rows('grants')).toBe(1);
        expect(await rows('refresh_tokens')).toBe(1);
      });

      it('deleteClient of an unknown id returns false', async () => {
        expect(await store.deleteClient('nope')).toBe(false);
      });
    });

    describe('users', () => {
      it('stores a user, finds it by id and by username, lists users', async () => {
        const alice = userRecord('u1', { username: 'alice' });
        const bob = userRecord('u2', { username: 'bob', createdAt: T0 + 1 });
        await store.createUser(alice);
        await store.createUser(bob);
        expect(await store.findUserById('u1')).toEqual(alice);
        expect(await store.findUserByUsername('bob')).toEqual(bob);
        expect(await store.findUserByUsername('carol')).toBeUndefined();
        expect(await store.findUserById('u3')).toBeUndefined();
        expect(await store.listUsers()).toEqual([alice, bob]);
      });

      it('createUser on a taken username throws StoreConflictError and keeps the first user', async () => {
        await store.createUser(userRecord('u1', { username: 'alice' }));
        await expect(store.createUser(userRecord('u2', { username: 'alice' }))).rejects.toBeInstanceOf(StoreConflictError);
        expect((await store.findUserByUsername('alice'))?.id).toBe('u1');
        expect(await store.findUserById('u2')).toBeUndefined();
        expect(await rows('users')).toBe(1);
      });

      it('deleteUser removes their sessions, consents, consent revocations, grants and refresh tokens, and leaves other users alone', async () => {
        await store.createClient(clientRecord('c1'));
        for (const u of ['u1', 'u2']) {
          await store.createUser(userRecord(u));
          await store.createSession(sessionRecord(`s-${u}`, { userId: u }));
          await store.revokeConsent(u, 'c2', T0 - 1);
          await store.saveConsent({ userId: u, clientId: 'c1', scope: ['openid'], grantedAt: T0 });
          await redeemed(grantRecord(`g-${u}`, { userId: u }), refreshRecord(`rt-${u}`, `g-${u}`));
          // A rotated family: the old and the current token both hang off the grant.
          expect((await store.rotateRefreshToken(`rt-${u}`, refreshRecord(`rt2-${u}`, `g-${u}`), T0 + 1, 0)).kind).toBe('rotated');
        }

        expect(await store.deleteUser('u1')).toBe(true);

        expect(await store.findUserById('u1')).toBeUndefined();
        expect(await store.findSession('s-u1', T0)).toBeUndefined();
        expect(await store.findConsent('u1', 'c1')).toBeUndefined();
        expect(await store.findGrant('g-u1')).toBeUndefined();
        expect(await store.findRefreshToken('rt-u1')).toBeUndefined();
        expect(await store.findRefreshToken('rt2-u1')).toBeUndefined();

        expect(await store.findUserById('u2')).toBeDefined();
        expect(await store.findSession('s-u2', T0)).toBeDefined();
        expect(await store.findConsent('u2', 'c1')).toBeDefined();
        expect(await store.findGrant('g-u2')).toBeDefined();
        expect(await store.findRefreshToken('rt2-u2')).toBeDefined();
        expect(await store.findClient('c1')).toBeDefined();
        expect(await rows('refresh_tokens')).toBe(2);
        expect(await rows('sessions')).toBe(1);
        expect(await rows('consent_revocations')).toBe(1);
        // C3: a code of the deleted user cannot be redeemed.
        expect(await store.redeemCode(grantRecord('g-new-u1', { userId: 'u1' }), null, T0)).toBe(false);
        expect(await store.findGrant('g-new-u1')).toBeUndefined();
      });

      it('deleteUser of an unknown id returns false', async () => {
        expect(await store.deleteUser('nope')).toBe(false);
      });
    });

    describe('sessions', () => {
      it('findSession returns the session until it expires, and never after (expiresAt is exclusive)', async () => {
        const session = sessionRecord('s1', { expiresAt: T0 + 1000 });
        await store.createSession(session);
        expect(await store.findSession('s1', T0 + 999)).toEqual(session);
        expect(await store.findSession('s1', T0 + 1000)).toBeUndefined();
        expect(await store.findSession('s1', T0 + 5000)).toBeUndefined();
        expect(await store.findSession('other', T0)).toBeUndefined();
      });

      it('deleteSession removes it (and is a no-op for an unknown one)', async () => {
        await store.createSession(sessionRecord('s1'));
        await store.createSession(sessionRecord('s2'));
        await store.deleteSession('s1');
        await store.deleteSession('never-existed');
        expect(await store.findSession('s1', T0)).toBeUndefined();
        expect(await store.findSession('s2', T0)).toBeDefined();
      });

      it('findSessionWithConsent returns the live session with its user\'s consent for that client only', async () => {
        const session = sessionRecord('s1', { userId: 'u1', expiresAt: T0 + 1000 });
        await store.createSession(session);
        await store.createSession(sessionRecord('s2', { userId: 'u2' }));
        const consent = { userId: 'u1', clientId: 'c1', scope: ['openid', 'api:read'], grantedAt: T0 - 5 };
        await store.saveConsent(consent);
        await store.saveConsent({ userId: 'u2', clientId: 'c2', scope: ['openid'], grantedAt: T0 });
        expect(await store.findSessionWithConsent('s1', T0, 'c1')).toEqual({ session, consent });
        expect(await store.findSessionWithConsent('s1', T0, 'c2')).toEqual({ session, consent: undefined });
        expect(await store.findSessionWithConsent('s2', T0, 'c1')).toEqual({ session: sessionRecord('s2', { userId: 'u2' }), consent: undefined });
        // expiresAt is exclusive, as for findSession; an unknown session is undefined, consent or not.
        expect(await store.findSessionWithConsent('s1', T0 + 1000, 'c1')).toBeUndefined();
        expect(await store.findSessionWithConsent('other', T0, 'c1')).toBeUndefined();
      });
    });

    describe('interactions', () => {
      it('findInteraction returns the whole authorization request until it expires, and never after', async () => {
        const interaction = interactionRecord('i1', { expiresAt: T0 + 1000 });
        interaction.request.state = 'xyz "quoted" ✓';
        interaction.request.resource = 'https://api.example/';
        await store.createInteraction(interaction);
        expect(await store.findInteraction('i1', T0 + 999)).toEqual(interaction);
        expect(await store.findInteraction('i1', T0 + 1000)).toBeUndefined();
        expect(await store.findInteraction('nope', T0)).toBeUndefined();
      });

      it('deleteInteraction removes it and is true for exactly one of several parallel callers', async () => {
        await store.createInteraction(interactionRecord('i1'));
        const results = await Promise.all(Array.from({ length: 10 }, () => store.deleteInteraction('i1')));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.findInteraction('i1', T0)).toBeUndefined();
        expect(await store.deleteInteraction('i1')).toBe(false);
      });
    });

    describe('consents', () => {
      it('saveConsent inserts, then replaces the (user, client) consent', async () => {
        await store.saveConsent({ userId: 'u1', clientId: 'c1', scope: ['openid'], grantedAt: T0 });
        await store.saveConsent({ userId: 'u1', clientId: 'c1', scope: ['openid', 'profile'], grantedAt: T0 + 5 });
        expect(await store.findConsent('u1', 'c1')).toEqual({ userId: 'u1', clientId: 'c1', scope: ['openid', 'profile'], grantedAt: T0 + 5 });
        expect(await store.findConsent('u1', 'c2')).toBeUndefined();
        expect(await rows('consents')).toBe(1);
      });

      it("listConsents lists one user's consents, newest first", async () => {
        await store.saveConsent({ userId: 'u1', clientId: 'c1', scope: ['openid'], grantedAt: T0 });
        await store.saveConsent({ userId: 'u1', clientId: 'c2', scope: ['profile'], grantedAt: T0 + 10 });
        await store.saveConsent({ userId: 'u2', clientId: 'c1', scope: ['openid'], grantedAt: T0 + 20 });
        expect((await store.listConsents('u1')).map((c) => c.clientId)).toEqual(['c2', 'c1']);
        expect(await store.listConsents('u3')).toEqual([]);
      });

      it('listConsents orders consents granted at the same instant by client id', async () => {
        for (const clientId of ['c-b', 'c-c', 'c-a']) await store.saveConsent({ userId: 'u1', clientId, scope: ['openid'], grantedAt: T0 });
        expect((await store.listConsents('u1')).map((c) => c.clientId)).toEqual(['c-a', 'c-b', 'c-c']);
      });

      it("revokeConsent removes the consent and revokes that user's grants for that client only", async () => {
        await store.saveConsent({ userId: 'u1', clientId: 'c1', scope: ['openid'], grantedAt: T0 });
        await store.saveConsent({ userId: 'u1', clientId: 'c2', scope: ['openid'], grantedAt: T0 });
        await store.saveConsent({ userId: 'u2', clientId: 'c1', scope: ['openid'], grantedAt: T0 });
        const grants = [
          grantRecord('g1', { userId: 'u1', clientId: 'c1' }),
          grantRecord('g2', { userId: 'u1', clientId: 'c1' }),
          grantRecord('g3', { userId: 'u1', clientId: 'c2' }),
          grantRecord('g4', { userId: 'u2', clientId: 'c1' }),
          grantRecord('g5', { userId: 'u1', clientId: 'c1', revokedAt: T0 + 1 }),
        ];
        for (const g of grants) await redeemed(g);

        await store.revokeConsent('u1', 'c1', T0 + 100);

        expect(await store.findConsent('u1', 'c1')).toBeUndefined();
        expect(await store.findConsent('u1', 'c2')).toBeDefined();
        expect(await store.findConsent('u2', 'c1')).toBeDefined();
        expect((await store.findGrant('g1'))?.revokedAt).toBe(T0 + 100);
        expect((await store.findGrant('g2'))?.revokedAt).toBe(T0 + 100);
        expect((await store.findGrant('g3'))?.revokedAt).toBeNull();
        expect((await store.findGrant('g4'))?.revokedAt).toBeNull();
        // Already revoked: keeps the first revocation time.
        expect((await store.findGrant('g5'))?.revokedAt).toBe(T0 + 1);
      });

      it('revokeConsent revokes the grants created before it, in the order of the calls and not by the clock, and no later ones', async () => {
        const issue = async (id: string, createdAt: number) => {
          if (!(await store.findUserById('u1'))) await store.createUser(userRecord('u1'));
          // Each code counts as issued after every revocation: this test is about the grants.
          expect(await store.redeemCode(grantRecord(id, { userId: 'u1', clientId: 'c1', createdAt }), null, T0 + 1000)).toBe(true);
        };
        // The clock may step back: 'before' carries a later time than the revocation, 'after' an earlier one.
        await issue('before', T0 + 200);
        await store.revokeConsent('u1', 'c1', T0 + 100);
        await issue('after', T0 + 50);
        expect((await store.findGrant('before'))?.revokedAt).toBe(T0 + 100);
        expect((await store.findGrant('after'))?.revokedAt).toBeNull();

        // A second revocation revokes 'after' at its own time; 'before' keeps the first one's.
        await store.revokeConsent('u1', 'c1', T0 + 300);
        expect((await store.findGrant('before'))?.revokedAt).toBe(T0 + 100);
        expect((await store.findGrant('after'))?.revokedAt).toBe(T0 + 300);
        await issue('latest', T0 + 400);
        expect((await store.findGrant('latest'))?.revokedAt).toBeNull();

        // revokeGrant on a grant revoked with its consent keeps the consent's time (idempotent, as for revokeGrant twice).
        await store.revokeGrant('before', T0 + 500);
        expect((await store.findGrant('before'))?.revokedAt).toBe(T0 + 100);
        // A grant revoked on its own before its consent keeps its own time.
        await store.revokeGrant('latest', T0 + 600);
        await store.revokeConsent('u1', 'c1', T0 + 700);
        expect((await store.findGrant('latest'))?.revokedAt).toBe(T0 + 600);
      });

      it("C3 RFC 6749 §4.1.2: after revokeConsent, no code that user was issued for that client at or before it is redeemed; later ones are", async () => {
        await store.createUser(userRecord('u1'));
        await store.createUser(userRecord('u2'));
        await store.revokeConsent('u1', 'c1', T0 + 100);
        expect(await store.redeemCode(grantRecord('g-before', { userId: 'u1', clientId: 'c1' }), refreshRecord('rt-before', 'g-before'), T0 + 99)).toBe(false);
        expect(await store.redeemCode(grantRecord('g-same-ms', { userId: 'u1', clientId: 'c1' }), null, T0 + 100)).toBe(false);
        expect(await store.findGrant('g-before')).toBeUndefined();
        expect(await store.findRefreshToken('rt-before')).toBeUndefined();
        // Issued after the revocation (a new consent), or to another client or user: redeemed.
        expect(await store.redeemCode(grantRecord('g-after', { userId: 'u1', clientId: 'c1' }), null, T0 + 101)).toBe(true);
        expect(await store.redeemCode(grantRecord('g-other-client', { userId: 'u1', clientId: 'c2' }), null, T0 + 99)).toBe(true);
        expect(await store.redeemCode(grantRecord('g-other-user', { userId: 'u2', clientId: 'c1' }), null, T0 + 99)).toBe(true);
        // A revocation with an earlier time (the clock stepped back) does not forget the later one.
        await store.revokeConsent('u1', 'c1', T0 + 50);
        expect(await store.redeemCode(grantRecord('g-before-2', { userId: 'u1', clientId: 'c1' }), null, T0 + 99)).toBe(false);
      });
    });

    describe('authorization codes', () => {
      it('refuses a second session or interaction with the same id (StoreConflictError)', async () => {
        await store.createSession(sessionRecord('s1'));
        await expect(store.createSession(sessionRecord('s1'))).rejects.toBeInstanceOf(StoreConflictError);
        await store.createInteraction(interactionRecord('i1'));
        await expect(store.createInteraction(interactionRecord('i1'))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('C3 RFC 6749 §4.1.2: redeemCode writes the grant and its first refresh token, field for field', async () => {
        await store.createUser(userRecord('u7'));
        const grant = grantRecord('g1', { userId: 'u7', scope: ['api:read'], resource: null, authTime: T0 - 5 });
        const refresh = refreshRecord('rt1', 'g1');
        expect(await store.redeemCode(grant, refresh, T0 - 10)).toBe(true);
        expect(await store.findGrant('g1')).toEqual(grant);
        expect(await store.findRefreshToken('rt1')).toEqual(refresh);
      });

      it('redeemCode without a refresh token writes only the grant', async () => {
        await redeemed(grantRecord('g1'));
        expect(await store.findGrant('g1')).toBeDefined();
        expect(await rows('refresh_tokens')).toBe(0);
      });

      it('C3 RFC 6749 §4.1.2: a second redeemCode of the same code (its grant id) returns false and writes nothing', async () => {
        await redeemed(grantRecord('g1'), refreshRecord('rt1', 'g1'));
        expect(await store.redeemCode(grantRecord('g1', { createdAt: T0 + 2, scope: ['other'] }), refreshRecord('rt2', 'g1'), T0)).toBe(false);
        expect(await store.findGrant('g1')).toEqual(grantRecord('g1'));
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
        expect(await rows('grants')).toBe(1);
        expect(await rows('refresh_tokens')).toBe(1);
      });

      it('C3 RFC 6749 §4.1.2: redeemCode refuses a code of a user that does not exist, and writes nothing', async () => {
        expect(await store.redeemCode(grantRecord('g1', { userId: 'ghost' }), refreshRecord('rt1', 'g1'), T0)).toBe(false);
        expect(await rows('grants')).toBe(0);
        expect(await rows('refresh_tokens')).toBe(0);
      });

      it('C3 RFC 6749 §4.1.2: redeemCode has exactly one winner among 20 concurrent calls', async () => {
        await store.createUser(userRecord('u1'));
        const attempts = Array.from({ length: 20 }, (_, i) => i);
        const results = await Promise.all(
          attempts.map((i) => store.redeemCode(grantRecord('g1', { createdAt: T0 + i }), refreshRecord(`rt${i}`, 'g1'), T0)),
        );
        expect(results.filter((won) => won)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await rows('grants')).toBe(1);
        expect(await rows('refresh_tokens')).toBe(1);
        expect((await store.findGrant('g1'))?.createdAt).toBe(T0 + winner);
        expect(await store.findRefreshToken(`rt${winner}`)).toBeDefined();
      });

      it('a refresh token hash that exists throws StoreConflictError and writes no grant', async () => {
        await redeemed(grantRecord('g0'), refreshRecord('rt1', 'g0'));
        await expect(store.redeemCode(grantRecord('g1'), refreshRecord('rt1', 'g1'), T0)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.findGrant('g1')).toBeUndefined();
        // Nothing of it was kept: the code can still be redeemed.
        expect(await store.redeemCode(grantRecord('g1'), refreshRecord('rt2', 'g1'), T0)).toBe(true);
      });
    });

    describe('grants', () => {
      it('revokeGrant revokes once and is idempotent (the first revocation time stays)', async () => {
        await redeemed(grantRecord('g1'));
        await store.revokeGrant('g1', T0 + 10);
        await store.revokeGrant('g1', T0 + 20);
        await store.revokeGrant('unknown', T0 + 20);
        expect((await store.findGrant('g1'))?.revokedAt).toBe(T0 + 10);
      });
    });

    describe('refresh-token rotation (RFC 9700 §4.14.2)', () => {
      const WINDOW = 5000;

      async function family(grant: GrantRecord = grantRecord('g1'), refresh: RefreshTokenRecord = refreshRecord('rt1', grant.id)) {
        await redeemed(grant, refresh);
      }

      it('T4 RFC 9700 §4.14.2: the current token rotates: marked rotated, successor inserted, grant returned', async () => {
        await family();
        const successor = refreshRecord('rt2', 'g1', { createdAt: T0 + 100, expiresAt: T0 + 100 + 14 * DAY });
        const result = await store.rotateRefreshToken('rt1', successor, T0 + 100, WINDOW);
        expect(result).toEqual({ kind: 'rotated' });
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBe(T0 + 100);
        expect(await store.findRefreshToken('rt2')).toEqual(successor);
      });

      it('T4 RFC 9700 §4.14.2: the same token within the retry window rotates again without duplicating the successor', async () => {
        await family();
        const successor = refreshRecord('rt2', 'g1', { createdAt: T0 + 100 });
        expect((await store.rotateRefreshToken('rt1', successor, T0 + 100, WINDOW)).kind).toBe('rotated');
        const retry = await store.rotateRefreshToken('rt1', { ...successor, createdAt: T0 + 200 }, T0 + 100 + WINDOW - 1, WINDOW);
        expect(retry).toEqual({ kind: 'rotated' });
        // insert-if-absent: the first successor row stays as it was; the first rotation time stays.
        expect(await store.findRefreshToken('rt2')).toEqual(successor);
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBe(T0 + 100);
        expect(await rows('refresh_tokens')).toBe(2);
      });

      it('T4 RFC 9700 §4.14.2: the same token after the retry window is rejected and nothing is written', async () => {
        await family();
        expect((await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 100, WINDOW)).kind).toBe('rotated');
        const late = await store.rotateRefreshToken('rt1', refreshRecord('rt3', 'g1'), T0 + 100 + WINDOW, WINDOW);
        expect(late).toEqual({ kind: 'rejected' });
        expect(await store.findRefreshToken('rt3')).toBeUndefined();
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBe(T0 + 100);
        expect(await rows('refresh_tokens')).toBe(2);
      });

      it('T4 RFC 9700 §4.14.2: a token of a grant revoked with its consent is rejected', async () => {
        await family(grantRecord('g1', { userId: 'u1', clientId: 'c1' }));
        await store.revokeConsent('u1', 'c1', T0 + 50);
        expect(await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 100, WINDOW)).toEqual({ kind: 'rejected' });
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBeNull();
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
      });

      it('T4 RFC 9700 §4.14.2: a token of a revoked grant is rejected', async () => {
        await family();
        await store.revokeGrant('g1', T0 + 50);
        expect(await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 100, WINDOW)).toEqual({ kind: 'rejected' });
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBeNull();
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
      });

      it('T6 RFC 9700 §4.14.2: a token whose grant is past its absolute expiry is rejected', async () => {
        // The token's own idle expiry is later on purpose: the grant's absolute expiry must still win.
        await family(grantRecord('g1', { expiresAt: T0 + 1000 }), refreshRecord('rt1', 'g1', { expiresAt: T0 + 5000 }));
        expect(await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 1000, WINDOW)).toEqual({ kind: 'rejected' });
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
        expect((await store.findRefreshToken('rt1'))?.rotatedAt).toBeNull();
      });

      it('T6 RFC 9700 §4.14.2: a token past its idle expiry is rejected', async () => {
        await family(grantRecord('g1'), refreshRecord('rt1', 'g1', { expiresAt: T0 + 1000 }));
        expect(await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 1000, WINDOW)).toEqual({ kind: 'rejected' });
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
        expect((await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 999, WINDOW)).kind).toBe('rotated');
      });

      it('an unknown token is rejected and nothing is written', async () => {
        await family();
        expect(await store.rotateRefreshToken('nope', refreshRecord('rt2', 'g1'), T0 + 1, WINDOW)).toEqual({ kind: 'rejected' });
        expect(await store.findRefreshToken('rt2')).toBeUndefined();
        expect(await rows('refresh_tokens')).toBe(1);
      });

      it('T4 RFC 9700 §4.14.2: 20 concurrent rotations of one token with the same successor all rotate, and one successor row exists', async () => {
        await family();
        const successor = refreshRecord('rt2', 'g1', { createdAt: T0 + 100 });
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.rotateRefreshToken('rt1', { ...successor }, T0 + 100 + i, WINDOW)),
        );
        expect(results.map((r) => r.kind)).toEqual(Array(20).fill('rotated'));
        expect(await rows('refresh_tokens')).toBe(2);
        expect(await store.findRefreshToken('rt2')).toEqual(successor);
        const rotatedAt = (await store.findRefreshToken('rt1'))?.rotatedAt;
        expect(rotatedAt).toBeGreaterThanOrEqual(T0 + 100);
        expect(rotatedAt).toBeLessThan(T0 + 120);
      });

      it('the successor rotates in turn; its predecessor stays rotated', async () => {
        await family();
        await store.rotateRefreshToken('rt1', refreshRecord('rt2', 'g1'), T0 + 100, WINDOW);
        expect((await store.rotateRefreshToken('rt2', refreshRecord('rt3', 'g1'), T0 + 200, WINDOW)).kind).toBe('rotated');
        expect((await store.findRefreshToken('rt2'))?.rotatedAt).toBe(T0 + 200);
        expect(await store.findRefreshToken('rt3')).toBeDefined();
      });
    });

    describe('access-token revocations', () => {
      it('revokeAccessToken records a jti (idempotently) and isAccessTokenRevoked reports it', async () => {
        await store.revokeAccessToken('jti-1', T0 + 300_000);
        await store.revokeAccessToken('jti-1', T0 + 600_000);
        expect(await store.isAccessTokenRevoked('jti-1')).toBe(true);
        expect(await store.isAccessTokenRevoked('jti-2')).toBe(false);
        expect(await rows('revoked_access_tokens')).toBe(1);
      });
    });

    describe('signing keys', () => {
      it('insertKey, listKeys (oldest first), updateKey (only the given fields), deleteKey', async () => {
        const k1 = keyRecord('k1');
        const k2 = keyRecord('k2', { alg: 'EdDSA', createdAt: T0 + 10, activatesAt: T0 + 20 });
        await store.insertKey(k2);
        await store.insertKey(k1);
        expect(await store.listKeys()).toEqual([k1, k2]);

        await store.updateKey('k1', { retiresAt: T0 + 1000 });
        await store.updateKey('k2', { activatesAt: T0 + 30, expiresAt: T0 + 5000 });
        await store.updateKey('unknown', { retiresAt: T0 });
        expect(await store.listKeys()).toEqual([
          { ...k1, retiresAt: T0 + 1000 },
          { ...k2, activatesAt: T0 + 30, expiresAt: T0 + 5000 },
        ]);

        await store.updateKey('k1', { retiresAt: null });
        expect((await store.listKeys())[0]?.retiresAt).toBeNull();

        await store.deleteKey('k1');
        expect((await store.listKeys()).map((k) => k.kid)).toEqual(['k2']);
      });

      it('insertKey refuses a kid that exists', async () => {
        await store.insertKey(keyRecord('k1'));
        await expect(store.insertKey(keyRecord('k1', { privateJwkEncrypted: 'other' }))).rejects.toThrow();
        expect((await store.listKeys())[0]?.privateJwkEncrypted).toBe('encrypted-k1');
      });
    });

    describe('secrets', () => {
      it('putSecretIfAbsent: the first value wins', async () => {
        expect(await store.putSecretIfAbsent('kek-check', 'first', T0)).toBe('first');
        expect(await store.putSecretIfAbsent('kek-check', 'second', T0 + 1)).toBe('first');
        expect(await store.putSecretIfAbsent('other', 'third', T0)).toBe('third');
      });

      it('putSecretIfAbsent: 20 concurrent callers all get the same stored value', async () => {
        const values = await Promise.all(Array.from({ length: 20 }, (_, i) => store.putSecretIfAbsent('cookie-key', `value-${i}`, T0)));
        expect(new Set(values).size).toBe(1);
        expect(values[0]).toMatch(/^value-\d+$/);
        expect(await store.putSecretIfAbsent('cookie-key', 'late', T0)).toBe(values[0]);
        expect(await rows('secrets')).toBe(1);
      });
    });

    describe('audit events', () => {
      it('listEvents filters by clientId, type and since (inclusive), newest first, with limit', async () => {
        await store.appendEvent({ type: 'login.succeeded', at: T0, userId: 'u1' });
        await store.appendEvent({ type: 'code.issued', at: T0 + 10, clientId: 'c1', userId: 'u1', detail: { scope: ['openid'] } });
        await store.appendEvent({ type: 'code.replayed', at: T0 + 20, clientId: 'c1', detail: { grantId: 'g1', n: 2, nested: { ok: true } } });
        await store.appendEvent({ type: 'code.issued', at: T0 + 30, clientId: 'c2' });
        await store.appendEvent({ type: 'code.issued', at: T0 + 30, clientId: 'c1' });

        const all = await store.listEvents({});
        expect(all.map((e) => e.at)).toEqual([T0 + 30, T0 + 30, T0 + 20, T0 + 10, T0]);
        // Same instant: the later append comes first.
        expect(all[0]?.clientId).toBe('c1');
        expect(all[1]?.clientId).toBe('c2');
        expect(all[0]!.id).toBeGreaterThan(all[1]!.id);

        const replayed = all[2]!;
        expect(replayed).toMatchObject({ type: 'code.replayed', clientId: 'c1', userId: null, detail: { grantId: 'g1', n: 2, nested: { ok: true } } });
        expect(all[4]).toMatchObject({ type: 'login.succeeded', clientId: null, userId: 'u1' });

        expect((await store.listEvents({ clientId: 'c1' })).map((e) => e.at)).toEqual([T0 + 30, T0 + 20, T0 + 10]);
        expect((await store.listEvents({ type: 'code.issued' })).map((e) => e.clientId)).toEqual(['c1', 'c2', 'c1']);
        expect((await store.listEvents({ clientId: 'c1', type: 'code.issued' })).map((e) => e.at)).toEqual([T0 + 30, T0 + 10]);
        expect((await store.listEvents({ since: T0 + 20 })).map((e) => e.at)).toEqual([T0 + 30, T0 + 30, T0 + 20]);
        expect((await store.listEvents({ limit: 2 })).map((e) => e.at)).toEqual([T0 + 30, T0 + 30]);
        expect(await store.listEvents({ clientId: 'c3' })).toEqual([]);
      });
    });

    describe('rate limiting (fixed windows)', () => {
      it('hit counts within a fixed window and restarts at resetAt', async () => {
        expect(await store.hit('login:alice', T0, 1000)).toEqual({ count: 1, resetAt: T0 + 1000 });
        expect(await store.hit('login:alice', T0 + 500, 1000)).toEqual({ count: 2, resetAt: T0 + 1000 });
        expect(await store.hit('login:alice', T0 + 999, 1000)).toEqual({ count: 3, resetAt: T0 + 1000 });
        expect(await store.hit('login:bob', T0 + 999, 1000)).toEqual({ count: 1, resetAt: T0 + 1999 });
        expect(await store.hit('login:alice', T0 + 1000, 1000)).toEqual({ count: 1, resetAt: T0 + 2000 });
        expect(await store.hit('login:alice', T0 + 1500, 1000)).toEqual({ count: 2, resetAt: T0 + 2000 });
      });

      it('resetHits clears the counter', async () => {
        await store.hit('k', T0, 1000);
        await store.hit('k', T0, 1000);
        await store.resetHits('k');
        expect(await store.hit('k', T0 + 1, 1000)).toEqual({ count: 1, resetAt: T0 + 1001 });
      });

      it('peekHits reads the current window without counting', async () => {
        expect(await store.peekHits('p', T0)).toBe(0);
        await store.hit('p', T0, 1000);
        await store.hit('p', T0 + 1, 1000);
        expect(await store.peekHits('p', T0 + 2)).toBe(2);
        expect(await store.peekHits('p', T0 + 2)).toBe(2);
        expect(await store.peekHits('p', T0 + 1000)).toBe(0);
      });

      it('G5: 20 concurrent hits are each counted once', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.hit('secret:c1', T0, 60_000)));
        expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(new Set(results.map((r) => r.resetAt))).toEqual(new Set([T0 + 60_000]));
      });
    });

    describe('purgeExpired', () => {
      async function purgeAll(now: number, batch: number): Promise<number[]> {
        const counts: number[] = [];
        for (let i = 0; i < 100; i++) {
          const n = await store.purgeExpired(now, batch);
          counts.push(n);
          if (n === 0) return counts;
        }
        throw new Error('purgeExpired never returned 0');
      }

      it('deletes in batches of at most `batch` rows per table, until it returns 0', async () => {
        for (let i = 0; i < 5; i++) await store.createSession(sessionRecord(`s${i}`, { expiresAt: T0 }));
        await store.createSession(sessionRecord('live', { expiresAt: T0 + 1 }));
        expect(await purgeAll(T0, 2)).toEqual([2, 2, 1, 0]);
        expect(await rows('sessions')).toBe(1);
        expect(await store.findSession('live', T0)).toBeDefined();
      });

      it('removes expired rows and keeps live ones, grants for GRANT_AFTER_EXPIRY_MS after expiry, the latest consent revocation of a (user, client), events for EVENT_RETENTION_MS', async () => {
        const now = T0 + 90 * DAY;
        await store.createClient(clientRecord('c1'));
        await store.createUser(userRecord('u1'));
        await store.insertKey(keyRecord('k1', { expiresAt: now - 1 }));
        await store.putSecretIfAbsent('kek-check', 'v', T0);

        await store.createSession(sessionRecord('s-expired', { expiresAt: now }));
        await store.createSession(sessionRecord('s-live', { expiresAt: now + 1 }));
        await store.createInteraction(interactionRecord('i-expired', { expiresAt: now - 1 }));
        await store.createInteraction(interactionRecord('i-live', { expiresAt: now + 1 }));

        // A consent revocation is not purged: it refuses the codes issued before it.
        await store.revokeConsent('u-remembered', 'c1', now - 2 * CODE_TTL_LIMIT_MS);

        // A grant row outlives its expiry by GRANT_AFTER_EXPIRY_MS, so its code stays used (C3) and a late replay is recognised (C4).
        const grants = [
          { grant: grantRecord('g-expired', { expiresAt: now - GRANT_AFTER_EXPIRY_MS }), refresh: refreshRecord('rt-of-expired-grant', 'g-expired', { expiresAt: now + DAY }) },
          { grant: grantRecord('g-expired-remembered', { expiresAt: now - GRANT_AFTER_EXPIRY_MS + 1 }), refresh: refreshRecord('rt-of-remembered-grant', 'g-expired-remembered', { expiresAt: now + DAY }) },
          { grant: grantRecord('g-revoked', { expiresAt: now + DAY, revokedAt: now - 1 }), refresh: refreshRecord('rt-of-revoked-grant', 'g-revoked', { expiresAt: now + DAY }) },
          {
            grant: grantRecord('g-consent-revoked', { userId: 'u-revoked', clientId: 'c1', expiresAt: now + DAY }),
            refresh: refreshRecord('rt-of-consent-revoked-grant', 'g-consent-revoked', { expiresAt: now + DAY }),
          },
          { grant: grantRecord('g-live', { expiresAt: now + 30 * DAY }), refresh: refreshRecord('rt-idle-expired', 'g-live', { expiresAt: now }) },
          { grant: grantRecord('g-live2', { expiresAt: now + 30 * DAY }), refresh: refreshRecord('rt-live', 'g-live2', { expiresAt: now + DAY }) },
        ];
        for (const { grant, refresh } of grants) await redeemed(grant, refresh);

        await store.revokeConsent('u-revoked', 'c1', now - 1);
        await store.revokeAccessToken('jti-expired', now);
        await store.revokeAccessToken('jti-live', now + 1);
        await store.hit('window-over', now - 1000, 1000);
        await store.hit('window-open', now - 1000, 1001);
        await store.appendEvent({ type: 'old', at: now - EVENT_RETENTION_MS - 1 });
        await store.appendEvent({ type: 'kept', at: now - EVENT_RETENTION_MS });
        await store.appendEvent({ type: 'recent', at: now });

        const counts = await purgeAll(now, 1);
        expect(counts.at(-1)).toBe(0);
        expect(counts.slice(0, -1).every((n) => n > 0)).toBe(true);

        expect(await store.findSession('s-expired', 0)).toBeUndefined();
        expect(await store.findSession('s-live', 0)).toBeDefined();
        expect(await store.findInteraction('i-expired', 0)).toBeUndefined();
        expect(await store.findInteraction('i-live', 0)).toBeDefined();
        expect(await rows('consent_revocations')).toBe(2);
        await store.createUser(userRecord('u-remembered'));
        expect(await store.redeemCode(grantRecord('g-of-remembered', { userId: 'u-remembered', clientId: 'c1' }), null, now - 2 * CODE_TTL_LIMIT_MS)).toBe(false);
        expect(await store.findGrant('g-expired')).toBeUndefined();
        expect(await store.findRefreshToken('rt-of-expired-grant')).toBeUndefined();
        expect(await store.findGrant('g-expired-remembered')).toBeDefined();
        expect(await store.findRefreshToken('rt-of-remembered-grant')).toBeUndefined();
        // A revoked grant stays until it expires (introspection still reports its tokens inactive), and
        // so do its refresh tokens, until their own expiry: revoked grants are found by no index.
        expect(await store.findGrant('g-revoked')).toBeDefined();
        expect(await store.findRefreshToken('rt-of-revoked-grant')).toBeDefined();
        expect(await store.findGrant('g-consent-revoked')).toBeDefined();
        expect(await store.findRefreshToken('rt-of-consent-revoked-grant')).toBeDefined();
        expect(await store.findGrant('g-live')).toBeDefined();
        expect(await store.findRefreshToken('rt-idle-expired')).toBeUndefined();
        expect(await store.findRefreshToken('rt-live')).toBeDefined();
        expect(await store.isAccessTokenRevoked('jti-expired')).toBe(false);
        expect(await store.isAccessTokenRevoked('jti-live')).toBe(true);
        expect(await rows('rate_limits')).toBe(1);
        expect(await store.hit('window-open', now, 1000)).toEqual({ count: 2, resetAt: now + 1 });
        expect((await store.listEvents({})).map((e) => e.type)).toEqual(['recent', 'kept']);

        // Configuration rows are never purged.
        expect(await store.findClient('c1')).toBeDefined();
        expect(await store.findUserById('u1')).toBeDefined();
        expect(await store.listKeys()).toHaveLength(1);
        expect(await store.putSecretIfAbsent('kek-check', 'other', now)).toBe('v');
      });

      it('returns 0 on an empty store', async () => {
        expect(await store.purgeExpired(T0, 100)).toBe(0);
      });
    });

    it('ping answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
