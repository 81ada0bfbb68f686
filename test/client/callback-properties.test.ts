/**
 * Property-based checks of the callback validation: whatever the redirect back contains, a code
 * is accepted only with this session's exact state and the configured issuer, and every refusal
 * is one of the library's typed errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthorizationServerMetadata } from '../../src/client/index.js';
import { AuthorizationResponseError, CallbackValidationError, validateAuthorizationResponse } from '../../src/client/index.js';

const ISSUER = 'https://as.example';
const STATE = 'Xk3-9_abcdefghijklmnopqrstuvwxyzABCDEFGHIJK';
const metadata = (issSupported: boolean): AuthorizationServerMetadata => ({
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/authorize`,
  token_endpoint: `${ISSUER}/token`,
  authorization_response_iss_parameter_supported: issSupported,
  raw: {},
});

const name = fc.constantFrom('code', 'state', 'iss', 'error', 'error_description', 'other');
const value = fc.oneof(fc.string(), fc.constant(STATE), fc.constant(ISSUER), fc.constant(STATE.slice(0, -1)), fc.constant(`${ISSUER}/`));
const parameters = fc.array(fc.tuple(name, value), { maxLength: 8 }).map((pairs) => new URLSearchParams(pairs));

describe('callback validation properties', () => {
  it('RFC 6749 §10.12 + RFC 9207 §2.4: a code is returned only with the exact state and issuer; anything else is a typed refusal', () => {
    fc.assert(
      fc.property(parameters, fc.boolean(), (params, issSupported) => {
        let result: { code: string } | undefined;
        try {
          result = validateAuthorizationResponse(metadata(issSupported), params, STATE);
        } catch (error) {
          expect(error instanceof CallbackValidationError || error instanceof AuthorizationResponseError).toBe(true);
          if (error instanceof AuthorizationResponseError) {
            // An error response is believed only after the state and issuer checks passed.
            expect(params.getAll('state')).toEqual([STATE]);
            if (params.has('iss') || issSupported) expect(params.getAll('iss')).toEqual([ISSUER]);
          }
          return;
        }
        expect(params.getAll('state')).toEqual([STATE]);
        expect(params.has('error')).toBe(false);
        expect(params.getAll('code')).toEqual([result.code]);
        expect(result.code.length).toBeGreaterThan(0);
        if (params.has('iss') || issSupported) expect(params.getAll('iss')).toEqual([ISSUER]);
      }),
      { numRuns: 2000 },
    );
  });

  it('the checks accept the genuine response (so the property above is not vacuous)', () => {
    const params = new URLSearchParams({ code: 'abc', state: STATE, iss: ISSUER });
    expect(validateAuthorizationResponse(metadata(true), params, STATE)).toEqual({ code: 'abc' });
  });
});
