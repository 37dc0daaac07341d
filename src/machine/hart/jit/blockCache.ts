// Compiled blocks of guest code, shared by the harts of one RAM: each block is
// a WebAssembly function made by translate.ts. Blocks are numbered from 1; the
// code slot of the RAM (ram.ts) where a block starts holds its number.
//
// A hart asks for a block where it has interpreted an instruction often
// enough (request); the visit counts are halved every DECAY_INSTRUCTIONS, so
// "often" means in a burst (decayVisits). The translation is made at once; compiling is batched:
// up to BATCH bodies become one module, compiled (new WebAssembly.Module:
// V8's quick baseline code, optimised later on its background threads once
// hot) and installed when the batch is full or the hart's slice ends (flush),
// unless the page was written meanwhile (its generation in ram.codeGen moved
// on). Compiling in the background instead (WebAssembly.compile) left the hot
// code to the interpreter until the event loop's next turn brought the module:
// a boot interpreted 147 rather than 80 million instructions, and took 0.3 to
// 0.4 s longer. In synchronous mode (tests) each block is compiled on the spot.
//
// A write to a page drops the page's blocks (Ram.dropTranslations). When
// maxBlocks have been made, all blocks are dropped, the table is emptied so
// that V8 can free their modules, and numbering starts again (a reset, as QEMU
// flushes its translation cache when the buffer is full): that bounds the
// memory they hold. Hit counts start again too, so only code still hot is
// translated anew. Without it the blocks only grew: a guest running the eleven
// workloads of bench/cpu round after round made about 7,500 blocks in the
// first round, 3,200 in the second, 1,600 in the third (new entry points into
// code already translated, 45 % of them inside an existing block, and code
// whose visits added up to the threshold over several rounds), at some 18 KiB
// resident each; an hour's soak grew from 356 MiB at minute 5 to 616 MiB.
// release() does the same at the VMM's asking while the guest idles
// (vmm/idleTrim.ts), which also collects and trims after a reset.

import { CODE_SLOT_WORDS, HART_AREAS_BYTES, type Ram } from '../../ram.js';
import { AREA_JUMP_FRAMES, forgetJumps, JUMP_FRAMES } from '../areaLayout.js';
import { dispatcherBytes, type DispatchFn } from './dispatcher.js';
import type { PagePeek } from './blockScan.js';
import { BlockTranslator } from './translate.js';
import { moduleBytes, T_I32, type FuncType } from './wasmWriter.js';

/**
 * Blocks made before all are dropped and made anew. The hot code of any one workload of
 * bench/cpu took 200 to 2,800 blocks (a boot the most); at about 18 KiB resident a block this
 * bounds them near 150 MiB.
 */
export const MAX_BLOCKS = 8192;
/** Most blocks compiled as one module. */
export const BATCH = 64;
/**
 * Value of a code slot's translation word while its block is being compiled,
 * or after its first instruction proved untranslatable: below any hit count,
 * so the hart neither counts nor asks again until the page's translations drop.
 */
export const SLOT_NO_REQUEST = -0x40000000;
/**
 * Instructions the harts run between two halvings of every visit count (decayVisits), about
 * 10 to 40 s of a busy guest: an instruction is translated when it is visited
 * --jit-threshold times in a burst, not when its visits add up to that over an hour.
 */
export const DECAY_INSTRUCTIONS = 2 ** 32;

const BLOCK_TYPE: FuncType = { params: [T_I32, T_I32, T_I32, T_I32], results: [T_I32] };

interface Pending {
  page: number;
  gen: number;
  code: Int32Array;
  slot: number;
  body: Uint8Array;
  /** The translation words of the block's other instructions, held while it compiles. */
  covered: number[];
}

const caches = new WeakMap<Ram, BlockCache>();

