// CLINT: the SiFive core-local interruptor (the ACLINT MSWI + MTIMER pair at
// QEMU virt's 0x2000000): per-hart machine software interrupt (msip) and
// machine timer (mtimecmp against the shared mtime).
//
//   const clint = new Clint(harts.map((h) => hartIrq(h)), clock);
//   bus.map('clint', VIRT.clint.base, VIRT.clint.size, clint);
//   new Hart(bus, { hartId, readTime: () => clint.mtime() });
//   // between slices:  clint.update();  sleep in WFI until clint.nextDeadline()
//
// Registers (offsets from the base; 32-bit accesses, a 64-bit access arrives
// from the bus as two 32-bit halves, low half first):
//   0x0000 + 4*h   msip[h]      bit 0 drives the hart's MSIP
//   0x4000 + 8*h   mtimecmp[h]  MTIP[h] = mtime >= mtimecmp[h] (reset: all ones)
//   0xbff8         mtime        clock.now() + an offset set by writes to mtime
// Byte and half-word accesses read or merge into the 32-bit register.
// Saved state holds mtime as read at the save; a restore sets the offset so
// that mtime goes on from there on this CLINT's clock.

import type { MmioDevice } from '../bus.js';
import type { Clock } from '../clock.js';
import { MIP_MSIP, MIP_MTIP } from '../hart/causes.js';
import type { HartIrq } from './irq.js';
import type { Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { u64FromHalves, u64FromNumber, u64Halves, u64ToNumber, type U64 } from '../state/u64.js';

export const CLINT_MSIP = 0x0000;
export const CLINT_MTIMECMP = 0x4000;
export const CLINT_MTIME = 0xbff8;
/** Harts one CLINT can serve (msip words below 0x4000). */
export const CLINT_MAX_HARTS = 4095;

const TWO32 = 4294967296;
/** mtimecmp values at or beyond this are never reached by a Number-valued mtime. */
const NEVER = 2 ** 53;

export class ClintError extends Error {}

export interface ClintState {
  /** msip bit (0 or 1) per hart. */
  msip: number[];
  /** mtimecmp per hart. */
  mtimecmp: U64[];
  /** mtime at the moment of saving (below 2^53: mtime is kept as a Number). */
  mtime: U64;
}

export class Clint implements MmioDevice, Persistent<ClintState> {
  readonly stateId = 'aclint';
  readonly stateVersion = 1;
  private readonly harts: readonly HartIrq[];
  private readonly clock: Clock;
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** Last MTIP level driven per hart: 0, 1, or -1 (unknown: drive on next update). */
  private readonly mtip: Int8Array;
  /** mtime = clock.now() + offset. */
  private offset = 0;

  /**
   * @param harts the interrupt inputs of each hart, indexed by hart id
   * @param clock mtime source in TIMEBASE_HZ ticks
   * @param msip where the msip bits live (one byte a hart): shared memory when harts on other
   *   threads write them themselves (the VMM's harts/hartWorker.ts); by default the CLINT's own
   */
  constructor(harts: readonly HartIrq[], clock: Clock, msip?: Uint8Array) {
    if (harts.length < 1 || harts.length > CLINT_MAX_HARTS) {
      throw new ClintError(`a CLINT serves 1 to ${CLINT_MAX_HARTS} harts, got ${harts.length}`);
    }
    this.harts = harts;
    this.clock = clock;
    const n = harts.length;
    if (msip !== undefined && msip.length !== n) {
      throw new ClintError(`msip must have a byte for each of the ${n} harts`);
    }
    this.msip = msip ?? new Uint8Array(n);
    this.cmpLo = new Uint32Array(n).fill(0xffffffff);
    this.cmpHi = new Uint32Array(n).fill(0xffffffff);
    this.mtip = new Int8Array(n).fill(-1);
  }

  /** The msip bit of hart `h` (written by another thread, when the bits are shared). */
  msipOf(h: number): boolean {
    return Atomics.load(this.msip, h) !== 0;
  }

  /** Current mtime in ticks (give it to the harts as readTime for the time CSR and Sstc). */
  mtime(): number {
    return this.clock.now() + this.offset;
  }

  /** mtimecmp of hart `h` as a Number (2^64-1 reads as 2^64). */
  mtimecmp(h: number): number {
    return this.cmpHi[h] * TWO32 + this.cmpLo[h];
  }

  /** Recomputes MTIP of every hart from the current time. The board calls it between slices. */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts.length; h++) this.drive(h, now);
  }

  /**
   * The clock.now() value at which the next not-yet-reached mtimecmp fires,
   * or Infinity when no timer is armed: a hart in WFI can sleep until then.
   */
  nextDeadline(): number {
    const now = this.mtime();
    let best = Infinity;
    for (let h = 0; h < this.harts.length; h++) {
      const cmp = this.mtimecmp(h);
      if (cmp > now && cmp < NEVER && cmp < best) best = cmp;
    }
    return best === Infinity ? Infinity : best - this.offset;
  }

  read(offset: number, size: number): number {
    const word = this.readWord(offset & ~3);
    if (size >= 4) return word;
    return (word >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: number, value: number): void {
    const aligned = offset & ~3;
    let v = value >>> 0;
    if (size < 4) {
      const shift = (offset & 3) * 8;
      const mask = (size === 1 ? 0xff : 0xffff) << shift;
      v = ((this.readWord(aligned) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    this.writeWord(aligned, v);
  }

  private readWord(off: number): number {
    const n = this.harts.length;
    if (off < CLINT_MTIMECMP) {
      const h = off >>> 2;
      return h < n ? this.msip[h] : 0;
    }
    if (off >= CLINT_MTIME) {
      const t = this.mtime();
      return off === CLINT_MTIME ? t % TWO32 : Math.floor(t / TWO32) >>> 0;
    }
    const h = (off - CLINT_MTIMECMP) >>> 3;
    if (h >= n) return 0;
    return (off & 4) === 0 ? this.cmpLo[h] : this.cmpHi[h];
  }

  private writeWord(off: number, v: number): void {
    const n = this.harts.length;
    if (off < CLINT_MTIMECMP) {
      const h = off >>> 2;
      if (h >= n) return;
      this.msip[h] = v & 1;
      this.harts[h].setMip(MIP_MSIP, (v & 1) !== 0);
      return;
    }
    if (off >= CLINT_MTIME) {
      const t = this.mtime();
      const lo = off === CLINT_MTIME ? v : t % TWO32;
      const hi = off === CLINT_MTIME ? Math.floor(t / TWO32) : v;
      // mtime is kept as a Number: the high half is limited to 21 bits.
      this.offset = (hi & 0x1fffff) * TWO32 + lo - this.clock.now();
      this.update();
      return;
    }
    const h = (off - CLINT_MTIMECMP) >>> 3;
    if (h >= n) return;
    if ((off & 4) === 0) this.cmpLo[h] = v;
    else this.cmpHi[h] = v;
    this.drive(h, this.mtime());
  }

  private drive(h: number, now: number): void {
    const level = now >= this.mtimecmp(h) ? 1 : 0;
    if (this.mtip[h] !== level) {
      this.mtip[h] = level;
      this.harts[h].setMip(MIP_MTIP, level === 1);
    }
  }

  saveState(): ClintState {
    const mtimecmp: U64[] = [];
    for (let h = 0; h < this.harts.length; h++)
      mtimecmp.push(u64FromHalves(this.cmpLo[h], this.cmpHi[h]));
    return { msip: Array.from(this.msip), mtimecmp, mtime: u64FromNumber(this.mtime()) };
  }

  checkState(data: unknown): ClintState {
    const n = this.harts.length;
    return StateReader.read(data, (r) => ({
      msip: r.ints('msip', n, n, 0, 1),
      mtimecmp: r.u64s('mtimecmp', n, n),
      mtime: r.u64('mtime', BigInt(Number.MAX_SAFE_INTEGER)),
    }));
  }

  /** Takes a checked state; mtime goes on from the saved value on this CLINT's clock. */
  loadState(s: ClintState): void {
    for (let h = 0; h < this.harts.length; h++) {
      this.msip[h] = s.msip[h];
      [this.cmpLo[h], this.cmpHi[h]] = u64Halves(s.mtimecmp[h]).map((x) => x >>> 0);
      this.harts[h].setMip(MIP_MSIP, this.msip[h] === 1);
    }
    this.offset = u64ToNumber(s.mtime) - this.clock.now();
    this.mtip.fill(-1);
    this.update();
  }
}
