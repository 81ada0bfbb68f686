/**
 * Property-based: whatever arrives in the Authorization header or the query string, the core never
 * throws, never authenticates a forgery, and always answers with a well-formed RFC 6750 challenge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createResourceServer, type ResourceServer } from '../../src/resource/index.js';
import { startTestIssuer, testAudience, type TestIssuer } from './test-issuer.js';
import { parseChallenge } from './notes-api.js';

let issuer: TestIssuer;
let server: ResourceServer;
let valid: string;

beforeAll(async () => {
  issuer = await startTestIssuer();
  server = createResourceServer({ issuer: issuer.issuer, audience: testAudience });
  await server.ready();
  valid = await issuer.mint();
});

afterAll(async () => {
  await issuer?.close();
});

const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const segment = fc.string({ unit: base64urlChar, maxLength: 60 });

/** Headers that look more or less like bearer credentials. */
const authorizationHeader = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ maxLength: 80 }).map((value) => `Bearer ${value}`),
  fc.tuple(segment, segment, segment).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
  // A real token with one character changed somewhere.
  fc.nat().chain((at) =>
    base64urlChar.map((char) => {
      const i = 7 + (at % (valid.length - 1));
      const token = valid.slice(0, i) + char + valid.slice(i + 1);
      return `Bearer ${token}`;
    }),
  ),
);

describe('malformed input (property-based)', () => {
  it('A6 RFC 6750 §3.1: any Authorization header gets a well-formed answer; only the genuine token passes', async () => {
    await fc.assert(
      fc.asyncProperty(authorizationHeader, async (authorization) => {
        let request: Request;
        try {
          request = new Request('https://notes.example/api/notes', { headers: { authorization } });
        } catch {
          return; // not a legal header value at all: no HTTP stack would deliver it
        }
        const result = await server.authenticate(request);
        if (result.ok) {
          // Only the genuine token, up to base64url's unused trailing bits in the signature segment.
          const [header, payload, signature] = (request.headers.get('authorization') ?? '').replace(/^Bearer +/i, '').split('.');
          const [validHeader, validPayload, validSignature] = valid.split('.');
          expect([header, payload]).toEqual([validHeader, validPayload]);
          expect(Buffer.from(signature ?? '', 'base64url').equals(Buffer.from(validSignature ?? '', 'base64url'))).toBe(true);
          return;
        }
        expect([400, 401]).toContain(result.status);
        const challenge = parseChallenge(result.wwwAuthenticate);
        expect(challenge.scheme).toBe('Bearer');
        expect(challenge.params['realm']).toBe(testAudience);
        if (result.status === 400) expect(challenge.params['error']).toBe('invalid_request');
        if (challenge.params['error'] === 'invalid_token') expect(result.status).toBe(401);
        // RFC 6750 §3: error_description uses printable ASCII without " and \.
        expect(challenge.params['error_description'] ?? '').toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/);
      }),
      { numRuns: 400 },
    );
  });

  it('A6 RFC 9700 §4.3.2: any request with access_token in the query is refused, whatever else it carries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.boolean(), async (value, withHeader) => {
        const url = new URL('https://notes.example/api/notes');
        url.searchParams.set('access_token', value);
        const headers: Record<string, string> = withHeader ? { authorization: `Bearer ${valid}` } : {};
        const result = await server.authenticate(new Request(url, { headers }));
        expect(result).toMatchObject({ ok: false, status: 400, body: { error: 'invalid_request' } });
      }),
      { numRuns: 100 },
    );
  });
});
