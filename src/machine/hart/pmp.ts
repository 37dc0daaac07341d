// Physical memory protection (privileged spec 3.7): 16 entries, 4-byte grain.
// Checked on TLB fills and slow-path accesses only, never per fast access.

import { ACCESS_FETCH, ACCESS_WRITE, PRIV_M } from './causes.js';

export const PMP_ENTRIES = 16;
const A_OFF = 0;
const A_TOR = 1;
const A_NA4 = 2;
const L_BIT = 0x80;

export class Pmp {
  readonly cfg = new Uint8Array(PMP_ENTRIES);
  /** pmpaddr registers (address bits 55:2) as halves. */
  readonly addrLo = new Int32Array(PMP_ENTRIES);
  readonly addrHi = new Int32Array(PMP_ENTRIES);
  /** Decoded byte ranges [start, end) of each entry; empty when off. */
  private readonly start = new Float64Array(PMP_ENTRIES);
  private readonly end = new Float64Array(PMP_ENTRIES);
  private active = 0;

  private addrValue(i: number): number {
    return (this.addrHi[i] & 0x3fffff) * 4294967296 + (this.addrLo[i] >>> 0);
  }

  private recompute(): void {
    this.active = 0;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const a = (this.cfg[i] >> 3) & 3;
      let s = 0;
      let e = 0;
      if (a === A_TOR) {
        s = i === 0 ? 0 : this.addrValue(i - 1) * 4;
        e = this.addrValue(i) * 4;
      } else if (a === A_NA4) {
        s = this.addrValue(i) * 4;
        e = s + 4;
      } else if (a !== A_OFF) {
        // NAPOT: trailing ones of pmpaddr give the size.
        let ones = 0;
        let lo = this.addrLo[i] >>> 0;
        while (ones < 32 && (lo & 1) === 1) {
          lo >>>= 1;
          ones++;
        }
        if (ones === 32) {
          let hi = this.addrHi[i] & 0x3fffff;
          while (ones < 54 && (hi & 1) === 1) {
            hi >>>= 1;
            ones++;
          }
        }
        const size = 2 ** (ones + 3);
        s = Math.floor((this.addrValue(i) * 4) / size) * size;
        e = s + size;
      }
      this.start[i] = s;
      this.end[i] = e;
      if (e > s) this.active++;
    }
  }

  private locked(i: number): boolean {
    if (this.cfg[i] & L_BIT) return true;
    // A locked TOR entry also locks the address register below it.
    return (
      i + 1 < PMP_ENTRIES &&
      (this.cfg[i + 1] & L_BIT) !== 0 &&
      ((this.cfg[i + 1] >> 3) & 3) === A_TOR
    );
  }

  /** pmpcfgN (N even) as halves: 8 entries per 64-bit register. */
  readCfg(reg: number, hi: boolean): number {
    const first = reg * 4 + (hi ? 4 : 0);
    let v = 0;
    for (let k = 3; k >= 0; k--) v = (v << 8) | this.cfg[first + k];
    return v | 0;
  }

  writeCfg(reg: number, lo: number, hi: number): void {
    for (let k = 0; k < 8; k++) {
      const i = reg * 4 + k;
      if (i >= PMP_ENTRIES) break;
      if (this.cfg[i] & L_BIT) continue;
      let b = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 0xff & 0x9f;
      if ((b & 3) === 2) b &= ~2; // W without R is reserved: drop W
      this.cfg[i] = b;
    }
    this.recompute();
  }

  writeAddr(i: number, lo: number, hi: number): void {
    if (this.locked(i)) return;
    this.addrLo[i] = lo;
    this.addrHi[i] = hi & 0x3fffff;
    this.recompute();
  }

  /**
   * True when an access of `len` bytes at `pa` is allowed. Also used with a whole
   * page to ask whether the page may be cached: a page split by an entry boundary
   * is not, and each access to it is checked here.
   */
  check(pa: number, len: number, access: number, priv: number): boolean {
    if (this.active === 0) return priv === PRIV_M;
    const last = pa + len;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const s = this.start[i];
      const e = this.end[i];
      if (e <= pa || s >= last) continue;
      const c = this.cfg[i];
      // An entry matching only some bytes fails the access, whatever L and the privilege.
      if (s > pa || e < last) return false;
      if (priv === PRIV_M && (c & L_BIT) === 0) return true;
      const bit = access === ACCESS_WRITE ? 2 : access === ACCESS_FETCH ? 4 : 1;
      return (c & bit) !== 0;
    }
    return priv === PRIV_M;
  }

  /** Sets every entry (a restore of checked state) and decodes the ranges. */
  load(cfg: readonly number[], addrLo: readonly number[], addrHi: readonly number[]): void {
    for (let i = 0; i < PMP_ENTRIES; i++) {
      this.cfg[i] = cfg[i];
      this.addrLo[i] = addrLo[i];
      this.addrHi[i] = addrHi[i] & 0x3fffff;
    }
    this.recompute();
  }
}
