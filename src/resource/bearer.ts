/**
 * Finding the access token in a request: only ever the `Authorization: Bearer` header.
 */

/** What a framework adapter knows about a request before any token is checked. */
export interface BearerRequestParts {
  /** The raw `Authorization` header, if any. */
  authorization: string | null | undefined;
  /** The request's query parameters (a `URLSearchParams` will do). */
  query: { has(name: string): boolean };
  /** True when a form-encoded body carries an `access_token` parameter. */
  bodyHasAccessToken: boolean;
}

export type BearerLookup =
  | { kind: 'token'; token: string }
  | { kind: 'none'; detail: string }
  | { kind: 'invalid_request'; description: string; detail: string };

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`,
 * `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. The scheme name is
 * case-insensitive (RFC 7235 §2.1).
 */
const bearerCredentials = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const bearerScheme = /^Bearer(?: |$)/i;

export function findBearerToken(parts: BearerRequestParts): BearerLookup {
  // A6, RFC 9700 §4.3.2: "Clients MUST NOT pass access tokens in a URI query parameter in the way
  // described in Section 2.3 of [RFC6750]". RFC 6750 itself does not forbid the resource server
  // to accept one: §2.2 (form body) and §2.3 (query) both say "Resource servers MAY support this
  // method", and §5.3 says bearer tokens "SHOULD NOT be passed in page URLs"; OAuth 2.1 drops the
  // query method. Latchkey supports neither. A request that uses one gets RFC 6750 §3.1
  // invalid_request ("includes an unsupported parameter", or "uses more than one method" when the
  // header is there too), so the token is never authenticated from there and the client learns why.
  if (parts.query.has('access_token')) {
    return {
      kind: 'invalid_request',
      description: 'Access tokens are accepted only in the Authorization header, never in the query string.',
      detail: 'access_token in query',
    };
  }
  if (parts.bodyHasAccessToken) {
    return {
      kind: 'invalid_request',
      description: 'Access tokens are accepted only in the Authorization header, never in the request body.',
      detail: 'access_token in form body',
    };
  }

  const header = parts.authorization;
  if (header === null || header === undefined || header === '') return { kind: 'none', detail: 'no Authorization header' };
  // RFC 6750 §3.1: a request that "attempted using an unsupported authentication method" is
  // answered like one without credentials: a bare challenge, no error code.
  if (!bearerScheme.test(header)) return { kind: 'none', detail: 'Authorization header is not Bearer' };

  const match = bearerCredentials.exec(header);
  if (!match?.[1]) {
    // RFC 6750 §3.1 invalid_request: the request "is otherwise malformed".
    return {
      kind: 'invalid_request',
      description: 'The Authorization header must hold the Bearer scheme, a space and one token.',
      detail: 'malformed Bearer credentials',
    };
  }
  return { kind: 'token', token: match[1] };
}
