// The boot ROM at 0x1000 (QEMU virt's "mrom"): the reset vector that every
// hart starts at, laid out as QEMU lays it out for OpenSBI's fw_dynamic:
//
//   0x00  auipc t0, 0          t0 = ROM base
//   0x04  addi  a2, t0, 0x28   a2 = &fw_dynamic_info
//   0x08  csrr  a0, mhartid    a0 = hart id
//   0x0c  ld    a1, 0x20(t0)   a1 = FDT address
//   0x10  ld    t0, 0x18(t0)   t0 = firmware start
//   0x14  jr    t0
//   0x18  .dword firmware start
//   0x20  .dword FDT address
//   0x28  struct fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h, version 2):
//         magic 0x4942534f ('OSBI'), version 2, next_addr (kernel entry),
//         next_mode (1 = S), options (0), boot_hart (0 as QEMU: hart 0 boots,
//         the others wait; -1 asks OpenSBI to pick one by lottery)
// All words little-endian, all fields 64-bit. Read-only: writes are ignored.
//
//   const rom = new BootRom({ firmwareStart: 0x80000000, fdtAddress, kernelEntry: 0x80200000 });
//   bus.map('bootrom', VIRT.bootRom.base, VIRT.bootRom.size, rom);
//   for each hart: hart.pc = BigInt(VIRT.bootRom.base)

import type { MmioDevice } from '../bus.js';
import { VIRT } from '../board/memoryMap.js';
import { StateError, type Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { u64FromNumber, u64ToNumber, type U64 } from '../state/u64.js';

export const FW_DYNAMIC_INFO_MAGIC = 0x4942534f;
export const FW_DYNAMIC_INFO_VERSION = 2;
export const NEXT_MODE_U = 0;
export const NEXT_MODE_S = 1;
export const NEXT_MODE_M = 3;
/** Offset of fw_dynamic_info in the ROM. */
export const FW_DYNAMIC_INFO_OFFSET = 0x28;
/** Offsets of the two address words the code loads. */
export const BOOT_ROM_START_OFFSET = 0x18;
export const BOOT_ROM_FDT_OFFSET = 0x20;

export class BootRomError extends Error {}

export interface BootRomConfig {
  /** Where the firmware (OpenSBI fw_dynamic) starts: the jump target. */
  firmwareStart: number;
  /** Physical address of the device tree blob, passed in a1. */
  fdtAddress: number;
  /** Entry of the next stage (the kernel): fw_dynamic_info.next_addr. */
  kernelEntry: number;
  /** Privilege of the next stage: NEXT_MODE_S (default), NEXT_MODE_M or NEXT_MODE_U. */
  nextMode?: number;
  /** fw_dynamic_info.options (OpenSBI scratch options); 0 by default. */
  options?: number;
  /** Preferred boot hart: 0 by default (as QEMU), -1 for OpenSBI's lottery. */
  bootHart?: number;
  /** ROM size in bytes; VIRT.bootRom.size by default. */
  size?: number;
}

/** The saved state: the configuration, from which the contents follow. */
export interface BootRomState {
  firmwareStart: U64;
  fdtAddress: U64;
  kernelEntry: U64;
  nextMode: number;
  options: U64;
  /** A hart id, or -1. */
  bootHart: number;
  size: number;
}

// Register numbers.
const T0 = 5;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const CSR_MHARTID = 0xf14;

function iType(imm: number, rs1: number, funct3: number, rd: number, opcode: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode) >>> 0;
}

/** The reset-vector code words, hand-assembled (checked against binutils in the test). */
export function resetVectorCode(): number[] {
  return [
    (0 << 12) | (T0 << 7) | 0x17, // auipc t0, 0
    iType(FW_DYNAMIC_INFO_OFFSET, T0, 0, A2, 0x13), // addi a2, t0, 0x28
    iType(CSR_MHARTID, 0, 2, A0, 0x73), // csrrs a0, mhartid, x0
    iType(BOOT_ROM_FDT_OFFSET, T0, 3, A1, 0x03), // ld a1, 0x20(t0)
    iType(BOOT_ROM_START_OFFSET, T0, 3, T0, 0x03), // ld t0, 0x18(t0)
    iType(0, T0, 0, 0, 0x67), // jalr x0, 0(t0)
  ];
}

export class BootRom implements MmioDevice, Persistent<BootRomState> {
  readonly stateId = 'boot-rom';
  readonly stateVersion = 1;
  /** The ROM contents. */
  readonly bytes: Uint8Array;
  private config: Required<BootRomConfig>;

