// Virtio slot placement against QEMU's: qemu-system-riscv64's `info qtree` shows which
// virtio-mmio bus each -device landed on, and placeVirtioDevices must give the same slots for
// the same devices (those with bus= named first on QEMU's command line, where QEMU and Berth
// agree; Berth also places them first when they come later). Clashes and slots out of range
// are refused naming the devices.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { placeVirtioDevices, virtioSlotAddress, VirtioSlotError } from './virtioSlots.js';

/** The slot QEMU plugged each device into, by device id, for the -device arguments given. */
function qemuSlots(devices: { id: string; slot?: number }[]): Map<string, number> {
  const args = ['-machine', 'virt', '-cpu', 'rv64,h=false', '-m', '64M', '-bios', 'none'];
  args.push('-display', 'none', '-serial', 'null', '-monitor', 'stdio', '-S');
  for (const d of devices) {
    const bus = d.slot === undefined ? '' : `,bus=virtio-mmio-bus.${d.slot}`;
    args.push('-device', `virtio-rng-device,id=${d.id}${bus}`);
  }
  const r = spawnSync('qemu-system-riscv64', args, {
    input: 'info qtree\nquit\n',
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.error || r.status !== 0) throw new Error(`qemu failed: ${r.error?.message ?? r.stderr}`);
  const out = new Map<string, number>();
  let bus = -1;
  for (const line of r.stdout.split('\n')) {
    const b = /bus: virtio-mmio-bus\.(\d+)/.exec(line);
    if (b) bus = Number(b[1]);
    const d = /dev: virtio-rng-device, id "([^"]+)"/.exec(line);
    if (d) out.set(d[1], bus);
  }
  return out;
}

test('devices without a slot take the highest free one, as QEMU plugs -device virtio-*-device', () => {
  const cases: { id: string; slot?: number }[][] = [
    [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
    [{ id: 'a', slot: 7 }, { id: 'b', slot: 5 }, { id: 'c' }, { id: 'd' }, { id: 'e' }],
    [{ id: 'a', slot: 0 }, { id: 'b', slot: 6 }, ...'cdefgh'.split('').map((id) => ({ id }))],
  ];
  for (const devices of cases) {
    const qemu = qemuSlots(devices);
    assert.equal(qemu.size, devices.length, 'QEMU placed every device');
    const berth = placeVirtioDevices(devices.map((d) => ({ label: d.id, slot: d.slot })));
    assert.deepEqual(
      berth,
      devices.map((d) => qemu.get(d.id)),
      JSON.stringify(devices),
    );
  }
});

test('a device given a slot later in the list still gets it (QEMU would stop: bus full)', () => {
  assert.deepEqual(placeVirtioDevices([{ label: 'a' }, { label: 'b', slot: 7 }]), [6, 7]);
});

test('clashes, slots out of range and too many devices are refused, naming the devices', () => {
  const refused = (d: { label: string; slot?: number }[], message: RegExp): void => {
    assert.throws(
      () => placeVirtioDevices(d),
      (e) => e instanceof VirtioSlotError && message.test(e.message),
    );
  };
  refused(
    [
      { label: 'disk 0 (a.img)', slot: 4 },
      { label: 'virtio-rng' },
      { label: 'the network card', slot: 4 },
    ],
    /^disk 0 \(a\.img\) and the network card both ask for virtio slot 4; give each its own slot$/,
  );
  refused(
    [{ label: 'virtio-rng', slot: 8 }],
    /^virtio-rng: virtio slot 8 does not exist; the board has slots 0 to 7$/,
  );
  refused([{ label: 'x', slot: 1.5 }], /^x: virtio slot 1.5 does not exist/);
  refused(
    Array.from({ length: 9 }, (_, i) => ({ label: `disk ${i}` })),
    /^disk 8: no virtio slot is left; the board has 8 and 9 devices ask for one$/,
  );
  assert.equal(virtioSlotAddress(0), 0x10001000);
  assert.equal(virtioSlotAddress(7), 0x10008000);
});
