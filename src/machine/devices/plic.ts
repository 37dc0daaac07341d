// PLIC: the platform-level interrupt controller (sifive,plic-1.0.0) with QEMU
// virt's register layout. Sources 1..ndev are level-triggered inputs; every
// hart h has two contexts: 2h (M-mode, drives MEIP) and 2h+1 (S-mode, drives
// the hart's seipLine).
//
//   const plic = new Plic(harts.map((h) => hartIrq(h)));     // ndev = PLIC_NDEV
//   bus.map('plic', VIRT.plic.base, VIRT.plic.size, plic);
//   const uart = new Uart16550(console, plic.line(IRQ.uart0));
//
// Registers (offsets from the base, 32-bit):
//   0x000000 + 4*src         priority of source src (0 = never interrupts; 3 bits, max 7)
//   0x001000 + 4*w           pending bits of sources 32w..32w+31 (read-only)
//   0x002000 + 0x80*ctx + 4*w enable bits of context ctx
//   0x200000 + 0x1000*ctx    priority threshold of ctx (only priorities above it interrupt)
//   0x200004 + 0x1000*ctx    claim (read) / complete (write)
//
// Claim returns the pending source enabled for the context with the highest
// priority above the threshold (ties go to the lowest id), or 0, and clears its
// pending bit; the source then stays in flight until the context writes its id
// to complete. A source whose line is still high when completed is pending
// again at once (the specification's level-triggered gateway; QEMU 7.2 leaves it
// pending only when the device drives its line again, which its devices do on
// most register accesses: the README's compatibility section says more). While
// not in flight, a source's pending bit follows its line. A completion is taken
// from any context, whether the source is enabled in it or not, as QEMU takes it
// (the RISC-V PLIC specification lets hardware ignore one for a source not
// enabled; Linux re-enables the source around such a completion for that).

