import type { Logger } from 'pino';
import type { AuditEvent, EventSink, Store } from '../core/ports.js';

/**
 * Audit events go to the log (one JSON line, `event` = the stable name) and to the store, where
 * `latchkey events` reads them. Storing does not hold up the request that caused the event.
 */
export function auditEventSink(logger: Logger, store: Store): EventSink {
  return {
    emit(event: AuditEvent) {
      logger.info({ event: event.type, client_id: event.clientId ?? undefined, user_id: event.userId ?? undefined, detail: event.detail }, 'audit');
      store.appendEvent(event).catch((error: unknown) => logger.warn({ err: error, event: event.type }, 'could not store audit event'));
    },
  };
}
