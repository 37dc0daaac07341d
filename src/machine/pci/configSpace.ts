// One PCI function's configuration space (PCI Local Bus 3.0 chapter 6, type 0 header; PCIe
// base 7.5.1): identity (vendor, device, revision, class, subsystem), command and status,
// base address registers that the driver sizes by writing all-ones and reading back the
// mask, a capabilities list, and the interrupt pin and line. Each byte has a write mask
// (which bits the driver may change) and a write-one-to-clear mask; the rest is read-only.
// Offsets 0x100..0xfff (PCIe extended space) read as zeros: no extended capabilities.
//
//   const c = new PciConfigSpace({ vendorId: 0x1af4, deviceId: 0x1042, classCode: 0x010000,
//     interruptPin: 1 }, [{ index: 4, kind: 'mem64', size: 0x4000, prefetchable: true }]);
//   c.write(0x20, 4, 0xffffffff); c.read(0x20, 4); // 0xffffc00c: 16 KiB, 64-bit, prefetchable

export class PciConfigError extends Error {}

/** Config space registers (type 0 header). */
export const PCI = {
  vendorId: 0x00,
  deviceId: 0x02,
  command: 0x04,
  status: 0x06,
  revision: 0x08,
  classCode: 0x09,
  cacheLineSize: 0x0c,
  latencyTimer: 0x0d,
  headerType: 0x0e,
  bar0: 0x10,
  subsystemVendorId: 0x2c,
  subsystemId: 0x2e,
  romBar: 0x30,
  capabilities: 0x34,
  interruptLine: 0x3c,
  interruptPin: 0x3d,
} as const;

export const COMMAND_IO = 1 << 0;
export const COMMAND_MEMORY = 1 << 1;
export const COMMAND_BUS_MASTER = 1 << 2;
export const COMMAND_INTX_DISABLE = 1 << 10;
/** Command bits a driver may set: I/O, memory, bus master, parity, SERR#, INTx disable. */
const COMMAND_WRITABLE = 0x0547;
export const STATUS_INTERRUPT = 1 << 3;
export const STATUS_CAP_LIST = 1 << 4;
/** Error bits of Status, cleared by writing 1 (none is ever set here). */
const STATUS_W1C = 0xf900;

/** The size of config space a function answers for through ECAM. */
export const CONFIG_SPACE_SIZE = 0x1000;
/** The size of the header and capabilities (the part that is kept). */
export const CONFIG_HEADER_SIZE = 0x100;

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  revision?: number;
  /** Base class, subclass and programming interface, 24 bits (0x060000: host bridge). */
  classCode: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 1..4 for INTA#..INTD#; 0 (the default): no interrupt. */
  interruptPin?: number;
}

export type BarKind = 'mem32' | 'mem64' | 'io';

/** Bytes of config space whose reads and writes go to the function (a data window). */
export interface ConfigWindow {
  offset: number;
  size: number;
  /** An access of `size` bytes at `offset` inside the window. */
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface BarSpec {
  /** BAR number 0..5 (a 64-bit BAR takes this and the next). */
  index: number;
  kind: BarKind;
  /** A power of two: at least 16 bytes for memory, 4 for I/O. */
  size: number;
  prefetchable?: boolean;
}

const U32 = 4294967296;

export class PciConfigSpace {
  /** The header and capabilities as the driver reads them. */
  readonly bytes = new Uint8Array(CONFIG_HEADER_SIZE);
  /** Bits the driver may write. */
  readonly writable = new Uint8Array(CONFIG_HEADER_SIZE);
  /** Bits the driver clears by writing 1. */
  readonly clearable = new Uint8Array(CONFIG_HEADER_SIZE);
  readonly bars: readonly BarSpec[];
  private capEnd = 0x40;
  private window: ConfigWindow | null = null;
  private lastNext: number = PCI.capabilities;

  constructor(id: PciIdentity, bars: readonly BarSpec[] = []) {
    this.set(PCI.vendorId, 2, id.vendorId);
    this.set(PCI.deviceId, 2, id.deviceId);
    this.set(PCI.revision, 1, id.revision ?? 0);
    this.set(PCI.classCode, 3, id.classCode);
    this.set(PCI.subsystemVendorId, 2, id.subsystemVendorId ?? 0);
    this.set(PCI.subsystemId, 2, id.subsystemId ?? 0);
    const pin = id.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > 4) {
      throw new PciConfigError(`interrupt pin ${pin} does not exist (0 none, 1..4 INTA#..INTD#)`);
    }
    this.set(PCI.interruptPin, 1, pin);
    this.mask(this.writable, PCI.command, 2, COMMAND_WRITABLE);
    this.mask(this.clearable, PCI.status, 2, STATUS_W1C);
    this.mask(this.writable, PCI.cacheLineSize, 1, 0xff);
    this.mask(this.writable, PCI.interruptLine, 1, 0xff);
    this.bars = bars;
    const used = new Set<number>();
    for (const b of bars) this.addBar(b, used);
  }

