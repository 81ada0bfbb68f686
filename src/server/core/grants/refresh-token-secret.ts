import { createHmac } from 'node:crypto';

/**
 * A refresh token's successor is derived from the token itself: HMAC-SHA256 under a server key.
 * The same token presented twice inside the retry window yields the same successor, so two tabs
 * or a lost response never fork the family, and the successor never has to be stored in clear.
 */
export function successorOf(refreshSecret: Buffer, refreshToken: string): string {
  return createHmac('sha256', refreshSecret).update(refreshToken).digest('base64url');
}
