// Density benchmark: idle 128 MiB Debian busybox guests (default boot, waiting at the shell;
// Debian's kernel panics in early boot below ~88 MiB, on QEMU too, so not the 64 MiB once planned)
// through a real `berth daemon`, beside qemu-system-riscv64 guests booting the same kernel,
// firmware and initramfs in the same run. For each: the time to start ten at once (until all
// ten answer at the shell), the host CPU ten idle guests use over 30 s (helpers included: the
// wrapper shells and reapers, from the guests' cgroups; qemu's own processes), then guests
// started until the host refuses, --max guests, or --minutes pass, and the resident memory per
// guest beyond the guest RAM it touched (RSS of its processes less the resident part of the
// guest-RAM mapping, from /proc/PID/smaps).
//
// Run: npm run bench:density [-- --max 100 --minutes 10 --idle 30 --only berth|qemu]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './benchArgs.js';
import { onCleanup } from './cleanup.js';
import WebSocket from 'ws';
import { ensureDefaultAssets, READY_BANNER } from '../src/images/assets.js';
import { DaemonProcess, processesMentioning, until } from '../test/host/harness.js';

const { values, fail } = benchArgs(
  'npm run bench:density [-- --max 100 --minutes 10 --idle 30 --only berth|qemu]',
  {
    options: {
      max: { type: 'string', default: '100' },
      minutes: { type: 'string', default: '10' },
      idle: { type: 'string', default: '30' },
      only: { type: 'string' },
    },
  },
);
const MAX = Number(values.max);
const MINUTES = Number(values.minutes);
const IDLE_S = Number(values.idle);
if (!Number.isInteger(MAX) || MAX < 1) fail('--max: a whole number >= 1');
if (!(MINUTES > 0)) fail('--minutes: a number of minutes > 0');
if (!(IDLE_S >= 0)) fail('--idle: seconds, >= 0');
if (values.only !== undefined && values.only !== 'berth' && values.only !== 'qemu')
  fail('--only: berth or qemu');
const MEMORY_MIB = 128;
const PROMPT = /# (?:\x1b\[6n)?$/m;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Figures {
  startTen: number;
  idleCpuPct: number;
  count: number;
  stoppedBy: string;
  extraMiB: number;
  ramMiB: number;
}

/** Resident kB of a process and of its guest-RAM mapping (the anonymous one of `ramKiB`). */
function residency(pid: number, ramKiB: number): { rss: number; ram: number } {
  let rss = 0;
  let ram = 0;
  let size = 0;
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) size = 0;
      const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
      if (!m) continue;
      if (m[1] === 'Size') size = Number(m[2]);
      else {
        rss += Number(m[2]);
        // QEMU maps the guest RAM by itself; Berth's is a WebAssembly memory that also holds
        // each hart's registers and TLBs (a few MiB) in front of it.
        if (size >= ramKiB && size <= ramKiB + 16384) ram = Math.max(ram, Number(m[2]));
      }
    }
  } catch {
    // gone
  }
  return { rss, ram };
}

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Everything of one kind's guests, for the three measures. */
interface Fleet {
  start(n: number): Promise<void>; // starts n more at once, resolves when all answer
  count(): number;
  /** PIDs of the processes of guest i (VMM first). */
  pids(i: number): number[];
  /** CPU ns used so far by guests 0..9 with their helpers. */
  cpuNs(): number;
  close(): Promise<void>;
}