export class BlockCache {
  /** Blocks by number (entry 0 is never called), as the dispatcher calls them. */
  private readonly table = new WebAssembly.Table({ element: 'anyfunc', initial: MAX_BLOCKS + 1 });
  /** Blocks made before a reset (MAX_BLOCKS; lower in tests). */
  maxBlocks = MAX_BLOCKS;
  /** Numbers handed out so far. */
  private blockCount = 1;
  /**
   * Instructions run since the visit counts were last halved, in a Float64Array: as a field, the
   * count passing 2^30 (no longer a small integer to V8) changed the cache's shape mid-boot and
   * threw away the code optimised for it, the interpreter's included.
   */
  private readonly sinceDecay = new Float64Array(1);
  /** Instructions between two halvings (DECAY_INSTRUCTIONS; lower in tests). */
  decayInstructions = DECAY_INSTRUCTIONS;
  /** Table entries that may hold a block: 1 .. tableUsed - 1. */
  private tableUsed = 1;
  /** Runs a block and the blocks after it (dispatcher.ts). */
  readonly dispatch: DispatchFn;
  private readonly translator = new BlockTranslator();
  private readonly imports: WebAssembly.Imports;
  /** The hart areas in front of RAM, as words and bytes. */
  private readonly areaWords: Int32Array;
  private readonly areaBytes: Uint8Array;
  private batch: Pending[] = [];
  /** Compile each block as it is asked for instead of in batches (tests). */
  synchronous = false;
  /** Counters. */
  compiled = 0;
  modules = 0;
  untranslatable = 0;
  stale = 0;
  resets = 0;
  releases = 0;
  decays = 0;
  instructions = 0;

  private constructor(private readonly ram: Ram) {
    if (ram.memory === null) throw new Error('BlockCache needs RAM in a WebAssembly memory');
    this.imports = { m: { m: ram.memory } };
    this.areaWords = new Int32Array(ram.buffer, 0, HART_AREAS_BYTES >> 2);
    this.areaBytes = new Uint8Array(ram.buffer, 0, HART_AREAS_BYTES);
    const d = new WebAssembly.Instance(new WebAssembly.Module(dispatcherBytes(ram.shared)), {
      m: { m: ram.memory, t: this.table },
    });
    this.dispatch = d.exports['d'] as DispatchFn;
    ram.onDropTranslations = (page) => this.clearJumpCaches(page);
  }

  /**
   * Forgets the remembered jumps of every hart (all, or those that may lead
   * into blocks of RAM page `page`, which were dropped).
   */
  clearJumpCaches(page = -1): void {
    const words = this.areaWords;
    const bytes = this.areaBytes;
    for (const at of this.ram.localHartAreas) {
      if (page >= 0 && bytes[at + AREA_JUMP_FRAMES + (page & (JUMP_FRAMES - 1))] === 0) continue;
      forgetJumps(words, at >> 2);
    }
  }

  /** The cache of `ram`'s blocks (RAM in a WebAssembly memory only). */
  /** The cache of `ram`'s blocks if one was made, else null. */
  static existing(ram: Ram): BlockCache | null {
    return caches.get(ram) ?? null;
  }

  static of(ram: Ram): BlockCache {
    let c = caches.get(ram);
    if (c === undefined) {
      c = new BlockCache(ram);
      caches.set(ram, c);
    }
    return c;
  }

  /**
   * Asks for the block starting at page offset `po` of the code page at RAM offset `pageOff`
   * (`peek`: the other pages of the hart's address space, BlockScan.scan). Returns the block's
   * number when it is ready at once (synchronous mode), else 0; the slot is marked
   * SLOT_NO_REQUEST until flush.
   */
  request(pageOff: number, po: number, peek: PagePeek | null = null): number {
    if (this.blockCount + this.batch.length > this.maxBlocks) {
      // Those under way are voided with the rest (their pages' translations drop).
      this.empty();
      this.batch = [];
      this.resets++;
    }
    const page = pageOff >>> 12;
    const code = this.ram.codePage(page);
    const slot = (po >>> 1) * CODE_SLOT_WORDS + 3;
    const t = this.translator.translate(this.ram, pageOff, po, peek);
    code[slot] = SLOT_NO_REQUEST;
    if (t === null) {
      this.untranslatable++;
      return 0;
    }
    // From now on a write to the page moves its generation on, which voids this translation.
    this.ram.translated[page] = 1;
    // and so does a write to a page of a callee it brought in.
    for (const q of t.pages) this.ram.noteInlined(q, page);
    this.instructions += t.count;
    // The visits that made this block made its other instructions as hot: while it compiles,
    // they neither count nor ask for blocks of their own (which would start a block at every
    // instruction of a hot path); once it is in, they count from nothing, as entry points that
    // only side exits reach.
    const covered: number[] = [];
    for (let k = 1; k < t.count; k++) {
      if (t.own[k] === 0) continue;
      const s = ((po + t.offsets[k]) >>> 1) * CODE_SLOT_WORDS + 3;
      if (code[s] <= 0 && code[s] > SLOT_NO_REQUEST) {
        code[s] = SLOT_NO_REQUEST;
        covered.push(s);
      }
    }
    this.batch.push({ page, gen: this.ram.codeGen[page], code, slot, body: t.body, covered });
    if (this.synchronous) {
      this.flush();
      return code[slot] > 0 ? code[slot] : 0;
    }
    if (this.batch.length >= BATCH) this.flush();
    return 0;
  }

