import type { FastifyReply, FastifyRequest } from 'fastify';
import { oauthError } from '../core/errors.js';
import { Params, parseUrlEncoded } from '../core/params.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The parsed query (GET) or form body (POST), set by readParams. */
    params_?: Params;
  }
}

/**
 * The request's parameters: the query string for GET, the form body for POST. A POST whose body
 * is not application/x-www-form-urlencoded (a JSON body, say) is an invalid_request (RFC 6749 §3.2).
 */
export function readParams(request: FastifyRequest): Params {
  if (request.params_) return request.params_;
  let params: Params;
  if (request.method === 'GET' || request.method === 'HEAD') {
    const url = request.raw.url ?? '';
    const q = url.indexOf('?');
    params = parseUrlEncoded(q === -1 ? '' : url.slice(q + 1));
  } else {
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
      throw oauthError('invalid_request', { description: 'The request body must be application/x-www-form-urlencoded.', detail: `content-type ${type.slice(0, 64) || 'absent'}` });
    }
    const body = request.body;
    params = parseUrlEncoded(Buffer.isBuffer(body) ? body : '');
  }
  request.params_ = params;
  return params;
}

/** X5 OAuth 2.1 §3.2.3: responses that carry tokens or credentials are never cached. */
export function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}
