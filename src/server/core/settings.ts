import type { ThrottleOverrides } from './throttle.js';

/**
 * The settings the protocol core runs with. Built from flags and environment variables by
 * src/server/config.ts; the core only ever sees this typed object.
 */
export interface Settings {
  /** RFC 8414 §2 issuer identifier: https URL without query or fragment (http allowed for loopback). */
  issuer: string;
  /** Development mode: error pages show what was compared with what. */
  development: boolean;
  /** SECURITY.md C1: codes expire quickly (RFC recommends at most 10 minutes). */
  codeTtlSeconds: number;
  /** SECURITY.md A4: short-lived bearer tokens. */
  accessTokenTtlSeconds: number;
  /** SECURITY.md T6: refresh tokens expire after this much inactivity. */
  refreshIdleTtlSeconds: number;
  /** No refresh token of a family lives longer than this after the code was redeemed. */
  refreshAbsoluteTtlSeconds: number;
  /** A just-rotated refresh token presented again within this window gets the same successor. */
  refreshRetryWindowSeconds: number;
  /** Login session lifetime at the authorization server. */
  sessionTtlSeconds: number;
  /** How long a pending authorization request waits for login and consent. */
  interactionTtlSeconds: number;
  /** RFC 8707: the audience of access tokens requested without `resource`. */
  defaultAudience: string;
  /** Scopes with a plain-words explanation for the consent page. */
  scopeDescriptions: Record<string, string>;
  /** Brute-force and rate limits (core/throttle.ts); unset parts take the defaults there. */
  throttle?: ThrottleOverrides;
}

export const defaultScopeDescriptions: Record<string, string> = {
  profile: 'See your username',
  email: 'See your email address',
  offline_access: 'Stay connected when you are not using it',
};

export function defaultSettings(issuer: string): Settings {
  return {
    issuer,
    development: false,
    codeTtlSeconds: 60,
    accessTokenTtlSeconds: 300,
    refreshIdleTtlSeconds: 14 * 24 * 3600,
    refreshAbsoluteTtlSeconds: 30 * 24 * 3600,
    refreshRetryWindowSeconds: 5,
    sessionTtlSeconds: 8 * 3600,
    interactionTtlSeconds: 600,
    defaultAudience: issuer,
    scopeDescriptions: { ...defaultScopeDescriptions },
  };
}
