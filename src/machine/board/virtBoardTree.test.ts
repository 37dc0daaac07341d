// The device tree a real virt board gives its guest (read back from guest RAM) against the
// one QEMU 7.2 gives a guest with the same devices in the same virtio slots, and what the
// board adds at every boot: fresh random bytes in /chosen/rng-seed, as QEMU does. The
// intended differences are listed and checked in test/support/qemuVirtDifferences.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { cells, decompile, diffTrees, qemuTree } from '../../../test/support/deviceTree.js';
import {
  ALWAYS_INTENDED,
  BERTH_ONLY_NODES,
  classify,
  QEMU_ONLY_NODES,
} from '../../../test/support/qemuVirtDifferences.js';
import { VirtBoard, RNG_SEED_BYTES, type VirtBoardConfig } from './virt.js';
import { VIRT } from './memoryMap.js';
import { MemoryBlockBackend } from '../virtio/blockBackend.js';
import { MemoryNetBackend } from '../virtio/netBackend.js';

const MiB = 1 << 20;
const random = { fill: (b: Uint8Array) => webcrypto.getRandomValues(b) };

/** A board with the devices a VMM gives a guest with two disks and user networking. */
function vmmLikeBoard(extra: Partial<VirtBoardConfig> = {}): VirtBoard {
  return new VirtBoard({
    memoryBytes: 256 * MiB,
    clock: { now: () => 0 },
    wallClock: () => 0n,
    console: { write: () => {} },
    firmware: new Uint8Array(4096),
    bootargs: 'console=ttyS0',
    rng: random,
    entropy: random,
    net: { backend: new MemoryNetBackend(), seed: 'tree' },
    input: {},
    disks: [
      { backend: new MemoryBlockBackend(MiB) },
      { backend: new MemoryBlockBackend(MiB, true) },
    ],
    ...extra,
  });
}

function boardDtb(b: VirtBoard): Uint8Array {
  return b.ram.read(b.layout.fdt.start, b.layout.fdt.size);
}

/** QEMU's -device arguments for what sits in each of the board's virtio slots. */
function qemuDevices(b: VirtBoard, dir: string): string[] {
  const args: string[] = [];
  b.virtio.forEach((t, slot) => {
    if (t === null) return;
    const bus = `bus=virtio-mmio-bus.${slot}`;
    const name = t.device.name;
    if (name === 'virtio-blk') {
      const file = join(dir, `disk${slot}.img`);
      writeFileSync(file, new Uint8Array(MiB));
      args.push('-drive', `if=none,id=d${slot},format=raw,file=${file}`);
      args.push('-device', `virtio-blk-device,drive=d${slot},${bus}`);
    } else if (name === 'virtio-net') {
      args.push(
        '-netdev',
        `user,id=n${slot}`,
        '-device',
        `virtio-net-device,netdev=n${slot},${bus}`,
      );
    } else if (name === 'virtio-rng') {
      args.push('-device', `virtio-rng-device,${bus}`);
    } else if (name === 'virtio-input') {
      args.push('-device', `virtio-keyboard-device,${bus}`);
    } else {
      throw new Error(`no QEMU device for ${name}`);
    }
  });
  return args;
}

test("the board's tree is QEMU's for the same devices, but for the intended differences", () => {
  const board = vmmLikeBoard();
  const dir = mkdtempSync(join(tmpdir(), 'berth-boardtree-'));
  try {
    const extra = qemuDevices(board, dir);
    assert.ok(extra.length >= 8, 'QEMU gets the devices: rng, net, input, two disks');
    const qemu = qemuTree(
      { harts: 1, memoryMiB: 256, bootargs: 'console=ttyS0', extra },
      QEMU_ONLY_NODES,
    );
    const berth = decompile(boardDtb(board), 'board.dtb', BERTH_ONLY_NODES);
    const { intended, unexpected } = classify(diffTrees(qemu, berth, QEMU_ONLY_NODES));
    assert.deepEqual(unexpected, []);
    assert.deepEqual(intended, [...ALWAYS_INTENDED, '/soc/rng@N node'].sort());
    assert.deepEqual(berth.warnings, qemu.warnings);
    // Both give 32 random bytes in rng-seed; the board's are in its tree, not zeros.
    const seed = cells(berth.nodes.get('/chosen')!.get('rng-seed')!);
    assert.equal(seed.length * 4, RNG_SEED_BYTES);
    assert.ok(seed.some((c) => c !== 0));
    // The nodes guests look for are where QEMU has them.
    for (const p of ['/pmu', `/flash@${VIRT.flash.base.toString(16)}`]) {
      assert.deepEqual(berth.nodes.get(p)?.get('compatible'), qemu.nodes.get(p)!.get('compatible'));
    }
    assert.equal(
      berth.nodes.get('/flash@20000000')!.get('reg'),
      '<0x00 0x20000000 0x00 0x2000000 0x00 0x22000000 0x00 0x2000000>',
    );
    // The PCIe host bridge is QEMU's, property by property, its INTx routed to the PLIC.
    const pci = '/soc/pci@30000000';
    assert.ok(qemu.nodes.has(pci) && berth.nodes.has(pci));
    assert.deepEqual(berth.nodes.get(pci), qemu.nodes.get(pci));
    assert.match(
      berth.nodes.get(pci)!.get('interrupt-map')!,
      /^<0 0 0 1 &\{\/soc\/plic@c000000\} 32, /,
    );
    // Root nodes in QEMU's order.
    const rootOrder = (t: typeof qemu, skip: string[]): string[] =>
      t.order.filter((p) => /^\/[^/]+$/.test(p) && !skip.includes(p));
    assert.deepEqual(rootOrder(berth, []), rootOrder(qemu, QEMU_ONLY_NODES));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every boot has fresh rng-seed bytes; a board without an entropy source has none', () => {
  const seeds = [vmmLikeBoard(), vmmLikeBoard()].map((b) =>
    decompile(boardDtb(b), 'seed.dtb').nodes.get('/chosen')!.get('rng-seed')!,
  );
  assert.notEqual(seeds[0], seeds[1]);
  const none = vmmLikeBoard({ entropy: undefined });
  assert.equal(
    decompile(boardDtb(none), 'noseed.dtb').nodes.get('/chosen')!.has('rng-seed'),
    false,
  );
});

test('the empty flash banks read as zeros and ignore writes of every size, as QEMU without pflash', () => {
  const b = vmmLikeBoard();
  const { base, bankSize, banks } = VIRT.flash;
  const last = base + banks * bankSize - 4;
  for (const addr of [base, base + 0x154, base + bankSize, last]) {
    for (const size of [1, 2, 4]) {
      b.bus.writeDevice(addr, size, 0x98);
      assert.equal(b.bus.readDevice(addr, size), 0, `0x${addr.toString(16)}/${size}`);
    }
  }
});
