/**
 * The framework-agnostic core of `latchkey/resource`: checks the bearer access token of a request
 * and answers failures the RFC 6750 §3 way. Framework adapters (./fastify.ts, ./express.ts) only
 * translate requests and replies.
 */
import { createHash } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { findBearerToken, type BearerRequestParts } from './bearer.js';
import { BoundedMap } from './bounded-map.js';
import { bearerError, missingToken, unavailable, type ChallengeContext, type Failure } from './challenge.js';
import { discover, DiscoveryError, fetchJson, type AuthorizationServerMetadata, type FetchLike } from './discovery.js';
import { IntrospectionError, Introspector, type IntrospectionOptions } from './introspection.js';
import { JwksCache, JwksUnavailableError, UnknownKeyError, type JwksCacheStats } from './jwks-cache.js';
import { protectedResourceMetadataUrl, type ProtectedResourceMetadata } from './metadata.js';

export interface ResourceServerOptions {
  /** The authorization server's issuer identifier, exactly as in its metadata and tokens. */
  issuer: string;
  /** This API's resource identifier: tokens must name it in `aud` (RFC 9068 §4, RFC 8707). */
  audience: string;
  /**
   * Signature algorithms accepted. Default: the common asymmetric JWS algorithms. Symmetric
   * (HS*) and `none` are refused: a resource server holds only public keys.
   */
  algorithms?: string[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds. Default 10. */
  clockToleranceSeconds?: number;
  /** The `realm` of every challenge. Default: the audience. */
  realm?: string;
  /**
   * Where this API's RFC 9728 metadata is served. Default: derived from `audience` as RFC 9728
   * §3.1 says, when the audience is an http(s) URL; otherwise none is published.
   */
  resourceMetadataUrl?: string;
  /** Extra RFC 9728 §2 metadata: `scopes_supported`, `resource_name`, `resource_documentation`. */
  metadata?: { scopesSupported?: string[]; resourceName?: string; resourceDocumentation?: string };
  /**
   * RFC 7662 mode: ask the authorization server about every token (cached per `cacheSeconds`),
   * so a revocation is seen at once, at the price of one request to the issuer per token.
   */
  introspection?: IntrospectionOptions;
  /** JWKS cache tuning. */
  jwks?: {
    /** Refresh the key set in the background after this many seconds. Default 600. */
    maxAgeSeconds?: number;
    /** After a burst, an unknown `kid` may cause a refetch at most once per interval. Default 1. */
    refetchIntervalSeconds?: number;
    /** Unknown-kid refetches allowed back to back. Default 3. */
    refetchBurst?: number;
    /** How long a request may wait for the next allowed refetch before failing. Default 2. */
    maxWaitSeconds?: number;
  };
  /**
   * Remember tokens whose signature and fixed claims (iss, aud, typ, alg) were verified, so a
   * client reusing its token costs a map look-up instead of a signature check. Time claims
   * (exp, nbf) are checked again on every request; the cache is emptied when the issuer withdraws
   * a key. `false` verifies every request in full. Default: 10,000 tokens.
   */
  verifiedTokenCache?: false | { maxEntries: number };
  /** Timeout for each request to the authorization server, in ms. Default 5,000. */
  timeoutMs?: number;
  fetch?: FetchLike;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
}

/** A verified access token. */
export interface AccessToken {
  sub: string;
  scope: string[];
  clientId: string;
  claims: JWTPayload;
}

export type AuthenticationResult = { ok: true; token: AccessToken } | Failure;

export interface AuthenticateOptions {
  /** Every one of these scopes is required (RFC 6750 §3.1 insufficient_scope otherwise). */
  scope?: readonly string[];
}

export interface ResourceServer {
  readonly issuer: string;
  readonly audience: string;
  /** RFC 9728 metadata URL (null when not published) and the path an adapter serves it on. */
  readonly resourceMetadataUrl: string | null;
  readonly resourceMetadataPath: string | null;
  /** Checks a Web `Request`. */
  authenticate(request: Request, options?: AuthenticateOptions): Promise<AuthenticationResult>;
  /** Checks what a framework adapter extracted from its own request object. */
  authenticateParts(parts: BearerRequestParts, options?: AuthenticateOptions): Promise<AuthenticationResult>;
  /** RFC 6750 §3.1: insufficient_scope (403) unless the token holds every one of `scopes`. */
  requireScope(token: AccessToken, ...scopes: string[]): AuthenticationResult;
  /** The RFC 9728 §2 document for this API. */
  protectedResourceMetadata(): ProtectedResourceMetadata;
  /** Discovers the issuer and loads its keys now, instead of on the first request. */
  ready(): Promise<void>;
  stats(): { jwks: JwksCacheStats; introspectionCalls: number; verifiedTokens: number };
}

const defaultAlgorithms = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];
const noQuery = { has: () => false };
const hasFormBody = /^application\/x-www-form-urlencoded\b/i;

