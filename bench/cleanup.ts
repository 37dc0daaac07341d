// Cleanup for benchmarks that start processes and make files: whatever is registered runs once,
// when the benchmark ends normally, fails, or is stopped by SIGINT, SIGTERM or SIGHUP (after
// which it exits with 128 + the signal's number), so no guest or temporary folder outlives it.

const tasks: (() => void)[] = [];
let installed = false;

function runAll(): void {
  for (const t of tasks.splice(0).reverse()) {
    try {
      t();
    } catch {
      // best effort: the others still run
    }
  }
}

/** Registers `task` (synchronous) to run at exit or on a signal; returns a function that runs it now instead. */
export function onCleanup(task: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    for (const [sig, n] of [
      ['SIGHUP', 1],
      ['SIGINT', 2],
      ['SIGTERM', 15],
    ] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(128 + n);
      });
    }
  }
  tasks.push(task);
  return () => {
    const i = tasks.indexOf(task);
    if (i >= 0) tasks.splice(i, 1);
    task();
  };
}
