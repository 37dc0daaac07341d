// Gives back the memory an idle guest's code caches hold. Each page of guest code the harts
// ran keeps a decode array (32 KiB, machine/ram.ts) and hot code keeps its compiled
// WebAssembly blocks (machine/hart/jit/blockCache.ts); a booted Debian guest has made some
// 1,400 such pages and 40,000 blocks, over 250 MiB with V8's native data for them, almost all
// of it for code that ran at boot and never again. When the guest has spent IDLE_MS with its
// harts busy for under BUSY_SHARE of the time, and the caches hold more than a few pages,
// they are dropped, V8 collects the modules, and the C library gives the freed pages back to
// the system (malloc_trim; limitMallocArenas keeps V8's threads from holding arenas of their
// own, whose memory a trim barely gets back). What the guest runs next is decoded and translated anew; nothing
// it sees changes (both engines are exact), and a deterministic run, whose idle time passes
// at once, is never trimmed. A busy guest's blocks are bounded by the cache itself, which
// drops them all when it has made MAX_BLOCKS; the collection and the trim follow that too.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Ram } from '../machine/ram.js';
import { BlockCache } from '../machine/hart/jit/blockCache.js';
import { hostMemory, M_ARENA_MAX } from './hostMemory.js';

/** Length of the window the guest must have idled through, ms. */
export const IDLE_MS = 3000;
/** Share of the window the harts may have run and still count as idle. */
export const BUSY_SHARE = 0.05;
/**
 * Decode arrays below which a trim is not worth its cost. An idle Debian guest runs some 100
 * to 200 pages of code again after a trim (its timer interrupts, the scheduler); the bar after
 * a trim is twice what the guest made again by the next idle window, and never lower than this.
 */
const MIN_CODE_PAGES = 384;

let collect: (() => void) | null = null;

/** V8's full garbage collection, reached without starting Node with --expose-gc. */
function gc(): void {
  if (collect === null) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

/**
 * Asks glibc for one malloc arena for the threads that have none yet (V8's compile threads
 * would make one each, holding some 40 MiB the trim cannot give back). Not awaited. Threads
 * that allocated before it keep theirs: a VMM started with NODE_ENV (nodeFlags.ts) has the
 * limit from the start, and this is for one started otherwise.
 */
export function limitMallocArenas(): void {
  void hostMemory().then((m) => m?.option(M_ARENA_MAX, 1));
}

export class IdleTrim {
  private windowStart = performance.now();
  private busyMs = 0;
  /** Decode arrays the caches must hold for a trim to be worth it. */
  private bar = MIN_CODE_PAGES;
  /** The next quiet window sets the bar (a trim was just done). */
  private settling = false;
  /** Trims done, and the milliseconds they took. */
  trims = 0;
  trimMs = 0;
  /** The block cache's resets seen so far (each followed by a collection and a trim). */
  private resetsSeen = 0;

  /** Counts a slice of `ms` the harts ran. */
  ran(ms: number): void {
    this.busyMs += ms;
  }

  /**
   * Called as the guest goes to sleep in WFI: trims `ram`'s caches when the window that
   * ends now was idle and they hold enough. Resolves when done (at once, mostly).
   */
  async idle(ram: Ram): Promise<void> {
    const now = performance.now();
    const span = now - this.windowStart;
    if (span < IDLE_MS) return;
    const quiet = this.busyMs < span * BUSY_SHARE;
    this.windowStart = now;
    this.busyMs = 0;
    if (!quiet) return;
    const pages = ram.codePageCount();
    if (this.settling) {
      this.settling = false;
      this.bar = Math.max(MIN_CODE_PAGES, 2 * pages);
    }
    if (pages < this.bar) return;
    await this.trim(ram);
  }

  /**
   * Called after each slice: when the block cache filled and dropped its blocks in it (a
   * reset, machine/hart/jit/blockCache.ts), collects their modules and gives the memory back,
   * which V8 alone would do late or never (the guest is busy, and a module's native memory
   * barely counts towards V8's heap limits).
   */
  async afterSlice(ram: Ram): Promise<void> {
    const resets = BlockCache.existing(ram)?.resets ?? 0;
    if (resets === this.resetsSeen) return;
    this.resetsSeen = resets;
    await this.giveBack(performance.now());
  }

  /** Drops the code caches of `ram` and gives their memory back. */
  async trim(ram: Ram): Promise<void> {
    const t = performance.now();
    BlockCache.existing(ram)?.release();
    ram.dropCode();
    await this.giveBack(t);
    this.settling = true;
    this.windowStart = performance.now();
  }

  /** Collects what was dropped and gives the freed memory back; counts a trim begun at `t`. */
  private async giveBack(t: number): Promise<void> {
    gc();
    (await hostMemory())?.trim(0);
    this.trims++;
    this.trimMs += performance.now() - t;
  }
}
