import { isWellFormedS256Challenge } from '../checks/pkce.js';
import { explainRedirectUriMismatch, matchRedirectUri } from '../checks/redirect-uri.js';
import { isSubset, parseScope } from '../checks/scope.js';
import type { CoreContext } from '../context.js';
import { sealCode } from '../sealed-code.js';
import { newGrantId } from '../token-keys.js';
import { OAuthError, oauthError } from '../errors.js';
import { MAX_PARAMETER_LENGTH, type Params } from '../params.js';
import type { AuthorizationRequest, ClientRecord, ConsentRecord, InteractionRecord, SessionRecord } from '../ports.js';
import { throttleOf } from '../throttle.js';

/** What the authorization endpoint decided; the HTTP layer turns it into a page or a 303. */
export type AuthorizeOutcome =
  /** R7 RFC 6749 §4.1.2.1: client or redirect_uri not verified — show the error, never redirect. */
  | { kind: 'error-page'; error: OAuthError }
  /** X2 RFC 9700 §4.12: a 303 to the client (code or error). */
  | { kind: 'redirect'; location: string }
  | { kind: 'login'; interactionId: string }
  | { kind: 'consent'; interactionId: string };

const PROMPTS = new Set(['none', 'login', 'consent']);

/**
 * Validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2). Errors about
 * the client or redirect_uri are not redirectable; every later error is, with state and iss.
 */
