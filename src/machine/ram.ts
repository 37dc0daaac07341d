// Guest RAM: one zero-filled buffer (the host commits pages only when touched),
// seen through typed views, with a dirty-page log for snapshots and migration,
// and the harts' per-page caches of decoded instructions, which every write
// that does not go through a hart's write TLB reports with noteWrite().
//
// The buffer is a WebAssembly.Memory so that translated guest code (hart/jit)
// reaches guest RAM and the harts' registers and TLBs directly: its first
// HART_AREAS_BYTES hold one HART_AREA_BYTES area per hart, and RAM follows at
// byteOffset. RAM too large to fit beside the areas in 4 GiB lives in a plain
// ArrayBuffer, and its harts only interpret.
//
// Saved state (state/persistent.ts) holds the pages that are not all zero, in
// runs of consecutive pages; a restore zeroes the rest and drops every cache of
// decoded or translated code.

import { StateError, type Persistent } from './state/persistent.js';
import {
  AREA_WTLB,
  TLB_EMPTY,
  TLB_ENTRY_BYTES,
  TLB_RAM,
  TLB_SET_BYTES,
  TLB_SIZE,
} from './hart/areaLayout.js';

export const PAGE_SIZE = 4096;

/**
 * Int32 words per decoded-instruction slot: [packed fields, immediate, instruction,
 * translation], where translation is a block id (> 0) or minus the times the
 * slot was interpreted (<= 0).
 */
export const CODE_SLOT_WORDS = 4;
/** Bytes of one hart's area (registers, TLBs) at the front of the wasm memory. */
export const HART_AREA_BYTES = 1 << 20;
/** Bytes in front of RAM for hart areas. */
export const HART_AREAS_BYTES = 8 * HART_AREA_BYTES;
const WASM_PAGE = 65536;
/** Packed-field value of a slot that has not been decoded yet (no operation has id 255). */
export const CODE_SLOT_EMPTY = 255;
/** Writes to a page of decoded code after which its cache is dropped (the page holds data too). */
const CODE_WRITE_LIMIT = 256;

export class RamError extends Error {}

/**
 * What the threads of one shared RAM share besides the memory (each thread runs harts over its
 * own Ram object, with its own decoded-instruction and block caches): the dirty log, the write
 * epoch, and per page the threads that hold decoded code of it (a bit each) and a count of the
 * writes made to it while some thread held its code.
 */
export interface RamShare {
  memory: WebAssembly.Memory;
  dirty: SharedArrayBuffer;
  epoch: SharedArrayBuffer;
  codeThreads: SharedArrayBuffer;
  codeWrites: SharedArrayBuffer;
}

/** Consecutive pages that are not all zero, from page number `page` (RAM offset / PAGE_SIZE). */
export interface RamRun {
  page: number;
  /** A whole number of pages. */
  data: Uint8Array;
}

export interface RamState {
  /** RAM size in bytes. */
  size: number;
  /** The pages that are not all zero, in ascending order; every other page is zero. */
  runs: RamRun[];
}

