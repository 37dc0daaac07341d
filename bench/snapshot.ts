// Snapshot benchmark: a 256 MiB guest booted to its shell (Debian's stock kernel with Berth's
// busybox initramfs, as bench/boot.ts boots it) and left idle a moment is snapshotted, then
// restored in a new process, on Berth and on qemu-system-riscv64 (Debian's package) in the same
// run, alternating, three rounds each; the table gives the medians.
//   - Berth: the control socket's `snapshot` (pause, write, resume), then `berth run --restore`.
//   - QEMU: over QMP `stop`, `migrate "exec:cat > FILE"` until completed, `cont` (this QEMU has
//     no file: migration), then a new QEMU with `-incoming "exec:cat FILE"` and `cont`.
// Restore time is from the new process's start to the guest running (Berth: its log line
// after the restore; QEMU: `cont` answered) and to the guest answering a command on its console
// (a file the first guest wrote before the snapshot, read back).
// Run: npm run bench:snapshot [-- --rounds 3]

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './benchArgs.js';
import { ConsoleSession } from '../test/integration/session.js';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { controlRequest } from '../src/vmm/controlClient.js';
import { onCleanup } from './cleanup.js';
import { Qmp } from './qmp.js';
import {
  cpuSeconds,
  end,
  median,
  printTable,
  PROMPT,
  sleep,
  started,
  stderrMatch,
} from './sessions.js';

const { values, fail } = benchArgs('npm run bench:snapshot [-- --rounds 3]', {
  options: { rounds: { type: 'string', default: '3' } },
});
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) fail('--rounds: a whole number >= 1');
const IDLE_MS = 3000;
const MEMORY = '256M';
/** The VMM's log line after a restore (vmm.ts). */
const RESTORED =
  /restored .*: board (\d+) ms, then waited (\d+) ms .*, checked and loaded it in (\d+) ms; (\d+) ms after the process started/;

interface Round {
  /** Pause, write, running again: seconds, as seen by the client. */
  snapshot: number;
  bytes: number;
  /** Process start to the restored guest running, s. */
  toRunning: number;
  /** Process start to the restored guest's answer on its console, s. */
  toAnswer: number;
  /** CPU time (user + system, all threads) the restoring process had used when the guest ran, s. */
  cpuToRunning: number;
  /** Berth only: the VMM's own figures, ms (from its snapshot answer and its restore's log line). */
  vmm?: { snapshotMs: number; boardMs: number; waitMs: number; loadMs: number; startMs: number };
}

const a = await ensureDefaultAssets({ progress: false });
// Berth gets the boot files by name, as the daemon's VMM configs give them (without them
// `berth run` finds Debian's defaults in its cache and checks their digests at each start).
const BERTH_FILES = [
  ...['--kernel', a.kernelPath, '--initrd', a.initrdPath, '--firmware', a.firmwarePath],
];
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-snap-'));
onCleanup(() => rmSync(dir, { recursive: true, force: true }));

/** Boots to the shell, leaves a mark in the guest's /tmp, and lets it idle. */
async function bootToShell(s: ConsoleSession, mark: string): Promise<void> {
  await s.expect(READY_BANNER, 900_000);
  await s.expect(PROMPT, 60_000);
  await s.run(`echo ${mark} > /tmp/mark`);
  await sleep(IDLE_MS);
}

/** Times from `t0` to the restored guest reading back the mark. */
async function answer(s: ConsoleSession, mark: string, t0: number): Promise<number> {
  const out = await s.run('cat /tmp/mark', 120_000);
  const t = (performance.now() - t0) / 1000;
  if (!out.includes(mark)) throw new Error(`the restored guest answered '${out}', not ${mark}`);
  return t;
}

async function berthRound(i: number): Promise<Round> {
  const sock = join(dir, `berth${i}.sock`);
  const file = join(dir, `berth${i}.snap`);
  const mark = `berth-mark-${i}-${process.pid}`;
  const s = started(ConsoleSession.berth(['--memory', MEMORY, ...BERTH_FILES, '--control', sock]));
  let snap: { bytes: number; milliseconds: number };
  let snapshot: number;
  try {
    await bootToShell(s, mark);
    const t = performance.now();
    snap = await controlRequest(sock, { cmd: 'snapshot', path: file }, 120_000);
    snapshot = (performance.now() - t) / 1000;
  } finally {
    await end(s, () => controlRequest(sock, { cmd: 'quit' }));
  }
  const t0 = performance.now();
  const r = started(ConsoleSession.berth(['--memory', MEMORY, ...BERTH_FILES, '--restore', file]));
  try {
    const m = await stderrMatch(r, RESTORED, 120_000);
    const toRunning = (performance.now() - t0) / 1000;
    const cpuToRunning = cpuSeconds(r.child.pid!);
    const toAnswer = await answer(r, mark, t0);
    const [boardMs, waitMs, loadMs, startMs] = m.slice(1).map(Number);
    const vmm = { snapshotMs: snap.milliseconds, boardMs, waitMs, loadMs, startMs };
    const bytes = statSync(file).size;
    return { snapshot, bytes, toRunning, toAnswer, cpuToRunning, vmm };
  } finally {
    await end(r, () => r.send('poweroff -f\n'));
    rmSync(file, { force: true });
  }
}

