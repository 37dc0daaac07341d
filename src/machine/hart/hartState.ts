// The hart's complete architectural state as saved state (the persistence
// contract of state/persistent.ts): pc, privilege, integer and floating-point
// registers, CSRs, minstret/mcycle, the LR/SC reservation, WFI and the PMP.
// Every 64-bit value goes through the U64 codec. TLBs, decoded instructions
// and translated blocks are caches: a restore flushes them.

import { SATP_BARE, SATP_SV39, SATP_SV48, SATP_SV57 } from './mmu.js';
import { PMP_ENTRIES } from './pmp.js';
import { PRIV_M, PRIV_S, PRIV_U } from './causes.js';
import type { Hart } from './hart.js';
import { StateError } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import {
  i64ToNumber,
  u64FromHalves,
  u64FromNumber,
  u64Halves,
  u64ToNumber,
  type U64,
} from '../state/u64.js';

export const HART_STATE_ID = 'rv64gc-hart';
export const HART_STATE_VERSION = 1;

/** CSRs kept as (Lo, Hi) halves in Hart; saved under the name without the suffix. */
const PAIRS = [
  'mtvec',
  'stvec',
  'mepc',
  'sepc',
  'mcause',
  'scause',
  'mtval',
  'stval',
  'mscratch',
  'sscratch',
  'satp',
  'stimecmp',
  'menvcfg',
] as const;
/** CSRs Hart keeps as one 32-bit number (their upper halves are zero or fixed). */
const WORDS = [
  'mstatus',
  'medeleg',
  'mideleg',
  'mie',
  'mip',
  'mcounteren',
  'scounteren',
  'senvcfg',
  'mcountinhibit',
] as const;

type CsrName = (typeof PAIRS)[number] | (typeof WORDS)[number];

export interface PmpState {
  /** pmpNcfg bytes. */
  cfg: number[];
  /** pmpaddrN (address bits 55:2). */
  addr: U64[];
}

