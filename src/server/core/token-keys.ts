import { sha256 } from './digest.js';
import type { Random } from './ports.js';

/**
 * Refresh tokens and grant ids begin with their issue time (milliseconds, base36, fixed
 * width, so they sort as the times do). The secret part is 256 random bits as before (C6, T5);
 * the prefix tells a holder only when the token was issued, which the holder knows anyway.
 *
 * Why: each is stored under a key derived from it, and a random key lands on a random page of
 * the store's index, so every insert dirtied a page of its own and a SQLite commit wrote (and a
 * checkpoint later copied) one page per row. With the time in front, keys issued together sit
 * together at the index's end. Measured on full code flows (SQLite, 32 connections): time-ordered
 * grant ids alone took server CPU from 0.376 to 0.331 ms per flow.
 */
const TIME_WIDTH = 9; // base36 milliseconds: 9 digits last until the year 5138

function timePrefix(now: number): string {
  return now.toString(36).padStart(TIME_WIDTH, '0');
}

/** A new refresh token: `<issue time>.<256 random bits, base64url>`. */
export function newToken(random: Random, now: number): string {
  return timeOrdered(now, random.token(32));
}

/** `<time>.<secret part>`: a token whose storage key sorts by `time` (see storageKey). */
export function timeOrdered(time: number, secretPart: string): string {
  return `${timePrefix(time)}.${secretPart}`;
}

/** A new grant (refresh-token family) id: the issue time, then 128 random bits. */
export function newGrantId(random: Random, now: number): string {
  return timePrefix(now) + random.token(16);
}

/**
 * The key a refresh token is stored and looked up under: the SHA-256 digest of the whole
 * token (only digests are ever stored), behind the token's time prefix. A token without the
 * prefix (one issued before the prefix existed) is keyed by its digest alone. Changing a token's
 * prefix changes its key, so it is not found.
 */
export function storageKey(token: string): string {
  return token.charCodeAt(TIME_WIDTH) === 0x2e /* . */ ? `${token.slice(0, TIME_WIDTH + 1)}${sha256(token)}` : sha256(token);
}
