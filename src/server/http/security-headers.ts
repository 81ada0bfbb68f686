// The `helmet: false` route option keeps the type @fastify/helmet declared for it.
import type {} from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Security headers on every page (X1 RFC 9700 §4.16: no framing; X3 RFC 9700 §4.2.4: no referrer
 * and no third-party resources), the same values helmet produces for the configuration Latchkey
 * used, computed once at start. @fastify/helmet rebuilt the whole helmet middleware, options
 * parsing and CSP directives included, on every request; under load that was ~8 % of the
 * authorization endpoint's CPU. Routes registered with `{ helmet: false }` (the JSON endpoints)
 * get none of these headers, as before.
 */
export function securityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  const headers: ReadonlyArray<readonly [string, string]> = [
    // X1, X3: nothing loads from elsewhere, nothing frames the pages.
    ['content-security-policy', "default-src 'none';style-src 'self';img-src 'self' data:;frame-ancestors 'none';base-uri 'none'"],
    ['cross-origin-opener-policy', 'same-origin'],
    ['cross-origin-resource-policy', 'same-origin'],
    ['origin-agent-cluster', '?1'],
    // X3 RFC 9700 §4.2.4: the authorization page never leaks its URL through Referer.
    ['referrer-policy', 'no-referrer'],
    ...(options.https ? ([['strict-transport-security', 'max-age=31536000; includeSubDomains']] as const) : []),
    ['x-content-type-options', 'nosniff'],
    ['x-dns-prefetch-control', 'off'],
    ['x-download-options', 'noopen'],
    // X1 RFC 9700 §4.16: clickjacking.
    ['x-frame-options', 'DENY'],
    ['x-permitted-cross-domain-policies', 'none'],
    ['x-xss-protection', '0'],
  ];
  const skipped = new Set<string>();
  app.addHook('onRoute', (route) => {
    if ((route as { helmet?: unknown }).helmet === false) for (const method of [route.method].flat()) skipped.add(`${method} ${route.url}`);
  });
  // A plain (not async) hook: one Set lookup for the JSON endpoints, a dozen setHeader calls for pages.
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.routeOptions.url;
    if (url === undefined || !skipped.has(`${request.method} ${url}`)) {
      for (const [name, value] of headers) reply.raw.setHeader(name, value);
    }
    done();
  });
}
