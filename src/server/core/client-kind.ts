import type { ClientRecord } from './ports.js';

/**
 * A resource server (an API) is registered as a confidential client with no grant type and
 * exactly one audience: it can authenticate at /introspect (RFC 7662 §2.1) but never obtain tokens.
 */
export function isResourceServer(client: ClientRecord): boolean {
  return client.grantTypes.length === 0 && client.secretHash !== null && client.resources.length === 1;
}
