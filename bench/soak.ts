// Soak benchmark (issue 11: "memory stays bounded in a long run"): the 256 MiB one-hart guest
// of bench/cpu.ts (Debian's stock kernel, Berth's busybox initramfs) runs the workloads of
// cpuWorkloads.ts on its console one after the other, round after round, for --minutes; the
// same guest on qemu-system-riscv64 (Debian's package) does the same beside it in the same run
// (--berth-only leaves it out). Each guest's resident memory (VmRSS) is sampled every
// SAMPLE_S and printed each minute. The verdict: Berth's guest never held more than it held
// at --baseline minutes (the issue's five) plus 64 MiB. Every workload's output is checked;
// the count of wrong ones is printed.
// Run: npm run bench:soak [-- --minutes 60 --baseline 5 --berth-only]

import { benchArgs } from './benchArgs.js';
import { ConsoleSession } from '../test/integration/session.js';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { runWorkload, WORKLOADS } from './cpuWorkloads.js';
import { end, printTable, PROMPT, rssMiB, started } from './sessions.js';

const { values, fail } = benchArgs(
  'npm run bench:soak [-- --minutes 60 --baseline 5 --berth-only]',
  {
    options: {
      minutes: { type: 'string', default: '60' },
      baseline: { type: 'string' },
      'berth-only': { type: 'boolean', default: false },
    },
  },
);
const MINUTES = Number(values.minutes);
if (!(MINUTES > 0)) fail('--minutes: a number of minutes > 0');
/** Minutes into the run whose RSS is the baseline: 5, or half the run when that is shorter. */
const BASELINE = values.baseline === undefined ? Math.min(5, MINUTES / 2) : Number(values.baseline);
if (!(BASELINE > 0 && BASELINE < MINUTES)) fail('--baseline: minutes > 0, < --minutes');
const MEMORY = '256M';
const SAMPLE_S = 10;
/** What Berth may hold beyond its baseline, MiB (the issue's bound). */
const BOUND_MIB = 64;
const TIMEOUT_MS = 900_000;

type Kind = 'berth' | 'qemu';
interface Soak {
  /** [minutes since the prompt, RSS MiB] every SAMPLE_S. */
  samples: [number, number][];
  /** Whole rounds through the workloads. */
  rounds: number;
  workloads: number;
  wrong: number;
}

const a = await ensureDefaultAssets({ progress: false });
const BERTH_ARGS = [
  ...['--memory', MEMORY, '--kernel', a.kernelPath],
  ...['--initrd', a.initrdPath, '--firmware', a.firmwarePath],
];

/** Boots one guest and runs the workloads in a loop until MINUTES have passed since its prompt. */
async function soak(kind: Kind): Promise<Soak> {
  const s = started(kind === 'berth' ? ConsoleSession.berth(BERTH_ARGS) : ConsoleSession.qemu(a));
  const r: Soak = { samples: [], rounds: 0, workloads: 0, wrong: 0 };
  try {
    await s.expect(READY_BANNER, TIMEOUT_MS);
    await s.expect(PROMPT, 60_000);
    const t0 = performance.now();
    const minutes = (): number => (performance.now() - t0) / 60_000;
    const sample = (): void => {
      r.samples.push([minutes(), rssMiB(s.child.pid!)]);
    };
    sample();
    const timer = setInterval(sample, SAMPLE_S * 1000);
    try {
      while (minutes() < MINUTES) {
        for (const w of WORKLOADS) {
          if (minutes() >= MINUTES) break;
          const [seconds] = await runWorkload(s, w, TIMEOUT_MS);
          r.workloads++;
          if (seconds === null) r.wrong++;
        }
        if (r.workloads % WORKLOADS.length === 0) r.rounds++;
      }
    } finally {
      clearInterval(timer);
    }
    sample();
    return r;
  } finally {
    await end(s, () => s.send('poweroff -f\n'));
  }
}

const kinds: Kind[] = values['berth-only'] ? ['berth'] : ['berth', 'qemu'];
const results = await Promise.all(kinds.map((k) => soak(k)));
const byKind = Object.fromEntries(kinds.map((k, i) => [k, results[i]])) as Record<Kind, Soak>;

/** The sample nearest `m` minutes. */
function at(x: Soak, m: number): number {
  let best = x.samples[0];
  for (const s of x.samples) if (Math.abs(s[0] - m) < Math.abs(best[0] - m)) best = s;
  return best[1];
}
const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '');
const rows: string[][] = [['minute', ...kinds.map((k) => `${k} RSS, MiB`)]];
for (let m = 0; m <= Math.ceil(MINUTES); m++)
  rows.push([String(m), ...results.map((x) => fmt(at(x, m)))]);
printTable(rows);

const b = byKind.berth;
const base = at(b, BASELINE);
const later = b.samples.filter(([m]) => m >= BASELINE);
const peak = Math.max(...later.map(([, rss]) => rss));
const last = b.samples[b.samples.length - 1][1];
console.log('');
for (const k of kinds) {
  const x = byKind[k];
  console.log(
    `${k}: ${x.rounds} rounds, ${x.workloads} workloads, ${x.wrong} with wrong output; ` +
      `RSS at ${BASELINE} min ${fmt(at(x, BASELINE))} MiB, highest after it ` +
      `${fmt(Math.max(...x.samples.filter(([m]) => m >= BASELINE).map(([, v]) => v)))} MiB, ` +
      `at the end ${fmt(x.samples[x.samples.length - 1][1])} MiB`,
  );
}
const ok = peak <= base + BOUND_MIB && b.wrong === 0;
console.log(
  `\nverdict: Berth's RSS after minute ${BASELINE} must stay at or below ${base.toFixed(1)} + ` +
    `${BOUND_MIB} = ${(base + BOUND_MIB).toFixed(1)} MiB; highest ${peak.toFixed(1)}, last ` +
    `${last.toFixed(1)}: ${ok ? 'met' : 'NOT met'}` +
    (b.wrong ? ` (${b.wrong} workloads printed wrong output)` : ''),
);
const args = process.argv.slice(2).join(' ');
console.log(
  `command: npm run bench:soak${args ? ` -- ${args}` : ''} (node dist/bench/soak.js${args ? ` ${args}` : ''}); ` +
    `${MEMORY} one-hart guests, the workloads of bench/cpuWorkloads.ts in a loop, RSS every ${SAMPLE_S} s`,
);
