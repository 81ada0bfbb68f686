import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeOverHttp, CookieJar, fetchWithJar, hiddenField } from '../helpers/latchkey.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorizeUrl, basic, newKek, postForm, seedClient, seedUser, startInstance, tempDir, type Instance } from './support.js';

/** Every log line the server writes, kept in memory. */
function captureLog(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  // The same redaction `latchkey serve` configures (src/cli/serve.ts).
  const logger = pino({ level: 'debug', redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' } }, stream);
  return { logger, lines };
}

describe('Secrets never reach the logs (full flows at debug level)', () => {
  const tmp = tempDir();
  const log = captureLog();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: `${tmp.dir}/logs.db`, kek: newKek(), logger: log.logger });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  it('no code, verifier, token, client secret, password or cookie appears in any log line, on success or failure paths', async () => {
    const secrets = new Map<string, string>();
    const password = 'pa55-Word-that-is-long';
    secrets.set('password', password);
    await seedUser(lk.store, 'frank', password);
    const confidential = await seedClient(lk.store);
    secrets.set('client secret', confidential.clientSecret!);
    const pub = await seedClient(lk.store, { public: true });

    for (const client of [confidential, pub]) {
      const { verifier, challenge } = pkcePair();
      secrets.set(`verifier ${client.clientId}`, verifier);
      const jar = new CookieJar();
      const callback = await authorizeOverHttp(
        authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256', scope: 'notes:read', state: 'st-123' }),
        { username: 'frank', password },
        { jar },
      );
      for (const name of ['latchkey-session', 'latchkey-csrf']) {
        const value = jar.get(name);
        if (value) secrets.set(`cookie ${name}`, decodeURIComponent(value));
      }
      const code = callback.searchParams.get('code')!;
      secrets.set(`code ${client.clientId}`, code);
      const auth: Record<string, string> = client.clientSecret ? { authorization: basic(client.clientId, client.clientSecret) } : {};
      const extra: Record<string, string> = client.clientSecret ? {} : { client_id: client.clientId };
      const token = (await (await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier, ...extra }, auth)).json()) as Record<string, string>;
      expect(token.access_token).toBeTruthy();
      secrets.set(`access ${client.clientId}`, token.access_token!);
      secrets.set(`access signature ${client.clientId}`, token.access_token!.split('.')[2]!);
      secrets.set(`refresh ${client.clientId}`, token.refresh_token!);
      const rotated = (await (await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: token.refresh_token!, ...extra }, auth)).json()) as Record<string, string>;
      expect(rotated.refresh_token).toBeTruthy();
      secrets.set(`rotated ${client.clientId}`, rotated.refresh_token!);
      if (client.clientSecret) {
        await postForm(`${lk.url}/introspect`, { token: rotated.access_token! }, auth);
        await postForm(`${lk.url}/revoke`, { token: rotated.refresh_token! }, auth);
      }
      // Failure paths log refusals: a replayed code, a revoked refresh token.
      await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier, ...extra }, auth);
      await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token!, ...extra }, auth);
    }
    // A wrong password, a wrong client secret sent in the body and in Basic, a bad bearer-like header.
    const jar = new CookieJar();
    const page = await fetchWithJar(jar, `${lk.url}/login`);
    await fetchWithJar(jar, `${lk.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: hiddenField(await page.text(), '_csrf'), username: 'frank', password: 'wrong-Guess-991' }),
    });
    secrets.set('wrong password', 'wrong-Guess-991');
    await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'rt-guess-77777', client_id: confidential.clientId, client_secret: 'guessed-secret-123' });
    await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'rt-guess-77777' }, { authorization: basic(confidential.clientId, 'guessed-secret-456') });
    secrets.set('guessed secret body', 'guessed-secret-123');
    secrets.set('guessed secret basic', 'guessed-secret-456');
    secrets.set('guessed refresh', 'rt-guess-77777');

    // The scan has material: audit lines and refusals with their reasons were written.
    expect(log.lines.filter((l) => l.includes('"msg":"audit"')).length).toBeGreaterThanOrEqual(10);
    expect(log.lines.some((l) => l.includes('code replayed'))).toBe(true);
    const leaks: string[] = [];
    for (const line of log.lines) {
      for (const [name, secret] of secrets) if (secret.length >= 8 && line.includes(secret)) leaks.push(`${name} in ${line.slice(0, 300)}`);
      if (/authorization"?\s*:\s*"Basic /i.test(line) || /set-cookie"?\s*:\s*"latchkey/i.test(line)) leaks.push(`header in ${line.slice(0, 300)}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('Prometheus metrics at /metrics', () => {
  const tmp = tempDir();
  let lk: Instance;
  beforeAll(async () => {
    lk = await startInstance({ databaseFile: `${tmp.dir}/metrics.db`, kek: newKek() });
  });
  afterAll(async () => {
    await lk.close();
    tmp.remove();
  });

  const value = (text: string, series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  it('counts requests and latency per endpoint, tokens per grant, errors per code and security events per type', async () => {
    await seedUser(lk.store, 'gina', 'gina password');
    const client = await seedClient(lk.store);
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeOverHttp(
      authorizeUrl(lk.url, { response_type: 'code', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256' }),
      { username: 'gina', password: 'gina password' },
    );
    const auth = { authorization: basic(client.clientId, client.clientSecret!) };
    const code = callback.searchParams.get('code')!;
    const tokens = (await (await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth)).json()) as Record<string, string>;
    await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, auth);
    await postForm(`${lk.url}/token`, { grant_type: 'authorization_code', code, code_verifier: verifier }, auth); // replay
    await postForm(`${lk.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(client.clientId, 'wrong') });
    await fetch(authorizeUrl(lk.url, { response_type: 'token', client_id: client.clientId, code_challenge: challenge, code_challenge_method: 'S256' }), { redirect: 'manual' });

    const res = await fetch(`${lk.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(value(text, 'latchkey_http_requests_total{route="/token",method="POST",status="200"}')).toBe(2);
    expect(value(text, 'latchkey_http_request_duration_seconds_count{route="/token"}')).toBe(4);
    expect(value(text, 'latchkey_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
    expect(value(text, 'latchkey_tokens_issued_total{grant_type="refresh_token"}')).toBe(1);
    expect(value(text, 'latchkey_oauth_errors_total{error="invalid_grant",route="/token"}')).toBe(1);
    expect(value(text, 'latchkey_oauth_errors_total{error="invalid_client",route="/token"}')).toBe(1);
    expect(value(text, 'latchkey_oauth_errors_total{error="unsupported_response_type",route="/authorize"}')).toBe(1);
    expect(value(text, 'latchkey_security_events_total{type="code.replayed"}')).toBe(1);
    expect(value(text, 'latchkey_security_events_total{type="login.succeeded"}')).toBe(1);
    expect(value(text, 'latchkey_security_events_total{type="client_authentication.failed"}')).toBe(1);
    // No client id, user or token ever becomes a label.
    expect(text).not.toContain(client.clientId);
    expect(text).not.toContain(tokens.refresh_token!);
  });

  it('is not served to a non-loopback address', async () => {
    const res = await lk.server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('latchkey_http_requests_total');
  });
});
