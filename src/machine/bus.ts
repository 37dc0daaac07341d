// The physical address space: RAM plus memory-mapped devices. Every device
// implements one contract with offsets relative to its base; accesses wider
// than 32 bits are split into 32-bit halves, low half first.

import { Ram } from './ram.js';

export interface MmioDevice {
  /** Reads `size` (1, 2 or 4) bytes at `offset`; returns the value zero-extended. */
  read(offset: number, size: number): number;
  /** Writes the low `size` (1, 2 or 4) bytes of `value` at `offset`. */
  write(offset: number, size: number, value: number): void;
}

interface Mapping {
  base: number;
  size: number;
  name: string;
  device: MmioDevice;
}

export class BusError extends Error {}

export class Bus {
  readonly ram: Ram;
  private readonly maps: Mapping[] = [];
  private last: Mapping | null = null;

  constructor(ram: Ram) {
    this.ram = ram;
  }

  map(name: string, base: number, size: number, device: MmioDevice): void {
    for (const m of this.maps) {
      if (base < m.base + m.size && m.base < base + size) {
        throw new BusError(`device ${name} at 0x${base.toString(16)} overlaps ${m.name}`);
      }
    }
    if (base < this.ram.base + this.ram.size && this.ram.base < base + size) {
      throw new BusError(`device ${name} at 0x${base.toString(16)} overlaps RAM`);
    }
    this.maps.push({ base, size, name, device });
  }

  /** The devices' names and address ranges, in the order they were mapped. */
  mappings(): { name: string; base: number; size: number }[] {
    return this.maps.map(({ name, base, size }) => ({ name, base, size }));
  }

  private find(pa: number, size: number): Mapping | null {
    const l = this.last;
    if (l !== null && pa >= l.base && pa + size <= l.base + l.size) return l;
    for (const m of this.maps) {
      if (pa >= m.base && pa + size <= m.base + m.size) {
        this.last = m;
        return m;
      }
    }
    return null;
  }

  /** True when a device answers at `pa`. */
  hasDevice(pa: number, size: number): boolean {
    return this.find(pa, size) !== null;
  }

  /** Device read; returns -1 (as a signal, values are zero-extended) when nothing is mapped. */
  readDevice(pa: number, size: number): number {
    const m = this.find(pa, size);
    if (m === null) return -1;
    return m.device.read(pa - m.base, size);
  }

  /** Device write; returns false when nothing is mapped. */
  writeDevice(pa: number, size: number, value: number): boolean {
    const m = this.find(pa, size);
    if (m === null) return false;
    m.device.write(pa - m.base, size, value);
    return true;
  }
}