  private addBar(b: BarSpec, used: Set<number>): void {
    const slots = b.kind === 'mem64' ? [b.index, b.index + 1] : [b.index];
    if (!Number.isInteger(b.index) || slots.some((i) => i < 0 || i > 5 || used.has(i))) {
      throw new PciConfigError(`BAR ${b.index} (${b.kind}) does not fit or is taken`);
    }
    const min = b.kind === 'io' ? 4 : 16;
    if (!Number.isSafeInteger(b.size) || b.size < min || !Number.isInteger(Math.log2(b.size))) {
      throw new PciConfigError(`BAR ${b.index}: size ${b.size} is not a power of two >= ${min}`);
    }
    if (b.kind !== 'mem64' && b.size > 2 ** 31) {
      throw new PciConfigError(`BAR ${b.index}: a 32-bit BAR holds at most 2 GiB`);
    }
    slots.forEach((i) => used.add(i));
    const at = PCI.bar0 + 4 * b.index;
    if (b.kind === 'io') {
      this.set(at, 4, 1);
      this.mask(this.writable, at, 4, (U32 - b.size) & 0xfffffffc);
      return;
    }
    const flags = (b.kind === 'mem64' ? 0b100 : 0) | (b.prefetchable ? 0b1000 : 0);
    this.set(at, 4, flags);
    const low = b.size >= U32 ? 0 : (U32 - b.size) & 0xfffffff0;
    this.mask(this.writable, at, 4, low);
    if (b.kind === 'mem64') {
      const high = b.size >= U32 ? (U32 - b.size / U32) >>> 0 : 0xffffffff;
      this.mask(this.writable, at + 4, 4, high);
    }
  }

  private set(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  private mask(m: Uint8Array, offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) m[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Lets the driver write the bits `value` sets of the `size` bytes at `offset`. */
  setWritable(offset: number, size: number, value: number): void {
    this.mask(this.writable, offset, size, value);
  }

  /** Routes accesses inside `w` to it (e.g. a capability's data register). */
  setWindow(w: ConfigWindow): void {
    this.window = w;
  }

  private inWindow(offset: number, size: number): boolean {
    const w = this.window;
    return w !== null && offset >= w.offset && offset + size <= w.offset + w.size;
  }

  /**
   * Adds a capability with ID `id` and `body` (the bytes after its ID and next pointer) at the
   * next free, dword-aligned offset, at the end of the list; returns its offset.
   */
  addCapability(id: number, body: Uint8Array): number {
    const at = this.capEnd;
    const end = at + 2 + body.length;
    if (end > CONFIG_HEADER_SIZE) {
      throw new PciConfigError(`capability ${id} does not fit in config space`);
    }
    this.bytes[at] = id;
    this.bytes[at + 1] = 0;
    this.bytes.set(body, at + 2);
    this.bytes[this.lastNext] = at;
    this.lastNext = at + 1;
    this.capEnd = Math.ceil(end / 4) * 4;
    this.bytes[PCI.status] |= STATUS_CAP_LIST;
    return at;
  }

  /** Reads `size` bytes at `offset` (0..0xfff), little-endian; past the header: zeros. */
  read(offset: number, size: number): number {
    if (this.inWindow(offset, size)) return this.window!.read(offset - this.window!.offset, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = v * 256 + (o < CONFIG_HEADER_SIZE ? this.bytes[o] : 0);
    }
    return v;
  }

  /** The driver writes `size` bytes of `value` at `offset`: only writable bits change. */
  write(offset: number, size: number, value: number): void {
    if (this.inWindow(offset, size)) {
      this.window!.write(offset - this.window!.offset, size, value);
      return;
    }
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      if (o >= CONFIG_HEADER_SIZE) return;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.writable[o];
      this.bytes[o] = ((this.bytes[o] & ~w) | (b & w)) & ~(b & this.clearable[o]);
    }
  }

  get command(): number {
    return this.read(PCI.command, 2);
  }

  /** Sets Status.Interrupt (the function's INTx state, whether or not it is disabled). */
  setInterruptStatus(level: boolean): void {
    if (level) this.bytes[PCI.status] |= STATUS_INTERRUPT;
    else this.bytes[PCI.status] &= ~STATUS_INTERRUPT;
  }

  /** True when the function may drive its INTx pin (Command.InterruptDisable clear). */
  get intxEnabled(): boolean {
    return (this.command & COMMAND_INTX_DISABLE) === 0;
  }

  /** The address BAR `bar` decodes at, or null when its space is off (Command). */
  barBase(bar: BarSpec): number | null {
    const on = bar.kind === 'io' ? COMMAND_IO : COMMAND_MEMORY;
    if ((this.command & on) === 0) return null;
    const at = PCI.bar0 + 4 * bar.index;
    const low = this.read(at, 4);
    if (bar.kind === 'io') return (low & 0xfffffffc) >>> 0;
    const base = (low & 0xfffffff0) >>> 0;
    return bar.kind === 'mem64' ? this.read(at + 4, 4) * U32 + base : base;
  }

  /** Bytes whose read-only bits a saved state must share with this function (identity). */
  fixedMask(offset: number): number {
    // Status.Interrupt follows the device; W1C bits are the guest's to clear.
    const dynamic = offset === PCI.status ? STATUS_INTERRUPT : 0;
    return ~(this.writable[offset] | this.clearable[offset] | dynamic) & 0xff;
  }
}
