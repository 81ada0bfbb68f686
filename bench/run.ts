/**
 * `npm run bench`: Latchkey against node-oidc-provider 9, side by side, in one run.
 *
 * Both servers run as child processes on 127.0.0.1 (ephemeral ports); this process is only the
 * load generator (autocannon, BENCH_CONNECTIONS connections, default 32). Rows alternate between
 * the servers. Each row reports operations per second (only operations whose every answer was
 * right), p50/p99 latency per operation, server CPU per operation and peak RSS (both read from
 * /proc for the server's processes), errors, and Latchkey's ratio to oidc-provider.
 *
 * Environment: BENCH_SECONDS (per row, default 5), BENCH_WARMUP_SECONDS (default 15),
 * BENCH_CONNECTIONS (default 32), BENCH_POSTGRES_URL, BENCH_SKIP (comma-separated: postgres, small-heap,
 * workers, resource), BENCH_JSON (write the results here), BENCH_SVG (default docs/benchmarks.svg).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './chart.js';
import { percentile, runLoad, type Step } from './lib/load.js';
import {
  authorizeStep,
  exchangeStep,
  introspectStep,
  mintCodeStep,
  poolExchangeStep,
  refreshStep,
  type IssuedCode,
  type IssuedTokens,
} from './lib/operations.js';
import { alternate, combine, share, type Share } from './lib/shares.js';
import { postgresUrl, startLatchkey, startOidcProvider, type Target } from './lib/targets.js';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
/**
 * V8's own young-generation cap, 16 MB per semi-space, given after the CLI launcher's 4 MB one
 * (bin/latchkey.js) to show what that cap saves.
 */
const DEFAULT_HEAP_FLAG = '--max-semi-space-size=16';
const DEFAULT_HEAP_SERVER = "Latchkey (SQLite, V8's default semi-spaces)";
const ADJACENT = 'Latchkey (SQLite, reference for the rows below)';
const POSTGRES_ROW = 'full code flow (PostgreSQL row)';
const SVG_PATH = resolve(process.env.BENCH_SVG ?? join(here, '../docs/benchmarks.svg'));

export interface RowResult {
  row: string;
  server: string;
  latchkey: boolean;
  opsPerSecond: number;
  ok: number;
  elapsedS: number;
  poolExhausted: boolean;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerOp: number;
  /** Server CPU use over the row, in cores (1.0 = one core busy all the time). */
  cpuCores: number;
  /** The load generator's own CPU use over the row, in cores: near 1.0 means it, not the server, set the pace. */
  loadCores: number;
  peakRssMb: number;
  errors: number;
  errorDetails: Array<[string, number]>;
  note?: string;
}

const results: RowResult[] = [];

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function measure(row: string, target: Target, steps: Step[], seconds = SECONDS, latchkey = target.name.startsWith('Latchkey')): Promise<RowResult> {
  return report(row, target, await share(target, steps, seconds, { connections: CONNECTIONS }), latchkey);
}

/**
 * Measures each target on the same operation in turn, one second at a time for `seconds` rounds,
 * so that drift in the CPU this machine gets falls on all of them alike: for rows compared with a
 * server measured at another time of the run otherwise.
 */
async function measureAlternating(row: string, targets: Target[], steps: (target: Target) => Step[], seconds = SECONDS): Promise<RowResult[]> {
  const shares = await alternate(targets, steps, seconds, 1, { connections: CONNECTIONS });
  return targets.map((target, i) => report(row, target, combine(shares[i]!), target.name.startsWith('Latchkey')));
}

function report(row: string, target: Target, { load, cpuMs: cpu, ownCpuUs, peakRssMb: peak }: Share, latchkey: boolean): RowResult {
  const result: RowResult = {
    row,
    server: target.name,
    latchkey,
    opsPerSecond: load.ok / load.elapsedS,
    ok: load.ok,
    elapsedS: load.elapsedS,
    poolExhausted: load.poolExhausted,
    p50Ms: percentile(load.latenciesMs, 50),
    p99Ms: percentile(load.latenciesMs, 99),
    cpuMsPerOp: load.ok > 0 ? cpu / load.ok : Number.NaN,
    cpuCores: cpu / 1000 / load.elapsedS,
    loadCores: ownCpuUs / 1e6 / load.elapsedS,
    peakRssMb: peak,
    errors: load.errorCount,
    errorDetails: [...load.errors].sort((a, b) => b[1] - a[1]),
  };
  log(
    `  ${row.padEnd(34)} ${target.name.padEnd(34)} ${fmt(result.opsPerSecond, 0).padStart(7)}/s  p50 ${fmt(result.p50Ms, 2)} ms  p99 ${fmt(result.p99Ms, 2)} ms  ` +
      `cpu ${fmt(result.cpuMsPerOp, 3)} ms/op (${fmt(result.cpuCores, 2)} cores, load generator ${fmt(result.loadCores, 2)})  rss ${fmt(result.peakRssMb, 0)} MB  errors ${result.errors}` +
      `${load.poolExhausted ? `  (pool used up after ${fmt(load.elapsedS, 1)} s)` : ''}`,
  );
  for (const [what, count] of result.errorDetails.slice(0, 5)) log(`      ${count} × ${what}`);
  if (result.errors > 0) log(`      server log:\n${target.logTail().replace(/^/gm, '        ')}`);
  return result;
}

