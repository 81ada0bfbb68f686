// @ts-check
/**
 * "What just happened": the demo records, for one browser's sign-in, every message of the
 * Authorization Code Grant that it can see — the app's redirects and callback, the back-channel
 * calls the app makes through the client library's injectable `fetch`, and (because the three
 * servers run in one process) the browser's requests to the authorization server — and draws
 * them as a sequence diagram with the RFC section behind each step.
 *
 * Everything is redacted when it is recorded, not when it is shown: codes, tokens, state,
 * verifiers, secrets and cookies keep only their first few characters; passwords nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Html, html } from './html.js';

/** @typedef {'browser' | 'app' | 'as' | 'api'} Actor */
/** @typedef {'discovery' | 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'refresh' | 'signout' | 'revoke' | 'page'} StepId */
/**
 * @typedef {{ method: string, url: string, headers: Array<[string, string]>, body?: string }} RecordedRequest
 * @typedef {{ status: number, headers: Array<[string, string]>, body?: string }} RecordedResponse
 * @typedef {{ step: StepId, responseStep: StepId, from: Actor, to: Actor, request: RecordedRequest,
 *   response: RecordedResponse, requestAt: number, responseAt: number, note?: string,
 *   claims?: Record<string, unknown> }} Exchange
 * @typedef {{ id: string, startedAt: number, exchanges: Exchange[], landed: boolean, apiCalls: number }} Flow
 */

export const FLOW_COOKIE = 'latchkey-demo-flow';

/** Parameters whose values are secrets or one-time values: only a prefix is kept. */
const PARTIAL = new Set(['code', 'state', 'code_verifier', 'access_token', 'refresh_token', 'id_token', 'token', 'interaction', '_csrf', 'jti', 'grant_id']);
/** Never shown at all. */
const HIDDEN = new Set(['password', 'client_secret']);

/** First few characters and an ellipsis: enough to follow a value from step to step, useless to anyone else. */
export function redactValue(/** @type {string} */ value) {
  if (value.length <= 10) return '…';
  return `${value.slice(0, 6)}…`;
}

/** @param {string} name @param {string} value */
function redactParam(name, value) {
  if (HIDDEN.has(name)) return '••••••••';
  if (PARTIAL.has(name)) return redactValue(value);
  return value;
}

