/**
 * latchkey/client: the application's half of the OAuth 2.1 Authorization Code Grant with PKCE,
 * for the backend-for-frontend pattern, against Latchkey or any compliant authorization server.
 */
export { OAuthClient, defaultResolveUser, parseSessionId, safeReturnTo } from './client.js';
export type { OAuthClientConfig, ResolveUser, SignOutResult } from './client.js';

export { discover, discoveryRequest, processDiscoveryResponse, wellKnownUrl } from './discovery.js';
export type { AuthorizationServerMetadata, DiscoveryAlgorithm } from './discovery.js';

export { buildAuthorizationUrl, validateAuthorizationResponse } from './authorization.js';
export type { AuthorizationRequestParameters, ValidatedCallback } from './authorization.js';

export {
  authorizationCodeGrantRequest,
  processRevocationResponse,
  processTokenResponse,
  refreshTokenGrantRequest,
  revocationRequest,
} from './token.js';
export type { TokenResponse } from './token.js';

export { calculateCodeChallenge, generateCodeVerifier, generateState } from './random.js';

export {
  AuthorizationResponseError,
  CallbackValidationError,
  NotSignedInError,
  ResponseBodyError,
  UnexpectedResponseError,
  explainAuthorizationError,
} from './errors.js';
export type { CallbackValidationCode, NotSignedInReason } from './errors.js';

export type { ClientAuthMethod, ClientCredentials, FetchLike, HttpOptions } from './http.js';

export { MemorySessionStore } from './session-store.js';
export type { PendingAuthorization, SessionData, SessionStore, SignedInUser, StoredTokens } from './session-store.js';
export { SqliteSessionStore } from './sqlite-session-store.js';
export { RedisSessionStore } from './redis-session-store.js';
export type { RedisSessionStoreOptions } from './redis-session-store.js';

export { BackendForFrontend, readCookie } from './bff.js';
export type { BffOptions, BffRequest, BffResponse, LatchkeyContext } from './bff.js';
export { latchkeyFastify } from './fastify.js';
export { latchkeyExpress } from './express.js';
export type { ExpressLikeMiddleware, ExpressLikeRequest, ExpressLikeResponse } from './express.js';
