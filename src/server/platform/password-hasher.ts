import { Algorithm, hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../core/ports.js';

// OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
const owaspArgon2id = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** A valid argon2id hash of a random password, verified against for unknown users (equal timing). */
const dummyHash = '$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2hrZXktZHVtbXk$0pDTSTZQkNwDNPTbyPuK8zWEZ6f3G7mO6xJ7eMGlAv8';

export const argon2Hasher: PasswordHasher = {
  hash: (password) => hash(password, owaspArgon2id),
  verify: async (stored, password) => {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  },
  dummyHash,
};