export async function validateAuthorizationRequest(
  ctx: CoreContext,
  params: Params,
): Promise<{ request: AuthorizationRequest; client: ClientRecord } | { error: OAuthError; request?: Pick<AuthorizationRequest, 'redirectUri' | 'state'> }> {
  // --- Steps that decide whether we may redirect at all (R7, R10). ---
  // RFC 6749 §3.1: parameters MUST NOT be included more than once.
  if (params.duplicates.has('client_id') || params.duplicates.has('redirect_uri')) {
    return { error: oauthError('invalid_request', { redirectable: false, description: 'client_id or redirect_uri was sent more than once.', detail: 'duplicate client_id/redirect_uri' }) };
  }
  const clientId = params.get('client_id');
  if (clientId === undefined) {
    return { error: oauthError('invalid_request', { redirectable: false, description: 'The client_id parameter is missing.', detail: 'missing client_id' }) };
  }
  const client = await ctx.store.findClient(clientId);
  if (!client) {
    return {
      error: oauthError('invalid_client', {
        redirectable: false,
        status: 400,
        description: 'The client_id is not registered with this server.',
        detail: 'unknown client',
        comparison: { registered: [], received: clientId, difference: 'no client is registered with this id' },
      }),
    };
  }
  const received = params.get('redirect_uri');
  let redirectUri: string | undefined;
  if (received === undefined) {
    // R8 OAuth 2.1 §2.3.2: redirect_uri may be omitted only when exactly one is registered.
    if (client.redirectUris.length !== 1) {
      return { error: oauthError('invalid_request', { redirectable: false, description: 'redirect_uri is required: this client has several registered.', detail: 'redirect_uri required' }) };
    }
    redirectUri = client.redirectUris[0];
  } else {
    // R1, R2 RFC 9700 §4.1.3: exact string match; loopback IPs with any port.
    redirectUri = matchRedirectUri(client.redirectUris, received);
    if (redirectUri === undefined) {
      return {
        error: oauthError('invalid_request', {
          redirectable: false,
          description: 'The redirect_uri does not match any URI registered for this client.',
          detail: 'redirect_uri mismatch',
          comparison: { registered: client.redirectUris, received, difference: explainRedirectUriMismatch(client.redirectUris, received) },
        }),
      };
    }
  }
  // X7 OAuth 2.1 §7.11: state is untrusted; echoed verbatim, never interpreted.
  const state = params.duplicates.has('state') ? null : (params.get('state') ?? null);
  const redirectTarget = { redirectUri: redirectUri!, state };
  const fail = (error: OAuthError) => ({ error, request: redirectTarget });

  // --- From here on, errors go back to the verified redirect_uri. ---
  for (const name of ['response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource', 'prompt']) {
    if (params.duplicates.has(name)) return fail(oauthError('invalid_request', { description: `The ${name} parameter was sent more than once.`, detail: `duplicate ${name}` }));
  }
  const responseType = params.get('response_type');
  if (responseType === undefined) return fail(oauthError('invalid_request', { description: 'The response_type parameter is missing.', detail: 'missing response_type' }));
  // G1 RFC 9700 §2.1.2: only the authorization code response type (no implicit grant).
  if (responseType !== 'code') return fail(oauthError('unsupported_response_type', { detail: `response_type ${responseType.slice(0, 32)}` }));
  if (!client.grantTypes.includes('authorization_code')) {
    return fail(oauthError('unauthorized_client', { description: 'This client may not use the authorization code grant.', detail: 'grant type not allowed' }));
  }

  // P1, P2 RFC 9700 §2.1.1: PKCE is required for every client.
  const codeChallenge = params.get('code_challenge');
  if (codeChallenge === undefined) return fail(oauthError('invalid_request', { description: 'code_challenge is required (PKCE with S256).', detail: 'missing code_challenge' }));
  // P5, P6 RFC 7636 §4.3, OAuth 2.1 §4.1.2.1: S256 only. An absent method means "plain" (RFC 7636 §4.3), which is refused.
  const method = params.get('code_challenge_method');
  if (method !== 'S256') {
    return fail(oauthError('invalid_request', { description: 'code_challenge_method must be S256 (plain is not supported).', detail: `code_challenge_method ${method ?? 'absent'}` }));
  }
  if (!isWellFormedS256Challenge(codeChallenge)) {
    return fail(oauthError('invalid_request', { description: 'code_challenge must be 43 base64url characters (an S256 hash).', detail: 'malformed code_challenge' }));
  }

  // RFC 6749 §3.3: scope within what the client is registered for; absent → the client's registered scopes.
  const scopeParam = params.get('scope');
  let scope = client.scopes;
  if (scopeParam !== undefined) {
    const parsed = parseScope(scopeParam);
    if (!parsed) return fail(oauthError('invalid_scope', { description: 'The scope parameter is malformed.', detail: 'malformed scope' }));
    if (!isSubset(parsed, client.scopes)) {
      const extra = parsed.filter((s) => !client.scopes.includes(s));
      return fail(oauthError('invalid_scope', { description: `This client may not ask for: ${extra.join(' ').slice(0, 200)}.`, detail: 'scope not allowed' }));
    }
    scope = parsed;
  }

  // RFC 8707 §2: resource must be an absolute URI without fragment, and registered for this client (A2).
  const resource = params.get('resource') ?? null;
  if (resource !== null && !client.resources.includes(resource)) {
    return fail(oauthError('invalid_target', { description: 'This client may not ask for that resource.', detail: 'resource not registered' }));
  }

  const promptParam = params.get('prompt');
  const prompt = promptParam === undefined ? [] : promptParam.split(' ');
  if (prompt.some((p) => !PROMPTS.has(p)) || (prompt.includes('none') && prompt.length > 1)) {
    return fail(oauthError('invalid_request', { description: 'prompt must be none, or any of login and consent.', detail: 'bad prompt' }));
  }

  return {
    client,
    request: {
      clientId: client.id,
      clientCreatedAt: client.createdAt,
      redirectUri: redirectUri!,
      redirectUriExplicit: received !== undefined,
      scope,
      state,
      codeChallenge,
      codeChallengeMethod: 'S256',
      resource,
      prompt: prompt as AuthorizationRequest['prompt'],
    },
  };
}

/**
 * GET/POST /authorize: validate, then log in, consent, or answer with a code. `sessionIdHash` is
 * the key of the browser's login session (SHA-256 of its cookie), if it sent one.
 */
