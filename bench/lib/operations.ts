/**
 * The operations each row repeats, written once for both servers: only paths, client
 * credentials and the session cookie differ (see targets.ts).
 */
import { describe, type FlowContext, type HttpRequest, type Step, type Verdict } from './load.js';
import { pkceParams } from './pkce.js';
import { REDIRECT_URI, type Target } from './targets.js';

export interface IssuedCode {
  code: string;
  verifier: string;
}
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
}

const FORM = 'application/x-www-form-urlencoded';

const basicHeaders = new WeakMap<Target, string>();

/** The Basic authorization header for the target's client, built once per target. */
function basic(target: Target): string {
  let authorization = basicHeaders.get(target);
  if (!authorization) {
    // RFC 6749 §2.3.1: each part form-urlencoded before base64.
    const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
    authorization = `Basic ${Buffer.from(`${encode(target.clientId)}:${encode(target.clientSecret)}`).toString('base64')}`;
    basicHeaders.set(target, authorization);
  }
  return authorization;
}

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

function json(body: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** `name`'s value in a query string, or undefined. */
function queryValue(query: string, name: string): string | undefined {
  for (let at = 0; at < query.length; ) {
    const end = query.indexOf('&', at);
    const pair = query.slice(at, end < 0 ? query.length : end);
    if (pair.startsWith(`${name}=`)) return decodeURIComponent(pair.slice(name.length + 1).replace(/\+/g, ' '));
    if (end < 0) break;
    at = end + 1;
  }
  return undefined;
}

/** GET /authorize with a user's session cookie (the users in turn), fresh PKCE and state; expects a 303 to the redirect URI with code and the same state. */
export function authorizeStep(target: Target): Step {
  let user = 0;
  return {
    name: 'authorize',
    build(context) {
      const { verifier, state, params } = pkceParams(target);
      context.verifier = verifier;
      context.state = state;
      const cookie = target.cookies[user++ % target.cookies.length]!;
      return { method: 'GET', path: `${target.authorizationPath}?${form(params)}`, headers: { cookie } };
    },
    check(status, body, headers, context): Verdict {
      const location = header(headers, 'location');
      if (status !== 303 && status !== 302) return { error: describe(status, body) };
      if (!location?.startsWith(`${REDIRECT_URI}?`)) return { error: `HTTP ${status} to ${location?.slice(0, 80)}` };
      const query = location.slice(REDIRECT_URI.length + 1);
      const code = queryValue(query, 'code');
      if (!code || queryValue(query, 'state') !== context.state) return { error: `HTTP ${status} without code or with another state: ${location.slice(0, 100)}` };
      context.code = code;
      return { next: true };
    },
  };
}

/** application/x-www-form-urlencoded, as URLSearchParams would write it, for the few characters these values hold. */
function form(fields: Record<string, string>): string {
  let out = '';
  for (const name in fields) out += `${out ? '&' : ''}${name}=${encodeURIComponent(fields[name]!).replace(/%20/g, '+')}`;
  return out;
}

function tokenRequest(target: Target, fields: Record<string, string>): HttpRequest {
  return { method: 'POST', path: target.tokenPath, headers: { authorization: basic(target), 'content-type': FORM }, body: form(fields) };
}

function tokenCheck(status: number, body: string, onTokens?: (tokens: IssuedTokens) => void): Verdict {
  const answer = status === 200 ? json(body) : undefined;
  if (!answer || typeof answer.access_token !== 'string') return { error: describe(status, body) };
  if (onTokens && typeof answer.refresh_token === 'string') onTokens({ accessToken: answer.access_token, refreshToken: answer.refresh_token });
  return { done: true };
}

/** POST /token (authorization_code) with the code from the previous step. */
export function exchangeStep(target: Target): Step {
  return {
    name: 'token',
    build(context: FlowContext) {
      return tokenRequest(target, { grant_type: 'authorization_code', code: context.code as string, redirect_uri: REDIRECT_URI, code_verifier: context.verifier as string });
    },
    check: (status, body) => tokenCheck(status, body),
  };
}

/** GET /authorize alone, keeping each code (and its verifier) for the token-endpoint row. */
export function mintCodeStep(target: Target, into: IssuedCode[], limit: number): Step {
  const authorize = authorizeStep(target);
  let started = 0;
  return {
    name: 'authorize (minting codes)',
    build(context) {
      if (started >= limit) return undefined;
      started += 1;
      return authorize.build(context);
    },
    check(status, body, headers, context) {
      const verdict = authorize.check(status, body, headers, context);
      if ('next' in verdict) {
        into.push({ code: context.code as string, verifier: context.verifier as string });
        return { done: true };
      }
      return verdict;
    },
  };
}

/**
 * How many items (codes, refresh tokens) of each pool have been sent. Shared by every step on the
 * pool, so that several steps in turn (bench/ab.ts) never send one twice. A cursor, not
 * `pool.shift()`: an array of more than about 16,000 elements lives in V8's large-object space,
 * which cannot drop its first element in place, so each shift copied the whole pool (about 80 µs
 * per request at 100,000 codes, in the load generator, which shares the cores with the server it
 * measures).
 */
const taken = new WeakMap<unknown[], number>();

/** The pool's next item not yet sent by any step, or undefined once all have been. */
function takeNext<T>(pool: T[]): T | undefined {
  const next = taken.get(pool) ?? 0;
  const item = pool[next];
  if (item !== undefined) taken.set(pool, next + 1);
  return item;
}

/** POST /token (authorization_code), each code of the pool once, oldest first; keeps the tokens issued. */
export function poolExchangeStep(target: Target, pool: IssuedCode[], issued: IssuedTokens[]): Step {
  return {
    name: 'token (authorization_code)',
    build() {
      const item = takeNext(pool);
      if (!item) return undefined;
      return tokenRequest(target, { grant_type: 'authorization_code', code: item.code, redirect_uri: REDIRECT_URI, code_verifier: item.verifier });
    },
    check: (status, body) => tokenCheck(status, body, (tokens) => issued.push(tokens)),
  };
}

/**
 * POST /token (refresh_token), each refresh token of the pool once (rotation); keeps the successors.
 * With `issued` the pool itself, each successor is refreshed in its turn and the pool never runs out.
 */
export function refreshStep(target: Target, pool: IssuedTokens[], issued: IssuedTokens[]): Step {
  return {
    name: 'token (refresh_token)',
    build() {
      const item = takeNext(pool);
      return item && tokenRequest(target, { grant_type: 'refresh_token', refresh_token: item.refreshToken });
    },
    check(status, body) {
      const answer = status === 200 ? json(body) : undefined;
      // Rotation: a new refresh token with every answer.
      if (!answer || typeof answer.access_token !== 'string' || typeof answer.refresh_token !== 'string') return { error: describe(status, body) };
      issued.push({ accessToken: answer.access_token, refreshToken: answer.refresh_token });
      return { done: true };
    },
  };
}

/** POST to the introspection endpoint, cycling through the pool (introspection consumes nothing); expects active: true. */
export function introspectStep(target: Target, tokens: string[], hint: 'refresh_token' | 'access_token'): Step {
  let next = 0;
  return {
    name: `introspect (${hint})`,
    build() {
      if (tokens.length === 0) return undefined;
      const token = tokens[next++ % tokens.length]!;
      return {
        method: 'POST',
        path: target.introspectionPath,
        headers: { authorization: basic(target), 'content-type': FORM },
        body: form({ token, token_type_hint: hint }),
      };
    },
    check(status, body) {
      const answer = status === 200 ? json(body) : undefined;
      return answer?.active === true ? { done: true } : { error: describe(status, body) };
    },
  };
}
