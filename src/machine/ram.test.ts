// RAM's saved state: only pages that are not all zero, in runs; a restore writes all of RAM,
// marks it dirty and forgets decoded code (a hart runs what the restored RAM holds); bad runs
// are refused and change nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from './bus.js';
import { TLB_EMPTY } from './hart/areaLayout.js';
import { Hart } from './hart/hart.js';
import { TLB_WORDS } from './hart/mmu.js';
import { PAGE_SIZE, Ram, type RamState } from './ram.js';
import { restoreState } from './state/persistent.js';
import { assertRefused, assertRoundTrip } from '../../test/support/persistence.js';

const BASE = 0x80000000;

test('zero pages are left out; consecutive pages form one run', () => {
  const ram = new Ram(BASE, 64 * PAGE_SIZE);
  ram.write(BASE + 3 * PAGE_SIZE + 100, Uint8Array.of(1));
  ram.write(BASE + 4 * PAGE_SIZE, Uint8Array.of(2));
  ram.write(BASE + 64 * PAGE_SIZE - 1, Uint8Array.of(3));
  const s = ram.saveState();
  assert.deepEqual(
    s.runs.map((r) => [r.page, r.data.length / PAGE_SIZE]),
    [
      [3, 2],
      [63, 1],
    ],
  );
  assert.equal(s.runs[0].data[100], 1);
  ram.write(BASE + 4 * PAGE_SIZE, Uint8Array.of(9));
  assert.equal(s.runs[0].data[PAGE_SIZE], 2, 'the state is a copy');
  const other = new Ram(BASE, 64 * PAGE_SIZE);
  other.write(BASE + 10 * PAGE_SIZE, Uint8Array.of(7));
  ram.write(BASE + 4 * PAGE_SIZE, Uint8Array.of(2));
  assertRoundTrip(ram, other, structuredClone);
  assert.equal(other.u8[10 * PAGE_SIZE], 0, 'pages not in the state are zero');
  assert.deepEqual(other.takeDirtyPages().length, 64, 'every page is dirty after a restore');
});

test('a restore forgets decoded and translated code: the hart runs the restored instructions', () => {
  const ram = new Ram(BASE, 16 * PAGE_SIZE);
  const hart = new Hart(new Bus(ram), { jitThreshold: 2, jitSynchronous: true });
  const program = (imm: number): Uint8Array => {
    // loop: addi a0, a0, imm; j loop
    const words = new Uint32Array([(imm << 20) | (10 << 15) | (10 << 7) | 0x13, 0xffdff06f]);
    return new Uint8Array(words.buffer);
  };
  ram.write(BASE, program(1));
  hart.pc = BigInt(BASE);
  hart.run(1000);
  assert.equal(hart.regs.get(10), 500n);
  const other = new Ram(BASE, 16 * PAGE_SIZE);
  other.write(BASE, program(3));
  restoreState(ram, other.saveState());
  hart.regs.set(10, 0n);
  hart.pc = BigInt(BASE);
  hart.run(1000);
  assert.equal(hart.regs.get(10), 1500n);
});

test('bad states are refused and change nothing', () => {
  const ram = new Ram(BASE, 8 * PAGE_SIZE);
  ram.write(BASE, Uint8Array.of(5));
  const page = (n = 1): Uint8Array => new Uint8Array(n * PAGE_SIZE).fill(1);
  const bad: [unknown, RegExp][] = [
    [{ size: 16 * PAGE_SIZE, runs: [] }, /the state is of 65536 bytes of RAM, this RAM has 32768/],
    [{ size: 8 * PAGE_SIZE }, /runs must be a list/],
    [
      { size: 8 * PAGE_SIZE, runs: [{ page: 0, data: [1, 2] }] },
      /runs\[0\] must be \{page, data\}/,
    ],
    [
      { size: 8 * PAGE_SIZE, runs: [{ page: 0, data: new Uint8Array(100) }] },
      /runs\[0\] holds 100 bytes, not a whole number of pages/,
    ],
    [
      { size: 8 * PAGE_SIZE, runs: [{ page: 7, data: page(2) }] },
      /runs\[0\] at page 7 \(2 pages\) is out of order or beyond the 8 pages/,
    ],
    [
      {
        size: 8 * PAGE_SIZE,
        runs: [
          { page: 2, data: page(2) },
          { page: 3, data: page() },
        ],
      },
      /runs\[1\] at page 3/,
    ],
    [{ size: 8 * PAGE_SIZE, runs: [{ page: 0.5, data: page() }] }, /runs\[0\] at page 0.5/],
  ];
  for (const [state, message] of bad) assertRefused(ram, state as RamState, message);
  assert.equal(ram.u8[0], 5);
});