  constructor(config: BootRomConfig) {
    const c: Required<BootRomConfig> = {
      firmwareStart: config.firmwareStart,
      fdtAddress: config.fdtAddress,
      kernelEntry: config.kernelEntry,
      nextMode: config.nextMode ?? NEXT_MODE_S,
      options: config.options ?? 0,
      bootHart: config.bootHart ?? 0,
      size: config.size ?? VIRT.bootRom.size,
    };
    const problem = BootRom.problem(c);
    if (problem !== null) throw new BootRomError(`boot ROM ${problem}`);
    this.config = c;
    this.bytes = new Uint8Array(c.size);
    this.fill();
  }

  /** What is wrong with a configuration, or null. */
  private static problem(c: Required<BootRomConfig>): string | null {
    for (const k of ['firmwareStart', 'fdtAddress', 'kernelEntry', 'options'] as const) {
      if (!Number.isSafeInteger(c[k]) || c[k] < 0) {
        return `${k} must be a non-negative integer address, got ${c[k]}`;
      }
    }
    if (c.nextMode !== NEXT_MODE_U && c.nextMode !== NEXT_MODE_S && c.nextMode !== NEXT_MODE_M) {
      return `nextMode must be 0 (U), 1 (S) or 3 (M), got ${c.nextMode}`;
    }
    if (!Number.isSafeInteger(c.bootHart) || c.bootHart < -1) {
      return `bootHart must be a hart id or -1, got ${c.bootHart}`;
    }
    const end = FW_DYNAMIC_INFO_OFFSET + 6 * 8;
    if (!Number.isInteger(c.size) || c.size < end || c.size % 4 !== 0) {
      return `size must be a multiple of 4 of at least ${end} bytes, got ${c.size}`;
    }
    return null;
  }

  /** Writes the contents from the configuration. */
  private fill(): void {
    const c = this.config;
    this.bytes.fill(0);
    const view = new DataView(this.bytes.buffer);
    resetVectorCode().forEach((w, i) => view.setUint32(i * 4, w, true));
    const u64 = (off: number, v: number): void =>
      view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    u64(BOOT_ROM_START_OFFSET, c.firmwareStart);
    u64(BOOT_ROM_FDT_OFFSET, c.fdtAddress);
    const info = [
      FW_DYNAMIC_INFO_MAGIC,
      FW_DYNAMIC_INFO_VERSION,
      c.kernelEntry,
      c.nextMode,
      c.options,
      c.bootHart,
    ];
    info.forEach((v, i) => u64(FW_DYNAMIC_INFO_OFFSET + i * 8, v));
  }

  /** Reads 1, 2 or 4 bytes (little-endian); beyond the end reads 0. */
  read(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = v * 256 + (o < this.bytes.length ? this.bytes[o] : 0);
    }
    return v;
  }

  write(): void {
    // Read-only.
  }

  saveState(): BootRomState {
    const c = this.config;
    return {
      firmwareStart: u64FromNumber(c.firmwareStart),
      fdtAddress: u64FromNumber(c.fdtAddress),
      kernelEntry: u64FromNumber(c.kernelEntry),
      nextMode: c.nextMode,
      options: u64FromNumber(c.options),
      bootHart: c.bootHart,
      size: c.size,
    };
  }

  /** Validates a state: a configuration the constructor accepts, of this ROM's size. */
  checkState(data: unknown): BootRomState {
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    const s = StateReader.read(data, (r) => ({
      firmwareStart: r.u64('firmwareStart', safe),
      fdtAddress: r.u64('fdtAddress', safe),
      kernelEntry: r.u64('kernelEntry', safe),
      nextMode: r.int('nextMode', 0, 3),
      options: r.u64('options', safe),
      bootHart: r.int('bootHart', -1, 0xffffffff),
      size: r.int('size', this.bytes.length, this.bytes.length),
    }));
    const problem = BootRom.problem(BootRom.configOf(s));
    if (problem !== null) throw new StateError(problem);
    return s;
  }

  /** Takes a checked state: the contents are rewritten from it. */
  loadState(s: BootRomState): void {
    this.config = BootRom.configOf(s);
    this.fill();
  }

  private static configOf(s: BootRomState): Required<BootRomConfig> {
    return {
      firmwareStart: u64ToNumber(s.firmwareStart),
      fdtAddress: u64ToNumber(s.fdtAddress),
      kernelEntry: u64ToNumber(s.kernelEntry),
      nextMode: s.nextMode,
      options: u64ToNumber(s.options),
      bootHart: s.bootHart,
      size: s.size,
    };
  }
}
