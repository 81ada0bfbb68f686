/**
 * `latchkey/resource`: resource-server middleware. Verifies RFC 9068 JWT access tokens from the
 * `Authorization: Bearer` header (or asks RFC 7662 introspection), answers RFC 6750 §3 challenges,
 * and publishes RFC 9728 protected-resource metadata.
 *
 * ```ts
 * const server = createResourceServer({ issuer: 'https://login.example', audience: 'https://api.example/notes' });
 *
 * // Fastify
 * await app.register(fastifyResourceServer, { server });
 * app.get('/notes', { preHandler: fastifyRequireScope(server, 'notes:read') }, (request) => request.latchkeyToken);
 *
 * // Express
 * app.get(server.resourceMetadataPath!, expressProtectedResourceMetadata(server));
 * app.get('/notes', expressRequireScope(server, 'notes:read'), (req, res) => res.json(req.latchkeyToken));
 *
 * // Any framework with Web Request/Response
 * const result = await server.authenticate(request, { scope: ['notes:read'] });
 * if (!result.ok) return failureResponse(result);
 * ```
 */
export { createResourceServer } from './resource-server.js';
export type {
  AccessToken,
  AuthenticateOptions,
  AuthenticationResult,
  ResourceServer,
  ResourceServerOptions,
} from './resource-server.js';
export type { BearerRequestParts } from './bearer.js';
export { failureResponse } from './challenge.js';
export type { BearerErrorCode, Failure } from './challenge.js';
export type { FetchLike } from './discovery.js';
export type { IntrospectionOptions } from './introspection.js';
export type { JwksCacheStats } from './jwks-cache.js';
export { protectedResourceMetadataUrl } from './metadata.js';
export type { ProtectedResourceMetadata } from './metadata.js';
export { fastifyAuthenticate, fastifyRequireScope, fastifyResourceServer } from './fastify.js';
export type { FastifyResourceServerOptions } from './fastify.js';
export { expressAuthenticate, expressProtectedResourceMetadata, expressRequireScope } from './express.js';
