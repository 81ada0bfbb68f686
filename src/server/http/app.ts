import cluster from 'node:cluster';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CoreContext } from '../core/context.js';
import { OAuthError, isOAuthError, oauthError } from '../core/errors.js';
import { StoreUnavailableError } from '../core/ports.js';
import { TooManyRequestsError } from '../core/throttle.js';
import { readClientSecretBasic } from '../core/client-auth/client-secret-basic.js';
import { cookieSettings } from './cookies.js';
import type { HttpDeps } from './deps.js';
import { sendErrorPage } from './outcome.js';
import { readParams } from './request.js';
import { securityHeaders } from './security-headers.js';
import { accountRoutes } from './routes/account.js';
import { authorizeRoutes } from './routes/authorize.js';
import { consentRoutes } from './routes/consent.js';
import { discoveryRoutes } from './routes/discovery.js';
import { healthRoutes } from './routes/health.js';
import { clusterMetricsReader } from './cluster-metrics.js';
import { createMetrics, instrument, type HttpMetrics } from './metrics.js';
import { metricsRoutes } from './routes/metrics.js';
import { introspectRoutes } from './routes/introspect.js';
import { loginRoutes } from './routes/login.js';
import { revokeRoutes } from './routes/revoke.js';
import { tokenRoutes } from './routes/token.js';
import { simpleMessagePage } from './views/pages.js';
import { stylesheet } from './views/styles.js';

export interface AppOptions {
  logger: Logger;
  /** Trust X-Forwarded-* from these proxies (X10); false: trust none. */
  trustProxy?: boolean | string | string[];
  /** Under node:cluster: /metrics answers every worker's metrics, summed by the primary (cluster-metrics.ts). */
  clusterMetrics?: boolean;
}

/** Request size limits: no endpoint needs more (hardening against oversized input). */
const BODY_LIMIT = 16 * 1024;

export async function buildApp(ctx: CoreContext, options: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    // Per-request lines are left out (the token endpoint is hot); refusals and audit events are logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    trustProxy: options.trustProxy ?? false,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Hardening: request line plus headers at most 8 KiB (Node answers 431 past it), and a slow
    // sender gets 10 s to finish its headers (slowloris). Bodies: BODY_LIMIT; parameters: core/params.ts.
    http: { maxHeaderSize: 8 * 1024, headersTimeout: 10_000 },
    clientErrorHandler: answerClientError,
  });
  const metrics = createMetrics();
  instrument(app, ctx, metrics);
  const cookies = cookieSettings(ctx.settings.issuer);
  const deps: HttpDeps = { ctx, cookies };

  // Bodies are read raw and parsed strictly by core/params.ts (duplicates, invalid UTF-8);
  // anything that is not a form is refused by the route with invalid_request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  await app.register(fastifyCookie);
  await app.register(fastifyCsrf, {
    cookieKey: cookies.csrfCookie,
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure: cookies.secure },
    getToken: (request: FastifyRequest) => readParams(request).get('_csrf'),
  });
  // X1 RFC 9700 §4.16 and X3 §4.2.4: no framing, no referrer, no third-party resources on any page.
  securityHeaders(app, { https: ctx.settings.issuer.startsWith('https:') });

  app.setErrorHandler((error: FastifyError | OAuthError | Error, request, reply) => handleError(ctx, metrics, error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    if (request.method === 'GET') return reply.code(404).type('text/html; charset=utf-8').send(simpleMessagePage('Not found', 'There is no page at this address.'));
    return reply.code(404).send({ error: 'invalid_request', error_description: 'There is no endpoint at this address.' });
  });

  app.get('/assets/latchkey.css', { helmet: false }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(stylesheet),
  );
  app.get('/', { config: { page: true } }, async (_request, reply) => reply.code(303).header('location', '/account').send());

  authorizeRoutes(app, deps);
  loginRoutes(app, deps);
  consentRoutes(app, deps);
  accountRoutes(app, deps);
  tokenRoutes(app, deps);
  introspectRoutes(app, deps);
  revokeRoutes(app, deps);
  discoveryRoutes(app, deps);
  healthRoutes(app, deps);
  const readMetrics = options.clusterMetrics && cluster.isWorker ? clusterMetricsReader(metrics.registry) : () => metrics.registry.metrics();
  metricsRoutes(app, metrics.registry.contentType, readMetrics);
  return app;
}

