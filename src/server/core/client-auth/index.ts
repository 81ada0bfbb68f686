import type { CoreContext } from '../context.js';
import { constantTimeEqual, sha256 } from '../digest.js';
import { oauthError } from '../errors.js';
import type { Params } from '../params.js';
import type { ClientRecord } from '../ports.js';
import { throttleOf, TooManyRequestsError } from '../throttle.js';
import { readClientSecretBasic } from './client-secret-basic.js';
import { readClientSecretPost } from './client-secret-post.js';
import { readNone } from './none.js';

/** What a back-channel request brings besides its form: the Authorization header and the caller's IP address. */
export interface Caller {
  authorization: string | undefined;
  ip: string;
}

export interface AuthenticatedClient {
  client: ClientRecord;
  method: 'client_secret_basic' | 'client_secret_post' | 'none';
}

/**
 * RFC 6749 §2.3 and §3.2.1: authenticates the client at /token, /introspect and /revoke.
 * Confidential clients use client_secret_basic or client_secret_post; public clients use none.
 */
export async function authenticateClient(ctx: CoreContext, params: Params, caller: Caller): Promise<AuthenticatedClient> {
  params.assertNoDuplicates(['client_id', 'client_secret']);
  const basic = readClientSecretBasic(caller.authorization);
  // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
  if (basic && params.has('client_secret')) {
    throw oauthError('invalid_request', { description: 'Use one client authentication method: Basic or client_secret in the body, not both.', detail: 'two auth methods' });
  }
  if (basic && params.has('client_id') && params.get('client_id') !== basic.clientId) {
    throw oauthError('invalid_request', { description: 'client_id in the body differs from the Basic credentials.', detail: 'client_id mismatch' });
  }
  const presented = basic ?? readClientSecretPost(params) ?? readNone(params);
  if (!presented) {
    throw oauthError('invalid_client', { description: 'Client authentication is required (client_id, and a secret for confidential clients).', detail: 'no client credentials' });
  }
  // G5 OAuth 2.1 §2.4.1: a client_id locked after repeated failures from this address is refused before any secret is compared.
  const throttle = throttleOf(ctx);
  const lockedFor = throttle.clientLockedFor(presented.clientId, caller.ip);
  if (lockedFor > 0) throw new TooManyRequestsError(lockedFor, 'client authentication locked');
  const client = await ctx.store.findClient(presented.clientId);
  // Hash the presented secret even for an unknown client, so timing does not tell which ids exist.
  const presentedHash = sha256(presented.clientSecret ?? '');
  if (!client) {
    return failed(ctx, presented.clientId, caller.ip, oauthError('invalid_client', { description: 'Client authentication failed.', detail: 'unknown client' }));
  }
  if (client.secretHash === null) {
    // SECURITY.md G8: a public client has no secret; presenting one means a confused client.
    if (presented.method !== 'none') {
      throw oauthError('invalid_client', { description: 'This is a public client: send client_id alone, without a secret.', detail: 'secret sent by public client' });
    }
    return { client, method: 'none' };
  }
  if (presented.method === 'none') {
    throw oauthError('invalid_client', { description: 'This client is confidential: authenticate with client_secret_basic or client_secret_post.', detail: 'missing secret' });
  }
  // Generated secrets have 256 bits of entropy, so a SHA-256 digest compared in constant time is
  // the right store (a slow password hash would only slow the token endpoint).
  if (!constantTimeEqual(presentedHash, client.secretHash)) {
    return failed(ctx, client.id, caller.ip, oauthError('invalid_client', { description: 'Client authentication failed.', detail: 'wrong secret' }));
  }
  return { client, method: presented.method };
}

/** G5 OAuth 2.1 §2.4.1: only failures are counted (one Store hit each); past the limit the client_id is locked for this address. */
async function failed(ctx: CoreContext, clientId: string, ip: string, error: Error): Promise<never> {
  const lockedFor = await throttleOf(ctx).clientAuthenticationFailed(clientId, ip);
  if (lockedFor > 0) throw new TooManyRequestsError(lockedFor, 'client authentication locked');
  throw error;
}
