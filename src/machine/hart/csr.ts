// Control and status registers: numbers, access rules and the read/write
// semantics of each (privileged spec v1.12, Sstc, Zicntr, F/D fcsr).
// Values move as 32-bit halves so no BigInt is made on the way.

import type { Hart } from './hart.js';
import {
  MIP_MEIP,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  PRIV_M,
  PRIV_S,
} from './causes.js';
import { SATP_BARE, SATP_SV39, SATP_SV48, SATP_SV57 } from './mmu.js';
import { PMP_ENTRIES } from './pmp.js';

export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
export const CSR_SSTATUS = 0x100;
export const CSR_SIE = 0x104;
export const CSR_STVEC = 0x105;
export const CSR_SCOUNTEREN = 0x106;
export const CSR_SENVCFG = 0x10a;
export const CSR_SSCRATCH = 0x140;
export const CSR_SEPC = 0x141;
export const CSR_SCAUSE = 0x142;
export const CSR_STVAL = 0x143;
export const CSR_SIP = 0x144;
export const CSR_STIMECMP = 0x14d;
export const CSR_SATP = 0x180;
export const CSR_MVENDORID = 0xf11;
export const CSR_MARCHID = 0xf12;
export const CSR_MIMPID = 0xf13;
export const CSR_MHARTID = 0xf14;
export const CSR_MCONFIGPTR = 0xf15;
export const CSR_MSTATUS = 0x300;
export const CSR_MISA = 0x301;
export const CSR_MEDELEG = 0x302;
export const CSR_MIDELEG = 0x303;
export const CSR_MIE = 0x304;
export const CSR_MTVEC = 0x305;
export const CSR_MCOUNTEREN = 0x306;
export const CSR_MENVCFG = 0x30a;
export const CSR_MCOUNTINHIBIT = 0x320;
export const CSR_MSCRATCH = 0x340;
export const CSR_MEPC = 0x341;
export const CSR_MCAUSE = 0x342;
export const CSR_MTVAL = 0x343;
export const CSR_MIP = 0x344;
export const CSR_PMPCFG0 = 0x3a0;
export const CSR_PMPADDR0 = 0x3b0;
export const CSR_MCYCLE = 0xb00;
export const CSR_MINSTRET = 0xb02;

// mstatus fields (all in the low half).
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_MPP_SHIFT = 11;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_FS_DIRTY = 3 << 13;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;

const MSTATUS_WRITABLE =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
/** The mstatus bits sstatus shows and writes. */
export const SSTATUS_MASK =
  MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;
/** mstatus high half: UXL = SXL = 2 (64-bit). */
const MSTATUS_HI = 0xa;
/** sstatus high half: UXL = 2 (SD, bit 63, is computed from FS). */
export const SSTATUS_HI = 0x2;

