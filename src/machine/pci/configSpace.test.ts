// A PCI function's config space: identity read-only, BAR sizing (all-ones written, the size
// mask read back with the BAR's type bits) for 32-bit, 64-bit and I/O BARs, Command's writable
// bits, Status's write-one-to-clear bits, the capability list, interrupt pin and line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMMAND_INTX_DISABLE,
  COMMAND_MEMORY,
  PCI,
  PciConfigError,
  PciConfigSpace,
  STATUS_CAP_LIST,
} from './configSpace.js';

const ID = { vendorId: 0x1af4, deviceId: 0x1042, revision: 1, classCode: 0x010000 };

test('identity, header type and class are read-only; past the header reads zeros', () => {
  const c = new PciConfigSpace({ ...ID, subsystemVendorId: 0x1af4, subsystemId: 0x1100 });
  assert.equal(c.read(PCI.vendorId, 4), 0x10421af4);
  assert.equal(c.read(PCI.revision, 4), 0x01000001, 'revision 1, class 01 00 00');
  assert.equal(c.read(PCI.subsystemVendorId, 4), 0x11001af4);
  assert.equal(c.read(PCI.headerType, 1), 0);
  c.write(PCI.vendorId, 4, 0);
  c.write(PCI.revision, 4, 0xffffffff);
  c.write(PCI.headerType, 1, 0x80);
  assert.equal(c.read(PCI.vendorId, 4), 0x10421af4);
  assert.equal(c.read(PCI.revision, 4), 0x01000001);
  assert.equal(c.read(PCI.headerType, 1), 0);
  assert.equal(c.read(0x100, 4), 0, 'no extended capabilities');
  assert.equal(c.read(0xffc, 4), 0);
  assert.equal(c.read(PCI.romBar, 4), 0, 'no expansion ROM');
  c.write(PCI.romBar, 4, 0xffffffff);
  assert.equal(c.read(PCI.romBar, 4), 0, 'a ROM BAR that sizes to nothing');
});

test('BAR sizing: all-ones written, the size mask and type bits read back; unused BARs read 0', () => {
  const c = new PciConfigSpace(ID, [
    { index: 0, kind: 'io', size: 0x20 },
    { index: 1, kind: 'mem32', size: 0x1000 },
    { index: 2, kind: 'mem64', size: 0x4000, prefetchable: true },
    { index: 4, kind: 'mem64', size: 2 ** 33 },
  ]);
  const bar = (i: number): number => PCI.bar0 + 4 * i;
  assert.equal(c.read(bar(0), 4), 1, 'I/O space indicator');
  assert.equal(c.read(bar(1), 4), 0);
  assert.equal(c.read(bar(2), 4), 0b1100, '64-bit, prefetchable');
  for (let i = 0; i < 6; i++) c.write(bar(i), 4, 0xffffffff);
  assert.equal(c.read(bar(0), 4), 0xffffffe1, '32 bytes of I/O');
  assert.equal(c.read(bar(1), 4), 0xfffff000, '4 KiB of memory, 32-bit');
  assert.equal(c.read(bar(2), 4), 0xffffc00c);
  assert.equal(c.read(bar(3), 4), 0xffffffff, 'the upper half: below 4 GiB');
  assert.equal(c.read(bar(4), 4), 0x00000004, '8 GiB: no low address bits');
  assert.equal(c.read(bar(5), 4), 0xfffffffe);
  // Programmed, and decoding only once Command.Memory is set.
  c.write(bar(2), 4, 0x40010000);
  c.write(bar(3), 4, 0x4);
  assert.equal(c.barBase(c.bars[2]), null, 'memory decoding is off');
  c.write(PCI.command, 2, COMMAND_MEMORY);
  assert.equal(c.barBase(c.bars[2]), 0x4_40010000);
  c.write(bar(1), 4, 0x40000abc);
  assert.equal(c.read(bar(1), 4), 0x40000000, 'the low bits of an aligned BAR do not stick');
  assert.equal(c.barBase(c.bars[0]), null, 'I/O decoding is off');
});

test('Command keeps its writable bits, Status clears on ones, interrupt line is writable, pin is not', () => {
  const c = new PciConfigSpace({ ...ID, interruptPin: 1 });
  c.write(PCI.command, 2, 0xffff);
  assert.equal(c.read(PCI.command, 2), 0x0547);
  assert.equal(c.intxEnabled, false);
  c.write(PCI.command, 2, COMMAND_MEMORY);
  assert.equal(c.intxEnabled, true);
  c.setInterruptStatus(true);
  assert.equal(c.read(PCI.status, 2), 1 << 3);
  c.write(PCI.status, 2, 0xffff);
  assert.equal(c.read(PCI.status, 2), 1 << 3, 'Interrupt status is the device’s, not cleared');
  c.write(PCI.interruptLine, 2, 0x0433);
  assert.equal(c.read(PCI.interruptLine, 2), 0x0133, 'line 0x33 kept, pin INTA# read-only');
  assert.equal(c.read(PCI.command, 2) & COMMAND_INTX_DISABLE, 0);
});

test('capabilities chain from 0x34 in the order added, dword-aligned; Status says there are some', () => {
  const c = new PciConfigSpace(ID);
  assert.equal(c.read(PCI.status, 2) & STATUS_CAP_LIST, 0);
  assert.equal(c.read(PCI.capabilities, 1), 0);
  const a = c.addCapability(0x09, Uint8Array.of(3, 0xaa));
  const b = c.addCapability(0x10, Uint8Array.of(1, 2, 3, 4, 5));
  const d = c.addCapability(0x09, new Uint8Array(14));
  assert.deepEqual([a, b, d], [0x40, 0x44, 0x4c]);
  assert.ok(c.read(PCI.status, 2) & STATUS_CAP_LIST);
  const walk: [number, number][] = [];
  for (let at = c.read(PCI.capabilities, 1); at !== 0; at = c.read(at + 1, 1)) {
    walk.push([at, c.read(at, 1)]);
  }
  assert.deepEqual(walk, [
    [0x40, 0x09],
    [0x44, 0x10],
    [0x4c, 0x09],
  ]);
  assert.equal(c.read(0x42, 2), 0xaa03);
  c.write(0x40, 4, 0);
  assert.equal(c.read(0x40, 4), 0xaa034409, 'capabilities are read-only');
  assert.throws(() => c.addCapability(0x09, new Uint8Array(200)), PciConfigError);
});

test('bad BARs and pins are refused', () => {
  for (const bars of [
    [{ index: 6, kind: 'mem32' as const, size: 16 }],
    [{ index: 5, kind: 'mem64' as const, size: 16 }],
    [{ index: 0, kind: 'mem32' as const, size: 24 }],
    [{ index: 0, kind: 'mem32' as const, size: 8 }],
    [{ index: 0, kind: 'mem32' as const, size: 2 ** 32 }],
    [
      { index: 0, kind: 'mem64' as const, size: 16 },
      { index: 1, kind: 'mem32' as const, size: 16 },
    ],
  ]) {
    assert.throws(() => new PciConfigSpace(ID, bars), PciConfigError, JSON.stringify(bars));
  }
  assert.throws(() => new PciConfigSpace({ ...ID, interruptPin: 5 }), /interrupt pin 5/);
});
