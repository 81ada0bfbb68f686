/**
 * Fastify adapter:
 *
 * ```ts
 * await app.register(fastifyResourceServer, { server });          // serves RFC 9728 metadata
 * app.get('/notes', { preHandler: fastifyRequireScope(server, 'notes:read') }, (request) =>
 *   listNotes(request.latchkeyToken!.sub));
 * ```
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { BearerRequestParts } from './bearer.js';
import type { Failure } from './challenge.js';
import type { AccessToken, ResourceServer } from './resource-server.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token, set by `fastifyRequireScope` / `fastifyAuthenticate`. */
    latchkeyToken: AccessToken | null;
  }
}

export interface FastifyResourceServerOptions {
  server: ResourceServer;
  /** Serve the RFC 9728 document at the server's metadata path. Default true. */
  serveMetadata?: boolean;
}

const noQuery = { has: () => false };
const formContentType = /^application\/x-www-form-urlencoded\b/i;

function partsOf(request: FastifyRequest): BearerRequestParts {
  const url = request.raw.url ?? '';
  const queryAt = url.indexOf('?');
  const body = request.body;
  return {
    authorization: request.headers.authorization,
    query: queryAt === -1 ? noQuery : new URLSearchParams(url.slice(queryAt + 1)),
    bodyHasAccessToken:
      typeof body === 'object' &&
      body !== null &&
      Object.hasOwn(body, 'access_token') &&
      formContentType.test(request.headers['content-type'] ?? ''),
  };
}

export function sendFailure(reply: FastifyReply, failure: Failure): FastifyReply {
  if (failure.wwwAuthenticate !== null) reply.header('www-authenticate', failure.wwwAuthenticate);
  return reply.code(failure.status).header('cache-control', 'no-store').send(failure.body);
}

/** A preHandler that requires a valid token holding every one of `scopes`. */
export function fastifyRequireScope(server: ResourceServer, ...scopes: string[]): preHandlerAsyncHookHandler {
  const options = { scope: scopes };
  return async function requireScope(request, reply) {
    const result = await server.authenticateParts(partsOf(request), options);
    if (!result.ok) {
      request.log.info({ detail: result.detail, status: result.status }, 'access token refused');
      return sendFailure(reply, result);
    }
    request.latchkeyToken = result.token;
  };
}

/** A preHandler that requires a valid token, whatever its scope. */
export function fastifyAuthenticate(server: ResourceServer): preHandlerAsyncHookHandler {
  return fastifyRequireScope(server);
}

const plugin: FastifyPluginAsync<FastifyResourceServerOptions> = async (fastify, { server, serveMetadata = true }) => {
  if (!fastify.hasRequestDecorator('latchkeyToken')) fastify.decorateRequest('latchkeyToken', null);
  if (serveMetadata && server.resourceMetadataPath !== null) {
    const document = server.protectedResourceMetadata();
    // RFC 9728 §3.2: the metadata is a JSON object answered with 200 and application/json.
    fastify.get(server.resourceMetadataPath, async (_request, reply) =>
      reply.header('content-type', 'application/json').header('cache-control', 'max-age=300').send(document),
    );
  }
};
// Like fastify-plugin: the decoration and route belong to the parent instance, not a child scope.
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

export const fastifyResourceServer = plugin;
