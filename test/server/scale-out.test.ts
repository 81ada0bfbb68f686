/**
 * The races of C3 and T4 decided across two Latchkey instances that share one PostgreSQL (the
 * scale-out deployment): nothing in process memory may be needed for correctness.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, registerClient } from '../../src/server/admin.js';
import { createLatchkey, type Latchkey } from '../../src/server/server.js';
import { PostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import { fastTestHasher } from '../helpers/latchkey.js';
import { ALICE, APP, type Client, type Server, expectOAuthError, introspect, obtainCode, postForm, redeem, refresh, tokensFor } from './support.js';
import { freePort } from '../helpers/processes.js';

// CI starts PostgreSQL; when it is unreachable these tests fail rather than skip.
const url = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `lk_test_${randomBytes(6).toString('hex')}`;

describe('scale-out: two instances on one PostgreSQL', () => {
  const stores: PostgresStore[] = [];
  const servers: Latchkey[] = [];
  /** Instance A (the issuer the browser talks to) and instance B (the helpers send requests to `issuer`). */
  let a: Server;
  let b: Server;
  let client: Client;

  beforeAll(async () => {
    const kek = randomBytes(32);
    const [portA, portB] = [await freePort(), await freePort()];
    // Both answer for one issuer, as they would behind a load balancer.
    const issuer = `http://127.0.0.1:${portA}`;
    const views: Server[] = [];
    for (const port of [portA, portB]) {
      const store = await PostgresStore.open({ connectionString: url, schema, max: 8 });
      stores.push(store);
      const server = await createLatchkey({
        store,
        issuer,
        keyEncryptionKey: kek,
        passwords: fastTestHasher,
        logger: pino({ level: 'silent' }),
        housekeepingIntervalMs: 0,
      });
      servers.push(server);
      await server.app.listen({ port, host: '127.0.0.1' });
      views.push({ issuer: `http://127.0.0.1:${port}` });
    }
    [a, b] = views as [Server, Server];
    await createUser(stores[0]!, fastTestHasher, ALICE.username, ALICE.password);
    const registered = await registerClient(stores[0]!, { name: 'Scale App', redirectUris: [APP], scopes: ['notes:read', 'notes:write'] });
    client = { clientId: registered.client.id, clientSecret: registered.clientSecret! };
  });

  afterAll(async () => {
    for (const server of servers) await server.close();
    for (const store of stores) await store.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });

  it('C3 RFC 6749 §4.1.2: 20 parallel redemptions of one code, split over two instances, give exactly one success', async () => {
    // obtainCode checks iss against the URL it talked to; A is the issuer.
    const grant = await obtainCode(a, client);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => redeem(i % 2 ? b : a, client, grant)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectOAuthError(r, 400, 'invalid_grant');
  });

  it('C4 RFC 6749 §4.1.2: a replay at the other instance revokes the tokens the first instance issued', async () => {
    const grant = await obtainCode(a, client);
    const first = await redeem(a, client, grant);
    expect(first.status).toBe(200);
    expectOAuthError(await redeem(b, client, grant), 400, 'invalid_grant');
    expect((await introspect(a, client, String(first.body.access_token))).body).toEqual({ active: false });
  });

  it('RFC 9700 §4.14.2: parallel refreshes of one token at both instances all get the same successor', async () => {
    const { refresh: token } = await tokensFor(a, client);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => refresh(i % 2 ? b : a, client, token!)));
    for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(new Set(results.map((r) => r.body.refresh_token)).size).toBe(1);
    // The family is intact: the successor works at either instance.
    expect((await refresh(b, client, String(results[0]!.body.refresh_token))).status).toBe(200);
  });

  it('RFC 7009 §2.1: a refresh family revoked at one instance is inactive at the other at once', async () => {
    const { access, refresh: token } = await tokensFor(a, client);
    expect((await postForm(a, '/revoke', { token: token! }, client)).status).toBe(200);
    expect((await introspect(b, client, access)).body).toEqual({ active: false });
    expectOAuthError(await refresh(b, client, token!), 400, 'invalid_grant');
  });

  it('RFC 7517: both instances publish the same signing key, so a token from one verifies at the other', async () => {
    const [ja, jb] = await Promise.all([a, b].map(async (lk) => (await (await fetch(new URL('/jwks.json', lk.issuer))).json()) as { keys: Array<{ kid: string }> }));
    expect(ja!.keys.map((k) => k.kid)).toEqual(jb!.keys.map((k) => k.kid));
    const { access } = await tokensFor(a, client);
    expect((await introspect(b, client, access)).body.active).toBe(true);
  });
});
