/**
 * Small helpers shared by the back-channel requests: URL policy, form bodies, client
 * authentication, and the run-time checks every JSON response goes through.
 */
import { invalidArgument, ResponseBodyError, UnexpectedResponseError } from './errors.js';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How the client authenticates at the token and revocation endpoints (RFC 6749 §2.3.1, OAuth 2.1 §2.4). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface ClientCredentials {
  clientId: string;
  clientSecret?: string | undefined;
  authMethod: ClientAuthMethod;
}

export interface HttpOptions {
  fetch?: FetchLike | undefined;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number | undefined;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * RFC 9700 §2.6 / OAuth 2.1 §1.5: endpoints must use TLS. Plain http is accepted only on the
 * loopback interface, so that development setups and tests work without a switch that could be
 * left on in production.
 */
export function requireSecureUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument(`${what} must be an absolute URL; got ${JSON.stringify(value)}. Check the configuration or the server's metadata.`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw invalidArgument(`${what} must use https (plain http is only allowed on 127.0.0.1, [::1] and localhost); got ${value}.`);
}

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 asks for Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Adds client authentication to a back-channel request's headers and body. */
export function applyClientAuth(credentials: ClientCredentials, headers: Headers, body: URLSearchParams): void {
  switch (credentials.authMethod) {
    case 'client_secret_basic': {
      // RFC 6749 §2.3.1: id and secret are form-encoded, then joined with ':' and base64-encoded.
      const pair = `${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret ?? '')}`;
      headers.set('authorization', `Basic ${btoa(pair)}`);
      return;
    }
    case 'client_secret_post':
      // RFC 6749 §2.3.1 / OAuth 2.1 §2.4.1: credentials in the request body.
      body.set('client_id', credentials.clientId);
      body.set('client_secret', credentials.clientSecret ?? '');
      return;
    case 'none':
      // RFC 6749 §3.2.1: a public client identifies itself with client_id; PKCE protects the code.
      body.set('client_id', credentials.clientId);
      return;
  }
}

/** POSTs a form to a back-channel endpoint, never following redirects. */
export async function postForm(url: string, body: URLSearchParams, headers: Headers, options: HttpOptions): Promise<Response> {
  headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
  headers.set('accept', 'application/json');
  return (options.fetch ?? fetch)(url, {
    method: 'POST',
    headers,
    body: body.toString(),
    // A back-channel endpoint that redirects is misconfigured; following would resend credentials.
    redirect: 'manual',
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
}

export type JsonObject = Record<string, unknown>;

function isJsonContentType(response: Response): boolean {
  const type = response.headers.get('content-type') ?? '';
  return /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type);
}

/** Reads a JSON object body, refusing anything else (STYLE.md pattern 7: validate, never cast). */
export async function readJsonObject(response: Response, endpoint: string): Promise<JsonObject> {
  if (!isJsonContentType(response)) {
    throw new UnexpectedResponseError(
      endpoint,
      `expected an application/json body, got content-type ${JSON.stringify(response.headers.get('content-type'))} with HTTP ${response.status}. Check the endpoint URL.`,
      { status: response.status },
    );
  }
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch (cause) {
    throw new UnexpectedResponseError(endpoint, `the body is not valid JSON (HTTP ${response.status}).`, { status: response.status, cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UnexpectedResponseError(endpoint, `the body is JSON but not an object (HTTP ${response.status}).`, { status: response.status });
  }
  return parsed as JsonObject;
}

/**
 * RFC 6749 §5.2: an error response is 400 (or 401 for invalid_client) with a JSON body whose
 * `error` is a string. Throws ResponseBodyError for one, UnexpectedResponseError for any other
 * non-200 answer.
 */
export async function throwForErrorResponse(response: Response, endpoint: string, okStatus = 200): Promise<void> {
  if (response.status === okStatus) return;
  if (response.status >= 400 && response.status < 500 && isJsonContentType(response)) {
    const body = await readJsonObject(response, endpoint);
    if (typeof body.error === 'string' && body.error.length > 0) {
      const description = typeof body.error_description === 'string' ? body.error_description : undefined;
      throw new ResponseBodyError(endpoint, response.status, body.error, description);
    }
  }
  throw new UnexpectedResponseError(
    endpoint,
    `expected HTTP ${okStatus}, got HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (a redirect: check the endpoint URL)' : ''} without an OAuth error body.`,
    { status: response.status },
  );
}

/** Field readers for a parsed JSON object: each checks the type and says which field is wrong. */
export function requiredString(body: JsonObject, field: string, endpoint: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new UnexpectedResponseError(endpoint, `the response has no "${field}" string${value === undefined ? '' : ` (got ${typeof value})`}.`);
  }
  return value;
}

export function optionalString(body: JsonObject, field: string, endpoint: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new UnexpectedResponseError(endpoint, `"${field}" must be a string, got ${typeof value}.`);
  return value;
}

export function optionalBoolean(body: JsonObject, field: string, endpoint: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new UnexpectedResponseError(endpoint, `"${field}" must be a boolean, got ${typeof value}.`);
  return value;
}

export function optionalStringArray(body: JsonObject, field: string, endpoint: string): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new UnexpectedResponseError(endpoint, `"${field}" must be an array of strings.`);
  }
  return value;
}
