// Flattened device tree (DTB, format version 17) writer: build a tree of nodes
// and properties, then serialise it big-endian with a memory reservation
// block and a deduplicated strings block (Devicetree Specification, ch. 5).
//
//   const fdt = new FdtWriter();
//   const root = fdt.root;
//   root.u32('#address-cells', 2).string('model', 'berth');
//   const intc = root.child('cpus').child('cpu@0').child('interrupt-controller');
//   const ph = fdt.phandle(intc);                  // allocates and sets "phandle"
//   root.child('clint@2000000').cells('interrupts-extended', [ph, 3, ph, 7]);
//   const blob: Uint8Array = fdt.finish({ reservations: [], minSize: 0x10000 });

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
export const FDT_BEGIN_NODE = 1;
export const FDT_END_NODE = 2;
export const FDT_PROP = 3;
export const FDT_NOP = 4;
export const FDT_END = 9;
const HEADER_SIZE = 40;

export class FdtError extends Error {}

export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

const NODE_NAME = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME = /^[A-Za-z0-9,._+?#-]{1,31}$/;

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new FdtError(`property ${name}: ${v} is not a 32-bit cell value`);
  }
}

function encodeString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.includes(0)) throw new FdtError(`string ${JSON.stringify(s)} contains a NUL character`);
  return b;
}

export class FdtNode {
  readonly name: string;
  readonly children: FdtNode[] = [];
  readonly props: FdtProperty[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** Adds a child node (names must be unique among siblings) and returns it. */
  child(name: string): FdtNode {
    if (!NODE_NAME.test(name)) throw new FdtError(`invalid node name ${JSON.stringify(name)}`);
    if (this.children.some((c) => c.name === name)) {
      throw new FdtError(
        `node ${JSON.stringify(name)} already exists under ${JSON.stringify(this.name || '/')}`,
      );
    }
    const n = new FdtNode(name);
    this.children.push(n);
    return n;
  }

  /** The child called `name`, or undefined. */
  find(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** The property called `name`, or undefined. */
  prop(name: string): Uint8Array | undefined {
    return this.props.find((p) => p.name === name)?.value;
  }

  /** Sets a property to raw bytes (replacing an earlier value of the same name). */
  bytes(name: string, value: Uint8Array): this {
    if (!PROP_NAME.test(name)) throw new FdtError(`invalid property name ${JSON.stringify(name)}`);
    const v = new Uint8Array(value);
    const old = this.props.find((p) => p.name === name);
    if (old) old.value = v;
    else this.props.push({ name, value: v });
    return this;
  }

  /** An empty (boolean) property, e.g. "interrupt-controller" or "ranges". */
  empty(name: string): this {
    return this.bytes(name, new Uint8Array(0));
  }

  /** One or more 32-bit cells. */
  u32(name: string, ...values: number[]): this {
    return this.cells(name, values);
  }

  /** A list of 32-bit cells (phandles are cells too). */
  cells(name: string, values: readonly number[]): this {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      checkU32(name, v);
      view.setUint32(i * 4, v);
    });
    return this.bytes(name, out);
  }

  /** One or more 64-bit values (each as two cells, high first). */
  u64(name: string, ...values: (number | bigint)[]): this {
    const out = new Uint8Array(values.length * 8);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
      if (b < 0n || b >= 1n << 64n)
        throw new FdtError(`property ${name}: ${v} is not a 64-bit value`);
      view.setBigUint64(i * 8, b);
    });
    return this.bytes(name, out);
  }

  /** A NUL-terminated string. */
  string(name: string, value: string): this {
    return this.strings(name, [value]);
  }

  /** A string list: NUL-terminated strings one after the other. */
  strings(name: string, values: readonly string[]): this {
    const parts = values.map(encodeString);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length + 1;
    }
    return this.bytes(name, out);
  }
}

export interface FdtReservation {
  address: number | bigint;
  size: number | bigint;
}

