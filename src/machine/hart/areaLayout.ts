// Layout of a hart's area in the wasm memory in front of guest RAM (see
// ram.ts): the state that translated blocks (jit/) read and write directly.
// The interpreter sees the same bytes through typed views, so both engines
// share one copy of the integer and floating-point registers and of the read
// and write TLBs.

export const TLB_BITS = 11;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;

/** Integer registers: 33 little-endian 64-bit slots (x0..x31, then the discard slot). */
export const AREA_X = 0;
/** pc after a translated block returns (low and high halves). */
export const AREA_PC_LO = 272;
export const AREA_PC_HI = 276;
/** The data TLB tag bits (Mmu.dataTag) in force while a block runs. */
export const AREA_DTAG = 280;
/**
 * The jump cache tag: the fetch TLB tag bits (Mmu.fetchTag: privilege and
 * flush generation) in bits 0..11 and a jump cache generation above them.
 */
export const AREA_FTAG = 284;
/** The LR/SC reservation: the reserved RAM offset, or -1 (both engines read and write it). */
export const AREA_RESV = 288;
/**
 * CSR state both engines read and write: mstatus (its low half; the interpreter's Hart.mstatus),
 * the accrued FP flags and the rounding mode (FpRegs.flags and frm, one word each), and the
 * S-mode trap registers whose accesses have no side effect (64-bit, as low and high words).
 */
export const AREA_MSTATUS = 292;
export const AREA_FFLAGS = 296;
export const AREA_FRM = 300;
export const AREA_SSCRATCH = 304;
export const AREA_SEPC = 312;
export const AREA_SCAUSE = 320;
export const AREA_STVAL = 328;
/**
 * The value the LR read (64-bit, a word's sign-extended): an SC stores only if memory still
 * holds it, compared and swapped atomically (atomics.ts), so a store by another hart between
 * the LR and the SC makes the SC fail even when harts run at once on threads of their own.
 */
export const AREA_RESV_VAL = 336;
/** The end of the words from AREA_RESV on (Hart's view of them). */
export const AREA_CSR_END = 344;
/**
 * Not 0: another thread asks the hart to stop at its next block boundary (an interrupt line
 * raised, a device request waiting, a pause); the dispatcher returns and Hart.run ends its slice.
 */
export const AREA_KICK = 344;
/**
 * Not 0: a block that sets sstatus.SIE (flagged BLOCK_STOP) returns to the hart's run loop, which
 * looks for interrupts after it as after any CSR instruction it runs itself. The run loop sets
 * it at each pass: to 0 only when no interrupt is pending and enabled in mie and the hart need not
 * take one at the very instruction (Hart.preciseInterrupts), so that the dispatcher goes on.
 */
export const AREA_IRQ = 348;
/**
 * Floating-point registers f0..f31: 32 little-endian 64-bit slots (FpRegs views them; a single
 * is the low half, NaN-boxed by a high half of all ones).
 */
export const AREA_F = 512;
/**
 * The read, write and fetch TLBs: TLB_SIZE sets each of two entries (ways), an entry
 * TLB_ENTRY_BYTES long, a set TLB_SET_BYTES; the set is chosen by the virtual page's low bits.
 * An entry is its tag, one 64-bit word (TLB_TAG: the virtual page, with Mmu's tag bits in its
 * low 12 bits), then a 32-bit word TLB_RAM. In the read and write TLBs that word is the page's
 * RAM offset minus its virtual address (the low halves, wrapping), so that an address's low
 * half plus it is the RAM offset; in the fetch TLB it is the page's RAM offset. A set sits in
 * one cache line, and translated code compares a tag in one 64-bit compare. A fill goes to way
 * 0 and moves what was there to way 1, so two pages whose sets collide (a guest's buffers a
 * multiple of 8 MiB apart) both stay.
 */
export const TLB_ENTRY_SHIFT = 4;
export const TLB_ENTRY_BYTES = 1 << TLB_ENTRY_SHIFT;
export const TLB_SET_SHIFT = TLB_ENTRY_SHIFT + 1;
export const TLB_SET_BYTES = 1 << TLB_SET_SHIFT;
export const TLB_TAG = 0;
export const TLB_RAM = 8;
export const AREA_RTLB = 1024;
export const AREA_WTLB = AREA_RTLB + TLB_SIZE * TLB_SET_BYTES;
export const AREA_XTLB = AREA_WTLB + TLB_SIZE * TLB_SET_BYTES;
/**
 * The tag low word of an empty entry: its privilege bits (2) are no privilege level, so no
 * lookup's tag matches it.
 */
