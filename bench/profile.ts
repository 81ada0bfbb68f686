/**
 * `node --import tsx bench/profile.ts [flow|token|refresh|authorize]`: runs Latchkey under
 * `node --cpu-prof` while one row's load is applied, then prints where the server's CPU went
 * (self time by function and by package/file). The .cpuprofile is kept for a closer look in
 * Chrome DevTools.
 *
 * Environment: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 32), PROFILE_DIR,
 * PROFILE_DATABASE (sqlite, the default, or postgres: BENCH_POSTGRES_URL or the local server),
 * PROFILE_WORKERS (`--workers`, default 1; the busiest worker's profile is summed up).
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, type Step } from './lib/load.js';
import { authorizeStep, exchangeStep, mintCodeStep, poolExchangeStep, refreshStep, type IssuedCode, type IssuedTokens } from './lib/operations.js';
import { startLatchkey, startOidcProvider, type Target } from './lib/targets.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const which = process.argv[2] ?? 'flow';
const server = process.argv[3] ?? 'latchkey';
const dir = process.env.PROFILE_DIR ?? mkdtempSync(join(tmpdir(), 'latchkey-profile-'));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

const flags = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const workers = Number(process.env.PROFILE_WORKERS ?? 1);
const target: Target =
  server === 'oidc-provider'
    ? await startOidcProvider({ nodeFlags: flags })
    : await startLatchkey({ database: process.env.PROFILE_DATABASE === 'postgres' ? 'postgres' : 'sqlite', nodeFlags: flags, workers });
const load = (steps: Step[]) => runLoad({ url: target.origin, connections: CONNECTIONS, seconds: SECONDS, steps, filler: { method: 'GET', path: target.fillerPath } });
try {
  let steps: Step[];
  if (which === 'flow') steps = [authorizeStep(target), exchangeStep(target)];
  else if (which === 'authorize') steps = [mintCodeStep(target, [], 1e9)];
  else {
    const codes: IssuedCode[] = [];
    await load([mintCodeStep(target, codes, 1e9)]);
    const tokens: IssuedTokens[] = [];
    steps = [poolExchangeStep(target, codes, tokens)];
    if (which === 'refresh') {
      await load(steps);
      steps = [refreshStep(target, tokens, [])];
    }
  }
  const result = await load(steps);
  console.log(`${which} on ${target.name}: ${Math.round(result.ok / result.elapsedS)} ops/s, ${result.errorCount} errors`);
} finally {
  await target.close();
}

// With workers each process writes a profile; the largest is a worker's (the primary idles).
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (!file) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
const total = profile.nodes.reduce((sum, n) => sum + n.hitCount, 0);
const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const node of profile.nodes) {
  const { functionName, url, lineNumber } = node.callFrame;
  const place = url.includes('node_modules/')
    ? url.slice(url.lastIndexOf('node_modules/') + 13).split('/').slice(0, url.includes('node_modules/@') ? 2 : 1).join('/')
    : url.includes('/dist/') ? `latchkey ${url.slice(url.indexOf('/dist/') + 6)}` : url === '' ? `(${functionName || 'native'})` : url.replace(/^node:/, 'node:');
  const name = `${functionName || '(anonymous)'}  ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + node.hitCount);
  byPlace.set(place, (byPlace.get(place) ?? 0) + node.hitCount);
}
const top = (map: Map<string, number>, n: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`).join('\n');
console.log(`\nprofile: ${file}\n\nself time by package / file:\n${top(byPlace, 20)}\n\nself time by function:\n${top(byFunction, Number(process.env.PROFILE_TOP ?? 30))}`);
