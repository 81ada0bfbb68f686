import type { Params } from '../params.js';
import type { PresentedCredentials } from './client-secret-basic.js';

/** RFC 6749 §2.3.1 (SECURITY.md G4): client_id and client_secret in the request body. */
export function readClientSecretPost(params: Params): PresentedCredentials | undefined {
  const clientId = params.get('client_id');
  const clientSecret = params.get('client_secret');
  if (clientId === undefined || clientSecret === undefined) return undefined;
  return { clientId, clientSecret, method: 'client_secret_post' };
}
