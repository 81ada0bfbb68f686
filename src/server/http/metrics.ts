import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreContext } from '../core/context.js';
import type { AuditEvent } from '../core/ports.js';

/**
 * Prometheus metrics (prom-client), one registry per server so two servers in one process (tests)
 * never share counters. Every label takes values from a bounded set: route templates, status
 * codes, grant types, catalogue error codes and audit-event names; never a client id or a user.
 */
export interface HttpMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  duration: Histogram<'route'>;
  tokensIssued: Counter<'grant_type'>;
  errors: Counter<'error' | 'route'>;
  securityEvents: Counter<'type'>;
}

export function createMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  return {
    registry,
    requests: new Counter({ name: 'latchkey_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    duration: new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'Time from request to response, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    tokensIssued: new Counter({ name: 'latchkey_tokens_issued_total', help: 'Successful token responses by grant type', labelNames: ['grant_type'], registers: [registry] }),
    errors: new Counter({ name: 'latchkey_oauth_errors_total', help: 'OAuth error responses by registered error code and route', labelNames: ['error', 'route'], registers: [registry] }),
    securityEvents: new Counter({ name: 'latchkey_security_events_total', help: 'Audit events by stable name (login.failed, code.replayed, …)', labelNames: ['type'], registers: [registry] }),
  };
}

const GRANT_TYPES = new Set(['authorization_code', 'refresh_token']);

/** Counts every response and its latency, every token issued, and every audit event. */
export function instrument(app: FastifyInstance, ctx: CoreContext, metrics: HttpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    if (route === '/token' && reply.statusCode === 200) {
      const grantType = request.params_?.get('grant_type');
      metrics.tokensIssued.inc({ grant_type: grantType !== undefined && GRANT_TYPES.has(grantType) ? grantType : 'other' });
    }
  });

  // Audit events pass through here on their way to the log and the store.
  const sink = ctx.events;
  ctx.events = {
    emit(event: AuditEvent) {
      metrics.securityEvents.inc({ type: event.type });
      // Errors shown on a page or redirected to the client are reported through this event.
      if (event.type === 'authorization.rejected' && typeof event.detail?.error === 'string') metrics.errors.inc({ error: event.detail.error, route: '/authorize' });
      sink.emit(event);
    },
  };
}
