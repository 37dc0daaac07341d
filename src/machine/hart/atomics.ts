// The A extension: LR/SC with a reservation and the AMOs, 32- and 64-bit,
// on naturally aligned RAM addresses (misaligned ones trap).

import type { Hart } from './hart.js';
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
  const m = h.bus.ram.i32;
  const w = off >>> 2;
  const d = rd << 1;
  const bLo = x[rs2 << 1];
  const bHi = x[(rs2 << 1) + 1];
  const oLo = m[w];
  const oHi = dbl ? m[w + 1] : oLo >> 31;
  if (isLr) {
    h.reservation = off;
    x[d] = oLo;
    x[d + 1] = oHi;
    return;
  }
  if (base === Op.SC_W) {
    const ok = h.reservation === off;
    h.reservation = -1;
    if (ok) {
      m[w] = bLo;
      if (dbl) m[w + 1] = bHi;
    }
    x[d] = ok ? 0 : 1;
    x[d + 1] = 0;
    return;
  }
  let nLo = 0;
  let nHi = 0;
  switch (base) {
    case Op.AMOSWAP_W:
      nLo = bLo;
      nHi = bHi;
      break;
    case Op.AMOADD_W: {
      const s = (oLo >>> 0) + (bLo >>> 0);
      nLo = s | 0;
      nHi = (oHi + bHi + (s > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case Op.AMOXOR_W:
      nLo = oLo ^ bLo;
      nHi = oHi ^ bHi;
      break;
    case Op.AMOAND_W:
      nLo = oLo & bLo;
      nHi = oHi & bHi;
      break;
    case Op.AMOOR_W:
      nLo = oLo | bLo;
      nHi = oHi | bHi;
      break;
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
      const takeOld = wantMin ? less : !less;
      nLo = takeOld ? oLo : bLo;
      nHi = takeOld ? oHi : bHi;
    }
  }
  m[w] = nLo;
  if (dbl) m[w + 1] = nHi;
  x[d] = oLo;
  x[d + 1] = oHi;
}
