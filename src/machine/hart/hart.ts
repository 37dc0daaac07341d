// The RV64GC hart: architectural state, the interpreter loop and trap entry.
// run(budget) executes up to `budget` instructions and says why it stopped.
// Nothing the guest does can throw out of run(): guest faults become traps,
// and an internal error stops the hart with StopReason.Fault.

import type { Bus } from '../bus.js';
import {
  EXC_BREAKPOINT,
  EXC_ECALL_U,
  EXC_ILLEGAL,
  IRQ_MEI,
  IRQ_MSI,
  IRQ_MTI,
  IRQ_SEI,
  IRQ_SSI,
  IRQ_STI,
  MIP_SEIP,
  MIP_STIP,
  PRIV_M,
  PRIV_S,
  TrapSignal,
} from './causes.js';
import {
  MENVCFG_STCE,
  MSTATUS_FS,
  MSTATUS_FS_DIRTY,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_SUM,
  CSR_IN_BLOCKS,
} from './csr.js';
import { decodeInto } from './decode.js';
import { executeFp, HAS_RM } from './fpu/execute.js';
import { DTAG_SUM, Mmu, TLB_MASK, TLB_SET_WORDS } from './mmu.js';
import { FIRST_ZB_OP, Op } from './ops.js';
import { executeAtomic } from './atomics.js';
import { executeBitmanip } from './bitmanip.js';
import { divide, mulh, mulhsu, mulhu } from './muldiv.js';
import { executeSystem } from './system.js';
import { IntRegs } from './regs.js';
import { CODE_SLOT_EMPTY, CODE_SLOT_WORDS } from '../ram.js';
import {
  checkHart,
  HART_STATE_ID,
  HART_STATE_VERSION,
  loadHart,
  saveHart,
  type HartState,
} from './hartState.js';
import type { Persistent } from '../state/persistent.js';
import {
  AREA_DTAG,
  AREA_END,
  AREA_FTAG,
  AREA_JC,
  AREA_JUMP_FRAMES,
  AREA_IRQ,
  AREA_KICK,
  AREA_PC_HI,
  AREA_PC_LO,
  AREA_X,
  JUMP_FRAMES,
  jcPut,
} from './areaLayout.js';
import { AreaCsrs } from './areaCsrs.js';
import { BlockCache } from './jit/blockCache.js';
import { BLOCK_STOP, MAX_DISPATCH } from './jit/blockEmitter.js';
import { MAX_BLOCK } from './jit/translate.js';

export const enum StopReason {
  /** The instruction budget ran out. */
  Budget = 0,
  /** The hart executed WFI and no interrupt is pending: sleep until one is. */
  Wfi = 1,
  /** Something asked the hart to stop (requestStop). */
  Halt = 2,
  /** An internal error; see lastError. The hart's state is as before the failing instruction. */
  Fault = 3,
}

export interface HartConfig {
  hartId?: number;
  /**
   * Times an instruction is interpreted before a block is translated from it
   * (jit/), or 0 to only interpret. Default JIT_THRESHOLD.
   */
  jitThreshold?: number;
  /** Compile each translated block as it is asked for rather than in batches (tests). */
  jitSynchronous?: boolean;
  /** The platform timer (mtime) in ticks; the `time` CSR and Sstc read it. */
  readTime?: () => number;
  /** Hart.preciseInterrupts (default true). */
  preciseInterrupts?: boolean;
  /**
   * The byte offset of the hart's area in the RAM buffer when it is not the next free one: a
   * worker thread's hart takes the area of the board's hart it runs (shared RAM).
   */
  area?: number;
}

const TWO32 = 4294967296;
/** Default HartConfig.jitThreshold. */
export const JIT_THRESHOLD = 1000;

/** A word whose atomic update is the host's full memory barrier (FENCE on shared RAM). */
const FENCE_WORD = new Int32Array(new SharedArrayBuffer(4));

export class Hart extends AreaCsrs implements Persistent<HartState> {
  readonly stateId = HART_STATE_ID;
  readonly stateVersion = HART_STATE_VERSION;
  readonly regs: IntRegs;
  readonly trap = new TrapSignal();
  readonly bus: Bus;
  readonly mmu: Mmu;
  readonly hartId: number;
  readTime: () => number;
  /**
   * True: a translated block that sets sstatus.SIE returns to the run loop, which looks for
   * interrupts right after it, as the interpreter does after any CSR instruction: an interrupt
   * that came due meanwhile (a timer, when time is the instructions run) comes in at the same
   * instruction in both engines. False (time from a host clock, which moves on while blocks
   * run anyway): only when one is pending and enabled already; a timer that falls due while the
   * blocks run comes in when they return to the run loop, within the slice.
   */
  preciseInterrupts: boolean;

  pcLo = 0;
  pcHi = 0;
  priv = PRIV_M;

