import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/server/core/errors.js';
import { MAX_PARAMETERS, MAX_PARAMETER_LENGTH, parseUrlEncoded } from '../../src/server/core/params.js';

function refusal(input: string | Buffer): OAuthError {
  try {
    parseUrlEncoded(input);
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  }
  throw new Error(`parsed without error: ${String(input).slice(0, 80)}`);
}

describe('Params: strict application/x-www-form-urlencoded parsing (RFC 6749 Appendix B, §3.1)', () => {
  it('RFC 6749 Appendix B: names and values are percent-decoded, + is a space', () => {
    const p = parseUrlEncoded('a=1&b=x+y%20z&c=%E2%9C%93&d=%26%3D');
    expect(p.get('a')).toBe('1');
    expect(p.get('b')).toBe('x y z');
    expect(p.get('c')).toBe('✓');
    expect(p.get('d')).toBe('&=');
    expect(p.size).toBe(4);
    expect([...p.names()]).toEqual(['a', 'b', 'c', 'd']);
  });

  it('RFC 6749 §3.1: a repeated parameter is recorded as a duplicate; the first value is kept', () => {
    const p = parseUrlEncoded('scope=a&scope=b&state=x');
    expect(p.duplicates.has('scope')).toBe(true);
    expect(p.duplicates.has('state')).toBe(false);
    expect(p.get('scope')).toBe('a');
    expect(() => p.assertNoDuplicates(['state'])).not.toThrow();
    const error = (() => {
      try {
        p.assertNoDuplicates(['state', 'scope']);
      } catch (e) {
        return e as OAuthError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('invalid_request');
  });

  it('RFC 6749 §3.1: a percent-encoded name is the same parameter as its plain form', () => {
    expect(parseUrlEncoded('code=a&%63ode=b').duplicates.has('code')).toBe(true);
  });

  it('RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted"', () => {
    const p = parseUrlEncoded('a=&b&c=1&&');
    expect(p.has('a')).toBe(false);
    expect(p.has('b')).toBe(false);
    expect(p.get('c')).toBe('1');
    // An empty repeat is no duplicate.
    expect(parseUrlEncoded('state=&state=x').duplicates.size).toBe(0);
    expect(parseUrlEncoded('state=x&state=').get('state')).toBe('x');
  });

  it('an empty body has no parameters', () => {
    expect(parseUrlEncoded('').size).toBe(0);
    expect(parseUrlEncoded(Buffer.alloc(0)).size).toBe(0);
  });

  it('RFC 3629: a raw body that is not valid UTF-8 is an invalid_request', () => {
    expect(refusal(Buffer.from([0x61, 0x3d, 0xff])).code).toBe('invalid_request');
    expect(refusal(Buffer.from([0x61, 0x3d, 0xc3])).code).toBe('invalid_request');
    // A valid multi-byte body is fine.
    expect(parseUrlEncoded(Buffer.from('a=ü', 'utf8')).get('a')).toBe('ü');
  });

  it.each(['a=%FF', 'a=%C3', 'a=%E0%A4', 'a=%ED%A0%80'])('RFC 3629: %s (percent-encoded invalid UTF-8) is an invalid_request', (input) => {
    expect(refusal(input).code).toBe('invalid_request');
  });

  it.each(['a=%', 'a=%2', 'a=%zz', 'a=%%41', '%=1', '%zz=1'])('RFC 3986 §2.1: the bad escape %s is an invalid_request', (input) => {
    expect(refusal(input).code).toBe('invalid_request');
  });

  it('parameters longer than the limit, and too many parameters, are an invalid_request', () => {
    expect(parseUrlEncoded(`a=${'x'.repeat(MAX_PARAMETER_LENGTH)}`).get('a')).toHaveLength(MAX_PARAMETER_LENGTH);
    expect(refusal(`a=${'x'.repeat(MAX_PARAMETER_LENGTH + 1)}`).code).toBe('invalid_request');
    expect(refusal(`${'n'.repeat(257)}=1`).code).toBe('invalid_request');
    const many = Array.from({ length: MAX_PARAMETERS + 1 }, (_, i) => `p${i}=1`).join('&');
    expect(refusal(many).code).toBe('invalid_request');
  });

  it('errors from parsing are invalid_request with status 400 and never leak the input', () => {
    const error = refusal('a=%zz');
    expect(error.status).toBe(400);
    expect(error.toJSON()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    expect(error.toJSON().error_description).not.toContain('%zz');
  });
});
