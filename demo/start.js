// @ts-check
/**
 * `npm start`: the whole Authorization Code Grant on one machine, in one process.
 *
 *   authorization server  latchkey/server    http://localhost:9000   (LATCHKEY_PORT)
 *   demo web app          latchkey/client    http://localhost:3000   (DEMO_APP_PORT)
 *   demo notes API        latchkey/resource  http://localhost:4000   (DEMO_API_PORT)
 *
 * On the embedded SQLite default (./latchkey-demo.db, or LATCHKEY_DATABASE). The first start
 * creates the database, a signing key, the demo user and the demo clients; later starts reuse
 * them. The package is imported by its own name, exactly as an application would.
 */
import { existsSync } from 'node:fs';
import pc from 'picocolors';
import pino from 'pino';
import { SqliteSessionStore } from 'latchkey/client';
import { ConfigError, argon2Hasher, createLatchkey, defaultSettings, openStore, resolveConfig } from 'latchkey/server';
import { buildDemoApi } from './api.js';
import { buildDemoApp } from './app.js';
import { FlowRecorder } from './flow.js';
import { DEMO_SCOPE_DESCRIPTIONS, ensureDemoData } from './seed.js';

const env = process.env;

/** A port from an environment variable, or exit with one line naming it. */
function portFrom(/** @type {string} */ variable, /** @type {number} */ fallback) {
  const text = env[variable] ?? String(fallback);
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) fail(`${variable} must be a port number from 1 to 65535, got "${text}"`, 2);
  return port;
}

/** @returns {never} */
function fail(/** @type {string} */ message, code = 1) {
  console.error(`${pc.red('latchkey demo:')} ${message}`);
  process.exit(code);
}

