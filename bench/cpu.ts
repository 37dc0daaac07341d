// Guest CPU benchmark (issue 11): a 256 MiB one-hart guest (Debian's stock kernel with Berth's
// busybox initramfs, as bench/boot.ts boots it) runs the workloads of cpuWorkloads.ts on its
// console, on Berth and on qemu-system-riscv64 (Debian's package) in the same run, alternating
// which goes first, round after round; the table gives the medians.
//   - Boot: process start to the initramfs banner.
//   - Each workload: its inputs are made in the guest first, not timed; then its command is
//     timed from the host, the round trip of typing it and reading its end marker
//     (ConsoleSession.run); then its output is checked (a checksum, a count). A workload whose
//     output is wrong is reported as failed, not timed.
//   - After boot, and again after the workloads, the guest idles twice IDLE_S at its prompt: the
//     host CPU the process used in each span, in percent of one core, and its resident memory
//     (VmRSS) at the end of the first. The first span holds what follows a burst of new code
//     (Berth drops its code caches there, vmm/idleTrim.ts); the second is the idle guest's own
//     cost, what a host pays for each guest left idle, which the < 1 % target is about.
// Each round's figures go to stderr as JSON.
// Run: npm run bench:cpu [-- --rounds 3 --only sha256,gzip]

import { benchArgs } from './benchArgs.js';
import { ConsoleSession } from '../test/integration/session.js';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { runWorkload, WORKLOADS, type Workload } from './cpuWorkloads.js';
import { cpuSeconds, end, median, printTable, PROMPT, rssMiB, sleep, started } from './sessions.js';

const { values, fail } = benchArgs('npm run bench:cpu [-- --rounds 3 --only sha256,gzip]', {
  options: { rounds: { type: 'string', default: '3' }, only: { type: 'string' } },
});
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) fail('--rounds: a whole number >= 1');
const names = values.only?.split(',').filter((n) => n !== '');
for (const n of names ?? [])
  if (!WORKLOADS.some((w) => w.name === n))
    fail(`--only: no workload ${n} (${WORKLOADS.map((w) => w.name).join(', ')})`);
const chosen = names ? WORKLOADS.filter((w) => names.includes(w.name)) : WORKLOADS;
const MEMORY = '256M';
const IDLE_S = 30;
/** Longest a workload's setup, command or check may take, ms. */
const TIMEOUT_MS = 900_000;

type Kind = 'berth' | 'qemu';
interface Round {
  /** Process start to the banner, s. */
  boot: number;
  /** Resident memory at the prompt right after boot, MiB. */
  bootRssMiB: number;
  /** Host CPU over IDLE_S idle at the prompt after boot, % of one core. */
  promptIdleCpu: number;
  /** Resident memory at the end of that idle period, MiB. */
  promptRssMiB: number;
  /** Host CPU over the next IDLE_S, % of one core. */
  promptSettledCpu: number;
  /** Seconds of each workload, null if its output was wrong. */
  seconds: Record<string, number | null>;
  /** Each workload's output (the command's and its check's). */
  outputs: Record<string, string>;
  /** Host CPU over the idle period after the workloads, % of one core. */
  idleCpu: number;
  /** Resident memory at the end of that idle period, MiB. */
  rssMiB: number;
  /** Host CPU over the next IDLE_S, % of one core. */
  settledCpu: number;
}

const a = await ensureDefaultAssets({ progress: false });
// Berth gets the boot files by name, as bench/snapshot.ts does (without them `berth run` checks
// the cached defaults' digests at each start, which would count in its boot).
const BERTH_ARGS = [
  ...['--memory', MEMORY, '--kernel', a.kernelPath],
  ...['--initrd', a.initrdPath, '--firmware', a.firmwarePath],
];

const timed = (s: ConsoleSession, w: Workload): Promise<[number | null, string]> =>
  runWorkload(s, w, TIMEOUT_MS);

/** Lets process `pid` idle IDLE_S: its host CPU over that time (% of a core), its RSS at the end. */
async function idle(pid: number): Promise<{ cpu: number; rss: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(IDLE_S * 1000);
  const cpu = ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
  return { cpu, rss: rssMiB(pid) };
}

async function round(kind: Kind): Promise<Round> {
  const t0 = performance.now();
  const s = started(kind === 'berth' ? ConsoleSession.berth(BERTH_ARGS) : ConsoleSession.qemu(a));
  try {
    await s.expect(READY_BANNER, TIMEOUT_MS);
    const boot = (performance.now() - t0) / 1000;
    await s.expect(PROMPT, 60_000);
    const bootRssMiB = rssMiB(s.child.pid!);
    const atPrompt = await idle(s.child.pid!);
    const promptSettled = await idle(s.child.pid!);
    const seconds: Round['seconds'] = {};
    const outputs: Round['outputs'] = {};
    for (const w of chosen) [seconds[w.name], outputs[w.name]] = await timed(s, w);
    const after = await idle(s.child.pid!);
    const settled = await idle(s.child.pid!);
    return {
      ...{ boot, bootRssMiB, seconds, outputs },
      ...{ promptIdleCpu: atPrompt.cpu, promptRssMiB: atPrompt.rss },
      ...{ promptSettledCpu: promptSettled.cpu, idleCpu: after.cpu, rssMiB: after.rss },
      settledCpu: settled.cpu,
    };
  } finally {
    await end(s, () => s.send('poweroff -f\n'));
  }
}

