// Instructions that change privileged state: the Zicsr instructions, MRET,
// SRET, WFI and SFENCE.VMA (privileged spec v1.12), with their legality rules.

import type { Hart } from './hart.js';
import { EXC_ILLEGAL, MIP_SEIP, PRIV_M, PRIV_S, PRIV_U } from './causes.js';
import {
  CSR_MIP,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
  readCsr,
  writeCsr,
} from './csr.js';
import { Op } from './ops.js';

function illegal(h: Hart, inst: number): never {
  throw h.trap.set(EXC_ILLEGAL, inst, 0);
}

/** Sets pcLo/pcHi to pc + len. */
function advance(h: Hart, len: number): void {
  const s = (h.pcLo >>> 0) + len;
  h.pcLo = s | 0;
  if (s > 0xffffffff) h.pcHi = (h.pcHi + 1) | 0;
}

/**
 * Executes the instructions that change privileged state (CSRs, xRET, WFI,
 * SFENCE.VMA). pc is in pcLo/pcHi; on return it holds the next pc.
 */
export function executeSystem(
  h: Hart,
  op: Op,
  rd: number,
  rs1: number,
  csr: number,
  inst: number,
  len: number,
): void {
  const x = h.regs.x;
  switch (op) {
    case Op.CSRRW:
    case Op.CSRRS:
    case Op.CSRRC:
    case Op.CSRRWI:
    case Op.CSRRSI:
    case Op.CSRRCI: {
      const imm = op >= Op.CSRRWI;
      const srcLo = imm ? rs1 : x[rs1 << 1];
      const srcHi = imm ? 0 : x[(rs1 << 1) + 1];
      const isWrite = op === Op.CSRRW || op === Op.CSRRWI || rs1 !== 0;
      if (!readCsr(h, csr)) illegal(h, inst);
      const oldLo = h.csrLo;
      const oldHi = h.csrHi;
      if (isWrite) {
        let lo = srcLo;
        let hi = srcHi;
        // mip.SEIP reads as its software bit ORed with the PLIC's line, but a set or clear
        // rewrites the software bit only (privileged spec, 3.1.9): OpenSBI sets mip.SSIP to
        // pass on an IPI while the line may be high, which must not latch SEIP.
        const baseLo = csr === CSR_MIP ? (oldLo & ~MIP_SEIP) | (h.mip & MIP_SEIP) : oldLo;
        if (op === Op.CSRRS || op === Op.CSRRSI) {
          lo |= baseLo;
          hi |= oldHi;
        } else if (op === Op.CSRRC || op === Op.CSRRCI) {
          lo = baseLo & ~lo;
          hi = oldHi & ~hi;
        }
        if (!writeCsr(h, csr, lo, hi)) illegal(h, inst);
      }
      x[rd << 1] = oldLo;
      x[(rd << 1) + 1] = oldHi;
      break;
    }
    case Op.MRET: {
      if (h.priv < PRIV_M) illegal(h, inst);
      const ms = h.mstatus;
      const mpp = (ms & MSTATUS_MPP) >>> 11;
      let n = (ms & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE;
      if ((ms & MSTATUS_MPIE) !== 0) n |= MSTATUS_MIE;
      if (mpp !== PRIV_M) n &= ~MSTATUS_MPRV;
      h.mstatus = n;
      h.priv = mpp;
      h.pcLo = h.mepcLo;
      h.pcHi = h.mepcHi;
      h.updateMmuMode();
      return;
    }
    case Op.SRET: {
      if (h.priv < PRIV_S || (h.priv === PRIV_S && (h.mstatus & MSTATUS_TSR) !== 0)) {
        illegal(h, inst);
      }
      const ms = h.mstatus;
      let n = (ms & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | MSTATUS_SPIE;
      if ((ms & MSTATUS_SPIE) !== 0) n |= MSTATUS_SIE;
      h.mstatus = n;
      h.priv = (ms & MSTATUS_SPP) !== 0 ? PRIV_S : PRIV_U;
      h.pcLo = h.sepcLo;
      h.pcHi = h.sepcHi;
      h.updateMmuMode();
      return;
    }
    case Op.WFI:
      if (h.priv === PRIV_U || (h.priv === PRIV_S && (h.mstatus & MSTATUS_TW) !== 0)) {
        illegal(h, inst);
      }
      h.wfi = true;
      break;
    case Op.SFENCE_VMA: {
      if (h.priv === PRIV_U || (h.priv === PRIV_S && (h.mstatus & MSTATUS_TVM) !== 0)) {
        illegal(h, inst);
      }
      // rs2 names an address space; a page's entry is dropped whichever space it is of.
      const rs2 = (inst >>> 20) & 31;
      if (rs1 !== 0) h.mmu.flushPage(x[rs1 << 1], x[(rs1 << 1) + 1]);
      else if (rs2 !== 0) h.mmu.flushAsid(x[rs2 << 1] & 0xffff);
      else h.mmu.flush();
      break;
    }
    default:
      illegal(h, inst);
  }
  advance(h, len);
}