/**
 * Requests Node refuses before Fastify sees them (headers too large, too slow, unparseable) still
 * get a registered error code, like every other answer (RFC 6749 §5.2).
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const description = status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request is malformed.';
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Every error becomes a registered RFC error code: JSON (RFC 6749 §5.2) on the back-channel
 * endpoints, a page on the browser ones. Never a stack trace; a 500 says only server_error.
 */
function handleError(ctx: CoreContext, metrics: HttpMetrics, error: FastifyError | OAuthError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const isPage = request.routeOptions.config?.page === true;
  let oauth: OAuthError;
  if (isOAuthError(error)) {
    oauth = error;
  } else if (error instanceof TooManyRequestsError) {
    // RFC 6585 §4: 429 with Retry-After (core/throttle.ts explains the invalid_request body).
    reply.header('retry-after', String(error.retryAfterSeconds));
    oauth = error.oauth;
    if (isPage) {
      metrics.errors.inc({ error: oauth.code, route: request.routeOptions.url ?? 'unmatched' });
      return reply.code(429).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(simpleMessagePage('Too many requests', oauth.description));
    }
  } else if (error instanceof StoreUnavailableError) {
    request.log.error({ err: error }, 'store unavailable');
    reply.header('retry-after', '5');
    oauth = oauthError('temporarily_unavailable', { description: 'The server cannot reach its database. Try again shortly.' });
  } else if ('code' in error && typeof error.code === 'string' && error.code.startsWith('FST_CSRF')) {
    return reply
      .code(403)
      .type('text/html; charset=utf-8')
      .send(simpleMessagePage('This form has expired', 'The page was open too long or was sent from elsewhere. Go back, reload the page and try again.'));
  } else if ('statusCode' in error && typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own refusals (body too large, malformed request): a registered code, the same status.
    oauth = oauthError('invalid_request', { status: error.statusCode, description: 'The request is malformed or too large.', detail: error.message });
  } else {
    request.log.error({ err: error }, 'unexpected error');
    oauth = oauthError('server_error');
  }
  if (oauth.detail) request.log.info({ error: oauth.code, reason: oauth.detail, url: request.routeOptions.url }, 'request refused');

  if (isPage) {
    if (oauth.code === 'temporarily_unavailable' || oauth.code === 'server_error') {
      metrics.errors.inc({ error: oauth.code, route: request.routeOptions.url ?? 'unmatched' });
      return reply.code(oauth.status).type('text/html; charset=utf-8').send(simpleMessagePage('Something went wrong', oauth.description));
    }
    return sendErrorPage(ctx, request, reply, new OAuthError(oauth.code, { description: oauth.description, redirectable: false, status: oauth.status }));
  }
  // G6 OAuth 2.1 §3.2.4 / RFC 6749 §5.2: invalid_client after an Authorization header → 401 with a matching challenge.
  // RFC 9110 §15.5.2: every 401 "MUST send a WWW-Authenticate header field", with or without that header.
  if (oauth.code === 'invalid_client' && oauth.status === 401) {
    reply.header('www-authenticate', 'Basic realm="latchkey", charset="UTF-8"');
  }
  metrics.errors.inc({ error: oauth.code, route: request.routeOptions.url ?? 'unmatched' });
  // The machine-readable reason goes to the audit trail under the client_id that was sent, so the
  // client's developers can see it (`latchkey events --client ID`); the caller gets only the code.
  const event = oauth.code === 'invalid_client' ? 'client_authentication.failed' : 'request.rejected';
  // A 429 is not recorded per request (rate_limit.exceeded is, once per window): a flood stays cheap.
  if (oauth.code === 'invalid_client' || (oauth.detail !== undefined && oauth.status < 500 && oauth.status !== 429)) {
    ctx.events.emit({ type: event, at: ctx.clock.now(), clientId: claimedClientId(request), detail: { error: oauth.code, reason: oauth.detail, endpoint: request.routeOptions.url } });
  }
  return reply.code(oauth.status).header('cache-control', 'no-store').header('pragma', 'no-cache').send(oauth.toJSON());
}

/** The client_id the request names (body, query or Basic credentials), unauthenticated; bounded. */
function claimedClientId(request: FastifyRequest): string | null {
  let id: string | undefined;
  try {
    id = readParams(request).get('client_id');
  } catch {
    id = undefined;
  }
  if (id === undefined) {
    try {
      id = readClientSecretBasic(request.headers.authorization)?.clientId;
    } catch {
      id = undefined;
    }
  }
  return id === undefined ? null : id.slice(0, 128);
}