export interface FdtFinishOptions {
  /** Memory reservation block entries (besides the terminating zero entry). */
  reservations?: readonly FdtReservation[];
  /** boot_cpuid_phys in the header. */
  bootCpuId?: number;
  /**
   * Pads the blob (and its totalsize) to at least this many bytes, leaving
   * free space for firmware that edits the tree in place (OpenSBI does).
   */
  minSize?: number;
}

export class FdtWriter {
  readonly root = new FdtNode('');
  private nextPhandle = 1;

  /** Gives `node` a phandle (once) and returns it. */
  phandle(node: FdtNode): number {
    const existing = node.prop('phandle');
    if (existing && existing.length === 4) return new DataView(existing.buffer).getUint32(0);
    const ph = this.nextPhandle++;
    node.u32('phandle', ph);
    return ph;
  }

  /** Serialises the tree. */
  finish(options: FdtFinishOptions = {}): Uint8Array {
    const strings = new StringTable();
    const struct = new ByteSink();
    const emit = (n: FdtNode): void => {
      struct.u32(FDT_BEGIN_NODE);
      struct.bytes(encodeString(n.name));
      struct.u8(0);
      struct.align4();
      for (const p of n.props) {
        struct.u32(FDT_PROP);
        struct.u32(p.value.length);
        struct.u32(strings.offsetOf(p.name));
        struct.bytes(p.value);
        struct.align4();
      }
      for (const c of n.children) emit(c);
      struct.u32(FDT_END_NODE);
    };
    emit(this.root);
    struct.u32(FDT_END);

    const rsv = new ByteSink();
    for (const r of options.reservations ?? []) {
      const a = BigInt(r.address);
      const s = BigInt(r.size);
      if (a < 0n || s < 0n || a >= 1n << 64n || s >= 1n << 64n) {
        throw new FdtError(`invalid memory reservation ${r.address}+${r.size}`);
      }
      rsv.u64(a);
      rsv.u64(s);
    }
    rsv.u64(0n);
    rsv.u64(0n);

    const offRsv = HEADER_SIZE; // 40 is 8-byte aligned
    const offStruct = offRsv + rsv.length;
    const offStrings = offStruct + struct.length;
    const stringBytes = strings.bytes();
    const used = offStrings + stringBytes.length;
    const bootCpuId = options.bootCpuId ?? 0;
    checkU32('boot_cpuid_phys', bootCpuId);
    const minSize = options.minSize ?? 0;
    if (!Number.isInteger(minSize) || minSize < 0 || minSize > 0x7fffffff) {
      throw new FdtError(`minSize must be a byte count, got ${minSize}`);
    }
    const total = Math.max(used, minSize);

    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    const header = [
      FDT_MAGIC,
      total,
      offStruct,
      offStrings,
      offRsv,
      FDT_VERSION,
      FDT_LAST_COMP_VERSION,
      bootCpuId,
      stringBytes.length,
      struct.length,
    ];
    header.forEach((v, i) => view.setUint32(i * 4, v));
    out.set(rsv.result(), offRsv);
    out.set(struct.result(), offStruct);
    out.set(stringBytes, offStrings);
    return out;
  }
}

class StringTable {
  private readonly offsets = new Map<string, number>();
  private readonly sink = new ByteSink();

  offsetOf(name: string): number {
    let off = this.offsets.get(name);
    if (off === undefined) {
      off = this.sink.length;
      this.offsets.set(name, off);
      this.sink.bytes(encodeString(name));
      this.sink.u8(0);
    }
    return off;
  }

  bytes(): Uint8Array {
    return this.sink.result();
  }
}

class ByteSink {
  private buf = new Uint8Array(1024);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    new DataView(this.buf.buffer).setUint32(this.length, v);
    this.length += 4;
  }

  u64(v: bigint): void {
    this.reserve(8);
    new DataView(this.buf.buffer).setBigUint64(this.length, v);
    this.length += 8;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  align4(): void {
    while (this.length % 4 !== 0) this.u8(0);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
