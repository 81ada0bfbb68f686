/**
 * Redirect URI rules (SECURITY.md R1–R6). Matching is a simple string comparison (RFC 3986
 * §6.2.1) with one exception, the loopback port (R2).
 */

const LOOPBACK_IP = /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d{1,5})?(?=[/?#]|$)/;

/** `http://127.0.0.1:1234/cb` → `http://127.0.0.1/cb`; undefined for anything else. */
function withoutLoopbackPort(uri: string): string | undefined {
  const m = LOOPBACK_IP.exec(uri);
  if (!m) return undefined;
  // RFC 3986 §3.2.3, RFC 793: a port is 0-65535; a larger number is no URI at all (new URL throws).
  if (m[2] !== undefined && Number(m[2].slice(1)) > 65535) return undefined;
  return `http://${m[1]}${uri.slice(m[0].length)}`;
}

/**
 * Returns the redirect URI to use if `received` matches one of `registered`, else undefined.
 */
export function matchRedirectUri(registered: readonly string[], received: string): string | undefined {
  // R1 RFC 9700 §4.1.3, OAuth 2.1 §4.1.1: "exact string matching".
  if (registered.includes(received)) return received;
  // R2 RFC 9700 §4.1.3 (citing RFC 8252 §7.3): loopback IP redirect URIs match with any port;
  // scheme, host, path and query must still be identical. R3: `localhost` is not a loopback IP
  // literal, so it gets no port exception (OAuth 2.1 §8.4.2 speaks of loopback IP addresses).
  const loopback = withoutLoopbackPort(received);
  if (loopback !== undefined && registered.some((r) => withoutLoopbackPort(r) === loopback)) return received;
  return undefined;
}

/**
 * Why `received` matches none of `registered`, in words a developer can act on, e.g.
 * "differs by a trailing slash". Compares against the closest registered URI.
 */
export function explainRedirectUriMismatch(registered: readonly string[], received: string): string {
  if (registered.length === 0) return 'the client has no registered redirect URI';
  const reasons = registered.map((r) => describeDifference(r, received));
  return reasons.sort((a, b) => a.rank - b.rank)[0]!.text;
}

function describeDifference(registered: string, received: string): { rank: number; text: string } {
  if (registered.replace(/\/$/, '') === received.replace(/\/$/, '')) {
    return { rank: 0, text: received.endsWith('/') ? 'differs by a trailing slash (received has one)' : 'differs by a trailing slash (registered has one)' };
  }
  if (registered.toLowerCase() === received.toLowerCase()) return { rank: 1, text: 'differs only in upper/lower case' };
  let decodedEqual = false;
  try {
    decodedEqual = decodeURIComponent(registered) === decodeURIComponent(received);
  } catch {
    // not decodable: not a percent-encoding difference
  }
  if (decodedEqual) return { rank: 1, text: 'differs only in percent-encoding' };
  let r: URL;
  let q: URL;
  try {
    r = new URL(registered);
    q = new URL(received);
  } catch {
    return { rank: 9, text: 'is not an absolute URI' };
  }
  if (r.href === q.href) return { rank: 2, text: 'differs by a default port or other normalisation (exact string match is required)' };
  if (r.protocol !== q.protocol) return { rank: 3, text: `differs in scheme (${r.protocol} vs ${q.protocol})` };
  if (r.hostname !== q.hostname) return { rank: 5, text: `differs in host (${r.hostname} vs ${q.hostname})` };
  if (r.port !== q.port) return { rank: 3, text: `differs in port (${r.port || 'default'} vs ${q.port || 'default'})` };
  if (r.pathname !== q.pathname) return { rank: 4, text: `differs in path (${r.pathname} vs ${q.pathname})` };
  if (r.search !== q.search) return { rank: 4, text: 'differs in query string' };
  if (r.hash !== q.hash) return { rank: 4, text: 'differs in fragment (redirect URIs must not have one)' };
  return { rank: 8, text: 'differs (exact string match is required)' };
}

/**
 * Checks a redirect URI at registration. Returns the problem in words, or undefined if it is fine.
 */
export function redirectUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // R5 OAuth 2.1 §2.3: the redirect URI is an absolute URI.
    return 'is not an absolute URI';
  }
  // R5 OAuth 2.1 §2.3: "The redirect URI MUST NOT include a fragment component."
  if (uri.includes('#')) return 'must not contain a fragment (#)';
  if (uri.includes('*')) return 'must not contain a wildcard (*): redirect URIs are matched exactly';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    // R4 RFC 9700 §2.6, OAuth 2.1 §1.5: http only for loopback (native apps, local development).
    if (url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost') return undefined;
    return 'uses http for a host that is not loopback: use https';
  }
  if (url.protocol === 'javascript:' || url.protocol === 'data:' || url.protocol === 'file:') return `uses the forbidden scheme ${url.protocol}`;
  // R6 OAuth 2.1 §2.3.1: private-use URI schemes in reverse-domain form (com.example.app:/cb).
  if (!url.protocol.slice(0, -1).includes('.')) return 'uses a private-use scheme that is not a reverse domain name (e.g. com.example.app:/callback)';
  return undefined;
}
