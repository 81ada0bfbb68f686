import { oauthError } from '../errors.js';

export interface PresentedCredentials {
  clientId: string;
  clientSecret: string | undefined;
  method: 'client_secret_basic' | 'client_secret_post' | 'none';
}

/**
 * RFC 6749 §2.3.1: HTTP Basic with client_id and client_secret each form-urlencoded (Appendix B)
 * before being joined with ":" and base64-encoded.
 */
export function readClientSecretBasic(authorization: string | undefined): PresentedCredentials | undefined {
  if (authorization === undefined) return undefined;
  const space = authorization.indexOf(' ');
  if (space === -1 || authorization.slice(0, space).toLowerCase() !== 'basic') {
    throw oauthError('invalid_client', { description: 'Only the Basic authentication scheme is supported at this endpoint.', detail: 'unsupported authorization scheme' });
  }
  const decoded = Buffer.from(authorization.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw oauthError('invalid_client', { description: 'The Basic credentials are malformed.', detail: 'malformed basic credentials' });
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
      method: 'client_secret_basic',
    };
  } catch {
    throw oauthError('invalid_client', { description: 'The Basic credentials are not correctly form-urlencoded.', detail: 'malformed basic credentials' });
  }
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replaceAll('+', ' '));
}