test('pages written before the dirty log was taken, or by a restore, are saved and zeroed alike', () => {
  const ram = new Ram(BASE, 32 * PAGE_SIZE);
  ram.write(BASE + 5 * PAGE_SIZE, Uint8Array.of(5));
  ram.takeDirtyPages(); // the log no longer names page 5
  assert.deepEqual(
    ram.saveState().runs.map((r) => r.page),
    [5],
  );
  const a = new Ram(BASE, 32 * PAGE_SIZE);
  a.write(BASE + 9 * PAGE_SIZE, Uint8Array.of(9));
  a.takeDirtyPages();
  ram.loadState(a.saveState()); // page 5 zeroed, page 9 loaded
  assert.equal(ram.u8[5 * PAGE_SIZE], 0);
  assert.equal(ram.u8[9 * PAGE_SIZE], 9);
  ram.takeDirtyPages();
  ram.loadState(new Ram(BASE, 32 * PAGE_SIZE).saveState()); // an empty RAM's state
  assert.equal(ram.u8[9 * PAGE_SIZE], 0, 'a page the last restore loaded is zeroed by the next');
  assert.deepEqual(ram.saveState().runs, []);
});

test('saving, restoring and saving again leave never-written RAM unread: it takes no host memory', () => {
  const mib = 1024 * 1024;
  const ram = new Ram(BASE, 256 * mib);
  ram.write(BASE + 3 * mib, new Uint8Array(mib).fill(1));
  const before = process.memoryUsage.rss();
  const s = ram.saveState();
  assert.deepEqual(
    s.runs.map((r) => [r.page, r.data.length]),
    [[(3 * mib) / PAGE_SIZE, mib]],
  );
  const other = new Ram(BASE, 256 * mib);
  other.loadState(s);
  assert.equal(other.u8[3 * mib + 77], 1);
  assert.equal(other.takeDirtyPages().length, 65536, 'every page is dirty after a restore');
  other.write(BASE + 200 * mib, Uint8Array.of(2));
  assert.deepEqual(other.takeDirtyPages(), [(200 * mib) / PAGE_SIZE], 'then the log goes on');
  assert.deepEqual(
    other.saveState().runs.map((r) => [r.page, r.data.length]),
    [
      [(3 * mib) / PAGE_SIZE, mib],
      [(200 * mib) / PAGE_SIZE, PAGE_SIZE],
    ],
  );
  const grown = (process.memoryUsage.rss() - before) / mib;
  assert.ok(grown < 32, `resident memory grew by ${grown.toFixed(0)} MiB for 1 MiB of data`);
});

test('prefault changes nothing the guest sees: data pages keep their bytes, others stay zero', () => {
  const ram = new Ram(BASE, 16 * PAGE_SIZE);
  ram.write(BASE + 2 * PAGE_SIZE, Uint8Array.of(5, 6));
  ram.takeDirtyPages();
  ram.prefault([0, 2, 3, -1, 16, 1.5, 99]);
  assert.equal(ram.u8[2 * PAGE_SIZE], 5, 'a page holding data is not written');
  assert.deepEqual(ram.dataPages(), [2]);
  assert.ok(ram.u8.every((b, i) => b === 0 || i === 2 * PAGE_SIZE || i === 2 * PAGE_SIZE + 1));
  assert.deepEqual(ram.takeDirtyPages(), [], 'nothing is logged as written');
});

test('a page that becomes code on one thread leaves the write TLBs of harts on the others', () => {
  // Two Ram objects over one shared memory, as the VMM thread and a hart's worker hold them.
  const a = new Ram(BASE, 16 * PAGE_SIZE, { shared: true });
  const hartA = new Hart(new Bus(a), { jitThreshold: 0 });
  const areaB = a.allocHartArea();
  const b = new Ram(BASE, 16 * PAGE_SIZE, { share: a.share(), thread: 1 });
  const hartB = new Hart(new Bus(b), { area: areaB, jitThreshold: 0 });
  a.peerHartAreas = [areaB];
  b.peerHartAreas = [hartA.area];
  const maps = (page: number): boolean => {
    const w = hartB.mmu.wTlb;
    for (let e = 0; e < w.length; e += TLB_WORDS)
      if (w[e] !== TLB_EMPTY && (w[e + 2] + (w[e] & ~0xfff)) >>> 12 === page) return true;
    return false;
  };
  // B: sd zero,8(a0); sd zero,8(a1), to pages 3 and 4. A then runs an addi at the start of page 3.
  b.write(BASE, new Uint8Array(new Uint32Array([0x00053423, 0x0005b423]).buffer));
  a.write(BASE + 3 * PAGE_SIZE, new Uint8Array(new Uint32Array([0x00150513]).buffer));
  hartB.regs.set(10, BigInt(BASE + 3 * PAGE_SIZE));
  hartB.regs.set(11, BigInt(BASE + 4 * PAGE_SIZE));
  hartB.pc = BigInt(BASE);
  hartB.run(2);
  assert.ok(maps(3) && maps(4), "B's stores filled its write TLB");
  hartA.pc = BigInt(BASE + 3 * PAGE_SIZE);
  hartA.run(1);
  assert.equal(hartA.regs.get(10), 1n);
  assert.ok(!maps(3), 'the page that became code is no longer written through the TLB');
  assert.ok(maps(4), 'other pages stay');
});
