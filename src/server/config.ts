import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KeyAlgorithm } from './core/ports.js';

/** A setting is wrong: start-up stops with one line naming it. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface ServerConfig {
  port: number;
  host: string;
  issuer: string;
  database: string;
  development: boolean;
  keyEncryptionKey: Buffer;
  signingAlgorithm: KeyAlgorithm;
  logLevel: string;
  trustProxy: boolean | string;
}

export interface ConfigInput {
  port?: string | number;
  host?: string;
  issuer?: string;
  database?: string;
  development?: boolean;
  logLevel?: string;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Flags win over environment variables (LATCHKEY_PORT, LATCHKEY_ISSUER, LATCHKEY_DATABASE, …),
 * which win over defaults. Throws ConfigError for the first bad setting.
 */
export function resolveConfig(input: ConfigInput, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const portText = String(input.port ?? env.LATCHKEY_PORT ?? '9000');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError('port (LATCHKEY_PORT)', `must be a whole number from 0 to 65535, got "${portText}"`);

  const development = input.development ?? (env.LATCHKEY_DEVELOPMENT !== undefined ? env.LATCHKEY_DEVELOPMENT !== 'false' : env.NODE_ENV !== 'production');
  const issuer = input.issuer ?? env.LATCHKEY_ISSUER ?? `http://localhost:${port}`;
  checkIssuer(issuer);

  const database = input.database ?? env.LATCHKEY_DATABASE ?? './latchkey.db';
  if (database.trim() === '') throw new ConfigError('database (LATCHKEY_DATABASE)', 'must be a file path or a postgres:// URL');

  const signingAlgorithm = (env.LATCHKEY_SIGNING_ALG ?? 'ES256') as KeyAlgorithm;
  if (!['ES256', 'RS256', 'EdDSA'].includes(signingAlgorithm)) throw new ConfigError('LATCHKEY_SIGNING_ALG', 'must be ES256, RS256 or EdDSA');

  const trustProxyText = env.LATCHKEY_TRUST_PROXY;
  const trustProxy = trustProxyText === undefined || trustProxyText === 'false' ? false : trustProxyText === 'true' ? true : trustProxyText;

  return {
    port,
    host: input.host ?? env.LATCHKEY_HOST ?? '127.0.0.1',
    issuer,
    database,
    development,
    keyEncryptionKey: loadKeyEncryptionKey(database, development, env),
    signingAlgorithm,
    logLevel: input.logLevel ?? env.LATCHKEY_LOG_LEVEL ?? 'info',
    trustProxy,
  };
}

/** RFC 8414 §2: the issuer is an https URL with no query or fragment (http only on loopback, for development). */
function checkIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('issuer (LATCHKEY_ISSUER)', `must be an absolute URL, got "${issuer}"`);
  }
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) throw new ConfigError('issuer (LATCHKEY_ISSUER)', 'must not have a query or fragment (RFC 8414 §2)');
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  throw new ConfigError('issuer (LATCHKEY_ISSUER)', `must use https (http is allowed only for localhost), got "${issuer}"`);
}

/**
 * The key-encryption key seals private signing keys at rest. From LATCHKEY_KEY_ENCRYPTION_KEY
 * (32 bytes, base64url) or LATCHKEY_KEY_ENCRYPTION_KEY_FILE; in development, generated once and
 * kept beside the database file.
 */
export function loadKeyEncryptionKey(database: string, development: boolean, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromText = (text: string, setting: string): Buffer => {
    const key = Buffer.from(text.trim(), 'base64url');
    if (key.length !== 32) throw new ConfigError(setting, 'must be 32 random bytes, base64url-encoded (e.g. `openssl rand -base64 32 | tr "+/" "-_" | tr -d "="`)');
    return key;
  };
  if (env.LATCHKEY_KEY_ENCRYPTION_KEY) return fromText(env.LATCHKEY_KEY_ENCRYPTION_KEY, 'LATCHKEY_KEY_ENCRYPTION_KEY');
  if (env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE) {
    const file = env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE;
    if (!existsSync(file)) throw new ConfigError('LATCHKEY_KEY_ENCRYPTION_KEY_FILE', `file ${file} does not exist`);
    return fromText(readFileSync(file, 'utf8'), 'LATCHKEY_KEY_ENCRYPTION_KEY_FILE');
  }
  if (!development) {
    throw new ConfigError('LATCHKEY_KEY_ENCRYPTION_KEY', 'is required in production (NODE_ENV=production): set it, or LATCHKEY_KEY_ENCRYPTION_KEY_FILE');
  }
  const file = keyFileBeside(database);
  if (existsSync(file)) return fromText(readFileSync(file, 'utf8'), file);
  const key = randomBytes(32);
  try {
    // 'wx': if another process created it a moment ago, read theirs instead.
    writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch {
    return fromText(readFileSync(file, 'utf8'), file);
  }
}

function keyFileBeside(database: string): string {
  if (/^postgres(ql)?:\/\//.test(database)) return resolve('latchkey.kek');
  if (database === ':memory:') return join(process.cwd(), 'latchkey.kek');
  return join(dirname(resolve(database)), `${resolve(database).split('/').pop()}.kek`);
}
