// Save and restore of the hart's complete architectural state as plain,
// JSON-safe data (64-bit values as 16-digit hex strings).

import type { Hart } from './hart.js';
import type { PmpState } from './pmp.js';

export interface HartState {
  version: 1;
  pc: string;
  priv: number;
  x: string[];
  f: string[];
  fflags: number;
  frm: number;
  csr: Record<string, string>;
  instret: number;
  cycleDelta: number;
  reservation: number;
  wfi: boolean;
  pmp: PmpState;
}

/** Fields of Hart kept as (Lo, Hi) halves; saved under the name without the suffix. */
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
/** Fields of Hart that are plain numbers below 2^32. */
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

function hex(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

function parseHex(s: string, what: string): [number, number] {
  if (typeof s !== 'string' || !/^[0-9a-f]{16}$/.test(s)) {
    throw new Error(`hart state: ${what} must be 16 hex digits, got ${JSON.stringify(s)}`);
  }
  return [parseInt(s.slice(8), 16) | 0, parseInt(s.slice(0, 8), 16) | 0];
}

export function saveHart(h: Hart): HartState {
  const x: string[] = [];
  const f: string[] = [];
  for (let r = 0; r < 32; r++) {
    x.push(hex(h.regs.x[2 * r], h.regs.x[2 * r + 1]));
    f.push(hex(h.fregs.u[2 * r], h.fregs.u[2 * r + 1]));
  }
  const csr: Record<string, string> = {};
  const rec = h as unknown as Record<string, number>;
  for (const p of PAIRS) csr[p] = hex(rec[p + 'Lo'], rec[p + 'Hi']);
  for (const w of WORDS) csr[w] = hex(rec[w], 0);
  return {
    version: 1,
    pc: hex(h.pcLo, h.pcHi),
    priv: h.priv,
    x,
    f,
    fflags: h.fregs.flags,
    frm: h.fregs.frm,
    csr,
    instret: h.instret,
    cycleDelta: h.cycleDelta,
    reservation: h.reservation,
    wfi: h.wfi,
    pmp: h.mmu.pmp.save(),
  };
}

export function restoreHart(h: Hart, s: HartState): void {
  if (!s || s.version !== 1) throw new Error('hart state: unknown version');
  if (![0, 1, 3].includes(s.priv)) throw new Error(`hart state: bad privilege level ${s.priv}`);
  if (!Array.isArray(s.x) || s.x.length !== 32 || !Array.isArray(s.f) || s.f.length !== 32) {
    throw new Error('hart state: x and f must hold 32 registers each');
  }
  // Parse everything first so that bad input changes nothing.
  const pc = parseHex(s.pc, 'pc');
  const xs = s.x.map((v, i) => parseHex(v, `x${i}`));
  const fs = s.f.map((v, i) => parseHex(v, `f${i}`));
  const pairs = PAIRS.map((p) => parseHex(s.csr[p], p));
  const words = WORDS.map((w) => parseHex(s.csr[w], w)[0]);
  h.pcLo = pc[0];
  h.pcHi = pc[1];
  h.priv = s.priv;
  for (let r = 0; r < 32; r++) {
    h.regs.x[2 * r] = r === 0 ? 0 : xs[r][0];
    h.regs.x[2 * r + 1] = r === 0 ? 0 : xs[r][1];
    h.fregs.u[2 * r] = fs[r][0];
    h.fregs.u[2 * r + 1] = fs[r][1];
  }
  h.fregs.flags = s.fflags & 0x1f;
  h.fregs.frm = s.frm & 7;
  const rec = h as unknown as Record<string, number>;
  PAIRS.forEach((p, i) => {
    rec[p + 'Lo'] = pairs[i][0];
    rec[p + 'Hi'] = pairs[i][1];
  });
  WORDS.forEach((w, i) => {
    rec[w] = words[i];
  });
  h.instret = s.instret;
  h.cycleDelta = s.cycleDelta;
  h.reservation = s.reservation;
  h.wfi = s.wfi;
  h.mmu.pmp.restore(s.pmp);
  const mode = h.satpHi >>> 28;
  h.mmu.satpMode = mode;
  h.mmu.satpPpn = (h.satpHi & 0xfff) * 4294967296 + (h.satpLo >>> 0);
  h.mmu.pbmte = (h.menvcfgHi & (1 << 30)) !== 0;
}
