// The virt board places its virtio devices as QEMU plugs them: in the slot each
// names, the others in the highest free slot each (disks first: the first disk
// is the one Linux probes first, vda, then network, console, rng, power
// button), and leaves the other slots empty.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtBoard, BoardError } from './virt.js';
import { VIRT } from './memoryMap.js';
import { MemoryBlockBackend } from '../virtio/blockBackend.js';

function board(disks: { backend: MemoryBlockBackend; serial?: string }[]): VirtBoard {
  return new VirtBoard({
    memoryBytes: 32 << 20,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(64),
    disks,
  });
}

const slotReg = (b: VirtBoard, slot: number, reg: number): number =>
  b.bus.readDevice(VIRT.virtio.base + slot * VIRT.virtio.stride + reg, 4);

test('disks fill virtio slots 7, 6, ...; the rest answer as empty slots', () => {
  const b = board([
    { backend: new MemoryBlockBackend(1 << 20), serial: 'first' },
    { backend: new MemoryBlockBackend(2 << 20) },
  ]);
  assert.equal(b.disks.length, 2);
  assert.equal(slotReg(b, 7, 0x008), 2);
  assert.equal(slotReg(b, 7, 0x100), (1 << 20) / 512);
  assert.equal(slotReg(b, 6, 0x008), 2);
  assert.equal(slotReg(b, 6, 0x100), (2 << 20) / 512);
  for (let s = 0; s < 6; s++) {
    assert.equal(slotReg(b, s, 0x000), 0x74726976);
    assert.equal(slotReg(b, s, 0x008), 0);
    assert.equal(b.virtio[s], null);
  }
  assert.equal(b.virtio[7]?.device, b.disks[0]);
});

test('more disks than virtio slots are refused', () => {
  const many = Array.from({ length: 9 }, () => ({ backend: new MemoryBlockBackend(512) }));
  assert.throws(() => board(many), BoardError);
});

function boardWith(cfg: Partial<ConstructorParameters<typeof VirtBoard>[0]>): VirtBoard {
  return new VirtBoard({
    memoryBytes: 32 << 20,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(64),
    ...cfg,
  });
}

const hvc = () => ({ out: { write: () => {} }, input: { pending: () => 0, take: () => [] } });

test('without slots: disks, network, console, rng and power button from slot 7 down', () => {
  const disks = Array.from({ length: 2 }, (_, i) => ({
    backend: new MemoryBlockBackend((i + 1) << 20),
  }));
  const b = boardWith({ disks, rng: { fill: () => {} }, hvc: hvc(), input: {} });
  // Device IDs: 2 block, 3 console, 4 rng, 18 input.
  assert.deepEqual(
    Array.from({ length: 8 }, (_, s) => slotReg(b, s, 0x008)),
    [0, 0, 0, 18, 4, 3, 2, 2],
  );
  assert.equal(slotReg(b, 7, 0x100), (1 << 20) / 512, 'disk 0 (vda) in slot 7');
  assert.equal(b.virtio[3]?.device === b.input, true);
  assert.equal(b.virtioConsole === b.virtio[5]?.device, true);
  assert.equal(b.pressPowerButton(), true);
  assert.equal(b.input?.pending, 4, 'held until the guest driver gives buffers');
});

test('devices given a slot take it; the others fill the highest free slots around them', () => {
  const disks = [
    { backend: new MemoryBlockBackend(1 << 20), slot: 0 },
    { backend: new MemoryBlockBackend(2 << 20) },
    { backend: new MemoryBlockBackend(3 << 20), slot: 7 },
  ];
  const b = boardWith({ disks, rng: { fill: () => {} }, rngSlot: 2, hvc: hvc(), input: {} });
  assert.deepEqual(
    Array.from({ length: 8 }, (_, s) => slotReg(b, s, 0x008)),
    [2, 0, 4, 0, 18, 3, 2, 2],
  );
  assert.equal(slotReg(b, 0, 0x100), (1 << 20) / 512);
  assert.equal(slotReg(b, 6, 0x100), (2 << 20) / 512);
  assert.equal(slotReg(b, 7, 0x100), (3 << 20) / 512);
  assert.deepEqual(
    b.disks.map((d) => d.backend.size),
    [1 << 20, 2 << 20, 3 << 20],
    'disks keep their configured order',
  );
});

/** Asserts that `make` throws a BoardError whose message matches `message`. */
function refused(make: () => unknown, message: RegExp): void {
  assert.throws(make, (e) => e instanceof BoardError && message.test(e.message));
}

test('clashing and out-of-range slots are refused naming the devices; a full board too', () => {
  const disk = (slot?: number) => ({ backend: new MemoryBlockBackend(512), slot });
  refused(
    () => boardWith({ disks: [disk(3)], rng: { fill: () => {} }, rngSlot: 3 }),
    /^disk 0 and virtio-rng both ask for virtio slot 3; give each its own slot$/,
  );
  refused(
    () => boardWith({ hvc: { ...hvc(), slot: 8 } }),
    /^the virtio console: virtio slot 8 does not exist; the board has slots 0 to 7$/,
  );
  refused(() => boardWith({ disks: [disk(-1)] }), /disk 0: virtio slot -1 does not exist/);
  assert.equal(boardWith({}).pressPowerButton(), false);
  assert.deepEqual(boardWith({}).virtio, new Array(8).fill(null));
  const many = (n: number) => Array.from({ length: n }, () => disk());
  assert.doesNotThrow(() => boardWith({ disks: many(7), input: {} }));
  refused(
    () => boardWith({ disks: many(6), input: {}, rng: { fill: () => {} }, hvc: hvc() }),
    /^the power button: no virtio slot is left; the board has 8 and 9 devices ask for one$/,
  );
});

test('adviseRam sees the guest RAM once, before the firmware is written into it', () => {
  const seen: { length: number; firstByte: number }[] = [];
  const firmware = Uint8Array.of(0x73, 0x00, 0x50, 0x10);
  const b = boardWith({
    firmware,
    adviseRam: (ram) => seen.push({ length: ram.length, firstByte: ram[0] }),
  });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].length, 32 << 20, 'all of guest RAM, and only it');
  assert.equal(seen[0].firstByte, 0, 'nothing placed yet');
  assert.equal(b.ram.u8[0], 0x73, 'then the firmware at the RAM base');
});
