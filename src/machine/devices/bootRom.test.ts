// Boot ROM: the reset vector words (as binutils assembles them), the
// fw_dynamic_info struct OpenSBI reads, 16/32-bit fetches, read-only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';
import { u64FromNumber } from '../state/u64.js';
import {
  BootRom,
  BootRomError,
  FW_DYNAMIC_INFO_MAGIC,
  FW_DYNAMIC_INFO_OFFSET,
  resetVectorCode,
} from './bootRom.js';

// riscv64-linux-gnu-as -march=rv64gc (.option norvc), objdump -d:
const EXPECTED_CODE = [
  [0x00000297, 'auipc t0,0x0'],
  [0x02828613, 'addi a2,t0,40'],
  [0xf1402573, 'csrr a0,mhartid'],
  [0x0202b583, 'ld a1,32(t0)'],
  [0x0182b283, 'ld t0,24(t0)'],
  [0x00028067, 'jr t0'],
] as const;

const cfg = { firmwareStart: 0x80000000, fdtAddress: 0x8fe00000, kernelEntry: 0x80200000 };

function u64(rom: BootRom, off: number): bigint {
  return (BigInt(rom.read(off + 4, 4)) << 32n) | BigInt(rom.read(off, 4));
}

test('reset vector code matches the binutils encodings', () => {
  assert.deepEqual(
    resetVectorCode(),
    EXPECTED_CODE.map(([w]) => w),
  );
  const rom = new BootRom(cfg);
  EXPECTED_CODE.forEach(([w, text], i) => assert.equal(rom.read(i * 4, 4), w, text));
});

test('the code loads the firmware start and FDT address from the ROM', () => {
  const rom = new BootRom(cfg);
  // ld t0, 24(t0) and ld a1, 32(t0) with t0 = ROM base.
  assert.equal(u64(rom, 24), 0x80000000n);
  assert.equal(u64(rom, 32), 0x8fe00000n);
  // addi a2, t0, 40 points at fw_dynamic_info.
  assert.equal(FW_DYNAMIC_INFO_OFFSET, 40);
});

test('fw_dynamic_info: magic, version 2, next_addr, next_mode S, options 0, boot_hart 0', () => {
  const rom = new BootRom(cfg);
  const info = [0, 1, 2, 3, 4, 5].map((i) => u64(rom, FW_DYNAMIC_INFO_OFFSET + 8 * i));
  assert.deepEqual(info, [BigInt(FW_DYNAMIC_INFO_MAGIC), 2n, 0x80200000n, 1n, 0n, 0n]);
  assert.equal(rom.read(FW_DYNAMIC_INFO_OFFSET, 4), 0x4942534f);
  const lottery = new BootRom({ ...cfg, bootHart: -1, nextMode: 3, options: 2 });
  assert.equal(u64(lottery, FW_DYNAMIC_INFO_OFFSET + 40), 0xffffffffffffffffn);
  assert.equal(u64(lottery, FW_DYNAMIC_INFO_OFFSET + 24), 3n);
  assert.equal(u64(lottery, FW_DYNAMIC_INFO_OFFSET + 32), 2n);
});

test('16-bit and byte reads (instruction fetch in parcels); beyond the end reads 0; writes ignored', () => {
  const rom = new BootRom(cfg);
  assert.equal(rom.read(0, 2), 0x0297);
  assert.equal(rom.read(2, 2), 0x0000);
  assert.equal(rom.read(4, 2), 0x8613);
  assert.equal(rom.read(6, 2), 0x0282);
  assert.equal(rom.read(8, 1), 0x73);
  assert.equal(rom.read(0x1000, 4), 0);
  rom.write();
  assert.equal(rom.read(0, 4), 0x00000297);
  assert.equal(rom.bytes.length, 0x1000);
});

test('its state is the configuration: a restore rewrites the contents', () => {
  const rom = new BootRom({ ...cfg, bootHart: -1 });
  const other = new BootRom({ ...cfg, fdtAddress: 0x80100000 });
  const state = assertRoundTrip(rom, other);
  assert.equal(state.fdtAddress, u64FromNumber(cfg.fdtAddress));
  assert.deepEqual(other.bytes, rom.bytes);
});

test('a state the constructor would refuse, or of another size, is refused and changes nothing', () => {
  const rom = new BootRom(cfg);
  const bytes = rom.bytes.slice();
  const state = rom.saveState();
  assertRefused(rom, { ...state, nextMode: 2 }, /nextMode must be 0 \(U\), 1 \(S\) or 3 \(M\)/);
  assertRefused(rom, { ...state, size: 0x2000 }, /size must be an integer from 4096 to 4096/);
  assertRefused(rom, { ...state, bootHart: -2 }, /bootHart must be/);
  assertRefused(rom, { ...state, fdtAddress: 'ffffffffffffffff' }, /fdtAddress must be at most/);
  assertMutationsRefused(rom);
  assert.deepEqual(rom.bytes, bytes);
});

test('bad configurations are refused', () => {
  assert.throws(() => new BootRom({ ...cfg, fdtAddress: -4 }), BootRomError);
  assert.throws(() => new BootRom({ ...cfg, nextMode: 2 }), BootRomError);
  assert.throws(() => new BootRom({ ...cfg, size: 16 }), BootRomError);
  assert.throws(() => new BootRom({ ...cfg, bootHart: -2 }), BootRomError);
});

test('a hart started at the ROM arrives at the firmware with a0, a1, a2 set', async () => {
  const { Bus } = await import('../bus.js');
  const { Ram } = await import('../ram.js');
  const { Hart } = await import('../hart/hart.js');
  const bus = new Bus(new Ram(0x80000000, 1 << 20));
  bus.map('bootrom', 0x1000, 0x1000, new BootRom({ ...cfg, fdtAddress: 0x800f0000 }));
  const hart = new Hart(bus, { hartId: 3 });
  hart.pc = 0x1000n;
  hart.run(6);
  assert.equal(hart.pc, 0x80000000n);
  assert.equal(hart.regs.get(10), 3n, 'a0 = mhartid');
  assert.equal(hart.regs.get(11), 0x800f0000n, 'a1 = FDT');
  assert.equal(hart.regs.get(12), 0x1028n, 'a2 = &fw_dynamic_info');
});
