// Address translation (Sv39/Sv48/Sv57 and bare), the hart's TLBs and the slow
// paths of loads, stores and fetches (misaligned, MMIO, page crossings, misses).
//
// TLBs are two-way set-associative, one each for reads, writes and fetches. A tag is
// the virtual page (low half with the privilege level in its low bits, high half)
// and the value tells the page's offset in RAM (areaLayout.ts: TLB entries). Only
// RAM pages that PMP allows as a whole are cached; writes are cached only once
// the PTE's D bit is set and the page is in the dirty log.
//
// Address spaces (satp's ASID, 16 bits): each one in use has a generation of
// its own, kept in the tags, so switching satp between processes selects other
// entries instead of flushing; the entries of the space switched away from stay
// for its return. A generation is bound to the satp (mode, root, ASID) it was
// made for: a new root under an old ASID gets a new one too. Global entries
// (the G bit, on the kernel's pages; and M-mode ones, which satp does not
// affect) move to whichever generation is current, so a switch keeps them.

import type { Bus } from '../bus.js';
import type { Ram } from '../ram.js';
import {
  ACCESS_FETCH,
  ACCESS_READ,
  ACCESS_WRITE,
  EXC_INST_ACCESS,
  EXC_INST_PAGE,
  EXC_LOAD_ACCESS,
  EXC_LOAD_PAGE,
  EXC_STORE_ACCESS,
  EXC_STORE_PAGE,
  PRIV_M,
  PRIV_S,
  PRIV_U,
  TrapSignal,
} from './causes.js';
import { Pmp } from './pmp.js';

import {
  AREA_END,
  forgetJumps,
  setJumpFetchTag,
  AREA_JC,
  JC_ENTRY_BYTES,
  JC_SIZE,
  AREA_RTLB,
  AREA_WTLB,
  AREA_XTLB,
  TLB_EMPTY,
  TLB_ENTRY_BYTES,
  TLB_SET_BYTES,
  TLB_MASK,
  TLB_SIZE,
} from './areaLayout.js';

export { TLB_BITS, TLB_MASK, TLB_SIZE } from './areaLayout.js';

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_G = 32;
const PTE_A = 64;
const PTE_D = 128;

export const SATP_BARE = 0;
export const SATP_SV39 = 8;
export const SATP_SV48 = 9;
export const SATP_SV57 = 10;

const TWO32 = 4294967296;
/** fill(): the page is RAM but holds decoded code, so writes are not cached (see codePageOff). */
const FILL_CODE_PAGE = -2;

/** Int32 words of a TLB entry: tag low, tag high, RAM word (areaLayout.ts), unused. */
export const TLB_WORDS = TLB_ENTRY_BYTES >> 2;
/** Int32 words of a TLB set: its way 0 entry, then its way 1 entry. */
export const TLB_SET_WORDS = TLB_SET_BYTES >> 2;
/** Entries of one TLB: set * 2 + way. */
const TLB_ENTRIES = TLB_SIZE * 2;

/**
 * A TLB's entries as int32s (TLB_WORDS each) at `offset` of the hart area `area` in `buffer`,
 * or in a buffer of their own; all empty.
 */
function tlbArray(buffer: ArrayBuffer, area: number, offset: number): Int32Array {
  const words = TLB_ENTRIES * TLB_WORDS;
  const tlb = area < 0 ? new Int32Array(words) : new Int32Array(buffer, area + offset, words);
  emptyAll(tlb);
  return tlb;
}

/**
 * Empties every entry (their other words do not matter then): a native fill, fast enough for
 * the write TLB's flush at each new page of code.
 */
function emptyAll(tlb: Int32Array): void {
  tlb.fill(TLB_EMPTY);
}

/** VPN[i] of the virtual address (lo, hi): its 9 bits from bit 12 + 9 * i. */
function vpnAt(lo: number, hi: number, i: number): number {
  const shift = 12 + 9 * i;
  if (shift <= 23) return (lo >>> shift) & 511;
  if (shift >= 32) return (hi >>> (shift - 32)) & 511;
  return ((lo >>> shift) | (hi << (32 - shift))) & 511;
}

