import type { Clock, EventSink, KeyRing, PasswordHasher, Random, Store } from './ports.js';
import type { Settings } from './settings.js';

/** Everything a core endpoint or grant needs, passed explicitly. */
export interface CoreContext {
  settings: Settings;
  store: Store;
  keys: KeyRing;
  clock: Clock;
  random: Random;
  passwords: PasswordHasher;
  events: EventSink;
  /** HMAC key that derives a refresh token's successor from the token (see grants/refresh-token.ts). */
  refreshSecret: Buffer;
  /** AES key material that seals authorization codes (see sealed-code.ts). */
  codeSecret: Buffer;
}
