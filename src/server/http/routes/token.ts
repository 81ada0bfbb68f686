import type { FastifyInstance } from 'fastify';
import { tokenEndpoint } from '../../core/endpoints/token.js';
import type { HttpDeps } from '../deps.js';
import { noStore, readParams } from '../request.js';

/** RFC 6749 §3.2 token endpoint: POST, form body, JSON answer, never cached (X5). */
export function tokenRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  app.post('/token', { helmet: false }, async (request, reply) => {
    const response = await tokenEndpoint(ctx, readParams(request), request.headers.authorization);
    return noStore(reply).send(response);
  });
}