/**
 * The SUM and MXR bits of a data TLB tag (Mmu.dataTag): mstatus.SUM and MXR shifted down by 16,
 * so that translated code (jit/csrEmitter.ts) re-derives the tag from mstatus when sstatus is
 * written.
 *
 * SUM changes only what S-mode may do with user pages, and Linux sets and clears it around
 * every access to user memory: an entry holds the SUM bit only when it is a user page filled
 * by an S-mode access (which SUM allowed), and is looked up as `(entry | (tag & DTAG_SUM)) ===
 * (page | tag)` (dataHit), so the kernel's own pages hit whatever SUM is and user pages hit
 * from S-mode only while SUM is set.
 */
export const DTAG_SUM = 4;
export const DTAG_MXR = 8;

/** Whether data TLB entry tag `entry` serves an access to the page of `lo` under data tag `tag`. */
export function dataHit(entry: number, lo: number, tag: number): boolean {
  return (entry | (tag & DTAG_SUM)) === ((lo & ~0xfff) | tag);
}

export class Mmu {
  // The read and write TLBs live in the hart area when there is one, where translated code reads them.
  // Set s at word s * TLB_SET_WORDS, its way 1 TLB_WORDS after its way 0; an entry holds tag
  // low, tag high, and the page's RAM offset minus its virtual address (read and write: add
  // an address's low half) or its RAM offset (fetch).
  readonly rTlb: Int32Array;
  readonly wTlb: Int32Array;
  readonly xTlb: Int32Array;
  /**
   * Superpages with cached translations, as level + 4 * (virtual page >> 9*level):
   * SFENCE.VMA of an address inside one of them flushes everything.
   */
  private readonly superpages = new Set<number>();
  /** Generation of the current address space, kept in bits 4..11 of every tag. */
  private gen = 0;
  /** The last generation handed out: they are handed out in turn, and the TLBs are wiped when they wrap. */
  private lastGen = 0;
  /** Generations of the address spaces seen since the last full flush, by ASID (-1: bare). */
  private readonly spaceGens = new Map<number, number>();
  /** The satp (mode and root page) each of those generations was made for. */
  private readonly spaceRoots = new Map<number, number>();
  /** The current address space's key in spaceGens: its ASID, or -1 when translation is off. */
  private space = -1;
  /** Level of the leaf found by the last translate(). */
  private lastLevel = 0;
  /** Whether the last translate() found a global mapping (G set on the way) or needed no tables. */
  private lastGlobal = false;
  /** The last translation's leaf was a user page (PTE U). */
  private lastUser = false;
  /**
   * TLB entries that hold global translations, as kind * TLB_ENTRIES + entry (kinds: read,
   * write, fetch): globalFlag says which entries hold one now; globalSlots lists them (and
   * maybe some that no longer do), each at most once, as inGlobalSlots says.
   */
  private readonly globalFlag = new Uint8Array(3 * TLB_ENTRIES);
  private readonly inGlobalSlots = new Uint8Array(3 * TLB_ENTRIES);
  private readonly globalSlots = new Int32Array(3 * TLB_ENTRIES);
  private globalCount = 0;

  readonly pmp = new Pmp();
  readonly ram: Ram;
  readonly bus: Bus;
  private readonly trap: TrapSignal;
  private readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  /** The hart's area as int32s, or null. */
  private readonly area32: Int32Array | null;

  satpMode = SATP_BARE;
  /** Root page-table page number. */
  satpPpn = 0;
  sum = false;
  mxr = false;
  /** menvcfg.PBMTE: Svpbmt memory types allowed in PTEs. */
  pbmte = false;
  /** Privilege level used for fetches (the current one). */
  fetchPriv = PRIV_M;
  /** Privilege level used for loads and stores (MPP when MPRV is set in M-mode). */
  dataPriv = PRIV_M;
  /**
   * Low bits of the data TLB tags: dataPriv | SUM << 2 | MXR << 3 | generation << 4,
   * so that a change of privilege, SUM or MXR selects other entries instead of
   * flushing, and a flush is a new generation.
   */
  dataTag = PRIV_M;
  /** Low bits of the fetch TLB tags: fetchPriv | generation << 4. */
  fetchTag = PRIV_M;
  /** RAM offset of the code page behind the last fill that returned FILL_CODE_PAGE. */
  private codePageOff = 0;
  /** Set by a slow-path access that reached a device (the hart re-checks interrupts). */
  touchedDevice = false;
  /** High half of the last 8-byte slow-path load. */
  valHi = 0;
  /** Counters. */
  tlbMisses = 0;
  pageWalks = 0;

