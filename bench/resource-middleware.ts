/**
 * Verified requests per second through `latchkey/resource`'s Fastify plugin.
 *
 * A child process runs a local issuer (RFC 8414 metadata + JWKS, ES256 keys made with jose) and a
 * Fastify API whose route requires `notes:read`; this process only generates load (autocannon,
 * 32 connections, ~5 s). Requests carry 256 distinct valid tokens in turn. Two runs:
 *
 * - default configuration: a token seen before is answered from the verified-token cache
 *   (exp/nbf and scope still checked per request), as when clients reuse their access token;
 * - `verifiedTokenCache: false`: every request is a full ES256 signature check plus the RFC 9068
 *   claim checks.
 *
 * Only 2xx answers count as throughput; errors, timeouts and non-2xx are reported apart.
 *
 *   node --import tsx bench/resource-middleware.ts
 *
 * Environment: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 32).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { cpuMs, peakRssMb, processTree, resetPeakRss } from './lib/proc.js';

const AUDIENCE = 'https://notes.example/api';
const TOKENS = 256;

export interface ResourceBenchFigures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  seconds: number;
  connections: number;
  /** API process CPU per verified request, and cores used over the run. */
  cpuMsPerRequest: number;
  cpuCores: number;
  peakRssMb: number;
  jwksFetches: number;
}

/** The shape `bench/run.ts` records as a row. */
export interface ResourceBenchRow {
  server: string;
  result: {
    opsPerSecond: number;
    ok: number;
    elapsedS: number;
    p50Ms: number;
    p99Ms: number;
    cpuMsPerOp: number;
    cpuCores: number;
    peakRssMb: number;
    errors: number;
    errorDetails: Array<[string, number]>;
    note: string;
  };
  figures: ResourceBenchFigures;
  /** The same load with `verifiedTokenCache: false`. */
  fullVerification: ResourceBenchFigures;
  /** The same route without the middleware: the ceiling on this machine at this moment. */
  withoutMiddleware: ResourceBenchFigures;
}

/** cache: default configuration; full: `verifiedTokenCache: false`; none: no middleware at all. */
type Mode = 'cache' | 'full' | 'none';

interface Ready {
  port: number;
  tokens: string[];
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  '2xx': number;
  latency: { p50: number; p99: number };
}
type Autocannon = (options: Record<string, unknown>, callback: (error: Error | null, result: AutocannonResult) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** The child: issuer + API. Prints nothing; talks over IPC. */
async function serveApi(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const { createResourceServer, fastifyRequireScope, fastifyResourceServer } = await import('../src/resource/index.js');

  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  let jwksFetches = 0;
  const issuerServer = createServer((request, response) => {
    const json = (body: unknown) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.url === '/.well-known/oauth-authorization-server') return json({ issuer, jwks_uri: `${issuer}/jwks.json` });
    if (request.url === '/jwks.json') {
      jwksFetches += 1;
      return json({ keys: [jwk] });
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;

  const now = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(
    Array.from({ length: TOKENS }, (_, i) =>
      new SignJWT({ client_id: 'bench-client', scope: 'notes:read', jti: `bench-${i}` })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-1' })
        .setIssuer(issuer)
        .setAudience(AUDIENCE)
        .setSubject(`user-${i}`)
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey),
    ),
  );

  const mode = process.env['LATCHKEY_RESOURCE_BENCH_MODE'] as Mode;
  const server = createResourceServer({ issuer, audience: AUDIENCE, algorithms: ['ES256'], ...(mode === 'full' ? { verifiedTokenCache: false } : {}) });
  await server.ready();
  const app = Fastify({ logger: false });
  await app.register(fastifyResourceServer, { server });
  if (mode === 'none') {
    // The reference: the same route and answer without the middleware.
    app.get('/notes', async () => ({ owner: 'user-0' }));
    app.get('/check', { preHandler: fastifyRequireScope(server, 'notes:read') }, async () => ({}));
  } else {
    app.get('/notes', { preHandler: fastifyRequireScope(server, 'notes:read') }, async (request) => ({ owner: request.latchkeyToken?.sub }));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;

  process.on('message', (message: unknown) => {
    if (message === 'stats') process.send?.({ jwksFetches });
    if (message === 'stop') void app.close().then(() => issuerServer.close(() => process.exit(0)));
  });
  process.send?.({ port, tokens } satisfies Ready);
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`API process exited with ${code}`)));
  });
}

