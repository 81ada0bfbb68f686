import type { OAuthError } from '../../core/errors.js';
import type { ClientRecord, ConsentRecord, GrantRecord } from '../../core/ports.js';
import { html } from './html.js';
import { layout } from './layout.js';

export function loginPage(input: { csrfToken: string; interactionId?: string; clientName?: string; username?: string; error?: string }): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
${input.clientName ? html`<p class="muted">to continue to <span class="client">${input.clientName}</span></p>` : ''}
${input.error ? html`<div class="alert" role="alert" id="login-error">${input.error}</div>` : ''}
<form method="post" action="/login" novalidate>
  <input type="hidden" name="_csrf" value="${input.csrfToken}">
  ${input.interactionId ? html`<input type="hidden" name="interaction" value="${input.interactionId}">` : ''}
  <label for="username">Username</label>
  <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus
    value="${input.username ?? ''}" ${input.error ? html`aria-describedby="login-error" aria-invalid="true"` : ''}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  <div class="actions"><button type="submit">Sign in</button></div>
</form>`,
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
  return layout(
    'Allow access?',
    html`<h1><span class="client">${input.client.name}</span> wants to access your account</h1>
<p class="muted">Signed in as <strong>${input.username}</strong>. If you allow it, ${input.client.name} will be able to:</p>
<ul class="scopes">
${input.scope.map((s) => html`<li>${input.describeScope(s)} <code>${s}</code></li>`)}
${input.scope.length === 0 ? html`<li>Know that you signed in (no other access)</li>` : ''}
</ul>
${input.resource ? html`<p class="muted">Access is for the API at <code>${input.resource}</code>.</p>` : ''}
<p class="muted">You can withdraw this at any time on your account page.</p>
<form method="post" action="/consent">
  <input type="hidden" name="_csrf" value="${input.csrfToken}">
  <input type="hidden" name="interaction" value="${input.interactionId}">
  <div class="actions">
    <button type="submit" name="decision" value="approve">Allow</button>
    <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
  </div>
</form>`,
    { signedInAs: input.username, csrfToken: input.csrfToken },
  );
}

export function errorPage(input: { title: string; error: OAuthError; showComparison: boolean }): string {
  const c = input.error.comparison;
  return layout(
    input.title,
    html`<h1>${input.title}</h1>
<div class="alert" role="alert"><p><strong>${input.error.code}</strong>: ${input.error.description}</p></div>
${
  c && input.showComparison
    ? html`<dl class="compare">
  <dt>Registered</dt><dd>${c.registered.length ? c.registered.map((r) => html`<code>${r}</code><br>`) : html`<em>nothing</em>`}</dd>
  <dt>Received</dt><dd><code>${c.received}</code></dd>
  <dt>Difference</dt><dd>${c.difference}</dd>
</dl>
<p class="muted">This detail is shown because the server runs in development mode. In production it goes to the server log only.</p>`
    : ''
}
<p class="muted">The application that sent you here made a request this server cannot accept, so you were not sent back to it. If you are its developer, check its client registration.</p>`,
  );
}

export function simpleMessagePage(title: string, message: string): string {
  return layout(title, html`<h1>${title}</h1><p>${message}</p>`);
}

export function accountPage(input: {
  username: string;
  csrfToken: string;
  applications: Array<{ client: ClientRecord; consent: ConsentRecord; grants: GrantRecord[] }>;
  describeScope: (scope: string) => string;
}): string {
  return layout(
    'Your account',
    html`<h1>Applications with access</h1>
${
  input.applications.length === 0
    ? html`<p class="muted">You have not given any application access to your account.</p>`
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
    { signedInAs: input.username, csrfToken: input.csrfToken },
  ).replace('<main class="card"', '<main class="card wide"');
}
