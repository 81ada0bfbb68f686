import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorizationEndpoint } from '../../core/endpoints/authorize.js';
import { throttleOf } from '../../core/throttle.js';
import { sessionIdHash } from '../cookies.js';
import type { HttpDeps } from '../deps.js';
import { sendOutcome } from '../outcome.js';
import { readParams } from '../request.js';

/** RFC 6749 §3.1: GET and (X6 OAuth 2.1 §3.1) POST on the authorization endpoint. No CORS (X4). */
export function authorizeRoutes(app: FastifyInstance, { ctx, cookies }: HttpDeps): void {
  const throttle = throttleOf(ctx);
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = readParams(request);
    // Rate limit per IP and per client_id; a 429 page with Retry-After.
    await throttle.checkRate('authorize', request.ip, () => params.get('client_id'));
    return sendOutcome(ctx, request, reply, await authorizationEndpoint(ctx, params, sessionIdHash(cookies, request)));
  };
  app.get('/authorize', { config: { page: true } }, handler);
  app.post('/authorize', { config: { page: true } }, handler);
}
