/**
 * A scripted authorization server on 127.0.0.1:0 for attack tests: it serves metadata and
 * answers the token and revocation endpoints with whatever the test sets, and records what the
 * client sent.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedResponse {
  status: number;
  contentType?: string;
  body: string;
  headers?: Record<string, string>;
}

export const json = (status: number, body: unknown): ScriptedResponse => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: URLSearchParams;
}

export interface ScriptedServer {
  issuer: string;
  /** Metadata fields; `issuer`, endpoints and iss support can be overridden per test. */
  metadata: Record<string, unknown>;
  /** Path of the metadata document; set to the OpenID path to test the fallback. */
  metadataPath: string;
  token: ScriptedResponse;
  revocation: ScriptedResponse;
  /** Answers for /api, one per request (then 200 {"ok":true}). */
  api: ScriptedResponse[];
  received: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const state = {} as ScriptedServer;
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      state.received.push({ method: req.method ?? '', path, headers: req.headers, body: new URLSearchParams(raw) });
      let answer: ScriptedResponse = { status: 404, contentType: 'text/plain', body: 'not found' };
      if (path === state.metadataPath) answer = json(200, state.metadata);
      else if (path === '/token') answer = state.token;
      else if (path === '/revoke') answer = state.revocation;
      else if (path === '/api') answer = state.api.shift() ?? json(200, { ok: true });
      res.writeHead(answer.status, { ...(answer.contentType ? { 'content-type': answer.contentType } : {}), ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(state, {
    issuer,
    metadataPath: '/.well-known/oauth-authorization-server',
    metadata: {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/revoke`,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      authorization_response_iss_parameter_supported: true,
    },
    token: json(200, { access_token: 'opaque-access-token', token_type: 'Bearer', expires_in: 300, refresh_token: 'opaque-refresh-token' }),
    revocation: { status: 200, body: '' },
    api: [],
    received: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return state;
}
