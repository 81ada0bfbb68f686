import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** What the checkpoint thread does between two sleeps; 1 in `signal` tells it to close and end. */
const WORKER_SOURCE = `
// import(), not require: the thread's code is read as a module when the process was started so.
(async () => {
  const { workerData } = await import('node:worker_threads');
  const { default: Database } = await import(workerData.driver);
  const signal = new Int32Array(workerData.signal);
  let db;
  try {
    db = new Database(workerData.filename, { fileMustExist: true });
  } catch (error) {
    // better-sqlite3's SqliteError reaches the main thread as a bare { code }: pass on a plain Error.
    throw new Error(\`cannot open \${workerData.filename} for checkpoints: \${error.code ?? ''} \${error.message}\`);
  }
  // A checkpoint copies WAL frames straight into the file: it needs no page cache of its own.
  db.pragma('cache_size = 0');
  // PASSIVE never waits for a lock, so the connection never sleeps in SQLite's busy handler.
  db.pragma('busy_timeout = 0');
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  while (Atomics.wait(signal, 0, 0, workerData.periodMs) !== 'not-equal' && Atomics.load(signal, 0) === 0) {
    try {
      checkpoint.get();
    } catch {
      // Another process's checkpoint, or a database being closed: the next period tries again.
    }
  }
  db.close();
})();
`;

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside whichever
 * commit crosses the mark, and better-sqlite3 runs that commit on the event loop, so every
 * request waited while pages were copied into the database file and the file was fsynced: at 32
 * connections those pauses were the full flow's slowest answers. Here a second connection, on a
 * worker thread, runs a PASSIVE checkpoint every `periodMs`, which neither takes the write lock
 * nor waits for one, so writers on the main thread go on while it copies and syncs. The thread sleeps in
 * Atomics.wait between checkpoints and never runs an event loop.
 */
export class CheckpointThread {
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(filename: string, periodMs: number, onError: (error: Error) => void) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { filename, periodMs, signal: this.signal.buffer, driver: pathToFileURL(createRequire(import.meta.url).resolve('better-sqlite3')).href },
      // The thread holds a connection and a few objects (it needs about 5 MB of heap to start).
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
      stdout: false,
      stderr: false,
    });
    this.worker.on('error', onError);
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // An idle server should be able to exit without closing its store.
    this.worker.unref();
  }

  /** Ends the thread after its checkpoint in progress, closing its connection first. */
  async stop(): Promise<void> {
    // Referenced again, or the process could end before the thread does, skipping what its
    // caller does after the store has closed (an exit code, say).
    this.worker.ref();
    Atomics.store(this.signal, 0, 1);
    Atomics.notify(this.signal, 0);
    await this.exited;
  }
}
