// @ts-check
/** A tagged template that escapes every value unless it is already `Html` (no template engine needed). */

export class Html {
  /** @param {string} value */
  constructor(value) {
    this.value = value;
  }
  toString() {
    return this.value;
  }
}

/** @param {string} text */
export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** @typedef {string | number | Html | Html[] | null | undefined | false} Value */

/**
 * @param {TemplateStringsArray} strings
 * @param {...Value} values
 */
export function html(strings, ...values) {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** @param {Value} value @returns {string} */
function render(value) {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * The demo app's page frame: a skip link, header, main landmark, footer; one stylesheet from the
 * app itself, no scripts.
 *
 * @param {{ title: string, body: Html, user?: { username?: string | null, sub: string } | undefined, wide?: boolean, current?: string }} page
 */
export function appLayout({ title, body, user, wide, current }) {
  const nav = (/** @type {string} */ href, /** @type {string} */ label) =>
    html`<a href="${href}"${current === href ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Latchkey Notes</title>
<link rel="stylesheet" href="/assets/demo.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="bar">
  <a class="brand" href="/"><span class="logo" aria-hidden="true">✎</span> Latchkey Notes <span class="tag">demo app</span></a>
  <nav aria-label="Main">${nav('/', 'Notes')} ${nav('/flow', 'What just happened')}</nav>
  ${
    user
      ? html`<form method="post" action="/logout" class="signout">
    <span class="who">Signed in as <strong>${user.username ?? user.sub}</strong></span>
    <button type="submit" class="ghost">Sign out</button>
  </form>`
      : html`<a class="button small" href="/login">Sign in</a>`
  }
</header>
<main id="main" class="${wide ? 'wrap wide' : 'wrap'}" tabindex="-1">
${body}
</main>
<footer class="foot">A demo of <strong>latchkey/client</strong> (this app, a backend-for-frontend) · <strong>latchkey/resource</strong> (the notes API) · <strong>latchkey/server</strong> (the authorization server)</footer>
</body>
</html>`.value;
}
