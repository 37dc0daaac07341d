// Live-migration benchmark: a 512 MiB guest (Debian's stock kernel with Berth's busybox
// initramfs, as bench/boot.ts boots it) booted to its shell is migrated on loopback TCP to a
// second process of the same configuration while idle, then from there to a third while busy,
// on Berth and on qemu-system-riscv64 (Debian's package) in the same run, alternating.
//   - idle: nothing started in the guest; it sat at its prompt 3 s before the migration.
//   - busy: after the first move, the guest shell runs BUSY (below) in the background: it
//     rewrites a 64 MiB file of text on /dev/shm (devtmpfs, RAM) for ever, 4 MiB per dd; 5 s
//     later its copies are counted for 5 s, then the second move starts.
//     If the idle guest's destination did not answer, a freshly booted guest is made busy.
//   - Both: the same bandwidth cap (--bandwidth, MiB/s; default 8: the busy guest dirties a few
//     MB/s on a 2-core host, so a larger cap moves it without a fight) and a 300 ms downtime limit.
//     Berth: the control socket's `migrate` (its throttle, auto-converge, is always on);
//     the destination is `berth run --incoming`. QEMU: over QMP `migrate-set-parameters`
//     (max-bandwidth, downtime-limit), `migrate-set-capabilities` auto-converge (on for the busy
//     guest only), `migrate tcp:`; the destination is started with `-incoming tcp:`.
// After each move the destination must answer on its console (`echo $((6*7))` prints 42).
// Figures are each side's own: Berth's migration stats (downtime: paused at the source until
// the destination says it runs), QEMU's query-migrate (total-time, downtime, ram.transferred).
// Run: npm run bench:migrate [-- --rounds 1 --bandwidth 8 --timeout 180]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './benchArgs.js';
import { ConsoleSession } from '../test/integration/session.js';
import { freePort } from '../test/support/wait.js';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { controlRequest } from '../src/vmm/controlClient.js';
import type { MigrationStats } from '../src/vmm/migration/stats.js';
import type { VmmStatus } from '../src/vmm/status.js';
import { onCleanup } from './cleanup.js';
import { Qmp } from './qmp.js';
import { end, median, printTable, PROMPT, sleep, started, stderrMatch } from './sessions.js';

const { values, fail } = benchArgs(
  'npm run bench:migrate [-- --rounds 1 --bandwidth 8 --timeout 180]',
  {
    options: {
      rounds: { type: 'string', default: '1' },
      bandwidth: { type: 'string', default: '8' },
      timeout: { type: 'string', default: '180' },
    },
  },
);
const ROUNDS = Number(values.rounds);
const BW_MIB = Number(values.bandwidth);
const TIMEOUT_S = Number(values.timeout);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) fail('--rounds: a whole number >= 1');
if (!(BW_MIB > 0)) fail('--bandwidth: MiB/s, > 0');
if (!(TIMEOUT_S > 0)) fail('--timeout: seconds, > 0');
const BANDWIDTH = Math.round(BW_MIB * 1024 * 1024);
const DOWNTIME_MS = 300;
const MEMORY = '512M';
const IDLE_MS = 3000;
const BUSY_WARMUP_MS = 5000;
// Not zeros (`dd if=/dev/zero`): a page of zeros travels as a few bytes on both sides, so a
// guest rewriting a file of zeros dirties pages but gives the link next to nothing to carry. Nor
// text piped from `yes`: the guest makes it too slowly on Berth to outrun the link. So: 4 MiB of
// text made once, then copied by dd (kernel copies) over a 64 MiB file, 4 MiB at a time.
const BUSY_SOURCE = 'yes 0123456789abcdef | head -c 4194304 > /dev/shm/s';
// The loop counts its copies in /dev/shm/n: how fast the guest itself runs it just before the
// move (COPY_S seconds of host time, read from the console) goes beside the figures. The guests
// differ here (in a 10 s probe on this host Berth's made 48 copies, QEMU 7.2's 7), so the busy
// figures compare guests that dirty memory at different rates: that row says how different.
const BUSY =
  'i=0; while true; do dd if=/dev/shm/s of=/dev/shm/x bs=4M seek=$((i % 16)) conv=notrunc ' +
  '2>/dev/null; i=$((i + 1)); echo $i > /dev/shm/n; done';
const COPY_S = 5;
/** The source VMM's log lines at the end of a migration (migration/source.ts). */
const MIGRATED = /migrated to \S+: (\d+) rounds, (\d+) bytes, (\d+) ms, downtime (\d+) ms/;

