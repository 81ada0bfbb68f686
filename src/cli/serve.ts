import cluster from 'node:cluster';
import pino from 'pino';
import { ConfigError, resolveConfig, type ServerConfig } from '../server/config.js';
import { serveClusterMetrics } from '../server/http/cluster-metrics.js';
import { createLatchkey } from '../server/server.js';
import { openStore } from '../server/store/open-store.js';

/** Milliseconds between the checkpoint thread's WAL checkpoints (one-process SQLite server). */
const CHECKPOINT_PERIOD_MS = 25;

export interface ServeOptions {
  port?: string;
  host?: string;
  issuer?: string;
  database: string;
  workers: string;
}

/** `latchkey serve`: one process, or N workers sharing the port through node:cluster. */
export async function serve(options: ServeOptions): Promise<void> {
  let config: ServerConfig;
  const workers = Number(options.workers);
  try {
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ConfigError('workers (LATCHKEY_WORKERS)', `must be a whole number from 1 to 64, got "${options.workers}"`);
    config = resolveConfig({ port: options.port, host: options.host, issuer: options.issuer, database: options.database });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`latchkey: configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({
    level: config.logLevel,
    base: { pid: process.pid },
    // Secrets never reach the log: credentials travel in these headers and cookies.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
  });

  if (workers > 1 && cluster.isPrimary) {
    // Migrate and create the first key once, before the workers race for it.
    const store = await openStore(config.database);
    const bootstrap = await createLatchkey({ store, issuer: config.issuer, keyEncryptionKey: config.keyEncryptionKey, signingAlgorithm: config.signingAlgorithm, settings: config.settings, logger, housekeepingIntervalMs: 0 });
    await bootstrap.close();
    await store.close();
    serveClusterMetrics();
    for (let i = 0; i < workers; i++) cluster.fork();
    let stopping = false;
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      cluster.fork();
    });
    const stop = () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    logger.info({ workers, issuer: config.issuer, port: config.port }, 'latchkey primary started');
    return;
  }

  // One process serving the file may let a turn's reads share a snapshot, and checkpoints the WAL
  // on a thread of its own (SqliteStore, checkpointOnThread); with several workers the thread
  // measured no faster (3,102 against 3,038 flows/s) for 11 MB more per worker.
  const store = await openStore(config.database, {
    turnSnapshot: workers === 1,
    checkpointPeriodMs: workers === 1 ? CHECKPOINT_PERIOD_MS : 0,
    onCheckpointThreadError: (error) => logger.warn({ err: error }, 'WAL checkpoint thread failed; SQLite checkpoints inside commits from now on'),
  });
  const latchkey = await createLatchkey({
    store,
    issuer: config.issuer,
    keyEncryptionKey: config.keyEncryptionKey,
    signingAlgorithm: config.signingAlgorithm,
    logger,
    settings: config.settings,
    trustProxy: config.trustProxy,
    keyPrePublishMs: config.keyPrePublishSeconds * 1000,
    keyRotationIntervalMs: config.keyRotationDays * 86_400_000,
    keyReloadIntervalMs: config.keyReloadSeconds * 1000,
    clusterMetrics: cluster.isWorker,
    // With several workers only the first runs housekeeping, to keep deletes off the others' paths.
    housekeepingIntervalMs: cluster.isWorker && cluster.worker?.id !== 1 ? 0 : 60_000,
  });
  try {
    await latchkey.app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') console.error(`latchkey: port ${config.port} is already in use; choose another with --port or LATCHKEY_PORT`);
    else if (code === 'EACCES') console.error(`latchkey: not allowed to listen on port ${config.port}; choose a port above 1023`);
    else console.error(`latchkey: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    await store.close();
    process.exit(1);
  }
  logger.info({ issuer: config.issuer, database: redactDatabase(config.database), development: config.development }, 'latchkey listening');

  // Graceful shutdown: stop accepting, let in-flight requests finish, close the store.
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await latchkey.close();
    await store.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

function redactDatabase(database: string): string {
  return database.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
