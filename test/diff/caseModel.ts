// One differential test case: the initial machine state (x and f registers,
// fcsr, the 512-byte data area) and the instruction sequence to run on it, plus
// notes that name what each data-area slot holds so that diffs read well.
// CaseBuilder is the helper the generators use to fill a case.

import { Rng } from './values.js';

/** Size of the data area the cases load from and store to (it straddles a page boundary at offset 256). */
export const MEM_SIZE = 512;
/** Layout of the record each case writes to stdout: data area, x0..x31 (x0 slot = case id), f0..f31, fcsr. */
export const REC_X = MEM_SIZE;
export const REC_F = REC_X + 256;
export const REC_FCSR = REC_F + 256;
export const REC_SIZE = REC_FCSR + 8;

export const XNAMES = [
  'zero',
  'ra',
  'sp',
  'gp',
  'tp',
  't0',
  't1',
  't2',
  's0',
  's1',
  'a0',
  'a1',
  'a2',
  'a3',
  'a4',
  'a5',
  'a6',
  'a7',
  's2',
  's3',
  's4',
  's5',
  's6',
  's7',
  's8',
  's9',
  's10',
  's11',
  't3',
  't4',
  't5',
  't6',
];
export const FNAMES = [
  'ft0',
  'ft1',
  'ft2',
  'ft3',
  'ft4',
  'ft5',
  'ft6',
  'ft7',
  'fs0',
  'fs1',
  'fa0',
  'fa1',
  'fa2',
  'fa3',
  'fa4',
  'fa5',
  'fa6',
  'fa7',
  'fs2',
  'fs3',
  'fs4',
  'fs5',
  'fs6',
  'fs7',
  'fs8',
  'fs9',
  'fs10',
  'fs11',
  'ft8',
  'ft9',
  'ft10',
  'ft11',
];

/** An initial x value: a number, or an assembler expression such as `darea+40`. */
export type XInit = bigint | string;

export interface Case {
  /** Global case number (group index * CASE_STRIDE + index in group). */
  id: number;
  group: string;
  index: number;
  x: XInit[];
  f: bigint[];
  fcsr: number;
  mem: Uint8Array;
  body: string[];
  /** Data-area byte offset -> what the sequence stored there. */
  notes: Map<number, Note>;
}

/** What a data-area slot holds: an integer result, an FP register's bits, or an fflags byte. */
export interface Note {
  text: string;
  kind: 'int' | 'fp' | 'flags';
}

export const CASE_STRIDE = 1_000_000;

export class CaseBuilder {
  readonly c: Case;
  /** x registers the sequence must not write (sp holds the data area; bases hold addresses). */
  readonly reservedX = new Set<number>([0, 2]);
  /** f registers some earlier instruction of the sequence wrote (their initial value is stale). */
  readonly writtenF = new Set<number>();
  private labels = 0;

  constructor(
    readonly r: Rng,
    id: number,
    group: string,
    index: number,
  ) {
    const mem = new Uint8Array(MEM_SIZE);
    for (let i = 0; i < MEM_SIZE; i += 4) {
      const v = r.u32();
      mem[i] = v;
      mem[i + 1] = v >>> 8;
      mem[i + 2] = v >>> 16;
      mem[i + 3] = v >>> 24;
    }
    this.c = {
      id,
      group,
      index,
      x: new Array<XInit>(32).fill(0n),
      f: new Array<bigint>(32).fill(0n),
      fcsr: 0,
      mem,
      body: [],
      notes: new Map(),
    };
  }

  emit(...lines: string[]): void {
    for (const l of lines) this.c.body.push(l);
  }

  /** A label unique in the whole program. */
  label(): string {
    return `.Lc${this.c.id}_${this.labels++}`;
  }

  /** A random x register the sequence may write (x0 now and then: writes to it are discarded). */
  destX(zeroP = 0.03): number {
    if (this.r.bool(zeroP)) return 0;
    for (;;) {
      const d = this.r.range(1, 31);
      if (!this.reservedX.has(d)) return d;
    }
  }

  /** Any x register as a source. */
  srcX(): number {
    return this.r.int(32);
  }

  /** Reserves a register holding the data-area address + off and returns it. */
  base(off: number, from: readonly number[] = []): number {
    for (;;) {
      const reg = from.length > 0 ? this.r.pick(from) : this.r.range(1, 31);
      if (this.reservedX.has(reg)) continue;
      this.reservedX.add(reg);
      this.c.x[reg] = `darea+${off}`;
      return reg;
    }
  }

  /** Stores a 64-bit value into the data area. */
  setMem64(off: number, v: bigint): void {
    for (let i = 0; i < 8; i++) this.c.mem[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  }

  note(off: number, text: string, kind: Note['kind'] = 'int'): void {
    this.c.notes.set(off, { text, kind });
  }
}

export const xn = (r: number): string => XNAMES[r];
export const fn = (r: number): string => FNAMES[r];
