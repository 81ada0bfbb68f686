import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../hardening/support.js';
import { FUZZ_SEED } from './support.js';

const run = promisify(execFile);

/** Generated bad command lines: each must end with exit code 2 and one clear line, never a stack trace. */
const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const junk = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('-', '--', '%s', '$(id)', '`id`', '\u00e9', '../..', '\u202e'));
const COMMANDS = new Set(['serve', 'clients', 'users', 'keys', 'migrate', 'events', 'doctor', 'help']);

const badCommandLine = fc.oneof(
  word.filter((w) => !COMMANDS.has(w)).map((w) => [w]),
  word.map((w) => ['events', `--${w}x`]),
  junk.filter((s) => !/^\d{1,6}[smhdw]$/.test(s.trim()) && !/^\d{4}-\d{2}-\d{2}/.test(s.trim()) && !s.startsWith('-')).map((s) => ['events', '--since', s]),
  junk.filter((s) => !/^\d{1,5}$/.test(s) && !s.startsWith('-')).map((s) => ['events', '--limit', s]),
  junk.filter((s) => !/^[a-z_]+(\.[a-z_]+)*$/.test(s) && !s.startsWith('-')).map((s) => ['events', '--type', s]),
  junk.filter((s) => !/^https?:\/\//.test(s) && !s.startsWith('-')).map((s) => ['doctor', '--url', s]),
  junk.filter((s) => !/^\d+$/.test(s) && !s.startsWith('-')).map((s) => ['serve', '--port', s]),
  fc.integer({ min: 65536, max: 10_000_000 }).map((n) => ['serve', '--port', String(n)]),
  junk.filter((s) => !s.startsWith('-')).map((s) => ['clients', 'create', '--name', 'App', '--redirect-uri', `http://evil.example/${s}`]),
  fc.constantFrom('javascript:alert(1)', 'https://x.example/cb#frag', 'https://*.example/cb', 'not a uri', 'myapp:/cb').map((u) => ['clients', 'create', '--name', 'App', '--redirect-uri', u]),
  junk.filter((s) => !s.startsWith('-')).map((s) => ['clients', 'show', s]),
  junk.filter((s) => !s.startsWith('-')).map((s) => ['users', 'delete', s]),
  junk.filter((s) => !['ES256', 'RS256', 'EdDSA'].includes(s) && !s.startsWith('-')).map((s) => ['keys', 'rotate', '--alg', s]),
  fc.constant(['users', 'create', '--username', 'x']),
  fc.constant(['clients', 'create']),
);

describe('Fuzz: the CLI with generated bad arguments', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('exits 2 with one clear line on stderr and no stack trace, for 30 generated bad command lines', async () => {
    const samples = fc.sample(badCommandLine, { numRuns: 30, seed: FUZZ_SEED });
    const failures: string[] = [];
    // Six at a time: each run starts node with tsx.
    for (let i = 0; i < samples.length; i += 6) {
      await Promise.all(
        samples.slice(i, i + 6).map(async (args) => {
          let code = 0;
          let stdout = '';
          let stderr = '';
          try {
            ({ stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
              env: { ...process.env, NO_COLOR: '1', LATCHKEY_DATABASE: `${tmp.dir}/cli.db`, LATCHKEY_PORT: '', NODE_ENV: 'development' },
              timeout: 30_000,
            }));
          } catch (error) {
            const e = error as { code?: number; stdout?: string; stderr?: string };
            code = typeof e.code === 'number' ? e.code : -1;
            stdout = e.stdout ?? '';
            stderr = e.stderr ?? '';
          }
          const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('ExperimentalWarning') && !l.includes('--trace-warnings'));
          const problem =
            code !== 2 ? `exit ${code}` : lines.length !== 1 ? `${lines.length} lines on stderr` : /\n\s+at |Error:|node:internal/.test(stderr) ? 'stack trace' : undefined;
          if (problem) failures.push(`${JSON.stringify(args)}: ${problem}\n${stderr.slice(0, 400)}${stdout.slice(0, 200)}`);
        }),
      );
    }
    expect(failures, `seed ${FUZZ_SEED}`).toEqual([]);
  }, 150_000);
});