  /** `area`: byte offset of the hart's area in the RAM buffer, or -1 for TLBs of its own. */
  constructor(bus: Bus, trap: TrapSignal, area = -1) {
    const b = bus.ram.buffer;
    this.area32 = area < 0 ? null : new Int32Array(b, area, AREA_END >> 2);
    if (this.area32 !== null) {
      // Jump cache tags of -1 match nothing.
      const end = (AREA_JC + JC_SIZE * JC_ENTRY_BYTES) >> 2;
      for (let i = (AREA_JC >> 2) + 2; i < end; i += JC_ENTRY_BYTES >> 2) this.area32[i] = -1;
      setJumpFetchTag(this.area32, 0, this.fetchTag);
    }
    this.rTlb = tlbArray(b, area, AREA_RTLB);
    this.wTlb = tlbArray(b, area, AREA_WTLB);
    this.xTlb = tlbArray(b, area, AREA_XTLB);
    this.bus = bus;
    this.ram = bus.ram;
    this.trap = trap;
    this.u8 = bus.ram.u8;
    this.i32 = bus.ram.i32;
  }

  /** Counters: full flushes and single-page SFENCE.VMAs. */
  flushes = 0;
  pageFlushes = 0;

  /** Switches to address space switched to by satp. */
  asidSwitches = 0;

  /** Drops every cached translation of every address space. */
  flush(): void {
    this.flushes++;
    this.forgetGlobals();
    this.spaceGens.clear();
    this.spaceRoots.clear();
    this.superpages.clear();
    this.renewSpace();
  }

  /** Sets satp's translation: mode, root page and ASID, from the CSR's halves. */
  setSatp(lo: number, hi: number): void {
    this.satpMode = hi >>> 28;
    this.satpPpn = (hi & 0xfff) * TWO32 + (lo >>> 0);
    this.space = this.satpMode === SATP_BARE ? -1 : (hi >>> 12) & 0xffff;
    const root = this.satpMode * 2 ** 44 + this.satpPpn;
    const gen = this.spaceGens.get(this.space);
    if (gen !== undefined && this.spaceRoots.get(this.space) === root) {
      this.asidSwitches++;
      this.moveGlobals(gen);
      this.gen = gen;
      this.setMode(this.fetchPriv, this.dataPriv, this.sum, this.mxr);
    } else {
      this.renewSpace();
    }
  }

  /** SFENCE.VMA x0, asid: drops the cached translations of one address space. */
  flushAsid(asid: number): void {
    this.flushes++;
    if (asid === this.space) this.renewSpace();
    else this.spaceGens.delete(asid);
  }

  /** Gives the current address space a new generation, so that none of its entries match. */
  private renewSpace(): void {
    this.lastGen = (this.lastGen + 1) & 0xff;
    if (this.lastGen !== 0) {
      this.moveGlobals(this.lastGen);
    } else {
      // Every generation has been handed out: wipe the TLBs and start again.
      emptyAll(this.rTlb);
      emptyAll(this.wTlb);
      emptyAll(this.xTlb);
      this.clearJumpCache();
      this.forgetGlobals();
      this.spaceGens.clear();
      this.spaceRoots.clear();
      this.superpages.clear();
    }
    this.gen = this.lastGen;
    this.spaceGens.set(this.space, this.gen);
    this.spaceRoots.set(this.space, this.satpMode * 2 ** 44 + this.satpPpn);
    this.setMode(this.fetchPriv, this.dataPriv, this.sum, this.mxr);
  }

  /** Retags the global entries of the current generation with generation `gen`. */
  private moveGlobals(gen: number): void {
    const from = this.gen << 4;
    const to = gen << 4;
    const flag = this.globalFlag;
    const slots = this.globalSlots;
    let kept = 0;
    for (let i = 0; i < this.globalCount; i++) {
      const k = slots[i];
      if (flag[k] === 0) {
        this.inGlobalSlots[k] = 0;
        continue;
      }
      slots[kept++] = k;
      const tlb = k < TLB_ENTRIES ? this.rTlb : k < 2 * TLB_ENTRIES ? this.wTlb : this.xTlb;
      const e = (k % TLB_ENTRIES) * TLB_WORDS;
      const t = tlb[e];
      if (t !== TLB_EMPTY && (t & 0xff0) === from) tlb[e] = (t & ~0xff0) | to;
    }
    this.globalCount = kept;
  }

