// The virt board's PCIe host bridge: always there at QEMU's addresses, with virtio devices
// that ask for bus 'pci' as PCI devices 1, 2, ... (in the order disks, network card, console,
// rng, power button), with QEMU's IDs and classes, their INTA# swizzled onto PLIC sources
// 32..35; the board's shape lists them, and the board's state carries the host's config
// spaces and each transport, restored onto a board alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtBoard, BoardError, type VirtBoardConfig } from './virt.js';
import { pciIrq, VIRT } from './memoryMap.js';
import { MemoryBlockBackend } from '../virtio/blockBackend.js';
import { MemoryNetBackend } from '../virtio/netBackend.js';
import { PCI } from '../pci/configSpace.js';
import { PciTestDriver } from '../virtio/virtioPciTestDriver.js';
import { restoreState, StateError } from '../state/persistent.js';

const MiB = 1 << 20;

function board(extra: Partial<VirtBoardConfig> = {}): VirtBoard {
  return new VirtBoard({
    memoryBytes: 32 * MiB,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(64),
    ...extra,
  });
}

const ecam = (b: VirtBoard, device: number, reg: number, size = 4): number =>
  b.bus.readDevice(VIRT.pcie.ecam.base + (device << 15) + reg, size);

function pciBoard(): VirtBoard {
  return board({
    disks: [
      { backend: new MemoryBlockBackend(MiB), bus: 'pci' },
      { backend: new MemoryBlockBackend(2 * MiB) },
      { backend: new MemoryBlockBackend(3 * MiB), bus: 'pci' },
    ],
    net: { backend: new MemoryNetBackend(), seed: 'pci', bus: 'pci' },
  });
}

test('the host bridge answers at 00:00.0 on every board; nothing else without PCI devices', () => {
  const b = board();
  assert.equal(ecam(b, 0, PCI.vendorId), 0x00081b36);
  assert.equal(ecam(b, 1, PCI.vendorId), 0xffffffff);
  assert.deepEqual(b.pci, []);
  assert.equal(b.shape().pci, undefined, 'the shape of a board without PCI devices is as before');
  assert.equal(b.bus.readDevice(VIRT.pcie.mmio.base, 4), 0xffffffff, 'nothing decodes there');
  assert.equal(b.bus.readDevice(VIRT.pcie.mmioHigh.base + 0x1000, 4), 0xffffffff);
  assert.equal(b.bus.readDevice(VIRT.pcie.io.base, 2), 0xffff);
});

test('disks and the network card on PCI are devices 1, 2, 3 in that order; the others keep slots', () => {
  const b = pciBoard();
  assert.deepEqual(
    [1, 2, 3].map((d) => ecam(b, d, PCI.vendorId).toString(16)),
    ['10421af4', '10421af4', '10411af4'],
  );
  assert.equal(ecam(b, 4, PCI.vendorId), 0xffffffff);
  assert.equal(b.pci[0].device, b.disks[0]);
  assert.equal(b.pci[1].device, b.disks[2]);
  assert.equal(b.pci[2].device, b.net);
  assert.equal(b.virtio[7]?.device, b.disks[1], 'the mmio disk takes the highest slot');
  assert.equal(b.virtio.filter((t) => t !== null).length, 1);
  assert.deepEqual(b.shape().pci, [
    { device: 'virtio-blk', disk: 0, bytes: MiB, readOnly: false },
    { device: 'virtio-blk', disk: 2, bytes: 3 * MiB, readOnly: false },
    { device: 'virtio-net', mac: b.shape().pci![2].mac },
  ]);
  assert.throws(
    () => board({ disks: [{ backend: new MemoryBlockBackend(MiB), bus: 'pci', slot: 3 }] }),
    (e: unknown) =>
      e instanceof BoardError && /disk 0 is on PCI: it takes no virtio slot/.test(e.message),
  );
});

test("a device's INTA# reaches the PLIC source the device tree's interrupt-map names", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((d) => pciIrq(d, 1)),
    [32, 33, 34, 35, 32, 33],
  );
  assert.deepEqual(
    [1, 2, 3, 4].map((pin) => pciIrq(1, pin)),
    [33, 34, 35, 32],
  );
  const b = pciBoard();
  const d = new PciTestDriver(b.ram, b.pcie, 2, VIRT.pcie.mmioHigh.base, VIRT.ram.base + MiB);
  d.init([16]);
  // A read of the second disk's first sector: used buffer, INTx on source 34.
  const header = new Uint8Array(16);
  d.submit(0, [{ data: header }, { writeLen: 512 }, { writeLen: 1 }]);
  assert.equal(d.takeUsed(0).length, 1);
  const pending = (src: number): boolean =>
    (b.bus.readDevice(VIRT.plic.base + 0x1000 + 4 * (src >> 5), 4) & (1 << (src & 31))) !== 0;
  assert.equal(pending(34), true);
  assert.equal(pending(33), false);
});

