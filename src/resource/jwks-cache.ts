/**
 * The issuer's signing keys, cached in memory.
 *
 * - Once loaded, keys come from memory: no fetch on the per-request path.
 * - After `maxAgeMs` the set is refreshed in the background; requests keep using the old set
 *   meanwhile, and keep it if the refresh fails.
 * - A token whose `kid` is not in the set triggers a refetch (concurrent requests share it), so a
 *   key rotation at the issuer never breaks verification. Refetches are rate-limited (generic
 *   cell rate algorithm: `refetchBurst` back to back, then one per `refetchIntervalMs`); when the
 *   budget is spent, the request waits for the next allowed refetch (at most `maxWaitMs`) instead of
 *   failing, so even a rotation during a flood costs a legitimate request a short delay, not a 401.
 * - A flood of made-up kids therefore costs the issuer at most one fetch per interval. A kid that a
 *   refetch did not find is remembered for one interval, and tokens whose unverified claims could
 *   not pass anyway (another issuer, another audience, expired) never cause a refetch.
 *
 * Built on jose's `createLocalJWKSet` rather than `createRemoteJWKSet`: the remote set refuses any
 * refetch for `cooldownDuration` after every fetch (30 s by default), so a rotation shortly after a
 * fetch would fail tokens for up to that long.
 */
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type JWTVerifyGetKey } from 'jose';
import { BoundedMap } from './bounded-map.js';

export interface JwksCacheOptions {
  load: () => Promise<JSONWebKeySet>;
  now: () => number;
  /** Refresh (in the background) a set older than this. */
  maxAgeMs: number;
  /** One unknown-kid refetch is earned back per interval… */
  refetchIntervalMs: number;
  /** …up to this many in a row. */
  refetchBurst: number;
  /** A request waits at most this long for the next allowed refetch; beyond that it fails. */
  maxWaitMs: number;
  /** Called when a reload finds that a key published before is gone. */
  onKeysRemoved?: () => void;
  /** Whether a token with an unknown kid deserves a refetch at all (cheap checks of its claims). */
  worthRefetching: (header: JWSHeaderParameters, token: FlattenedJWSInput) => boolean;
}

/** The key set could not be loaded at all: the resource server cannot check tokens. */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

/** No key in the issuer's set matches the token, even after the refetch the budget allowed. */
export class UnknownKeyError extends Error {
  override readonly name = 'UnknownKeyError';
  constructor(
    message: string,
    readonly refetched: boolean,
  ) {
    super(message);
  }
}

export interface JwksCacheStats {
  fetches: number;
  failedFetches: number;
  /** Unknown-kid refetches not made because the budget was spent or the kid was known bogus. */
  refusedRefetches: number;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

const maxRememberedKids = 1024;

export class JwksCache {
  readonly stats: JwksCacheStats = { fetches: 0, failedFetches: 0, refusedRefetches: 0 };
  private local: LocalSet | null = null;
  private published = new Set<string>();
  private loadedAt = 0;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;
  /** GCRA "theoretical arrival time" of the next refetch. */
  private tat: number;
  private scheduled: Promise<void> | null = null;
  /** kid → until when a refetch for it is not worth making. */
  private readonly missingKids = new BoundedMap<string, number>(maxRememberedKids);

  constructor(private readonly options: JwksCacheOptions) {
    this.tat = options.now();
  }

  /** For jose's `jwtVerify(token, getKey, …)`. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.local === null) {
      await this.refresh();
    } else if (this.options.now() - this.loadedAt > this.options.maxAgeMs) {
      this.refreshInBackground();
    }
    try {
      return await (this.local as LocalSet)(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      const kid = typeof header.kid === 'string' ? header.kid : '';
      const refetch = this.refetchFor(kid, header, token);
      if (typeof refetch === 'string') {
        this.stats.refusedRefetches += 1;
        throw new UnknownKeyError(`no key for kid ${JSON.stringify(kid)}; not refetched: ${refetch}`, false);
      }
      await refetch;
      try {
        return await (this.local as LocalSet)(header, token);
      } catch (retryError) {
        if (!(retryError instanceof errors.JWKSNoMatchingKey)) throw retryError;
        this.rememberMissing(kid);
        throw new UnknownKeyError(`no key for kid ${JSON.stringify(kid)} after refetching the JWKS`, true);
      }
    }
  };

  /** Starts a background refresh if the set is stale (for requests that did not need a key). */
  touch(): void {
    if (this.local !== null && this.options.now() - this.loadedAt > this.options.maxAgeMs) this.refreshInBackground();
  }

  /** Loads the set now (or joins the load under way). */
  async refresh(): Promise<void> {
    if (this.inflight === null) {
      this.inflight = this.load().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.stats.fetches += 1;
    let set: JSONWebKeySet;
    try {
      set = await this.options.load();
      // jose validates the shape again; this keeps a broken document from replacing a good set.
      if (!Array.isArray(set?.keys)) throw new Error('JWKS has no keys array');
    } catch (error) {
      this.stats.failedFetches += 1;
      this.lastFailureAt = this.options.now();
      // Keep the old set, if any: an issuer that is briefly down must not break verification.
      if (this.local !== null) return;
      throw new JwksUnavailableError(`cannot load the issuer's JWKS: ${error instanceof Error ? error.message : String(error)}`);
    }
    const keys = new Set(set.keys.map((key) => JSON.stringify(key)));
    const removed = [...this.published].some((key) => !keys.has(key));
    this.local = createLocalJWKSet(set);
    this.published = keys;
    this.loadedAt = this.options.now();
    this.missingKids.clear();
    // A key the issuer withdrew must stop vouching for tokens at once, cached verdicts included.
    if (removed) this.options.onKeysRemoved?.();
  }

  private refreshInBackground(): void {
    // A failing issuer is retried no more than once per refetch interval.
    if (this.inflight !== null || this.options.now() - this.lastFailureAt < this.options.refetchIntervalMs) return;
    this.refresh().catch(() => undefined);
  }

  /** The refetch this request may wait for, or why there is none. */
  private refetchFor(kid: string, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<void> | string {
    // Join a fetch under way or already scheduled: it costs nothing more.
    if (this.inflight !== null) return this.inflight.catch(() => undefined);
    if (this.scheduled !== null) return this.scheduled;
    const now = this.options.now();
    const until = this.missingKids.get(kid);
    if (until !== undefined) {
      if (until > now) return 'a refetch just now did not find this kid';
      this.missingKids.delete(kid);
    }
    if (!this.options.worthRefetching(header, token)) return 'the token could not be valid here anyway';
    // GCRA: a refetch at time t conforms if t >= tat - (burst - 1) * interval.
    const { refetchBurst, refetchIntervalMs, maxWaitMs } = this.options;
    const start = Math.max(now, this.tat - (refetchBurst - 1) * refetchIntervalMs);
    if (start - now > maxWaitMs) return 'refetch rate limit';
    this.tat = Math.max(this.tat, start) + refetchIntervalMs;
    if (start <= now) return this.refresh().catch(() => undefined);
    this.scheduled = new Promise<void>((resolve) => setTimeout(resolve, start - now))
      .then(() => this.refresh())
      .catch(() => undefined)
      .finally(() => {
        this.scheduled = null;
      });
    return this.scheduled;
  }

  private rememberMissing(kid: string): void {
    this.missingKids.set(kid, this.options.now() + this.options.refetchIntervalMs);
  }
}
