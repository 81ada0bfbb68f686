import type { FastifyInstance } from 'fastify';
import { isLoopback } from '../../core/throttle.js';
import type { HttpMetrics } from '../metrics.js';

/**
 * GET /metrics in the Prometheus text format. Served only to loopback addresses (a scraper or
 * sidecar on the same host); from anywhere else it does not exist. Behind a proxy, set the
 * trusted proxy (LATCHKEY_TRUST_PROXY) so the client's address, not the proxy's, is checked.
 */
export function metricsRoutes(app: FastifyInstance, metrics: HttpMetrics): void {
  app.get('/metrics', { helmet: false }, async (request, reply) => {
    if (!isLoopback(request.ip)) {
      return reply.code(404).send({ error: 'invalid_request', error_description: 'There is no endpoint at this address.' });
    }
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
