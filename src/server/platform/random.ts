import { randomBytes } from 'node:crypto';
import type { Random } from '../core/ports.js';

export const cryptoRandom: Random = {
  token: (bytes: number) => randomBytes(bytes).toString('base64url'),
};
