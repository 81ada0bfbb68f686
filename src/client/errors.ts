/**
 * The client library's error kinds. Each one answers a different question for the developer:
 *
 * - `AuthorizationResponseError`: the authorization server redirected back with `error=…`
 *   (RFC 6749 §4.1.2.1). The user or the server said no; `message` says why in plain words.
 * - `CallbackValidationError`: the redirect back could not be trusted (forged or missing `state`,
 *   foreign `iss`, a callback this session never started, a replay). `code` says which check failed.
 * - `ResponseBodyError`: a back-channel endpoint answered with an OAuth error body
 *   (RFC 6749 §5.2, RFC 7009 §2.2.1): `status`, `error`, `error_description`.
 * - `UnexpectedResponseError`: a back-channel endpoint answered with something that is not a valid
 *   OAuth response at all (wrong status, not JSON, a field missing or of the wrong type).
 * - `NotSignedInError`: there is no usable sign-in for this session (never signed in, signed out,
 *   or the grant is gone and the session was signed out).
 * - `TypeError`: the caller passed something invalid (configuration, arguments).
 *
 * Every message names the thing to check.
 */

/** Plain-words explanations of the registered authorization error codes (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 8707 §2). */
const authorizationErrorExplanations: Readonly<Record<string, string>> = {
  access_denied:
    'The user declined the request on the consent page, or the authorization server refused it for this user. Nothing is wrong with the client; let the user try again.',
  login_required:
    'The authorization server needs the user to log in, but the request asked for no interaction (prompt=none). Start the sign-in again without prompt=none.',
  consent_required:
    'The user has not yet consented to this client and scope, but the request asked for no interaction (prompt=none). Start the sign-in again without prompt=none.',
  interaction_required:
    'The authorization server needs the user to interact, but the request asked for no interaction (prompt=none). Start the sign-in again without prompt=none.',
  invalid_request:
    'The authorization server rejected the authorization request as malformed. Check the client configuration (redirect_uri, scope, resource) against what is registered at the server.',
  unauthorized_client:
    'The authorization server does not allow this client to use the authorization code grant. Check the grant types registered for the client.',
  unsupported_response_type: 'The authorization server does not support response_type=code for this client. Check the client registration.',
  invalid_scope: 'The requested scope is unknown to the authorization server or not allowed for this client. Check the configured scope against the client registration.',
  invalid_target: 'The requested resource (RFC 8707) is not one this client may ask for. Check the configured resource against the client registration.',
  server_error: 'The authorization server met an unexpected error. Try again later; if it persists, check the authorization server logs.',
  temporarily_unavailable: 'The authorization server is temporarily unable to handle the request (overloaded or under maintenance). Try again later.',
};

/** The plain-words explanation for an authorization error code (falls back to a generic one). */
export function explainAuthorizationError(error: string): string {
  return (
    authorizationErrorExplanations[error] ??
    `The authorization server answered with the error "${error}", which this library does not know. Check the authorization server's documentation for it.`
  );
}

/** The server redirected back with an error instead of a code (RFC 6749 §4.1.2.1). */
export class AuthorizationResponseError extends Error {
  readonly error: string;
  readonly error_description: string | undefined;
  readonly error_uri: string | undefined;
  /** The parameters of the redirect back, for logging. */
  readonly parameters: URLSearchParams;

  constructor(parameters: URLSearchParams) {
    const error = parameters.get('error') ?? 'unknown';
    const description = parameters.get('error_description') ?? undefined;
    super(`${explainAuthorizationError(error)}${description ? ` (server said: ${description})` : ''}`);
    this.name = 'AuthorizationResponseError';
    this.error = error;
    this.error_description = description;
    this.error_uri = parameters.get('error_uri') ?? undefined;
    this.parameters = parameters;
  }
}