export async function authorizationEndpoint(ctx: CoreContext, params: Params, sessionIdHash: string | undefined): Promise<AuthorizeOutcome> {
  const validated = await validateAuthorizationRequest(ctx, params);
  if ('error' in validated) {
    if (!validated.error.redirectable || !validated.request) return { kind: 'error-page', error: validated.error };
    emitRejected(ctx, params.get('client_id'), validated.error);
    return { kind: 'redirect', location: errorLocation(ctx, validated.request, validated.error) };
  }
  // The session and its user's consent for this client, in one store call.
  const found = sessionIdHash === undefined ? undefined : await ctx.store.findSessionWithConsent(sessionIdHash, ctx.clock.now(), validated.request.clientId);
  return proceed(ctx, validated.request, found?.session, undefined, found && { consent: found.consent });
}

/**
 * Decides the next step for a validated request. `interaction` is the pending request being
 * resumed, if any: a login after it began satisfies prompt=login. `known` carries the session
 * user's consent for the request's client when the caller has already read it.
 */
export async function proceed(
  ctx: CoreContext,
  request: AuthorizationRequest,
  session: SessionRecord | undefined,
  interaction: InteractionRecord | undefined,
  known?: { consent: ConsentRecord | undefined },
): Promise<AuthorizeOutcome> {
  if (!isLoginSatisfied(request, session, interaction)) {
    // OpenID Connect Core §3.1.2.6: prompt=none and no usable session → login_required.
    if (request.prompt.includes('none')) return { kind: 'redirect', location: errorLocation(ctx, request, oauthError('login_required')) };
    return { kind: 'login', interactionId: (interaction ?? (await createInteraction(ctx, request))).id };
  }
  const consent = known ? known.consent : await ctx.store.findConsent(session.userId, request.clientId);
  const covered = consent !== undefined && isSubset(request.scope, consent.scope);
  if (!covered || request.prompt.includes('consent')) {
    if (request.prompt.includes('none')) return { kind: 'redirect', location: errorLocation(ctx, request, oauthError('consent_required')) };
    return { kind: 'consent', interactionId: (interaction ?? (await createInteraction(ctx, request))).id };
  }
  if (interaction && !(await ctx.store.deleteInteraction(interaction.id))) return alreadyAnswered();
  return { kind: 'redirect', location: issueCode(ctx, request, session) };
}

/** The interaction was used up by a parallel request (a double submit): exactly one of them issues a code. */
function alreadyAnswered(): AuthorizeOutcome {
  return {
    kind: 'error-page',
    error: oauthError('invalid_request', {
      redirectable: false,
      description: 'This sign-in request has already been answered. Go back to the application and start again.',
      detail: 'interaction already used',
    }),
  };
}

/**
 * Whether `session` may go on with the request: there is one, and (OpenID Connect Core §3.1.2.1)
 * for prompt=login the user entered their password after the interaction began.
 */
export function isLoginSatisfied(
  request: AuthorizationRequest,
  session: SessionRecord | undefined,
  interaction: InteractionRecord | undefined,
): session is SessionRecord {
  if (session === undefined) return false;
  if (!request.prompt.includes('login')) return true;
  return interaction !== undefined && session.authTime >= interaction.createdAt;
}

/** The user answered the consent page for `interaction`. */
export async function completeConsent(ctx: CoreContext, interaction: InteractionRecord, session: SessionRecord, approved: boolean): Promise<AuthorizeOutcome> {
  const { request } = interaction;
  const now = ctx.clock.now();
  if (!(await ctx.store.deleteInteraction(interaction.id))) return alreadyAnswered();
  if (!approved) {
    ctx.events.emit({ type: 'consent.denied', at: now, clientId: request.clientId, userId: session.userId });
    // RFC 6749 §4.1.2.1: the resource owner denied the request.
    return { kind: 'redirect', location: errorLocation(ctx, request, oauthError('access_denied', { description: 'The user denied the request.' })) };
  }
  const previous = await ctx.store.findConsent(session.userId, request.clientId);
  const scope = [...new Set([...(previous?.scope ?? []), ...request.scope])];
  await ctx.store.saveConsent({ userId: session.userId, clientId: request.clientId, scope, grantedAt: now });
  ctx.events.emit({ type: 'consent.granted', at: now, clientId: request.clientId, userId: session.userId, detail: { scope: request.scope.join(' ') } });
  return { kind: 'redirect', location: issueCode(ctx, request, session) };
}