  // CSR state (64-bit values as halves). mstatus (low half), sepc, scause, stval and sscratch
  // live in the hart's area (AreaCsrs), the rest here.
  medeleg = 0;
  mideleg = 0;
  mie = 0;
  /** mip bits set by software and by the CLINT (MSIP, MTIP) and PLIC M context (MEIP). */
  mip = 0;
  /** The PLIC's supervisor external interrupt line, ORed into mip.SEIP. */
  seipLine = false;
  mtvecLo = 0;
  mtvecHi = 0;
  stvecLo = 0;
  stvecHi = 0;
  mepcLo = 0;
  mepcHi = 0;
  mcauseLo = 0;
  mcauseHi = 0;
  mtvalLo = 0;
  mtvalHi = 0;
  mscratchLo = 0;
  mscratchHi = 0;
  satpLo = 0;
  satpHi = 0;
  stimecmpLo = -1;
  stimecmpHi = -1;
  mcounteren = 0;
  scounteren = 0;
  menvcfgLo = 0;
  menvcfgHi = 0;
  senvcfg = 0;
  mcountinhibit = 0;
  /** Result of readCsr. */
  csrLo = 0;
  csrHi = 0;

  /** Retired instructions (minstret). */
  instret = 0;
  /** mcycle minus minstret. */
  cycleDelta = 0;
  private runBase = 0;
  private runTraps = 0;
  private curN = 0;

  /** Set by WFI; cleared when an interrupt becomes pending. */
  wfi = false;
  stopRequested = false;
  /** Message of the internal error behind StopReason.Fault. */
  lastError: string | null = null;
  /**
   * Optional handler of synchronous exceptions (for user-mode test harnesses):
   * returns true when it handled the exception (and set pcLo/pcHi itself).
   */
  trapHook: ((cause: number) => boolean) | null = null;

  /** Decoder output for instructions not cached per page (devices, page-crossing words). */
  private readonly scratch = new Int32Array(CODE_SLOT_WORDS);
  private dirtyEpoch: number;

  /** Byte offset of this hart's area in the RAM buffer (areaLayout.ts), or -1. */
  readonly area: number;
  /** The area as words and as bytes: a view of the RAM's buffer, or (no area) arrays of its own. */
  private readonly area32: Int32Array;
  private readonly area8: Uint8Array;
  private readonly kickWord: Int32Array;
  /** The translated blocks, or null when this hart only interprets. */
  readonly blocks: BlockCache | null;
  private readonly jitThreshold: number;
  /** Counters: calls into translated code, and the instructions they retired. */
  dispatches = 0;
  translatedInstructions = 0;

  constructor(bus: Bus, config: HartConfig = {}) {
    const area = config.area ?? bus.ram.allocHartArea();
    if (config.area !== undefined) bus.ram.localHartAreas.push(area);
    super(bus.ram.buffer, area);
    this.bus = bus;
    this.area = area;
    this.regs = this.area >= 0 ? new IntRegs(bus.ram.buffer, this.area + AREA_X) : new IntRegs();
    this.mmu = new Mmu(bus, this.trap, this.area);
    const threshold = config.jitThreshold ?? JIT_THRESHOLD;
    this.jitThreshold = Math.max(1, Math.min(threshold, 1 << 20));
    this.blocks = this.area >= 0 && threshold > 0 ? BlockCache.of(bus.ram) : null;
    if (this.blocks !== null && config.jitSynchronous) this.blocks.synchronous = true;
    this.hartId = config.hartId ?? 0;
    this.readTime = config.readTime ?? (() => 0);
    this.preciseInterrupts = config.preciseInterrupts ?? true;
    this.dirtyEpoch = bus.ram.dirtyEpoch;
    this.area32 =
      area >= 0
        ? new Int32Array(bus.ram.buffer, area, AREA_END >> 2)
        : new Int32Array(AREA_END >> 2);
    this.area8 = new Uint8Array(this.area32.buffer, this.area32.byteOffset, AREA_END);
    this.kickWord = this.area32.subarray(AREA_KICK >> 2, (AREA_KICK >> 2) + 1);
  }

  get pc(): bigint {
    return BigInt.asUintN(64, (BigInt(this.pcHi) << 32n) | BigInt(this.pcLo >>> 0));
  }
  set pc(v: bigint) {
    // `| 0` makes a small integer of the Number a BigInt gives (a heap number): stored as it
    // was, it made V8 keep pcLo and pcHi as doubles, and run() converted pcLo back at every
    // instruction (a fifth of the interpreter's time).
    this.pcLo = Number(BigInt.asIntN(32, v)) | 0;
    this.pcHi = Number(BigInt.asIntN(32, v >> 32n)) | 0;
  }

  requestStop(): void {
    this.stopRequested = true;
  }

  /**
   * Another thread asked for this hart (AREA_KICK): run() ends its slice at the next block
   * boundary. Whoever runs the hart clears it before the next slice.
   */
  get kicked(): boolean {
    return Atomics.load(this.kickWord, 0) !== 0;
  }
  set kicked(v: boolean) {
    Atomics.store(this.kickWord, 0, v ? 1 : 0);
  }

  currentInstret(): number {
    return this.runBase + this.curN - this.runTraps;
  }
  currentCycle(): number {
    return this.currentInstret() + this.cycleDelta;
  }
  setInstret(v: number): void {
    const cycle = this.currentCycle();
    this.runBase = v - this.curN - 1 + this.runTraps;
    this.cycleDelta = cycle - v;
  }
  setCycle(v: number): void {
    this.cycleDelta = v - (this.currentInstret() + 1);
  }
  /** Sets minstret and mcycle - minstret between runs (a restore). */
  setRetired(instret: number, cycleDelta: number): void {
    this.instret = instret;
    this.runBase = instret;
    this.runTraps = 0;
    this.curN = 0;
    this.cycleDelta = cycleDelta;
  }