async function berthFleet(): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-density-'));
  // Killed or failed midway: the daemon and its guests (which outlive a daemon stopped on
  // purpose) go with the benchmark, and the folder too.
  const removeAll = onCleanup(() => {
    for (const p of processesMentioning(dir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = join(dir, 'api.sock');
  const daemon = await new DaemonProcess(dir, socket, ['--start-timeout', '600']).ready();
  const names: string[] = [];
  const cgroups = new Map<string, string>();
  const boot = async (name: string): Promise<void> => {
    const c = await daemon.api('POST', '/v1/guests', { name, memory: `${MEMORY_MIB}M` });
    if (c.status !== 201) throw new Error(c.text);
    const op = await daemon.act(name, { action: 'start' });
    if (op.status !== 'Success') throw new Error(op.err ?? JSON.stringify(op));
    // The console is attached again (with the replay) if its WebSocket closes on the way.
    const deadline = Date.now() + 900_000;
    for (let ready = false; !ready;) {
      const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/${name}/console`);
      let out = '';
      let closed = false;
      ws.on('message', (d: Buffer) => (out += d.toString('latin1')));
      ws.on('close', () => (closed = true));
      ws.on('error', () => (closed = true));
      await until(
        `${name} at its shell`,
        () => closed || (out.includes(READY_BANNER) && PROMPT.test(out)),
        Math.max(1, deadline - Date.now()),
        250,
      );
      ready = !closed;
      ws.close();
    }
    const g = await daemon.guest(name);
    const acct =
      (g.cgroup?.dirs as string[] | undefined)?.find((d) => d.includes('cpuacct')) ??
      g.cgroup?.dirs?.[0];
    if (acct) cgroups.set(name, acct);
  };
  return {
    async start(n) {
      const batch = Array.from({ length: n }, (_, i) => `g${names.length + i}`);
      names.push(...batch);
      await Promise.all(batch.map(boot));
    },
    count: () => names.length,
    pids(i) {
      const marker = join(dir, 'guests', names[i], 'vmm.json');
      // The VMM first (node), then its wrapper shell (`sh -c ... vmm.json`) and its reaper.
      const procs = processesMentioning(marker);
      const all = [
        ...procs.filter((p) => !p.cmd.startsWith('sh')),
        ...procs.filter((p) => p.cmd.startsWith('sh')),
      ].map((p) => p.pid);
      // the reaper (sh, awk) is the VMM's child: find children by /proc/PID/stat's ppid
      const kids = readdirSync('/proc')
        .filter((e) => /^\d+$/.test(e))
        .filter((e) => {
          try {
            const ppid = Number(
              readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1].split(' ')[1],
            );
            return all.includes(ppid);
          } catch {
            return false;
          }
        })
        .map(Number);
      return [...new Set([...all, ...kids])];
    },
    cpuNs() {
      let ns = 0;
      for (const n of names.slice(0, 10)) {
        const d = cgroups.get(n);
        if (!d) continue;
        if (d.includes('cpuacct')) ns += Number(readFileSync(join(d, 'cpuacct.usage'), 'utf8'));
        else
          ns +=
            Number(/usage_usec (\d+)/.exec(readFileSync(join(d, 'cpu.stat'), 'utf8'))![1]) * 1000;
      }
      return ns;
    },
    async close() {
      // Stopped through the daemon, so that it removes their cgroups (and then its own).
      await Promise.all(names.map((n) => daemon.act(n, { action: 'stop', force: true })));
      daemon.child.kill('SIGTERM');
      await daemon.exited;
      removeAll();
    },
  };
}

async function qemuFleet(): Promise<Fleet> {
  const a = await ensureDefaultAssets({ progress: false });
  const kids: ChildProcess[] = [];
  // QEMU does not end with us by itself: a Ctrl-C or kill of the benchmark takes it along.
  onCleanup(() => kids.forEach((k) => k.kill('SIGKILL')));
  const boot = async (): Promise<void> => {
    const c = spawn(
      'qemu-system-riscv64',
      ['-M', 'virt', '-m', `${MEMORY_MIB}M`, '-nographic', '-bios', a.firmwarePath].concat([
        '-kernel',
        a.kernelPath,
        '-initrd',
        a.initrdPath,
        '-append',
        a.cmdline,
      ]),
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    kids.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    c.stderr!.resume();
    await until(
      'qemu guest at its shell',
      () => {
        if (c.exitCode !== null) throw new Error(`qemu ended: ${out.slice(-500)}`);
        return out.includes(READY_BANNER) && PROMPT.test(out);
      },
      900_000,
      250,
    );
  };
  return {
    async start(n) {
      await Promise.all(Array.from({ length: n }, boot));
    },
    count: () => kids.length,
    pids: (i) => [kids[i].pid!],
    cpuNs: () => kids.slice(0, 10).reduce((s, k) => s + cpuTicks(k.pid!), 0) * 1e7,
    async close() {
      for (const k of kids) k.kill('SIGKILL');
    },
  };
}

async function measure(kind: string, make: () => Promise<Fleet>): Promise<Figures> {
  const fleet = await make();
  try {
    const t0 = Date.now();
    await fleet.start(10);
    const startTen = (Date.now() - t0) / 1000;
    process.stderr.write(`${kind}: ten guests at the shell in ${startTen.toFixed(1)} s\n`);
    await sleep(5000);
    const c0 = fleet.cpuNs();
    const w0 = Date.now();
    await sleep(IDLE_S * 1000);
    const idleCpuPct = ((fleet.cpuNs() - c0) / 1e6 / (Date.now() - w0)) * 100;
    let stoppedBy = `--max ${MAX}`;
    const deadline = t0 + MINUTES * 60_000; // each kind has its own minutes
    while (fleet.count() < MAX) {
      if (Date.now() > deadline) {
        stoppedBy = 'the time limit';
        break;
      }
      try {
        await fleet.start(Math.min(5, MAX - fleet.count()));
      } catch (e) {
        stoppedBy = `the host refused: ${(e as Error).message.slice(0, 120)}`;
        break;
      }
      process.stderr.write(`${kind}: ${fleet.count()} guests\n`);
    }
    let extra = 0;
    let ram = 0;
    const n = fleet.count();
    for (let i = 0; i < n; i++) {
      const [vmm, ...helpers] = fleet.pids(i);
      const r = residency(vmm, MEMORY_MIB * 1024);
      const h = helpers.reduce((s, p) => s + residency(p, Infinity).rss, 0);
      extra += r.rss - r.ram + h;
      ram += r.ram;
    }
    return {
      startTen,
      idleCpuPct,
      count: n,
      stoppedBy,
      extraMiB: extra / 1024 / n,
      ramMiB: ram / 1024 / n,
    };
  } finally {
    await fleet.close();
  }
}

const rows: [string, Figures][] = [];
if (values.only !== 'qemu') rows.push(['berth', await measure('berth', berthFleet)]);
if (values.only !== 'berth') rows.push(['qemu', await measure('qemu', qemuFleet)]);
const table = [
  ['', ...rows.map(([k]) => k)],
  ['guests started', ...rows.map(([, f]) => `${f.count} (stopped by ${f.stoppedBy})`)],
  ['resident MiB per guest beyond its touched RAM', ...rows.map(([, f]) => f.extraMiB.toFixed(1))],
  ['touched guest RAM MiB per guest', ...rows.map(([, f]) => f.ramMiB.toFixed(1))],
  [
    `host CPU of ten idle guests over ${IDLE_S} s (% of one core)`,
    ...rows.map(([, f]) => f.idleCpuPct.toFixed(1)),
  ],
  [
    'time to start ten at once (s, until all at the shell)',
    ...rows.map(([, f]) => f.startTen.toFixed(1)),
  ],
];
const w = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
for (const r of table) process.stdout.write(r.map((x, c) => x.padEnd(w[c])).join('  ') + '\n');
