import { describe, expect, it } from 'vitest';
import { explainRedirectUriMismatch, matchRedirectUri, redirectUriProblem } from '../../src/server/core/checks/redirect-uri.js';

describe('redirect URI matching (SECURITY.md R1-R6)', () => {
  const registered = ['https://app.example/cb', 'http://127.0.0.1/native', 'http://[::1]:8080/native', 'http://localhost/dev'];

  it.each([
    ['https://app.example/cb', 'https://app.example/cb'],
    ['http://127.0.0.1/native', 'http://127.0.0.1/native'],
    ['http://127.0.0.1:50000/native', 'http://127.0.0.1:50000/native'],
    ['http://[::1]/native', 'http://[::1]/native'],
    ['http://[::1]:1/native', 'http://[::1]:1/native'],
    ['http://localhost/dev', 'http://localhost/dev'],
  ])('R1 R2 RFC 9700 §4.1.3: %s matches', (received, expected) => {
    expect(matchRedirectUri(registered, received)).toBe(expected);
  });

  it.each([
    'https://app.example/cb/',
    'https://app.example/%63b',
    'https://App.example/cb',
    'https://app.example/Cb',
    'https://app.example:443/cb',
    'https://app.example/cb?',
    'https://app.example/cb#',
    'https://app.example/cb?x=1',
    'https://app.example/c',
    'https://app.example/cb/../cb',
    'http://app.example/cb',
    'http://127.0.0.1:50000/native/',
    'http://127.0.0.1:50000/Native',
    'http://127.0.0.1:/native',
    'http://127.0.0.1:99999/native',
    'http://127.0.0.1:123456/native',
    'https://127.0.0.1:50000/native',
    'http://127.0.0.1.evil.example/native',
    'http://127.0.0.1:80@evil.example/native',
    'http://[::1]:8080/other',
    'http://localhost:3000/dev',
    'http://LOCALHOST/dev',
    '',
  ])('R1 RFC 9700 §4.1.3: %j does not match', (received) => {
    expect(matchRedirectUri(registered, received)).toBeUndefined();
  });

  it('R2 RFC 9700 §4.1.3: a loopback query must still be identical', () => {
    expect(matchRedirectUri(['http://127.0.0.1/cb?a=1'], 'http://127.0.0.1:3000/cb?a=1')).toBe('http://127.0.0.1:3000/cb?a=1');
    expect(matchRedirectUri(['http://127.0.0.1/cb?a=1'], 'http://127.0.0.1:3000/cb?a=2')).toBeUndefined();
  });
});

describe('redirect URI mismatch explanations (R7: tell the developer what differs)', () => {
  it.each([
    [['https://app.example/cb'], 'https://app.example/cb/', 'differs by a trailing slash (received has one)'],
    [['https://app.example/cb/'], 'https://app.example/cb', 'differs by a trailing slash (registered has one)'],
    [['https://app.example/cb'], 'https://APP.example/cb', 'differs only in upper/lower case'],
    [['https://app.example/cb'], 'https://app.example/%63b', 'differs only in percent-encoding'],
    [['https://app.example/cb'], 'https://app.example:443/cb', 'differs by a default port or other normalisation (exact string match is required)'],
    [['https://app.example/cb'], 'http://app.example/cb', 'differs in scheme (https: vs http:)'],
    [['https://app.example/cb'], 'https://evil.example/cb', 'differs in host (app.example vs evil.example)'],
    [['https://app.example/cb'], 'https://app.example:8443/cb', 'differs in port (default vs 8443)'],
    [['https://app.example/cb'], 'https://app.example/other', 'differs in path (/cb vs /other)'],
    [['https://app.example/cb'], 'https://app.example/cb?x=1', 'differs in query string'],
    [['https://app.example/cb'], 'not a uri', 'is not an absolute URI'],
    [[], 'https://app.example/cb', 'the client has no registered redirect URI'],
  ])('R7: registered %j, received %s: "%s"', (reg, received, text) => {
    expect(explainRedirectUriMismatch(reg, received)).toBe(text);
  });

  it('R7: the explanation names the closest registered URI', () => {
    expect(explainRedirectUriMismatch(['https://other.example/x', 'https://app.example/cb'], 'https://app.example/cb/')).toMatch(/trailing slash/);
  });
});

describe('redirect URI registration (R4-R6)', () => {
  it.each(['https://app.example/cb', 'https://app.example/cb?tenant=a', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost/cb', 'com.example.app:/callback'])(
    'R4 R6 OAuth 2.1 §2.3.1: %s is accepted',
    (uri) => {
      expect(redirectUriProblem(uri)).toBeUndefined();
    },
  );

  it.each([
    ['relative/path', /absolute/],
    ['https://app.example/cb#frag', /fragment/],
    ['https://*.example/cb', /wildcard/],
    ['http://app.example/cb', /http/],
    ['javascript:alert(1)', /forbidden scheme/],
    ['data:text/html,x', /forbidden scheme/],
    ['myapp:/cb', /reverse domain/],
  ])('R4 R5 R6 OAuth 2.1 §2.3: %s is refused', (uri, why) => {
    expect(redirectUriProblem(uri)).toMatch(why);
  });
});
