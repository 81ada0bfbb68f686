import type { OAuthError } from '../../core/errors.js';
import type { ClientRecord, ConsentRecord } from '../../core/ports.js';
import { html } from './html.js';
import { layout } from './layout.js';

export function loginPage(input: { csrfToken: string; interactionId?: string; clientName?: string; username?: string; error?: string }): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
${input.clientName ? html`<p class="lead">to continue to <span class="client">${input.clientName}</span></p>` : html`<p class="lead">to manage the applications that can use your account</p>`}
${input.error ? html`<div class="alert" role="alert" id="login-error">${input.error}</div>` : ''}
<form method="post" action="/login" novalidate class="stack">
  <input type="hidden" name="_csrf" value="${input.csrfToken}">
  ${input.interactionId ? html`<input type="hidden" name="interaction" value="${input.interactionId}">` : ''}
  <div class="field">
    <label for="username">Username</label>
    <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus
      value="${input.username ?? ''}" ${input.error ? html`aria-describedby="login-error" aria-invalid="true"` : ''}>
  </div>
  <div class="field">
    <label for="password">Password</label>
    <input type="password" id="password" name="password" autocomplete="current-password" required>
  </div>
  <div class="actions"><button type="submit" class="wide-button">Sign in</button></div>
</form>
${input.clientName ? html`<p class="note">You are signing in at this server, not at ${input.clientName}: your password is never shared with it.</p>` : ''}`,
  );
}

export function consentPage(input: {
  csrfToken: string;
  interactionId: string;
  client: ClientRecord;
  scope: string[];
  resource: string | null;
  username: string;
  describeScope: (scope: string) => string;
}): string {
  const returnTo = input.client.redirectUris.length === 1 ? originOf(input.client.redirectUris[0]!) : undefined;
  return layout(
    'Allow access?',
    html`<div class="app-badge" aria-hidden="true">${initials(input.client.name)}</div>
<h1><span class="client">${input.client.name}</span> wants to access your account</h1>
<p class="lead">Signed in as <strong>${input.username}</strong>. If you allow it, ${input.client.name} will be able to:</p>
<ul class="scopes">
${input.scope.map((s) => html`<li><span class="scope-text">${input.describeScope(s)}</span> <code>${s}</code></li>`)}
${input.scope.length === 0 ? html`<li><span class="scope-text">Know that you signed in (no other access)</span></li>` : ''}
</ul>
<dl class="details">
  ${input.resource ? html`<dt>Where</dt><dd>Only at the API <code>${input.resource}</code></dd>` : ''}
  ${returnTo ? html`<dt>Then</dt><dd>You go back to <code>${returnTo}</code></dd>` : ''}
  <dt>Your password</dt><dd>Is not shared with ${input.client.name}</dd>
</dl>
<form method="post" action="/consent">
  <input type="hidden" name="_csrf" value="${input.csrfToken}">
  <input type="hidden" name="interaction" value="${input.interactionId}">
  <div class="actions">
    <button type="submit" name="decision" value="approve">Allow</button>
    <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
  </div>
</form>
<p class="note">You can withdraw this at any time on <a href="/account">your account page</a>.</p>`,
    { signedInAs: input.username, csrfToken: input.csrfToken },
  );
}

function originOf(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return url.origin === 'null' ? `${url.protocol}//` : url.origin;
  } catch {
    return undefined;
  }
}

/** Up to two letters for the application's badge: "Latchkey Notes" → "LN". */
function initials(name: string): string {
  const letters = name.split(/\s+/).filter((w) => /^\p{L}/u.test(w)).map((w) => w[0]!.toUpperCase());
  return letters.slice(0, 2).join('') || '?';
}

export function errorPage(input: { title: string; error: OAuthError; showComparison: boolean }): string {
  const c = input.error.comparison;
  return layout(
    input.title,
    html`<h1>${input.title}</h1>
<div class="alert" role="alert"><p><strong>${input.error.code}</strong>: ${input.error.description}</p></div>
${
  c && input.showComparison
    ? html`<h2>What was compared</h2>
<dl class="compare">
  <dt>Registered</dt><dd>${c.registered.length ? c.registered.map((r) => html`<code>${r}</code><br>`) : html`<em>nothing</em>`}</dd>
  <dt>Received</dt><dd><code>${c.received}</code></dd>
  <dt>Difference</dt><dd class="difference">${c.difference}</dd>
</dl>
<p class="note">Shown because this server runs in development mode. In production this detail goes only to the server log, for the application's developers.</p>`
    : ''
}
<h2>What now?</h2>
<p>The application that sent you here made a request this server cannot accept, so for your safety you were not sent back to it. Go back to the application and try again later.</p>
<p class="note">If you develop this application: the server log has the exact reason. Check the client_id and the redirect_uri, which must match the registration character for character.</p>`,
    { wide: c !== undefined && input.showComparison },
  );
}

export function simpleMessagePage(title: string, message: string): string {
  return layout(title, html`<h1>${title}</h1><p class="lead">${message}</p>`);
}

export function accountPage(input: {
  username: string;
  csrfToken: string;
  applications: Array<{ client: ClientRecord; consent: ConsentRecord }>;
  describeScope: (scope: string) => string;
}): string {
  return layout(
    'Your account',
    html`<h1>Applications with access</h1>
<p class="lead">These applications can use your account, each only for what you allowed. Revoking access ends their sign-ins and refresh tokens at once.</p>
${
  input.applications.length === 0
    ? html`<p class="empty">You have not given any application access to your account.</p>`
    : html`<table>
<thead><tr><th scope="col">Application</th><th scope="col">Access</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>
${input.applications.map(
  (a) => html`<tr>
  <td><span class="client">${a.client.name}</span><br><span class="muted">since ${new Date(a.consent.grantedAt).toISOString().slice(0, 10)}</span></td>
  <td>${a.consent.scope.map((s) => html`${input.describeScope(s)} <code>${s}</code><br>`)}</td>
  <td><form method="post" action="/account/revoke">
    <input type="hidden" name="_csrf" value="${input.csrfToken}">
    <input type="hidden" name="client_id" value="${a.client.id}">
    <button type="submit" class="danger" aria-label="Revoke access for ${a.client.name}">Revoke</button>
  </form></td>
</tr>`,
)}
</tbody></table>`
}`,
    { signedInAs: input.username, csrfToken: input.csrfToken, wide: true },
  );
}
