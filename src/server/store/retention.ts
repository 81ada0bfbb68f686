/** How long rows outlive their expiry before purgeExpired deletes them; the same for every Store. */

/** Audit events are kept this long. */
export const EVENT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * A code row stays this long after it expired, so a late replay is still recognised and revokes
 * (RFC 6749 §4.1.2, C4). Ten minutes covers any client retrying a lost response, and keeps the
 * codes table at about (flows per second × (code lifetime + 600 s)) rows.
 */
export const CODE_REPLAY_MEMORY_MS = 10 * 60 * 1000;
