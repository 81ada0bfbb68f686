/**
 * The back-channel half: the token endpoint (RFC 6749 §4.1.3, §6; RFC 7636 §4.5) and the
 * revocation endpoint (RFC 7009). Each request function returns the raw Response; its
 * process…() partner validates it at run time.
 */
import type { AuthorizationServerMetadata } from './discovery.js';
import { invalidArgument, UnexpectedResponseError } from './errors.js';
import type { ClientCredentials, HttpOptions } from './http.js';
import { applyClientAuth, optionalString, postForm, readJsonObject, requiredString, throwForErrorResponse } from './http.js';

/** A validated token response (RFC 6749 §5.1). Wire names stay snake_case. */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  /** Seconds, if the server said. */
  expires_in: number | undefined;
  refresh_token: string | undefined;
  /** The granted scope, if the server sent it (RFC 6749 §5.1: absent means as requested). */
  scope: string | undefined;
  id_token: string | undefined;
}

/** POSTs grant_type=authorization_code with the PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export function authorizationCodeGrantRequest(
  metadata: AuthorizationServerMetadata,
  client: ClientCredentials,
  parameters: { code: string; redirectUri: string; codeVerifier: string; resource?: string | undefined },
  options: HttpOptions = {},
): Promise<Response> {
  const body = new URLSearchParams();
  body.set('grant_type', 'authorization_code');
  body.set('code', parameters.code);
  // RFC 6749 §4.1.3: redirect_uri is required when it was in the authorization request (always here).
  body.set('redirect_uri', parameters.redirectUri);
  body.set('code_verifier', parameters.codeVerifier);
  if (parameters.resource !== undefined) body.set('resource', parameters.resource);
  const headers = new Headers();
  applyClientAuth(client, headers, body);
  return postForm(metadata.token_endpoint, body, headers, options);
}

/** POSTs grant_type=refresh_token (RFC 6749 §6). */
export function refreshTokenGrantRequest(
  metadata: AuthorizationServerMetadata,
  client: ClientCredentials,
  refreshToken: string,
  options: HttpOptions & { resource?: string | undefined } = {},
): Promise<Response> {
  const body = new URLSearchParams();
  body.set('grant_type', 'refresh_token');
  body.set('refresh_token', refreshToken);
  if (options.resource !== undefined) body.set('resource', options.resource);
  const headers = new Headers();
  applyClientAuth(client, headers, body);
  return postForm(metadata.token_endpoint, body, headers, options);
}

/**
 * Validates a token response: HTTP 200, a JSON object, and every field of the right type
 * (STYLE.md pattern 7; oslo's cast of the body is the anti-pattern this avoids).
 * `endpoint` is 'token' or 'refresh', for the error messages.
 */
export async function processTokenResponse(response: Response, endpoint: 'token' | 'refresh' = 'token'): Promise<TokenResponse> {
  await throwForErrorResponse(response, endpoint);
  const body = await readJsonObject(response, endpoint);
  const accessToken = requiredString(body, 'access_token', endpoint);
  const tokenType = requiredString(body, 'token_type', endpoint);
  // RFC 6749 §7.1: the client must understand the token type; this library sends Bearer tokens
  // (RFC 6750) only. The value is case-insensitive (RFC 6749 §5.1).
  if (tokenType.toLowerCase() !== 'bearer') {
    throw new UnexpectedResponseError(endpoint, `token_type is ${JSON.stringify(tokenType)}; this client only uses Bearer tokens (RFC 6750). Check the client's registration (e.g. DPoP binding).`);
  }
  const expiresIn = body.expires_in;
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0)) {
    throw new UnexpectedResponseError(endpoint, `expires_in must be a positive number of seconds, got ${JSON.stringify(expiresIn)}.`);
  }
  const refreshToken = optionalString(body, 'refresh_token', endpoint);
  if (refreshToken === '') throw new UnexpectedResponseError(endpoint, 'refresh_token is an empty string.');
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: expiresIn,
    refresh_token: refreshToken,
    scope: optionalString(body, 'scope', endpoint),
    id_token: optionalString(body, 'id_token', endpoint),
  };
}

/** POSTs a token to the revocation endpoint (RFC 7009 §2.1). */
export function revocationRequest(
  metadata: AuthorizationServerMetadata,
  client: ClientCredentials,
  token: string,
  tokenTypeHint: 'refresh_token' | 'access_token',
  options: HttpOptions = {},
): Promise<Response> {
  if (metadata.revocation_endpoint === undefined) {
    throw invalidArgument(`${metadata.issuer} publishes no revocation_endpoint; check for it before calling revocationRequest().`);
  }
  const body = new URLSearchParams();
  body.set('token', token);
  body.set('token_type_hint', tokenTypeHint);
  const headers = new Headers();
  applyClientAuth(client, headers, body);
  return postForm(metadata.revocation_endpoint, body, headers, options);
}

/** RFC 7009 §2.2: HTTP 200 means revoked (or already invalid); the body is ignored. */
export async function processRevocationResponse(response: Response): Promise<void> {
  await throwForErrorResponse(response, 'revocation');
  await response.body?.cancel();
}
