/**
 * RFC 6750 §3 answers: the `WWW-Authenticate: Bearer …` challenge, the status code and a small JSON
 * body. Only the codes registered by RFC 6750 §3.1 reach the wire; the internal reason travels in
 * `detail`, for logs only.
 */

/** RFC 6750 §3.1 error codes (the only ones a resource server sends). */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** RFC 6750 §3.1: the status each code SHOULD be answered with. */
const statusOf: Readonly<Record<BearerErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
};

export interface Failure {
  ok: false;
  status: number;
  /** The `WWW-Authenticate` header value; null only when the resource server itself is unavailable. */
  wwwAuthenticate: string | null;
  /** A small JSON body: `error` is absent when the request carried no token (RFC 6750 §3.1). */
  body: { error?: string; error_description: string };
  /** Machine-readable internal reason: for logs, never sent. */
  detail: string;
}

export interface ChallengeContext {
  realm: string;
  /** RFC 9728 §5.1: where the client finds this resource's metadata (null: not published). */
  resourceMetadataUrl: string | null;
}

/**
 * RFC 7235 §2.1 quoted-string: `"` and `\` are escaped with a backslash. Characters that are not
 * allowed in a quoted-string at all (controls, DEL, non-ASCII) are dropped.
 */
export function quote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if ((code >= 0x20 && code < 0x7f) || code === 0x09) out += char;
  }
  return `${out}"`;
}

/**
 * RFC 6750 §3: `error_description` "MUST NOT include characters outside the set %x20-21 / %x23-5B /
 * %x5D-7E", i.e. printable ASCII without `"` and `\`. Our descriptions are fixed text, but this keeps
 * the rule true whatever a caller passes.
 */
function descriptionText(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');
}

/**
 * RFC 6750 §3: scope tokens are %x21 / %x23-5B / %x5D-7E, separated by single spaces. A scope
 * that cannot be written there cannot be asked for on the wire either.
 */
function scopeText(scopes: readonly string[]): string {
  return scopes.filter((scope) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)).join(' ');
}

function challenge(
  context: ChallengeContext,
  error?: { code: BearerErrorCode; description: string; scope?: readonly string[] },
): string {
  const parts = [`realm=${quote(context.realm)}`];
  if (error) {
    parts.push(`error=${quote(error.code)}`, `error_description=${quote(descriptionText(error.description))}`);
    // RFC 6750 §3: the scope attribute names the scope needed to access the resource.
    if (error.scope && error.scope.length > 0) parts.push(`scope=${quote(scopeText(error.scope))}`);
  }
  // RFC 9728 §5.1: resource_metadata in the challenge tells the client where to discover the AS.
  if (context.resourceMetadataUrl !== null) parts.push(`resource_metadata=${quote(context.resourceMetadataUrl)}`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * RFC 6750 §3.1: "If the request lacks any authentication information (e.g., the client was unaware
 * that authentication is necessary or attempted using an unsupported authentication method), the
 * resource server SHOULD NOT include an error code or other error information."
 */
export function missingToken(context: ChallengeContext, detail = 'no bearer token'): Failure {
  return {
    ok: false,
    status: 401,
    wwwAuthenticate: challenge(context),
    body: { error_description: 'An access token is required in the Authorization header (Bearer).' },
    detail,
  };
}

/** An RFC 6750 §3.1 error: invalid_request (400), invalid_token (401) or insufficient_scope (403). */
export function bearerError(
  context: ChallengeContext,
  code: BearerErrorCode,
  description: string,
  detail: string,
  scope?: readonly string[],
): Failure {
  const error = scope === undefined ? { code, description } : { code, description, scope };
  return {
    ok: false,
    status: statusOf[code],
    wwwAuthenticate: challenge(context, error),
    body: { error: code, error_description: descriptionText(description) },
    detail,
  };
}

/**
 * The resource server cannot check tokens at all (the authorization server's metadata or keys are
 * unreachable). Not the client's fault, so not invalid_token: a client that saw invalid_token would
 * throw away a good token.
 */
export function unavailable(detail: string): Failure {
  return {
    ok: false,
    status: 503,
    wwwAuthenticate: null,
    body: { error: 'temporarily_unavailable', error_description: 'Access tokens cannot be checked right now.' },
    detail,
  };
}

/** The failure as a Web `Response` (for fetch-style frameworks: Hono, Workers, Deno, Bun). */
export function failureResponse(failure: Failure): Response {
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  if (failure.wwwAuthenticate !== null) headers.set('www-authenticate', failure.wwwAuthenticate);
  return new Response(JSON.stringify(failure.body), { status: failure.status, headers });
}
