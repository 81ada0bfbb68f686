/**
 * RFC 7662 token introspection, for resource servers that must see a revocation at once rather than
 * at the token's expiry. Answers are cached briefly (never past the token's `exp`), keyed by the
 * token's SHA-256 so the cache holds no usable token, and concurrent requests with the same token
 * share one call.
 */
import { createHash } from 'node:crypto';
import { BoundedMap } from './bounded-map.js';
import { DiscoveryError, fetchJson, type FetchLike } from './discovery.js';

export interface IntrospectionOptions {
  clientId: string;
  clientSecret: string;
  /**
   * How long an answer may be reused, in seconds; never past the token's `exp`. 0 asks the
   * authorization server on every request. Default 0: introspection is chosen to see revocation
   * at once, so any caching is an explicit trade.
   */
  cacheSeconds?: number;
  /** Most answers kept at once (oldest dropped first). Default 10,000. */
  maxCacheEntries?: number;
}

export type IntrospectionAnswer = { active: false } | { active: true; claims: Record<string, unknown> };

export class IntrospectionError extends Error {
  override readonly name = 'IntrospectionError';
}

interface Entry {
  answer: IntrospectionAnswer;
  until: number;
}

/** RFC 6749 §2.3.1: client_secret_basic form-encodes the id and secret before base64. */
function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export class Introspector {
  private readonly cache: BoundedMap<string, Entry>;
  private readonly inflight = new Map<string, Promise<IntrospectionAnswer>>();
  private readonly cacheMs: number;
  private readonly authorization: string;
  /** Calls made to the introspection endpoint (for tests and metrics). */
  calls = 0;

  constructor(
    options: IntrospectionOptions,
    private readonly endpoint: () => Promise<string>,
    private readonly fetchImpl: FetchLike,
    private readonly now: () => number,
    private readonly timeoutMs: number,
  ) {
    this.cacheMs = Math.max(0, (options.cacheSeconds ?? 0) * 1000);
    this.cache = new BoundedMap(options.maxCacheEntries ?? 10_000);
    this.authorization = basicCredentials(options.clientId, options.clientSecret);
  }

  async introspect(token: string): Promise<IntrospectionAnswer> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (cached.until > this.now()) return cached.answer;
      this.cache.delete(key);
    }
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const call = this.call(token)
      .then((answer) => {
        this.remember(key, answer);
        return answer;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, call);
    return call;
  }

  private async call(token: string): Promise<IntrospectionAnswer> {
    this.calls += 1;
    const endpoint = await this.endpoint();
    let document: unknown;
    try {
      // RFC 7662 §2.1: POST, form-encoded `token` (and an optional hint), with client authentication.
      document = await fetchJson(
        this.fetchImpl,
        endpoint,
        {
          method: 'POST',
          headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        },
        this.timeoutMs,
      );
    } catch (error) {
      const reason = error instanceof DiscoveryError ? error.message : String(error);
      throw new IntrospectionError(`introspection failed: ${reason}`);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      throw new IntrospectionError('introspection answer is not a JSON object');
    }
    const claims = document as Record<string, unknown>;
    // RFC 7662 §2.2: `active` is REQUIRED and boolean; anything but true means inactive.
    if (typeof claims['active'] !== 'boolean') throw new IntrospectionError('introspection answer has no boolean active');
    return claims['active'] === true ? { active: true, claims } : { active: false };
  }

  private remember(key: string, answer: IntrospectionAnswer): void {
    if (this.cacheMs === 0) return;
    let until = this.now() + this.cacheMs;
    if (answer.active) {
      // The cache never outlives the token: a cached "active" answer ends at `exp` at the latest.
      const exp = answer.claims['exp'];
      if (typeof exp === 'number') until = Math.min(until, exp * 1000);
    }
    if (until <= this.now()) return;
    this.cache.set(key, { answer, until });
  }
}
