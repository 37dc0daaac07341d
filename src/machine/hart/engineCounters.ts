// What the harts' two engines and their TLBs have done since the machine started: for the
// VMM's status, to see where guest time goes (how much runs translated, how often the
// translated code hands back to JavaScript, how often translations are walked and flushed).

import type { Hart } from './hart.js';

export interface EngineCounters {
  /** Instructions retired, all harts. */
  instructions: number;
  /** Of those, retired in translated blocks. */
  translated: number;
  /** Calls from the interpreter into translated code (each runs blocks until one exits). */
  dispatches: number;
  /** TLB misses that walked the page tables or resolved a physical address. */
  tlbMisses: number;
  pageWalks: number;
  /** Full TLB flushes (SFENCE.VMA of everything, or a change of translation regime). */
  tlbFlushes: number;
  /** SFENCE.VMA of one page. */
  pageFlushes: number;
  /** satp writes that selected an address space (ASID) whose translations were kept. */
  asidSwitches: number;
  /**
   * Blocks compiled, the modules they were compiled in, blocks found untranslatable, times the
   * cache filled and was emptied.
   */
  blocksCompiled: number;
  blockModules: number;
  untranslatable: number;
  blockCacheResets: number;
}

export function engineCounters(harts: readonly Hart[]): EngineCounters {
  const c: EngineCounters = {
    instructions: 0,
    translated: 0,
    dispatches: 0,
    tlbMisses: 0,
    pageWalks: 0,
    tlbFlushes: 0,
    pageFlushes: 0,
    asidSwitches: 0,
    blocksCompiled: 0,
    blockModules: 0,
    untranslatable: 0,
    blockCacheResets: 0,
  };
  for (const h of harts) {
    c.instructions += h.currentInstret();
    c.translated += h.translatedInstructions;
    c.dispatches += h.dispatches;
    c.tlbMisses += h.mmu.tlbMisses;
    c.pageWalks += h.mmu.pageWalks;
    c.tlbFlushes += h.mmu.flushes;
    c.pageFlushes += h.mmu.pageFlushes;
    c.asidSwitches += h.mmu.asidSwitches;
  }
  // The block cache is one per RAM, shared by the harts.
  const blocks = harts[0]?.blocks ?? null;
  if (blocks !== null) {
    c.blocksCompiled = blocks.compiled;
    c.blockModules = blocks.modules;
    c.untranslatable = blocks.untranslatable;
    c.blockCacheResets = blocks.resets;
  }
  return c;
}