  /** Global entries are dropped like the others from now on (a full flush). */
  private forgetGlobals(): void {
    this.globalFlag.fill(0);
    this.inGlobalSlots.fill(0);
    this.globalCount = 0;
  }

  /** Records whether TLB entry `k` (kind * TLB_ENTRIES + entry) now holds a global translation. */
  private noteGlobal(k: number, global: boolean): void {
    if (!global) {
      this.globalFlag[k] = 0;
      return;
    }
    this.globalFlag[k] = 1;
    if (this.inGlobalSlots[k] === 0) {
      this.inGlobalSlots[k] = 1;
      this.globalSlots[this.globalCount++] = k;
    }
  }

  flushWrites(): void {
    emptyAll(this.wTlb);
  }

  /** Sets the privilege levels and mstatus bits that translation depends on. */
  setMode(fetchPriv: number, dataPriv: number, sum: boolean, mxr: boolean): void {
    this.fetchPriv = fetchPriv;
    this.dataPriv = dataPriv;
    this.sum = sum;
    this.mxr = mxr;
    this.dataTag = (this.gen << 4) | dataPriv | (sum ? DTAG_SUM : 0) | (mxr ? DTAG_MXR : 0);
    this.fetchTag = (this.gen << 4) | fetchPriv;
    if (this.area32 !== null) setJumpFetchTag(this.area32, 0, this.fetchTag);
  }

  /** Forgets the translated code's remembered jumps (their fetch tags no longer prove the mapping). */
  clearJumpCache(): void {
    if (this.area32 !== null) forgetJumps(this.area32, 0);
  }

  /**
   * SFENCE.VMA for one virtual address: drops the entries of that page and of
   * any cached superpage that contains it.
   */
  flushPage(lo: number, hi: number): void {
    this.pageFlushes++;
    if (this.superpages.size > 0) {
      const vpage = (hi & 0x1ffffff) * 1048576 + (lo >>> 12);
      for (let level = 1; level <= 4; level++) {
        if (this.superpages.has(level + 4 * Math.floor(vpage / 2 ** (9 * level))))
          return this.flush();
      }
    }
    const way0 = ((lo >>> 12) & TLB_MASK) * 2;
    for (let entry = way0; entry <= way0 + 1; entry++) {
      this.rTlb[entry * TLB_WORDS] = TLB_EMPTY;
      this.wTlb[entry * TLB_WORDS] = TLB_EMPTY;
      this.xTlb[entry * TLB_WORDS] = TLB_EMPTY;
      this.globalFlag[entry] = 0;
      this.globalFlag[TLB_ENTRIES + entry] = 0;
      this.globalFlag[2 * TLB_ENTRIES + entry] = 0;
    }
    // The jump cache needs nothing: the dispatcher checks each jump against the fetch TLB.
  }

  private fault(access: number, page: boolean, lo: number, hi: number): never {
    const cause =
      access === ACCESS_FETCH
        ? page
          ? EXC_INST_PAGE
          : EXC_INST_ACCESS
        : access === ACCESS_WRITE
          ? page
            ? EXC_STORE_PAGE
            : EXC_STORE_ACCESS
          : page
            ? EXC_LOAD_PAGE
            : EXC_LOAD_ACCESS;
    throw this.trap.set(cause, lo, hi);
  }

