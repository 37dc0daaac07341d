// The fcsr group: reads and writes of fflags, frm and fcsr in every Zicsr form (register and
// immediate, write, set, clear; rd = x0, rs1 = x0, rd = rs1) on values with stray high bits,
// interleaved with F/D operations that raise flags and use the dynamic rounding mode, and with
// integer work so that the accesses sit inside longer translated blocks. The translated blocks
// read and write these CSRs themselves (src/machine/hart/jit/csrEmitter.ts).

import { type CaseBuilder, xn } from './caseModel.js';
import { fpMixOp, initFp } from './genFp.js';
import { aluOp } from './genInt.js';
import { randInt } from './values.js';

const FP_CSRS = ['fflags', 'frm', 'fcsr'];

export function genFcsr(b: CaseBuilder): void {
  const r = b.r;
  initFp(b, r.bool(0.2));
  // Values whose frm bits (0..2 for frm, 5..7 for fcsr) are valid modes, any byte, and 64-bit
  // values whose high bits must be dropped. An invalid mode makes the next dynamic-rounding
  // operation trap, on both sides: that ends the case.
  for (let i = 1; i < 32; i++) {
    if (i === 2) continue;
    const k = r.int(10);
    if (k < 5) b.c.x[i] = BigInt(r.int(5) | (r.int(4) << 3) | (r.int(5) << 5));
    else if (k < 7) b.c.x[i] = BigInt(r.int(256));
    else b.c.x[i] = randInt(r);
  }
  b.c.fcsr = (r.int(5) << 5) | r.int(32);
  for (let n = r.range(12, 30); n > 0; n--) {
    const k = r.int(10);
    if (k < 4) csrAccess(b);
    else if (k < 6) aluOp(b);
    else fpMixOp(b);
  }
  // The final state: every CSR's value to a register as well as the record's fcsr.
  b.emit(`frflags ${xn(b.destX(0))}`, `frrm ${xn(b.destX(0))}`);
}

function csrAccess(b: CaseBuilder): void {
  const r = b.r;
  const d = b.destX(0.15);
  // rs1 = rd now and then (the old value goes to rd after the source is read).
  const s = r.bool(0.1) ? 0 : r.bool(0.15) && d !== 0 ? d : b.srcX();
  // Dynamic-rounding operations trap on frm 5..7: set modes 0..4 mostly.
  const u = r.bool(0.2) ? 0 : r.bool(0.7) ? r.int(5) : r.int(32);
  const csr = r.pick(FP_CSRS);
  switch (r.int(4)) {
    case 0:
      b.emit(`${r.pick(['csrrw', 'csrrs', 'csrrc'])} ${xn(d)}, ${csr}, ${xn(s)}`);
      break;
    case 1:
      b.emit(`${r.pick(['csrrwi', 'csrrsi', 'csrrci'])} ${xn(d)}, ${csr}, ${u}`);
      break;
    case 2:
      b.emit(
        r.pick([
          `frcsr ${xn(d)}`,
          `frrm ${xn(d)}`,
          `frflags ${xn(d)}`,
          `fsflags ${xn(d)}, ${xn(s)}`,
          `fsflags ${xn(s)}`,
          `fscsr ${xn(d)}, ${xn(s)}`,
          `csrr ${xn(d)}, ${csr}`,
        ]),
      );
      break;
    default:
      // Rounding-mode writes keep to valid modes here, from a register set just before.
      if (r.bool()) {
        const t = b.destX(0);
        b.emit(`li ${xn(t)}, ${r.int(5) | (r.bool(0.3) ? r.int(256) << 3 : 0)}`);
        b.emit(r.bool() ? `fsrm ${xn(d)}, ${xn(t)}` : `fsrm ${xn(t)}`);
      } else b.emit(r.bool() ? `fsrmi ${xn(d)}, ${r.int(5)}` : `fsflagsi ${xn(d)}, ${r.int(32)}`);
  }
}