/** misa: RV64 with A, C, D, F, I, M, S, U. */
export const MISA_LO =
  (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = 2 << 30;

const MIE_MASK = MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP;
const MIDELEG_MASK = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** Exceptions that may be delegated: all but ecall from M-mode. */
const MEDELEG_MASK = 0xb3ff;
/** menvcfg high half: STCE (bit 63) and PBMTE (bit 62). */
export const MENVCFG_STCE = 1 << 31;
export const MENVCFG_PBMTE = 1 << 30;

/**
 * 1 for the CSRs that translated blocks access themselves (jit/csrEmitter.ts), by number: fflags,
 * frm, fcsr, sscratch, sepc, scause, stval and sstatus. After an access to one of them neither
 * engine looks for interrupts (an access changes nothing an interrupt depends on), unless it set
 * sstatus.SIE; after any other CSR instruction both do. So both take an interrupt that became
 * pending meanwhile (the Sstc timer, as time passes) after the same instruction.
 */
export const CSR_IN_BLOCKS = new Uint8Array(4096);
for (const c of [
  CSR_FFLAGS,
  CSR_FRM,
  CSR_FCSR,
  CSR_SSCRATCH,
  CSR_SEPC,
  CSR_SCAUSE,
  CSR_STVAL,
  CSR_SSTATUS,
])
  CSR_IN_BLOCKS[c] = 1;

export function fsOn(h: Hart): boolean {
  return (h.mstatus & MSTATUS_FS) !== 0;
}

function counterAllowed(h: Hart, idx: number): boolean {
  if (h.priv === PRIV_M) return true;
  if (((h.mcounteren >>> idx) & 1) === 0) return false;
  return h.priv === PRIV_S || ((h.scounteren >>> idx) & 1) !== 0;
}

function setPair(h: Hart, lo: number, hi: number): true {
  h.csrLo = lo | 0;
  h.csrHi = hi | 0;
  return true;
}

function setNumber(h: Hart, v: number): true {
  return setPair(h, v % 4294967296, Math.floor(v / 4294967296));
}

/**
 * Reads CSR `num` into h.csrLo/h.csrHi. Returns false when the CSR does not
 * exist or is not accessible at the current privilege level (illegal instruction).
 */
export function readCsr(h: Hart, num: number): boolean {
  if (h.priv < ((num >>> 8) & 3)) return false;
  switch (num) {
    case CSR_FFLAGS:
      return fsOn(h) && setPair(h, h.fregs.flags, 0);
    case CSR_FRM:
      return fsOn(h) && setPair(h, h.fregs.frm, 0);
    case CSR_FCSR:
      return fsOn(h) && setPair(h, (h.fregs.frm << 5) | h.fregs.flags, 0);
    case CSR_CYCLE:
      return counterAllowed(h, 0) && setNumber(h, h.currentCycle());
    case CSR_TIME:
      return counterAllowed(h, 1) && setNumber(h, h.readTime());
    case CSR_INSTRET:
      return counterAllowed(h, 2) && setNumber(h, h.currentInstret());
    case CSR_SSTATUS:
      return setPair(h, h.mstatus & SSTATUS_MASK, SSTATUS_HI | (fsDirty(h) ? 1 << 31 : 0));
    case CSR_SIE:
      return setPair(h, h.mie & h.mideleg, 0);
    case CSR_STVEC:
      return setPair(h, h.stvecLo, h.stvecHi);
    case CSR_SCOUNTEREN:
      return setPair(h, h.scounteren, 0);
    case CSR_SENVCFG:
      return setPair(h, h.senvcfg, 0);
    case CSR_SSCRATCH:
      return setPair(h, h.sscratchLo, h.sscratchHi);
    case CSR_SEPC:
      return setPair(h, h.sepcLo, h.sepcHi);
    case CSR_SCAUSE:
      return setPair(h, h.scauseLo, h.scauseHi);
    case CSR_STVAL:
      return setPair(h, h.stvalLo, h.stvalHi);
    case CSR_SIP:
      return setPair(h, h.effectiveMip() & h.mideleg, 0);
    case CSR_STIMECMP:
      if (!stimecmpAllowed(h)) return false;
      return setPair(h, h.stimecmpLo, h.stimecmpHi);
    case CSR_SATP:
      if (h.priv === PRIV_S && (h.mstatus & MSTATUS_TVM) !== 0) return false;
      return setPair(h, h.satpLo, h.satpHi);
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR:
      return setPair(h, 0, 0);
    case CSR_MHARTID:
      return setPair(h, h.hartId, 0);
    case CSR_MSTATUS:
      return setPair(h, h.mstatus, MSTATUS_HI | (fsDirty(h) ? 1 << 31 : 0));
    case CSR_MISA:
      return setPair(h, MISA_LO, MISA_HI);
    case CSR_MEDELEG:
      return setPair(h, h.medeleg, 0);
    case CSR_MIDELEG:
      return setPair(h, h.mideleg, 0);
    case CSR_MIE:
      return setPair(h, h.mie, 0);
    case CSR_MTVEC:
      return setPair(h, h.mtvecLo, h.mtvecHi);
    case CSR_MCOUNTEREN:
      return setPair(h, h.mcounteren, 0);
    case CSR_MENVCFG:
      return setPair(h, h.menvcfgLo, h.menvcfgHi);
    case CSR_MCOUNTINHIBIT:
      return setPair(h, h.mcountinhibit, 0);
    case CSR_MSCRATCH:
      return setPair(h, h.mscratchLo, h.mscratchHi);
    case CSR_MEPC:
      return setPair(h, h.mepcLo, h.mepcHi);
    case CSR_MCAUSE:
      return setPair(h, h.mcauseLo, h.mcauseHi);
    case CSR_MTVAL:
      return setPair(h, h.mtvalLo, h.mtvalHi);
    case CSR_MIP:
      return setPair(h, h.effectiveMip(), 0);
    case CSR_MCYCLE:
      return setNumber(h, h.currentCycle());
    case CSR_MINSTRET:
      return setNumber(h, h.currentInstret());
  }
  if (num >= CSR_PMPCFG0 && num < CSR_PMPCFG0 + 16) {
    if (num & 1) return false;
    const reg = (num - CSR_PMPCFG0) >> 1;
    if (reg * 8 >= PMP_ENTRIES) return setPair(h, 0, 0);
    return setPair(h, h.mmu.pmp.readCfg(reg * 2, false), h.mmu.pmp.readCfg(reg * 2, true));
  }
  if (num >= CSR_PMPADDR0 && num < CSR_PMPADDR0 + 64) {
    const i = num - CSR_PMPADDR0;
    if (i >= PMP_ENTRIES) return setPair(h, 0, 0);
    return setPair(h, h.mmu.pmp.addrLo[i], h.mmu.pmp.addrHi[i]);
  }
  // Unimplemented hardware performance counters and events read as zero.
  if (
    (num >= 0xc03 && num <= 0xc1f) ||
    (num >= 0xb03 && num <= 0xb1f) ||
    (num >= 0x323 && num <= 0x33f)
  ) {
    if (num >= 0xc03 && num <= 0xc1f && !counterAllowed(h, num & 31)) return false;
    return setPair(h, 0, 0);
  }
  return false;
}

function fsDirty(h: Hart): boolean {
  return (h.mstatus & MSTATUS_FS) === MSTATUS_FS_DIRTY;
}

function stimecmpAllowed(h: Hart): boolean {
  if (h.priv === PRIV_M) return true;
  return (h.menvcfgHi & MENVCFG_STCE) !== 0 && (h.mcounteren & 2) !== 0;
}

/**
 * Writes (lo, hi) to CSR `num`, whose current value was just read successfully.
 * Returns false when the CSR is read-only (illegal instruction).
 */
export function writeCsr(h: Hart, num: number, lo: number, hi: number): boolean {
  if (num >>> 10 === 3) return false;
  switch (num) {
    case CSR_FFLAGS:
      h.fregs.flags = lo & 0x1f;
      h.mstatus |= MSTATUS_FS_DIRTY;
      return true;
    case CSR_FRM:
      h.fregs.frm = lo & 7;
      h.mstatus |= MSTATUS_FS_DIRTY;
      return true;
    case CSR_FCSR:
      h.fregs.flags = lo & 0x1f;
      h.fregs.frm = (lo >>> 5) & 7;
      h.mstatus |= MSTATUS_FS_DIRTY;
      return true;
    case CSR_SSTATUS:
      return writeStatus(h, (h.mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
    case CSR_SIE:
      h.mie = (h.mie & ~h.mideleg) | (lo & h.mideleg & MIE_MASK);
      return true;
    case CSR_STVEC:
      return writeTvec(h, false, lo, hi);
    case CSR_SCOUNTEREN:
      h.scounteren = lo & 7;
      return true;
    case CSR_SENVCFG:
      h.senvcfg = lo & 1;
      return true;
    case CSR_SSCRATCH:
      h.sscratchLo = lo;
      h.sscratchHi = hi;
      return true;
    case CSR_SEPC:
      h.sepcLo = lo & ~1;
      h.sepcHi = hi;
      return true;
    case CSR_SCAUSE:
      h.scauseLo = lo;
      h.scauseHi = hi & (1 << 31);
      return true;
    case CSR_STVAL:
      h.stvalLo = lo;
      h.stvalHi = hi;
      return true;
    case CSR_SIP:
      if (h.mideleg & MIP_SSIP) h.mip = (h.mip & ~MIP_SSIP) | (lo & MIP_SSIP);
      return true;
    case CSR_STIMECMP:
      h.stimecmpLo = lo;
      h.stimecmpHi = hi;
      return true;
    case CSR_SATP:
      return writeSatp(h, lo, hi);
    case CSR_MSTATUS:
      return writeStatus(h, (h.mstatus & ~MSTATUS_WRITABLE) | (lo & MSTATUS_WRITABLE));
    case CSR_MISA:
      return true; // WARL: the extensions cannot be switched off
    case CSR_MEDELEG:
      h.medeleg = lo & MEDELEG_MASK;
      return true;
    case CSR_MIDELEG:
      h.mideleg = lo & MIDELEG_MASK;
      return true;
    case CSR_MIE:
      h.mie = lo & MIE_MASK;
      return true;
    case CSR_MTVEC:
      return writeTvec(h, true, lo, hi);
    case CSR_MCOUNTEREN:
      h.mcounteren = lo & 7;
      return true;
    case CSR_MENVCFG:
      h.menvcfgLo = lo & 1;
      h.menvcfgHi = hi & (MENVCFG_STCE | MENVCFG_PBMTE);
      h.mmu.pbmte = (h.menvcfgHi & MENVCFG_PBMTE) !== 0;
      h.mmu.flush();
      return true;
    case CSR_MCOUNTINHIBIT:
      // Inhibiting is not implemented, so every bit is read-only zero (WARL).
      h.mcountinhibit = 0;
      return true;
    case CSR_MSCRATCH:
      h.mscratchLo = lo;
      h.mscratchHi = hi;
      return true;
    case CSR_MEPC:
      h.mepcLo = lo & ~1;
      h.mepcHi = hi;
      return true;
    case CSR_MCAUSE:
      h.mcauseLo = lo;
      h.mcauseHi = hi & (1 << 31);
      return true;
    case CSR_MTVAL:
      h.mtvalLo = lo;
      h.mtvalHi = hi;
      return true;
    case CSR_MIP: {
      let mask = MIP_SSIP | MIP_SEIP;
      if ((h.menvcfgHi & MENVCFG_STCE) === 0) mask |= MIP_STIP;
      h.mip = (h.mip & ~mask) | (lo & mask);
      return true;
    }
    case CSR_MCYCLE:
      h.setCycle((hi >>> 0) * 4294967296 + (lo >>> 0));
      return true;
    case CSR_MINSTRET:
      h.setInstret((hi >>> 0) * 4294967296 + (lo >>> 0));
      return true;
  }
  if (num >= CSR_PMPCFG0 && num < CSR_PMPCFG0 + 16) {
    const reg = (num - CSR_PMPCFG0) >> 1;
    if (reg * 8 < PMP_ENTRIES) h.mmu.pmp.writeCfg(reg * 2, lo, hi);
    h.mmu.flush();
    return true;
  }
  if (num >= CSR_PMPADDR0 && num < CSR_PMPADDR0 + 64) {
    const i = num - CSR_PMPADDR0;
    if (i < PMP_ENTRIES) h.mmu.pmp.writeAddr(i, lo, hi);
    h.mmu.flush();
    return true;
  }
  return true; // hpm counters and events: writes ignored
}

function writeStatus(h: Hart, v: number): true {
  if ((v & MSTATUS_MPP) >>> MSTATUS_MPP_SHIFT === 2)
    v = (v & ~MSTATUS_MPP) | (h.mstatus & MSTATUS_MPP);
  h.mstatus = v;
  h.updateMmuMode();
  return true;
}

function writeTvec(h: Hart, m: boolean, lo: number, hi: number): true {
  // Modes 0 (direct) and 1 (vectored); reserved modes leave the mode direct.
  const mode = lo & 3;
  const v = (lo & ~3) | (mode === 1 ? 1 : 0);
  if (m) {
    h.mtvecLo = v;
    h.mtvecHi = hi;
  } else {
    h.stvecLo = v;
    h.stvecHi = hi;
  }
  return true;
}

function writeSatp(h: Hart, lo: number, hi: number): boolean {
  if (h.priv === PRIV_S && (h.mstatus & MSTATUS_TVM) !== 0) return false;
  const mode = hi >>> 28;
  if (mode !== SATP_BARE && mode !== SATP_SV39 && mode !== SATP_SV48 && mode !== SATP_SV57)
    return true;
  // Physical page number: 44 bits; ASID: 16 bits (all writable).
  h.satpLo = lo;
  h.satpHi = hi;
  h.mmu.setSatp(lo, hi);
  return true;
}
