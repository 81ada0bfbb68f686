import { oauthError } from './errors.js';

/**
 * Request parameters from a query string or an application/x-www-form-urlencoded body, parsed
 * strictly: invalid UTF-8 or a broken percent-escape is an invalid_request, not a silent U+FFFD.
 */
export class Params {
  private readonly values = new Map<string, string>();
  /** RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." */
  readonly duplicates = new Set<string>();
  private count = 0;

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get size(): number {
    return this.count;
  }

  names(): IterableIterator<string> {
    return this.values.keys();
  }

  add(name: string, value: string): void {
    this.count++;
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted."
    if (value === '') return;
    if (this.values.has(name)) this.duplicates.add(name);
    else this.values.set(name, value);
  }

  /** Throws invalid_request if any of `names` was sent more than once (RFC 6749 §3.1). */
  assertNoDuplicates(names: Iterable<string>): void {
    for (const name of names) {
      if (this.duplicates.has(name)) {
        throw oauthError('invalid_request', { description: `The ${name} parameter was sent more than once.`, detail: `duplicate ${name}` });
      }
    }
  }
}

export const MAX_PARAMETER_LENGTH = 4096;
export const MAX_PARAMETERS = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses `a=1&b=2` into Params. Throws invalid_request on malformed input. */
export function parseUrlEncoded(input: string | Buffer): Params {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch {
    throw oauthError('invalid_request', { description: 'The request body is not valid UTF-8.', detail: 'invalid utf-8' });
  }
  const params = new Params();
  if (text === '') return params;
  const pairs = text.split('&');
  if (pairs.length > MAX_PARAMETERS) {
    throw oauthError('invalid_request', { description: `Too many parameters (at most ${MAX_PARAMETERS}).`, detail: 'too many parameters' });
  }
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    if (value.length > MAX_PARAMETER_LENGTH || name.length > 256) {
      throw oauthError('invalid_request', {
        description: `The ${name.slice(0, 64)} parameter is too long (at most ${MAX_PARAMETER_LENGTH} characters).`,
        detail: 'parameter too long',
      });
    }
    params.add(name, value);
  }
  return params;
}

function decode(component: string): string {
  // Most names and values (codes, tokens, PKCE values, client ids) have nothing to decode.
  if (!component.includes('%') && !component.includes('+')) return component;
  try {
    return decodeURIComponent(component.includes('+') ? component.replaceAll('+', ' ') : component);
  } catch {
    throw oauthError('invalid_request', { description: 'A parameter has a malformed percent-encoding or invalid UTF-8.', detail: 'bad percent-encoding' });
  }
}
