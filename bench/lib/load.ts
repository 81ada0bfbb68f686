/**
 * The load generator: autocannon at a fixed number of connections, each connection running one
 * operation after another. An operation is one request (a token exchange) or a chain of requests
 * (a full code flow: GET /authorize → 303 with code → POST /token) built with autocannon's
 * `requests` array, `setupRequest` and `onResponse`.
 *
 * Only operations whose every answer passed its check count as throughput; every other answer is
 * recorded as an error, with its status and the start of its body, and printed. Latency is timed
 * per operation (from building its first request to the answer of its last), so a full flow's
 * latency is the whole flow's.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (request: AutocannonRequest, context: FlowContext) => AutocannonRequest | null;
  onResponse?: (status: number, body: string, context: FlowContext, headers: Record<string, string | string[]>) => void;
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  duration: number;
  requests: { total: number };
}
interface AutocannonInstance {
  stop(): void;
  on(event: 'reqError', listener: (error: Error) => void): void;
}
type Autocannon = (options: Record<string, unknown>, callback: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export type FlowContext = Record<string, unknown>;

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What a step's check decided: go on to the next step, the operation succeeded, or an error. */
export type Verdict = { next: true } | { done: true } | { error: string };

export interface Step {
  name: string;
  /** Builds the request; `undefined` from the first step means the pool is empty (the row ends). */
  build(context: FlowContext): HttpRequest | undefined;
  check(status: number, body: string, headers: Record<string, string | string[]>, context: FlowContext): Verdict;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  steps: Step[];
  /** A cheap request sent only after the row has ended, while autocannon stops (never counted). */
  filler: HttpRequest;
}

export interface LoadResult {
  /** Operations that succeeded within the measured window. */
  ok: number;
  /** Seconds measured (shorter than asked if the pool ran out). */
  elapsedS: number;
  poolExhausted: boolean;
  latenciesMs: number[];
  errors: Map<string, number>;
  errorCount: number;
  requests: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const errors = new Map<string, number>();
  const latenciesMs: number[] = [];
  let ok = 0;
  let errorCount = 0;
  let ended = false;
  let poolExhausted = false;
  const started = performance.now();
  let endedAt = 0;
  let instance: AutocannonInstance | undefined;

  const recordError = (what: string) => {
    if (ended) return;
    errorCount += 1;
    // Group alike answers: ids, codes and counts differ from one answer to the next.
    const key = what.replace(/(?=[A-Za-z0-9_-]*[A-Z0-9])[A-Za-z0-9_-]{16,}/g, '…').replace(/(?<!HTTP )\b\d+\b/g, 'N');
    errors.set(key, (errors.get(key) ?? 0) + 1);
  };
  const end = () => {
    if (ended) return;
    ended = true;
    endedAt = performance.now();
    // Stop on the next turn: autocannon is inside its own request loop when the pool empties.
    setImmediate(() => instance?.stop());
  };

  const requests: AutocannonRequest[] = options.steps.map((step, index) => ({
    setupRequest(request, context) {
      if (index === 0) {
        for (const key of Object.keys(context)) delete context[key];
        context.t0 = performance.now();
      } else if (context.failed || context.filler) {
        return null; // back to the first step
      }
      const built = ended ? undefined : step.build(context);
      if (!built) {
        if (index !== 0) return null;
        poolExhausted = poolExhausted || !ended;
        end();
        context.filler = true;
        return { ...request, ...toAutocannon(options.filler) };
      }
      return { ...request, ...toAutocannon(built) };
    },
    onResponse(status, body, context, headers) {
      if (context.filler || ended) return;
      const verdict = step.check(status, body, headers, context);
      if ('error' in verdict) {
        context.failed = true;
        recordError(`${step.name}: ${verdict.error}`);
      } else if ('done' in verdict) {
        ok += 1;
        latenciesMs.push(performance.now() - (context.t0 as number));
      }
    },
  }));

  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        duration: options.seconds,
        timeout: 10,
        requests,
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('reqError', (error) => recordError(`connection: ${error.message}`));
  });
  if (!ended) {
    ended = true;
    endedAt = performance.now();
  }
  if (result.timeouts > 0) {
    errorCount += result.timeouts;
    errors.set('timeout (10 s)', result.timeouts);
  }
  return {
    ok,
    elapsedS: (endedAt - started) / 1000,
    poolExhausted,
    latenciesMs: latenciesMs.sort((a, b) => a - b),
    errors,
    errorCount,
    requests: result.requests.total,
  };
}

function toAutocannon(request: HttpRequest): AutocannonRequest {
  return { method: request.method, path: request.path, headers: request.headers ?? {}, body: request.body ?? '' };
}

/** Short, single-line description of an unexpected answer. */
export function describe(status: number, body: string): string {
  return `HTTP ${status} ${body.replace(/\s+/g, ' ').slice(0, 100)}`;
}
