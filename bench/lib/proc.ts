/**
 * Server-side measurements read from /proc (Linux): CPU time and peak resident memory of a server
 * process and every process below it (cluster workers), so the load generator's own work is
 * never counted.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

function stat(pid: number): { ppid: number; cpuMs: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { ppid: Number(fields[1]), cpuMs: ((utime + stime) * 1000) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * `pid` and all its descendants that are alive now, leaving out helper binaries that are not
 * the server (tsx's esbuild service, idle during a run).
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(entry));
    children.set(s.ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree.filter((p) => p === pid || comm(p) !== 'esbuild');
}

/** CPU time (user + system, ms) used so far by the processes. */
export function cpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (stat(pid)?.cpuMs ?? 0), 0);
}

function statusKb(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set (VmHWM, MB) of each process, summed. */
export function peakRssMb(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + statusKb(pid, 'VmHWM'), 0) / 1024;
}

/** Resets the peak resident set to the current one (Linux ≥ 4.0: write 5 to clear_refs). */
export function resetPeakRss(pids: number[]): void {
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // Not permitted (another user's process): the peak then covers the process's whole life.
    }
  }
}