  /** Translates virtual address (lo, hi) for `access` at privilege `priv`; returns the physical address. */
  translate(lo: number, hi: number, access: number, priv: number): number {
    this.lastLevel = 0;
    // M-mode's accesses do not depend on satp; S and U ones without translation do.
    this.lastGlobal = priv === PRIV_M;
    this.lastUser = false;
    if (priv === PRIV_M || this.satpMode === SATP_BARE) {
      if (hi >>> 24 !== 0) this.fault(access, false, lo, hi); // beyond 56 physical bits
      return (hi >>> 0) * TWO32 + (lo >>> 0);
    }
    this.pageWalks++;
    this.lastGlobal = false;
    let global = 0;
    const levels = this.satpMode - 5;
    const vaBits = 12 + 9 * levels;
    const top = hi >> (vaBits - 33);
    if (top !== 0 && top !== -1) this.fault(access, true, lo, hi);
    const vpage = (hi & 0x1ffffff) * 1048576 + (lo >>> 12); // VA bits 12..56
    let table = this.satpPpn * 4096;
    for (let i = levels - 1; i >= 0; i--) {
      const vpn = vpnAt(lo, hi, i);
      const pteAddr = table + vpn * 8;
      const pteOff = this.ram.offsetOf(pteAddr, 8);
      if (pteOff < 0) this.fault(access, false, lo, hi);
      // The walk's implicit accesses are checked by PMP as S-mode accesses.
      if (!this.pmp.check(pteAddr, 8, ACCESS_READ, PRIV_S)) this.fault(access, false, lo, hi);
      const w = pteOff >>> 2;
      const pLo = this.i32[w];
      const pHi = this.i32[w + 1];
      if ((pLo & PTE_V) === 0 || (pLo & (PTE_R | PTE_W)) === PTE_W)
        this.fault(access, true, lo, hi);
      if (((pHi >>> 22) & 0x7f) !== 0) this.fault(access, true, lo, hi); // reserved bits 54..60
      const pbmt = (pHi >>> 29) & 3;
      const napot = pHi >>> 31;
      let ppn = (pLo >>> 10) + (pHi & 0x3fffff) * 4194304;
      global |= pLo & PTE_G;
      if ((pLo & (PTE_R | PTE_X)) === 0) {
        // Pointer to the next level.
        if (i === 0 || pbmt !== 0 || napot !== 0 || (pLo & (PTE_A | PTE_D | PTE_U)) !== 0) {
          this.fault(access, true, lo, hi);
        }
        table = ppn * 4096;
        continue;
      }
      if (pbmt !== 0 && (!this.pbmte || pbmt === 3)) this.fault(access, true, lo, hi);
      if ((pLo & PTE_U) !== 0) {
        if (priv === PRIV_S && (access === ACCESS_FETCH || !this.sum))
          this.fault(access, true, lo, hi);
      } else if (priv === PRIV_U) {
        this.fault(access, true, lo, hi);
      }
      const ok =
        access === ACCESS_READ
          ? (pLo & PTE_R) !== 0 || (this.mxr && (pLo & PTE_X) !== 0)
          : access === ACCESS_WRITE
            ? (pLo & PTE_W) !== 0
            : (pLo & PTE_X) !== 0;
      if (!ok) this.fault(access, true, lo, hi);
      const span = 2 ** (9 * i);
      if (i > 0 && ppn % span !== 0) this.fault(access, true, lo, hi); // misaligned superpage
      if (napot !== 0) {
        if (i !== 0 || (ppn & 15) !== 8) this.fault(access, true, lo, hi);
        ppn = ppn - 8 + (vpage & 15);
      }
      const want = PTE_A | (access === ACCESS_WRITE ? PTE_D : 0);
      if ((pLo & want) !== want) {
        if (!this.pmp.check(pteAddr, 8, ACCESS_WRITE, PRIV_S)) this.fault(access, false, lo, hi);
        this.i32[w] = pLo | want;
        this.ram.noteWrite(pteOff, 4);
      }
      this.lastLevel = i;
      this.lastGlobal = global !== 0;
      this.lastUser = (pLo & PTE_U) !== 0;
      return (ppn + (vpage % span)) * 4096 + (lo & 0xfff);
    }
    return this.fault(access, true, lo, hi);
  }

  /** Translates and checks PMP for an access of `len` bytes; returns the physical address. */
  private resolve(lo: number, hi: number, len: number, access: number, priv: number): number {
    const pa = this.translate(lo, hi, access, priv);
    if (!this.pmp.check(pa, len, access, priv)) this.fault(access, false, lo, hi);
    return pa;
  }

