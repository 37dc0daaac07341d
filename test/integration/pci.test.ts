// Boots the Debian kernel with every virtio device on PCI (`berth run --disk IMG,bus=pci
// --net user,bus=pci --console virtio,bus=pci --rng bus=pci --power-button bus=pci`, and the
// balloon, on PCI by default) beside qemu-system-riscv64 with the same devices in the same
// order (virtio-blk-pci, virtio-net-pci, virtio-serial-pci, virtio-rng-pci,
// virtio-keyboard-pci and virtio-balloon-pci, modern only): both guests list the same
// functions in /sys/bus/pci/devices (the host bridge 1b36:0008, then 1af4:1042, 1041, 1043,
// 1044, 1052 and 1045 with their classes), with the same virtio
// capabilities, bind the same virtio drivers to them, take their INTx on the same PLIC
// sources, use the rng as their hwrng, find vda under the PCI device and read the image's
// known bytes from it; Berth's guest, whose shell runs on hvc0 over PCI, also writes a block
// the host then finds in the image. A snapshot of a guest with every device but the card on
// PCI restores onto a board alike (the guest reads the disk and the rng on, and acpid gets the
// new generation's key from the power button), not onto one with the disk on virtio-mmio.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConsoleSession } from './session.js';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';

const BOOT_MS = 240_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;
const MIB = 1 << 20;
const WORD = 'BERTH-PCI-PATTERN.';

