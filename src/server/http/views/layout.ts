import { html, type SafeHtml } from './html.js';

/**
 * Every page: no external fonts, scripts or CDNs (X3); one stylesheet from this server.
 */
export function layout(title: string, body: SafeHtml, options: { signedInAs?: string; csrfToken?: string } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Latchkey</title>
<link rel="stylesheet" href="/assets/latchkey.css">
</head>
<body>
<header class="top">
  <a class="brand" href="/account"><span class="brand-mark" aria-hidden="true">◆</span> Latchkey</a>
  ${
    options.signedInAs && options.csrfToken
      ? html`<form method="post" action="/logout" class="top-logout">
    <span class="who">Signed in as <strong>${options.signedInAs}</strong></span>
    <input type="hidden" name="_csrf" value="${options.csrfToken}">
    <button type="submit" class="link">Sign out</button>
  </form>`
      : ''
  }
</header>
<main class="card" id="main">
${body}
</main>
<footer class="foot">Protected by Latchkey · OAuth 2.1 authorization server</footer>
</body>
</html>`.value;
}
