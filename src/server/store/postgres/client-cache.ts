import pg from 'pg';
import type { ClientRecord } from '../../core/ports.js';
import { copyClient } from '../copy-client.js';

/** The channel migration 4's trigger notifies, with the changed table's schema as payload. */
export const CLIENTS_CHANGED_CHANNEL = 'latchkey_clients';

export interface ClientCacheOptions {
  /** Opens the listening connection (same server, schema and settings as the pool). */
  connect: () => pg.Client;
  /** The schema whose clients table this store uses: notifications for other schemas are ignored. */
  schema: string;
  /** An entry is read again after this long even without a notification (default 30000 ms). */
  maxAgeMs?: number;
  /** Most entries kept; the cache starts over when full (default 10000). */
  maxEntries?: number;
  /** First delay before reconnecting a lost listener; doubles up to 30 s (default 500 ms). */
  retryMs?: number;
  now?: () => number;
}

interface Entry {
  client: ClientRecord;
  readAt: number;
}

/**
 * Registered clients, kept in process between requests: every authorization and token request
 * reads its client, and clients change rarely. Correctness stays with PostgreSQL:
 *
 * - a statement trigger on `clients` NOTIFYs on every change, from any instance or from psql, and
 *   every instance LISTENs on its own connection and forgets all entries when told;
 * - while that connection is down (and until it is back and listening) nothing is served from
 *   the cache, so no change can be missed;
 * - a read that was under way when a change arrived is not kept (the generation moved on);
 * - unknown client ids are never kept, so random ids cannot fill memory;
 * - an entry is read again after `maxAgeMs` in any case.
 *
 * A deleted client may thus be served until the notification arrives (milliseconds after the
 * commit), the same as a request that read it just before the delete.
 */
export class ClientCache {
  private readonly entries = new Map<string, Entry>();
  /** Moves on at every change notification and every listener loss or recovery. */
  private generation = 0;
  private listener: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private readonly options: Required<Omit<ClientCacheOptions, 'connect' | 'schema'>> & Pick<ClientCacheOptions, 'connect' | 'schema'>;

  constructor(options: ClientCacheOptions) {
    this.options = { maxAgeMs: 30_000, maxEntries: 10_000, retryMs: 500, now: Date.now, ...options };
    this.retryMs = this.options.retryMs;
  }

  /** Whether entries are being served (the listener is connected and listening). */
  get active(): boolean {
    return this.listening;
  }

  /** Starts listening. Resolves either way: without a listener the cache just stays off and retries. */
  async start(): Promise<void> {
    if (this.closed || this.listener) return;
    const listener = this.options.connect();
    this.listener = listener;
    listener.on('notification', (message) => {
      if (message.channel === CLIENTS_CHANGED_CHANNEL && message.payload === this.options.schema) this.invalidate();
    });
    listener.on('error', () => this.lost(listener));
    listener.on('end', () => this.lost(listener));
    try {
      await listener.connect();
      await listener.query(`LISTEN ${CLIENTS_CHANGED_CHANNEL}`);
    } catch {
      this.lost(listener);
      return;
    }
    if (this.listener !== listener || this.closed) return;
    // Anything read before this point may have changed unseen.
    this.invalidate();
    this.listening = true;
    this.retryMs = this.options.retryMs;
  }

  /** The client `id`, from the cache when it may be trusted, else from `load`. */
  async get(id: string, load: (id: string) => Promise<ClientRecord | undefined>): Promise<ClientRecord | undefined> {
    const now = this.options.now();
    if (this.listening) {
      const entry = this.entries.get(id);
      if (entry && now - entry.readAt < this.options.maxAgeMs) return copyClient(entry.client);
    }
    const generation = this.generation;
    const client = await load(id);
    if (client && this.listening && generation === this.generation) {
      if (this.entries.size >= this.options.maxEntries) this.entries.clear();
      this.entries.set(id, { client: copyClient(client), readAt: now });
    }
    return client;
  }

  /** Forgets every entry, and any read under way. */
  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.listening = false;
    this.invalidate();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private lost(listener: pg.Client): void {
    if (this.listener !== listener) return;
    this.listener = undefined;
    this.listening = false;
    this.invalidate();
    listener.end().catch(() => undefined);
    if (this.closed) return;
    this.retryTimer = setTimeout(() => void this.start(), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }
}
