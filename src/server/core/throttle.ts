import { hash } from 'node:crypto';
import type { CoreContext } from './context.js';
import { sha256 } from './digest.js';
import { oauthError, type OAuthError } from './errors.js';

/**
 * Abuse limits: password guessing (per account and per client IP), client-secret guessing
 * (SECURITY.md G5, OAuth 2.1 §2.4.1), request rates at /authorize and /token, and the constant
 * PKCE challenge detector (P8, RFC 9700 §2.1.1).
 *
 * Every counter lives in the Store (`hit`: fixed windows), so the limits hold across instances.
 * The token path pays at most one `hit` for the rate limit, and none at all from a loopback
 * address by default; a correct client secret costs nothing here.
 */
export interface ThrottleSettings {
  login: {
    /** Attempts per account (username as typed, existing or not) in one window before delays begin. */
    freeAttemptsPerAccount: number;
    /** Attempts per account in one window after which the account is locked until the window ends. */
    lockAfterPerAccount: number;
    /** The same two limits per client IP (higher: many people may share one address). */
    freeAttemptsPerIp: number;
    lockAfterPerIp: number;
    /** Length of the window, which is also the longest a lock lasts. */
    windowSeconds: number;
    /** First growing delay; each further attempt doubles it, up to maxDelayMs. */
    baseDelayMs: number;
    maxDelayMs: number;
  };
  clientSecret: {
    /** Failed client authentications per client_id in one window before that client_id is locked. */
    lockAfterFailures: number;
    windowSeconds: number;
  };
  rate: {
    windowSeconds: number;
    /** Requests per window; 0 turns that limit off. */
    authorizePerIp: number;
    authorizePerClient: number;
    tokenPerIp: number;
    tokenPerClient: number;
    /**
     * Per-IP limits (request rates and the per-IP login counter) do not apply to 127.0.0.1 and
     * ::1: behind a local proxy that is not trusted every client shares that address, and one
     * shared counter would lock everybody out. Per-account and per-client limits still apply.
     */
    exemptLoopback: boolean;
  };
  /** P8: log a client's code_challenge seen again among the last RECENT_CHALLENGES codes this process issued. */
  pkceReuseDetection: boolean;
}

export const defaultThrottleSettings: ThrottleSettings = {
  login: {
    freeAttemptsPerAccount: 5,
    lockAfterPerAccount: 10,
    freeAttemptsPerIp: 30,
    lockAfterPerIp: 100,
    windowSeconds: 15 * 60,
    baseDelayMs: 250,
    maxDelayMs: 4_000,
  },
  clientSecret: { lockAfterFailures: 50, windowSeconds: 5 * 60 },
  rate: {
    windowSeconds: 60,
    authorizePerIp: 600,
    authorizePerClient: 0,
    tokenPerIp: 1200,
    tokenPerClient: 0,
    exemptLoopback: true,
  },
  pkceReuseDetection: true,
};

export interface ThrottleOverrides {
  login?: Partial<ThrottleSettings['login']>;
  clientSecret?: Partial<ThrottleSettings['clientSecret']>;
  rate?: Partial<ThrottleSettings['rate']>;
  pkceReuseDetection?: boolean;
}

export function resolveThrottleSettings(overrides: ThrottleOverrides | undefined): ThrottleSettings {
  const d = defaultThrottleSettings;
  return {
    login: { ...d.login, ...overrides?.login },
    clientSecret: { ...d.clientSecret, ...overrides?.clientSecret },
    rate: { ...d.rate, ...overrides?.rate },
    pkceReuseDetection: overrides?.pkceReuseDetection ?? d.pkceReuseDetection,
  };
}

export type LoginDecision =
  /** Go on and check the password, after waiting `delayMs` (0 while under the free attempts). */
  | { kind: 'allow'; delayMs: number }
  /** Refused without checking the password, the same way for existing and unknown accounts. */
  | { kind: 'locked'; retryAfterSeconds: number };

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function isLoopback(ip: string): boolean {
  return LOOPBACK.has(ip);
}

/** Keys may carry user input (a username, a client_id): bounded, and hashed when long. */
function keyPart(value: string): string {
  return value.length <= 64 ? value : `sha256:${sha256(value)}`;
}

/** The Store counter of failed authentications of one client_id from one IP address. */
function clientLockKey(clientId: string, ip: string): string {
  return `client:${keyPart(clientId)}:ip:${keyPart(ip)}`;
}