export interface HartState {
  pc: U64;
  /** Privilege level: 0 (U), 1 (S) or 3 (M). */
  priv: number;
  x: U64[];
  f: U64[];
  fflags: number;
  frm: number;
  csr: Record<CsrName, U64>;
  /** minstret. */
  instret: U64;
  /** mcycle minus minstret (signed). */
  cycleDelta: U64;
  /** LR/SC reservation: a RAM offset, or -1. */
  reservation: number;
  wfi: boolean;
  pmp: PmpState;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const SATP_MODES = [SATP_BARE, SATP_SV39, SATP_SV48, SATP_SV57];

export function saveHart(h: Hart): HartState {
  const x: U64[] = [];
  const f: U64[] = [];
  for (let r = 0; r < 32; r++) {
    x.push(u64FromHalves(h.regs.x[2 * r], h.regs.x[2 * r + 1]));
    f.push(u64FromHalves(h.fregs.u[2 * r], h.fregs.u[2 * r + 1]));
  }
  const rec = h as unknown as Record<string, number>;
  const csr = {} as Record<CsrName, U64>;
  for (const p of PAIRS) csr[p] = u64FromHalves(rec[p + 'Lo'], rec[p + 'Hi']);
  for (const w of WORDS) csr[w] = u64FromHalves(rec[w], 0);
  const pmp = h.mmu.pmp;
  return {
    pc: u64FromHalves(h.pcLo, h.pcHi),
    priv: h.priv,
    x,
    f,
    fflags: h.fregs.flags,
    frm: h.fregs.frm,
    csr,
    instret: u64FromNumber(h.currentInstret()),
    cycleDelta: u64FromNumber(h.cycleDelta),
    reservation: h.reservation,
    wfi: h.wfi,
    pmp: {
      cfg: Array.from(pmp.cfg),
      addr: Array.from(pmp.addrLo, (lo, i) => u64FromHalves(lo, pmp.addrHi[i])),
    },
  };
}

/** Validates a saved hart state for hart `h` (whose RAM bounds the reservation). */
export function checkHart(h: Hart, data: unknown): HartState {
  return StateReader.read(data, (r) => {
    const priv = r.int('priv', 0, 3);
    if (priv !== PRIV_U && priv !== PRIV_S && priv !== PRIV_M) {
      throw new StateError(`priv must be 0 (U), 1 (S) or 3 (M), got ${priv}`);
    }
    const x = r.u64s('x', 32, 32);
    if (x[0] !== '0000000000000000') throw new StateError('x[0] must be 0, got ' + x[0]);
    const csr = r.object('csr', (c) => {
      const out = {} as Record<CsrName, U64>;
      for (const p of PAIRS) out[p] = c.u64(p);
      for (const w of WORDS) out[w] = c.u64(w, 0xffffffffn);
      return out;
    });
    const mode = u64Halves(csr.satp)[1] >>> 28;
    if (!SATP_MODES.includes(mode)) {
      throw new StateError(`csr.satp has mode ${mode}; the modes are 0 (bare), 8, 9 and 10`);
    }
    const cycleDelta = r.u64('cycleDelta');
    if (!Number.isSafeInteger(i64ToNumber(cycleDelta))) {
      throw new StateError(`cycleDelta must be a safe integer, got ${cycleDelta}`);
    }
    const pmp = r.object('pmp', (p) => ({
      cfg: p.list('cfg', PMP_ENTRIES, PMP_ENTRIES, (v, path) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) {
          throw new StateError(`${path} must be a byte, got ${JSON.stringify(v)}`);
        }
        if ((v & 0x60) !== 0 || (v & 3) === 2) {
          throw new StateError(`${path} 0x${v.toString(16)} has reserved bits or W without R`);
        }
        return v;
      }),
      addr: p.u64s('addr', PMP_ENTRIES, PMP_ENTRIES, (1n << 54n) - 1n),
    }));
    return {
      pc: r.u64('pc'),
      priv,
      x,
      f: r.u64s('f', 32, 32),
      fflags: r.int('fflags', 0, 0x1f),
      frm: r.int('frm', 0, 7),
      csr,
      instret: r.u64('instret', MAX_SAFE),
      cycleDelta,
      reservation: r.int('reservation', -1, h.bus.ram.size - 1),
      wfi: r.bool('wfi'),
      pmp,
    };
  });
}

/** Commits a checked state to `h` (the hart then flushes its caches). */
export function loadHart(h: Hart, s: HartState): void {
  [h.pcLo, h.pcHi] = u64Halves(s.pc);
  h.priv = s.priv;
  for (let r = 0; r < 32; r++) {
    const [xl, xh] = u64Halves(s.x[r]);
    h.regs.x[2 * r] = xl;
    h.regs.x[2 * r + 1] = xh;
    const [fl, fh] = u64Halves(s.f[r]);
    h.fregs.u[2 * r] = fl;
    h.fregs.u[2 * r + 1] = fh;
  }
  h.fregs.flags = s.fflags;
  h.fregs.frm = s.frm;
  const rec = h as unknown as Record<string, number>;
  for (const p of PAIRS) [rec[p + 'Lo'], rec[p + 'Hi']] = u64Halves(s.csr[p]);
  for (const w of WORDS) rec[w] = u64Halves(s.csr[w])[0];
  h.setRetired(u64ToNumber(s.instret), i64ToNumber(s.cycleDelta));
  h.reservation = s.reservation;
  // The value the LR read is what memory holds (RAM is loaded before the harts).
  const w = s.reservation >>> 2;
  h.reservedLo = s.reservation >= 0 ? h.bus.ram.i32[w] : 0;
  h.reservedHi = s.reservation >= 0 && w + 1 < h.bus.ram.i32.length ? h.bus.ram.i32[w + 1] : 0;
  h.wfi = s.wfi;
  const addr = s.pmp.addr.map(u64Halves);
  h.mmu.pmp.load(
    s.pmp.cfg,
    addr.map((a) => a[0]),
    addr.map((a) => a[1]),
  );
  h.mmu.setSatp(h.satpLo, h.satpHi);
  h.mmu.pbmte = (h.menvcfgHi & (1 << 30)) !== 0;
}