export class Ram implements Persistent<RamState> {
  readonly stateId = 'ram';
  readonly stateVersion = 1;
  readonly base: number;
  readonly size: number;
  /** The buffer holding RAM at byteOffset (and hart areas in front when memory is set). */
  readonly buffer: ArrayBuffer;
  /** The WebAssembly memory that is the buffer, or null when RAM is too large for one. */
  readonly memory: WebAssembly.Memory | null;
  readonly byteOffset: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  /** RAM as 64-bit words (atomic doubleword compare-and-swap on shared RAM). */
  readonly i64: BigInt64Array;
  readonly view: DataView;
  /**
   * True when the memory is a shared WebAssembly.Memory that harts on other threads run on
   * too: AMOs and SCs then compare-and-swap, and translated code imports it as shared.
   */
  readonly shared: boolean;
  /**
   * One byte per 4 KiB page: 1 when the page was written since the log was last cleared.
   * After a restore every page counts as dirty (allDirty) until the log is next taken.
   */
  readonly dirty: Uint8Array;
  private allDirty = false;
  /**
   * Bumped whenever write caches (the harts' write TLBs) must refill: the dirty
   * log was cleared, or a page became decoded code and must be written through
   * noteWrite from now on. Shared by the threads of a shared RAM.
   */
  get dirtyEpoch(): number {
    return this.epochWord[0];
  }
  set dirtyEpoch(v: number) {
    this.epochWord[0] = v;
  }
  private readonly epochWord: Int32Array;
  /** Shared RAM: per page, a bit for each thread holding its decoded code (bit `thread`). */
  private readonly codeThreads: Uint8Array | null = null;
  /** Shared RAM: per page, writes made while some thread held its code. */
  private readonly sharedWrites: Uint32Array | null = null;
  /** Shared RAM: sharedWrites of each page when this thread last knew its code right. */
  private readonly seenWrites: Uint32Array | null = null;
  /** Shared RAM: the hart areas in front of RAM, as int32 words (dropPeerWrites). */
  private readonly areaWords: Int32Array | null = null;
  /** Shared RAM: the pages this thread made code caches for (some may be gone since). */
  private codeList: number[] = [];
  private readonly threadBit: number;
  /** Decoded instructions of executed pages: 2048 halfword slots of CODE_SLOT_WORDS, or null. */
  readonly code: (Int32Array | null)[];
  private readonly codeWrites: Uint16Array;
  /** Pages with translations made or under way: a write to the page drops them all. */
  readonly translated: Uint8Array;
  /** Per page: bumped whenever its translations are dropped or its code cache is made anew. */
  readonly codeGen: Uint32Array;
  /** Per page holding inlined code: the pages whose translations hold it (noteInlined). */
  private readonly inlinedInto = new Map<number, number[]>();
  /**
   * One byte per page: 1 when the page may hold bytes that are not zero although its dirty
   * byte is 0 (written before the dirty log was last taken, or loaded by a restore). A page
   * with neither is still zero as made, so a restore need not touch it (touching it costs a
   * page of host memory and a fault).
   */
  private readonly written: Uint8Array;
  /** Called after a page's translations are dropped (the harts forget jumps into them). */
  onDropTranslations: ((page: number) => void) | null = null;
  private areasUsed = 0;

