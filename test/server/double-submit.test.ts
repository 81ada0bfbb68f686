import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, fetchWithJar, hiddenField, startLatchkey, type TestLatchkey } from '../helpers/latchkey.js';
import { ALICE, APP, authorizeUrl, expectOAuthError, get, location, obtainCode, redeem, signIn, validParams, type Client } from './support.js';

describe('double submits and revocation races', () => {
  let lk: TestLatchkey;
  let app: Client;
  beforeAll(async () => {
    lk = await startLatchkey();
    await lk.createUser(ALICE.username, ALICE.password);
    app = await lk.createClient({ redirectUris: [APP] });
  });
  afterAll(async () => lk.close());

  it('RFC 6749 §4.1.2: ten parallel Allow submissions of one consent page issue exactly one code', async () => {
    const jar = new CookieJar();
    expect((await signIn(lk, jar)).status).toBe(303);
    const start = await get(authorizeUrl(lk, validParams(app)), jar);
    const consentUrl = location(start, lk.issuer);
    expect(consentUrl.pathname).toBe('/consent');
    const html = await (await fetchWithJar(jar, consentUrl)).text();
    const form = { _csrf: hiddenField(html, '_csrf'), interaction: hiddenField(html, 'interaction'), decision: 'approve' };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetchWithJar(jar, new URL('/consent', lk.issuer), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) }),
      ),
    );
    const codes = answers.filter((r) => r.status === 303 && new URL(r.headers.get('location')!).searchParams.has('code'));
    expect(codes).toHaveLength(1);
    // The others are told, on the server's page, that the request was already answered.
    for (const other of answers.filter((r) => !codes.includes(r))) expect(other.status).toBe(400);
  });

  it('a code issued just before the user revoked the application at /account cannot be redeemed', async () => {
    const jar = new CookieJar();
    const grant = await obtainCode(lk, app, { jar });
    const account = await (await fetchWithJar(jar, new URL('/account', lk.issuer))).text();
    const revoked = await fetchWithJar(jar, new URL('/account/revoke', lk.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: hiddenField(account, '_csrf'), client_id: app.clientId }),
    });
    expect(revoked.status).toBe(303);
    expectOAuthError(await redeem(lk, app, grant), 400, 'invalid_grant');
  });
});
