// The A extension: LR/SC with a reservation and the AMOs, 32- and 64-bit,
// on naturally aligned RAM addresses (misaligned ones trap). On RAM shared with harts on other
// threads (Ram.shared) every write here is a compare-and-swap (Atomics), so it is atomic
// against them.

import type { Hart } from './hart.js';
import type { Ram } from '../ram.js';
import { ACCESS_READ, ACCESS_WRITE, EXC_LOAD_MISALIGNED, EXC_STORE_MISALIGNED } from './causes.js';
import { Op } from './ops.js';

/** LR, SC and the AMOs. */
export function executeAtomic(h: Hart, op: Op, rd: number, rs1: number, rs2: number): void {
  const x = h.regs.x;
  const lo = x[rs1 << 1];
  const hi = x[(rs1 << 1) + 1];
  const dbl = op >= Op.LR_D;
  const size = dbl ? 8 : 4;
  const base = dbl ? op - (Op.LR_D - Op.LR_W) : op;
  const isLr = base === Op.LR_W;
  if ((lo & (size - 1)) !== 0) {
    throw h.trap.set(isLr ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, lo, hi);
  }
  const off = h.mmu.atomicOffset(lo, hi, size, isLr ? ACCESS_READ : ACCESS_WRITE);
  const ram = h.bus.ram;
  const m = ram.i32;
  const w = off >>> 2;
  const d = rd << 1;
  const bLo = x[rs2 << 1];
  const bHi = x[(rs2 << 1) + 1];
  if (isLr) {
    const oLo = m[w];
    const oHi = dbl ? m[w + 1] : oLo >> 31;
    h.reservation = off;
    h.reservedLo = oLo;
    h.reservedHi = oHi;
    x[d] = oLo;
    x[d + 1] = oHi;
    return;
  }
  if (base === Op.SC_W) {
    // Stored only if reserved here and memory still holds what the LR read (QEMU's choice: a
    // compare-and-swap, atomic against harts on other threads; it lets an ABA change through,
    // which RVWMO code does not rely on).
    const ok =
      h.reservation === off && storeIfHolds(ram, w, dbl, h.reservedLo, h.reservedHi, bLo, bHi);
    h.reservation = -1;
    x[d] = ok ? 0 : 1;
    x[d + 1] = 0;
    return;
  }
  for (;;) {
    const oLo = m[w];
    const oHi = dbl ? m[w + 1] : oLo >> 31;
    const [nLo, nHi] = amoResult(base, dbl, oLo, oHi, bLo, bHi);
    if (!ram.shared) {
      m[w] = nLo;
      if (dbl) m[w + 1] = nHi;
    } else if (!storeIfHolds(ram, w, dbl, oLo, oHi, nLo, nHi)) {
      continue; // another hart wrote the word meanwhile
    }
    x[d] = oLo;
    x[d + 1] = oHi;
    return;
  }
}

/**
 * Writes nLo (and nHi for a doubleword) at word `w` of RAM if it holds eLo (and eHi), atomically
 * when RAM is shared with harts on other threads; true when written.
 */
function storeIfHolds(
  ram: Ram,
  w: number,
  dbl: boolean,
  eLo: number,
  eHi: number,
  nLo: number,
  nHi: number,
): boolean {
  const m = ram.i32;
  if (!ram.shared) {
    if (m[w] !== eLo || (dbl && m[w + 1] !== eHi)) return false;
    m[w] = nLo;
    if (dbl) m[w + 1] = nHi;
    return true;
  }
  if (!dbl) return Atomics.compareExchange(m, w, eLo, nLo) === eLo;
  const e = (BigInt(eHi) << 32n) | BigInt(eLo >>> 0);
  const n = (BigInt(nHi) << 32n) | BigInt(nLo >>> 0);
  return Atomics.compareExchange(ram.i64, w >>> 1, e, n) === e;
}

/** The value an AMO (swap, add, xor, and, or, min, max, minu, maxu) stores, as [low, high]. */
function amoResult(
  base: Op,
  dbl: boolean,
  oLo: number,
  oHi: number,
  bLo: number,
  bHi: number,
): [number, number] {
  switch (base) {
    case Op.AMOSWAP_W:
      return [bLo, bHi];
    case Op.AMOADD_W: {
      const s = (oLo >>> 0) + (bLo >>> 0);
      return [s | 0, (oHi + bHi + (s > 0xffffffff ? 1 : 0)) | 0];
    }
    case Op.AMOXOR_W:
      return [oLo ^ bLo, oHi ^ bHi];
    case Op.AMOAND_W:
      return [oLo & bLo, oHi & bHi];
    case Op.AMOOR_W:
      return [oLo | bLo, oHi | bHi];
    default: {
      // min/max: compare as signed or unsigned 64-bit (32-bit values are sign-extended).
      const unsigned = base === Op.AMOMINU_W || base === Op.AMOMAXU_W;
      const wantMin = base === Op.AMOMIN_W || base === Op.AMOMINU_W;
      const cmpHiA = dbl ? (unsigned ? oHi >>> 0 : oHi) : 0;
      const cmpHiB = dbl ? (unsigned ? bHi >>> 0 : bHi) : 0;
      let less: boolean;
      if (dbl && cmpHiA !== cmpHiB) less = cmpHiA < cmpHiB;
      else if (!dbl && !unsigned) less = oLo < bLo;
      else less = oLo >>> 0 < bLo >>> 0;
      return (wantMin ? less : !less) ? [oLo, oHi] : [bLo, bHi];
    }
  }
}
