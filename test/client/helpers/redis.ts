/**
 * A real redis-server for tests, on a Unix socket in a temp dir (no TCP port at all), and a
 * minimal RESP2 client: enough to send one command at a time and read its reply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  command(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

class RespClient {
  #buffer = Buffer.alloc(0);
  readonly #waiting: Array<{ resolve(value: unknown): void; reject(error: Error): void }> = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (;;) {
        const parsed = this.#parse(0);
        if (parsed === undefined) return;
        this.#buffer = this.#buffer.subarray(parsed.end);
        const waiter = this.#waiting.shift();
        if (parsed.value instanceof Error) waiter?.reject(parsed.value);
        else waiter?.resolve(parsed.value);
      }
    });
  }

  send(args: string[]): Promise<unknown> {
    const parts = [`*${args.length}\r\n`, ...args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`)];
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.socket.write(parts.join(''));
    });
  }

  #parse(at: number): { value: unknown; end: number } | undefined {
    const lineEnd = this.#buffer.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const type = String.fromCharCode(this.#buffer[at]!);
    const line = this.#buffer.toString('utf8', at + 1, lineEnd);
    switch (type) {
      case '+':
        return { value: line, end: lineEnd + 2 };
      case '-':
        return { value: new Error(line), end: lineEnd + 2 };
      case ':':
        return { value: Number(line), end: lineEnd + 2 };
      case '$': {
        const length = Number(line);
        if (length === -1) return { value: null, end: lineEnd + 2 };
        if (this.#buffer.length < lineEnd + 2 + length + 2) return undefined;
        return { value: this.#buffer.toString('utf8', lineEnd + 2, lineEnd + 2 + length), end: lineEnd + 2 + length + 2 };
      }
      default:
        throw new Error(`unsupported RESP type ${type}`);
    }
  }
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
  const socketPath = join(dir, 'redis.sock');
  const child: ChildProcess = spawn('redis-server', ['--port', '0', '--unixsocket', socketPath, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 20));
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const client = new RespClient(socket);
  return {
    command: (args) => client.send(args),
    close: async () => {
      socket.destroy();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
