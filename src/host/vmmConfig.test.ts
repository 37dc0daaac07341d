// A guest spec turned into its VMM's configuration: the bus of each disk and of the network
// card passed on (a disk's `bus`, the card's as `buses.net`), a spec stored before PCI (no bus
// anywhere) still converted, with every device in a virtio slot.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGuestSpec, type GuestSpec } from './guestSpec.js';
import { vmmConfigFor, type DefaultAssets } from './vmmConfig.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmmcfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => {
  const p = join(dir, name);
  writeFileSync(p, 'x');
  return p;
};
const fw = file('fw.bin');
const [a, b] = [file('a.img'), file('b.img')];
const paths = { controlSocket: join(dir, 'c.sock'), consoleLog: join(dir, 'console.log') };
const noAssets: DefaultAssets = () => Promise.reject(new Error('files boot: no default assets'));

test('a disk and the card on PCI: the VMM config puts them there', async () => {
  const spec = parseGuestSpec({
    name: 'p',
    boot: { firmware: fw },
    disks: [
      { path: a, bus: 'pci' },
      { path: b, readOnly: true },
    ],
    network: { kind: 'user', bus: 'pci' },
  });
  const c = await vmmConfigFor(spec, paths, noAssets);
  assert.deepEqual(
    c.disks.map((d) => [d.path, d.readOnly, d.bus]),
    [
      [a, false, 'pci'],
      [b, true, undefined],
    ],
  );
  assert.deepEqual(c.buses, { net: 'pci' });
  assert.equal(c.net.kind, 'user');
  assert.equal('bus' in c.net, false, 'the bus is not a field of the VMM card');
});

test('a spec stored before PCI (no bus) converts as before: every device in a virtio slot', async () => {
  // As read back from the store: JSON, never parsed again.
  const stored = JSON.parse(
    JSON.stringify({
      name: 'o',
      memory: 256 << 20,
      cpus: 1,
      disks: [{ path: a, readOnly: false }],
      network: { kind: 'user', forwards: [] },
      boot: { firmware: fw },
      console: 'serial',
      restart: 'no',
      autostart: false,
      stopTimeout: 30,
      cpuWeight: 100,
    }),
  ) as GuestSpec;
  const c = await vmmConfigFor(stored, paths, noAssets);
  assert.equal(c.disks[0].bus, undefined);
  assert.deepEqual(c.buses, {});
  // bus 'mmio' said outright is the same board.
  const mmio = await vmmConfigFor(
    parseGuestSpec({
      ...stored,
      disks: [{ path: a, bus: 'mmio' }],
      network: { kind: 'user', bus: 'mmio' },
    }),
    paths,
    noAssets,
  );
  assert.equal(mmio.disks[0].bus, 'mmio');
  assert.deepEqual(mmio.buses, { net: 'mmio' });
});

test('an image that boots through U-Boot: firmware and U-Boot, no initrd, no command line; under 256M refused', async () => {
  const img = join(dir, 'uboot-image');
  mkdirSync(img);
  const [uboot, rootfs] = [file('u-boot.bin'), join(img, 'rootfs.img')];
  writeFileSync(rootfs, 'disk');
  const manifest = { format: 1, boot: 'uboot', rootfs: 'rootfs.img', kernelPath: uboot };
  writeFileSync(
    join(img, 'image.json'),
    JSON.stringify({ ...manifest, firmwarePath: fw, cmdline: 'console=ttyS0 root=/dev/vda1 rw' }),
  );
  assert.throws(
    () => parseGuestSpec({ name: 'u', memory: '192M', boot: { image: img } }),
    /memory: booting through U-Boot needs at least 256M .* this guest has 192M/,
  );
  const c = await vmmConfigFor(
    parseGuestSpec({ name: 'u', boot: { image: img } }),
    paths,
    noAssets,
  );
  assert.equal(c.firmware, fw);
  assert.equal(c.kernel, uboot);
  assert.equal(c.initrd, undefined);
  assert.equal(c.append, undefined, "U-Boot takes the kernel's command line from the disk");
  assert.deepEqual(
    c.disks.map((d) => d.path),
    [rootfs],
  );
});
