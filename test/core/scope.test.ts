import { describe, expect, it } from 'vitest';
import { formatScope, isSubset, parseScope } from '../../src/server/core/checks/scope.js';

describe('scope (RFC 6749 §3.3)', () => {
  it.each([
    ['notes:read', ['notes:read']],
    ['notes:read notes:write', ['notes:read', 'notes:write']],
    ['b a b', ['b', 'a']],
    ['https://api.example/notes.read', ['https://api.example/notes.read']],
    ['!#[]~', ['!#[]~']],
  ])('RFC 6749 §3.3: %j parses', (value, expected) => {
    expect(parseScope(value)).toEqual(expected);
  });

  it.each([
    ['an empty value', ''],
    ['a double space', 'a  b'],
    ['a leading space', ' a'],
    ['a trailing space', 'a '],
    ['a tab', 'a\tb'],
    ['a double quote', 'a"b'],
    ['a backslash', 'a\\b'],
    ['a non-ASCII character', 'notés'],
    ['a control character', 'a\u0001'],
  ])('RFC 6749 §3.3: a scope with %s is malformed', (_what, value) => {
    expect(parseScope(value)).toBeUndefined();
  });

  it('T2 RFC 6749 §6: subset checks', () => {
    expect(isSubset(['a'], ['a', 'b'])).toBe(true);
    expect(isSubset([], ['a'])).toBe(true);
    expect(isSubset(['a', 'c'], ['a', 'b'])).toBe(false);
  });

  it('RFC 6749 §3.3: scopes are joined with single spaces', () => {
    expect(formatScope(['a', 'b'])).toBe('a b');
    expect(formatScope([])).toBe('');
  });
});
