/**
 * A session store in Redis (≥ 6.2), shared by every instance of the application. It carries no
 * Redis driver: pass a function that sends one command with the client you already use.
 *
 *   // node-redis 4+
 *   new RedisSessionStore({ command: (args) => redis.sendCommand(args) })
 *   // ioredis
 *   new RedisSessionStore({ command: ([name, ...rest]) => redis.call(name!, ...rest) })
 *
 * Each session is one string key holding the JSON, with an absolute expiry (SET … PXAT), so
 * Redis drops expired sessions by itself. Tokens are stored in clear: protect the Redis instance
 * (authentication, TLS, no public network access).
 */
import { UnexpectedResponseError } from './errors.js';
import type { SessionData, SessionStore } from './session-store.js';

export interface RedisSessionStoreOptions {
  /** Sends one command (e.g. ['GET', key]) and resolves with Redis's reply. */
  command: (args: string[]) => Promise<unknown>;
  /** Prefix of every key; default 'latchkey:session:'. */
  prefix?: string;
}

export class RedisSessionStore implements SessionStore {
  readonly #command: (args: string[]) => Promise<unknown>;
  readonly #prefix: string;

  constructor(options: RedisSessionStoreOptions) {
    if (typeof options?.command !== 'function') {
      throw new TypeError('RedisSessionStore needs `command`, a function that sends one Redis command, e.g. (args) => redis.sendCommand(args).');
    }
    this.#command = options.command;
    this.#prefix = options.prefix ?? 'latchkey:session:';
  }

  async get(key: string): Promise<SessionData | undefined> {
    const reply = await this.#command(['GET', this.#prefix + key]);
    if (reply === null || reply === undefined) return undefined;
    const text = typeof reply === 'string' ? reply : reply instanceof Uint8Array ? new TextDecoder().decode(reply) : undefined;
    if (text === undefined) throw new UnexpectedResponseError('redis', `GET answered ${typeof reply}, expected a string. Check the \`command\` function passed to RedisSessionStore.`);
    return JSON.parse(text) as SessionData;
  }

  async set(key: string, data: SessionData, expiresAt: number): Promise<void> {
    // PXAT: absolute expiry in Unix milliseconds (Redis 6.2+).
    await this.#command(['SET', this.#prefix + key, JSON.stringify(data), 'PXAT', String(Math.ceil(expiresAt))]);
  }

  async delete(key: string): Promise<void> {
    await this.#command(['DEL', this.#prefix + key]);
  }
}