  /**
   * Fills the TLB entry for (lo, hi) when its page is cacheable RAM; returns the
   * page's RAM offset or -1. Faults are thrown.
   */
  private fill(lo: number, hi: number, access: number, priv: number): number {
    this.tlbMisses++;
    const pa = this.resolve(lo, hi, 1, access, priv);
    const pagePa = pa - (pa % 4096);
    const off = this.ram.offsetOf(pagePa, 4096);
    if (off < 0 || !this.pmp.check(pagePa, 4096, access, priv)) return -1;
    // Pages holding decoded instructions are written the slow way, which keeps the cache right.
    if (access === ACCESS_WRITE && this.ram.isCode(off >>> 12)) {
      this.codePageOff = off;
      return FILL_CODE_PAGE;
    }
    const idx = (lo >>> 12) & TLB_MASK;
    const level = this.lastLevel;
    if (level > 0) {
      // Remember the superpage so that SFENCE.VMA of any address in it drops this entry.
      const vpage = (hi & 0x1ffffff) * 1048576 + (lo >>> 12);
      this.superpages.add(level + 4 * Math.floor(vpage / 2 ** (9 * level)));
    }
    // SUM in a data entry only for a user page that S-mode reached (DTAG_SUM).
    const dTag = (this.dataTag & ~DTAG_SUM) | (this.lastUser && priv === PRIV_S ? DTAG_SUM : 0);
    const kind = access === ACCESS_READ ? 0 : access === ACCESS_WRITE ? 1 : 2;
    const tlb = kind === 0 ? this.rTlb : kind === 1 ? this.wTlb : this.xTlb;
    const e = idx * TLB_SET_WORDS;
    const k = kind * TLB_ENTRIES + idx * 2;
    // Way 0's entry moves to way 1 (what was there goes): the new one is the likelier next.
    tlb[e + TLB_WORDS] = tlb[e];
    tlb[e + TLB_WORDS + 1] = tlb[e + 1];
    tlb[e + TLB_WORDS + 2] = tlb[e + 2];
    this.noteGlobal(k + 1, this.globalFlag[k] === 1);
    tlb[e] = (lo & ~0xfff) | (kind === 2 ? this.fetchTag : dTag);
    tlb[e + 1] = hi;
    tlb[e + 2] = kind === 2 ? off : off - (lo & ~0xfff);
    this.noteGlobal(k, this.lastGlobal);
    if (kind === 1) this.ram.dirty[off >>> 12] = 1;
    return off;
  }

  /** RAM offset of the fetch page holding (lo, hi), or -1 when it is not cacheable RAM. */
  fetchPage(lo: number, hi: number): number {
    const set = (lo >>> 12) & TLB_MASK;
    const e = set * TLB_SET_WORDS;
    const x = this.xTlb;
    const tag = (lo & ~0xfff) | this.fetchTag;
    if (x[e] === tag && x[e + 1] === hi) return x[e + 2] >>> 0;
    if (x[e + TLB_WORDS] === tag && x[e + TLB_WORDS + 1] === hi) {
      // Way 1 holds it: swap it into way 0, which the dispatcher checks jumps against.
      this.swapWays(x, e, 2 * TLB_ENTRIES + set * 2);
      return x[e + 2] >>> 0;
    }
    return this.fill(lo, hi, ACCESS_FETCH, this.fetchPriv);
  }

  /**
   * The RAM offset of the page of (lo, hi) when the fetch TLB holds it, else -1: no walk, no
   * fault, no change to the TLB.
   */
  fetchPeek(lo: number, hi: number): number {
    const e = ((lo >>> 12) & TLB_MASK) * TLB_SET_WORDS;
    const x = this.xTlb;
    const tag = (lo & ~0xfff) | this.fetchTag;
    for (let w = e; w <= e + TLB_WORDS; w += TLB_WORDS) {
      if (x[w] === tag && x[w + 1] === hi) return x[w + 2] >>> 0;
    }
    return -1;
  }

  /**
   * The pages around that of (lo, hi), for the block translator: a function from an offset (a
   * multiple of 4096) to fetchPeek of the page that far from it. Valid until the next call.
   */
  pagesAround(lo: number, hi: number): (delta: number) => number {
    this.aroundLo = (lo & ~0xfff) >>> 0;
    this.aroundHi = hi;
    return this.peekAround;
  }

  private aroundLo = 0;
  private aroundHi = 0;
  private readonly peekAround = (delta: number): number => {
    const at = this.aroundLo + delta;
    return this.fetchPeek(at | 0, (this.aroundHi + Math.floor(at / 2 ** 32)) | 0);
  };

  /** Swaps the two entries of the set at word `e` of `tlb`, whose way 0 is global entry `k`. */
  private swapWays(tlb: Int32Array, e: number, k: number): void {
    for (let i = 0; i < 3; i++) {
      const t = tlb[e + i];
      tlb[e + i] = tlb[e + TLB_WORDS + i];
      tlb[e + TLB_WORDS + i] = t;
    }
    const g0 = this.globalFlag[k] === 1;
    this.noteGlobal(k, this.globalFlag[k + 1] === 1);
    this.noteGlobal(k + 1, g0);
  }