  /**
   * @param options.shared make RAM a shared WebAssembly.Memory (harts on worker threads);
   * @param options.share what an existing shared Ram shares (a worker thread's view of it)
   * @param options.thread this thread's number (0 to 7) among those sharing the RAM
   */
  constructor(
    base: number,
    size: number,
    options: { shared?: boolean; share?: RamShare; thread?: number } = {},
  ) {
    if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RamError(`RAM size must be a positive multiple of 4 KiB, got ${size}`);
    }
    if (size > 2 ** 32) throw new RamError(`RAM size is limited to 4 GiB, got ${size}`);
    this.base = base;
    this.size = size;
    const share = options.share;
    this.shared = share !== undefined || options.shared === true;
    this.threadBit = 1 << (options.thread ?? 0);
    if (HART_AREAS_BYTES + size <= 2 ** 32) {
      const pages = Math.ceil((HART_AREAS_BYTES + size) / WASM_PAGE);
      this.memory =
        share?.memory ??
        new WebAssembly.Memory({ initial: pages, maximum: pages, shared: this.shared });
      if (this.memory.buffer.byteLength !== pages * WASM_PAGE) {
        throw new RamError(`the shared memory is not of ${size} bytes of RAM`);
      }
      this.buffer = this.memory.buffer;
      this.byteOffset = HART_AREAS_BYTES;
    } else {
      if (this.shared) throw new RamError('RAM shared with other threads is limited to 4 GiB');
      this.memory = null;
      this.buffer = new ArrayBuffer(size);
      this.byteOffset = 0;
    }
    this.u8 = new Uint8Array(this.buffer, this.byteOffset, size);
    this.u16 = new Uint16Array(this.buffer, this.byteOffset, size / 2);
    this.i32 = new Int32Array(this.buffer, this.byteOffset, size / 4);
    this.i64 = new BigInt64Array(this.buffer, this.byteOffset, size / 8);
    this.view = new DataView(this.buffer, this.byteOffset, size);
    this.translated = new Uint8Array(size / PAGE_SIZE);
    this.codeGen = new Uint32Array(size / PAGE_SIZE);
    const pageCount = size / PAGE_SIZE;
    const sab = (name: keyof Omit<RamShare, 'memory'>, bytes: number): SharedArrayBuffer => {
      const b = share?.[name] ?? new SharedArrayBuffer(bytes);
      if (b.byteLength !== bytes) throw new RamError(`the shared ${name} table does not fit`);
      return b;
    };
    if (this.shared) {
      this.dirty = new Uint8Array(sab('dirty', pageCount));
      this.epochWord = new Int32Array(sab('epoch', 4));
      this.codeThreads = new Uint8Array(sab('codeThreads', pageCount));
      this.sharedWrites = new Uint32Array(sab('codeWrites', pageCount * 4));
      this.seenWrites = new Uint32Array(pageCount);
      this.areaWords = new Int32Array(this.buffer, 0, HART_AREAS_BYTES >> 2);
    } else {
      this.dirty = new Uint8Array(pageCount);
      this.epochWord = new Int32Array(1);
    }
    this.written = new Uint8Array(size / PAGE_SIZE);
    this.code = new Array<Int32Array | null>(size / PAGE_SIZE).fill(null);
    this.codeWrites = new Uint16Array(size / PAGE_SIZE);
  }

  /**
   * Reserves a hart's area in front of RAM and returns its byte offset in the
   * buffer, or -1 when there is no wasm memory or no area left.
   */
  /** Hart areas handed out so far (at 0, HART_AREA_BYTES, ...). */
  get hartAreas(): number {
    return this.areasUsed;
  }

  allocHartArea(): number {
    if (this.memory === null || this.areasUsed >= HART_AREAS_BYTES / HART_AREA_BYTES) return -1;
    const area = this.areasUsed++ * HART_AREA_BYTES;
    this.localHartAreas.push(area);
    return area;
  }

  /**
   * The areas of the harts that run on this thread (byte offsets), whose jump caches this
   * thread's block cache keeps right: every area handed out, or with harts on threads of their
   * own, hart 0's on the VMM thread (VirtBoard) and its own hart's on a worker (Hart's
   * config.area). Another thread's hart's area is never touched from here.
   */
  readonly localHartAreas: number[] = [];
  /**
   * The areas of the harts that run on other threads over this shared RAM. When a page becomes
   * code here, their write TLB entries for it are dropped at once (dropPeerWrites), so that the
   * next store they make to it goes through noteWrite and reaches this thread's decoded copy.
   */
  peerHartAreas: number[] = [];
  /**
   * Gives the pages under `view` (whole pages of this RAM's wasm memory) back to the host so
   * that they read as zero after, and says whether it did (discard). Set by the VMM, which has
   * the host's madvise; none in the machine layer.
   */
  discarder: ((view: Uint8Array) => boolean) | null = null;

  /**
   * Forgets every translation that starts in page `page` (its slots count afresh), and those
   * of the pages whose translations brought in code of this one (noteInlined).
   */
  dropTranslations(page: number): void {
    this.translated[page] = 0;
    this.codeGen[page]++;
    const c = this.code[page];
    if (c !== null) for (let i = 3; i < c.length; i += CODE_SLOT_WORDS) c[i] = 0;
    this.onDropTranslations?.(page);
    const into = this.inlinedInto.get(page);
    if (into === undefined) return;
    this.inlinedInto.delete(page);
    for (const p of into) if (this.translated[p] !== 0) this.dropTranslations(p);
  }

  /**
   * Notes that a translation starting in page `into` holds code of page `from` (an inlined
   * callee, jit/blockScan.ts): a write to `from` then drops the translations of both.
   */
  noteInlined(from: number, into: number): void {
    this.translated[from] = 1;
    const list = this.inlinedInto.get(from);
    if (list === undefined) this.inlinedInto.set(from, [into]);
    else if (!list.includes(into)) list.push(into);
  }

  /**
   * The decoded-instruction cache of page `page` (RAM offset >> 12), created
   * empty on first use. From then on the page must not be written through a
   * write TLB: callers flush theirs (dirtyEpoch tells the other harts).
   */
  codePage(page: number): Int32Array {
    let c = this.code[page];
    if (c === null) {
      c = new Int32Array((PAGE_SIZE / 2) * CODE_SLOT_WORDS);
      for (let i = 0; i < c.length; i += CODE_SLOT_WORDS) c[i] = CODE_SLOT_EMPTY;
      this.translated[page] = 0;
      this.codeGen[page]++;
      this.code[page] = c;
      this.codeWrites[page] = 0;
      if (this.codeThreads !== null) {
        Atomics.or(this.codeThreads, page, this.threadBit);
        this.seenWrites![page] = Atomics.load(this.sharedWrites!, page);
        this.codeList.push(page);
        this.dropPeerWrites(page);
      }
      this.dirtyEpoch++;
    }
    return c;
  }

  /**
   * Empties the write TLB entries of the other threads' harts that map page `page`. The epoch
   * alone would leave them until those harts' next slice, and a store through such an entry
   * skips noteWrite: the code this thread decoded would stay stale past its FENCE.I. An entry
   * a hart read just before is the same as a store made before the page became code.
   */
  private dropPeerWrites(page: number): void {
    const words = this.areaWords!;
    const stride = TLB_ENTRY_BYTES >> 2;
    const ram = TLB_RAM >> 2;
    for (const area of this.peerHartAreas) {
      const end = (area + AREA_WTLB + TLB_SIZE * TLB_SET_BYTES) >> 2;
      for (let e = (area + AREA_WTLB) >> 2; e < end; e += stride) {
        const lo = words[e];
        if (lo !== TLB_EMPTY && (words[e + ram] + (lo & ~0xfff)) >>> 12 === page) {
          words[e] = TLB_EMPTY;
        }
      }
    }
  }

  /** What a worker thread needs to make its own Ram over this shared one. */
  share(): RamShare {
    if (!this.shared || this.memory === null) throw new RamError('this RAM is not shared');
    return {
      memory: this.memory,
      dirty: this.dirty.buffer as SharedArrayBuffer,
      epoch: this.epochWord.buffer as SharedArrayBuffer,
      codeThreads: this.codeThreads!.buffer as SharedArrayBuffer,
      codeWrites: this.sharedWrites!.buffer as SharedArrayBuffer,
    };
  }

  /** True when page `page` holds decoded code, of this thread or (shared RAM) another's. */
  isCode(page: number): boolean {
    return this.code[page] !== null || (this.codeThreads !== null && this.codeThreads[page] !== 0);
  }

  /** Drops this thread's decoded code of page `page` (and its translations). */
  private forgetCodePage(page: number): void {
    if (this.translated[page] !== 0) this.dropTranslations(page);
    else this.codeGen[page]++;
    this.code[page] = null;
    if (this.codeThreads !== null) Atomics.and(this.codeThreads, page, ~this.threadBit);
  }

  /**
   * Shared RAM, at FENCE.I: drops this thread's decoded code of every page another thread (or a
   * device) wrote since this thread decoded it, so that rewritten code is never run stale.
   */
  syncCode(): void {
    const writes = this.sharedWrites;
    if (writes === null) return;
    const seen = this.seenWrites!;
    const kept: number[] = [];
    for (const p of this.codeList) {
      if (this.code[p] === null) continue;
      if (Atomics.load(writes, p) !== seen[p]) this.forgetCodePage(p);
      else kept.push(p);
    }
    this.codeList = kept;
  }

  /** Pages that have a decoded-instruction cache now. */
  codePageCount(): number {
    let n = 0;
    for (let p = 0; p < this.code.length; p++) if (this.code[p] !== null) n++;
    return n;
  }

  /**
   * Forgets every page's decoded instructions and translations, so that the memory they hold
   * can be freed: pages executed again are decoded anew (and translated again once hot).
   * Nothing the guest sees changes. Call between slices (a running hart keeps its page's cache).
   */
  dropCode(): void {
    for (let p = 0; p < this.code.length; p++) if (this.code[p] !== null) this.forgetCodePage(p);
    this.codeList = [];
  }

  /**
   * Records a write of `len` bytes at offset `off` made outside a write TLB:
   * marks the pages dirty and forgets decoded instructions the bytes overlap.
   */
  noteWrite(off: number, len: number): void {
    const first = Math.floor(off / PAGE_SIZE);
    const last = Math.floor((off + len - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) {
      this.dirty[p] = 1;
      if (this.codeThreads !== null && this.codeThreads[p] !== 0) {
        // Tell the other threads holding the page's code (they drop it at their next FENCE.I);
        // this thread's own copy is put right below.
        const before = Atomics.add(this.sharedWrites!, p, 1);
        if (this.seenWrites![p] === before) this.seenWrites![p] = before + 1;
      }
      const c = this.code[p];
      if (c === null) continue;
      // Translated blocks may span the written bytes: drop them all.
      if (this.translated[p] !== 0) this.dropTranslations(p);
      if (++this.codeWrites[p] > CODE_WRITE_LIMIT) {
        this.code[p] = null;
        if (this.codeThreads !== null) Atomics.and(this.codeThreads, p, ~this.threadBit);
        continue;
      }
      const base = p * PAGE_SIZE;
      const start = Math.max(off - base - 2, 0) >> 1;
      const end = Math.min(off + len - base - 1, PAGE_SIZE - 1) >> 1;
      for (let slot = start; slot <= end; slot++) c[slot * CODE_SLOT_WORDS] = CODE_SLOT_EMPTY;
    }
  }

  /**
   * Gives the whole pages inside `len` bytes at physical address `pa` back to the host, which
   * the guest said it no longer needs (virtio-balloon): from then on they read as zero. Returns
   * the bytes given back: 0 when the range is not all RAM, when no discarder is set or the RAM
   * is not a wasm memory (whose pages are the host's own), or when the discarder failed; then
   * the pages keep their bytes, which the guest may not rely on either way.
   */
  discard(pa: number, len: number): number {
    const off = this.offsetOf(pa, len);
    if (off < 0 || this.discarder === null || this.memory === null) return 0;
    const first = Math.ceil(off / PAGE_SIZE);
    const end = Math.floor((off + len) / PAGE_SIZE);
    if (end <= first) return 0;
    const bytes = (end - first) * PAGE_SIZE;
    if (!this.discarder(new Uint8Array(this.buffer, this.byteOffset + first * PAGE_SIZE, bytes))) {
      return 0;
    }
    // The bytes changed (to zero) outside any write TLB: the dirty log and decoded code must know.
    this.noteWrite(first * PAGE_SIZE, bytes);
    return bytes;
  }

  /** Offset of physical address `pa` in the buffer, or -1 when `pa .. pa+len` is not all RAM. */
  offsetOf(pa: number, len = 1): number {
    const off = pa - this.base;
    return off >= 0 && off + len <= this.size ? off : -1;
  }

  /** Returns the pages written since the last call and starts a new log. */
  takeDirtyPages(): number[] {
    const pages: number[] = [];
    for (let p = 0; p < this.dirty.length; p++) {
      if (this.dirty[p] !== 0) this.written[p] = 1;
      else if (!this.allDirty) continue;
      pages.push(p);
    }
    this.dirty.fill(0);
    this.allDirty = false;
    this.dirtyEpoch++;
    return pages;
  }

  /** Copies `data` into RAM at physical address `pa` (used by loaders and devices). */
  write(pa: number, data: Uint8Array): void {
    const off = this.offsetOf(pa, data.length);
    if (off < 0) {
      throw new RamError(
        `cannot place ${data.length} bytes at 0x${pa.toString(16)}: outside RAM ` +
          `0x${this.base.toString(16)}..0x${(this.base + this.size).toString(16)}`,
      );
    }
    this.u8.set(data, off);
    if (data.length) this.noteWrite(off, data.length);
  }

  read(pa: number, len: number): Uint8Array {
    const off = this.offsetOf(pa, len);
    if (off < 0)
      throw new RamError(`cannot read ${len} bytes at 0x${pa.toString(16)}: outside RAM`);
    return this.u8.slice(off, off + len);
  }

  /** True when page `page` holds only zero bytes. */
  isZeroPage(page: number): boolean {
    const words = this.i32;
    const end = (page + 1) * (PAGE_SIZE / 4);
    for (let i = page * (PAGE_SIZE / 4); i < end; i++) if (words[i] !== 0) return false;
    return true;
  }

  /** True when page `page` may hold bytes that are not zero (false: it is zero as made). */
  mayHoldData(page: number): boolean {
    return this.dirty[page] !== 0 || this.written[page] !== 0;
  }

  /** False for a page that is all zero; never-written pages are not read (not made resident). */
  holdsData(page: number): boolean {
    return this.mayHoldData(page) && !this.isZeroPage(page);
  }

  /**
   * Makes the host back `pages` now, so that whatever fills them later (a restore) does not
   * pay a page fault each (about 15 us on a virtual host): a zero is written to each page that
   * is still zero as made. Pages out of range are skipped; nothing the guest sees changes.
   */
  prefault(pages: Iterable<number>): void {
    const count = this.size / PAGE_SIZE;
    for (const p of pages) {
      if (Number.isInteger(p) && p >= 0 && p < count && !this.mayHoldData(p)) {
        this.u8[p * PAGE_SIZE] = 0;
      }
    }
  }

  /** The pages that are not all zero, in order; pages never written are not read. */
  dataPages(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.size / PAGE_SIZE; p++) if (this.holdsData(p)) out.push(p);
    return out;
  }

  /**
   * The pages that are not all zero, in runs whose data are views of RAM (no copy): valid
   * until RAM is next written, e.g. while the machine is paused for a snapshot.
   */
  dataRuns(): RamRun[] {
    const runs: RamRun[] = [];
    const pages = this.size / PAGE_SIZE;
    let p = 0;
    while (p < pages) {
      if (!this.holdsData(p)) {
        p++;
        continue;
      }
      const first = p;
      while (p < pages && this.holdsData(p)) p++;
      runs.push({ page: first, data: this.u8.subarray(first * PAGE_SIZE, p * PAGE_SIZE) });
    }
    return runs;
  }

  /** A copy of the pages that are not all zero. */
  saveState(): RamState {
    const runs = this.dataRuns().map((r) => ({ page: r.page, data: r.data.slice() }));
    return { size: this.size, runs };
  }

  checkState(data: unknown): RamState {
    if (data === null || typeof data !== 'object') throw new StateError('must be a RAM state');
    const { size, runs } = data as Partial<RamState>;
    if (size !== this.size) {
      throw new StateError(`the state is of ${size} bytes of RAM, this RAM has ${this.size}`);
    }
    if (!Array.isArray(runs)) throw new StateError('runs must be a list');
    const pages = this.size / PAGE_SIZE;
    let next = 0;
    runs.forEach((r: Partial<RamRun>, i) => {
      const where = `runs[${i}]`;
      if (r === null || typeof r !== 'object' || !(r.data instanceof Uint8Array)) {
        throw new StateError(`${where} must be {page, data} with data in bytes`);
      }
      const n = r.data.length / PAGE_SIZE;
      if (!Number.isInteger(n) || n < 1) {
        throw new StateError(`${where} holds ${r.data.length} bytes, not a whole number of pages`);
      }
      if (!Number.isInteger(r.page) || r.page! < next || r.page! + n > pages) {
        throw new StateError(
          `${where} at page ${r.page} (${n} pages) is out of order or beyond the ${pages} pages of RAM`,
        );
      }
      next = r.page! + n;
    });
    return { size, runs: runs as RamRun[] };
  }

  /**
   * Takes checked contents: all of RAM is written, so every decoded page is forgotten and every
   * page is dirty. Pages outside the runs are zeroed where they may not be zero already; pages
   * never written are not touched.
   */
  loadState(s: RamState): void {
    let next = 0;
    for (const r of s.runs) {
      this.zeroPages(next, r.page);
      this.u8.set(r.data, r.page * PAGE_SIZE);
      next = r.page + r.data.length / PAGE_SIZE;
      this.written.fill(1, r.page, next);
    }
    this.zeroPages(next, this.size / PAGE_SIZE);
    this.dropCode();
    // Every page is dirty; the log itself starts empty, so that it goes on telling the pages
    // written from now on (write TLBs refill and mark them: dirtyEpoch).
    this.dirty.fill(0);
    this.allDirty = true;
    this.dirtyEpoch++;
  }

  /** Zeroes pages `from` .. `to` - 1 that may hold other bytes, and notes them as zero. */
  private zeroPages(from: number, to: number): void {
    for (let p = from; p < to; p++) {
      if (!this.mayHoldData(p)) continue;
      this.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
      this.written[p] = 0;
    }
  }
}