/**
 * 429 Too Many Requests (RFC 6585 §4) with Retry-After. The body's error is invalid_request:
 * RFC 6749 has no code for "slow down", temporarily_unavailable is registered only for the
 * authorization endpoint (RFC 6749 §4.1.2.1), while invalid_request is registered at every
 * endpoint we limit (RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3). The status
 * and Retry-After say what happened; the code stays one every client understands.
 */
export class TooManyRequestsError extends Error {
  readonly retryAfterSeconds: number;
  readonly oauth: OAuthError;
  constructor(retryAfterSeconds: number, detail: string) {
    super('too many requests');
    this.name = 'TooManyRequestsError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    this.oauth = oauthError('invalid_request', {
      status: 429,
      description: `Too many requests. Try again in ${this.retryAfterSeconds} seconds.`,
      detail,
    });
  }
}

/** P8: how many recent (client, code_challenge) pairs one process remembers (about 0.9 MB). */
export const RECENT_CHALLENGES = 10_000;

export class Throttle {
  readonly settings: ThrottleSettings;
  /**
   * Counter key of a locked (client_id, IP address) pair → end of its lock. Filled from the shared
   * counter when this instance sees a failure past the limit; consulted before a secret is compared
   * (a Map lookup, no Store round trip). With N instances an attacker gets at most N more guesses
   * once the shared count is over.
   */
  private readonly lockedClients = new Map<string, number>();
  /**
   * P8: keys of (client_id, code_challenge) of the last RECENT_CHALLENGES codes issued, a ring
   * overwritten oldest first, and how many times each key is in it (see challengeReused).
   */
  private readonly recentChallenges = new Float64Array(RECENT_CHALLENGES);
  private recentNext = 0;
  private recentFilled = 0;
  private readonly recentCounts = new Map<number, number>();

  constructor(
    private readonly ctx: CoreContext,
    settings: ThrottleSettings,
  ) {
    this.settings = settings;
  }

  /**
   * A login attempt for `username` from `ip`. The account is counted before the password is
   * checked, so parallel guesses at one account are counted too; the username is counted whether or
   * not the account exists, so nothing tells them apart. The IP address is only read here: it
   * counts failed attempts (loginFailed), so many people signing in correctly from one address
   * (an office behind NAT) are never slowed down. Growing delays after the free attempts, then a
   * lock until the window ends.
   */
  async loginAttempt(username: string, ip: string): Promise<LoginDecision> {
    const s = this.settings.login;
    const now = this.ctx.clock.now();
    const windowMs = s.windowSeconds * 1000;
    const countIp = !(this.settings.rate.exemptLoopback && isLoopback(ip));
    const [account, ipFailures] = await Promise.all([
      this.ctx.store.hit(`login:user:${keyPart(username.toLowerCase())}`, now, windowMs),
      countIp ? this.ctx.store.peekHits(`login:ip:${keyPart(ip)}`, now) : 0,
    ]);
    const overAccount = account.count > s.lockAfterPerAccount;
    const overIp = ipFailures >= s.lockAfterPerIp;
    if (overAccount || overIp) {
      // Emitted once per window, on the attempt that crosses the line.
      if (account.count === s.lockAfterPerAccount + 1) {
        this.ctx.events.emit({ type: 'login.locked', at: now, detail: { by: 'account', until: new Date(account.resetAt).toISOString() } });
      }
      const retryAfterSeconds = overAccount ? Math.ceil((account.resetAt - now) / 1000) : s.windowSeconds;
      return { kind: 'locked', retryAfterSeconds: Math.max(1, retryAfterSeconds) };
    }
    const extra = Math.max(account.count - s.freeAttemptsPerAccount, ipFailures + 1 - s.freeAttemptsPerIp, 0);
    if (extra === 0) return { kind: 'allow', delayMs: 0 };
    return { kind: 'allow', delayMs: Math.min(s.baseDelayMs * 2 ** (extra - 1), s.maxDelayMs) };
  }

  /** A wrong password or unknown account: one more failure for the client IP address. */
  async loginFailed(ip: string): Promise<void> {
    if (this.settings.rate.exemptLoopback && isLoopback(ip)) return;
    const s = this.settings.login;
    const now = this.ctx.clock.now();
    const { count, resetAt } = await this.ctx.store.hit(`login:ip:${keyPart(ip)}`, now, s.windowSeconds * 1000);
    if (count === s.lockAfterPerIp) {
      this.ctx.events.emit({ type: 'login.locked', at: now, detail: { by: 'ip', until: new Date(resetAt).toISOString() } });
    }
  }

