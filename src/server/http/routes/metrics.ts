import type { FastifyInstance } from 'fastify';
import { isLoopback } from '../../core/throttle.js';

/**
 * GET /metrics in the Prometheus text format. Served only to loopback addresses (a scraper or
 * sidecar on the same host); from anywhere else it does not exist. Behind a proxy, set the
 * trusted proxy (LATCHKEY_TRUST_PROXY) so the client's address, not the proxy's, is checked.
 */
export function metricsRoutes(app: FastifyInstance, contentType: string, read: () => Promise<string>): void {
  app.get('/metrics', { helmet: false }, async (request, reply) => {
    if (!isLoopback(request.ip)) {
      return reply.code(404).send({ error: 'invalid_request', error_description: 'There is no endpoint at this address.' });
    }
    let text: string;
    try {
      text = await read();
    } catch (error) {
      // Only with --workers: the primary could not gather every worker's metrics (see cluster-metrics.ts).
      request.log.warn({ err: error }, 'metrics unavailable');
      return reply.code(503).header('retry-after', '5').header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('metrics unavailable, try again\n');
    }
    return reply.header('cache-control', 'no-store').type(contentType).send(text);
  });
}
