import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KeyAlgorithm } from './core/ports.js';
import type { Settings } from './core/settings.js';
import { throttleSettingsFromEnv } from './core/throttle.js';
import { CODE_TTL_LIMIT_MS } from './store/retention.js';

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
  /** Lifetimes and policy from the environment; unset ones keep the defaults in core/settings.ts. */
  settings: Partial<Omit<Settings, 'issuer'>>;
  /** A rotated-in key is published this long before it signs. */
  keyPrePublishSeconds: number;
  /** The signing key is rotated automatically after this many days; 0: never. */
  keyRotationDays: number;
  /** How often each instance re-reads the key ring (a rotation elsewhere is seen within this). */
  keyReloadSeconds: number;
}

/**
 * Environment variables for lifetimes and policy, each a whole number of seconds unless noted.
 * Documented in the README's configuration reference.
 */
const DURATION_SETTINGS = [
  ['LATCHKEY_CODE_TTL', 'codeTtlSeconds', 1, CODE_TTL_LIMIT_MS / 1000],
  ['LATCHKEY_ACCESS_TOKEN_TTL', 'accessTokenTtlSeconds', 10, 86_400],
  ['LATCHKEY_REFRESH_IDLE_TTL', 'refreshIdleTtlSeconds', 60, 365 * 86_400],
  ['LATCHKEY_REFRESH_ABSOLUTE_TTL', 'refreshAbsoluteTtlSeconds', 60, 5 * 365 * 86_400],
  ['LATCHKEY_REFRESH_RETRY_WINDOW', 'refreshRetryWindowSeconds', 0, 300],
  ['LATCHKEY_SESSION_TTL', 'sessionTtlSeconds', 60, 90 * 86_400],
] as const;

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  return value;
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

  const settings: Partial<Omit<Settings, 'issuer'>> = { development };
  for (const [name, key, min, max] of DURATION_SETTINGS) {
    if (env[name] !== undefined && env[name] !== '') settings[key] = wholeNumber(env, name, 0, min, max);
  }
  // C1 OAuth 2.1 §4.1.2: codes live at most 10 minutes (the bound above).
  const audience = env.LATCHKEY_DEFAULT_AUDIENCE;
  if (audience !== undefined && audience !== '') {
    try {
      new URL(audience);
    } catch {
      throw new ConfigError('LATCHKEY_DEFAULT_AUDIENCE', `must be an absolute URI (RFC 8707 §2), got "${audience}"`);
    }
    settings.defaultAudience = audience;
  }
  // Brute-force and rate limits (core/throttle.ts): LATCHKEY_LOGIN_*, LATCHKEY_CLIENT_AUTH_*, LATCHKEY_RATE_LIMIT_*.
  try {
    settings.throttle = throttleSettingsFromEnv(env);
  } catch (error) {
    throw new ConfigError('limits', (error as Error).message);
  }
  const refreshAbsolute = settings.refreshAbsoluteTtlSeconds;
  if (refreshAbsolute !== undefined && settings.refreshIdleTtlSeconds !== undefined && settings.refreshIdleTtlSeconds > refreshAbsolute) {
    throw new ConfigError('LATCHKEY_REFRESH_IDLE_TTL', 'must not be longer than LATCHKEY_REFRESH_ABSOLUTE_TTL');
  }

  return {
    settings,
    keyPrePublishSeconds: wholeNumber(env, 'LATCHKEY_KEY_PREPUBLISH_SECONDS', 120, 0, 7 * 86_400),
    keyRotationDays: wholeNumber(env, 'LATCHKEY_KEY_ROTATION_DAYS', 30, 0, 3650),
    keyReloadSeconds: wholeNumber(env, 'LATCHKEY_KEY_RELOAD_SECONDS', 30, 1, 3600),
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
