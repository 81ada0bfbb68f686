import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthorizeOutcome } from '../core/endpoints/authorize.js';
import type { OAuthError } from '../core/errors.js';
import type { CoreContext } from '../core/context.js';
import { readParams } from './request.js';
import { errorPage } from './views/pages.js';

function clientIdOf(request: FastifyRequest): string | null {
  try {
    return readParams(request).get('client_id')?.slice(0, 128) ?? null;
  } catch {
    return null;
  }
}

/** Turns an authorization outcome into the response: always a 303 (X2 RFC 9700 §4.12) or a page. */
export function sendOutcome(ctx: CoreContext, request: FastifyRequest, reply: FastifyReply, outcome: AuthorizeOutcome): FastifyReply {
  switch (outcome.kind) {
    case 'redirect':
      return reply.code(303).header('location', outcome.location).send();
    case 'login':
      return reply.code(303).header('location', `/login?interaction=${encodeURIComponent(outcome.interactionId)}`).send();
    case 'consent':
      return reply.code(303).header('location', `/consent?interaction=${encodeURIComponent(outcome.interactionId)}`).send();
    case 'error-page':
      return sendErrorPage(ctx, request, reply, outcome.error);
  }
}

const titles: Partial<Record<string, string>> = {
  invalid_client: 'Unknown application',
  invalid_request: 'This request cannot be accepted',
};

/**
 * R7 RFC 6749 §4.1.2.1: the error is shown here, not redirected. What was compared with what goes
 * to the page in development mode, and to the log (for the client's developers) always.
 */
export function sendErrorPage(ctx: CoreContext, request: FastifyRequest, reply: FastifyReply, error: OAuthError): FastifyReply {
  request.log.warn({ error: error.code, reason: error.detail, comparison: error.comparison }, 'authorization request refused');
  ctx.events.emit({
    type: 'authorization.rejected',
    at: ctx.clock.now(),
    clientId: clientIdOf(request),
    detail: { error: error.code, reason: error.detail, ...(error.comparison ? { comparison: error.comparison } : {}) },
  });
  return reply
    .code(error.status >= 500 ? 500 : error.status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(errorPage({ title: titles[error.code] ?? 'Something went wrong', error, showComparison: ctx.settings.development }));
}
