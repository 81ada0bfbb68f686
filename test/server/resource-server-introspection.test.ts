import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerResourceServer } from '../../src/server/admin.js';
import { startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, expectOAuthError, introspect, postForm, tokensFor, type Client } from './support.js';

const NOTES_API = 'https://notes.example/api';
const OTHER_API = 'https://other.example/api';

describe('RFC 7662 §2.1: a resource server introspects access tokens for its own audience', () => {
  let lk: TestLatchkey;
  let app: Client;
  let notesApi: Client;
  let otherApi: Client;
  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(ALICE.username, ALICE.password);
    app = await lk.createClient({ redirectUris: [APP], resources: [NOTES_API, OTHER_API] });
    const notes = await registerResourceServer(lk.store, { name: 'Notes API', audience: NOTES_API });
    notesApi = { clientId: notes.client.id, clientSecret: notes.clientSecret };
    const other = await registerResourceServer(lk.store, { name: 'Other API', audience: OTHER_API });
    otherApi = { clientId: other.client.id, clientSecret: other.clientSecret };
  });
  afterAll(async () => lk.close());

  it('RFC 7662 §2.2: the API learns about an access token for its audience, issued to another client', async () => {
    const { access } = await tokensFor(lk, app, { resource: NOTES_API });
    const answer = await introspect(lk, notesApi, access);
    expect(answer.body).toMatchObject({ active: true, aud: NOTES_API, client_id: app.clientId, sub: expect.any(String) });
  });

  it('RFC 7662 §2.2: another API, or any ordinary client, gets active:false for that token', async () => {
    const { access } = await tokensFor(lk, app, { resource: NOTES_API });
    expect((await introspect(lk, otherApi, access)).body).toEqual({ active: false });
    const stranger = await lk.createClient({ redirectUris: [APP], resources: [NOTES_API] });
    expect((await introspect(lk, stranger, access)).body).toEqual({ active: false });
  });

  it('RFC 7662 §2.2: a resource server learns nothing about refresh tokens', async () => {
    const { refresh } = await tokensFor(lk, app, { resource: NOTES_API });
    expect((await introspect(lk, notesApi, refresh!)).body).toEqual({ active: false });
  });

  it('RFC 6749 §5.2: a resource server obtains no tokens itself (unauthorized_client)', async () => {
    expectOAuthError(await postForm(lk, '/token', { grant_type: 'refresh_token', refresh_token: 'x' }, notesApi), 400, 'unauthorized_client');
  });
});
