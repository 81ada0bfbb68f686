/**
 * `node --import tsx bench/ab.ts [--postgres] [--token | --refresh] VARIANT...`: compares server configurations
 * on the full code flow (with --token: the token endpoint alone, on a pool of codes each server
 * minted first for MINT_SECONDS, default 8, redeemed oldest first; with --refresh: the refresh grant,
 * after the warm-up, on the tokens of two seconds of minted codes, each successor refreshed in turn;
 * with REFRESH_ONCE=1, each token of MINT_SECONDS of codes once, as bench/run.ts does). Each VARIANT is a comma-separated list of environment variables for its server
 * (`LATCHKEY_LOG_LEVEL=warn`, `NODE_OPTIONS=--max-semi-space-size=4`; `-` for none; `WORKERS=2`
 * runs that server with `--workers 2`). All servers
 * start at once and are loaded in turn, SLICE seconds each, for ROUNDS rounds, so the CPU this
 * machine gets, which drifts over minutes, falls on every variant alike. Prints flows/s, the
 * server's CPU per flow and, on PostgreSQL, the database's (every `postgres` process on the
 * machine), p50 and p99 of an operation's latency over all its slices, and the server's peak RSS
 * while measured. `BENCH_LATCHKEY_BIN=/elsewhere/bin/latchkey.js` in a variant starts another
 * build (a `git worktree` of an earlier commit, built), to compare builds the same way.
 *
 * Environment: SLICE (default 2), ROUNDS (default 8), WARMUP (seconds of full flows first, default 15,
 * times N for WORKERS=N), BENCH_CONNECTIONS (default 32),
 * BENCH_POSTGRES_URL, MINT_SECONDS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { percentile, runLoad, type Step } from './lib/load.js';
import { authorizeStep, exchangeStep, mintCodeStep, poolExchangeStep, refreshStep, type IssuedCode, type IssuedTokens } from './lib/operations.js';
import { alternate, combine, share } from './lib/shares.js';
import { startLatchkey, type Target } from './lib/targets.js';

const SLICE = Number(process.env.SLICE ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const WARMUP = Number(process.env.WARMUP ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const args = process.argv.slice(2);
const database = args.includes('--postgres') ? 'postgres' : 'sqlite';
const tokenRow = args.includes('--token');
const refreshRow = args.includes('--refresh');
// --refresh with REFRESH_ONCE=1: each token of the pool once, as bench/run.ts's refresh row (the
// pool, MINT_SECONDS of codes exchanged, must outlast ROUNDS × SLICE seconds of refreshes).
const REFRESH_ONCE = process.env.REFRESH_ONCE === '1';
const variants = args.filter((a) => a !== '--postgres' && a !== '--token' && a !== '--refresh');
if (variants.length === 0) {
  process.stderr.write('usage: node --import tsx bench/ab.ts [--postgres] [--token | --refresh] VARIANT... (VARIANT: NAME=value[,NAME=value] or -)\n');
  process.exit(2);
}

/** PostgreSQL's server processes (backends, WAL writer, checkpointer), to count the database's CPU. */
function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

function environment(variant: string): Record<string, string> {
  if (variant === '-') return {};
  return Object.fromEntries(
    variant.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`not NAME=value: ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const targets: Target[] = [];
// --token: the token endpoint alone, on a pool of codes minted first (MINT_SECONDS, default 8).
const pools = new Map<Target, IssuedCode[]>();
// --refresh: each server's refresh tokens; every answer's successor joins the pool.
const refreshPools = new Map<Target, IssuedTokens[]>();
const steps = (target: Target) => {
  if (tokenRow) return [poolExchangeStep(target, pools.get(target)!, [])];
  if (refreshRow) return [refreshStep(target, refreshPools.get(target)!, REFRESH_ONCE ? [] : refreshPools.get(target)!)];
  return [authorizeStep(target), exchangeStep(target)];
};
try {
  for (const variant of variants) {
    // startLatchkey hands the server a copy of process.env.
    const saved = { ...process.env };
    // WORKERS=n is not passed on: it runs the server with --workers n.
    const { WORKERS, ...env } = environment(variant);
    Object.assign(process.env, env);
    try {
      targets.push(await startLatchkey({ database, name: variant, workers: Number(WORKERS ?? 1) }));
    } finally {
      process.env = saved;
    }
  }
  for (const target of targets) {
    if (!tokenRow) await share(target, [authorizeStep(target), exchangeStep(target)], WARMUP * target.servingProcesses, { connections: CONNECTIONS });
    if (!tokenRow && !refreshRow) continue;
    const mint = (mintSteps: Step[], seconds: number) => runLoad({ url: target.origin, connections: CONNECTIONS, seconds, steps: mintSteps, filler: { method: 'GET', path: target.fillerPath } });
    const pool: IssuedCode[] = [];
    await mint([mintCodeStep(target, pool, 1e9)], tokenRow || REFRESH_ONCE ? Number(process.env.MINT_SECONDS ?? 8) : 2);
    pools.set(target, pool);
    if (!refreshRow) continue;
    const tokens: IssuedTokens[] = [];
    await mint([poolExchangeStep(target, pool, tokens)], 30);
    refreshPools.set(target, tokens);
  }
  const shares = await alternate(targets, steps, ROUNDS, SLICE, { connections: CONNECTIONS, ...(database === 'postgres' ? { alsoCount: postgresPids } : {}) });
  for (const [i, variant] of variants.entries()) {
    const t = combine(shares[i]!);
    const slices = shares[i]!.map((s) => Math.round(s.load.ok / s.load.elapsedS)).join(' ');
    const db = database === 'postgres' ? `  PostgreSQL ${(t.otherCpuMs / t.load.ok).toFixed(3)} ms/flow` : '';
    console.log(
      `${variant.padEnd(32)} ${(t.load.ok / t.load.elapsedS).toFixed(0).padStart(6)} ${tokenRow ? 'exchanges' : refreshRow ? 'refreshes' : 'flows'}/s  server ${(t.cpuMs / t.load.ok).toFixed(3)} ms/op${db}  p50 ${percentile(t.load.latenciesMs, 50).toFixed(1)} p99 ${percentile(t.load.latenciesMs, 99).toFixed(1)} ms  peak RSS ${t.peakRssMb.toFixed(0)} MB  errors ${t.load.errorCount}  slices ${slices}`,
    );
  }
} finally {
  for (const target of targets) await target.close();
}
