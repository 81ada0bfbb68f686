import { describe, expect, it } from 'vitest';
import { isLoginSatisfied } from '../../src/server/core/endpoints/authorize.js';
import { errorCatalogue, oauthError, type OAuthErrorCode } from '../../src/server/core/errors.js';
import type { AuthorizationRequest, InteractionRecord, SessionRecord } from '../../src/server/core/ports.js';

const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

describe('error catalogue (RFC 6749 §4.1.2.1, §5.2)', () => {
  it.each(Object.keys(errorCatalogue) as OAuthErrorCode[])('RFC 6749 §5.2: %s has a 4xx/5xx status and a wire-safe description', (code) => {
    const error = oauthError(code);
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.description).toMatch(ERROR_DESCRIPTION);
    expect(error.toJSON()).toEqual({ error: code, error_description: error.description });
  });

  it('RFC 6749 §5.2: a description quoting caller input is reduced to the allowed characters', () => {
    const error = oauthError('unsupported_grant_type', { description: 'grant_type "ü\\\n<x>" is not supported.' });
    expect(error.description).toMatch(ERROR_DESCRIPTION);
    expect(error.description).toBe('grant_type ????<x>? is not supported.');
  });

  it('RFC 6749 §5.2: detail never reaches the wire', () => {
    const error = oauthError('invalid_grant', { detail: 'code replayed by 10.0.0.1' });
    expect(JSON.stringify(error.toJSON())).not.toContain('10.0.0.1');
  });

  it('RFC 6749 §5.2: invalid_client is 401 by default', () => {
    expect(oauthError('invalid_client').status).toBe(401);
  });
});

describe('isLoginSatisfied (OpenID Connect Core §3.1.2.1 prompt=login)', () => {
  const request = (prompt: AuthorizationRequest['prompt']) => ({ prompt }) as AuthorizationRequest;
  const session = (authTime: number) => ({ authTime }) as SessionRecord;
  const interaction = (createdAt: number) => ({ createdAt }) as InteractionRecord;

  it('OIDC Core §3.1.2.1: no session never satisfies', () => {
    expect(isLoginSatisfied(request([]), undefined, interaction(0))).toBe(false);
  });

  it('OIDC Core §3.1.2.1: without prompt=login any session satisfies', () => {
    expect(isLoginSatisfied(request([]), session(0), undefined)).toBe(true);
    expect(isLoginSatisfied(request(['consent']), session(0), interaction(1000))).toBe(true);
  });

  it('OIDC Core §3.1.2.1: with prompt=login only a login at or after the interaction began satisfies', () => {
    expect(isLoginSatisfied(request(['login']), session(999), interaction(1000))).toBe(false);
    expect(isLoginSatisfied(request(['login']), session(1000), interaction(1000))).toBe(true);
    expect(isLoginSatisfied(request(['login']), session(5000), interaction(1000))).toBe(true);
    expect(isLoginSatisfied(request(['login']), session(5000), undefined)).toBe(false);
  });
});