  /** A correct password clears the account's counter. */
  async loginSucceeded(username: string): Promise<void> {
    await this.ctx.store.resetHits(`login:user:${keyPart(username.toLowerCase())}`);
  }

  /** G5 OAuth 2.1 §2.4.1: seconds left on a lock of this client_id from this IP address, or 0. No Store round trip. */
  clientLockedFor(clientId: string, ip: string): number {
    const key = clientLockKey(clientId, ip);
    const until = this.lockedClients.get(key);
    if (until === undefined) return 0;
    const left = until - this.ctx.clock.now();
    if (left <= 0) {
      this.lockedClients.delete(key);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /**
   * G5: one failed client authentication. Returns the lock's seconds if this failure is past the limit.
   * Failures are counted per client_id and client IP address: a client_id is public (it is in every
   * authorization URL), so a lock of the client_id alone would let anyone who knows it shut the
   * client out by sending wrong secrets; per pair, guessing is still bounded from every address,
   * and the client's own requests, which come from its own address, go on.
   */
  async clientAuthenticationFailed(clientId: string, ip: string): Promise<number> {
    const s = this.settings.clientSecret;
    if (s.lockAfterFailures <= 0) return 0;
    const now = this.ctx.clock.now();
    const key = clientLockKey(clientId, ip);
    const { count, resetAt } = await this.ctx.store.hit(key, now, s.windowSeconds * 1000);
    if (count <= s.lockAfterFailures) return 0;
    if (this.lockedClients.size > 10_000) this.lockedClients.clear();
    this.lockedClients.set(key, resetAt);
    if (count === s.lockAfterFailures + 1) {
      this.ctx.events.emit({ type: 'client_authentication.locked', at: now, clientId: keyPart(clientId), detail: { until: new Date(resetAt).toISOString() } });
    }
    return Math.max(1, Math.ceil((resetAt - now) / 1000));
  }

  /**
   * Request rate at /authorize or /token, per client IP and per client_id (as sent: counted before
   * authentication; read only when the per-client limit is on). Throws TooManyRequestsError when
   * over. One `hit` per limit that is on.
   */
  async checkRate(endpoint: 'authorize' | 'token', ip: string, clientIdOf: () => string | undefined): Promise<void> {
    const s = this.settings.rate;
    const perIp = endpoint === 'authorize' ? s.authorizePerIp : s.tokenPerIp;
    const perClient = endpoint === 'authorize' ? s.authorizePerClient : s.tokenPerClient;
    const windowMs = s.windowSeconds * 1000;
    const checkIp = perIp > 0 && !(s.exemptLoopback && isLoopback(ip));
    if (!checkIp && perClient <= 0) return;
    const now = this.ctx.clock.now();
    if (checkIp) {
      const { count, resetAt } = await this.ctx.store.hit(`rate:${endpoint}:ip:${keyPart(ip)}`, now, windowMs);
      if (count > perIp) throw this.limited(endpoint, 'ip', resetAt, now, count === perIp + 1, undefined);
    }
    const clientId = perClient > 0 ? clientIdOf() : undefined;
    if (clientId !== undefined) {
      const { count, resetAt } = await this.ctx.store.hit(`rate:${endpoint}:client:${keyPart(clientId)}`, now, windowMs);
      if (count > perClient) throw this.limited(endpoint, 'client', resetAt, now, count === perClient + 1, clientId);
    }
  }

  private limited(endpoint: string, by: 'ip' | 'client', resetAt: number, now: number, first: boolean, clientId: string | undefined): TooManyRequestsError {
    if (first) this.ctx.events.emit({ type: 'rate_limit.exceeded', at: now, clientId: clientId === undefined ? null : keyPart(clientId), detail: { endpoint, by } });
    return new TooManyRequestsError((resetAt - now) / 1000, `rate limit per ${by} at /${endpoint}`);
  }

  /**
   * P8 RFC 9700 §2.1.1: "authorization servers are encouraged to make a reasonable effort at
   * detecting and preventing the use of constant PKCE challenge values". Called as a code is
   * issued: true when this client sent the same challenge with one of the last
   * RECENT_CHALLENGES codes this process issued, which is then logged as a security event. The
   * request goes on: the code is still bound to its challenge, and refusing would punish the
   * user, not the client's developer.
   *
   * Kept in process memory, not in the store: a look-up by challenge needs an index keyed by it,
   * and a random key lands on a random index page, so every code issued cost a page of its own
   * in each commit (about a tenth of a full flow's CPU on SQLite). A client with a constant
   * challenge sends it on every authorization, so a window of recent codes per process finds it
   * within its first few codes; the window is empty again after a restart.
   */
  challengeReused(clientId: string, codeChallenge: string): boolean {
    if (!this.settings.pkceReuseDetection) return false;
    // 48 bits of SHA-256 stand for the pair: about 60 bytes each where the strings took 300 (they
    // keep the request's strings alive); two pairs share a key once in 2^48 / RECENT_CHALLENGES.
    const key = hash('sha256', `${clientId}\n${codeChallenge}`, 'buffer').readUIntBE(0, 6);
    const seen = this.recentCounts.has(key);
    // A ring and counts, not a Set whose oldest entry is deleted each time: V8's Set then walks
    // every deleted slot from its start on each values().next(), about 7 us a code against 0.2.
    if (this.recentFilled === RECENT_CHALLENGES) {
      const oldest = this.recentChallenges[this.recentNext]!;
      const count = this.recentCounts.get(oldest)!;
      if (count === 1) this.recentCounts.delete(oldest);
      else this.recentCounts.set(oldest, count - 1);
    } else {
      this.recentFilled += 1;
    }
    this.recentChallenges[this.recentNext] = key;
    this.recentNext = (this.recentNext + 1) % RECENT_CHALLENGES;
    this.recentCounts.set(key, (this.recentCounts.get(key) ?? 0) + 1);
    return seen;
  }

  /** P8: `clientId` sent a code_challenge already on one of its codes. */
  reportChallengeReuse(clientId: string): void {
    this.ctx.events.emit({ type: 'pkce.challenge_reused', at: this.ctx.clock.now(), clientId, detail: { reason: 'the same code_challenge was sent twice' } });
  }
}

const throttles = new WeakMap<CoreContext, Throttle>();

/** The context's Throttle, built once from `ctx.settings.throttle`. */
export function throttleOf(ctx: CoreContext): Throttle {
  let throttle = throttles.get(ctx);
  if (!throttle) {
    throttle = new Throttle(ctx, resolveThrottleSettings(ctx.settings.throttle));
    throttles.set(ctx, throttle);
  }
  return throttle;
}

/** Reads throttle settings from LATCHKEY_* variables (the caller passes the environment). */
export function throttleSettingsFromEnv(env: Record<string, string | undefined>): ThrottleOverrides {
  const n = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number ≥ 0, got "${text}"`);
    return value;
  };
  const drop = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const loopback = env.LATCHKEY_RATE_LIMIT_EXEMPT_LOOPBACK;
  return {
    login: drop({
      freeAttemptsPerAccount: n('LATCHKEY_LOGIN_FREE_ATTEMPTS'),
      lockAfterPerAccount: n('LATCHKEY_LOGIN_LOCK_AFTER'),
      freeAttemptsPerIp: n('LATCHKEY_LOGIN_FREE_ATTEMPTS_PER_IP'),
      lockAfterPerIp: n('LATCHKEY_LOGIN_LOCK_AFTER_PER_IP'),
      windowSeconds: n('LATCHKEY_LOGIN_WINDOW_SECONDS'),
    }),
    clientSecret: drop({ lockAfterFailures: n('LATCHKEY_CLIENT_AUTH_LOCK_AFTER'), windowSeconds: n('LATCHKEY_CLIENT_AUTH_WINDOW_SECONDS') }),
    rate: drop({
      windowSeconds: n('LATCHKEY_RATE_LIMIT_WINDOW_SECONDS'),
      authorizePerIp: n('LATCHKEY_RATE_LIMIT_AUTHORIZE_PER_IP'),
      authorizePerClient: n('LATCHKEY_RATE_LIMIT_AUTHORIZE_PER_CLIENT'),
      tokenPerIp: n('LATCHKEY_RATE_LIMIT_TOKEN_PER_IP'),
      tokenPerClient: n('LATCHKEY_RATE_LIMIT_TOKEN_PER_CLIENT'),
      exemptLoopback: loopback === undefined ? undefined : loopback !== 'false',
    }),
  };
}