async function main() {
  const appPort = portFrom('DEMO_APP_PORT', 3000);
  const apiPort = portFrom('DEMO_API_PORT', 4000);
  const database = env.LATCHKEY_DATABASE ?? './latchkey-demo.db';
  /** @type {import('latchkey/server').ServerConfig} */
  let config;
  try {
    config = resolveConfig({ database, development: true, logLevel: env.LATCHKEY_LOG_LEVEL ?? 'warn' });
  } catch (error) {
    if (error instanceof ConfigError) fail(`configuration error: ${error.message}`, 2);
    throw error;
  }
  const ports = [
    { port: config.port, variable: 'LATCHKEY_PORT', what: 'the authorization server' },
    { port: appPort, variable: 'DEMO_APP_PORT', what: 'the demo app' },
    { port: apiPort, variable: 'DEMO_API_PORT', what: 'the demo API' },
  ];
  for (const [i, a] of ports.entries()) {
    const clash = ports.slice(i + 1).find((b) => b.port === a.port);
    if (clash) fail(`${a.variable} and ${clash.variable} are both ${a.port}; give each server its own port`, 2);
  }

  const issuer = config.issuer;
  const appUrl = `http://localhost:${appPort}`;
  const apiUrl = `http://localhost:${apiPort}`;
  const isFile = !/^postgres(ql)?:\/\//i.test(database);
  const newFile = isFile && !existsSync(database);

  const logger = pino(
    {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    },
    // Set LATCHKEY_LOG_FORMAT=json for the raw pino lines.
    env.LATCHKEY_LOG_FORMAT === 'json' ? process.stdout : { write: (line) => void process.stdout.write(readableLogLine(line)) },
  );
  const store = await openStore(database);
  const demo = await ensureDemoData(store, argon2Hasher, { kek: config.keyEncryptionKey, appUrl, apiUrl });
  // A new SQLite file, or (on PostgreSQL) a store that had no demo user yet.
  const firstStart = isFile ? newFile : demo.created.includes('demo user');

  const latchkey = await createLatchkey({
    store,
    issuer,
    keyEncryptionKey: config.keyEncryptionKey,
    signingAlgorithm: config.signingAlgorithm,
    logger,
    // Development mode: an error page says exactly what was compared with what.
    settings: { development: true, scopeDescriptions: { ...defaultSettings(issuer).scopeDescriptions, ...DEMO_SCOPE_DESCRIPTIONS } },
  });

  const recorder = new FlowRecorder({ issuer, appUrl, apiUrl, redirectUri: `${appUrl}/callback` });
  recorder.instrument(latchkey.app, 'as');

  const api = await buildDemoApi({
    issuer,
    apiUrl,
    lookupUsername: async (sub) => (await store.findUserById(sub))?.username,
  });
  const sessionFile = isFile ? `${database.replace(/\.db$/, '')}-app-sessions.db` : './latchkey-demo-app-sessions.db';
  const sessionStore = await SqliteSessionStore.open(sessionFile);
  const { app } = await buildDemoApp({
    issuer,
    appUrl,
    apiUrl,
    clientId: demo.clientId,
    clientSecret: demo.clientSecret,
    sessionStore,
    recorder,
    log: (message) => logger.warn(message),
  });

  const servers = [
    { server: latchkey.app, ...ports[0] },
    { server: app, ...ports[1] },
    { server: api.app, ...ports[2] },
  ];
  const closeAll = async () => {
    await Promise.allSettled([latchkey.close(), app.close(), api.app.close()]);
    sessionStore.close();
    await store.close();
  };
  for (const s of servers) {
    try {
      await s.server.listen({ port: s.port, host: config.host });
    } catch (error) {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      await closeAll();
      if (code === 'EADDRINUSE') fail(`port ${s.port} (${s.what}, ${s.variable}) is already in use. Stop what uses it, or pick another port: ${s.variable}=${s.port + 1} npm start`);
      if (code === 'EACCES') fail(`not allowed to listen on port ${s.port} (${s.what}, ${s.variable}); choose a port above 1023`);
      fail(`cannot listen on ${config.host}:${s.port} (${s.what}, ${s.variable}): ${/** @type {Error} */ (error).message}`);
    }
  }

  const line = (/** @type {string} */ label, /** @type {string} */ value, /** @type {string} */ note = '') => `  ${label.padEnd(22)}${value}${note ? `  ${pc.dim(note)}` : ''}`;
  console.log(
    [
      '',
      `  ${pc.bold('Latchkey demo is running')} ${pc.dim(firstStart ? '(first start: database, signing key, demo user and clients created)' : '(reusing the existing demo data)')}`,
      '',
      line('Demo app', pc.cyan(appUrl), '← open this in your browser'),
      line('Authorization server', pc.cyan(issuer), `your account page: ${issuer}/account`),
      line('Demo API', pc.cyan(apiUrl), 'needs a Bearer token'),
      '',
      line('Sign in as', `${pc.bold(demo.username)} / ${pc.bold(demo.password)}`),
      line('Database', database.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@'), isFile ? `key: ${database}.kek` : ''),
      ...(demo.created.length > 0 && !firstStart ? [line('Updated', demo.created.join(', '))] : []),
      '',
      `  ${pc.dim('Stop with Ctrl+C. Ports: LATCHKEY_PORT, DEMO_APP_PORT, DEMO_API_PORT.')}`,
      '',
    ].join('\n'),
  );

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    await closeAll();
    console.log('  Latchkey demo stopped.');
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

const LEVELS = /** @type {Record<number, string>} */ ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' });

/**
 * One pino JSON line as one line a person can read. A refused authorization request (logged with
 * what was compared with what, for the client's developers) reads like the development error page.
 */
function readableLogLine(/** @type {string} */ line) {
  /** @type {Record<string, any>} */
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  const { level, time, msg, pid: _pid, hostname: _hostname, comparison, err, ...rest } = entry;
  const stamp = new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
  const label = LEVELS[level] ?? String(level);
  const colour = level >= 50 ? pc.red : level >= 40 ? pc.yellow : pc.dim;
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  let out = `${pc.dim(stamp)} ${colour(label.padEnd(5))} ${msg ?? ''}${fields ? ` ${pc.dim(fields)}` : ''}\n`;
  if (comparison && typeof comparison === 'object') {
    out += `         registered: ${(comparison.registered ?? []).join(', ') || '(nothing)'}\n         received:   ${comparison.received}\n         ${comparison.difference}\n`;
  }
  if (err && typeof err === 'object') out += `         ${err.type ?? 'Error'}: ${err.message ?? ''}\n`;
  return out;
}

main().catch((error) => {
  fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
});