test('the board state carries the host and each transport; it restores onto a board alike only', () => {
  const a = pciBoard();
  const d = new PciTestDriver(a.ram, a.pcie, 1, VIRT.pcie.mmio.base, VIRT.ram.base + MiB);
  d.init([16]);
  const saved = structuredClone(a.saveState());
  assert.deepEqual(
    Object.keys(saved.parts).filter((n) => n.startsWith('pci')),
    ['pcie', 'pci1', 'pci2', 'pci3'],
  );
  assert.equal(saved.parts.pcie.id, 'pcie-host');
  assert.equal(saved.parts.pci1.id, 'virtio-pci');
  const b = pciBoard();
  restoreState(b, saved);
  assert.deepEqual(b.saveState(), saved);
  assert.equal(ecam(b, 1, PCI.command, 2) & 2, 2, 'memory decoding on, as the driver left it');
  // A board with the disks on virtio-mmio refuses it, whole.
  const mmio = board({
    disks: [1, 2, 3].map((n) => ({ backend: new MemoryBlockBackend(n * MiB) })),
    net: { backend: new MemoryNetBackend(), seed: 'pci' },
  });
  assert.throws(
    () => restoreState(mmio, saved),
    (e: unknown) =>
      e instanceof StateError &&
      /part pci1, which this board does not have|no part virtio/.test(e.message),
  );
  // A state without the host part (saved before the board had PCI) still restores.
  const plain = board();
  const old = structuredClone(plain.saveState());
  delete old.parts.pcie;
  restoreState(board(), old);
});

test('the console, rng and power button on PCI: devices after the disks and card, with QEMU’s IDs and classes', () => {
  const hvc = { out: { write: () => {} }, input: { pending: () => 0, take: () => [] } };
  const entropy = { fill: (b: Uint8Array) => b.fill(7) };
  const all = (): VirtBoard =>
    board({
      disks: [{ backend: new MemoryBlockBackend(MiB), bus: 'pci' }],
      net: { backend: new MemoryNetBackend(), seed: 'pci', bus: 'pci' },
      hvc: { ...hvc, bus: 'pci' },
      rng: entropy,
      rngBus: 'pci',
      input: { bus: 'pci' },
    });
  const b = all();
  // vendor:device, class (24 bits) and revision, as QEMU 7.2's virtio-*-pci,disable-legacy=on.
  const id = (d: number): string =>
    `${ecam(b, d, PCI.vendorId).toString(16)} ${(ecam(b, d, PCI.revision) >>> 8).toString(16)} ` +
    `${ecam(b, d, PCI.revision) & 0xff}`;
  assert.deepEqual([1, 2, 3, 4, 5].map(id), [
    '10421af4 10000 1', // virtio-blk-pci: mass storage (SCSI)
    '10411af4 20000 1', // virtio-net-pci: Ethernet
    '10431af4 78000 1', // virtio-serial-pci: other communication controller
    '10441af4 ff00 1', // virtio-rng-pci: unclassified (00), subclass ff
    '10521af4 90000 1', // virtio-keyboard-pci: keyboard controller
  ]);
  assert.equal(
    b.virtio.every((t) => t === null),
    true,
    'no virtio slot is taken',
  );
  assert.equal(b.pci[2].device, b.virtioConsole);
  assert.equal(b.pci[4].device, b.input);
  assert.deepEqual(
    b.shape().pci!.map((s) => s.device),
    ['virtio-blk', 'virtio-net', 'virtio-console', 'virtio-rng', 'virtio-input'],
  );
  // INTA# of devices 3, 4, 5 on sources 35, 32, 33.
  assert.deepEqual(
    [3, 4, 5].map((d) => ecam(b, d, PCI.interruptLine, 2) >> 8),
    [1, 1, 1],
    'pin A',
  );
  assert.deepEqual(
    [3, 4, 5].map((d) => pciIrq(d, 1)),
    [35, 32, 33],
  );
  // The rng on PCI serves a request: its entropy in the buffer, INTx on source 32.
  const d = new PciTestDriver(b.ram, b.pcie, 4, VIRT.pcie.mmio.base, VIRT.ram.base + MiB);
  d.init([8]);
  const [buf] = d.submit(0, [{ writeLen: 16 }]);
  assert.deepEqual(
    d.takeUsed(0).map((u) => u.len),
    [16],
  );
  assert.deepEqual([...d.bytes(buf, 16)], new Array(16).fill(7));
  const pending = (src: number): boolean =>
    (b.bus.readDevice(VIRT.plic.base + 0x1000 + 4 * (src >> 5), 4) & (1 << (src & 31))) !== 0;
  assert.equal(pending(32), true);
  // State: parts pci1..pci5, restored onto a board alike; not onto one with them in slots.
  const saved = structuredClone(b.saveState());
  assert.deepEqual(
    Object.keys(saved.parts).filter((n) => /^pci\d/.test(n)),
    ['pci1', 'pci2', 'pci3', 'pci4', 'pci5'],
  );
  const again = all();
  restoreState(again, saved);
  assert.deepEqual(again.saveState(), saved);
  const inSlots = board({
    disks: [{ backend: new MemoryBlockBackend(MiB), bus: 'pci' }],
    net: { backend: new MemoryNetBackend(), seed: 'pci', bus: 'pci' },
    hvc,
    rng: entropy,
    input: {},
  });
  assert.throws(() => restoreState(inSlots, saved), StateError);
});