  /**
   * Called by a hart at the end of its slice of `instructions`: compiles and installs what was
   * asked for, and halves the visit counts every DECAY_INSTRUCTIONS. Both depend only on the
   * instructions run, so a deterministic run stays so.
   */
  sliceEnd(instructions: number): void {
    this.flush();
    const since = this.sinceDecay;
    since[0] += instructions;
    if (since[0] >= this.decayInstructions) {
      since[0] = 0;
      this.decayVisits();
    }
  }

  /**
   * Halves the visits counted at every instruction of every decoded page (the translation
   * words between SLOT_NO_REQUEST and zero), as HotSpot decays its invocation counters.
   */
  decayVisits(): void {
    for (const c of this.ram.code) {
      if (c === null) continue;
      for (let i = 3; i < c.length; i += CODE_SLOT_WORDS) {
        const t = c[i];
        if (t < 0 && t > SLOT_NO_REQUEST) c[i] = -(-t >>> 1);
      }
    }
    this.decays++;
  }

  /** Compiles and installs the blocks asked for so far. */
  flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const bytes = moduleBytes(
      BLOCK_TYPE,
      batch.map((p) => p.body),
      this.ram.shared,
    );
    this.modules++;
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes);
    } catch {
      // Cannot happen for a valid translation; the slots simply stay interpreted.
      for (const p of batch) this.uncover(p);
      return;
    }
    this.install(batch, module);
  }

  private install(batch: Pending[], module: WebAssembly.Module): void {
    const exports = new WebAssembly.Instance(module, this.imports).exports;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i];
      if (this.ram.code[p.page] !== p.code || this.ram.codeGen[p.page] !== p.gen) {
        this.stale++;
        continue;
      }
      this.uncover(p);
      p.code[p.slot] = this.blockCount;
      this.table.set(this.blockCount++, exports[String(i)]);
      if (this.blockCount > this.tableUsed) this.tableUsed = this.blockCount;
      this.compiled++;
    }
  }

  /** Lets the other instructions of a block that arrived (or never will) count again. */
  private uncover(p: Pending): void {
    if (this.ram.code[p.page] !== p.code || this.ram.codeGen[p.page] !== p.gen) return;
    for (const s of p.covered) if (p.code[s] === SLOT_NO_REQUEST) p.code[s] = 0;
  }

  /**
   * Drops every block (and voids the translations under way) and empties the table, so that
   * nothing holds their compiled modules any more (V8 frees them once collected).
   */
  private empty(): void {
    const t = this.ram.translated;
    for (let p = 0; p < t.length; p++) if (t[p] !== 0) this.ram.dropTranslations(p);
    this.blockCount = 1;
    this.clearJumpCaches();
    for (let i = 1; i < this.tableUsed; i++) this.table.set(i, null);
    this.tableUsed = 1;
  }

  /** Blocks that may be live now (made since the last reset). */
  get blocks(): number {
    return this.blockCount - 1;
  }

  /** Drops every block, as a reset does, at the VMM's asking. */
  release(): void {
    this.empty();
    this.releases++;
  }
}