function record(result: RowResult): RowResult {
  results.push(result);
  return result;
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';
}

async function warmUp(target: Target): Promise<void> {
  if (WARMUP_SECONDS <= 0) return;
  await runLoad({ url: target.origin, connections: CONNECTIONS, seconds: WARMUP_SECONDS * target.servingProcesses, steps: [authorizeStep(target), exchangeStep(target)], filler: { method: 'GET', path: target.fillerPath } });
}

/** Mints a pool of codes through GET /authorize, for up to 1.5 × the row time. */
async function mintCodes(target: Target): Promise<IssuedCode[]> {
  const pool: IssuedCode[] = [];
  const load = await runLoad({
    url: target.origin,
    connections: CONNECTIONS,
    seconds: Math.max(1, Math.round(SECONDS * 1.5)),
    steps: [mintCodeStep(target, pool, 100_000)],
    filler: { method: 'GET', path: target.fillerPath },
  });
  log(`  minted ${pool.length} codes at ${target.name} (${load.errorCount} errors)`);
  return pool;
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`Latchkey vs oidc-provider: ${SECONDS} s per row, ${CONNECTIONS} connections, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}`);

  const latchkey = await startLatchkey({ database: 'sqlite' });
  const provider = await startOidcProvider();
  const pair = [latchkey, provider];
  const minted = new Map<Target, IssuedCode[]>();
  const exchanged = new Map<Target, IssuedTokens[]>();
  const refreshed = new Map<Target, IssuedTokens[]>();
  try {
    log('full code flow: GET /authorize (signed in, consent remembered) → 303 with code → POST /token');
    // Each server warmed up right before its row: one left idle through the other's warm-up ran its
    // first seconds slower (0.42 against 0.34 ms per flow for the same build later in the run).
    for (const target of pair) {
      await warmUp(target);
      record(await measure('full code flow', target, [authorizeStep(target), exchangeStep(target)]));
    }

    log('token endpoint alone: authorization_code, a pool of codes minted first');
    for (const target of pair) {
      minted.set(target, await mintCodes(target));
      const issued: IssuedTokens[] = [];
      record(await measure('token (authorization_code)', target, [poolExchangeStep(target, minted.get(target)!, issued)]));
      exchanged.set(target, issued);
    }

    log('refresh: each refresh token once, rotated');
    for (const target of pair) {
      const issued: IssuedTokens[] = [];
      record(await measure('token (refresh_token, rotation)', target, [refreshStep(target, exchanged.get(target)!, issued)]));
      refreshed.set(target, issued);
    }

    log('introspection of a refresh token (both servers), then of a JWT access token (Latchkey only)');
    for (const target of pair) {
      const tokens = refreshed.get(target)!.slice(0, 2000).map((t) => t.refreshToken);
      record(await measure('introspection (refresh token)', target, [introspectStep(target, tokens, 'refresh_token')]));
    }
    const accessTokens = refreshed.get(latchkey)!.slice(0, 2000).map((t) => t.accessToken);
    const jwtRow = record(await measure('introspection (JWT access token)', latchkey, [introspectStep(latchkey, accessTokens, 'access_token')]));
    jwtRow.note = 'oidc-provider refuses: "Structured JWT Tokens cannot be introspected"';

    const resourceModule = join(here, 'resource-middleware.ts');
    if (!SKIP.has('resource') && existsSync(resourceModule)) {
      log('resource middleware: verified requests');
      const { benchResourceMiddleware } = (await import(resourceModule)) as { benchResourceMiddleware?: (options: ResourceBenchOptions) => Promise<ResourceBenchResult> };
      if (typeof benchResourceMiddleware === 'function') {
        const r = await benchResourceMiddleware({ seconds: SECONDS, connections: CONNECTIONS });
        record({ ...emptyRow('resource middleware (verified requests)', r.server ?? 'latchkey/resource', true), ...r.result });
      }
    } else {
      log('resource middleware: bench/resource-middleware.ts not present, row left out');
    }
  } finally {
    await latchkey.close();
    await provider.close();
  }

  if (!SKIP.has('postgres')) {
    // Compared with an oidc-provider measured right after it, not with the first row's, a minute or
    // two earlier: the machine's CPU drifts by more than a third within that time. Not in
    // alternating one-second slices: each slice opens new connections, and oidc-provider's first
    // flow on a new connection is slow (in slices it did 948 flows/s at p99 124 ms, against
    // 1,030-1,192 at p99 59-64 ms measured for 5 s), which Latchkey's is not.
    log('full code flow on PostgreSQL, next to a fresh oidc-provider');
    try {
      const pair = [await startLatchkey({ database: 'postgres' }), await startOidcProvider()];
      try {
        const connection = new URL(postgresUrl()).searchParams.get('host')?.startsWith('/') ? 'the Unix socket' : 'TCP';
        for (const target of pair) {
          await warmUp(target);
          const result = await measure(POSTGRES_ROW, target, [authorizeStep(target), exchangeStep(target)]);
          if (result.latchkey) result.note = `PostgreSQL on the same machine, reached through ${connection} (BENCH_POSTGRES_URL); over TCP to 127.0.0.1 the same build does about 7 % fewer flows (docs/deployment.md)`;
          record(result);
        }
      } finally {
        await Promise.all(pair.map((target) => target.close()));
      }
    } catch (error) {
      log(`  PostgreSQL row failed: ${(error as Error).message}`);
    }
  }
  // Variants of the SQLite full flow, measured alternately, a second at a time, with a one-worker
  // server started with them: on a shared machine the CPU available drifts over a run, so each
  // variant is compared with the reference measured in the same seconds, not with the first row.
  const variants: Array<{ skip: string; note: string; options: Parameters<typeof startLatchkey>[0] }> = [
    { skip: 'workers', note: 'one worker, measured next to the variants below', options: { database: 'sqlite', name: ADJACENT } },
    // docs/deployment.md: V8 grows its young generation to 2 × 16 MB under sustained load; the CLI
    // caps it at 2 × 4 MB, which keeps about 20 MB less resident.
    { skip: 'small-heap', note: `node ${DEFAULT_HEAP_FLAG} (V8's default)`, options: { database: 'sqlite', nodeFlags: [DEFAULT_HEAP_FLAG], name: DEFAULT_HEAP_SERVER } },
    { skip: 'workers', note: '--workers 2', options: { database: 'sqlite', workers: 2 } },
  ];
  const chosen = variants.filter((v) => !SKIP.has(v.skip));
  if (chosen.length > 1) {
    log(`full code flow, alternating one second at a time: ${chosen.map((v) => v.note).join('; ')}`);
    const servers = await Promise.all(chosen.map((v) => startLatchkey(v.options)));
    try {
      for (const target of servers) await warmUp(target);
      for (const result of await measureAlternating('full code flow', servers, (target) => [authorizeStep(target), exchangeStep(target)])) record(result);
    } finally {
      await Promise.all(servers.map((target) => target.close()));
    }
  }

  const report = buildReport(Date.now() - started);
  process.stdout.write(report);
  writeFileSync(SVG_PATH, renderChart(results, { title: `Latchkey vs oidc-provider 9 — operations per second (${CONNECTIONS} connections)` }));
  log(`chart written to ${SVG_PATH}`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ date: new Date().toISOString(), machine: machine(), seconds: SECONDS, connections: CONNECTIONS, results }, null, 2));
}

