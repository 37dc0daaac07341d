// A small writer of WebAssembly binaries: LEB128 numbers, the opcodes the
// block translator uses, and the module wrapper (one memory import, functions
// of one type, all exported). See the WebAssembly core specification, 5.x.

export const enum W {
  Unreachable = 0x00,
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  Else = 0x05,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  BrTable = 0x0e,
  Return = 0x0f,
  Select = 0x1b,
  Drop = 0x1a,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  I32Load = 0x28,
  I64Load = 0x29,
  F32Load = 0x2a,
  F64Load = 0x2b,
  I32Load16U = 0x2f,
  I64Load8S = 0x30,
  I64Load8U = 0x31,
  I64Load16S = 0x32,
  I64Load16U = 0x33,
  I64Load32S = 0x34,
  I64Load32U = 0x35,
  I32Store = 0x36,
  I64Store = 0x37,
  F32Store = 0x38,
  F64Store = 0x39,
  I64Store8 = 0x3c,
  I64Store16 = 0x3d,
  I64Store32 = 0x3e,
  I32Const = 0x41,
  I64Const = 0x42,
  F32Const = 0x43,
  F64Const = 0x44,
  I32Eqz = 0x45,
  I32Eq = 0x46,
  I32Ne = 0x47,
  I32LtS = 0x48,
  I32LtU = 0x49,
  I32GtU = 0x4b,
  I32LeS = 0x4c,
  I64Eqz = 0x50,
  I64Eq = 0x51,
  I64Ne = 0x52,
  I64LtS = 0x53,
  I64LtU = 0x54,
  I64GtU = 0x56,
  I64GeS = 0x59,
  I64GeU = 0x5a,
  F32Eq = 0x5b,
  F32Ne = 0x5c,
  F32Lt = 0x5d,
  F32Gt = 0x5e,
  F32Le = 0x5f,
  F64Eq = 0x61,
  F64Ne = 0x62,
  F64Lt = 0x63,
  F64Gt = 0x64,
  F64Le = 0x65,
  F64Ge = 0x66,
  I32Clz = 0x67,
  I32Ctz = 0x68,
  I32Popcnt = 0x69,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32DivS = 0x6d,
  I32DivU = 0x6e,
  I32RemS = 0x6f,
  I32RemU = 0x70,
  I32And = 0x71,
  I32Or = 0x72,
  I32Xor = 0x73,
  I32Shl = 0x74,
  I32ShrS = 0x75,
  I32ShrU = 0x76,
  I32Rotl = 0x77,
  I32Rotr = 0x78,
  I64Clz = 0x79,
  I64Ctz = 0x7a,
  I64Popcnt = 0x7b,
  I64Add = 0x7c,
  I64Sub = 0x7d,
  I64Mul = 0x7e,
  I64DivS = 0x7f,
  I64DivU = 0x80,
  I64RemS = 0x81,
  I64RemU = 0x82,
  I64And = 0x83,
  I64Or = 0x84,
  I64Xor = 0x85,
  I64Shl = 0x86,
  I64ShrS = 0x87,
  I64ShrU = 0x88,
  I64Rotl = 0x89,
  I64Rotr = 0x8a,
  F32Abs = 0x8b,
  F32Sqrt = 0x91,
  F32Add = 0x92,
  F32Sub = 0x93,
  F32Mul = 0x94,
  F32Div = 0x95,
  F32Min = 0x96,
  F32Max = 0x97,
  F64Abs = 0x99,
  F64Neg = 0x9a,
  F64Ceil = 0x9b,
  F64Floor = 0x9c,
  F64Trunc = 0x9d,
  F64Nearest = 0x9e,
  F64Sqrt = 0x9f,
  F64Add = 0xa0,
  F64Sub = 0xa1,
  F64Mul = 0xa2,
  F64Div = 0xa3,
  F64Min = 0xa4,
  F64Max = 0xa5,
  I32WrapI64 = 0xa7,
  I64ExtendI32S = 0xac,
  I64ExtendI32U = 0xad,
  I64TruncF64S = 0xb0,
  I64TruncF64U = 0xb1,
  F32ConvertI64S = 0xb4,
  F32ConvertI64U = 0xb5,
  F32DemoteF64 = 0xb6,
  F64ConvertI32S = 0xb7,
  F64ConvertI32U = 0xb8,
  F64ConvertI64S = 0xb9,
  F64ConvertI64U = 0xba,
  F64PromoteF32 = 0xbb,
  I32ReinterpretF32 = 0xbc,
  I64ReinterpretF64 = 0xbd,
  F32ReinterpretI32 = 0xbe,
  F64ReinterpretI64 = 0xbf,
  I64Extend8S = 0xc2,
  I64Extend16S = 0xc3,
  I64Extend32S = 0xc4,
  /** The prefix of the atomic instructions (threads proposal), then the opcode as a u32. */
  AtomicPrefix = 0xfe,
}