  /**
   * The RAM offset of (lo, hi) when the read or write TLB (`write`) holds its page, else -1.
   * A page found in way 1 is swapped into way 0, where the interpreter's fast path looks.
   */
  private dataOffset(write: boolean, lo: number, hi: number): number {
    const tlb = write ? this.wTlb : this.rTlb;
    const set = (lo >>> 12) & TLB_MASK;
    const e = set * TLB_SET_WORDS;
    const tag = this.dataTag;
    if (dataHit(tlb[e], lo, tag) && tlb[e + 1] === hi) return (tlb[e + 2] + lo) >>> 0;
    const e1 = e + TLB_WORDS;
    if (!dataHit(tlb[e1], lo, tag) || tlb[e1 + 1] !== hi) return -1;
    this.swapWays(tlb, e, (write ? TLB_ENTRIES : 0) + set * 2);
    return (tlb[e + 2] + lo) >>> 0;
  }

  /** Fetches a 16-bit parcel the slow way (devices such as the boot ROM, PMP-split pages). */
  fetchParcel(lo: number, hi: number): number {
    const priv = this.fetchPriv;
    const pa = this.resolve(lo, hi, 2, ACCESS_FETCH, priv);
    const off = this.ram.offsetOf(pa, 2);
    if (off >= 0) return this.u8[off] | (this.u8[off + 1] << 8);
    const v = this.bus.readDevice(pa, 2);
    if (v < 0) this.fault(ACCESS_FETCH, false, lo, hi);
    return v & 0xffff;
  }

  private static add(lo: number, hi: number, k: number, out: Int32Array): void {
    const s = (lo >>> 0) + k;
    out[0] = s | 0;
    out[1] = s > 0xffffffff ? (hi + 1) | 0 : hi;
  }
  private readonly tmp = new Int32Array(2);

  /**
   * Slow-path load of `size` bytes (1, 2, 4, 8): TLB miss, misaligned, device or
   * page-crossing access. Returns the low 32 bits (zero-extended for sizes < 4);
   * the high half of an 8-byte load is left in `valHi`.
   */
  load(lo: number, hi: number, size: number): number {
    const priv = this.dataPriv;
    const inPage = (lo & 0xfff) + size <= 4096;
    if (inPage) {
      // A misaligned access to a page the TLB holds needs no walk.
      const off = this.dataOffset(false, lo, hi);
      if (off >= 0) return this.readRam(off, size);
      const page = this.fill(lo, hi, ACCESS_READ, priv);
      if (page >= 0) return this.readRam(page + (lo & 0xfff), size);
      const pa = this.resolve(lo, hi, size, ACCESS_READ, priv);
      const roff = this.ram.offsetOf(pa, size);
      if (roff >= 0) return this.readRam(roff, size);
      if (pa % size !== 0) this.fault(ACCESS_READ, false, lo, hi);
      this.touchedDevice = true;
      if (size === 8) {
        const l = this.bus.readDevice(pa, 4);
        const h = this.bus.readDevice(pa + 4, 4);
        if (l < 0 || h < 0) this.fault(ACCESS_READ, false, lo, hi);
        this.valHi = h | 0;
        return l | 0;
      }
      const v = this.bus.readDevice(pa, size);
      if (v < 0) this.fault(ACCESS_READ, false, lo, hi);
      // As an int32, as RAM's values come: a value past 2^31 would reach Hart.run as a double
      // and throw away its optimised code.
      return v | 0;
    }
    // Crosses a page: translate both pages first so a fault leaves nothing half done.
    const first = 4096 - (lo & 0xfff);
    Mmu.add(lo, hi, first, this.tmp);
    const pa0 = this.resolve(lo, hi, first, ACCESS_READ, priv);
    const pa1 = this.resolve(this.tmp[0], this.tmp[1], size - first, ACCESS_READ, priv);
    const o0 = this.ram.offsetOf(pa0, first);
    const o1 = this.ram.offsetOf(pa1, size - first);
    if (o0 < 0 || o1 < 0) this.fault(ACCESS_READ, false, lo, hi);
    let vlo = 0;
    let vhi = 0;
    for (let k = size - 1; k >= 0; k--) {
      const b = k < first ? this.u8[o0 + k] : this.u8[o1 + k - first];
      vhi = (vhi << 8) | (vlo >>> 24);
      vlo = (vlo << 8) | b;
    }
    this.valHi = vhi;
    return size === 4 || size === 8 ? vlo | 0 : vlo;
  }

