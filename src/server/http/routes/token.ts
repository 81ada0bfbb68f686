import type { FastifyInstance } from 'fastify';
import { readClientSecretBasic } from '../../core/client-auth/client-secret-basic.js';
import { tokenEndpoint } from '../../core/endpoints/token.js';
import { throttleOf } from '../../core/throttle.js';
import type { HttpDeps } from '../deps.js';
import { noStore, readParams } from '../request.js';

/** RFC 6749 §3.2 token endpoint: POST, form body, JSON answer, never cached (X5). */
export function tokenRoutes(app: FastifyInstance, { ctx }: HttpDeps): void {
  const throttle = throttleOf(ctx);
  app.post('/token', { helmet: false }, async (request, reply) => {
    const params = readParams(request);
    // Rate limit per IP and per client_id (as sent); answered 429 with Retry-After.
    await throttle.checkRate('token', request.ip, () => params.get('client_id') ?? basicClientId(request.headers.authorization));
    const response = await tokenEndpoint(ctx, params, { authorization: request.headers.authorization, ip: request.ip });
    return noStore(reply).send(response);
  });
}

function basicClientId(authorization: string | undefined): string | undefined {
  try {
    return readClientSecretBasic(authorization)?.clientId;
  } catch {
    return undefined;
  }
}
