/**
 * RFC 9728 protected-resource metadata: lets a client (or an agent framework) that met this API
 * find out which authorization server issues tokens for it.
 */

/** RFC 9728 §2 (the members this middleware publishes). */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
}

/**
 * RFC 9728 §3.1: the well-known suffix goes between the host and the path of the resource
 * identifier, and a terminating slash of the path is dropped first
 * (`https://api.example/notes` → `https://api.example/.well-known/oauth-protected-resource/notes`).
 * Returns null when the resource identifier is not an http(s) URL: then there is no such place.
 */
export function protectedResourceMetadataUrl(resource: string): string | null {
  if (!URL.canParse(resource)) return null;
  const url = new URL(resource);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // RFC 9728 §1.2: a resource identifier has no fragment; its query, if any, is not part of the path.
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}