export interface ResourceBenchOptions {
  seconds: number;
  connections: number;
}
export interface ResourceBenchResult {
  server?: string;
  result: Partial<RowResult>;
}

function emptyRow(row: string, server: string, latchkey: boolean): RowResult {
  return { row, server, latchkey, opsPerSecond: Number.NaN, ok: 0, elapsedS: 0, poolExhausted: false, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuMsPerOp: Number.NaN, cpuCores: Number.NaN, loadCores: Number.NaN, peakRssMb: Number.NaN, errors: 0, errorDetails: [] };
}

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${process.platform}`;
}

const baselineOf = (row: string) => results.find((r) => r.row === row && !r.latchkey);

function buildReport(durationMs: number): string {
  const lines: string[] = [];
  lines.push('');
  lines.push(`Machine: ${machine()}; load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end; ${SECONDS} s per row, ${CONNECTIONS} connections; run took ${fmt(durationMs / 1000, 0)} s.`);
  lines.push('');
  lines.push('| row | server | ops/s | p50 ms | p99 ms | server CPU ms/op | server cores | load-generator cores | peak RSS MB | errors | × oidc-provider (ops/s) |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const base = baselineOf(r.row);
    const ratio = r.latchkey ? (base ? `${fmt(r.opsPerSecond / base.opsPerSecond, 2)} ×` : 'no peer row') : '1 (baseline)';
    lines.push(
      `| ${r.row}${r.poolExhausted ? ` (pool used up in ${fmt(r.elapsedS, 1)} s)` : ''} | ${r.server} | ${fmt(r.opsPerSecond, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.cpuMsPerOp, 3)} | ${fmt(r.cpuCores, 2)} | ${fmt(r.loadCores, 2)} | ${fmt(r.peakRssMb, 0)} | ${r.errors} | ${ratio} |`,
    );
  }
  const notes = results.filter((r) => r.note);
  if (notes.length > 0) {
    lines.push('');
    for (const r of notes) lines.push(`- ${r.row} (${r.server}): ${r.note}`);
  }
  lines.push('');
  lines.push(...targetsTable());
  const failed = results.filter((r) => r.errors > 0);
  if (failed.length > 0) {
    lines.push('');
    lines.push('Errors (never counted as throughput):');
    for (const r of failed) for (const [what, count] of r.errorDetails) lines.push(`- ${r.row}, ${r.server}: ${count} × ${what}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** The targets of issue 8, each with the measured value. */