/** Redacts the query of a URL (keeps the rest). */
export function redactUrl(/** @type {string} */ url) {
  const parsed = new URL(url);
  if (parsed.search === '') return url;
  const params = [...parsed.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(redactParam(k, v)).replace(/%E2%80%A6/g, '…').replace(/%E2%80%A2/g, '•')}`);
  return `${parsed.origin}${parsed.pathname}?${params.join('&')}`;
}

/** A form body, redacted and one parameter per line for reading. */
export function redactForm(/** @type {string} */ body) {
  return [...new URLSearchParams(body)].map(([k, v]) => `${k}=${redactParam(k, v)}`).join('&\n');
}

/** A JSON body with token-like members redacted. */
export function redactJson(/** @type {string} */ body) {
  try {
    const value = JSON.parse(body);
    return JSON.stringify(value, (key, v) => (typeof v === 'string' && key !== '' ? redactParam(key, v) : v), 2);
  } catch {
    return body.length > 600 ? `${body.slice(0, 600)}…` : body;
  }
}

/** @param {string} name @param {string} value */
export function redactHeader(name, value) {
  const lower = name.toLowerCase();
  if (lower === 'authorization') {
    const [scheme = '', credentials = ''] = value.split(' ');
    return `${scheme} ${redactValue(credentials)}`;
  }
  if (lower === 'cookie') {
    return value
      .split(';')
      .map((part) => {
        const [k = '', ...rest] = part.trim().split('=');
        return `${k}=${redactValue(rest.join('='))}`;
      })
      .join('; ');
  }
  if (lower === 'set-cookie') {
    const [pair = '', ...attributes] = value.split(';');
    const index = pair.indexOf('=');
    const cookieValue = pair.slice(index + 1);
    return [`${pair.slice(0, index)}=${cookieValue === '' ? '' : redactValue(cookieValue)}`, ...attributes].join(';');
  }
  if (lower === 'location') {
    try {
      return redactUrl(value);
    } catch {
      return value;
    }
  }
  return value;
}

/** The claims of a JWT access token (RFC 9068), without verifying it: for display only. */
function jwtClaims(/** @type {string} */ token) {
  const [header, payload] = token.split('.');
  if (!header || !payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    /** @type {Record<string, unknown>} */
    const shown = {};
    for (const [k, v] of Object.entries(claims)) shown[k] = typeof v === 'string' && PARTIAL.has(k) ? redactValue(v) : v;
    return { header: head, claims: shown };
  } catch {
    return undefined;
  }
}

/** @param {Headers | Record<string, string> | Array<[string, string]> | undefined} headers @returns {Array<[string, string]>} */
function headerList(headers) {
  /** @type {Array<[string, string]>} */
  const out = [];
  if (headers === undefined) return out;
  new Headers(headers).forEach((value, name) => out.push([name, value]));
  return out;
}

/** Headers worth showing (the rest is transport noise). */
const SHOWN_HEADERS = new Set(['authorization', 'content-type', 'location', 'set-cookie', 'cookie', 'cache-control', 'www-authenticate', 'accept']);

/** @param {Array<[string, string]>} headers */
function keepHeaders(headers) {
  return headers.filter(([k]) => SHOWN_HEADERS.has(k.toLowerCase())).map(([k, v]) => /** @type {[string, string]} */ ([k, redactHeader(k, v)]));
}

export class FlowRecorder {
  /** @type {Map<string, Flow>} */
  #flows = new Map();
  /** @type {AsyncLocalStorage<Flow | undefined>} */
  als = new AsyncLocalStorage();
  /** @type {WeakMap<object, Flow>} */
  #byRequest = new WeakMap();

  /** @param {{ issuer: string, appUrl: string, apiUrl: string, redirectUri: string }} urls */
  constructor(urls) {
    this.urls = urls;
  }

  /** A new flow for a sign-in that starts now; the oldest go when more than 200 are kept. */
  start() {
    const flow = { id: randomBytes(16).toString('base64url'), startedAt: Date.now(), exchanges: [], landed: false, apiCalls: 0 };
    this.#flows.set(flow.id, flow);
    if (this.#flows.size > 200) this.#flows.delete(/** @type {string} */ (this.#flows.keys().next().value));
    return flow;
  }

  /** @param {string | undefined} cookieHeader */
  fromCookie(cookieHeader) {
    if (!cookieHeader) return undefined;
    for (const part of cookieHeader.split(';')) {
      const [name, value] = part.trim().split('=');
      if (name === FLOW_COOKIE && value) return this.#flows.get(value);
    }
    return undefined;
  }

  cookie(/** @type {Flow} */ flow) {
    return `${FLOW_COOKIE}=${flow.id}; Path=/; HttpOnly; SameSite=Lax`;
  }

  /** @param {Flow} flow @param {Omit<Exchange, 'responseStep'> & { responseStep?: StepId }} exchange */
  add(flow, exchange) {
    if (flow.exchanges.length >= 60) return;
    flow.exchanges.push({ ...exchange, responseStep: exchange.responseStep ?? exchange.step });
  }

  /**
   * The fetch the client library is given: records each back-channel call of the flow that is
   * current in this async context (set per request by the app), then returns the response as is.
   *
   * @param {typeof fetch} inner
   * @returns {(input: string | URL | Request, init?: RequestInit) => Promise<Response>}
   */
  fetch(inner) {
    return async (input, init = {}) => {
      const flow = this.als.getStore();
      const requestAt = performance.now();
      const response = await inner(input, init);
      if (flow === undefined) return response;
      try {
        await this.#recordFetch(flow, input, init, response, requestAt);
      } catch {
        // Recording is best effort; the flow itself must never fail because of it.
      }
      return response;
    };
  }

  /**
   * @param {Flow} flow @param {string | URL | Request} input @param {RequestInit} init
   * @param {Response} response @param {number} requestAt
   */
  async #recordFetch(flow, input, init, response, requestAt) {
    const url = new URL(input instanceof Request ? input.url : input);
    const method = (init.method ?? 'GET').toUpperCase();
    const rawBody = typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : undefined;
    const form = rawBody !== undefined && !rawBody.trimStart().startsWith('{') ? new URLSearchParams(rawBody) : undefined;
    const responseText = await response.clone().text();
    const isApi = url.origin === new URL(this.urls.apiUrl).origin;
    /** @type {StepId} */
    let step = 'page';
    /** @type {StepId | undefined} */
    let responseStep;
    /** @type {Record<string, unknown> | undefined} */
    let claims;
    if (isApi) {
      if (flow.landed || flow.apiCalls >= 4) return;
      flow.apiCalls++;
      step = 'F';
      responseStep = 'G';
    } else if (url.pathname.includes('/.well-known/')) {
      step = 'discovery';
    } else if (form?.get('grant_type') === 'authorization_code') {
      step = 'D';
      responseStep = 'E';
      try {
        const token = JSON.parse(responseText).access_token;
        if (typeof token === 'string') claims = jwtClaims(token);
      } catch {
        // not JSON: shown as text below
      }
    } else if (form?.get('grant_type') === 'refresh_token') {
      step = 'refresh';
    } else if (form?.has('token')) {
      step = 'revoke';
    }
    const contentType = response.headers.get('content-type') ?? '';
    this.add(flow, {
      step,
      responseStep: responseStep ?? step,
      from: 'app',
      to: isApi ? 'api' : 'as',
      request: {
        method,
        url: redactUrl(url.href),
        headers: keepHeaders(headerList(/** @type {Headers | Record<string, string> | undefined} */ (init.headers))),
        ...(rawBody !== undefined ? { body: form ? redactForm(rawBody) : redactJson(rawBody) } : {}),
      },
      response: {
        status: response.status,
        headers: keepHeaders(headerList(response.headers)),
        ...(responseText !== '' ? { body: contentType.includes('json') ? redactJson(responseText) : responseText.slice(0, 300) } : {}),
      },
      requestAt,
      responseAt: performance.now(),
      ...(claims ? { claims } : {}),
    });
  }

  /**
   * Hooks for a Fastify server of the demo: the app (`actor` 'app') or the authorization server
   * ('as'). Records the browser's requests of a flow and, for the app, makes the flow current
   * for the back-channel calls made while answering.
   *
   * @param {import('fastify').FastifyInstance} app
   * @param {'app' | 'as'} actor
   */
  instrument(app, actor) {
    app.addHook('onRequest', (request, reply, done) => {
      const path = request.url.split('?')[0];
      let flow = this.fromCookie(request.headers.cookie);
      if (actor === 'app' && path === '/login' && request.method === 'GET') {
        // Every sign-in starts a new recording.
        flow = this.start();
        reply.header('set-cookie', this.cookie(flow));
      }
      if (flow) this.#byRequest.set(request, flow);
      this.als.run(flow, done);
    });
    app.addHook('onResponse', async (request, reply) => {
      const flow = this.#byRequest.get(request);
      if (flow === undefined) return;
      const path = request.url.split('?')[0] ?? '/';
      const exchange = this.#browserExchange(flow, actor, request, reply, path);
      if (exchange) this.add(flow, exchange);
    });
  }

  /**
   * @param {Flow} flow @param {'app' | 'as'} actor
   * @param {import('fastify').FastifyRequest} request @param {import('fastify').FastifyReply} reply @param {string} path
   * @returns {Omit<Exchange, 'responseStep'> & { responseStep?: StepId } | undefined}
   */
  #browserExchange(flow, actor, request, reply, path) {
    const responseAt = performance.now();
    const requestAt = responseAt - reply.elapsedTime;
    const location = reply.getHeader('location');
    const locationText = typeof location === 'string' ? location : undefined;
    const toCallback = locationText?.startsWith(this.urls.redirectUri) ?? false;
    /** @type {StepId | undefined} */
    let step;
    /** @type {StepId | undefined} */
    let responseStep;
    if (actor === 'as') {
      if (path === '/authorize') step = 'A';
      else if (path === '/login' || path === '/consent') step = 'B';
      else return undefined;
      if (toCallback) responseStep = 'C';
    } else {
      if (path === '/login' && request.method === 'GET') step = 'A';
      else if (path === new URL(this.urls.redirectUri).pathname) step = 'C';
      else if (path === '/logout' && request.method === 'POST') step = 'signout';
      else if (path === '/' && request.method === 'GET' && !flow.landed && flow.exchanges.some((e) => e.step === 'D')) {
        step = 'page';
        flow.landed = true;
      } else return undefined;
    }
    const rawBody = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : undefined;
    const setCookie = reply.getHeader('set-cookie');
    const responseHeaders = /** @type {Array<[string, string]>} */ ([]);
    if (locationText) responseHeaders.push(['location', locationText]);
    for (const line of Array.isArray(setCookie) ? setCookie : typeof setCookie === 'string' ? [setCookie] : []) {
      // The recording's own cookie is not part of the protocol.
      if (!String(line).startsWith(`${FLOW_COOKIE}=`)) responseHeaders.push(['set-cookie', String(line)]);
    }
    const contentType = reply.getHeader('content-type');
    if (typeof contentType === 'string') responseHeaders.push(['content-type', contentType]);
    const origin = actor === 'as' ? this.urls.issuer : this.urls.appUrl;
    return {
      step,
      ...(responseStep ? { responseStep } : {}),
      from: 'browser',
      to: actor,
      request: {
        method: request.method,
        url: redactUrl(new URL(request.url, origin).href),
        headers: [],
        ...(rawBody ? { body: redactForm(rawBody) } : {}),
      },
      response: {
        status: reply.statusCode,
        headers: keepHeaders(responseHeaders),
        ...(reply.statusCode === 200 && typeof contentType === 'string' && contentType.includes('html') ? { body: describePage(actor, path) } : {}),
      },
      requestAt,
      responseAt,
    };
  }
}

/** @param {'app' | 'as'} actor @param {string} path */
function describePage(actor, path) {
  if (actor === 'as' && path === '/login') return '[the sign-in page: username and password, sent only to the authorization server]';
  if (actor === 'as' && path === '/consent') return '[the consent page: the app’s name and the scopes in plain words, Allow or Deny]';
  if (actor === 'app') return '[the notes page: your name and notes, loaded from the API by the app; no token in it]';
  return '[a page]';
}

// ---------------------------------------------------------------------------------------------
// The page

/** @type {Record<Actor, string>} */
const ACTOR_NAMES = { browser: 'Your browser', app: 'Demo app (BFF)', as: 'Authorization server', api: 'Demo API' };

/**
 * @typedef {{ letter: string, title: string, summary: string, refs: Array<[string, string]> }} StepInfo
 * @type {Record<StepId, StepInfo>}
 */
export const STEPS = {
  discovery: {
    letter: '0',
    title: 'Discovery',
    summary:
      'Before the first sign-in, the app reads the authorization server’s metadata: where its authorization, token and revocation endpoints are, and which options it supports (PKCE S256, iss in responses). It is cached, so later sign-ins skip this.',
    refs: [['RFC 8414 §3', 'https://www.rfc-editor.org/rfc/rfc8414#section-3']],
  },
  A: {
    letter: 'A',
    title: 'Authorization request',
    summary:
      'The app sends your browser to the authorization server with what it asks for: its client_id, the exact redirect_uri to come back to, the scopes, the API the token is for (resource), a random state, and a PKCE code_challenge — the SHA-256 of a code_verifier that never leaves the app’s server.',
    refs: [
      ['RFC 6749 §4.1.1', 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1'],
      ['RFC 7636 §4.3', 'https://www.rfc-editor.org/rfc/rfc7636#section-4.3'],
      ['RFC 8707 §2', 'https://www.rfc-editor.org/rfc/rfc8707#section-2'],
    ],
  },
  B: {
    letter: 'B',
    title: 'You sign in and decide',
    summary:
      'The authorization server — not the app — checks your password and asks whether the app may have these scopes. The app never sees your password; it only learns the outcome in step C.',
    refs: [
      ['RFC 6749 §4.1 (B)', 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1'],
      ['RFC 9700 §4.16', 'https://www.rfc-editor.org/rfc/rfc9700#section-4.16'],
    ],
  },
  C: {
    letter: 'C',
    title: 'Authorization response',
    summary:
      'The server sends your browser back to the registered redirect_uri with a short-lived, one-time code, the same state, and iss (who issued the code). The app checks that state is the one it stored for this browser (so nobody can slip their code into your session) and that iss is the server it started at (mix-up defence).',
    refs: [
      ['RFC 6749 §4.1.2', 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2'],
      ['RFC 9207 §2', 'https://www.rfc-editor.org/rfc/rfc9207#section-2'],
      ['RFC 6749 §10.12', 'https://www.rfc-editor.org/rfc/rfc6749#section-10.12'],
    ],
  },
  D: {
    letter: 'D',
    title: 'Access token request',
    summary:
      'Server to server, out of the browser’s sight: the app posts the code, the same redirect_uri and the code_verifier to the token endpoint, authenticating with its own client secret. The server checks that SHA-256(code_verifier) equals the code_challenge of step A — proof that whoever finishes the flow also started it — and marks the code used.',
    refs: [
      ['RFC 6749 §4.1.3', 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3'],
      ['RFC 7636 §4.5', 'https://www.rfc-editor.org/rfc/rfc7636#section-4.5'],
      ['RFC 7636 §4.6', 'https://www.rfc-editor.org/rfc/rfc7636#section-4.6'],
      ['RFC 6749 §2.3.1', 'https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1'],
    ],
  },
  E: {
    letter: 'E',
    title: 'Access token response',
    summary:
      'The server answers with a short-lived access token (a signed JWT whose claims say who it is for, which API and which scopes), a refresh token, and Cache-Control: no-store. The app keeps both in its server-side session store; your browser gets only an opaque session cookie.',
    refs: [
      ['RFC 6749 §4.1.4', 'https://www.rfc-editor.org/rfc/rfc6749#section-4.1.4'],
      ['RFC 6749 §5.1', 'https://www.rfc-editor.org/rfc/rfc6749#section-5.1'],
      ['RFC 9068 §2', 'https://www.rfc-editor.org/rfc/rfc9068#section-2'],
    ],
  },
  F: {
    letter: 'F',
    title: 'Protected resource request',
    summary: 'To build your page, the app calls the notes API with the access token in the Authorization header — never in the URL.',
    refs: [['RFC 6750 §2.1', 'https://www.rfc-editor.org/rfc/rfc6750#section-2.1']],
  },
  G: {
    letter: 'G',
    title: 'Protected resource response',
    summary:
      'The API verifies the token on its own: the signature against the server’s published keys (JWKS), iss, aud (this API), exp, and that the scope covers the route. Then it answers. A missing or bad token would get 401 with a WWW-Authenticate: Bearer challenge.',
    refs: [
      ['RFC 9068 §4', 'https://www.rfc-editor.org/rfc/rfc9068#section-4'],
      ['RFC 6750 §3', 'https://www.rfc-editor.org/rfc/rfc6750#section-3'],
    ],
  },
  page: {
    letter: '·',
    title: 'Your page',
    summary: 'The app answers your browser with the page it built. No token is in it.',
    refs: [],
  },
  refresh: {
    letter: 'R',
    title: 'Refresh',
    summary:
      'Shortly before the access token expires, the app trades the refresh token for a new pair. The old refresh token stops working; presenting it again would revoke the whole family.',
    refs: [
      ['RFC 6749 §6', 'https://www.rfc-editor.org/rfc/rfc6749#section-6'],
      ['RFC 9700 §4.14.2', 'https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2'],
    ],
  },
  signout: {
    letter: 'S',
    title: 'Sign out',
    summary: 'You pressed Sign out: the app ends its session, clears the cookie, and revokes the tokens at the server.',
    refs: [],
  },
  revoke: {
    letter: 'S',
    title: 'Token revocation',
    summary: 'The app tells the server the refresh token is no longer needed; the server revokes it and the access tokens issued with it.',
    refs: [['RFC 7009 §2.1', 'https://www.rfc-editor.org/rfc/rfc7009#section-2.1']],
  },
};

/** @typedef {{ at: number, from: Actor, to: Actor, step: StepId, label: string, response: boolean, exchangeIndex: number }} Arrow */

/** @param {Flow} flow @returns {Arrow[]} */
export function arrowsOf(flow) {
  /** @type {Arrow[]} */
  const arrows = [];
  flow.exchanges.forEach((e, i) => {
    arrows.push({ at: e.requestAt, from: e.from, to: e.to, step: e.step, label: requestLabel(e), response: false, exchangeIndex: i });
    arrows.push({ at: e.responseAt, from: e.to, to: e.from, step: e.responseStep, label: responseLabel(e), response: true, exchangeIndex: i });
  });
  return arrows.sort((a, b) => a.at - b.at || (a.response ? 1 : 0) - (b.response ? 1 : 0));
}

const shorten = (/** @type {string} */ text, /** @type {number} */ max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** @param {Exchange} e */
function requestLabel(e) {
  const url = new URL(e.request.url);
  if (e.step === 'D') return 'POST /token  code + code_verifier + client auth';
  if (e.step === 'refresh') return 'POST /token  refresh_token';
  if (e.step === 'revoke') return 'POST /revoke  refresh_token';
  if (e.step === 'F') return `${e.request.method} ${url.pathname}  Authorization: Bearer …`;
  if (e.step === 'A' && e.to === 'as') return 'GET /authorize?response_type=code&client_id=…&code_challenge=…';
  if (e.step === 'C') return 'GET /callback?code=…&state=…&iss=…';
  if (e.step === 'A' && e.to === 'app') return 'GET /login  (you pressed Sign in)';
  if (e.step === 'signout' && e.to === 'app') return 'POST /logout  (you pressed Sign out)';
  if (e.request.method === 'POST' && url.pathname === '/login') return 'POST /login  username + password';
  if (e.request.method === 'POST' && url.pathname === '/consent') return 'POST /consent  decision=approve';
  return shorten(`${e.request.method} ${url.pathname}`, 60);
}

/** @param {Exchange} e */
function responseLabel(e) {
  const location = e.response.headers.find(([k]) => k === 'location')?.[1];
  if (e.responseStep === 'C' && e.to === 'as') return '303 → redirect_uri?code=…&state=…&iss=…';
  if (e.responseStep === 'E') return `${e.response.status}  access_token (JWT) + refresh_token`;
  if (e.responseStep === 'G') return `${e.response.status}  ${new URL(e.request.url).pathname.slice(1)} (JSON)`;
  if (e.step === 'discovery') return `${e.response.status}  server metadata (JSON)`;
  if (e.step === 'revoke') return `${e.response.status}  revoked`;
  if (e.step === 'refresh') return `${e.response.status}  new access_token + refresh_token`;
  if (e.step === 'A' && e.from === 'browser' && e.to === 'app') return '303 → authorization endpoint + state, code_challenge';
  if (e.step === 'C' && e.to === 'app') return '303 → /  Set-Cookie: session (opaque)';
  if (location) return shorten(`${e.response.status} → ${new URL(location, 'http://x').pathname}`, 60);
  if (e.response.body?.startsWith('[')) return `${e.response.status}  ${e.response.body.slice(1, e.response.body.indexOf(':') > 0 ? e.response.body.indexOf(':') : 40)}`;
  return `${e.response.status}`;
}

const COLUMNS = /** @type {Actor[]} */ (['browser', 'app', 'as', 'api']);

/**
 * The sequence diagram, as inline SVG drawn here on the server: four lifelines, one arrow per
 * message, the step letter on the left. Colours come from the app's stylesheet (classes).
 *
 * @param {Arrow[]} arrows
 */
export function sequenceDiagram(arrows) {
  const width = 960;
  const left = 56;
  const columnWidth = (width - left - 40) / COLUMNS.length;
  const x = (/** @type {Actor} */ actor) => left + columnWidth * COLUMNS.indexOf(actor) + columnWidth / 2;
  const top = 64;
  const row = 40;
  const height = top + arrows.length * row + 28;
  // A light band behind each run of messages that belong to one step, so the steps read as blocks.
  /** @type {Html[]} */
  const bands = [];
  for (let start = 0, band = 0; start < arrows.length; band++) {
    let end = start;
    while (end + 1 < arrows.length && STEPS[/** @type {Arrow} */ (arrows[end + 1]).step].letter === STEPS[/** @type {Arrow} */ (arrows[start]).step].letter) end++;
    bands.push(html`<rect class="band ${band % 2 === 0 ? 'even' : 'odd'}" x="4" y="${top + start * row + 2}" width="${width - 8}" height="${(end - start + 1) * row}" rx="6"></rect>`);
    start = end + 1;
  }
  const heads = COLUMNS.map(
    (actor) => html`<g class="actor"><rect x="${x(actor) - 92}" y="8" width="184" height="36" rx="8"></rect><text x="${x(actor)}" y="31" text-anchor="middle">${ACTOR_NAMES[actor]}</text></g>
<line class="lifeline" x1="${x(actor)}" y1="44" x2="${x(actor)}" y2="${height - 8}"></line>`,
  );
  const rows = arrows.map((arrow, i) => {
    const y = top + i * row + 24;
    const x1 = x(arrow.from);
    const x2 = x(arrow.to);
    const direction = x2 > x1 ? 1 : -1;
    const channel = arrow.from === 'browser' || arrow.to === 'browser' ? 'front' : 'back';
    const info = STEPS[arrow.step];
    return html`<g class="msg ${channel}${arrow.response ? ' response' : ''} step-${info.letter === '·' ? 'page' : info.letter}">
<circle cx="22" cy="${y - 4}" r="13"></circle><text class="badge" x="22" y="${y + 1}" text-anchor="middle">${info.letter}</text>
<line x1="${x1}" y1="${y}" x2="${x2 - direction * 3}" y2="${y}" marker-end="url(#head-${channel})"></line>
<text class="label" x="${(x1 + x2) / 2}" y="${y - 7}" text-anchor="middle">${arrow.label}</text>
</g>`;
  });
  return html`<svg class="sequence" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="seq-title seq-desc" xmlns="http://www.w3.org/2000/svg">
<title id="seq-title">Sequence diagram of your sign-in</title>
<desc id="seq-desc">${arrows.length} messages between your browser, the demo app, the authorization server and the demo API, in the order they happened. The same messages are listed step by step below.</desc>
<defs>
<marker id="head-front" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path class="head front" d="M0,0 L10,5 L0,10 z"></path></marker>
<marker id="head-back" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path class="head back" d="M0,0 L10,5 L0,10 z"></path></marker>
</defs>
${bands}
${heads}
${rows}
</svg>`;
}

/** A message as text; a long body (the metadata document) folds away behind a summary. */
function messageBlock(/** @type {string} */ text) {
  const [head = '', ...rest] = text.split('\n\n');
  const body = rest.join('\n\n');
  const lines = body.split('\n').length;
  if (lines <= 24) return html`<pre><code>${text}</code></pre>`;
  return html`<pre><code>${head}</code></pre><details><summary>Show the body (${lines} lines)</summary><pre><code>${body}</code></pre></details>`;
}

/** @param {RecordedRequest} r */
function requestText(r) {
  const url = new URL(r.url);
  const lines = [`${r.method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, ...r.headers.map(([k, v]) => `${headerCase(k)}: ${v}`)];
  return r.body ? `${lines.join('\n')}\n\n${r.body}` : lines.join('\n');
}

