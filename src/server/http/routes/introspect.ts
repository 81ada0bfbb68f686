import type { FastifyInstance } from 'fastify';
import { introspectionEndpoint } from '../../core/endpoints/introspect.js';
import type { HttpDeps } from '../deps.js';
import { noStore, readParams } from '../request.js';

/** RFC 7662 §2 introspection endpoint. */
export function introspectRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  app.post('/introspect', { helmet: false }, async (request, reply) => {
    const response = await introspectionEndpoint(ctx, readParams(request), { authorization: request.headers.authorization, ip: request.ip });
    return noStore(reply).send(response);
  });
}
