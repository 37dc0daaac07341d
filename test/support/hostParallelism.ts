// How much two host threads get done at once against one alone (2.0: two free cores). On a
// virtual host the second core comes and goes with the neighbours' load; what needs harts to
// run at the same moment (a speed-up, a relaxed memory-model outcome) can only show when it is
// there.

import { Worker } from 'node:worker_threads';

/** Iterations of a busy loop a host thread makes in `ms`. */
function spin(ms: number): Promise<number> {
  const code =
    `const t = Date.now(); let n = 0; while (Date.now() - t < ${ms}) n++;` +
    `require('node:worker_threads').parentPort.postMessage(n);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Two threads' work against one's, each spinning `ms`. */
export async function hostParallelism(ms = 400): Promise<number> {
  const one = await spin(ms);
  const [a, b] = await Promise.all([spin(ms), spin(ms)]);
  return (a + b) / one;
}
