import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { errorCatalogue } from '../../src/server/core/errors.js';

/** Fixed seed so a failure reproduces; override with FUZZ_SEED to explore further. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20260121);
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 120);

export const registeredCodes = new Set(Object.keys(errorCatalogue));

/**
 * Row counts and a checksum of every table, except the two that are supposed to change on a
 * refused request: `events` (the audit trail records the refusal) and `rate_limits` (the
 * brute-force and rate counters count it).
 */
export function snapshot(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[])
      .map((t) => t.name)
      .filter((t) => t !== 'events' && t !== 'rate_limits');
    const result: Record<string, string> = {};
    for (const t of tables) {
      // Sorted here: a WITHOUT ROWID table (consent_revocations) has no rowid to order by.
      const rows = db.prepare(`SELECT * FROM "${t}"`).all().map((row) => JSON.stringify(row)).sort();
      result[t] = `${rows.length}:${createHash('sha256').update(rows.join('\n')).digest('hex').slice(0, 16)}`;
    }
    return result;
  } finally {
    db.close();
  }
}

/** Strings a fuzzer would try: empty, huge, control characters, broken escapes, injections, unicode. */
export const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom('', ' ', '%', '%zz', '%C3%28', '%00', '%FF%FE', '\u0000', '\r\n', '../../etc/passwd', "' OR 1=1 --", '<script>alert(1)</script>', 'null', '[]', '{}', 'S256', 'plain', 'code', 'token', 'none', 'https://evil.example/cb', 'http://127.0.0.1:1/cb', 'javascript:alert(1)') },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 20_000 }).map((n) => 'x'.repeat(n)) },
);

/**
 * A request built from a well-formed one: some parameters dropped, a few values replaced with
 * nasty strings, a few parameters added (perhaps repeating one). Most requests then get past the
 * first checks and fail deeper, where the interesting bugs live.
 */
export function mutated(base: Array<[string, string]>, extraValue: fc.Arbitrary<string>): fc.Arbitrary<Array<[string, string]>> {
  return fc
    .record({
      keep: fc.array(fc.integer({ min: 0, max: 99 }).map((n) => n < 85), { minLength: base.length, maxLength: base.length }),
      replace: fc.array(fc.tuple(fc.nat({ max: Math.max(0, base.length - 1) }), fc.oneof(nastyString, extraValue)), { maxLength: 2 }),
      extra: fc.array(fc.tuple(paramName, fc.oneof(nastyString, extraValue)), { maxLength: 3 }),
    })
    .map(({ keep, replace, extra }) => {
      const pairs = base.map(([k, v]) => [k, v] as [string, string]);
      for (const [i, value] of replace) if (pairs[i]) pairs[i] = [pairs[i]![0], value];
      return [...pairs.filter((_, i) => keep[i]), ...extra];
    });
}

/** One parameter name: mostly names the endpoints know, sometimes anything. */
export const paramName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('client_id', 'client_secret', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'resource', 'prompt', 'grant_type', 'code', 'code_verifier', 'refresh_token', 'token', 'token_type_hint', 'username', 'password', 'interaction', 'decision', '_csrf') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Encodes pairs as a query string or form body; sometimes raw (unencoded) to hit the parser's edges. */
export function encode(pairs: Array<[string, string]>, raw: boolean): string {
  return pairs.map(([k, v]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
}

/** Fails on anything that looks like a stack trace or an internal error message. */
export const STACK_TRACE = /\bat [\w.<>]+ \(|\.ts:\d+:\d+|node:internal|TypeError|ReferenceError|SqliteError|SQLITE_/;
