/**
 * `latchkey/resource`: resource-server middleware. Verifies RFC 9068 JWT access tokens from the
 * `Authorization: Bearer` header (or asks RFC 7662 introspection), answers RFC 6750 §3 challenges,
 * and publishes RFC 9728 protected-resource metadata.
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
export type { BearerErrorCode, Failure } from './challenge.js';
export type { FetchLike } from './discovery.js';
export type { IntrospectionOptions } from './introspection.js';
export type { JwksCacheStats } from './jwks-cache.js';
export { protectedResourceMetadataUrl } from './metadata.js';
export type { ProtectedResourceMetadata } from './metadata.js';
export { fastifyAuthenticate, fastifyRequireScope, fastifyResourceServer } from './fastify.js';
export type { FastifyResourceServerOptions } from './fastify.js';
export { expressAuthenticate, expressProtectedResourceMetadata, expressRequireScope } from './express.js';
