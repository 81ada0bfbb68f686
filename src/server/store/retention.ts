/** How long rows outlive their expiry before purgeExpired deletes them; the same for every Store. */

/** Audit events are kept this long. */
export const EVENT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/** The longest an authorization code may live (the upper bound of LATCHKEY_CODE_TTL). */
export const CODE_TTL_LIMIT_MS = 600 * 1000;

/**
 * A grant's row is the record that its code was redeemed (Store.redeemCode), so it stays this
 * long after the grant expired: a grant expires no earlier than its code was redeemed, and no code
 * lives this long past its issue, so by then the code has expired and can never be redeemed a
 * second time. Until then a late replay of the code is recognised and revokes (RFC 6749 §4.1.2, C4).
 */
export const GRANT_AFTER_EXPIRY_MS = CODE_TTL_LIMIT_MS;
