import type { ClientRecord } from '../core/ports.js';

/** Every caller gets its own record (the Store contract: changing a returned record changes nothing stored). */
export function copyClient(client: ClientRecord): ClientRecord {
  return {
    ...client,
    redirectUris: [...client.redirectUris],
    scopes: [...client.scopes],
    grantTypes: [...client.grantTypes],
    resources: [...client.resources],
  };
}
