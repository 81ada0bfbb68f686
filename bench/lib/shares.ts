import { runLoad, type LoadResult, type Step } from './load.js';
import { cpuMs, peakRssMb, resetPeakRss } from './proc.js';
import type { Target } from './targets.js';

/**
 * One stretch of load against one target: the load's result, the server's CPU (ms) and peak RSS,
 * the load generator's own CPU (µs), and the CPU (ms) of any other processes asked for (the
 * PostgreSQL server's, say).
 */
export interface Share {
  load: LoadResult;
  cpuMs: number;
  ownCpuUs: number;
  otherCpuMs: number;
  peakRssMb: number;
}

export interface ShareOptions {
  connections: number;
  /** Further processes whose CPU counts for this share. */
  alsoCount?: () => number[];
}

export async function share(target: Target, steps: Step[], seconds: number, options: ShareOptions): Promise<Share> {
  const pids = target.pids();
  const others = options.alsoCount?.() ?? [];
  resetPeakRss(pids);
  const [cpuBefore, othersBefore] = [cpuMs(pids), cpuMs(others)];
  const ownBefore = process.cpuUsage();
  const load = await runLoad({ url: target.origin, connections: options.connections, seconds, steps, filler: { method: 'GET', path: target.fillerPath } });
  const own = process.cpuUsage(ownBefore);
  return { load, cpuMs: cpuMs(pids) - cpuBefore, ownCpuUs: own.user + own.system, otherCpuMs: cpuMs(others) - othersBefore, peakRssMb: peakRssMb(pids) };
}

/**
 * Loads each target in turn, `sliceSeconds` at a time for `rounds` rounds, so that drift in the
 * CPU this machine gets falls on all of them alike. Returns each target's shares, in order.
 */
export async function alternate(targets: Target[], steps: (target: Target) => Step[], rounds: number, sliceSeconds: number, options: ShareOptions): Promise<Share[][]> {
  const shares: Share[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, target] of targets.entries()) shares[i]!.push(await share(target, steps(target), sliceSeconds, options));
  }
  return shares;
}

/** Several shares of one target as one: counts and times added, latencies merged, the highest peak. */
export function combine(shares: Share[]): Share {
  const errors = new Map<string, number>();
  for (const { load } of shares) for (const [what, n] of load.errors) errors.set(what, (errors.get(what) ?? 0) + n);
  const sum = (f: (s: Share) => number) => shares.reduce((total, s) => total + f(s), 0);
  return {
    load: {
      ok: sum((s) => s.load.ok),
      elapsedS: sum((s) => s.load.elapsedS),
      poolExhausted: shares.some((s) => s.load.poolExhausted),
      latenciesMs: shares.flatMap((s) => s.load.latenciesMs).sort((a, b) => a - b),
      errors,
      errorCount: sum((s) => s.load.errorCount),
      requests: sum((s) => s.load.requests),
    },
    cpuMs: sum((s) => s.cpuMs),
    ownCpuUs: sum((s) => s.ownCpuUs),
    otherCpuMs: sum((s) => s.otherCpuMs),
    peakRssMb: Math.max(...shares.map((s) => s.peakRssMb)),
  };
}