const results: Record<Kind, Round[]> = { berth: [], qemu: [] };
for (let i = 0; i < ROUNDS; i++) {
  // Alternating, QEMU first in odd rounds, so neither always runs on a warmer host.
  for (const kind of i % 2 === 0 ? (['berth', 'qemu'] as const) : (['qemu', 'berth'] as const)) {
    const r = await round(kind);
    results[kind].push(r);
    process.stderr.write(`round ${i + 1} ${kind}: ${JSON.stringify(r)}\n`);
  }
}

/** The median of `f` over the rounds where it is a number, and how many rounds it failed. */
function fig(kind: Kind, f: (r: Round) => number | null): [number, number] {
  const xs = results[kind].map(f).filter((x): x is number => x !== null);
  return [xs.length ? median(xs) : NaN, ROUNDS - xs.length];
}
const cell = ([x, failed]: [number, number], digits: number): string =>
  failed === ROUNDS ? 'failed' : x.toFixed(digits) + (failed ? ` (${failed} failed)` : '');
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

const rows: string[][] = [
  [`measure (median of ${ROUNDS})`, 'berth', 'qemu', 'berth/qemu', 'target', ''],
];
/**
 * A row: Berth's and QEMU's medians of `f` and their ratio; the target is a ratio to QEMU's
 * (null: no more than QEMU's) or, for `absolute`, a bound on Berth's own figure.
 */
function row(
  label: string,
  f: (r: Round) => number | null,
  digits: number,
  target?: { ratio: number | null } | { absolute: number; text: string },
): void {
  const b = fig('berth', f);
  const q = fig('qemu', f);
  const ratio = b[0] / q[0];
  const all = b[1] === 0 && q[1] === 0;
  const r = [
    label,
    cell(b, digits),
    cell(q, digits),
    Number.isNaN(ratio) ? '' : `${ratio.toFixed(2)}x`,
  ];
  if (!target) rows.push([...r, '', '']);
  else if ('absolute' in target) rows.push([...r, target.text, met(all && b[0] < target.absolute)]);
  else {
    const goal = target.ratio === null ? '≤ QEMU' : `${target.ratio}x`;
    rows.push([...r, goal, met(all && ratio <= (target.ratio ?? 1))]);
  }
}
row('boot: process start to the banner, s', (r) => r.boot, 2, { ratio: 2 });
row(
  `resident memory after ${IDLE_S} s idle at the prompt after boot, MiB`,
  (r) => r.promptRssMiB,
  0,
  {
    ratio: null,
  },
);
row(
  `host CPU over those ${IDLE_S} s (the code caches are dropped in them), % of a core`,
  (r) => r.promptIdleCpu,
  1,
);
row(`host CPU over the next ${IDLE_S} s idle, % of a core`, (r) => r.promptSettledCpu, 1, {
  absolute: 1,
  text: '< 1%',
});
for (const w of chosen) row(`${w.label}, s`, (r) => r.seconds[w.name], 2, { ratio: 1.5 });
row(`resident memory after the workloads and ${IDLE_S} s idle, MiB`, (r) => r.rssMiB, 0, {
  ratio: null,
});
row(
  `host CPU over those ${IDLE_S} s (the code caches are dropped in them), % of a core`,
  (r) => r.idleCpu,
  1,
);
row(`host CPU over the next ${IDLE_S} s idle, % of a core`, (r) => r.settledCpu, 1, {
  absolute: 1,
  text: '< 1%',
});
row('resident memory at the prompt just after boot, MiB', (r) => r.bootRssMiB, 0);
printTable(rows);

// The two guests run the same programs on the same inputs: any difference in what they printed
// (a compressed size, a count of files) is worth a look even where both passed their checks.
for (const w of chosen)
  for (let i = 0; i < ROUNDS; i++) {
    const [b, q] = [results.berth[i].outputs[w.name], results.qemu[i].outputs[w.name]];
    if (b.replace(/\s+/g, ' ') !== q.replace(/\s+/g, ' '))
      console.log(
        `round ${i + 1}, ${w.name}: berth printed ${JSON.stringify(b)}, qemu ${JSON.stringify(q)}`,
      );
  }
const args = process.argv.slice(2).join(' ');
console.log(
  `\ncommand: npm run bench:cpu${args ? ` -- ${args}` : ''} (node dist/bench/cpu.js${args ? ` ${args}` : ''}); ` +
    `${MEMORY} one-hart guests, same kernel/firmware/initramfs, ` +
    `workloads typed on the serial console and timed from the host`,
);
