import type { FastifyInstance } from 'fastify';
import { revocationEndpoint } from '../../core/endpoints/revoke.js';
import type { HttpDeps } from '../deps.js';
import { noStore, readParams } from '../request.js';

/** RFC 7009 §2 revocation endpoint: 200 with an empty body, for unknown tokens too (§2.2). */
export function revokeRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  app.post('/revoke', { helmet: false }, async (request, reply) => {
    await revocationEndpoint(ctx, readParams(request), { authorization: request.headers.authorization, ip: request.ip });
    return noStore(reply).code(200).send();
  });
}
