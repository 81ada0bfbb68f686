/**
 * The front-channel half: building the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3)
 * and checking the redirect back (RFC 6749 §4.1.2, RFC 9207 §2.4, RFC 9700 §2.1).
 */
import type { AuthorizationServerMetadata } from './discovery.js';
import { AuthorizationResponseError, CallbackValidationError, invalidArgument } from './errors.js';
import { constantTimeEqual } from './random.js';

export interface AuthorizationRequestParameters {
  clientId: string;
  redirectUri: string;
  /** Space-separated scope (RFC 6749 §3.3). */
  scope: string;
  state: string;
  codeChallenge: string;
  /** RFC 8707 resource indicator (the audience of the access token). */
  resource?: string | undefined;
  /** Any other parameters (e.g. prompt). They cannot override the ones above. */
  extra?: Record<string, string> | undefined;
}

const PROTECTED = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource']);

/** The URL to send the browser to. */
export function buildAuthorizationUrl(metadata: AuthorizationServerMetadata, parameters: AuthorizationRequestParameters): URL {
  const url = new URL(metadata.authorization_endpoint);
  for (const [name, value] of Object.entries(parameters.extra ?? {})) {
    if (PROTECTED.has(name)) throw invalidArgument(`extra authorization parameter "${name}" is set by the library; remove it from the extra parameters.`);
    url.searchParams.set(name, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', parameters.clientId);
  url.searchParams.set('redirect_uri', parameters.redirectUri);
  if (parameters.scope) url.searchParams.set('scope', parameters.scope);
  url.searchParams.set('state', parameters.state);
  // RFC 7636 §4.3 / RFC 9700 §2.1.1 (checklist P10): always S256, a fresh pair per attempt.
  url.searchParams.set('code_challenge', parameters.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (parameters.resource !== undefined) url.searchParams.set('resource', parameters.resource);
  return url;
}

/** The result of a callback that passed every check. */
export interface ValidatedCallback {
  code: string;
}

/**
 * Checks the parameters of the redirect back, in this order:
 * 1. no parameter is repeated;
 * 2. `iss` (RFC 9207 §2.4), before anything else in the response is believed, errors included;
 * 3. `state` (RFC 6749 §10.12, RFC 9700 §2.1), in constant time;
 * 4. `error` → AuthorizationResponseError (RFC 6749 §4.1.2.1);
 * 5. `code` present.
 */
export function validateAuthorizationResponse(
  metadata: AuthorizationServerMetadata,
  parameters: URLSearchParams,
  expectedState: string,
): ValidatedCallback {
  for (const name of ['code', 'state', 'iss', 'error']) {
    if (parameters.getAll(name).length > 1) {
      throw new CallbackValidationError('malformed_callback', `The callback repeats the "${name}" parameter; a genuine authorization response never does. Start the sign-in again.`);
    }
  }

  const iss = parameters.get('iss');
  if (iss === null) {
    // RFC 9207 §2.4: "Authorization servers that advertise support ... MUST" send iss; a client
    // talking to such a server must refuse a response without it (checklist M1).
    if (metadata.authorization_response_iss_parameter_supported === true) {
      throw new CallbackValidationError(
        'iss_missing',
        `The callback has no "iss" parameter, but ${metadata.issuer} advertises authorization_response_iss_parameter_supported (RFC 9207). The response may come from another server (mix-up attack); start the sign-in again.`,
      );
    }
  } else if (iss !== metadata.issuer) {
    // RFC 9207 §2.4: iss must be identical (simple string comparison) to the expected issuer.
    throw new CallbackValidationError(
      'iss_mismatch',
      `The callback's "iss" is ${JSON.stringify(iss)} but this sign-in was started at ${JSON.stringify(metadata.issuer)} (RFC 9207 §2.4). This is a mix-up attack or two clients sharing one redirect_uri: check that each authorization server has its own redirect_uri.`,
    );
  }

  const state = parameters.get('state');
  if (state === null) {
    // RFC 6749 §4.1.2: state is REQUIRED in the response when it was in the request (it always is).
    throw new CallbackValidationError('state_missing', 'The callback has no "state" parameter, so it cannot be matched to this session (RFC 6749 §4.1.2). Start the sign-in again.');
  }
  // RFC 6749 §10.12 / RFC 9700 §2.1: the state binds the response to this user agent (CSRF).
  if (!constantTimeEqual(state, expectedState)) {
    throw new CallbackValidationError(
      'state_mismatch',
      'The callback\'s "state" does not match the one this session sent (RFC 6749 §10.12): it is forged (CSRF), from an older attempt, or from another browser tab. Start the sign-in again.',
    );
  }

  if (parameters.has('error')) throw new AuthorizationResponseError(parameters);

  const code = parameters.get('code');
  if (code === null || code.length === 0) {
    throw new CallbackValidationError('malformed_callback', 'The callback has neither "code" nor "error" (RFC 6749 §4.1.2). Check that the redirect_uri points at the callback route.');
  }
  return { code };
}
