import pg from 'pg';
import type { ClientRecord, SignIn } from '../../core/ports.js';
import { copyClient } from '../copy-client.js';

/** The channel migration 4's trigger notifies on every change to clients, with the table's schema as payload. */
export const CLIENTS_CHANGED_CHANNEL = 'latchkey_clients';
/** The channel migration 6's triggers notify on every change to sessions (but an insert) and to consents. */
export const SIGN_INS_CHANGED_CHANNEL = 'latchkey_sign_ins';

export interface NotifiedCacheOptions {
  /** Opens the listening connection (same server, schema and settings as the pool). */
  connect: () => pg.Client;
  /** The schema whose tables this store uses: notifications for other schemas are ignored. */
  schema: string;
  /** An entry is read again after this long even without a notification (default 30000 ms). */
  maxAgeMs?: number;
  /** Most entries kept per kind; that kind starts over when full (default 10000). */
  maxEntries?: number;
  /** First delay before reconnecting a lost listener; doubles up to 30 s (default 500 ms). */
  retryMs?: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  readAt: number;
}

/**
 * Rows that every authorization or token request reads and that change rarely, kept in process
 * between requests: registered clients, and sign-ins (a session with its user's consent for one
 * client). Correctness stays with PostgreSQL:
 *
 * - statement triggers NOTIFY on every change, from any instance or from psql (clients: any
 *   change; sign-ins: a session updated or deleted, a consent inserted, updated or deleted), and
 *   every instance LISTENs on one connection of its own and forgets every entry of that kind when
 *   told; a new session needs no notice, as nothing unknown is ever kept;
 * - while that connection is down (and until it is back and listening) nothing is served from
 *   the cache, so no change can be missed;
 * - a read that was under way when a change arrived is not kept (the generation moved on);
 * - an entry is read again after `maxAgeMs` in any case, and a session past its expiry is never
 *   served.
 *
 * A deleted client or session may thus be served by another instance until the notification
 * arrives (milliseconds after the commit), the same as a request that read it just before the
 * delete; the instance that made the change forgets at once (see PostgresStore).
 */
export class NotifiedCache {
  readonly clients: CachedKind<ClientRecord>;
  readonly signIns: CachedKind<SignIn>;
  private listener: pg.Client | undefined;
  private listening = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private readonly options: Required<Omit<NotifiedCacheOptions, 'connect' | 'schema'>> & Pick<NotifiedCacheOptions, 'connect' | 'schema'>;

  constructor(options: NotifiedCacheOptions) {
    this.options = { maxAgeMs: 30_000, maxEntries: 10_000, retryMs: 500, now: Date.now, ...options };
    this.retryMs = this.options.retryMs;
    const trusted = () => this.listening;
    this.clients = new CachedKind(trusted, copyClient, this.options);
    this.signIns = new CachedKind(trusted, copySignIn, this.options);
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
      if (message.payload !== this.options.schema) return;
      if (message.channel === CLIENTS_CHANGED_CHANNEL) this.clients.invalidate();
      else if (message.channel === SIGN_INS_CHANGED_CHANNEL) this.signIns.invalidate();
    });
    listener.on('error', () => this.lost(listener));
    listener.on('end', () => this.lost(listener));
    try {
      await listener.connect();
      await listener.query(`LISTEN ${CLIENTS_CHANGED_CHANNEL}; LISTEN ${SIGN_INS_CHANGED_CHANNEL}`);
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

  /** Forgets every entry of every kind, and any read under way. */
  invalidate(): void {
    this.clients.invalidate();
    this.signIns.invalidate();
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

/** The entries of one kind, forgotten together. */
export class CachedKind<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Moves on at every invalidation. */
  private generation = 0;

  constructor(
    private readonly trusted: () => boolean,
    private readonly copy: (value: V) => V,
    private readonly options: { maxAgeMs: number; maxEntries: number; now: () => number },
  ) {}

  /**
   * The value under `key`, from the cache when it may be trusted and `usable` says it still is,
   * else from `load`. Nothing is kept for a key `load` does not find.
   */
  async get(key: string, load: () => Promise<V | undefined>, usable: (value: V) => boolean = () => true): Promise<V | undefined> {
    const now = this.options.now();
    if (this.trusted()) {
      const entry = this.entries.get(key);
      if (entry && now - entry.readAt < this.options.maxAgeMs && usable(entry.value)) return this.copy(entry.value);
    }
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && this.trusted() && generation === this.generation) {
      if (this.entries.size >= this.options.maxEntries) this.entries.clear();
      this.entries.set(key, { value: this.copy(value), readAt: now });
    }
    return value;
  }

  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }
}

function copySignIn(s: SignIn): SignIn {
  return { session: { ...s.session }, consent: s.consent && { ...s.consent, scope: [...s.consent.scope] } };
}
