import type { Store } from '../core/ports.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export interface OpenStoreOptions {
  /** PostgreSQL: schema to create (if missing) and use. */
  schema?: string;
  /** PostgreSQL: pool size. */
  max?: number;
  /** SQLite: milliseconds to wait for a lock held by another process. */
  busyTimeoutMs?: number;
  /** SQLite: reads in one turn of the event loop share a snapshot; for a sole serving process (SqliteStoreOptions). */
  turnSnapshot?: boolean;
  /** SQLite: milliseconds between WAL checkpoints on a thread of their own; 0 for SQLite's automatic ones (SqliteStoreOptions). */
  checkpointPeriodMs?: number;
  /** SQLite: called if the checkpoint thread fails (SqliteStoreOptions). */
  onCheckpointThreadError?: (error: Error) => void;
}

/**
 * Opens and migrates the Store named by `database`: a `postgres://` or `postgresql://` URL opens
 * PostgreSQL; anything else is the path of a SQLite file (created if missing).
 */
export async function openStore(database: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(database)) {
    // `?schema=name` in the URL picks a schema (several deployments, or tests, on one database).
    const url = new URL(database);
    const schema = options.schema ?? url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    // `?client_cache=off` reads every client from the database: for a connection that cannot
    // LISTEN, such as PgBouncer in transaction mode (docs/deployment.md, "Connection pooling").
    const clientCache = url.searchParams.get('client_cache');
    url.searchParams.delete('client_cache');
    if (clientCache !== null && clientCache !== 'on' && clientCache !== 'off') {
      throw new TypeError(`client_cache in the database URL must be on or off, got ${JSON.stringify(clientCache)}`);
    }
    // `?pipelines=0` sends every statement through the pool (PgBouncer in transaction mode).
    const pipelines = url.searchParams.get('pipelines');
    url.searchParams.delete('pipelines');
    if (pipelines !== null && !/^(?:[0-9]|1[0-6])$/.test(pipelines)) {
      throw new TypeError(`pipelines in the database URL must be a whole number from 0 to 16, got ${JSON.stringify(pipelines)}`);
    }
    // Loaded only here: a server on SQLite then never loads `pg` (about 3 MB of resident memory).
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({
      connectionString: url.href,
      ...(schema !== undefined ? { schema } : {}),
      ...(clientCache !== null ? { clientCache: clientCache === 'on' } : {}),
      ...(pipelines !== null ? { pipelines: Number(pipelines) } : {}),
      ...(options.max !== undefined ? { max: options.max } : {}),
    });
  }
  return SqliteStore.open(database, {
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.turnSnapshot !== undefined ? { turnSnapshot: options.turnSnapshot } : {}),
    ...(options.checkpointPeriodMs !== undefined ? { checkpointPeriodMs: options.checkpointPeriodMs } : {}),
    ...(options.onCheckpointThreadError !== undefined ? { onCheckpointThreadError: options.onCheckpointThreadError } : {}),
  });
}
