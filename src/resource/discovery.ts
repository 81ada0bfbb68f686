/**
 * Discovering the authorization server: RFC 8414 metadata, with OpenID Connect Discovery as the
 * fallback, so the middleware works with Latchkey and with any other compliant issuer.
 */

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface AuthorizationServerMetadata {
  issuer: string;
  jwksUri: string;
  introspectionEndpoint: string | null;
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

/**
 * RFC 8414 §3: the well-known suffix goes between the host and the issuer's path
 * (`https://as.example/t1` → `https://as.example/.well-known/oauth-authorization-server/t1`).
 * OpenID Connect Discovery 1.0 §4 appends it to the issuer instead.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

export async function fetchJson(fetchImpl: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<unknown> {
  const response = await fetchImpl(url, {
    ...init,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new DiscoveryError(`${url} answered ${response.status}`);
  }
  const type = response.headers.get('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(type)) {
    await response.body?.cancel();
    throw new DiscoveryError(`${url} answered ${type || 'no content type'}, not JSON`);
  }
  return response.json();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalUrl(document: Record<string, unknown>, name: string): string | null {
  const value = document[name];
  if (value === undefined) return null;
  if (typeof value !== 'string' || !URL.canParse(value)) throw new DiscoveryError(`metadata ${name} is not a URL`);
  return value;
}

export async function discover(issuer: string, fetchImpl: FetchLike, timeoutMs: number): Promise<AuthorizationServerMetadata> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let document: unknown;
    try {
      document = await fetchJson(fetchImpl, url, { method: 'GET' }, timeoutMs);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    if (!isRecord(document)) throw new DiscoveryError(`${url} is not a JSON object`);
    // RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the authorization server's
    // issuer identifier value into which the well-known URI string was inserted"; otherwise the
    // metadata MUST NOT be used (it may come from an impostor, a mix-up attack).
    if (document['issuer'] !== issuer) {
      throw new DiscoveryError(`${url} names issuer ${JSON.stringify(document['issuer'])}, expected ${issuer}`);
    }
    const jwksUri = optionalUrl(document, 'jwks_uri');
    if (jwksUri === null) throw new DiscoveryError(`${url} has no jwks_uri`);
    return { issuer, jwksUri, introspectionEndpoint: optionalUrl(document, 'introspection_endpoint') };
  }
  throw new DiscoveryError(`no metadata for ${issuer}: ${failures.join('; ')}`);
}
