// Boot and guest-CPU benchmark: time from process start to the guest's init,
// and the time of `sha256sum` over 16 MiB of zeros inside the guest, on Berth
// and on qemu-system-riscv64 (Debian's package) with the same kernel,
// firmware and initramfs, in the same run.
// Run: npm run bench:boot

import { ConsoleSession } from '../test/integration/session.js';
import { ensureDefaultAssets } from '../src/images/assets.js';
import { measureDebianBoot } from './bootDebian.js';
import { cpuSeconds, rssMiB } from './sessions.js';

const WORKLOAD = 'dd if=/dev/zero bs=1048576 count=16 2>/dev/null | sha256sum';

interface Figures {
  boot: number;
  workload: number;
  /** Host CPU used while the guest idles at its prompt, in percent of one core. */
  idle: number;
  /** Resident memory of the process after the workload and the idle period, MiB. */
  rssMiB: number;
}

const IDLE_SECONDS = 10;

async function measure(session: () => ConsoleSession): Promise<Figures> {
  const t0 = performance.now();
  const s = session();
  try {
    await s.expect('Berth initramfs ready', 600_000);
    const boot = (performance.now() - t0) / 1000;
    await s.expect(/# (?:\x1b\[6n)?$/m, 60_000);
    const t1 = performance.now();
    const out = await s.run(WORKLOAD, 600_000);
    const workload = (performance.now() - t1) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    const c0 = cpuSeconds(s.child.pid!);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle = ((cpuSeconds(s.child.pid!) - c0) / IDLE_SECONDS) * 100;
    const rss = rssMiB(s.child.pid!);
    if (!out.includes('080acf35a507ac9849cfcba47dc2ad83e01b75663a516279c8b9d243b719643e')) {
      throw new Error(`unexpected sha256sum output: ${out}`);
    }
    s.send('poweroff -f\n');
    await s.exited;
    return { boot, workload, idle, rssMiB: rss };
  } finally {
    s.kill();
  }
}

const a = await ensureDefaultAssets({});
const qemu = await measure(() => ConsoleSession.qemu(a));
const berth = await measure(() => ConsoleSession.berth(['--memory', '256M']));
/** A row: the measure, Berth's and QEMU's figures with `digits` decimals, and their ratio. */
function row(measure: string, b: number, q: number, digits: number, ratio = true): string[] {
  return [measure, b.toFixed(digits), q.toFixed(digits), ratio ? (b / q).toFixed(1) + 'x' : ''];
}

const rows = [
  ['measure', 'berth', 'qemu', 'berth/qemu'],
  row('process start to init, s', berth.boot, qemu.boot, 2),
  row('sha256sum 16 MiB in guest, s', berth.workload, qemu.workload, 2),
  row(`idle at prompt, % of a core (${IDLE_SECONDS} s)`, berth.idle, qemu.idle, 1, false),
  row('resident memory after the idle period, MiB', berth.rssMiB, qemu.rssMiB, 0),
];
// The full Debian image's first boot (skipped with --no-debian, or when it cannot be built here).
const debian = process.argv.includes('--no-debian')
  ? 'skipped (--no-debian)'
  : await measureDebianBoot();
if (typeof debian === 'string') {
  console.error(`# full Debian image: not measured: ${debian}`);
} else {
  rows.push(
    row('full Debian (systemd, 1 GiB): start to login prompt, s', debian.berth, debian.qemu, 1),
    row(
      'full Debian: resident memory at the login prompt, MiB',
      debian.berthRssMiB,
      debian.qemuRssMiB,
      0,
    ),
  );
}
const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows)
  console.log(r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  '));
console.log(
  '\ncommand: npm run bench:boot (node dist/bench/boot.js); 256 MiB guests, same kernel/firmware/initramfs;',
);
console.log(
  '"process start to init" ends at the initramfs banner, printed by /init after loading the virtio modules',
);
console.log(
  'full Debian: berth image build --distro debian, first boot (cloud-init) of a qcow2 overlay each, through U-Boot',
);
