/**
 * What throttling costs on /token: `node --import tsx test/hardening/measure-throttle.ts`.
 * Not a test (no assertions): numbers for docs/security.md. Alternates the two configurations
 * (off, on, on, off) so a machine that gets busier during the run does not favour one.
 */
import { createRequire } from 'node:module';
import { SqliteStore } from '../../src/server/store/sqlite/sqlite-store.js';
import { newKek, seedClient, startInstance, tempDir } from './support.js';

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number };
}
// autocannon ships no type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => Promise<Result>;

const tmp = tempDir();
const raw = SqliteStore.open(`${tmp.dir}/raw.db`);
const t = performance.now();
for (let i = 0; i < 20_000; i++) await raw.hit('rate:token:ip:10.0.0.1', Date.now(), 60_000);
console.log(`store.hit: ${(((performance.now() - t) * 1000) / 20_000).toFixed(1)} µs per call (SQLite, one key)`);
await raw.close();

const configs = [
  ['off (loopback exempt, the default)', {}],
  ['on (one hit per request)', { exemptLoopback: false, tokenPerIp: 1e9 }],
] as const;
for (const [name, rate] of [...configs, ...[...configs].reverse()]) {
  const lk = await startInstance({ databaseFile: `${tmp.dir}/${Math.random()}.db`, kek: newKek(), settings: { throttle: { rate } } });
  const { clientId } = await seedClient(lk.store, { public: true });
  const body = `grant_type=authorization_code&code=unknown&client_id=${clientId}&code_verifier=${'a'.repeat(43)}`;
  const options = { url: `${lk.url}/token`, method: 'POST' as const, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, connections: 32, duration: 5 };
  await autocannon({ ...options, duration: 1 });
  const r = await autocannon(options);
  console.log(`/token refusal path, rate limit ${name}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
  await lk.close();
}
tmp.remove();