interface Result {
  status: string;
  error?: string;
  totalMs: number;
  downtimeMs: number;
  bytes: number;
  rounds: number;
  maxThrottle: number;
  /** The highest rate at which the guest dirtied memory, as the source measured it, bytes/s. */
  maxDirty: number;
  /** The guest that runs afterwards (the destination, or the source if it failed) said 42. */
  answered: boolean;
  /** Busy guest: BUSY's 4 MiB copies per second just before the move (/dev/shm/n). */
  copiesPerS?: number;
}
interface Guest {
  s: ConsoleSession;
  quit(): Promise<void>;
}
interface BerthGuest extends Guest {
  sock: string;
}
interface QemuGuest extends Guest {
  q: Qmp;
}

const a = await ensureDefaultAssets({ progress: false });
const BERTH_ARGS = [
  ...['--memory', MEMORY, '--kernel', a.kernelPath],
  ...['--initrd', a.initrdPath, '--firmware', a.firmwarePath],
];
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-mig-'));
onCleanup(() => rmSync(dir, { recursive: true, force: true }));

async function untilTrue(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function berthGuest(name: string, extra: string[] = []): BerthGuest {
  const sock = join(dir, `${name}.sock`);
  const s = started(ConsoleSession.berth([...BERTH_ARGS, '--control', sock, ...extra]));
  return { s, sock, quit: () => end(s, () => controlRequest(sock, { cmd: 'quit' })) };
}

async function qemuGuest(name: string, extra: string[] = []): Promise<QemuGuest> {
  const path = join(dir, `${name}.qmp`);
  const s = started(
    ConsoleSession.qemu(a, MEMORY, ['-qmp', `unix:${path},server=on,wait=off`, ...extra]),
  );
  const q = await Qmp.connect(path, 60_000);
  return { s, q, quit: () => end(s, () => q.command('quit')).finally(() => q.close()) };
}

/** Moves the guest on `from` to a new Berth VMM; returns the figures and the guest that runs. */
async function berthHop(from: BerthGuest, name: string): Promise<[Result, BerthGuest]> {
  const to = `127.0.0.1:${await freePort()}`;
  const g = berthGuest(name, ['--incoming', to]);
  const status = (sock: string): Promise<VmmStatus | null> =>
    controlRequest<VmmStatus>(sock, { cmd: 'status' }).catch(() => null);
  await untilTrue(
    'the destination VMM',
    async () => (await status(g.sock))?.state === 'incoming',
    60_000,
  );
  const opts = { to, downtimeMs: DOWNTIME_MS, maxBandwidth: BANDWIDTH, timeoutS: TIMEOUT_S };
  await controlRequest(from.sock, { cmd: 'migrate', ...opts });
  let maxThrottle = 0;
  let maxDirty = 0;
  let last: MigrationStats | null = null;
  for (;;) {
    const m = (await status(from.sock))?.migration;
    if (!m) break; // the source VMM ended: migrated (it exits then)
    maxThrottle = Math.max(maxThrottle, m.maxThrottlePercent);
    maxDirty = Math.max(maxDirty, m.dirtyBytesPerSecond);
    if (!['setup', 'active', 'device'].includes(m.status)) {
      last = m;
      break;
    }
    await sleep(250);
  }
  if (last === null || last.status === 'completed') {
    const [, rounds, bytes, totalMs, downtimeMs] = (
      await stderrMatch(from.s, MIGRATED, 10_000)
    ).map(Number);
    await from.quit();
    const r = { status: 'completed', totalMs, downtimeMs, bytes, rounds, maxThrottle, maxDirty };
    return [{ ...r, answered: await answers(g.s) }, g];
  }
  await g.quit();
  const r = { status: last.status, error: last.error, totalMs: last.totalMs, downtimeMs: NaN };
  const more = { bytes: last.bytesSent, rounds: last.rounds, maxThrottle, maxDirty };
  return [{ ...r, ...more, answered: await answers(from.s) }, from];
}

type QemuMigrate = {
  status: string;
  'total-time'?: number;
  downtime?: number;
  'cpu-throttle-percentage'?: number;
  ram?: {
    transferred: number;
    'dirty-sync-count': number;
    'dirty-pages-rate': number;
    'page-size': number;
  };
  'error-desc'?: string;
};

/** Moves the guest on `from` to a new QEMU; returns the figures and the guest that runs. */
async function qemuHop(from: QemuGuest, name: string, busy: boolean): Promise<[Result, QemuGuest]> {
  const port = await freePort();
  const g = await qemuGuest(name, ['-incoming', `tcp:127.0.0.1:${port}`]);
  await g.q.until<{ status: string }>('query-status', (x) => x.status === 'inmigrate', 60_000);
  const caps = [{ capability: 'auto-converge', state: busy }];
  await from.q.command('migrate-set-capabilities', { capabilities: caps });
  const params = { 'max-bandwidth': BANDWIDTH, 'downtime-limit': DOWNTIME_MS };
  await from.q.command('migrate-set-parameters', params);
  await from.q.command('migrate', { uri: `tcp:127.0.0.1:${port}` });
  const deadline = Date.now() + TIMEOUT_S * 1000;
  let maxThrottle = 0;
  let maxDirty = 0;
  let m: QemuMigrate;
  for (;;) {
    m = await from.q.command<QemuMigrate>('query-migrate');
    maxThrottle = Math.max(maxThrottle, m['cpu-throttle-percentage'] ?? 0);
    maxDirty = Math.max(maxDirty, (m.ram?.['dirty-pages-rate'] ?? 0) * (m.ram?.['page-size'] ?? 0));
    if (['completed', 'failed', 'cancelled'].includes(m.status)) break;
    if (Date.now() > deadline) await from.q.command('migrate_cancel').catch(() => {});
    await sleep(250);
  }
  const r = {
    status: m.status,
    error: m['error-desc'],
    totalMs: m['total-time'] ?? NaN,
    downtimeMs: m.downtime ?? NaN,
    bytes: m.ram?.transferred ?? NaN,
    rounds: m.ram?.['dirty-sync-count'] ?? NaN,
    maxThrottle,
    maxDirty,
  };
  if (m.status !== 'completed') {
    await g.quit();
    if (m.status === 'cancelled') r.error ??= `did not converge in ${TIMEOUT_S} s`;
    await from.q.command('cont').catch(() => {});
    return [{ ...r, answered: await answers(from.s) }, from];
  }
  await g.q.until<{ status: string }>('query-status', (x) => x.status === 'running', 60_000);
  await from.quit();
  return [{ ...r, answered: await answers(g.s) }, g];
}

/** The guest answers a command on its console after the move. */
async function answers(s: ConsoleSession): Promise<boolean> {
  try {
    return /^42$/m.test(await s.run('echo $((6*7))', 120_000));
  } catch (e) {
    process.stderr.write(`no answer: ${(e as Error).message}\n`);
    return false;
  }
}

/** A new guest of `kind` (added to `guests`), booted to its shell and left idle a moment. */
async function booted(kind: 'berth' | 'qemu', name: string, guests: Guest[]): Promise<Guest> {
  const g = kind === 'berth' ? berthGuest(name) : await qemuGuest(name);
  guests.push(g);
  await g.s.expect(READY_BANNER, 900_000);
  await g.s.expect(PROMPT, 60_000);
  await sleep(IDLE_MS);
  return g;
}

/** One guest of `kind`: booted, moved idle, made busy, moved again. */
async function round(kind: 'berth' | 'qemu', i: number): Promise<{ idle: Result; busy: Result }> {
  const guests: Guest[] = [];
  try {
    const g0 = await booted(kind, `${kind[0]}${i}-0`, guests);
    const [idle, g1] =
      kind === 'berth'
        ? await berthHop(g0 as BerthGuest, `b${i}-1`)
        : await qemuHop(g0 as QemuGuest, `q${i}-1`, false);
    guests.push(g1);
    // A destination that did not answer cannot be made busy: a fresh guest moves instead.
    if (!idle.answered) await g1.quit();
    const g1b = idle.answered ? g1 : await booted(kind, `${kind[0]}${i}-1b`, guests);
    const bg = await g1b.s.run(
      `${BUSY_SOURCE}; (${BUSY}) >/dev/null 2>&1 & echo dirtying`,
      120_000,
    );
    if (!bg.includes('dirtying')) throw new Error(`the busy loop did not start: ${bg}`);
    await sleep(BUSY_WARMUP_MS);
    const copies = async (): Promise<number> =>
      Number(/^(\d+)$/m.exec(await g1b.s.run('cat /dev/shm/n', 120_000))?.[1] ?? NaN);
    const c0 = await copies();
    const t0 = performance.now();
    await sleep(COPY_S * 1000);
    const copiesPerS = ((await copies()) - c0) / ((performance.now() - t0) / 1000);
    const [busy, g2] =
      kind === 'berth'
        ? await berthHop(g1b as BerthGuest, `b${i}-2`)
        : await qemuHop(g1b as QemuGuest, `q${i}-2`, true);
    guests.push(g2);
    return { idle, busy: { ...busy, copiesPerS } };
  } finally {
    for (const g of new Set(guests)) await g.quit();
  }
}

const results: Record<'berth' | 'qemu', { idle: Result; busy: Result }[]> = { berth: [], qemu: [] };
for (let i = 0; i < ROUNDS; i++) {
  // Alternating, QEMU first in odd rounds, so neither always runs on a warmer host.
  for (const kind of i % 2 === 0 ? (['berth', 'qemu'] as const) : (['qemu', 'berth'] as const)) {
    const r = await round(kind, i);
    results[kind].push(r);
    process.stderr.write(`round ${i + 1} ${kind}: ${JSON.stringify(r)}\n`);
  }
}

const done = (xs: Result[]): Result[] => xs.filter((r) => r.status === 'completed');
const fig = (kind: 'berth' | 'qemu', c: 'idle' | 'busy', f: (r: Result) => number): number => {
  const ok = done(results[kind].map((r) => r[c]));
  return ok.length ? median(ok.map(f)) : NaN;
};
const rows: string[][] = [['measure (median of ' + ROUNDS + ')', 'berth', 'qemu', 'berth/qemu']];
for (const c of ['idle', 'busy'] as const) {
  const row = (label: string, f: (r: Result) => number, digits: number): void => {
    const b = fig('berth', c, f);
    const q = fig('qemu', c, f);
    const ratio = q > 0 ? (b / q).toFixed(2) + 'x' : '';
    rows.push([`${c}: ${label}`, b.toFixed(digits), q.toFixed(digits), ratio]);
  };
  const count = (kind: 'berth' | 'qemu', f: (r: Result) => boolean): string =>
    `${results[kind].filter((r) => f(r[c])).length}/${ROUNDS}`;
  rows.push([
    `${c}: completed`,
    count('berth', (r) => r.status === 'completed'),
    count('qemu', (r) => r.status === 'completed'),
    '',
  ]);
  row('total time, s', (r) => r.totalMs / 1000, 2);
  row('downtime, ms', (r) => r.downtimeMs, 0);
  row('bytes sent, MB', (r) => r.bytes / 1e6, 1);
  row('RAM rounds (QEMU: dirty-sync-count)', (r) => r.rounds, 0);
  row('highest throttle, %', (r) => r.maxThrottle, 0);
  row('highest dirty rate the source saw, MB/s', (r) => r.maxDirty / 1e6, 1);
  if (c === 'busy')
    row('4 MiB copies a second in the guest before the move', (r) => r.copiesPerS ?? NaN, 1);
  rows.push([
    `${c}: destination answered 42`,
    count('berth', (r) => r.answered),
    count('qemu', (r) => r.answered),
    '',
  ]);
}
printTable(rows);

const idleB = fig('berth', 'idle', (r) => r.totalMs);
const idleQ = fig('qemu', 'idle', (r) => r.totalMs);
const busyB = fig('berth', 'busy', (r) => r.downtimeMs);
const answered = (['berth', 'qemu'] as const).every((k) =>
  results[k].every((r) => r.idle.answered && r.busy.answered),
);
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
console.log(
  `\ntargets:\n` +
    `  idle guest total time no more than QEMU's: ${met(idleB <= idleQ)} ` +
    `(berth ${(idleB / 1000).toFixed(2)} s, qemu ${(idleQ / 1000).toFixed(2)} s)\n` +
    `  busy guest downtime within the ${DOWNTIME_MS} ms budget: ${met(busyB <= DOWNTIME_MS)} ` +
    `(berth ${busyB.toFixed(0)} ms; qemu ${fig('qemu', 'busy', (r) => r.downtimeMs).toFixed(0)} ms)\n` +
    `  every destination answered on its console: ${answered ? 'yes' : 'NO'}`,
);
for (const k of ['berth', 'qemu'] as const)
  for (const r of results[k])
    for (const c of ['idle', 'busy'] as const)
      if (r[c].status !== 'completed')
        console.log(`${k} ${c}: ${r[c].status}: ${r[c].error ?? ''}`);
console.log(
  `\ncommand: npm run bench:migrate (node dist/bench/migrate.js); ${MEMORY} guests, same ` +
    `kernel/firmware/initramfs, loopback TCP, bandwidth cap ${BW_MIB} MiB/s, downtime limit ` +
    `${DOWNTIME_MS} ms; busy: \`${BUSY_SOURCE}\`, then \`${BUSY}\` in the background`,
);
