import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/server/config.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
const database = join(dir, 'latchkey.db');
const kek = Buffer.alloc(32, 7).toString('base64url');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('flags win over environment variables, which win over defaults', () => {
    const env = { LATCHKEY_PORT: '9100', LATCHKEY_ISSUER: 'http://localhost:9100', LATCHKEY_DATABASE: database, LATCHKEY_KEY_ENCRYPTION_KEY: kek };
    expect(resolveConfig({}, env)).toMatchObject({ port: 9100, issuer: 'http://localhost:9100', database });
    expect(resolveConfig({ port: '9200', issuer: 'https://auth.example.com' }, env)).toMatchObject({ port: 9200, issuer: 'https://auth.example.com' });
    expect(resolveConfig({}, { LATCHKEY_KEY_ENCRYPTION_KEY: kek })).toMatchObject({ port: 9000, issuer: 'http://localhost:9000', database: './latchkey.db' });
  });

  it('RFC 8414 §2: the issuer must be https (http only for loopback) with no query or fragment', () => {
    const env = { LATCHKEY_KEY_ENCRYPTION_KEY: kek };
    expect(configError(() => resolveConfig({ issuer: 'http://auth.example.com' }, env)).setting).toBe('issuer (LATCHKEY_ISSUER)');
    expect(configError(() => resolveConfig({ issuer: 'https://auth.example.com/?a=b' }, env)).message).toMatch(/query or fragment/);
    expect(configError(() => resolveConfig({ issuer: 'not a url' }, env)).message).toMatch(/absolute URL/);
  });

  it('lifetimes come from the environment and are bounded (C1: codes at most 10 minutes)', () => {
    const env = { LATCHKEY_KEY_ENCRYPTION_KEY: kek, LATCHKEY_CODE_TTL: '30', LATCHKEY_REFRESH_RETRY_WINDOW: '3', LATCHKEY_ACCESS_TOKEN_TTL: '120' };
    expect(resolveConfig({}, env).settings).toMatchObject({ codeTtlSeconds: 30, refreshRetryWindowSeconds: 3, accessTokenTtlSeconds: 120 });
    expect(configError(() => resolveConfig({}, { ...env, LATCHKEY_CODE_TTL: '3600' })).setting).toBe('LATCHKEY_CODE_TTL');
    expect(configError(() => resolveConfig({}, { ...env, LATCHKEY_REFRESH_IDLE_TTL: '7200', LATCHKEY_REFRESH_ABSOLUTE_TTL: '3600' })).setting).toBe('LATCHKEY_REFRESH_IDLE_TTL');
    expect(configError(() => resolveConfig({}, { ...env, LATCHKEY_DEFAULT_AUDIENCE: 'api' })).setting).toBe('LATCHKEY_DEFAULT_AUDIENCE');
  });

  it('the key-encryption key is required in production, and generated beside the database in development', () => {
    expect(configError(() => resolveConfig({ database }, { NODE_ENV: 'production' })).setting).toBe('LATCHKEY_KEY_ENCRYPTION_KEY');
    expect(configError(() => resolveConfig({ database }, { LATCHKEY_KEY_ENCRYPTION_KEY: 'too-short' })).setting).toBe('LATCHKEY_KEY_ENCRYPTION_KEY');
    const first = resolveConfig({ database }, {});
    const file = `${database}.kek`;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.keyEncryptionKey.toString('base64url'));
    expect(resolveConfig({ database }, {}).keyEncryptionKey.equals(first.keyEncryptionKey)).toBe(true);
    expect(first.development).toBe(true);
    expect(resolveConfig({ database }, { NODE_ENV: 'production', LATCHKEY_KEY_ENCRYPTION_KEY: kek }).development).toBe(false);
  });
});