const dir = mkdtempSync(join(tmpdir(), 'berth-pci-it-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A 16 MiB image: WORD over its first MiB, zeros after. */
function image(name: string): string {
  const file = join(dir, name);
  const b = Buffer.alloc(16 * MIB);
  b.write(WORD.repeat(Math.ceil(MIB / WORD.length)).slice(0, MIB), 'latin1');
  writeFileSync(file, b);
  return file;
}

/** The virtio capabilities of a config space: offset, cfg_type, bar, offset and length in it. */
function virtioCaps(c: number[]): number[][] {
  const u32 = (o: number): number =>
    (c[o] | (c[o + 1] << 8) | (c[o + 2] << 16) | (c[o + 3] << 24)) >>> 0;
  const out: number[][] = [];
  for (let at = c[0x34]; at !== 0; at = c[at + 1]) {
    if (c[at] === 0x09) out.push([at, c[at + 3], c[at + 4], u32(at + 8), u32(at + 12)]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** Each PCI function: address, vendor:device and class, as lspci -n shows them. */
const LIST_PCI =
  'for d in /sys/bus/pci/devices/*; do echo "${d##*/} $(cat $d/vendor):$(cat $d/device) $(cat $d/class)"; done';

/** The virtio driver bound to each PCI function (the host bridge has none). */
const LIST_DRIVERS =
  'for d in /sys/bus/pci/devices/*/virtio*; do echo "${d%/*} $(basename $(readlink $d/driver))"; done';

/** The console, rng and power button on PCI (after the disks and card). */
const OTHERS_ON_PCI = [
  '--console',
  'virtio,bus=pci',
  '--rng',
  'bus=pci',
  '--power-button',
  'bus=pci',
];

/** One row of `od -An -tx1`: 16 bytes in hex. */
const OD_ROW = /^\s*(?:[0-9a-f]{2}\s+){15}[0-9a-f]{2}\s*$/;

/** PCI devices 1..5: disk, card, console, rng, power button. */
const DEVICES = [1, 2, 3, 4, 5, 6];

interface Findings {
  pci: string[];
  /** Each virtio function's config space as the guest reads it (DEVICES). */
  config: number[][];
  drivers: string[];
  vdaDevice: string;
  head: string;
  interrupts: string[];
  netDevice: string;
  hwrng: string;
  /** The kernel's console device. */
  console: string;
}

async function inspect(s: ConsoleSession): Promise<Findings> {
  // Berth's shell is on hvc0 (which on PCI shows the kernel's log and /init's banner too, as
  // Debian builds virtio_pci in), QEMU's on ttyS0: both show the shell's banner.
  await s.expect('built-in shell', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  const lines = (t: string): string[] => t.trim().split('\n').filter(Boolean);
  const config: number[][] = [];
  for (const d of DEVICES) {
    const file = `/sys/bus/pci/devices/0000:00:0${d}.0/config`;
    // od's rows of 16 bytes only: a line the guest prints meanwhile (the kernel's log, udhcpc
    // in the background) may fall between them; read again if one fell into a row.
    let bytes: number[] = [];
    for (let i = 0; i < 3 && bytes.length !== 256; i++) {
      const text = await s.run(`od -An -tx1 -v -N 256 ${file}`);
      bytes = text
        .split('\n')
        .filter((l) => OD_ROW.test(l))
        .flatMap((l) => l.trim().split(/\s+/))
        .map((h) => parseInt(h, 16));
    }
    config.push(bytes);
  }
  return {
    pci: lines(await s.run(LIST_PCI)),
    config,
    drivers: lines(await s.run(LIST_DRIVERS)),
    vdaDevice: (await s.run('readlink -f /sys/block/vda/device')).trim(),
    head: await s.run(`head -c ${WORD.length * 2} /dev/vda; echo`),
    // The PLIC sources of virtio devices' interrupts (those of PCI: 32 and up), sorted.
    interrupts: lines(await s.run("grep -i virtio /proc/interrupts | awk '{print $5}'"))
      .filter((n) => Number(n) >= 32)
      .sort(),
    netDevice: (await s.run('readlink -f /sys/class/net/eth0/device')).trim(),
    // The rng on PCI is the guest's hwrng, and gives bytes.
    hwrng: (
      await s.run(
        'echo "$(cat /sys/class/misc/hw_random/rng_current) $(head -c 32 /dev/hwrng | wc -c)"',
      )
    ).trim(),
    console: (await s.run('cat /sys/class/tty/console/active')).trim(),
  };
}

test('assets are fetched before the PCI test', { timeout: 900_000 }, async () => {
  const a = await ensureDefaultAssets({});
  assert.ok(a.kernelPath && a.firmwarePath && a.initrdPath);
});

test(
  'disk, network card, console, rng, power button and balloon on PCI: Berth’s guest finds them as QEMU’s does',
  { timeout: 2 * BOOT_MS + 180_000 },
  async () => {
    const a = await ensureDefaultAssets({});
    const img = image('berth.img');
    const qimg = image('qemu.img');
    const berth = ConsoleSession.berth([
      ...['--memory', '256M', '--disk', `${img},bus=pci`, '--net', 'user,bus=pci'],
      ...['--console', 'virtio,bus=pci', '--rng', 'bus=pci', '--power-button', 'bus=pci'],
    ]);
    const qemu = ConsoleSession.qemu(a, '256M', [
      ...['-drive', `if=none,id=d0,format=raw,file=${qimg}`],
      ...['-device', 'virtio-blk-pci,drive=d0,disable-legacy=on'],
      ...['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,disable-legacy=on'],
      ...['-device', 'virtio-serial-pci,disable-legacy=on'],
      ...['-device', 'virtio-rng-pci,disable-legacy=on'],
      ...['-device', 'virtio-keyboard-pci,disable-legacy=on'],
      ...['-device', 'virtio-balloon-pci,disable-legacy=on,free-page-reporting=on'],
    ]);
    try {
      const [b, q] = await Promise.all([inspect(berth), inspect(qemu)]);
      assert.deepEqual(b.pci, [
        '0000:00:00.0 0x1b36:0x0008 0x060000',
        '0000:00:01.0 0x1af4:0x1042 0x010000',
        '0000:00:02.0 0x1af4:0x1041 0x020000',
        '0000:00:03.0 0x1af4:0x1043 0x078000',
        '0000:00:04.0 0x1af4:0x1044 0x00ff00',
        '0000:00:05.0 0x1af4:0x1052 0x090000',
        '0000:00:06.0 0x1af4:0x1045 0x00ff00',
      ]);
      assert.deepEqual(b.pci, q.pci);
      // Each function: the same virtio capabilities at the same offsets, the same revision,
      // BAR 4 type, subsystem and pin.
      DEVICES.forEach((d, i) => {
        const [bc, qc] = [b.config[i], q.config[i]];
        assert.equal(bc.length, 256, `device ${d}`);
        assert.equal(qc.length, 256, `device ${d} on QEMU`);
        assert.equal(virtioCaps(bc).length, 5, `device ${d}`);
        assert.deepEqual(virtioCaps(bc), virtioCaps(qc), `device ${d}`);
        for (const at of [0x08, 0x20, 0x2c, 0x2d, 0x2e, 0x2f, 0x3d]) {
          assert.equal(
            bc[at] & (at === 0x20 ? 0x0f : 0xff),
            qc[at] & (at === 0x20 ? 0x0f : 0xff),
            `device ${d}, config byte 0x${at.toString(16)}`,
          );
        }
      });
      assert.deepEqual(b.drivers, [
        '/sys/bus/pci/devices/0000:00:01.0 virtio_blk',
        '/sys/bus/pci/devices/0000:00:02.0 virtio_net',
        '/sys/bus/pci/devices/0000:00:03.0 virtio_console',
        '/sys/bus/pci/devices/0000:00:04.0 virtio_rng',
        '/sys/bus/pci/devices/0000:00:05.0 virtio_input',
        '/sys/bus/pci/devices/0000:00:06.0 virtio_balloon',
      ]);
      assert.deepEqual(b.drivers, q.drivers);
      assert.equal(b.hwrng, 'virtio_rng.0 32');
      assert.equal(b.hwrng, q.hwrng);
      // Berth's shell answers on hvc0, the virtio console on PCI (QEMU's console is ttyS0).
      assert.equal(b.console, 'hvc0');
      assert.equal(q.console, 'ttyS0');
      assert.match(
        b.vdaDevice,
        /^\/sys\/devices\/platform\/soc\/30000000\.pci\/pci0000:00\/0000:00:01\.0\/virtio\d+$/,
      );
      assert.match(b.netDevice, /\/pci0000:00\/0000:00:02\.0\/virtio\d+$/);
      assert.equal(b.vdaDevice.replace(/virtio\d+$/, ''), q.vdaDevice.replace(/virtio\d+$/, ''));
      assert.equal(b.head.trim(), WORD.repeat(2));
      assert.equal(q.head.trim(), WORD.repeat(2));
      // INTA# of device N on PLIC source 32 + N mod 4: the disk (1) and the power button (5)
      // on 33, the card (2) and the balloon (6) on 34, the console (3) on 35, the rng (4) on
      // 32, on both.
      assert.deepEqual(b.interrupts, ['32', '33', '34', '35']);
      assert.deepEqual(b.interrupts, q.interrupts);
      // A write through the PCI disk reaches the image.
      const dd = await berth.run(
        'printf WRITTEN-OVER-PCI | dd of=/dev/vda bs=512 seek=4096 conv=fsync 2>&1; echo rc=$?',
        120_000,
      );
      assert.match(dd, /rc=0/);
      berth.send('poweroff -f\n');
      qemu.send('poweroff -f\n');
      assert.equal(await berth.exited, 0);
      await qemu.exited;
    } finally {
      berth.kill();
      qemu.kill();
    }
    const file = readFileSync(img);
    assert.equal(file.subarray(2 * MIB, 2 * MIB + 16).toString('latin1'), 'WRITTEN-OVER-PCI');
  },
);

test(
  'a guest with its disk, console, rng and power button on PCI is snapshotted and restored: it reads the disk on',
  { timeout: 2 * BOOT_MS + 120_000 },
  async () => {
    const img = image('snap.img');
    const sock = join(dir, 'a.sock');
    const snap = join(dir, 'a.snap');
    const a = ConsoleSession.berth([
      ...['--memory', '256M', '--disk', `${img},bus=pci`, '--control', sock, ...OTHERS_ON_PCI],
    ]);
    try {
      await a.expect('built-in shell', BOOT_MS);
      await a.expect(PROMPT, 60_000);
      assert.equal((await a.run('head -c 18 /dev/vda; echo')).trim(), WORD);
      // No generation key yet: a booted guest's first generation.
      assert.equal((await a.run('cat /run/berth-generation.log 2>/dev/null | wc -c')).trim(), '0');
      await controlRequest(sock, { cmd: 'snapshot', path: snap });
      await controlRequest(sock, { cmd: 'quit' });
      await a.exited;
    } finally {
      a.kill();
    }
    // The same disk on virtio-mmio is another board: refused, naming the PCI devices.
    const wrong = spawnSync(
      process.execPath,
      [
        ...[ConsoleSession.cliPath, 'run', '--restore', snap, '--memory', '256M', '--disk', img],
        ...OTHERS_ON_PCI,
      ],
      { input: '', timeout: 60_000 },
    );
    assert.notEqual(wrong.status, 0);
    assert.match(
      wrong.stderr.toString(),
      /PCI device 1: virtio-blk \(disk 0, 16777216 bytes\) in the snapshot, virtio-console here/,
    );
    assert.match(
      wrong.stderr.toString(),
      /PCI device 4: virtio-input in the snapshot, virtio-balloon here/,
    );
    assert.match(
      wrong.stderr.toString(),
      /PCI device 5: virtio-balloon in the snapshot, nothing here/,
    );
    // Restored as it was: the guest goes on, its disk's BAR and queues where they were.
    writeFileSync(img, Buffer.from('RESTORED-READS-ME'), { flag: 'r+' });
    const b = ConsoleSession.berth([
      ...['--restore', snap, '--memory', '256M', '--disk', `${img},bus=pci`, ...OTHERS_ON_PCI],
    ]);
    try {
      b.send('\n');
      await b.expect(PROMPT, 60_000);
      await b.run('echo 3 > /proc/sys/vm/drop_caches');
      assert.equal((await b.run('head -c 17 /dev/vda; echo')).trim(), 'RESTORED-READS-ME');
      assert.match(await b.run(LIST_PCI), /0000:00:01\.0 0x1af4:0x1042 0x010000/);
      // The rng and the console (this shell) work on after the restore, and the power button
      // delivered the new generation's key (the VMM presses it after a restore) to acpid.
      assert.equal((await b.run('head -c 32 /dev/hwrng | wc -c')).trim(), '32');
      const generation = await b.run(
        'L=/run/berth-generation.log; for i in $(seq 30); do [ -s $L ] && break; sleep 1; done; cat $L',
      );
      assert.match(generation, /^berth-generation: new VM generation/m);
      b.send('poweroff -f\n');
      assert.equal(await b.exited, 0);
    } finally {
      b.kill();
    }
  },
);
