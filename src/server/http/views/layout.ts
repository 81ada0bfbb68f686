import { html, type SafeHtml } from './html.js';

export interface LayoutOptions {
  /** Shows "Signed in as …" and a sign-out button in the header. */
  signedInAs?: string;
  csrfToken?: string;
  /** A wider card, for tables (the account page). */
  wide?: boolean;
}

/**
 * Every page: a skip link, a header, one main landmark, a footer. No external fonts, scripts or
 * CDNs (X3 RFC 9700 §4.2.4: no third-party resources); one stylesheet from this server, which the
 * CSP (style-src 'self') allows; no inline styles or scripts.
 */
export function layout(title: string, body: SafeHtml, options: LayoutOptions = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light">
<title>${title} · Latchkey</title>
<link rel="stylesheet" href="/assets/latchkey.css">
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="top">
  <a class="brand" href="/account"><span class="brand-mark" aria-hidden="true"></span>Latchkey</a>
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
<main class="${options.wide ? 'card wide' : 'card'}" id="main" tabindex="-1">
${body}
</main>
<footer class="foot"><span class="lock" aria-hidden="true"></span>Secured by Latchkey · OAuth 2.1 authorization server</footer>
</body>
</html>`.value;
}
