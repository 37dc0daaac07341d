// A snapshot of a booted two-hart Debian guest (the stock kernel with Berth's initramfs, in
// deterministic time, both harts taking turns on this thread) restores into a fresh board that runs on exactly as the original: the
// same shell output for the same input, and the same machine state after, down to every
// device and every byte of RAM. Given a new VM generation as the VMM gives it, the restored
// guest reseeds its RNG instead (vmgenid): other random bytes for the same seed. The second
// test restores the same snapshot in VMM processes on the host clock (generation.test.ts is
// the rest): the guest's clock is the host's again, a new MAC is taken up, and two restores of
// one snapshot read different random bytes. The guest assets are fetched (and cached) on
// first use.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { VirtBoard } from '../../src/machine/board/virt.js';
import { SeededEntropy } from '../../src/machine/virtio/rng.js';
import { InstructionClock, wallClockNs } from '../../src/vmm/clocks.js';
import { readGuestFile, readKernel } from '../../src/vmm/kernelFile.js';
import { restoreMachineSnapshot, writeMachineSnapshot } from '../../src/vmm/vmmSnapshot.js';
import { newGeneration } from '../../src/vmm/generation.js';
import { MemoryNetBackend } from '../../src/machine/virtio/netBackend.js';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoredGuests } from './snapshotRestore.js';

/** The network card's MAC in the snapshot (clones take others). */
export const PARENT_MAC = '52:54:00:5a:00:01';
const dir = mkdtempSync(join(tmpdir(), 'berth-snapboot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** The snapshot of the booted guest, which the second test restores in VMM processes. */
const file = join(dir, 'debian.snap');

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
    harts: 2,
    clock,
    wallClock: wallClockNs(clock),
    console: { write: (b) => (out += String.fromCharCode(b)) },
    firmware: readGuestFile(a.firmwarePath, 'firmware'),
    kernel: readKernel(a.kernelPath),
    initrd: readGuestFile(a.initrdPath, 'initrd'),
    bootargs: 'console=ttyS0',
    rng: entropy,
    input: {},
    // A card as "berth run --net user" has, on no network: eth0 exists, down.
    net: { backend: new MemoryNetBackend(), mac: PARENT_MAC },
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
  'a booted two-hart Debian guest restored from its snapshot answers and runs on exactly alike',
  { timeout: 900_000 },
  async () => {
    {
      const a = await debian();
      drive(a, () => /initramfs ready[\s\S]*# /.test(a.out()), 4e9);
      assert.match(a.out(), /Berth initramfs ready/);
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
      // The same snapshot and seed, but a new generation as the VMM gives it on restore: the
      // kernel reseeds its RNG at once (other random bytes than the original's), and the
      // image's handler ran, from acpid on the generation key (the card's MAC is the
      // snapshot's: eth0 keeps it).
      const c = await debian();
      const info = restoreMachineSnapshot(c, file);
      const g = newGeneration(c, info.shape);
      assert.equal(g.rtcSet, false, 'deterministic: the RTC is left as it was');
      assert.equal(g.key, 'generation', 'the same MAC: the generation key, not the MAC key');
      const log =
        'for i in 1 2 3 4 5 6 7 8 9 10; do grep -q eth0 /run/berth-generation.log && break; ' +
        'sleep 1; done; cat /run/berth-generation.log\n';
      drive(c, () => /md5sum[\s\S]*\n[\s\S]*# $/.test(c.out()), 2e9, cmd);
      const md5 = (t: string): string => /^[0-9a-f]{32}/m.exec(t)?.[0] ?? 'none';
      assert.notEqual(md5(c.out()), md5(after), 'the new generation reseeded the RNG');
      assert.match(c.out(), /crng reseeded due to virtual machine fork/);
      const at2 = c.out().length;
      drive(c, () => /berth-generation: eth0[^\n]*\n[\s\S]*# $/.test(c.out().slice(at2)), 4e9, log);
      assert.match(c.out().slice(at2), /berth-generation: new VM generation/);
      assert.match(c.out().slice(at2), new RegExp(`eth0 keeps its MAC ${PARENT_MAC}`));
      console.log(`# new generation ${g.id}: random bytes ${md5(c.out())}, not ${md5(after)}`);
    }
  },
);

test(
  'restored by the VMM on the host clock: the host time, a new MAC, other random bytes',
  { timeout: 600_000 },
  async () => {
    assert.ok(statSync(file).size > 0, 'the first test wrote the snapshot');
    await restoredGuests(file, dir, PARENT_MAC);
  },
);