async function qemuRound(i: number): Promise<Round> {
  const file = join(dir, `qemu${i}.migration`);
  const mark = `qemu-mark-${i}-${process.pid}`;
  const qmpAt = (n: number): string[] => [
    '-qmp',
    `unix:${join(dir, `qmp${i}-${n}`)},server=on,wait=off`,
  ];
  const s = started(ConsoleSession.qemu(a, MEMORY, qmpAt(0)));
  let q: Qmp | null = null;
  let snapshot: number;
  try {
    await bootToShell(s, mark);
    q = await Qmp.connect(join(dir, `qmp${i}-0`), 10_000);
    const t = performance.now();
    await q.command('stop');
    await q.command('migrate', { uri: `exec:cat > ${file}` });
    await q.until<{ status: string }>(
      'query-migrate',
      (m) => {
        if (m.status === 'failed') throw new Error(`QEMU's migration failed: ${JSON.stringify(m)}`);
        return m.status === 'completed';
      },
      120_000,
    );
    await q.command('cont');
    snapshot = (performance.now() - t) / 1000;
  } finally {
    await end(s, () => q?.command('quit'));
    q?.close();
  }
  const t0 = performance.now();
  const r = started(ConsoleSession.qemu(a, MEMORY, [...qmpAt(1), '-incoming', `exec:cat ${file}`]));
  let q2: Qmp | null = null;
  try {
    q2 = await Qmp.connect(join(dir, `qmp${i}-1`), 60_000);
    const st = await q2.until<{ status: string }>(
      'query-status',
      (x) => x.status !== 'inmigrate',
      120_000,
    );
    if (st.status !== 'running') await q2.command('cont');
    const toRunning = (performance.now() - t0) / 1000;
    const cpuToRunning = cpuSeconds(r.child.pid!);
    const toAnswer = await answer(r, mark, t0);
    return { snapshot, bytes: statSync(file).size, toRunning, toAnswer, cpuToRunning };
  } finally {
    await end(r, () => q2?.command('quit'));
    q2?.close();
    rmSync(file, { force: true });
  }
}

const berth: Round[] = [];
const qemu: Round[] = [];
for (let i = 0; i < ROUNDS; i++) {
  // Alternating, QEMU first in odd rounds, so neither always runs on a warmer host.
  const order = i % 2 === 0 ? ['berth', 'qemu'] : ['qemu', 'berth'];
  for (const kind of order) {
    const r = kind === 'berth' ? await berthRound(i) : await qemuRound(i);
    (kind === 'berth' ? berth : qemu).push(r);
    process.stderr.write(`round ${i + 1} ${kind}: ${JSON.stringify(r)}\n`);
  }
}

const row = (label: string, f: (r: Round) => number, digits: number): string[] => {
  const b = median(berth.map(f));
  const q = median(qemu.map(f));
  return [label, b.toFixed(digits), q.toFixed(digits), (b / q).toFixed(1) + 'x'];
};
const vmm = (f: (v: NonNullable<Round['vmm']>) => number): string =>
  median(berth.map((r) => f(r.vmm!))).toFixed(0);
const rows = [
  ['measure (median of ' + ROUNDS + ')', 'berth', 'qemu', 'berth/qemu'],
  row('snapshot: pause, write, running again, s', (r) => r.snapshot, 2),
  row('snapshot file, MB', (r) => r.bytes / 1e6, 1),
  row('restore: process start to guest running, s', (r) => r.toRunning, 2),
  row('restore: process start to guest answering, s', (r) => r.toAnswer, 2),
  row('restore: CPU the process used until the guest ran, s', (r) => r.cpuToRunning, 2),
  ['  berth VMM: snapshot written in, ms', vmm((v) => v.snapshotMs), '', ''],
  ['  berth VMM: restore done, ms after its process started', vmm((v) => v.startMs), '', ''],
  ['    of which: board made, ms', vmm((v) => v.boardMs), '', ''],
  [
    '    then waited for the file read and RAM inflated (threads), ms',
    vmm((v) => v.waitMs),
    '',
    '',
  ],
  ['    then checked and loaded, ms', vmm((v) => v.loadMs), '', ''],
];
printTable(rows);
console.log(
  `\ncommand: npm run bench:snapshot (node dist/bench/snapshot.js); ${MEMORY} guests idle at the ` +
    `shell, same kernel/firmware/initramfs; QEMU: ${'migrate to exec:cat'}`,
);