import type { MmioDevice } from '../bus.js';
import { PLIC_NDEV } from '../board/memoryMap.js';
import { MIP_MEIP, MIP_SEIP } from '../hart/causes.js';
import type { HartIrq, IrqLine } from './irq.js';
import { StateError, type Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';

export const PLIC_PRIORITY = 0x000000;
export const PLIC_PENDING = 0x001000;
export const PLIC_ENABLE = 0x002000;
export const PLIC_ENABLE_STRIDE = 0x80;
export const PLIC_CONTEXT = 0x200000;
export const PLIC_CONTEXT_STRIDE = 0x1000;
/** Highest priority (3 priority bits, like QEMU virt). */
export const PLIC_MAX_PRIORITY = 7;
/** Largest number of contexts the register layout has room for. */
export const PLIC_MAX_CONTEXTS = 15872;

export class PlicError extends Error {}

export interface PlicState {
  /** Priority of sources 0..ndev (index 0 is always 0). */
  priority: number[];
  /** Bitmaps of 32-bit words, source s at bit s%32 of word s>>5 (only bits of sources 1..ndev). */
  pending: number[];
  /** Input line levels. */
  level: number[];
  /** Claimed and not yet completed. */
  inFlight: number[];
  /** Enable bitmap per context. */
  enable: number[][];
  /** Priority threshold per context. */
  threshold: number[];
}

export class Plic implements MmioDevice, Persistent<PlicState> {
  readonly stateId = 'sifive-plic';
  readonly stateVersion = 1;
  /** Number of sources (ids 1..ndev). */
  readonly ndev: number;
  /** Number of contexts (2 per hart). */
  readonly contexts: number;
  private readonly harts: readonly HartIrq[];
  private readonly words: number;
  private readonly priority: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly level: Uint32Array;
  private readonly inFlight: Uint32Array;
  /** contexts * words enable bits. */
  private readonly enable: Uint32Array;
  private readonly threshold: Uint32Array;
  /** Last level driven per context: 0, 1, or -1 (unknown). */
  private readonly out: Int8Array;

  /**
   * @param harts the interrupt inputs of each hart, indexed by hart id
   * @param ndev number of interrupt sources (ids 1..ndev), PLIC_NDEV on the virt board
   */
  constructor(harts: readonly HartIrq[], ndev: number = PLIC_NDEV) {
    if (!Number.isInteger(ndev) || ndev < 1 || ndev > 1023) {
      throw new PlicError(`a PLIC has 1 to 1023 sources, got ${ndev}`);
    }
    if (harts.length < 1 || harts.length * 2 > PLIC_MAX_CONTEXTS) {
      throw new PlicError(`a PLIC serves 1 to ${PLIC_MAX_CONTEXTS / 2} harts, got ${harts.length}`);
    }
    this.harts = harts;
    this.ndev = ndev;
    this.contexts = harts.length * 2;
    this.words = (ndev + 32) >>> 5;
    this.priority = new Uint32Array(ndev + 1);
    this.pending = new Uint32Array(this.words);
    this.level = new Uint32Array(this.words);
    this.inFlight = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.contexts * this.words);
    this.threshold = new Uint32Array(this.contexts);
    this.out = new Int8Array(this.contexts).fill(-1);
  }

  /** The input line of source `src` (1..ndev), to hand to a device. */
  line(src: number): IrqLine {
    this.checkSource(src);
    return { set: (level: boolean) => this.setIrq(src, level) };
  }

  /** Drives the level of source `src` (1..ndev). */
  setIrq(src: number, level: boolean): void {
    this.checkSource(src);
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if (level) this.level[w] |= bit;
    else this.level[w] &= ~bit;
    if ((this.inFlight[w] & bit) !== 0) return;
    const was = this.pending[w];
    if (level) this.pending[w] |= bit;
    else this.pending[w] &= ~bit;
    if (was !== this.pending[w]) this.updateOutputs();
  }

  /** Claims for context `ctx` (what a read of its claim register does). */
  claim(ctx: number): number {
    const src = this.best(ctx);
    if (src !== 0) {
      const w = src >>> 5;
      const bit = 1 << (src & 31);
      this.pending[w] &= ~bit;
      this.inFlight[w] |= bit;
      this.updateOutputs();
    }
    return src;
  }

  /** Completes source `src` (a write to a context's claim register: any context, as on QEMU). */
  complete(src: number): void {
    if (src < 1 || src > this.ndev) return;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if ((this.inFlight[w] & bit) === 0) return;
    this.inFlight[w] &= ~bit;
    if ((this.level[w] & bit) !== 0) this.pending[w] |= bit;
    this.updateOutputs();
  }

  read(offset: number, size: number): number {
    const word = this.readWord(offset & ~3);
    if (size >= 4) return word >>> 0;
    return (word >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: number, value: number): void {
    const aligned = offset & ~3;
    let v = value >>> 0;
    if (size < 4) {
      // Claim/complete only makes sense as a whole word; other registers merge.
      if (this.isClaim(aligned)) return;
      const shift = (offset & 3) * 8;
      const mask = (size === 1 ? 0xff : 0xffff) << shift;
      v = ((this.readWord(aligned) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    this.writeWord(aligned, v);
  }

  private isClaim(off: number): boolean {
    return off >= PLIC_CONTEXT && (off & (PLIC_CONTEXT_STRIDE - 1)) === 4;
  }

  private readWord(off: number): number {
    if (off < PLIC_PENDING) {
      const src = off >>> 2;
      return src <= this.ndev ? this.priority[src] : 0;
    }
    if (off < PLIC_ENABLE) {
      const w = (off - PLIC_PENDING) >>> 2;
      return w < this.words ? this.pending[w] : 0;
    }
    if (off < PLIC_CONTEXT) {
      const ctx = Math.floor((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
      const w = ((off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE) >>> 2;
      return ctx < this.contexts && w < this.words ? this.enable[ctx * this.words + w] : 0;
    }
    const ctx = Math.floor((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    const reg = (off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx];
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  private writeWord(off: number, v: number): void {
    if (off < PLIC_PENDING) {
      const src = off >>> 2;
      if (src === 0 || src > this.ndev) return;
      this.priority[src] = v & PLIC_MAX_PRIORITY;
      this.updateOutputs();
      return;
    }
    if (off < PLIC_ENABLE) return; // pending bits are read-only
    if (off < PLIC_CONTEXT) {
      const ctx = Math.floor((off - PLIC_ENABLE) / PLIC_ENABLE_STRIDE);
      const w = ((off - PLIC_ENABLE) % PLIC_ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts || w >= this.words) return;
      this.enable[ctx * this.words + w] = v & this.validMask(w);
      this.updateOutputs();
      return;
    }
    const ctx = Math.floor((off - PLIC_CONTEXT) / PLIC_CONTEXT_STRIDE);
    if (ctx >= this.contexts) return;
    const reg = (off - PLIC_CONTEXT) % PLIC_CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = v & PLIC_MAX_PRIORITY;
      this.updateOutputs();
    } else if (reg === 4) {
      this.complete(v);
    }
  }

  /** Bits of enable word w that name real sources (not 0, not beyond ndev). */
  private validMask(w: number): number {
    let mask = 0xffffffff;
    if (w === 0) mask &= ~1;
    const last = this.ndev - w * 32; // highest valid bit in this word
    if (last < 31) mask &= (2 ** (last + 1) - 1) | 0;
    return mask;
  }

  /** Source a claim by `ctx` would return now, or 0. */
  private best(ctx: number): number {
    const base = ctx * this.words;
    const thr = this.threshold[ctx];
    let bestSrc = 0;
    let bestPrio = thr;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w] & this.enable[base + w];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = w * 32 + b;
        const p = this.priority[src];
        if (p > bestPrio) {
          bestPrio = p;
          bestSrc = src;
        }
      }
    }
    return bestSrc;
  }

  private updateOutputs(): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const level = this.best(ctx) !== 0 ? 1 : 0;
      if (this.out[ctx] !== level) {
        this.out[ctx] = level;
        this.harts[ctx >>> 1].setMip((ctx & 1) === 0 ? MIP_MEIP : MIP_SEIP, level === 1);
      }
    }
  }

  private checkSource(src: number): void {
    if (!Number.isInteger(src) || src < 1 || src > this.ndev) {
      throw new PlicError(`PLIC source ${src} does not exist: sources are 1..${this.ndev}`);
    }
  }

  saveState(): PlicState {
    const enable: number[][] = [];
    for (let c = 0; c < this.contexts; c++) {
      enable.push(Array.from(this.enable.subarray(c * this.words, (c + 1) * this.words)));
    }
    return {
      priority: Array.from(this.priority),
      pending: Array.from(this.pending),
      level: Array.from(this.level),
      inFlight: Array.from(this.inFlight),
      enable,
      threshold: Array.from(this.threshold),
    };
  }

  /** Validates a state for this PLIC: its source and context counts, valid bits and priorities only. */
  checkState(data: unknown): PlicState {
    const w = this.words;
    const bitmap = (v: unknown, path: string): number[] => {
      if (!Array.isArray(v) || v.length !== w) {
        throw new StateError(`${path} must be a bitmap of ${w} words for ${this.ndev} sources`);
      }
      return v.map((x, i) => {
        if (
          !Number.isInteger(x) ||
          x < 0 ||
          x > 0xffffffff ||
          ((x as number) & ~this.validMask(i)) !== 0
        ) {
          throw new StateError(
            `${path}[${i}] must be a word with bits of sources 1..${this.ndev} only, got ${JSON.stringify(x)}`,
          );
        }
        return x as number;
      });
    };
    return StateReader.read(data, (r) => {
      const priority = r.ints('priority', this.ndev + 1, this.ndev + 1, 0, PLIC_MAX_PRIORITY);
      if (priority[0] !== 0) throw new StateError('priority[0] must be 0: source 0 does not exist');
      const s: PlicState = {
        priority,
        pending: bitmap(r.raw('pending'), 'pending'),
        level: bitmap(r.raw('level'), 'level'),
        inFlight: bitmap(r.raw('inFlight'), 'inFlight'),
        enable: r.list('enable', this.contexts, this.contexts, (v, p) => bitmap(v, p)),
        threshold: r.ints('threshold', this.contexts, this.contexts, 0, PLIC_MAX_PRIORITY),
      };
      for (let i = 0; i < w; i++) {
        if ((s.pending[i] & s.inFlight[i]) !== 0) {
          throw new StateError(
            `pending[${i}] and inFlight[${i}] share sources: a claimed source is not pending`,
          );
        }
      }
      return s;
    });
  }

  /** Takes a checked state and drives every context's output again. */
  loadState(s: PlicState): void {
    this.priority.set(s.priority);
    this.pending.set(s.pending);
    this.level.set(s.level);
    this.inFlight.set(s.inFlight);
    for (let c = 0; c < this.contexts; c++) this.enable.set(s.enable[c], c * this.words);
    this.threshold.set(s.threshold);
    this.out.fill(-1);
    this.updateOutputs();
  }
}
