// A snapshot of a booted Debian guest (the stock kernel with Berth's initramfs, in
// deterministic time) restores into a fresh board that runs on exactly as the original: the
// same shell output for the same input, and the same machine state after, down to every
// device and every byte of RAM. The guest assets are fetched (and cached) on first use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { VirtBoard } from '../../src/machine/board/virt.js';
import { SeededEntropy } from '../../src/machine/virtio/rng.js';
import { InstructionClock, wallClockNs } from '../../src/vmm/clocks.js';
import { readGuestFile, readKernel } from '../../src/vmm/kernelFile.js';
import { restoreMachineSnapshot, writeMachineSnapshot } from '../../src/vmm/vmmSnapshot.js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Guest {
  board: VirtBoard;
  clock: InstructionClock;
  entropy: SeededEntropy;
  out: () => string;
}

async function debian(): Promise<Guest> {
  const a = await ensureDefaultAssets({});
  let board: VirtBoard | null = null;
  let out = '';
  const clock = new InstructionClock(() => (board ? board.instructions() : 0));
  const entropy = new SeededEntropy(1n);
  board = new VirtBoard({
    memoryBytes: 256 << 20,
    clock,
    wallClock: wallClockNs(clock),
    console: { write: (b) => (out += String.fromCharCode(b)) },
    firmware: readGuestFile(a.firmwarePath, 'firmware'),
    kernel: readKernel(a.kernelPath),
    initrd: readGuestFile(a.initrdPath, 'initrd'),
    bootargs: 'console=ttyS0',
    rng: entropy,
    input: {},
  });
  return { board, clock, entropy, out: () => out };
}

/**
 * Runs slices as the VMM does (idle time skipped at WFI, as in --deterministic), feeding
 * `input` to the UART as it has room, until `until` holds or `max` instructions have run.
 */
function drive(g: Guest, until: () => boolean, max: number, input = ''): void {
  let left = input;
  const end = g.board.instructions() + max;
  while (!until() && g.board.instructions() < end) {
    if (left.length > 0) {
      const n = g.board.uart.receive(Array.from(left.slice(0, 16), (c) => c.charCodeAt(0)));
      left = left.slice(n);
    }
    const stop = g.board.run(200_000);
    if (stop.kind === 'wfi') {
      const d = g.board.nextDeadline();
      assert.ok(Number.isFinite(d), 'the guest sleeps with no timer armed');
      g.clock.skipTo(d);
    } else {
      assert.equal(stop.kind, 'budget', JSON.stringify(stop));
    }
  }
}

test(
  'a booted Debian guest restored from its snapshot answers and runs on exactly alike',
  { timeout: 900_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-snapboot-'));
    try {
      const a = await debian();
      drive(a, () => /initramfs ready[\s\S]*# /.test(a.out()), 4e9);
      assert.match(a.out(), /Berth initramfs ready/);
      const file = join(dir, 'debian.snap');
      const t = performance.now();
      writeMachineSnapshot(a, file);
      const ms = performance.now() - t;
      const size = statSync(file).size;
      const b = await debian();
      restoreMachineSnapshot(b, file);
      const at = a.out().length;
      const cmd = 'echo $((6 * 7)); head -c 16 /dev/urandom | md5sum; cat /proc/uptime\n';
      for (const g of [a, b]) {
        const from = g === a ? at : 0;
        drive(g, () => /md5sum[\s\S]*\n[\s\S]*# $/.test(g.out().slice(from)), 2e9, cmd);
        drive(g, () => false, 20_000_000);
      }
      const after = a.out().slice(at);
      assert.match(after, /\n42\r?\n/);
      assert.equal(b.out(), after, 'the same answers, random bytes and uptime');
      const sa = a.board.saveState();
      const sb = b.board.saveState();
      assert.deepEqual(Object.keys(sb.parts), Object.keys(sa.parts));
      for (const name of Object.keys(sa.parts)) {
        if (name === 'ram') continue;
        assert.deepEqual(sb.parts[name], sa.parts[name], name);
      }
      assert.ok(Buffer.from(a.board.ram.u8).equals(Buffer.from(b.board.ram.u8)), 'RAM');
      console.log(
        `# snapshot of a booted 256 MiB Debian guest: ${size} bytes, written in ${ms.toFixed(0)} ms`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