  private readRam(off: number, size: number): number {
    const u8 = this.u8;
    if (size === 1) return u8[off];
    if (size === 2) return u8[off] | (u8[off + 1] << 8);
    const l = u8[off] | (u8[off + 1] << 8) | (u8[off + 2] << 16) | (u8[off + 3] << 24);
    if (size === 8) {
      this.valHi = u8[off + 4] | (u8[off + 5] << 8) | (u8[off + 6] << 16) | (u8[off + 7] << 24);
    }
    return l;
  }

  private writeRam(off: number, size: number, vlo: number, vhi: number): void {
    const u8 = this.u8;
    for (let k = 0; k < size; k++) {
      u8[off + k] = k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4));
    }
  }

  /** Slow-path store of `size` bytes of (vlo, vhi). */
  store(lo: number, hi: number, size: number, vlo: number, vhi: number): void {
    const priv = this.dataPriv;
    const inPage = (lo & 0xfff) + size <= 4096;
    if (inPage) {
      const hit = this.dataOffset(true, lo, hi);
      if (hit >= 0) return this.writeRam(hit, size, vlo, vhi);
      const off = this.fill(lo, hi, ACCESS_WRITE, priv);
      if (off >= 0) return this.writeRam(off + (lo & 0xfff), size, vlo, vhi);
      if (off === FILL_CODE_PAGE) {
        const roff = this.codePageOff + (lo & 0xfff);
        this.ram.noteWrite(roff, size);
        return this.writeRam(roff, size, vlo, vhi);
      }
      const pa = this.resolve(lo, hi, size, ACCESS_WRITE, priv);
      const roff = this.ram.offsetOf(pa, size);
      if (roff >= 0) {
        this.ram.noteWrite(roff, size);
        return this.writeRam(roff, size, vlo, vhi);
      }
      if (pa % size !== 0) this.fault(ACCESS_WRITE, false, lo, hi);
      this.touchedDevice = true;
      let ok: boolean;
      if (size === 8) {
        ok = this.bus.writeDevice(pa, 4, vlo) && this.bus.writeDevice(pa + 4, 4, vhi);
      } else {
        ok = this.bus.writeDevice(pa, size, size === 4 ? vlo : vlo & ((1 << (8 * size)) - 1));
      }
      if (!ok) this.fault(ACCESS_WRITE, false, lo, hi);
      return;
    }
    const first = 4096 - (lo & 0xfff);
    Mmu.add(lo, hi, first, this.tmp);
    const pa0 = this.resolve(lo, hi, first, ACCESS_WRITE, priv);
    const pa1 = this.resolve(this.tmp[0], this.tmp[1], size - first, ACCESS_WRITE, priv);
    const o0 = this.ram.offsetOf(pa0, first);
    const o1 = this.ram.offsetOf(pa1, size - first);
    if (o0 < 0 || o1 < 0) this.fault(ACCESS_WRITE, false, lo, hi);
    this.ram.noteWrite(o0, first);
    this.ram.noteWrite(o1, size - first);
    for (let k = 0; k < size; k++) {
      const b = k < 4 ? vlo >>> (8 * k) : vhi >>> (8 * (k - 4));
      if (k < first) this.u8[o0 + k] = b;
      else this.u8[o1 + k - first] = b;
    }
  }

  /**
   * Physical RAM offset for an atomic access (AMO, LR, SC) of `size` bytes: it
   * must be aligned, in RAM, and writable (AMOs report store faults).
   */
  atomicOffset(lo: number, hi: number, size: number, access: number): number {
    if ((lo & (size - 1)) === 0) {
      // Through the TLBs as other accesses go (no walk on a hit; a miss fills).
      const hit = this.dataOffset(access === ACCESS_WRITE, lo, hi);
      if (hit >= 0) return hit;
      const off = this.fill(lo, hi, access, this.dataPriv);
      if (off >= 0) return off + (lo & 0xfff);
      if (off === FILL_CODE_PAGE) {
        const roff = this.codePageOff + (lo & 0xfff);
        this.ram.noteWrite(roff, size);
        return roff;
      }
    }
    const pa = this.resolve(lo, hi, size, access, this.dataPriv);
    const off = this.ram.offsetOf(pa, size);
    if (off < 0) this.fault(access, false, lo, hi);
    if (access === ACCESS_WRITE) this.ram.noteWrite(off, size);
    return off;
  }
}