export const TLB_EMPTY = -2;
/**
 * The jump cache: JC_SIZE entries of [pc low, pc high, tag, block number, RAM
 * offset of the block's page, unused x3] that let the dispatcher
 * (jit/dispatcher.ts) go from block to block without leaving WebAssembly. An
 * entry is valid while its tag equals AREA_FTAG but for the TLB generation
 * (same jump cache generation, same privilege level) and the fetch TLB maps
 * the pc's page to the entry's RAM page: the dispatcher checks both at every
 * jump, so TLB flushes and address-space switches need not touch the cache.
 * Sets of two entries (ways), chosen by a multiplicative hash of the pc (jcIndex); a jump
 * added goes to way 0 and moves what was there to way 1 (jcPut). Direct-mapped, with the pc's
 * low bits xor its page number as the index, two or three pairs of hot jumps in each
 * workload of the bench:cpu guest shared an entry and evicted each other at every pass: in
 * the ash loop 245,000 of 380,000 dispatches a pass were such a return to JavaScript and a
 * dispatch again (8,192 entries had made it 2.2 million of 7.1 million in `sed | awk`).
 */
export const JC_BITS = 14;
export const JC_SIZE = 1 << JC_BITS;
export const JC_ENTRY_BYTES = 32;
export const JC_WAYS = 2;
/** Fibonacci hashing's multiplier: 2^32 divided by the golden ratio, odd. */
export const JC_HASH = 0x9e3779b1 | 0;
export const AREA_JC = AREA_XTLB + TLB_SIZE * TLB_SET_BYTES;
/**
 * Bytes, one per RAM page number modulo JUMP_FRAMES: 1 when the jump cache may
 * hold a jump into a block of such a page (set as jumps are added, cleared
 * when all are forgotten), so that dropping other pages' blocks keeps the cache.
 */
export const JUMP_FRAMES = 4096;
export const AREA_JUMP_FRAMES = AREA_JC + JC_SIZE * JC_ENTRY_BYTES;
export const AREA_END = AREA_JUMP_FRAMES + JUMP_FRAMES;

/**
 * Forgets every jump in the jump cache of the area whose words start at index
 * `base` of `words`: a new generation in the tag, and on the rare wrap of the
 * generation, tags that match nothing.
 */
export function forgetJumps(words: Int32Array, base: number): void {
  words.fill(0, base + (AREA_JUMP_FRAMES >> 2), base + ((AREA_JUMP_FRAMES + JUMP_FRAMES) >> 2));
  const t = base + (AREA_FTAG >> 2);
  const next = (words[t] + 0x1000) | 0;
  words[t] = next;
  if (next >>> 12 === 0) {
    const end = base + ((AREA_JC + JC_SIZE * JC_ENTRY_BYTES) >> 2);
    for (let i = base + (AREA_JC >> 2) + 2; i < end; i += JC_ENTRY_BYTES >> 2) words[i] = -1;
  }
}

/** Sets the fetch TLB bits of the jump cache tag of the area at `base`, keeping its generation. */
export function setJumpFetchTag(words: Int32Array, base: number, fetchTag: number): void {
  const t = base + (AREA_FTAG >> 2);
  words[t] = (words[t] & ~0xfff) | fetchTag;
}

/** Index of the jump cache entry of way 0 of the set of the pc whose low half is `pcLo`. */
export function jcIndex(pcLo: number): number {
  return (Math.imul(pcLo >>> 1, JC_HASH) >>> (32 - JC_BITS + 1)) * JC_WAYS;
}

/**
 * Adds the jump to `block` (whose page is at RAM offset `page`) at pc (lo, hi) to the jump
 * cache whose first word is index `jc` of `words`, with `tag`: in way 0 of its set, what was
 * there moving to way 1, unless way 0 already holds that pc.
 */
export function jcPut(
  words: Int32Array,
  jc: number,
  lo: number,
  hi: number,
  tag: number,
  block: number,
  page: number,
): void {
  const e = jc + jcIndex(lo) * (JC_ENTRY_BYTES >> 2);
  if (words[e] !== lo || words[e + 1] !== hi) {
    words.copyWithin(e + (JC_ENTRY_BYTES >> 2), e, e + 5);
  }
  words[e] = lo;
  words[e + 1] = hi;
  words[e + 2] = tag;
  words[e + 3] = block;
  words[e + 4] = page;
}
