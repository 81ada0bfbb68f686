/**
 * The issuer's signing keys, cached in memory.
 *
 * - Once loaded, keys come from memory: no fetch on the per-request path.
 * - After `maxAgeMs` the set is refreshed in the background; requests keep using the old set
 *   meanwhile, and keep it if the refresh fails.
 * - A token whose `kid` is not in the set triggers one refetch (concurrent requests share it), so a
 *   key rotation at the issuer never breaks verification. Those refetches draw on a token bucket
 *   (`refetchBurst` at once, then one per `refetchIntervalMs`), and a `kid` that a refetch did not
 *   find is remembered for one interval, so a flood of tokens with made-up kids costs the issuer
 *   at most a handful of requests.
 *
 * Built on jose's `createLocalJWKSet` rather than `createRemoteJWKSet`: the remote set refuses any
 * refetch for `cooldownDuration` after every fetch (30 s by default), so a rotation shortly after a
 * fetch would fail tokens for up to that long.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export interface JwksCacheOptions {
  load: () => Promise<JSONWebKeySet>;
  now: () => number;
  /** Refresh (in the background) a set older than this. */
  maxAgeMs: number;
  /** One unknown-kid refetch is earned back per interval… */
  refetchIntervalMs: number;
  /** …up to this many in a row. */
  refetchBurst: number;
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
  private loadedAt = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;
  private budget: number;
  private budgetAt: number;
  /** kid → until when a refetch for it is not worth making. */
  private readonly missingKids = new Map<string, number>();

  constructor(private readonly options: JwksCacheOptions) {
    this.budget = options.refetchBurst;
    this.budgetAt = options.now();
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
      if (this.inflight !== null) {
        await this.inflight.catch(() => undefined);
      } else if (this.mayRefetch(kid)) {
        await this.refresh();
      } else {
        this.stats.refusedRefetches += 1;
        throw new UnknownKeyError(`no key for kid ${JSON.stringify(kid)}; refetch refused (rate limit)`, false);
      }
      try {
        return await (this.local as LocalSet)(header, token);
      } catch (retryError) {
        if (!(retryError instanceof errors.JWKSNoMatchingKey)) throw retryError;
        this.rememberMissing(kid);
        throw new UnknownKeyError(`no key for kid ${JSON.stringify(kid)} after refetching the JWKS`, true);
      }
    }
  };

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
    this.lastAttemptAt = this.options.now();
    this.stats.fetches += 1;
    let set: JSONWebKeySet;
    try {
      set = await this.options.load();
      // jose validates the shape again; this keeps a broken document from replacing a good set.
      if (!Array.isArray(set?.keys)) throw new Error('JWKS has no keys array');
    } catch (error) {
      this.stats.failedFetches += 1;
      // Keep the old set, if any: an issuer that is briefly down must not break verification.
      if (this.local !== null) return;
      throw new JwksUnavailableError(`cannot load the issuer's JWKS: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.local = createLocalJWKSet(set);
    this.loadedAt = this.options.now();
    this.missingKids.clear();
  }

  private refreshInBackground(): void {
    // A failing issuer is retried no more than once per refetch interval.
    if (this.inflight !== null || this.options.now() - this.lastAttemptAt < this.options.refetchIntervalMs) return;
    this.refresh().catch(() => undefined);
  }

  private mayRefetch(kid: string): boolean {
    const now = this.options.now();
    const until = this.missingKids.get(kid);
    if (until !== undefined) {
      if (until > now) return false;
      this.missingKids.delete(kid);
    }
    // Token bucket: earn one refetch per interval, hold at most refetchBurst.
    const { refetchBurst, refetchIntervalMs } = this.options;
    if (this.budget < refetchBurst) {
      const earned = Math.floor((now - this.budgetAt) / refetchIntervalMs);
      this.budget = Math.min(refetchBurst, this.budget + earned);
      this.budgetAt += earned * refetchIntervalMs;
    }
    // A full bucket earns nothing: its clock starts at the first spend.
    if (this.budget >= refetchBurst) this.budgetAt = now;
    if (this.budget < 1) return false;
    this.budget -= 1;
    return true;
  }

  private rememberMissing(kid: string): void {
    if (this.missingKids.size >= maxRememberedKids) {
      const oldest = this.missingKids.keys().next();
      if (!oldest.done) this.missingKids.delete(oldest.value);
    }
    this.missingKids.set(kid, this.options.now() + this.options.refetchIntervalMs);
  }
}
