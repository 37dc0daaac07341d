// Disk and network throughput inside a guest, on Berth and on
// qemu-system-riscv64 (Debian's package) with the same kernel, initramfs and
// root disk built by `berth image build`, in the same run:
//   - sequential write of 32 MiB to a scratch virtio disk (dd, conv=fsync)
//   - sequential read of 32 MiB from it after dropping the page cache
//   - 200 reads of 4 KiB at random offsets with O_DIRECT, one dd process each
//     (so the figure includes process start-up in the guest, on both sides)
//   - TCP from guest to host: 16 MiB through busybox nc to a listener on the
//     host's loopback (Berth: libslirp in the VMM; QEMU: its user-mode network, also libslirp)
// Run: npm run bench:io

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from '../test/integration/session.js';
import { onCleanup } from './cleanup.js';
import { started } from './sessions.js';
import { buildImage } from '../src/images/imageBuild.js';
import { GUEST_READY_BANNER } from '../src/images/rootfs.js';
import { PLAIN_CONSOLE_ARG } from '../src/images/initramfs.js';

const PROMPT = /# (?:\x1b\[6n)?$/m;
const MIB = 1024 * 1024;

interface Figures {
  writeMBs: number;
  readMBs: number;
  randomReadsPerS: number;
  tcpMBs: number;
}

async function timed(s: ConsoleSession, cmd: string): Promise<number> {
  const t = performance.now();
  const out = await s.run(cmd, 900_000);
  if (/error|No such|not found/i.test(out)) throw new Error(`'${cmd}' said: ${out}`);
  return (performance.now() - t) / 1000;
}

/** A loopback listener that counts bytes and times the first to last. */
function sink(): Promise<{ port: number; done: Promise<{ bytes: number; seconds: number }> }> {
  return new Promise((resolve) => {
    let finish: (v: { bytes: number; seconds: number }) => void = () => {};
    const done = new Promise<{ bytes: number; seconds: number }>((r) => (finish = r));
    const srv = createServer((sock) => {
      let bytes = 0;
      let start = 0;
      sock.on('data', (d: Buffer) => {
        if (bytes === 0) start = performance.now();
        bytes += d.length;
      });
      sock.on('end', () => {
        srv.close();
        finish({ bytes, seconds: (performance.now() - start) / 1000 });
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as AddressInfo).port, done }));
  });
}

async function measure(
  name: string,
  start: () => ConsoleSession,
  hostAddr: string,
): Promise<Figures> {
  const s = started(start());
  try {
    await s.expect(GUEST_READY_BANNER, 900_000);
    await s.expect(PROMPT, 60_000);
    const w = await timed(
      s,
      'dd if=/dev/zero of=/dev/vdb bs=1048576 count=32 conv=fsync 2>/dev/null',
    );
    const r = await timed(
      s,
      'echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vdb of=/dev/null bs=1048576 count=32 2>/dev/null',
    );
    const n = 200;
    const rr = await timed(
      s,
      `i=0; while [ $i -lt ${n} ]; do dd if=/dev/vdb of=/dev/null bs=4096 count=1 ` +
        `skip=$(( (i * 7919) % 16384 )) iflag=direct 2>/dev/null; i=$((i+1)); done`,
    );
    const gw =
      hostAddr === 'gateway'
        ? (await s.run("ip route | awk '/default/ {print $3}'")).trim()
        : hostAddr;
    const l = await sink();
    await s.run(`dd if=/dev/zero bs=65536 count=256 2>/dev/null | nc ${gw} ${l.port}`, 900_000);
    const t = await l.done;
    if (t.bytes !== 16 * MIB)
      throw new Error(`${name}: the host received ${t.bytes} bytes, not 16 MiB`);
    s.send('poweroff -f\n');
    await s.exited;
    return { writeMBs: 32 / w, readMBs: 32 / r, randomReadsPerS: n / rr, tcpMBs: 16 / t.seconds };
  } finally {
    s.kill();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'berth-bench-io-'));
const removeDir = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
try {
  const img = await buildImage({
    outDir: dir,
    sizeBytes: 256 << 20,
    progress: false,
    log: () => {},
  });
  const m = img.manifest;
  const sa = join(dir, 'scratch-berth.img');
  const sb = join(dir, 'scratch-qemu.img');
  for (const p of [sa, sb]) writeFileSync(p, Buffer.alloc(64 * MIB));
  const rootB = join(dir, 'root-qemu.img');
  copyFileSync(img.rootfsPath, rootB);
  const cmdline = `${m.cmdline} ${PLAIN_CONSOLE_ARG}`;

  const qemu = await measure(
    'qemu',
    () =>
      new ConsoleSession('qemu-system-riscv64', [
        ...[
          '-M',
          'virt',
          '-m',
          '256M',
          '-nographic',
          '-bios',
          m.firmwarePath,
          '-kernel',
          m.kernelPath,
        ],
        ...['-initrd', img.initrdPath, '-append', cmdline],
        ...[
          '-drive',
          `file=${rootB},if=virtio,format=raw`,
          '-drive',
          `file=${sb},if=virtio,format=raw`,
        ],
        ...['-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0'],
      ]),
    '10.0.2.2',
  );
  const berth = await measure(
    'berth',
    () =>
      ConsoleSession.berth([
        ...['--memory', '256M', '--kernel', m.kernelPath, '--firmware', m.firmwarePath],
        ...['--initrd', img.initrdPath, '--append', cmdline],
        ...['--disk', img.rootfsPath, '--disk', sa, '--net', 'user'],
      ]),
    'gateway',
  );
  const rows = [
    ['measure', 'berth', 'qemu', 'berth/qemu'],
    ['sequential write, MB/s', berth.writeMBs, qemu.writeMBs],
    ['sequential read, MB/s', berth.readMBs, qemu.readMBs],
    ['4 KiB random reads (dd each), /s', berth.randomReadsPerS, qemu.randomReadsPerS],
    ['TCP guest to host, MB/s', berth.tcpMBs, qemu.tcpMBs],
  ].map((r) =>
    r.length === 4
      ? (r as string[])
      : [
          r[0] as string,
          (r[1] as number).toFixed(1),
          (r[2] as number).toFixed(1),
          ((r[1] as number) / (r[2] as number)).toFixed(2),
        ],
  );
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows)
    console.log(r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  '));
  console.log(
    '\ncommand: npm run bench:io (node dist/bench/io.js); 256 MiB guests from `berth image build`',
  );
} finally {
  removeDir();
}