export const T_I32 = 0x7f;
export const T_I64 = 0x7e;
export const T_F32 = 0x7d;
export const T_F64 = 0x7c;
export const T_VOID = 0x40;

/** A growable byte buffer with the encodings of the binary format. */
export class ByteWriter {
  private buf = new Uint8Array(4096);
  length = 0;

  byte(b: number): void {
    if (this.length === this.buf.length) {
      const n = new Uint8Array(this.buf.length * 2);
      n.set(this.buf);
      this.buf = n;
    }
    this.buf[this.length++] = b;
  }

  bytes(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.byte(b[i]);
  }

  /** Unsigned LEB128 of a value in 0 .. 2^32-1. */
  u32(v: number): void {
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
  }

  /** Signed LEB128 of an int32 (also a valid i64.const operand for the same value). */
  s32(v: number): void {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.byte(b);
        return;
      }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of the 64-bit value with int32 halves lo, hi (an i64.const operand). */
  s64(lo: number, hi: number): void {
    lo |= 0;
    hi |= 0;
    for (;;) {
      const b = lo & 0x7f;
      lo = (lo >>> 7) | (hi << 25);
      hi >>= 7;
      const rest = lo === 0 && hi === 0 ? 0 : lo === -1 && hi === -1 ? -1 : 1;
      if ((rest === 0 && (b & 0x40) === 0) || (rest === -1 && (b & 0x40) !== 0)) {
        this.byte(b);
        return;
      }
      this.byte(b | 0x80);
    }
  }

  /** A name or any byte string with its length in front. */
  vec(b: Uint8Array): void {
    this.u32(b.length);
    this.bytes(b);
  }

  /** A section: id and the content with its size in front. */
  section(id: number, content: ByteWriter): void {
    this.byte(id);
    this.u32(content.length);
    this.bytes(content.take());
  }

  take(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }
}

export interface FuncType {
  params: number[];
  results: number[];
}

/**
 * The limits of an imported memory: at least 0 pages; a shared one (harts on several threads)
 * must say so and name a maximum, the most a 32-bit memory can have.
 */
export function memoryLimits(shared: boolean): number[] {
  return shared ? [0x03, 0x00, 0x80, 0x80, 0x04] : [0x00, 0x00];
}

/**
 * A module importing memory "m"."m" (shared or not, as the memory is) and exporting functions
 * "0", "1", ... of type `type`, whose bodies (locals and code, without the size) are given.
 */
export function moduleBytes(type: FuncType, bodies: Uint8Array[], shared = false): Uint8Array {
  const out = new ByteWriter();
  out.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const s = new ByteWriter();
  s.u32(1);
  s.byte(0x60);
  s.u32(type.params.length);
  s.bytes(type.params);
  s.u32(type.results.length);
  s.bytes(type.results);
  out.section(1, s);
  s.reset();
  s.u32(1);
  s.vec(Uint8Array.of(0x6d));
  s.vec(Uint8Array.of(0x6d));
  s.byte(0x02);
  s.bytes(memoryLimits(shared));
  out.section(2, s);
  s.reset();
  s.u32(bodies.length);
  for (let i = 0; i < bodies.length; i++) s.u32(0);
  out.section(3, s);
  s.reset();
  s.u32(bodies.length);
  for (let i = 0; i < bodies.length; i++) {
    s.vec(new TextEncoder().encode(String(i)));
    s.byte(0x00);
    s.u32(i);
  }
  out.section(7, s);
  s.reset();
  s.u32(bodies.length);
  for (const b of bodies) s.vec(b);
  out.section(10, s);
  return out.take().slice();
}