function targetsTable(): string[] {
  const find = (row: string, server: string) => results.find((r) => r.row === row && r.server === server);
  const sqlite = 'Latchkey (SQLite)';
  const flow = find('full code flow', sqlite);
  const base = baselineOf('full code flow');
  const rows: Array<[string, number | undefined, (v: number) => boolean, string]> = [];
  const ratio = (row: string, server: string) => {
    const l = find(row, server);
    const b = baselineOf(row);
    return l && b ? l.opsPerSecond / b.opsPerSecond : undefined;
  };
  rows.push(['full flows/s ≥ 4 × oidc-provider', ratio('full code flow', sqlite), (v) => v >= 4, '×']);
  rows.push(['server CPU per full flow ≤ 0.3 ms', flow?.cpuMsPerOp, (v) => v <= 0.3, 'ms']);
  rows.push(['token endpoint (authorization_code) ≥ 3 × oidc-provider', ratio('token (authorization_code)', sqlite), (v) => v >= 3, '×']);
  rows.push(['refresh grants/s (rotation) ≥ 3 × oidc-provider', ratio('token (refresh_token, rotation)', sqlite), (v) => v >= 3, '×']);
  rows.push(['p99 at 32 connections ≤ ⅓ of oidc-provider (full flow)', flow && base ? flow.p99Ms / base.p99Ms : undefined, (v) => v <= 1 / 3, '× theirs']);
  rows.push(['peak RSS under load ≤ 120 MB (full flow)', flow?.peakRssMb, (v) => v <= 120, 'MB']);
  const adjacent = find('full code flow', ADJACENT);
  rows.push(['PostgreSQL full flows ≥ 2 × oidc-provider (measured next to it)', ratio(POSTGRES_ROW, 'Latchkey (PostgreSQL)'), (v) => v >= 2, '×']);
  const workers = find('full code flow', 'Latchkey (SQLite, 2 workers)');
  rows.push(['--workers 2 more flows/s than one worker (measured next to it)', workers && adjacent ? workers.opsPerSecond / adjacent.opsPerSecond : undefined, (v) => v > 1, '× one worker']);
  rows.push(['resource middleware ≥ 10,000 verified requests/s', results.find((r) => r.row.startsWith('resource middleware'))?.opsPerSecond, (v) => v >= 10_000, '/s']);
  const out = ['| target (issue 8) | measured | met |', '|---|---:|:---:|'];
  for (const [name, value, ok, unit] of rows) {
    const shown = value === undefined || !Number.isFinite(value) ? 'not measured' : `${fmt(value, unit === 'MB' || value >= 100 ? 0 : 2)} ${unit}`;
    out.push(`| ${name} | ${shown} | ${value === undefined || !Number.isFinite(value) ? '–' : ok(value) ? 'yes' : 'no'} |`);
  }
  return out;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
