import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { EventFilter, Store, StoredAuditEvent } from '../server/core/ports.js';
import { openStore } from '../server/store/open-store.js';

/** Bad command-line input: one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since 1h` (s, m, h, d, w) or an ISO 8601 date; returns epoch milliseconds. */
export function parseSince(text: string, now: number): number {
  const relative = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const at = Date.parse(text.trim());
    if (!Number.isNaN(at)) return at;
  }
  throw new UsageError(`--since "${text.slice(0, 40)}" must be a duration like 30s, 15m, 1h, 7d or a date like 2026-01-31T12:00:00Z`);
}

function parseLimit(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 10_000) throw new UsageError(`--limit "${text.slice(0, 20)}" must be a whole number from 1 to 10000`);
  return Number(text);
}

const TYPE = /^[a-z_]+(\.[a-z_]+)*$/;

export interface EventsOptions {
  client?: string;
  type?: string;
  since?: string;
  limit: string;
  json?: boolean;
}

/** Turns the command-line options into a Store filter; throws UsageError on bad input. */
export function eventFilter(o: EventsOptions, now: number): EventFilter {
  if (o.type !== undefined && !TYPE.test(o.type)) throw new UsageError(`--type "${o.type.slice(0, 40)}" is not an event name (e.g. login.failed, code.replayed)`);
  if (o.client !== undefined && (o.client === '' || o.client.length > 128)) throw new UsageError('--client must be a client_id of 1 to 128 characters');
  return {
    ...(o.client !== undefined ? { clientId: o.client } : {}),
    ...(o.type !== undefined ? { type: o.type } : {}),
    since: o.since !== undefined ? parseSince(o.since, now) : now - UNITS.d!,
    limit: parseLimit(o.limit),
  };
}

/** One line per event: time, name, client, user, then the machine-readable detail. */
export function formatEvent(e: StoredAuditEvent): string {
  const detail = Object.entries(e.detail ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${new Date(e.at).toISOString()}  ${e.type.padEnd(30)}  client=${e.clientId ?? '-'}  user=${e.userId ?? '-'}${detail ? `  ${detail}` : ''}`;
}

export async function listEvents(store: Store, o: EventsOptions, now = Date.now()): Promise<string[]> {
  const events = await store.listEvents(eventFilter(o, now));
  if (o.json) return events.map((e) => JSON.stringify({ id: e.id, at: new Date(e.at).toISOString(), type: e.type, client_id: e.clientId ?? null, user_id: e.userId ?? null, detail: e.detail ?? {} }));
  return events.map(formatEvent);
}

/**
 * `latchkey events [--client ID] [--type T] [--since 1h]`: the audit trail, newest first. What a
 * client's developers need to see why their requests fail (`reason=pkce mismatch`), which the
 * caller itself is never told beyond the RFC error code.
 */
export function eventsCommand(databaseOption: () => Option): Command {
  return new Command('events')
    .description('list audit events (newest first): logins, consents, codes, refresh tokens, client authentication, keys')
    .option('--client <client_id>', 'only events about this client')
    .option('--type <name>', 'only this event, e.g. login.failed, code.replayed, refresh.reuse_detected')
    .option('--since <when>', 'from this long ago (30s, 15m, 1h, 7d) or this date (default 1d)')
    .option('--limit <n>', 'at most this many events', '100')
    .option('--json', 'one JSON object per line')
    .addOption(databaseOption())
    .action(async (o: EventsOptions & { database: string }) => {
      // Checked before the database is opened, so a typo never creates a database file.
      eventFilter(o, Date.now());
      if (!/^postgres(ql)?:\/\//i.test(o.database) && !existsSync(o.database)) throw new UsageError(`no database at ${o.database} (set --database or LATCHKEY_DATABASE)`);
      const store = await openStore(o.database);
      try {
        const lines = await listEvents(store, o);
        if (lines.length === 0 && !o.json) console.log('No events match.');
        for (const line of lines) console.log(line);
      } finally {
        await store.close();
      }
    });
}