  /** mip as software sees it: stored bits, the PLIC S line, and the Sstc timer. */
  effectiveMip(): number {
    let m = this.mip | (this.seipLine ? MIP_SEIP : 0);
    if ((this.menvcfgHi & MENVCFG_STCE) !== 0) {
      const cmp = (this.stimecmpHi >>> 0) * TWO32 + (this.stimecmpLo >>> 0);
      m = this.readTime() >= cmp ? m | MIP_STIP : m & ~MIP_STIP;
    }
    return m;
  }

  /** The interrupt to take now, or -1. */
  pendingInterrupt(): number {
    return this.interruptOf(this.effectiveMip() & this.mie);
  }

  /** The interrupt to take now of those pending and enabled in mie (`pend`), or -1. */
  private interruptOf(pend: number): number {
    if (pend === 0) return -1;
    const m = pend & ~this.mideleg;
    if (m !== 0 && (this.priv < PRIV_M || (this.mstatus & MSTATUS_MIE) !== 0)) return highest(m);
    const s = pend & this.mideleg;
    if (
      s !== 0 &&
      (this.priv < PRIV_S || (this.priv === PRIV_S && (this.mstatus & MSTATUS_SIE) !== 0))
    ) {
      return highest(s);
    }
    return -1;
  }

  updateMmuMode(): void {
    const ms = this.mstatus;
    this.mmu.setMode(
      this.priv,
      this.priv === PRIV_M && (ms & MSTATUS_MPRV) !== 0 ? (ms & MSTATUS_MPP) >>> 11 : this.priv,
      (ms & MSTATUS_SUM) !== 0,
      (ms & MSTATUS_MXR) !== 0,
    );
  }

