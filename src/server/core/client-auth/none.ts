import type { Params } from '../params.js';
import type { PresentedCredentials } from './client-secret-basic.js';

/** RFC 6749 §3.2.1 / OAuth 2.1 §3.2.1: a public client identifies itself with client_id alone. */
export function readNone(params: Params): PresentedCredentials | undefined {
  const clientId = params.get('client_id');
  if (clientId === undefined || params.has('client_secret')) return undefined;
  return { clientId, clientSecret: undefined, method: 'none' };
}
