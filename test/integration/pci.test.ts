// Boots the Debian kernel with a disk and the network card on PCI (`berth run --disk
// IMG,bus=pci --net user,bus=pci`) beside qemu-system-riscv64 with the same devices
// (virtio-blk-pci and virtio-net-pci, modern only): both guests list the same functions in
// /sys/bus/pci/devices (the host bridge 1b36:0008, the disk 1af4:1042, the card 1af4:1041,
// with their classes), take the disk's INTx on PLIC source 33, find vda under the PCI
// device, read the image's known bytes from it; Berth's guest also writes a block the host
// then finds in the image.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
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

/** Each PCI function: address, vendor:device and class, as lspci -n shows them. */
const LIST_PCI =
  'for d in /sys/bus/pci/devices/*; do echo "${d##*/} $(cat $d/vendor):$(cat $d/device) $(cat $d/class)"; done';

interface Findings {
  pci: string[];
  vdaDevice: string;
  head: string;
  interrupts: string[];
  netDevice: string;
}

async function inspect(s: ConsoleSession): Promise<Findings> {
  await s.expect('Berth initramfs ready', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  const lines = (t: string): string[] => t.trim().split('\n').filter(Boolean);
  return {
    pci: lines(await s.run(LIST_PCI)),
    vdaDevice: (await s.run('readlink -f /sys/block/vda/device')).trim(),
    head: await s.run(`head -c ${WORD.length * 2} /dev/vda; echo`),
    // The PLIC sources of virtio devices' interrupts (those of PCI: 32 and up), sorted.
    interrupts: lines(await s.run("grep -i virtio /proc/interrupts | awk '{print $5}'"))
      .filter((n) => Number(n) >= 32)
      .sort(),
    netDevice: (await s.run('readlink -f /sys/class/net/eth0/device')).trim(),
  };
}

test('assets are fetched before the PCI test', { timeout: 900_000 }, async () => {
  const a = await ensureDefaultAssets({});
  assert.ok(a.kernelPath && a.firmwarePath && a.initrdPath);
});

test(
  'a disk and a network card on PCI: Berth’s guest finds them as QEMU’s does',
  { timeout: 2 * BOOT_MS + 180_000 },
  async () => {
    const a = await ensureDefaultAssets({});
    const img = image('berth.img');
    const qimg = image('qemu.img');
    const berth = ConsoleSession.berth([
      ...['--memory', '256M', '--disk', `${img},bus=pci`, '--net', 'user,bus=pci'],
    ]);
    const qemu = ConsoleSession.qemu(a, '256M', [
      ...['-drive', `if=none,id=d0,format=raw,file=${qimg}`],
      ...['-device', 'virtio-blk-pci,drive=d0,disable-legacy=on'],
      ...['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,disable-legacy=on'],
    ]);
    try {
      const [b, q] = await Promise.all([inspect(berth), inspect(qemu)]);
      assert.deepEqual(b.pci, [
        '0000:00:00.0 0x1b36:0x0008 0x060000',
        '0000:00:01.0 0x1af4:0x1042 0x010000',
        '0000:00:02.0 0x1af4:0x1041 0x020000',
      ]);
      assert.deepEqual(b.pci, q.pci);
      assert.match(
        b.vdaDevice,
        /^\/sys\/devices\/platform\/soc\/30000000\.pci\/pci0000:00\/0000:00:01\.0\/virtio\d+$/,
      );
      assert.match(b.netDevice, /\/pci0000:00\/0000:00:02\.0\/virtio\d+$/);
      assert.equal(b.vdaDevice.replace(/virtio\d+$/, ''), q.vdaDevice.replace(/virtio\d+$/, ''));
      assert.equal(b.head.trim(), WORD.repeat(2));
      assert.equal(q.head.trim(), WORD.repeat(2));
      // The disk (device 1, INTA#) on PLIC source 33, the card (device 2) on 34, on both.
      assert.deepEqual(b.interrupts, ['33', '34']);
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
