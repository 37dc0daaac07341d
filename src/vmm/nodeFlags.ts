// The Node.js options and environment a process that runs a guest starts with: the `berth`
// command's own first line (#!/usr/bin/env -S NAME=value node ...), the daemon's VMM processes
// (host/launcher.ts) and the test and benchmark sessions all pass these.
//
// --max-semi-space-size=1: V8's young generation grows to two 16 MiB semi-spaces by default,
// and a VMM's allocations (device buffers, promises, log lines) soon fill them; they stay
// committed while the guest idles. Capped at 1 MiB, a booted 256 MiB guest idle at its
// busybox prompt held 196 MiB resident instead of 222 MiB, and boot, gzip, sed | awk, the ash
// loop and /bin/true in `bench:cpu`'s guest took the same time within their run-to-run spread
// (the machine's hot paths allocate next to nothing).
//
// --no-memory-reducer: V8's memory reducer collects again some 15 s after a guest goes idle,
// after the VMM's idle trim (idleTrim.ts) has just collected and given the memory back: a
// full collection on the main thread and marking on three others, for nothing the trim had
// not done. Without it, a booted guest's first 30 s idle at the prompt took 1.00 to 1.13 %
// of a core instead of 1.27 to 1.30 % (three runs each, alternating), and held 3.5 MiB more
// (172 against 169 MiB).
//
// --no-wasm-lazy-compilation: with lazy compilation (Node 20's default), V8 compiles a wasm
// function at its first call, and each module's first instantiation also posts four delayed
// tasks (ReportLazyCompilationTimesTask, due 5, 20, 60 and 120 s later) that only gather
// statistics for Chrome's metrics. The translator instantiates a module per batch of blocks
// (machine/hart/jit/blockCache.ts), about a thousand in a boot, so their tasks came due by the
// hundred per second: Node's delayed-task thread and V8's workers woke some 85 times a second
// for seconds on end, 5 and 20 s after the boot's modules were made. The blocks of a batch are
// hot code asked for by the harts, so compiling them all when the module is made costs little
// more. A booted guest's first 30 s idle at its prompt took 1.17 and 1.23 % of a core with the
// flag, 2.03 to 2.40 % without (this 2-core machine; gdb on the delayed-task thread counted
// 1,706 tasks run in 20 s without it), and 164 MiB resident instead of 173.
//
// --v8-pool-size=1: V8's background threads (TurboFan compiling hot blocks and JavaScript, the
// collector's helpers) are four by default, whatever the host has. On this 2-core host they
// took the second core and part of the first from the thread that runs the guest; with one,
// that thread keeps a core to itself. In alternating runs (3 each): boot 5.33 / 6.41 / 5.48 s
// against 6.92 / 6.16 / 6.16 s; busybox ash's arithmetic loop of bench:cpu 0.93 / 0.97 /
// 0.93 s on its first run (its code new) against 1.07 / 1.14 / 1.63 s, and 0.67 / 0.71 /
// 0.68 s against 0.72 / 0.78 / 1.14 s on its second; the background threads used less CPU
// (0.44 to 0.48 s against 0.54 to 0.60 s in the first run); idle CPU and memory did not
// change. A host that runs many guests runs a VMM process for each, each with one such thread.

export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--no-memory-reducer',
  '--no-wasm-lazy-compilation',
  '--v8-pool-size=1',
];

/**
 * MALLOC_ARENA_MAX=1: glibc gives each thread that allocates an arena of its own, and V8's
 * compile threads (busy from the first second) held three or four of them, 21 to 34 MiB
 * resident that malloc_trim barely gives back (vmm/idleTrim.ts). Setting the limit from the
 * VMM itself (limitMallocArenas) comes too late for threads that allocated first; read from
 * the environment at start it applies to all. A booted 256 MiB guest 35 s idle at its busybox
 * prompt then held no arena and 5 MiB more in the main heap: 169 MiB resident in all, against
 * 186 and 189 MiB without it (21 and 23 MiB of it in arenas).
 */
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/** NODE_ENV as the NAME=value words of a command line. */
export function nodeEnvWords(): string[] {
  return Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`);
}