/** Retry a failed discovery no sooner than this, so a down issuer is not asked on every request. */
const discoveryRetryMs = 2_000;

function checkAlgorithms(algorithms: string[]): string[] {
  if (algorithms.length === 0) throw new TypeError('algorithms must not be empty');
  for (const alg of algorithms) {
    // RFC 9068 §4: "The resource server MUST reject any JWT in which the value of "alg" is "none"."
    // RFC 8725 §3.1: an HMAC key would be the issuer's public key, which anyone can sign with.
    if (alg === 'none' || /^HS/i.test(alg)) throw new TypeError(`algorithm ${alg} cannot be used to verify access tokens`);
  }
  return [...algorithms];
}

function splitScope(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (typeof value !== 'string') return null;
  return value.split(' ').filter((scope) => scope !== '');
}

export function createResourceServer(options: ResourceServerOptions): ResourceServer {
  const { issuer, audience } = options;
  if (typeof issuer !== 'string' || !URL.canParse(issuer)) throw new TypeError('issuer must be a URL');
  if (typeof audience !== 'string' || audience === '') throw new TypeError('audience must be a non-empty string');
  const algorithms = checkAlgorithms(options.algorithms ?? defaultAlgorithms);
  const clockTolerance = options.clockToleranceSeconds ?? 10;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  const resourceMetadataUrl = options.resourceMetadataUrl ?? protectedResourceMetadataUrl(audience);
  const context: ChallengeContext = { realm: options.realm ?? audience, resourceMetadataUrl };

  let metadata: Promise<AuthorizationServerMetadata> | null = null;
  let discoveryFailedAt = Number.NEGATIVE_INFINITY;
  let discoveryFailure = '';
  function authorizationServer(): Promise<AuthorizationServerMetadata> {
    if (metadata === null) {
      if (now() - discoveryFailedAt < discoveryRetryMs) {
        return Promise.reject(new DiscoveryError(`${discoveryFailure} (not retried yet)`));
      }
      const attempt = discover(issuer, fetchImpl, timeoutMs);
      metadata = attempt;
      attempt.catch((error: unknown) => {
        discoveryFailedAt = now();
        discoveryFailure = error instanceof Error ? error.message : String(error);
        metadata = null;
      });
    }
    return metadata;
  }

  const verified = options.verifiedTokenCache === false ? null : new BoundedMap<string, AccessToken>(options.verifiedTokenCache?.maxEntries ?? 10_000);
  const jwksOptions = options.jwks ?? {};
  const jwks = new JwksCache({
    load: async () => {
      const { jwksUri } = await authorizationServer();
      return (await fetchJson(fetchImpl, jwksUri, { method: 'GET' }, timeoutMs)) as never;
    },
    now,
    maxAgeMs: (jwksOptions.maxAgeSeconds ?? 600) * 1000,
    refetchIntervalMs: (jwksOptions.refetchIntervalSeconds ?? 1) * 1000,
    refetchBurst: Math.max(1, jwksOptions.refetchBurst ?? 3),
    maxWaitMs: (jwksOptions.maxWaitSeconds ?? 2) * 1000,
    onKeysRemoved: () => verified?.clear(),
    worthRefetching: (header, token) => {
      if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) return false;
      let claims: Record<string, unknown>;
      try {
        claims = JSON.parse(Buffer.from(String(token.payload), 'base64url').toString('utf8')) as Record<string, unknown>;
      } catch {
        return false;
      }
      // Unverified, so only ever a reason to skip a refetch, never to accept anything.
      const aud = claims['aud'];
      const exp = claims['exp'];
      return (
        claims['iss'] === issuer &&
        (aud === audience || (Array.isArray(aud) && aud.includes(audience))) &&
        typeof exp === 'number' &&
        exp > now() / 1000 - clockTolerance
      );
    },
  });

  const introspector =
    options.introspection === undefined
      ? null
      : new Introspector(
          options.introspection,
          async () => {
            const { introspectionEndpoint } = await authorizationServer();
            if (introspectionEndpoint === null) throw new IntrospectionError('the issuer publishes no introspection_endpoint');
            return introspectionEndpoint;
          },
          fetchImpl,
          now,
          timeoutMs,
        );

  const verifyOptions = {
    issuer,
    audience,
    algorithms,
    // RFC 9068 §4: "Resource servers MUST verify that the "typ" header value is "at+jwt" or
    // "application/at+jwt" and reject tokens carrying any other value." (jose accepts both forms.)
    typ: 'at+jwt',
    clockTolerance,
    // RFC 9068 §2.2: exp, iat, sub and client_id are REQUIRED (iss and aud are checked by value).
    requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
  };

  function invalidToken(description: string, detail: string): Failure {
    return bearerError(context, 'invalid_token', description, detail);
  }

  /** Maps a jose or key-set failure onto an RFC 6750 §3.1 answer. */
  function verificationFailure(error: unknown): Failure {
    if (error instanceof JwksUnavailableError || error instanceof DiscoveryError) return unavailable(error.message);
    if (error instanceof UnknownKeyError) {
      return invalidToken('The access token was signed with a key this resource does not know.', error.message);
    }
    if (error instanceof errors.JWTExpired) {
      // RFC 9068 §4 / RFC 7519 §4.1.4: the current time MUST be before exp (allowing for skew).
      return invalidToken('The access token has expired.', `${error.claim}: ${error.message}`);
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      switch (error.claim) {
        case 'aud':
          // A2, RFC 9068 §4 and RFC 9700 §2.3: a token for another audience is refused.
          return invalidToken('The access token is not meant for this resource.', `aud: ${error.message}`);
        case 'iss':
          // RFC 9068 §4: "iss" MUST exactly match the issuer the resource server trusts.
          return invalidToken('The access token was not issued by the expected authorization server.', `iss: ${error.message}`);
        case 'nbf':
          return invalidToken('The access token is not valid yet.', `nbf: ${error.message}`);
        case 'typ':
          return invalidToken('The token is not a JWT access token (typ must be at+jwt).', `typ: ${error.message}`);
        default:
          return invalidToken('The access token is missing a required claim or has an invalid one.', `${error.claim}: ${error.message}`);
      }
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      // RFC 9068 §4: only the algorithms this resource accepts; never "none" (RFC 8725 §3.1).
      return invalidToken('The access token is signed with an algorithm this resource does not accept.', `alg: ${error.message}`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSMultipleMatchingKeys) {
      return invalidToken('The access token signature is not valid.', `signature: ${error.message}`);
    }
    if (error instanceof errors.JOSEError) {
      return invalidToken('The access token is malformed.', `${error.code}: ${error.message}`);
    }
    return invalidToken('The access token is not valid.', error instanceof Error ? error.message : String(error));
  }

  async function verifyJwt(token: string): Promise<AuthenticationResult> {
    const key = verified === null ? '' : createHash('sha256').update(token).digest('base64url');
    const known = verified?.get(key);
    if (known !== undefined) {
      jwks.touch();
      // The signature, iss, aud, typ and alg of this exact token were verified before; only the
      // time claims can have changed their verdict since (RFC 9068 §4 via RFC 7519 §4.1.4, §4.1.5).
      const seconds = now() / 1000;
      if (known.claims.exp !== undefined && known.claims.exp <= seconds - clockTolerance) {
        verified?.delete(key);
        return invalidToken('The access token has expired.', 'exp: cached token expired');
      }
      if (known.claims.nbf !== undefined && known.claims.nbf > seconds + clockTolerance) {
        return invalidToken('The access token is not valid yet.', 'nbf: cached token not valid yet');
      }
      return { ok: true, token: known };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks.getKey, options.now ? { ...verifyOptions, currentDate: new Date(now()) } : verifyOptions));
    } catch (error) {
      return verificationFailure(error);
    }
    const result = accessTokenFrom(payload);
    if (result.ok) verified?.set(key, result.token);
    return result;
  }

  function accessTokenFrom(claims: JWTPayload): AuthenticationResult {
    const scope = splitScope(claims['scope']);
    const clientId = claims['client_id'];
    // RFC 9068 §2.2.3: scope is a space-delimited string (RFC 8693 §4.2); sub and client_id are strings.
    if (scope === null) return invalidToken('The access token has an invalid scope claim.', 'scope is not a string');
    if (typeof claims.sub !== 'string') return invalidToken('The access token has an invalid sub claim.', 'sub is not a string');
    if (typeof clientId !== 'string') return invalidToken('The access token has an invalid client_id claim.', 'client_id is not a string');
    // Frozen: one verified token may serve many requests (see verifiedTokenCache).
    const token: AccessToken = Object.freeze({ sub: claims.sub, scope: Object.freeze(scope) as string[], clientId, claims: Object.freeze({ ...claims }) });
    return { ok: true, token };
  }

  async function introspect(token: string, introspection: Introspector): Promise<AuthenticationResult> {
    let answer;
    try {
      answer = await introspection.introspect(token);
    } catch (error) {
      if (error instanceof IntrospectionError || error instanceof DiscoveryError) return unavailable(error.message);
      throw error;
    }
    // RFC 7662 §2.2: "active": false covers revoked, expired, unknown and not-for-you tokens alike.
    if (!answer.active) return invalidToken('The access token is not active.', 'introspection: active false');
    const { claims } = answer;
    const seconds = now() / 1000;
    // RFC 7662 §4: the resource server still checks what the answer says about the token.
    if (claims['iss'] !== undefined && claims['iss'] !== issuer) {
      return invalidToken('The access token was not issued by the expected authorization server.', 'introspection: iss');
    }
    const aud = claims['aud'];
    // A2, RFC 9700 §2.3: the resource server refuses a token meant for another audience; an answer
    // that names no audience cannot show the token is meant for this one.
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) {
      return invalidToken('The access token is not meant for this resource.', 'introspection: aud');
    }
    const tokenType = claims['token_type'];
    if (typeof tokenType === 'string' && !/^(bearer|access_token)$/i.test(tokenType)) {
      return invalidToken('The token is not an access token.', `introspection: token_type ${tokenType}`);
    }
    if (typeof claims['exp'] === 'number' && claims['exp'] <= seconds - clockTolerance) {
      return invalidToken('The access token has expired.', 'introspection: exp');
    }
    if (typeof claims['nbf'] === 'number' && claims['nbf'] > seconds + clockTolerance) {
      return invalidToken('The access token is not valid yet.', 'introspection: nbf');
    }
    return accessTokenFrom(claims as JWTPayload);
  }

  function requireScope(token: AccessToken, ...scopes: string[]): AuthenticationResult {
    const missing = scopes.filter((scope) => !token.scope.includes(scope));
    if (missing.length === 0) return { ok: true, token };
    // RFC 6750 §3.1 insufficient_scope: 403, and the challenge's scope attribute names the scope
    // "necessary to access the protected resource" (RFC 6750 §3).
    return bearerError(
      context,
      'insufficient_scope',
      'The access token does not carry the scope this request needs.',
      `missing scope: ${missing.join(' ')}`,
      scopes,
    );
  }

  async function authenticateParts(parts: BearerRequestParts, authOptions?: AuthenticateOptions): Promise<AuthenticationResult> {
    const found = findBearerToken(parts);
    if (found.kind === 'none') return missingToken(context, found.detail);
    if (found.kind === 'invalid_request') return bearerError(context, 'invalid_request', found.description, found.detail);
    const result = introspector === null ? await verifyJwt(found.token) : await introspect(found.token, introspector);
    if (!result.ok || authOptions?.scope === undefined || authOptions.scope.length === 0) return result;
    return requireScope(result.token, ...authOptions.scope);
  }

  async function authenticate(request: Request, authOptions?: AuthenticateOptions): Promise<AuthenticationResult> {
    const url = request.url;
    const queryAt = url.indexOf('?');
    const query = queryAt === -1 ? noQuery : new URLSearchParams(url.slice(queryAt + 1).split('#')[0]);
    let bodyHasAccessToken = false;
    // A6: look for (never use) a token in a form body, so the request can be refused.
    if (request.body !== null && hasFormBody.test(request.headers.get('content-type') ?? '')) {
      bodyHasAccessToken = new URLSearchParams(await request.clone().text()).has('access_token');
    }
    return authenticateParts({ authorization: request.headers.get('authorization'), query, bodyHasAccessToken }, authOptions);
  }

  const metadataPath = resourceMetadataUrl === null ? null : new URL(resourceMetadataUrl).pathname;

  return {
    issuer,
    audience,
    resourceMetadataUrl,
    resourceMetadataPath: metadataPath,
    authenticate,
    authenticateParts,
    requireScope,
    protectedResourceMetadata: () => ({
      resource: audience,
      authorization_servers: [issuer],
      // RFC 9728 §2: the only method this resource accepts (A6).
      bearer_methods_supported: ['header'],
      ...(options.metadata?.scopesSupported ? { scopes_supported: [...options.metadata.scopesSupported] } : {}),
      ...(options.metadata?.resourceName ? { resource_name: options.metadata.resourceName } : {}),
      ...(options.metadata?.resourceDocumentation ? { resource_documentation: options.metadata.resourceDocumentation } : {}),
    }),
    ready: async () => {
      await authorizationServer();
      if (introspector === null) await jwks.refresh();
    },
    stats: () => ({ jwks: { ...jwks.stats }, introspectionCalls: introspector?.calls ?? 0, verifiedTokens: verified?.size ?? 0 }),
  };
}