async function createInteraction(ctx: CoreContext, request: AuthorizationRequest): Promise<InteractionRecord> {
  const now = ctx.clock.now();
  const interaction: InteractionRecord = {
    id: ctx.random.token(24),
    clientId: request.clientId,
    request,
    createdAt: now,
    expiresAt: now + ctx.settings.interactionTtlSeconds * 1000,
  };
  await ctx.store.createInteraction(interaction);
  return interaction;
}

/** RFC 6749 §4.1.2: issue a code (sealed, not stored: C6, sealed-code.ts) and build the redirect. */
function issueCode(ctx: CoreContext, request: AuthorizationRequest, session: SessionRecord): string {
  const now = ctx.clock.now();
  const throttle = throttleOf(ctx);
  // P8 RFC 9700 §2.1.1: a client sending the same challenge twice is logged as a security event.
  if (throttle.challengeReused(request.clientId, request.codeChallenge)) throttle.reportChallengeReuse(request.clientId);
  const code = sealCode(ctx.codeSecret, ctx.random, {
    clientId: request.clientId,
    clientCreatedAt: request.clientCreatedAt,
    userId: session.userId,
    grantId: newGrantId(ctx.random, now),
    // C2 OAuth 2.1 §4.1.2: the code is bound to client, redirect URI and code challenge.
    redirectUri: request.redirectUri,
    redirectUriExplicit: request.redirectUriExplicit,
    codeChallenge: request.codeChallenge,
    scope: request.scope,
    resource: request.resource,
    authTime: session.authTime,
    issuedAt: now,
    // C1 OAuth 2.1 §4.1.2: short-lived.
    expiresAt: now + ctx.settings.codeTtlSeconds * 1000,
  });
  if (code.length > MAX_PARAMETER_LENGTH) {
    // A code carries the request's redirect URI, scope and resource: one the token endpoint would
    // refuse as too long is not issued.
    const error = oauthError('invalid_request', {
      description: 'The authorization request is too large: use a shorter redirect_uri, scope or resource.',
      detail: `sealed code of ${code.length} characters`,
    });
    emitRejected(ctx, request.clientId, error);
    return errorLocation(ctx, request, error);
  }
  ctx.events.emit({ type: 'code.issued', at: now, clientId: request.clientId, userId: session.userId });
  return redirectLocation(ctx, request, { code });
}

/** RFC 6749 §4.1.2.1 error response, with state and (M1 RFC 9207 §2) iss. */
export function errorLocation(ctx: CoreContext, target: Pick<AuthorizationRequest, 'redirectUri' | 'state'>, error: OAuthError): string {
  return redirectLocation(ctx, target, { error: error.code, error_description: error.description });
}

function redirectLocation(ctx: CoreContext, target: Pick<AuthorizationRequest, 'redirectUri' | 'state'>, values: Record<string, string>): string {
  const response = new URLSearchParams(values);
  if (target.state !== null) response.append('state', target.state);
  // M1 RFC 9207 §2: iss on every authorization response, errors included.
  response.append('iss', ctx.settings.issuer);
  // R5 OAuth 2.1 §2.3: the redirect URI's query "MUST be retained when adding additional query
  // parameters": appended to as is, never re-serialised (url.searchParams would turn `?flag` into
  // `?flag=` and `%20` into `+`).
  const url = new URL(target.redirectUri);
  url.search = url.search === '' ? response.toString() : `${url.search.slice(1)}&${response.toString()}`;
  return url.href;
}

function emitRejected(ctx: CoreContext, clientId: string | undefined, error: OAuthError): void {
  ctx.events.emit({ type: 'authorization.rejected', at: ctx.clock.now(), clientId: clientId ?? null, detail: { error: error.code, reason: error.detail } });
}
