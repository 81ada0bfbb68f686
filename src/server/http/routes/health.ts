import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.js';

/** /healthz: the process is up. /readyz: the store answers. */
export function healthRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  app.get('/healthz', { helmet: false }, async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', { helmet: false }, async (_request, reply) => {
    try {
      await ctx.store.ping();
      return reply.header('cache-control', 'no-store').send({ status: 'ready' });
    } catch {
      return reply.code(503).header('retry-after', '5').header('cache-control', 'no-store').send({ status: 'store unreachable' });
    }
  });
}