  /** Enters the trap handler for `cause` with the current pc as the exception pc. */
  takeTrap(cause: number, interrupt: boolean, tvalLo: number, tvalHi: number): void {
    const deleg =
      this.priv <= PRIV_S && (((interrupt ? this.mideleg : this.medeleg) >>> cause) & 1) !== 0;
    this.reservation = -1;
    let baseLo: number;
    let baseHi: number;
    let ms = this.mstatus;
    if (deleg) {
      this.scauseLo = cause;
      this.scauseHi = interrupt ? 1 << 31 : 0;
      this.sepcLo = this.pcLo;
      this.sepcHi = this.pcHi;
      this.stvalLo = tvalLo;
      this.stvalHi = tvalHi;
      ms =
        (ms & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP)) |
        ((ms & MSTATUS_SIE) !== 0 ? MSTATUS_SPIE : 0) |
        (this.priv === PRIV_S ? MSTATUS_SPP : 0);
      this.priv = PRIV_S;
      baseLo = this.stvecLo;
      baseHi = this.stvecHi;
    } else {
      this.mcauseLo = cause;
      this.mcauseHi = interrupt ? 1 << 31 : 0;
      this.mepcLo = this.pcLo;
      this.mepcHi = this.pcHi;
      this.mtvalLo = tvalLo;
      this.mtvalHi = tvalHi;
      ms =
        (ms & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP)) |
        ((ms & MSTATUS_MIE) !== 0 ? MSTATUS_MPIE : 0) |
        (this.priv << 11);
      this.priv = PRIV_M;
      baseLo = this.mtvecLo;
      baseHi = this.mtvecHi;
    }
    this.mstatus = ms;
    const off = interrupt && (baseLo & 1) !== 0 ? 4 * cause : 0;
    const s = ((baseLo & ~3) >>> 0) + off;
    this.pcLo = s | 0;
    this.pcHi = s > 0xffffffff ? (baseHi + 1) | 0 : baseHi;
    this.updateMmuMode();
  }

  private illegal(inst: number): never {
    throw this.trap.set(EXC_ILLEGAL, inst, 0);
  }

  /** Creates the decoded-instruction cache of a RAM page and stops caching writes to it. */
  private newCodePage(page: number): Int32Array {
    const c = this.bus.ram.codePage(page);
    this.mmu.flushWrites();
    this.dirtyEpoch = this.bus.ram.dirtyEpoch;
    return c;
  }

  /** Floating-point computational instructions (after the FS and rounding-mode checks). */
  private fp(op: Op, w0: number, inst: number): void {
    const ms = this.mstatus;
    if ((ms & MSTATUS_FS) === 0) this.illegal(inst);
    let rm = w0 >>> 29;
    if (HAS_RM[op] !== 0) {
      if (rm === 7) rm = this.fregs.frm;
      if (rm > 4) this.illegal(inst);
    }
    executeFp(
      op,
      (w0 >>> 8) & 63,
      (w0 >>> 14) & 31,
      (w0 >>> 19) & 31,
      (w0 >>> 24) & 31,
      rm,
      this.regs,
      this.fregs,
    );
    // mstatus is in the hart's area (AreaCsrs): written only when FS was not Dirty yet.
    if ((ms & MSTATUS_FS_DIRTY) !== MSTATUS_FS_DIRTY) this.mstatus = ms | MSTATUS_FS_DIRTY;
  }

  /** Runs up to `budget` instructions. */
  run(budget: number): StopReason {
    const x = this.regs.x;
    const x64 = this.regs.x64;
    const fu = this.fregs.u;
    const mmu = this.mmu;
    const rTlb = mmu.rTlb;
    const wTlb = mmu.wTlb;
    const ram = this.bus.ram;
    const u8 = ram.u8;
    const u16 = ram.u16;
    const i32 = ram.i32;
    const scratch = this.scratch;
    const blocks = this.blocks;
    const dispatch = blocks !== null ? blocks.dispatch : () => 0;
    const area = this.area;
    const area32 = this.area32;
    const area8 = this.area8;
    const threshold = -this.jitThreshold;
    // Imported constants, copied once: V8's optimised code reads an imported binding through
    // its module's cell, with a check that it is initialised, at every use.
    const slotWords = CODE_SLOT_WORDS;
    const slotEmpty = CODE_SLOT_EMPTY;
    const tlbMask = TLB_MASK;
    const tlbSetWords = TLB_SET_WORDS;
    const dtagSum = DTAG_SUM;
    const maxBlock = MAX_BLOCK;
    const maxDispatch = MAX_DISPATCH;
    const blockStop = BLOCK_STOP;
    const fsDirty = MSTATUS_FS_DIRTY;
    const fsMask = MSTATUS_FS;
    const sieBit = MSTATUS_SIE;
    const firstZbOp = FIRST_ZB_OP;
    const jumpFrames = AREA_JUMP_FRAMES;
    const jumpFrameMask = JUMP_FRAMES - 1;
    const kickWord = AREA_KICK >> 2;
    const irqWord = AREA_IRQ >> 2;
    const dtagWord = AREA_DTAG >> 2;
    const jcWord = AREA_JC >> 2;
    const ftagWord = AREA_FTAG >> 2;
    const pcLoWord = AREA_PC_LO >> 2;
    const pcHiWord = AREA_PC_HI >> 2;
    this.runBase = this.instret;
    this.runTraps = 0;
    this.curN = 0;
    let result = StopReason.Budget;
    let n = 0;
    let pcLo = 0;
    let pcHi = 0;
    outer: while (n < budget) {
      pcLo = this.pcLo;
      pcHi = this.pcHi;
      this.curN = n;
      if (ram.dirtyEpoch !== this.dirtyEpoch) {
        mmu.flushWrites();
        this.dirtyEpoch = ram.dirtyEpoch;
      }
      if (this.stopRequested) {
        result = StopReason.Halt;
        break;
      }
      if (area32[kickWord] !== 0) break; // another thread wants the hart (shared RAM)
      const pend = this.effectiveMip() & this.mie;
      area32[irqWord] = pend !== 0 || this.preciseInterrupts ? 1 : 0;
      const irq = pend === 0 ? -1 : this.interruptOf(pend);
      if (irq >= 0) {
        this.wfi = false;
        this.takeTrap(irq, true, 0, 0);
        continue;
      }
      if (this.wfi) {
        if ((this.effectiveMip() & this.mie) === 0) {
          result = StopReason.Wfi;
          break;
        }
        this.wfi = false;
      }
      // The data TLB tag: refreshed here and wherever an sstatus write may have changed it.
      let dTag = mmu.dataTag;
      area32[dtagWord] = dTag;
      let fetchTag = -1;
      let fetchHi = 0;
      let fetchBase = 0;
      let code: Int32Array = this.scratch;
      try {
        for (;;) {
          if (n >= budget) {
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            break outer;
          }
          // Fetch: a cached page pointer and the page's decoded instructions, refilled on page crossings.
          if ((pcLo & ~0xfff) !== fetchTag || pcHi !== fetchHi) {
            if (area32[kickWord] !== 0) {
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              break outer;
            }
            fetchBase = mmu.fetchPage(pcLo, pcHi);
            if (fetchBase >= 0) {
              fetchTag = pcLo & ~0xfff;
              fetchHi = pcHi;
              code = ram.code[fetchBase >>> 12] ?? this.newCodePage(fetchBase >>> 12);
            } else {
              fetchTag = -1;
            }
          }
          let inst: number;
          let w0: number;
          let imm: number;
          if (fetchTag !== -1) {
            const slot = ((pcLo & 0xfff) >>> 1) * slotWords;
            if (blocks !== null) {
              // Translated code: run the block starting here, or count towards translating one.
              let t = code[slot + 3];
              if (t <= 0) {
                // t is minus the visits so far: this visit is the jitThreshold-th when t is threshold + 1.
                if (t > threshold + 1) code[slot + 3] = t - 1;
                else if (t === threshold + 1) {
                  // The pages around this one: the next for an instruction across both, others
                  // for callees brought in.
                  t = blocks.request(fetchBase, pcLo & 0xfff, mmu.pagesAround(pcLo, pcHi));
                }
              }
              if (t > 0 && budget - n >= maxBlock) {
                // Remember the jump for the dispatcher, then run from block to block.
                jcPut(area32, jcWord, pcLo, pcHi, area32[ftagWord], t, fetchBase);
                area8[jumpFrames + ((fetchBase >>> 12) & jumpFrameMask)] = 1;
                let done = dispatch(area, pcLo, pcHi, Math.min(budget - n, maxDispatch), t);
                this.dispatches++;
                // A block that wrote sstatus.SUM or MXR left the data TLB tag for them there.
                if (area32[dtagWord] !== dTag) {
                  this.updateMmuMode();
                  dTag = mmu.dataTag;
                  area32[dtagWord] = dTag;
                }
                if (done > 0) {
                  const stop = done >= blockStop;
                  if (stop) done -= blockStop;
                  n += done;
                  this.translatedInstructions += done;
                  pcLo = area32[pcLoWord];
                  pcHi = area32[pcHiWord];
                  if (!stop) continue;
                  // It set sstatus.SIE: look for interrupts, as after a CSR instruction here.
                  this.pcLo = pcLo;
                  this.pcHi = pcHi;
                  continue outer;
                }
              }
            }
            w0 = code[slot];
            if (w0 !== slotEmpty) {
              imm = code[slot + 1];
              inst = code[slot + 2];
            } else {
              const po = pcLo & 0xfff;
              const hw = (fetchBase + po) >>> 1;
              inst = u16[hw];
              const crosses = (inst & 3) === 3 && po === 0xffe;
              if ((inst & 3) === 3) {
                if (!crosses) inst |= u16[hw + 1] << 16;
                else {
                  // The upper half is on the next page: through the fetch TLB (a walk of the
                  // page tables each time made such an instruction in a loop cost microseconds).
                  const lo2 = (pcLo + 2) | 0;
                  const hi2 = pcLo === -2 ? (pcHi + 1) | 0 : pcHi;
                  const next = mmu.fetchPage(lo2, hi2);
                  inst |= (next >= 0 ? u16[next >>> 1] : mmu.fetchParcel(lo2, hi2)) << 16;
                }
              }
              decodeInto(inst, scratch, 0);
              w0 = scratch[0];
              imm = scratch[1];
              if (!crosses) {
                code[slot] = w0;
                code[slot + 1] = imm;
                code[slot + 2] = inst;
              }
            }
          } else {
            inst = mmu.fetchParcel(pcLo, pcHi);
            if ((inst & 3) === 3) {
              const s2 = (pcLo >>> 0) + 2;
              inst |= mmu.fetchParcel(s2 | 0, s2 > 0xffffffff ? (pcHi + 1) | 0 : pcHi) << 16;
            }
            decodeInto(inst, scratch, 0);
            w0 = scratch[0];
            imm = scratch[1];
          }
          const d = (w0 >>> 7) & 126;
          const r1 = (w0 >>> 13) & 62;
          const r2 = (w0 >>> 18) & 62;
          const len = (inst & 3) === 3 ? 4 : 2;
          let nLo = (pcLo + len) | 0;
          let nHi = nLo >>> 0 < len ? (pcHi + 1) | 0 : pcHi;
          let exit = false;
          switch (w0 & 0xff) {
            case Op.LUI:
              x[d] = imm;
              x[d + 1] = imm >> 31;
              break;
            case Op.AUIPC: {
              const s = (pcLo >>> 0) + (imm >>> 0);
              x[d] = s | 0;
              x[d + 1] = (pcHi + (imm >> 31) + (s > 0xffffffff ? 1 : 0)) | 0;
              break;
            }
            case Op.JAL: {
              x[d] = nLo;
              x[d + 1] = nHi;
              nLo = (pcLo + imm) | 0;
              nHi = (pcHi + (imm >> 31) + (nLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              break;
            }
            case Op.JALR: {
              const a = x[r1];
              const s = (a >>> 0) + (imm >>> 0);
              const tHi = (x[r1 + 1] + (imm >> 31) + (s > 0xffffffff ? 1 : 0)) | 0;
              x[d] = nLo;
              x[d + 1] = nHi;
              nLo = (s | 0) & ~1;
              nHi = tHi;
              break;
            }
            case Op.BEQ:
              if (x[r1] === x[r2] && x[r1 + 1] === x[r2 + 1]) {
                nLo = (pcLo + imm) | 0;
                nHi = (pcHi + (imm >> 31) + (nLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              }
              break;
            case Op.BNE:
              if (x[r1] !== x[r2] || x[r1 + 1] !== x[r2 + 1]) {
                nLo = (pcLo + imm) | 0;
                nHi = (pcHi + (imm >> 31) + (nLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              }
              break;
            case Op.BLT:
            case Op.BGE: {
              const ah = x[r1 + 1];
              const bh = x[r2 + 1];
              const lt = ah < bh || (ah === bh && x[r1] >>> 0 < x[r2] >>> 0);
              if (lt === ((w0 & 0xff) === Op.BLT)) {
                nLo = (pcLo + imm) | 0;
                nHi = (pcHi + (imm >> 31) + (nLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              }
              break;
            }
            case Op.BLTU:
            case Op.BGEU: {
              const ah = x[r1 + 1] >>> 0;
              const bh = x[r2 + 1] >>> 0;
              const lt = ah < bh || (ah === bh && x[r1] >>> 0 < x[r2] >>> 0);
              if (lt === ((w0 & 0xff) === Op.BLTU)) {
                nLo = (pcLo + imm) | 0;
                nHi = (pcHi + (imm >> 31) + (nLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              }
              break;
            }
            case Op.LB:
            case Op.LBU:
            case Op.LH:
            case Op.LHU:
            case Op.LW:
            case Op.LWU:
            case Op.LD:
            case Op.FLW:
            case Op.FLD: {
              const op = w0 & 0xff;
              const b = x[r1];
              const lo = (b + imm) | 0;
              const hi = (x[r1 + 1] + (imm >> 31) + (lo >>> 0 < b >>> 0 ? 1 : 0)) | 0;
              const size =
                op === Op.LB || op === Op.LBU
                  ? 1
                  : op === Op.LH || op === Op.LHU
                    ? 2
                    : op === Op.LD || op === Op.FLD
                      ? 8
                      : 4;
              if ((op === Op.FLW || op === Op.FLD) && (this.mstatus & fsMask) === 0)
                this.illegal(inst);
              const e = ((lo >>> 12) & tlbMask) * tlbSetWords;
              let vLo: number;
              let vHi = 0;
              if (
                (rTlb[e] | (dTag & dtagSum)) === ((lo & ~0xfff) | dTag) &&
                rTlb[e + 1] === hi &&
                (lo & (size - 1)) === 0
              ) {
                const off = (rTlb[e + 2] + lo) >>> 0;
                if (size === 4) vLo = i32[off >>> 2];
                else if (size === 8) {
                  vLo = i32[off >>> 2];
                  vHi = i32[(off >>> 2) + 1];
                } else if (size === 1) vLo = u8[off];
                else vLo = u16[off >>> 1];
              } else {
                vLo = mmu.load(lo, hi, size);
                vHi = mmu.valHi;
                exit = true;
              }
              switch (op) {
                case Op.LB:
                  x[d] = (vLo << 24) >> 24;
                  x[d + 1] = x[d] >> 31;
                  break;
                case Op.LBU:
                  x[d] = vLo & 0xff;
                  x[d + 1] = 0;
                  break;
                case Op.LH:
                  x[d] = (vLo << 16) >> 16;
                  x[d + 1] = x[d] >> 31;
                  break;
                case Op.LHU:
                  x[d] = vLo & 0xffff;
                  x[d + 1] = 0;
                  break;
                case Op.LW:
                  x[d] = vLo;
                  x[d + 1] = vLo >> 31;
                  break;
                case Op.LWU:
                  x[d] = vLo;
                  x[d + 1] = 0;
                  break;
                case Op.LD:
                  x[d] = vLo;
                  x[d + 1] = vHi;
                  break;
                case Op.FLW:
                  fu[d] = vLo;
                  fu[d + 1] = -1;
                  this.mstatus |= fsDirty;
                  break;
                default:
                  fu[d] = vLo;
                  fu[d + 1] = vHi;
                  this.mstatus |= fsDirty;
                  break;
              }
              break;
            }
            case Op.SB:
            case Op.SH:
            case Op.SW:
            case Op.SD:
            case Op.FSW:
            case Op.FSD: {
              const op = w0 & 0xff;
              const b = x[r1];
              const lo = (b + imm) | 0;
              const hi = (x[r1 + 1] + (imm >> 31) + (lo >>> 0 < b >>> 0 ? 1 : 0)) | 0;
              const size =
                op === Op.SB ? 1 : op === Op.SH ? 2 : op === Op.SD || op === Op.FSD ? 8 : 4;
              let vLo: number;
              let vHi: number;
              if (op === Op.FSW || op === Op.FSD) {
                if ((this.mstatus & fsMask) === 0) this.illegal(inst);
                vLo = fu[r2];
                vHi = fu[r2 + 1];
              } else {
                vLo = x[r2];
                vHi = x[r2 + 1];
              }
              const e = ((lo >>> 12) & tlbMask) * tlbSetWords;
              if (
                (wTlb[e] | (dTag & dtagSum)) === ((lo & ~0xfff) | dTag) &&
                wTlb[e + 1] === hi &&
                (lo & (size - 1)) === 0
              ) {
                const off = (wTlb[e + 2] + lo) >>> 0;
                if (size === 8) {
                  i32[off >>> 2] = vLo;
                  i32[(off >>> 2) + 1] = vHi;
                } else if (size === 4) i32[off >>> 2] = vLo;
                else if (size === 1) u8[off] = vLo;
                else u16[off >>> 1] = vLo;
              } else {
                mmu.store(lo, hi, size, vLo, vHi);
                exit = true;
              }
              break;
            }
            case Op.ADDI: {
              const a = x[r1];
              const lo = (a + imm) | 0;
              x[d + 1] = (x[r1 + 1] + (imm >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
              x[d] = lo;
              break;
            }
            case Op.SLTI: {
              const ah = x[r1 + 1];
              const bh = imm >> 31;
              x[d] = ah < bh || (ah === bh && x[r1] >>> 0 < imm >>> 0) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case Op.SLTIU: {
              const ah = x[r1 + 1] >>> 0;
              const bh = (imm >> 31) >>> 0;
              x[d] = ah < bh || (ah === bh && x[r1] >>> 0 < imm >>> 0) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case Op.XORI:
              x[d] = x[r1] ^ imm;
              x[d + 1] = x[r1 + 1] ^ (imm >> 31);
              break;
            case Op.ORI:
              x[d] = x[r1] | imm;
              x[d + 1] = x[r1 + 1] | (imm >> 31);
              break;
            case Op.ANDI:
              x[d] = x[r1] & imm;
              x[d + 1] = x[r1 + 1] & (imm >> 31);
              break;
            case Op.SLLI:
            case Op.SLL: {
              const sh = (w0 & 0xff) === Op.SLLI ? imm : x[r2] & 63;
              const a = x[r1];
              const ah = x[r1 + 1];
              if (sh === 0) {
                x[d] = a;
                x[d + 1] = ah;
              } else if (sh < 32) {
                x[d + 1] = (ah << sh) | (a >>> (32 - sh));
                x[d] = a << sh;
              } else {
                x[d + 1] = a << (sh - 32);
                x[d] = 0;
              }
              break;
            }
            case Op.SRLI:
            case Op.SRL: {
              const sh = (w0 & 0xff) === Op.SRLI ? imm : x[r2] & 63;
              const a = x[r1];
              const ah = x[r1 + 1];
              if (sh === 0) {
                x[d] = a;
                x[d + 1] = ah;
              } else if (sh < 32) {
                x[d] = (a >>> sh) | (ah << (32 - sh));
                x[d + 1] = ah >>> sh;
              } else {
                x[d] = ah >>> (sh - 32);
                x[d + 1] = 0;
              }
              break;
            }
            case Op.SRAI:
            case Op.SRA: {
              const sh = (w0 & 0xff) === Op.SRAI ? imm : x[r2] & 63;
              const a = x[r1];
              const ah = x[r1 + 1];
              if (sh === 0) {
                x[d] = a;
                x[d + 1] = ah;
              } else if (sh < 32) {
                x[d] = (a >>> sh) | (ah << (32 - sh));
                x[d + 1] = ah >> sh;
              } else {
                x[d] = ah >> (sh - 32);
                x[d + 1] = ah >> 31;
              }
              break;
            }
            case Op.ADD: {
              const a = x[r1];
              const lo = (a + x[r2]) | 0;
              x[d + 1] = (x[r1 + 1] + x[r2 + 1] + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
              x[d] = lo;
              break;
            }
            case Op.SUB: {
              const a = x[r1];
              const b = x[r2];
              x[d + 1] = (x[r1 + 1] - x[r2 + 1] - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
              x[d] = (a - b) | 0;
              break;
            }
            case Op.SLT: {
              const ah = x[r1 + 1];
              const bh = x[r2 + 1];
              x[d] = ah < bh || (ah === bh && x[r1] >>> 0 < x[r2] >>> 0) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case Op.SLTU: {
              const ah = x[r1 + 1] >>> 0;
              const bh = x[r2 + 1] >>> 0;
              x[d] = ah < bh || (ah === bh && x[r1] >>> 0 < x[r2] >>> 0) ? 1 : 0;
              x[d + 1] = 0;
              break;
            }
            case Op.XOR:
              x[d] = x[r1] ^ x[r2];
              x[d + 1] = x[r1 + 1] ^ x[r2 + 1];
              break;
            case Op.OR:
              x[d] = x[r1] | x[r2];
              x[d + 1] = x[r1 + 1] | x[r2 + 1];
              break;
            case Op.AND:
              x[d] = x[r1] & x[r2];
              x[d + 1] = x[r1 + 1] & x[r2 + 1];
              break;
            case Op.ADDIW: {
              const v = (x[r1] + imm) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SLLIW: {
              const v = x[r1] << imm;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SRLIW: {
              const v = (x[r1] >>> imm) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SRAIW: {
              const v = x[r1] >> imm;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.ADDW: {
              const v = (x[r1] + x[r2]) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SUBW: {
              const v = (x[r1] - x[r2]) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SLLW: {
              const v = x[r1] << (x[r2] & 31);
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SRLW: {
              const v = (x[r1] >>> (x[r2] & 31)) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.SRAW: {
              const v = x[r1] >> (x[r2] & 31);
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.MUL:
              x64[d >> 1] = x64[r1 >> 1] * x64[r2 >> 1];
              break;
            case Op.MULH:
              mulh(x[r1], x[r1 + 1], x[r2], x[r2 + 1], x, d);
              break;
            case Op.MULHU:
              mulhu(x[r1], x[r1 + 1], x[r2], x[r2 + 1], x, d);
              break;
            case Op.MULHSU:
              mulhsu(x[r1], x[r1 + 1], x[r2], x[r2 + 1], x, d);
              break;
            case Op.DIV:
              divide(x, x64, d, r1, r2, true, false);
              break;
            case Op.DIVU:
              divide(x, x64, d, r1, r2, false, false);
              break;
            case Op.REM:
              divide(x, x64, d, r1, r2, true, true);
              break;
            case Op.REMU:
              divide(x, x64, d, r1, r2, false, true);
              break;
            case Op.MULW: {
              const v = Math.imul(x[r1], x[r2]);
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.DIVW: {
              const a = x[r1];
              const b = x[r2];
              const v = b === 0 ? -1 : a === -2147483648 && b === -1 ? a : (a / b) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.DIVUW: {
              const b = x[r2] >>> 0;
              const v = b === 0 ? -1 : ((x[r1] >>> 0) / b) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.REMW: {
              const b = x[r2];
              const v = b === 0 ? x[r1] : (x[r1] % b) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.REMUW: {
              const b = x[r2] >>> 0;
              const v = b === 0 ? x[r1] : ((x[r1] >>> 0) % b) | 0;
              x[d] = v;
              x[d + 1] = v >> 31;
              break;
            }
            case Op.FENCE:
              // Harts on other threads: a full barrier (a locked host instruction).
              if (ram.shared) Atomics.add(FENCE_WORD, 0, 0);
              break;
            case Op.FENCE_I:
              // Code other threads (or devices) rewrote is decoded anew from here on.
              if (ram.shared) {
                ram.syncCode();
                fetchTag = -1;
              }
              break;
            case Op.ECALL:
              throw this.trap.set(EXC_ECALL_U + this.priv, 0, 0);
            case Op.EBREAK:
              throw this.trap.set(EXC_BREAKPOINT, pcLo, pcHi);
            case Op.CSRRW:
            case Op.CSRRS:
            case Op.CSRRC:
            case Op.CSRRWI:
            case Op.CSRRSI:
            case Op.CSRRCI: {
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              this.curN = n;
              const ms = this.mstatus;
              executeSystem(this, w0 & 0xff, d >> 1, r1 >> 1, imm, inst, len);
              // As translated blocks do (CSR_IN_BLOCKS): go on without looking for interrupts.
              if (CSR_IN_BLOCKS[imm] === 0 || (~ms & this.mstatus & sieBit) !== 0) {
                n++;
                continue outer;
              }
              // An sstatus write may have changed SUM or MXR.
              dTag = mmu.dataTag;
              area32[dtagWord] = dTag;
              break;
            }
            case Op.MRET:
            case Op.SRET:
            case Op.WFI:
            case Op.SFENCE_VMA:
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              this.curN = n;
              executeSystem(this, w0 & 0xff, d >> 1, r1 >> 1, imm, inst, len);
              n++;
              continue outer;
            case Op.ILLEGAL:
              this.illegal(inst);
            // falls through (illegal() never returns)
            default:
              if ((w0 & 0xff) >= firstZbOp) {
                executeBitmanip(w0 & 0xff, x, d, r1, r2, imm);
              } else if ((w0 & 0xff) >= Op.LR_W && (w0 & 0xff) <= Op.AMOMAXU_D) {
                executeAtomic(this, w0 & 0xff, d >> 1, r1 >> 1, r2 >> 1);
              } else {
                this.fp(w0 & 0xff, w0, inst);
              }
          }
          n++;
          pcLo = nLo;
          pcHi = nHi;
          if (exit) {
            // A slow-path store may have changed this page's decoded instructions: look it up again.
            fetchTag = -1;
            this.pcLo = pcLo;
            this.pcHi = pcHi;
            if (mmu.touchedDevice) {
              mmu.touchedDevice = false;
              continue outer;
            }
          }
        }
      } catch (e) {
        this.pcLo = pcLo;
        this.pcHi = pcHi;
        if (!(e instanceof TrapSignal)) {
          this.lastError = e instanceof Error ? (e.stack ?? e.message) : String(e);
          result = StopReason.Fault;
          break;
        }
        n++;
        this.runTraps++;
        this.curN = n;
        if (this.trapHook === null || !this.trapHook(e.cause)) {
          this.takeTrap(e.cause, false, e.tvalLo, e.tvalHi);
        }
      }
    }
    blocks?.sliceEnd(n);
    this.instret = this.runBase + n - this.runTraps;
    this.runBase = this.instret;
    this.runTraps = 0;
    this.curN = 0;
    return result;
  }

  /** The architectural state (between runs). */
  saveState(): HartState {
    return saveHart(this);
  }

  checkState(data: unknown): HartState {
    return checkHart(this, data);
  }

  /** Takes a checked state; TLBs and remembered jumps are flushed. */
  loadState(s: HartState): void {
    loadHart(this, s);
    this.mmu.flush();
    this.mmu.clearJumpCache();
    this.updateMmuMode();
  }
}

/** Highest-priority interrupt in `bits`: MEI, MSI, MTI, SEI, SSI, STI. */
function highest(bits: number): number {
  if (bits & (1 << IRQ_MEI)) return IRQ_MEI;
  if (bits & (1 << IRQ_MSI)) return IRQ_MSI;
  if (bits & (1 << IRQ_MTI)) return IRQ_MTI;
  if (bits & (1 << IRQ_SEI)) return IRQ_SEI;
  if (bits & (1 << IRQ_SSI)) return IRQ_SSI;
  if (bits & (1 << IRQ_STI)) return IRQ_STI;
  return -1;
}
