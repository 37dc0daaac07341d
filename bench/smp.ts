// Multi-hart benchmark (issue 13): two CPU-bound guest processes (each a busybox ash loop of
// arithmetic, pinned to a hart of its own with taskset when there are two) on a one-hart and on
// a two-hart 256 MiB guest, on Berth (`--cpus N`) and on qemu-system-riscv64 (`-smp N`, with
// MTTCG: `-accel tcg,thread=multi`, one host thread per vCPU), in the same run, alternating
// which goes first, each timed on its second run (the first translates the loop's code). The
// speed-up is the one-hart time over the two-hart time; the target is
// 1.5x on this two-core host, and no lower than QEMU's.
// Each round's figures go to stderr as JSON.
// Run: npm run bench:smp [-- --rounds 3 --loops 20000]

import { benchArgs } from './benchArgs.js';
import { ConsoleSession } from '../test/integration/session.js';
import { hostParallelism } from '../test/support/hostParallelism.js';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { end, median, printTable, PROMPT, started } from './sessions.js';

const { values, fail } = benchArgs('npm run bench:smp [-- --rounds 3 --loops 20000]', {
  options: {
    rounds: { type: 'string', default: '3' },
    loops: { type: 'string', default: '20000' },
  },
});
const ROUNDS = Number(values.rounds);
const LOOPS = Number(values.loops);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) fail('--rounds: a whole number >= 1');
if (!Number.isInteger(LOOPS) || LOOPS < 1) fail('--loops: a whole number >= 1');
const MEMORY = '256M';
const TIMEOUT_MS = 900_000;

type Kind = 'berth' | 'qemu';
const a = await ensureDefaultAssets({ progress: false });

function session(kind: Kind, harts: number): ConsoleSession {
  if (kind === 'berth') {
    return ConsoleSession.berth([
      ...['--memory', MEMORY, '--cpus', String(harts), '--kernel', a.kernelPath],
      ...['--initrd', a.initrdPath, '--firmware', a.firmwarePath],
    ]);
  }
  return ConsoleSession.qemu(a, MEMORY, ['-smp', String(harts), '-accel', 'tcg,thread=multi']);
}

/** One process's loop, printing its count at the end so that a wrong run shows. */
const loop = `i=0; while [ $i -lt ${LOOPS} ]; do i=$((i + 1)); done; echo n=$i`;

/** Seconds for two loops at once on a guest with `harts` harts (each pinned when it can be). */
async function twoLoops(kind: Kind, harts: number): Promise<number> {
  const s = started(session(kind, harts));
  try {
    await s.expect(READY_BANNER, TIMEOUT_MS);
    await s.expect(PROMPT, 60_000);
    const nproc = (await s.run('nproc')).trim();
    if (nproc !== String(harts)) throw new Error(`${kind}: nproc says ${nproc}, not ${harts}`);
    const pin = (c: number): string => (harts > 1 ? `taskset -c ${c} ` : '');
    const cmd = `${pin(0)}sh -c '${loop}' & ${pin(1)}sh -c '${loop}' & wait`;
    // Once untimed: the loop's code is translated (on each hart's thread, for Berth) and
    // the guest's page cache warm, so that the timed run measures the guest computing.
    await s.run(cmd, TIMEOUT_MS);
    const t = performance.now();
    const out = await s.run(cmd, TIMEOUT_MS);
    const seconds = (performance.now() - t) / 1000;
    const done = out.match(new RegExp(`n=${LOOPS}`, 'g'))?.length ?? 0;
    if (done !== 2) throw new Error(`${kind}, ${harts} harts: the loops printed ${out}`);
    return seconds;
  } finally {
    await end(s, () => s.send('poweroff -f\n'));
  }
}

const parallelism: number[] = [];
const times: Record<Kind, Record<1 | 2, number[]>> = {
  berth: { 1: [], 2: [] },
  qemu: { 1: [], 2: [] },
};
for (let i = 0; i < ROUNDS; i++) {
  const order: Kind[] = i % 2 === 0 ? ['berth', 'qemu'] : ['qemu', 'berth'];
  for (const kind of order)
    for (const harts of [1, 2] as const) {
      if (harts === 2) {
        const p = await hostParallelism();
        parallelism.push(p);
        process.stderr.write(`round ${i + 1} host: two threads at ${p.toFixed(2)}x one's rate\n`);
      }
      const s = await twoLoops(kind, harts);
      times[kind][harts].push(s);
      process.stderr.write(`round ${i + 1} ${kind} ${harts} harts: ${JSON.stringify(s)}\n`);
    }
}

const m = (k: Kind, h: 1 | 2): number => median(times[k][h]);
const speedup = (k: Kind): number => m(k, 1) / m(k, 2);
const rows = [
  [`two busy processes (median of ${ROUNDS})`, 'berth', 'qemu', 'berth/qemu'],
  ...([1, 2] as const).map((h) => [
    `${h} hart${h > 1 ? 's' : ''}, s`,
    m('berth', h).toFixed(2),
    m('qemu', h).toFixed(2),
    `${(m('berth', h) / m('qemu', h)).toFixed(2)}x`,
  ]),
  [
    `the host's two threads against one, just before each 2-hart run (median)`,
    `${median(parallelism).toFixed(2)}x`,
    '',
    '',
  ],
  [
    'speed-up from the second hart',
    `${speedup('berth').toFixed(2)}x`,
    `${speedup('qemu').toFixed(2)}x`,
    '',
  ],
];
printTable(rows);
const ok = speedup('berth') >= 1.5 && speedup('berth') >= speedup('qemu');
console.log(
  `\ntarget: a speed-up of at least 1.5x and no lower than QEMU MTTCG's: ${ok ? 'met' : 'NOT met'}`,
);
const args = process.argv.slice(2).join(' ');
console.log(
  `command: npm run bench:smp${args ? ` -- ${args}` : ''} (node dist/bench/smp.js${args ? ` ${args}` : ''}); ` +
    `${MEMORY} guests, the same kernel/firmware/initramfs; QEMU with -accel tcg,thread=multi`,
);
