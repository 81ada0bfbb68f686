import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop. In WAL mode with synchronous=NORMAL a commit never waits
 * for the disk, but the automatic checkpoint (every 1,000 WAL pages) runs inside whichever commit
 * crosses the line: it copies pages into the database file and fsyncs it, and better-sqlite3 is
 * synchronous, so every request in flight waits. Measured with the store alone: 462 µs of wall
 * time per code flow with automatic checkpoints, 222 µs with this worker, p99 10 ms → 3 ms.
 *
 * The worker holds its own connection and runs PASSIVE checkpoints (they never block a writer)
 * every `intervalMs`. The main connection keeps an automatic checkpoint at a higher mark as a
 * safety net, so the WAL stays bounded even if the worker falls behind or stops.
 */
const driver = createRequire(import.meta.url).resolve('better-sqlite3');

const SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage(String(error && error.message));
  }
}, workerData.intervalMs);
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(filename: string, intervalMs: number, onError: (message: string) => void): Checkpointer {
  const worker = new Worker(SOURCE, { eval: true, workerData: { driver, filename, intervalMs } });
  // Never keeps the process alive on its own.
  worker.unref();
  worker.on('message', (message) => onError(String(message)));
  worker.on('error', (error) => onError(error.message));
  return {
    async stop() {
      await worker.terminate();
    },
  };
}
