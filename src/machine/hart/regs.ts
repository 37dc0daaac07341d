// Register files of the hart. Each 64-bit register is held in one ArrayBuffer
// seen through several typed views, so that each instruction can use the
// cheapest one: int32 halves for adds, logic, shifts, compares and addresses;
// BigInt64 for multiply and divide; float64/float32 for floating point.
// Layout is little-endian: register r is halves [2r] (low) and [2r + 1] (high).

/** Integer registers x0..x31 plus a discard slot (index 32) for writes to x0. */
export class IntRegs {
  /** Halves: x[2r] low 32 bits, x[2r+1] high 32 bits. x[0] and x[1] stay 0. */
  readonly x: Int32Array;
  /** Whole registers as signed 64-bit integers. */
  readonly x64: BigInt64Array;

  /** Registers in their own buffer, or at `offset` of `buffer` (a hart area). */
  constructor(buffer: ArrayBuffer = new ArrayBuffer(33 * 8), offset = 0) {
    this.x = new Int32Array(buffer, offset, 66);
    this.x64 = new BigInt64Array(buffer, offset, 33);
  }

  get(r: number): bigint {
    return this.x64[r];
  }
  set(r: number, v: bigint): void {
    if (r !== 0) this.x64[r] = BigInt.asIntN(64, v);
  }
}

/** Floating-point registers f0..f31 and the accrued flags / rounding mode of fcsr. */
export class FpRegs {
  /** Halves: u[2r] low 32 bits (the single-precision value when NaN-boxed), u[2r+1] high. */
  readonly u: Int32Array;
  readonly f64: Float64Array;
  /** f32[2r] is the low half of f r as a binary32. */
  readonly f32: Float32Array;
  readonly u64: BigUint64Array;
  /**
   * fflags and frm, one word each: in the hart's area (AREA_FFLAGS, AREA_FRM), where translated
   * code reads and writes them too, or in a buffer of their own.
   */
  private readonly fcsr: Int32Array;

  /**
   * The registers at byte `offset` of `buffer` (the hart's area, AREA_F, where translated code
   * reads and writes them too), or in a buffer of their own.
   */
  constructor(
    fcsr: Int32Array = new Int32Array(2),
    buffer: ArrayBuffer | SharedArrayBuffer = new ArrayBuffer(32 * 8),
    offset = 0,
  ) {
    this.fcsr = fcsr;
    this.u = new Int32Array(buffer, offset, 64);
    this.f64 = new Float64Array(buffer, offset, 32);
    this.f32 = new Float32Array(buffer, offset, 64);
    this.u64 = new BigUint64Array(buffer, offset, 32);
  }

  /** Accrued exception flags, fflags layout: NV 16, DZ 8, OF 4, UF 2, NX 1. */
  get flags(): number {
    return this.fcsr[0];
  }
  set flags(v: number) {
    this.fcsr[0] = v;
  }
  /** Dynamic rounding mode (frm). */
  get frm(): number {
    return this.fcsr[1];
  }
  set frm(v: number) {
    this.fcsr[1] = v;
  }
}

export const FFLAG_NV = 16;
export const FFLAG_DZ = 8;
export const FFLAG_OF = 4;
export const FFLAG_UF = 2;
export const FFLAG_NX = 1;

/** Rounding modes (the rm field and frm). */
export const RM_RNE = 0;
export const RM_RTZ = 1;
export const RM_RDN = 2;
export const RM_RUP = 3;
export const RM_RMM = 4;
export const RM_DYN = 7;
