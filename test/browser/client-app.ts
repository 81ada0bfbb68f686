import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestLatchkey } from '../helpers/latchkey.js';

/**
 * A tiny confidential client web app on node:http (127.0.0.1, port 0) for the browser tests:
 * /start sends the browser to Latchkey's /authorize with PKCE S256 and a state, /callback checks
 * state and iss, exchanges the code at /token (client_secret_basic) and shows "Signed in".
 */
export interface ClientApp {
  url: string;
  clientId: string;
  redirectUri: string;
  /** Token responses the app received, in order. */
  readonly tokens: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

const escape = (value: string) =>
  value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');

function page(response: ServerResponse, status: number, title: string, body: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · Notes app</title></head><body>${body}</body></html>`);
}

export async function startClientApp(lk: TestLatchkey, options: { name?: string; scope?: string } = {}): Promise<ClientApp> {
  const scope = options.scope ?? 'notes:read profile';
  const pending = new Map<string, string>(); // state -> code_verifier
  const tokens: Array<Record<string, unknown>> = [];
  let client: { clientId: string; clientSecret?: string } | undefined;
  let redirectUri = '';

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/start') {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      pending.set(state, verifier);
      const authorize = new URL('/authorize', lk.issuer);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id: client!.clientId,
        redirect_uri: redirectUri,
        scope,
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      response.writeHead(303, { location: authorize.href });
      response.end();
      return;
    }
    if (url.pathname === '/callback') {
      const state = url.searchParams.get('state') ?? '';
      const verifier = pending.get(state);
      if (verifier === undefined) return page(response, 400, 'Error', '<h1>Unknown state</h1>');
      pending.delete(state);
      // RFC 9207 §2.4: the response must come from the issuer the request went to.
      if (url.searchParams.get('iss') !== lk.issuer) return page(response, 400, 'Error', '<h1>Wrong issuer</h1>');
      const error = url.searchParams.get('error');
      if (error !== null) {
        return page(response, 200, 'Not signed in', `<h1>Not signed in</h1><p id="error">error=${escape(error)}</p>`);
      }
      const exchange = await fetch(new URL('/token', lk.issuer), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(client!.clientId)}:${encodeURIComponent(client!.clientSecret!)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: url.searchParams.get('code') ?? '', redirect_uri: redirectUri, code_verifier: verifier }),
      });
      const body = (await exchange.json()) as Record<string, unknown>;
      if (exchange.status !== 200) return page(response, 502, 'Error', `<h1>Token exchange failed</h1><p id="error">${escape(String(body.error))}</p>`);
      tokens.push(body);
      return page(response, 200, 'Signed in', `<h1>Signed in</h1><p>Granted scope: <span id="scope">${escape(String(body.scope))}</span></p>`);
    }
    page(response, 404, 'Not found', '<h1>Not found</h1>');
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => page(response, 500, 'Error', `<h1>Error</h1><pre>${escape(String(error))}</pre>`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  redirectUri = `${url}/callback`;
  client = await lk.createClient({ redirectUris: [redirectUri], name: options.name ?? 'Notes App' });
  return {
    url,
    clientId: client.clientId,
    redirectUri,
    tokens,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
