// Guest sessions shared by the benchmarks that boot Debian's kernel with Berth's busybox
// initramfs (bench/boot.ts, bench/cpu.ts, bench/snapshot.ts, bench/migrate.ts): the shell
// prompt, sessions killed at exit (cleanup.ts), ending one politely then for sure, a process's
// CPU time and resident memory, and the medians and tables they print.

import { readFileSync } from 'node:fs';
import type { ConsoleSession } from '../test/integration/session.js';
import { onCleanup } from './cleanup.js';

/** The busybox shell's prompt, with the cursor query its line editor sends after it. */
export const PROMPT = /# (?:\x1b\[6n)?$/m;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const live = new Set<ConsoleSession>();
let registered = false;

/** Tracks `s` so that it is killed when the benchmark ends, fails or is stopped; returns it. */
export function started(s: ConsoleSession): ConsoleSession {
  if (!registered) {
    registered = true;
    onCleanup(() => live.forEach((x) => x.kill()));
  }
  live.add(s);
  void s.exited.then(() => live.delete(s));
  return s;
}

/** Ends a session: `stop` asks it to, then it is killed if it has not ended in 10 s. */
export async function end(s: ConsoleSession, stop: () => Promise<unknown> | void): Promise<void> {
  try {
    await stop();
  } catch {
    // ended already, or not answering: killed below
  }
  await Promise.race([s.exited, sleep(10_000)]);
  s.kill();
  await s.exited;
}

/** Waits until `s` has written a line matching `re` on stderr; returns the match. */
export async function stderrMatch(
  s: ConsoleSession,
  re: RegExp,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(s.stderr);
    if (m) return m;
    if (s.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`did not see ${String(re)} on stderr; it said:\n${s.stderr.slice(-2000)}`);
    }
    await sleep(2);
  }
}

/** User + system CPU seconds of process `pid` so far, all its threads (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Resident set size of process `pid` in MiB (Linux /proc, VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Prints `rows` as columns: the first left-aligned, the others right-aligned. */
export function printTable(rows: string[][]): void {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows)
    console.log(r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  '));
}