export type CallbackValidationCode =
  /** No authorization was started in this session, or it was already completed (a replay). */
  | 'no_pending_authorization'
  /** The callback carries no `state`. */
  | 'state_missing'
  /** The callback's `state` is not the one this session sent. */
  | 'state_mismatch'
  /** The server advertises RFC 9207 but the callback carries no `iss`. */
  | 'iss_missing'
  /** The callback's `iss` is not the configured issuer (a mix-up attack or a misconfiguration). */
  | 'iss_mismatch'
  /** The callback has neither `code` nor `error`, or repeats a parameter. */
  | 'malformed_callback'
  /** The pending authorization is older than its lifetime. */
  | 'authorization_expired';

/** The redirect back failed a check and must not be used (RFC 6749 §10.12, RFC 9207 §2.4, RFC 9700 §2.1). */
export class CallbackValidationError extends Error {
  readonly code: CallbackValidationCode;

  constructor(code: CallbackValidationCode, message: string) {
    super(message);
    this.name = 'CallbackValidationError';
    this.code = code;
  }
}

/** A back-channel endpoint answered with an OAuth error body (RFC 6749 §5.2, RFC 7009 §2.2.1). */
export class ResponseBodyError extends Error {
  readonly status: number;
  readonly error: string;
  readonly error_description: string | undefined;
  /** Which request failed: 'token', 'refresh', 'revocation'. */
  readonly endpoint: string;

  constructor(endpoint: string, status: number, error: string, description: string | undefined) {
    super(`${describeEndpoint(endpoint)} answered HTTP ${status} with error "${error}"${description ? `: ${description}` : ''}. ${adviceFor(endpoint, error)}`);
    this.name = 'ResponseBodyError';
    this.endpoint = endpoint;
    this.status = status;
    this.error = error;
    this.error_description = description;
  }
}

function describeEndpoint(endpoint: string): string {
  switch (endpoint) {
    case 'token':
      return 'The token endpoint (code exchange)';
    case 'refresh':
      return 'The token endpoint (refresh)';
    case 'revocation':
      return 'The revocation endpoint';
    case 'discovery':
      return 'The metadata endpoint';
    default:
      return `The ${endpoint} endpoint`;
  }
}

function adviceFor(endpoint: string, error: string): string {
  switch (error) {
    case 'invalid_client':
      return 'Check client_id, client_secret and the client authentication method against the client registration.';
    case 'invalid_grant':
      return endpoint === 'refresh'
        ? 'The refresh token is expired, revoked or was already used: the user has to sign in again.'
        : 'The code is expired, already used, or does not match the redirect_uri or PKCE verifier sent with it. Check redirect_uri is identical to the authorization request, and that the callback is not processed twice.';
    case 'unauthorized_client':
      return 'Check that the client is registered for this grant type.';
    case 'invalid_scope':
      return 'Check the requested scope against the client registration.';
    case 'unsupported_grant_type':
      return 'Check that the server supports this grant type.';
    case 'unsupported_token_type':
      return 'The server does not revoke this token type.';
    default:
      return 'Check the authorization server logs for the reason.';
  }
}

/** A back-channel endpoint answered with something that is not a valid OAuth response. */
export class UnexpectedResponseError extends Error {
  readonly status: number | undefined;
  readonly endpoint: string;

  constructor(endpoint: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(`${describeEndpoint(endpoint)}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UnexpectedResponseError';
    this.endpoint = endpoint;
    this.status = options.status;
  }
}

export type NotSignedInReason =
  /** No session, or the session holds no tokens. */
  | 'no_session'
  /** The refresh was refused with invalid_grant (revoked, expired or reused): the session was signed out. */
  | 'grant_revoked'
  /** The access token expired and there is no refresh token: the session was signed out. */
  | 'expired';

/** There is no usable sign-in for this session; send the user to /login. */
export class NotSignedInError extends Error {
  readonly reason: NotSignedInReason;

  constructor(reason: NotSignedInReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotSignedInError';
    this.reason = reason;
  }
}

/** A caller mistake (configuration or arguments), coded like Node's own argument errors. */
export function invalidArgument(message: string): TypeError {
  const error = new TypeError(message);
  (error as TypeError & { code: string }).code = 'ERR_INVALID_ARG_VALUE';
  return error;
}
