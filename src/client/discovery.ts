/**
 * Discovery of authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0).
 */
import { UnexpectedResponseError } from './errors.js';
import type { HttpOptions, JsonObject } from './http.js';
import {
  optionalBoolean,
  optionalString,
  optionalStringArray,
  readJsonObject,
  requiredString,
  requireSecureUrl,
  throwForErrorResponse,
} from './http.js';

/** The metadata fields this library uses; wire names stay snake_case. */
export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string | undefined;
  userinfo_endpoint?: string | undefined;
  code_challenge_methods_supported?: string[] | undefined;
  token_endpoint_auth_methods_supported?: string[] | undefined;
  revocation_endpoint_auth_methods_supported?: string[] | undefined;
  scopes_supported?: string[] | undefined;
  /** RFC 9207 §3: the server sends `iss` in every authorization response. */
  authorization_response_iss_parameter_supported?: boolean | undefined;
  /** Every field of the document, for anything not listed above. */
  raw: JsonObject;
}

export type DiscoveryAlgorithm = 'oauth2' | 'oidc';

/**
 * The well-known URL for an issuer.
 * - RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
 * - OpenID Connect Discovery §4: `/.well-known/openid-configuration` is appended to the issuer.
 */
export function wellKnownUrl(issuer: string, algorithm: DiscoveryAlgorithm): URL {
  const url = requireSecureUrl(issuer, 'The issuer');
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const result = new URL(url.origin);
  result.pathname =
    algorithm === 'oauth2' ? `/.well-known/oauth-authorization-server${path}` : `${path}/.well-known/openid-configuration`;
  return result;
}

/** GETs the metadata document. Pair with processDiscoveryResponse(). */
export function discoveryRequest(issuer: string, algorithm: DiscoveryAlgorithm, options: HttpOptions = {}): Promise<Response> {
  return (options.fetch ?? fetch)(wellKnownUrl(issuer, algorithm), {
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
}

/** Validates a metadata response at run time and checks it belongs to `expectedIssuer`. */
export async function processDiscoveryResponse(expectedIssuer: string, response: Response): Promise<AuthorizationServerMetadata> {
  const endpoint = 'discovery';
  await throwForErrorResponse(response, endpoint);
  const body = await readJsonObject(response, endpoint);
  const issuer = requiredString(body, 'issuer', endpoint);
  // RFC 8414 §3.3: "The issuer value returned MUST be identical to the authorization server's
  // issuer identifier value into which the well-known URI string was inserted"; otherwise the
  // document must not be used (it could point the client at another server's endpoints).
  if (issuer !== expectedIssuer) {
    throw new UnexpectedResponseError(
      endpoint,
      `the document's issuer ${JSON.stringify(issuer)} is not the configured issuer ${JSON.stringify(expectedIssuer)}. They must be identical strings (RFC 8414 §3.3): check the issuer setting, including the scheme, port and any trailing slash.`,
    );
  }
  const metadata: AuthorizationServerMetadata = {
    issuer,
    authorization_endpoint: requiredString(body, 'authorization_endpoint', endpoint),
    token_endpoint: requiredString(body, 'token_endpoint', endpoint),
    revocation_endpoint: optionalString(body, 'revocation_endpoint', endpoint),
    userinfo_endpoint: optionalString(body, 'userinfo_endpoint', endpoint),
    code_challenge_methods_supported: optionalStringArray(body, 'code_challenge_methods_supported', endpoint),
    token_endpoint_auth_methods_supported: optionalStringArray(body, 'token_endpoint_auth_methods_supported', endpoint),
    revocation_endpoint_auth_methods_supported: optionalStringArray(body, 'revocation_endpoint_auth_methods_supported', endpoint),
    scopes_supported: optionalStringArray(body, 'scopes_supported', endpoint),
    authorization_response_iss_parameter_supported: optionalBoolean(body, 'authorization_response_iss_parameter_supported', endpoint),
    raw: body,
  };
  requireSecureUrl(metadata.authorization_endpoint, 'The authorization_endpoint in the server metadata');
  requireSecureUrl(metadata.token_endpoint, 'The token_endpoint in the server metadata');
  if (metadata.revocation_endpoint !== undefined) requireSecureUrl(metadata.revocation_endpoint, 'The revocation_endpoint in the server metadata');
  // RFC 9700 §2.1.1 / RFC 8414 §2: a server that lists its PKCE methods without S256 cannot be
  // used, because this client sends S256 only (checklist P5, P7).
  const methods = metadata.code_challenge_methods_supported;
  if (methods !== undefined && !methods.includes('S256')) {
    throw new UnexpectedResponseError(
      endpoint,
      `the server lists code_challenge_methods_supported ${JSON.stringify(methods)} without S256; this client uses PKCE with S256 only (RFC 9700 §2.1.1). Enable S256 at the server.`,
    );
  }
  return metadata;
}

/**
 * Fetches the metadata for `issuer`: RFC 8414's location first, then OpenID Connect's if the
 * first answers 404 (many OpenID providers publish only the latter).
 */
export async function discover(issuer: string, options: HttpOptions = {}): Promise<AuthorizationServerMetadata> {
  const first = await discoveryRequest(issuer, 'oauth2', options);
  if (first.status !== 404) return processDiscoveryResponse(issuer, first);
  await first.body?.cancel();
  const second = await discoveryRequest(issuer, 'oidc', options);
  if (second.status === 404) {
    await second.body?.cancel();
    throw new UnexpectedResponseError(
      'discovery',
      `neither ${wellKnownUrl(issuer, 'oauth2').href} nor ${wellKnownUrl(issuer, 'oidc').href} exists (HTTP 404). Check the issuer URL.`,
      { status: 404 },
    );
  }
  return processDiscoveryResponse(issuer, second);
}