/** One configuration: a fresh API process, warm-up, then the measured run. */
async function measure(seconds: number, connections: number, mode: Mode): Promise<ResourceBenchFigures> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, LATCHKEY_RESOURCE_BENCH_CHILD: '1', LATCHKEY_RESOURCE_BENCH_MODE: mode },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { port, tokens } = await nextMessage<Ready>(child);
    const url = `http://127.0.0.1:${port}`;

    // Sanity: verification is really on (a tampered token is refused, a good one accepted).
    const checked = mode === 'none' ? `${url}/check` : `${url}/notes`;
    const good = await fetch(checked, { headers: { authorization: `Bearer ${tokens[0]}` } });
    const bad = await fetch(checked, { headers: { authorization: `Bearer ${tokens[0]}x` } });
    if (good.status !== 200 || bad.status !== 401) throw new Error(`sanity check failed: good ${good.status}, tampered ${bad.status}`);

    const run = (duration: number, count: { value: number }) =>
      new Promise<AutocannonResult>((resolve, reject) => {
        autocannon(
          {
            url,
            connections,
            duration,
            requests: [
              {
                method: 'GET',
                path: '/notes',
                setupRequest: (request: Record<string, unknown>) => {
                  count.value += 1;
                  return { ...request, headers: { authorization: `Bearer ${tokens[count.value % tokens.length]}` } };
                },
              },
            ],
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        );
      });

    await run(1, { value: 0 }); // warm-up: JIT, key import, connection set-up
    const pids = processTree(child.pid as number);
    resetPeakRss(pids);
    const cpuBefore = cpuMs(pids);
    const result = await run(seconds, { value: 0 });
    const cpu = cpuMs(pids) - cpuBefore;
    child.send('stats');
    const { jwksFetches } = await nextMessage<{ jwksFetches: number }>(child);

    const elapsedS = result.duration || seconds; // autocannon reports seconds
    const ok = result['2xx'];
    const figures: ResourceBenchFigures = {
      requestsPerSecond: ok / elapsedS,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      ok,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      seconds: elapsedS,
      connections,
      cpuMsPerRequest: ok > 0 ? cpu / ok : Number.NaN,
      cpuCores: cpu / 1000 / elapsedS,
      peakRssMb: peakRssMb(pids),
      jwksFetches,
    };
    return figures;
  } finally {
    child.send('stop');
    await new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(undefined);
      child.once('exit', resolve);
      setTimeout(() => {
        child.kill();
        resolve(undefined);
      }, 3000).unref();
    });
  }
}

export async function benchResourceMiddleware(options: { seconds?: number; connections?: number } = {}): Promise<ResourceBenchRow> {
  const seconds = options.seconds ?? Number(process.env['BENCH_SECONDS'] ?? 5);
  const connections = options.connections ?? Number(process.env['BENCH_CONNECTIONS'] ?? 32);
  const figures = await measure(seconds, connections, 'cache');
  const fullVerification = await measure(seconds, connections, 'full');
  const withoutMiddleware = await measure(seconds, connections, 'none');
  const errorDetails: Array<[string, number]> = [];
  if (figures.errors) errorDetails.push(['connection errors', figures.errors]);
  if (figures.timeouts) errorDetails.push(['timeouts', figures.timeouts]);
  if (figures.non2xx) errorDetails.push(['non-2xx answers', figures.non2xx]);
  const round = (value: number) => Math.round(value).toLocaleString('en-US');
  return {
    server: 'latchkey/resource (Fastify plugin, ES256)',
    result: {
      opsPerSecond: figures.requestsPerSecond,
      ok: figures.ok,
      elapsedS: figures.seconds,
      p50Ms: figures.p50Ms,
      p99Ms: figures.p99Ms,
      cpuMsPerOp: figures.cpuMsPerRequest,
      cpuCores: figures.cpuCores,
      peakRssMb: figures.peakRssMb,
      errors: figures.errors + figures.timeouts + figures.non2xx,
      errorDetails,
      note:
        `${TOKENS} distinct ES256 tokens reused, default configuration (verified-token cache); with a full signature check on ` +
        `every request: ${round(fullVerification.requestsPerSecond)}/s, p99 ${fullVerification.p99Ms} ms, ` +
        `${fullVerification.errors + fullVerification.timeouts + fullVerification.non2xx} errors; the same route without ` +
        `the middleware: ${round(withoutMiddleware.requestsPerSecond)}/s. JWKS fetched once per run.`,
    },
    figures,
    fullVerification,
    withoutMiddleware,
  };
}

if (process.env['LATCHKEY_RESOURCE_BENCH_CHILD'] === '1') {
  await serveApi();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { figures, fullVerification, withoutMiddleware } = await benchResourceMiddleware();
  const f = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const show = (title: string, r: ResourceBenchFigures) =>
    [
      `${title} — ${r.connections} connections, ${f(r.seconds, 1)} s`,
      `  verified requests/s  ${f(r.requestsPerSecond)}`,
      `  latency p50 / p99    ${f(r.p50Ms, 2)} ms / ${f(r.p99Ms, 2)} ms`,
      `  errors / timeouts / non-2xx  ${r.errors} / ${r.timeouts} / ${r.non2xx} (not counted as throughput)`,
      `  API CPU              ${f(r.cpuMsPerRequest, 3)} ms per request (${f(r.cpuCores, 2)} cores)`,
      `  API peak RSS         ${f(r.peakRssMb)} MB`,
      `  JWKS fetches         ${r.jwksFetches}`,
    ].join('\n');
  console.log(show('latchkey/resource, Fastify plugin, ES256, default configuration (verified-token cache)', figures));
  console.log(show('latchkey/resource, Fastify plugin, ES256, full signature check on every request', fullVerification));
  console.log(show('reference: the same Fastify route without the middleware', withoutMiddleware));
}
