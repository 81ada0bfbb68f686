import { authorizationCodeGrant } from './authorization-code.js';
import type { GrantHandler } from './grant.js';
import { refreshTokenGrant } from './refresh-token.js';

/** The grant registry: the token endpoint dispatches on grant_type and never branches itself. */
export const grantHandlers: ReadonlyMap<string, GrantHandler> = new Map(
  [authorizationCodeGrant, refreshTokenGrant].map((g) => [g.grantType, g]),
);