/** @param {RecordedResponse} r */
function responseText(r) {
  const lines = [`HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trimEnd(), ...r.headers.map(([k, v]) => `${headerCase(k)}: ${v}`)];
  return r.body ? `${lines.join('\n')}\n\n${r.body}` : lines.join('\n');
}

/** @type {Record<number, string>} */
const STATUS_TEXT = { 200: 'OK', 201: 'Created', 303: 'See Other', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' };
const headerCase = (/** @type {string} */ name) => name.replace(/(^|-)([a-z])/g, (_m, dash, c) => dash + c.toUpperCase());

/** @param {StepInfo} info */
function refLinks(info) {
  return info.refs.map(([label, href]) => html`<a class="ref" href="${href}" rel="noreferrer">${label}</a> `);
}

/**
 * The step-by-step list: one section per protocol step, in order, each with its messages.
 *
 * @param {Flow} flow
 */
function stepSections(flow) {
  /** @type {StepId[]} */
  const order = ['discovery', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'page', 'refresh', 'signout', 'revoke'];
  /** @type {Map<StepId, Array<{ kind: 'request' | 'response', exchange: Exchange }>>} */
  const byStep = new Map();
  for (const e of flow.exchanges) {
    for (const [kind, step] of /** @type {Array<['request' | 'response', StepId]>} */ ([
      ['request', e.step],
      ['response', e.responseStep],
    ])) {
      const list = byStep.get(step) ?? [];
      list.push({ kind, exchange: e });
      byStep.set(step, list);
    }
  }
  const skippedB = !byStep.has('B') && byStep.has('C');
  return order
    .filter((step) => byStep.has(step) || (step === 'B' && skippedB))
    .map((step) => {
      const info = STEPS[step];
      const items = byStep.get(step) ?? [];
      return html`<section class="step" id="step-${step}" aria-labelledby="step-${step}-title">
  <h3 id="step-${step}-title"><span class="letter" aria-hidden="true">${info.letter}</span> ${/^[A-G]$/.test(info.letter) ? html`<span class="visually-hidden">Step ${info.letter}: </span>` : ''}${info.title}</h3>
  <p>${info.summary}</p>
  ${step === 'B' && skippedB ? html`<p class="notice">Skipped this time: you were still signed in at the authorization server and had already allowed this app, so it answered step A with step C at once.</p>` : ''}
  ${info.refs.length ? html`<p class="refs">Specified in ${refLinks(info)}</p>` : ''}
  ${items.map(({ kind, exchange }) => {
    const from = kind === 'request' ? exchange.from : exchange.to;
    const to = kind === 'request' ? exchange.to : exchange.from;
    return html`<figure class="message">
    <figcaption>${ACTOR_NAMES[from]} → ${ACTOR_NAMES[to]}${from === 'browser' || to === 'browser' ? ' (front channel, through the browser)' : ' (back channel, server to server)'}</figcaption>
    ${messageBlock(kind === 'request' ? requestText(exchange.request) : responseText(exchange.response))}
    ${kind === 'response' && exchange.claims ? html`<p class="claims-intro">The access token is a JWT (RFC 9068). Decoded, it says:</p><pre><code>${JSON.stringify(exchange.claims, null, 2)}</code></pre>` : ''}
  </figure>`;
  })}
</section>`;
    });
}

/** Three ideas that make the grant safe, before the details. */
const IDEAS = html`<ul class="ideas">
  <li><strong>Two channels.</strong> The code travels through your browser (front channel), where it could be seen. The tokens travel server to server (back channel), where it cannot.</li>
  <li><strong>PKCE binds the code to its starter.</strong> Only the party that sent the code_challenge in A knows the code_verifier that D needs, so a stolen code is useless.</li>
  <li><strong>state binds the answer to your browser.</strong> The app accepts C only with the state it stored for this browser, so nobody can push their sign-in into your session.</li>
</ul>`;

/** Links that show the protections at work. @param {{ issuer: string, appUrl: string, apiUrl: string }} urls */
function tryIt(urls) {
  const wrongRedirect = new URL('/authorize', urls.issuer);
  wrongRedirect.search = new URLSearchParams({
    response_type: 'code',
    client_id: 'latchkey-demo-app',
    redirect_uri: `${urls.appUrl}/callback/`,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 'try-it',
  }).toString();
  return html`<section class="step" aria-labelledby="try-title">
  <h2 id="try-title">Try it yourself</h2>
  <ul class="try">
    <li><a href="${wrongRedirect.href}" rel="noreferrer">Send an authorization request with a redirect_uri that has one extra slash</a> — the server refuses to redirect and says exactly what it compared (<a class="ref" href="https://www.rfc-editor.org/rfc/rfc9700#section-4.1.3" rel="noreferrer">RFC 9700 §4.1.3</a>).</li>
    <li><a href="${urls.apiUrl}/notes" rel="noreferrer">Call the notes API without a token</a> — 401 and a <code>WWW-Authenticate: Bearer</code> challenge (<a class="ref" href="https://www.rfc-editor.org/rfc/rfc6750#section-3" rel="noreferrer">RFC 6750 §3</a>).</li>
    <li><a href="${urls.issuer}/account" rel="noreferrer">Withdraw this app’s access on your account page</a>, then reload <a href="/">your notes</a> — the app’s refresh token stops working and it asks you to sign in again.</li>
  </ul>
</section>`;
}

/**
 * @param {{ flow: Flow | undefined, signedIn: boolean, urls: { issuer: string, appUrl: string, apiUrl: string } }} input
 * @returns {Html}
 */
export function flowPage({ flow, signedIn, urls }) {
  // Something to show once the browser came back to the app (C), with or without a code.
  const cameBack = flow !== undefined && flow.exchanges.some((e) => e.step === 'C' && e.to === 'app');
  if (!flow || !cameBack) {
    return html`<h1>What just happened</h1>
<p class="lead">This page replays your last sign-in, message by message: the Authorization Code Grant with PKCE, as it happened between your browser, this app, the authorization server and the notes API.</p>
<div class="panel">
  <p>${signedIn ? 'This browser’s sign-in happened before the demo was restarted, so there is nothing recorded to show.' : 'There is no sign-in to show yet.'} Sign in, then come back here.</p>
  <p><a class="button" href="/login?returnTo=%2Fflow">Sign in and record it</a></p>
</div>`;
  }
  const arrows = arrowsOf(flow);
  const callback = flow.exchanges.find((e) => e.step === 'C' && e.to === 'app');
  const callbackError = callback ? new URL(callback.request.url).searchParams.get('error') : null;
  const stopped = !flow.exchanges.some((e) => e.step === 'D');
  return html`<h1>What just happened</h1>
${
  stopped
    ? html`<div class="notice" role="status">This sign-in stopped at step C: ${
        callbackError
          ? html`the authorization server sent your browser back with <code>error=${callbackError}</code> instead of a code (RFC 6749 §4.1.2.1), so the app never asked for tokens.`
          : 'the app refused the redirect back (wrong or missing state, iss or session), so it never asked for tokens.'
      }</div>`
    : ''
}
<p class="lead">Your sign-in at ${new Date(flow.startedAt).toISOString().slice(11, 19)} UTC, message by message: the OAuth 2.1 Authorization Code Grant with PKCE between your browser, this app, the authorization server and the notes API. These are the real requests and responses; codes, tokens, state, verifiers, secrets and cookies are cut to their first characters (…), your password is not shown at all.</p>
${IDEAS}
<div class="key" aria-hidden="true"><span class="swatch front"></span> through your browser (front channel) <span class="swatch back"></span> server to server (back channel) <span class="swatch dashed"></span> response</div>
<div class="diagram" role="region" aria-label="Sequence diagram (scrolls sideways on small screens)" tabindex="0">${sequenceDiagram(arrows)}</div>
<nav class="jump" aria-label="Steps"><ol>${(/** @type {StepId[]} */ (['A', 'B', 'C', 'D', 'E', 'F', 'G'])).filter((id) => id === 'B' || flow.exchanges.some((e) => e.step === id || e.responseStep === id)).map((id) => html`<li><a href="#step-${id}"><span class="letter" aria-hidden="true">${id}</span> ${STEPS[id].title}</a></li>`)}</ol></nav>
<h2>Step by step</h2>
<p>The letters are those of the protocol flow in <a href="https://www.rfc-editor.org/rfc/rfc6749#section-4.1" rel="noreferrer">RFC 6749 §4.1</a>. What matters most: the code in step C travels through your browser but is useless without the code_verifier that only the app holds (D), and the tokens of step E never travel through your browser at all.</p>
${stepSections(flow)}
${tryIt(urls)}`;
}
