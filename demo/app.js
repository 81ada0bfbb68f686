// @ts-check
/**
 * The demo web app: "Latchkey Notes", a backend-for-frontend built on `latchkey/client`.
 * The browser holds one opaque HttpOnly cookie; the tokens stay in this server's session store,
 * and every call to the notes API is made here, with the token attached server-side.
 */
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { latchkeyFastify, NotSignedInError, OAuthClient } from 'latchkey/client';
import { FlowRecorder, flowPage } from './flow.js';
import { appLayout, Html, html } from './html.js';
import { DEMO_SCOPES, DEMO_SCOPE_DESCRIPTIONS } from './seed.js';
import { stylesheet } from './styles.js';

/**
 * @param {{ issuer: string, appUrl: string, apiUrl: string, clientId: string, clientSecret: string,
 *   sessionStore: import('latchkey/client').SessionStore, recorder: FlowRecorder,
 *   log?: (message: string) => void }} options
 */
export async function buildDemoApp({ issuer, appUrl, apiUrl, clientId, clientSecret, sessionStore, recorder, log = () => {} }) {
  const client = new OAuthClient({
    issuer,
    clientId,
    clientSecret,
    redirectUri: `${appUrl}/callback`,
    scope: DEMO_SCOPES,
    resource: apiUrl,
    store: sessionStore,
    // The client library's back-channel calls go through this fetch, so the "what just
    // happened" page can show them (redacted).
    fetch: recorder.fetch((input, init) => fetch(input, init)),
  });

  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  await app.register(formbody);

  // Security headers on every response: no scripts at all, styles only from this app, no framing,
  // no referrer (the callback URL carries a code).
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  // CSRF: a state-changing request must come from this app's own pages. Browsers say where a
  // request comes from in Sec-Fetch-Site; Origin is "null" under Referrer-Policy: no-referrer, so
  // it is compared only when it names an origin. SameSite=Lax on the session cookie already keeps
  // other sites' POSTs signed out; this also refuses the other localhost ports (same site).
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'POST') return;
    const origin = request.headers.origin;
    const fetchSite = request.headers['sec-fetch-site'];
    const crossOrigin = (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') || (origin !== undefined && origin !== 'null' && origin !== `http://${request.headers.host}`);
    if (crossOrigin) {
      return reply.code(403).type('text/html; charset=utf-8').send(appLayout({ title: 'Refused', body: html`<h1>Refused</h1><p>This form was sent from another site, so the app did not act on it. <a href="/">Go to your notes</a>.</p>` }));
    }
  });

  // One name for the app: the session cookie belongs to the host it was set on, and the
  // registered redirect URI says localhost, so a visit to 127.0.0.1 is sent there first.
  const canonicalHost = new URL(appUrl).host;
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.host !== canonicalHost && (request.method === 'GET' || request.method === 'HEAD')) {
      return reply.code(308).header('location', `${appUrl}${request.url}`).send();
    }
  });

  // The client library answers a failed callback with a bare page; give it the app's look and
  // say what happened in plain words (the library's message is already HTML-escaped).
  const callbackPath = new URL(`${appUrl}/callback`).pathname;
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.split('?')[0] !== callbackPath || reply.statusCode < 400 || typeof payload !== 'string') return payload;
    const message = new Html(/<p>([\s\S]*?)<\/p>/.exec(payload)?.[1] ?? 'The sign-in could not be completed.');
    const error = new URL(request.url, appUrl).searchParams.get('error');
    return appLayout({ title: 'Sign-in did not complete', body: callbackProblem(error, message) });
  });

  recorder.instrument(app, 'app');
  await app.register(latchkeyFastify, {
    client,
    onError: (error) => log(`sign-in/sign-out problem: ${error instanceof Error ? error.message : String(error)}`),
  });

  /** Usernames learnt from the API's /profile, for the header on pages that do not call it. */
  const usernames = new Map();

  app.get('/assets/demo.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(stylesheet));

  app.get('/', async (request, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
    const user = request.latchkey.user;
    if (!user) return appLayout({ title: 'Welcome', body: landing(), current: '/' });
    try {
      const [profileResponse, notesResponse] = await Promise.all([request.latchkey.fetch(`${apiUrl}/profile`), request.latchkey.fetch(`${apiUrl}/notes`)]);
      const profile = profileResponse.ok ? /** @type {{ username: string | null, sub: string }} */ (await profileResponse.json()) : undefined;
      const notes = notesResponse.ok ? /** @type {{ notes: Array<{ id: string, text: string, createdAt: string }> }} */ (await notesResponse.json()).notes : undefined;
      if (profile?.username) usernames.set(user.sub, profile.username);
      const problem = !profileResponse.ok ? profileResponse : !notesResponse.ok ? notesResponse : undefined;
      return appLayout({
        title: 'Your notes',
        current: '/',
        user: { sub: user.sub, username: usernames.get(user.sub) },
        body: home({ user, username: profile?.username ?? undefined, notes, problem: problem && { status: problem.status, challenge: problem.headers.get('www-authenticate') }, apiUrl, issuer }),
      });
    } catch (error) {
      if (error instanceof NotSignedInError) {
        return appLayout({ title: 'Signed out', current: '/', body: landing(`Your sign-in has ended: ${error.message}`) });
      }
      throw error;
    }
  });

  app.post('/notes', async (request, reply) => {
    if (!request.latchkey.user) return reply.code(303).header('location', '/login').send();
    const body = /** @type {{ text?: unknown }} */ (request.body ?? {});
    const text = typeof body.text === 'string' ? body.text : '';
    try {
      await request.latchkey.fetch(`${apiUrl}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
    } catch (error) {
      if (!(error instanceof NotSignedInError)) throw error;
    }
    return reply.code(303).header('location', '/').send();
  });

  app.get('/flow', async (request, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
    const user = request.latchkey.user;
    return appLayout({
      title: 'What just happened',
      current: '/flow',
      wide: true,
      user: user && { sub: user.sub, username: usernames.get(user.sub) },
      body: flowPage({ flow: recorder.fromCookie(request.headers.cookie), signedIn: user !== undefined, urls: { issuer, appUrl, apiUrl } }),
    });
  });

  app.setNotFoundHandler(async (_request, reply) =>
    reply.code(404).type('text/html; charset=utf-8').send(appLayout({ title: 'Not found', body: html`<h1>Not found</h1><p>There is no page here. <a href="/">Go to your notes</a>.</p>` })),
  );
  app.setErrorHandler(async (error, _request, reply) => {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    return reply
      .code(502)
      .type('text/html; charset=utf-8')
      .send(appLayout({ title: 'Something went wrong', body: html`<h1>Something went wrong</h1><p>The app could not reach the authorization server or the API. Check the terminal where the demo runs, then <a href="/">try again</a>.</p>` }));
  });

  return { app, client };
}

/**
 * @param {string | null} error the `error` of the redirect back, if any (RFC 6749 §4.1.2.1)
 * @param {Html} message
 */
function callbackProblem(error, message) {
  return html`<section class="hero">
  <h1>${error === 'access_denied' ? 'You chose not to allow access' : 'Sign-in did not complete'}</h1>
  ${
    error === 'access_denied'
      ? html`<p class="lead">The authorization server sent you back with <code>error=access_denied</code> instead of a code, so this app received no token and cannot read your notes. That is how it should be.</p>`
      : html`<p class="lead">${message}</p>`
  }
  <p><a class="button" href="/login">Sign in again</a> <a class="button secondary" href="/">Back to the start</a></p>
  <p class="muted">The redirect back carried an error or did not match the sign-in this browser started, so the app stopped before asking for tokens (RFC 6749 §4.1.2.1, §10.12).</p>
</section>`;
}

/** @param {string} [notice] */
function landing(notice) {
  return html`${notice ? html`<div class="notice" role="status">${notice}</div>` : ''}
<section class="hero">
  <h1>Your notes, behind a real sign-in</h1>
  <p class="lead">Latchkey Notes is a small app that keeps its notes in a separate API. To read them it needs your permission — an access token from the Latchkey authorization server, obtained with the OAuth 2.1 Authorization Code Grant and PKCE.</p>
  <p><a class="button" href="/login">Sign in with Latchkey</a></p>
  <p class="muted">You will go to the authorization server, sign in there, and choose what this app may do.</p>
</section>
<ol class="how">
  <li><strong>You sign in at the authorization server</strong>, not here: this app never sees your password.</li>
  <li><strong>You choose</strong> what the app may do: read your notes, add notes, see your username.</li>
  <li><strong>The app gets a token server-side</strong> and calls the notes API with it. Your browser only ever holds an opaque cookie.</li>
</ol>
<p>Afterwards, <a href="/flow">What just happened</a> replays every message of your sign-in.</p>`;
}

/**
 * @param {{ user: import('latchkey/client').SignedInUser, username: string | undefined,
 *   notes: Array<{ id: string, text: string, createdAt: string }> | undefined,
 *   problem: { status: number, challenge: string | null } | undefined, apiUrl: string, issuer: string }} input
 */
function home({ user, username, notes, problem, apiUrl, issuer }) {
  const canWrite = user.scope.includes('notes:write');
  return html`<h1>Hello, ${username ?? 'there'}</h1>
<section class="panel" aria-labelledby="who-title">
  <h2 id="who-title">Who you are, as this app knows it</h2>
  <dl class="facts">
    <dt>Username</dt><dd>${username ?? html`<em>not available (no profile scope)</em>`}</dd>
    <dt>Subject (<code>sub</code>)</dt><dd><code>${user.sub}</code></dd>
    <dt>Granted scopes</dt><dd>${user.scope.map((s) => html`<span class="chip" title="${DEMO_SCOPE_DESCRIPTIONS[/** @type {keyof typeof DEMO_SCOPE_DESCRIPTIONS} */ (s)] ?? s}">${s}</span> `)}</dd>
    <dt>Tokens</dt><dd>Kept on this app’s server. Your browser holds only an opaque, HttpOnly session cookie.</dd>
  </dl>
  <p class="muted">Signed in through <a href="${issuer}/account">${issuer}</a> — you can withdraw this app’s access there.</p>
</section>
<section class="panel" aria-labelledby="notes-title">
  <h2 id="notes-title">Your notes <span class="from">from the demo API at <code>${apiUrl}</code></span></h2>
  ${
    problem
      ? html`<div class="notice" role="alert">The API answered <strong>${problem.status}</strong>${problem.challenge ? html` with <code>WWW-Authenticate: ${problem.challenge}</code>` : ''}.</div>`
      : ''
  }
  ${
    notes
      ? html`<ul class="notes">${notes.map((n) => html`<li><p>${n.text}</p><time datetime="${n.createdAt}">${n.createdAt.slice(0, 16).replace('T', ' ')} UTC</time></li>`)}</ul>`
      : ''
  }
  ${
    canWrite
      ? html`<form method="post" action="/notes" class="add">
    <label for="note-text">New note</label>
    <div class="row"><input id="note-text" name="text" type="text" maxlength="500" required autocomplete="off"><button type="submit">Add note</button></div>
  </form>`
      : html`<p class="muted">You did not give this app the <code>notes:write</code> scope, so it cannot add notes.</p>`
  }
</section>
<p class="next"><a class="button secondary" href="/flow">What just happened? See every step of your sign-in →</a></p>`;
}
