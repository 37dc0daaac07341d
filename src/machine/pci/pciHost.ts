// The generic PCI Express host bridge of QEMU's virt board ("pci-host-ecam-generic"): one
// root bus (bus 0) whose functions' config spaces the driver reaches through ECAM (PCIe base
// 7.2.2: offset = bus << 20 | device << 15 | function << 12 | register), and address windows
// (memory below 4 GiB, memory above, I/O) in which each function's BARs decode where the
// driver put them. Device 0 is the host bridge itself (QEMU's gpex-root, 1b36:0008); each
// endpoint is function 0 of a device 1..31. What nobody answers reads as all-ones.
//
//   const host = new PciHost();
//   host.attach(1, virtioPciDisk);
//   bus.map('pcie-ecam', 0x30000000, 0x10000000, host.ecam);
//   bus.map('pcie-mmio', 0x40000000, 0x40000000, host.window('mem', 0x40000000));
//
// The host saves every function's config space (BAR bases, command, interrupt line); a
// state's read-only bytes must be this host's own (the same devices in the same places).

import type { MmioDevice } from '../bus.js';
import { StateError, type Persistent } from '../state/persistent.js';
import { StateReader } from '../state/stateReader.js';
import { bytesToHex, hexToBytes } from '../state/hex.js';
import {
  CONFIG_HEADER_SIZE,
  CONFIG_SPACE_SIZE,
  PciConfigSpace,
  type BarSpec,
} from './configSpace.js';

export class PciHostError extends Error {}

/** A function on the root bus: its config space and what its BARs decode. */
export interface PciFunction {
  readonly config: PciConfigSpace;
  /** Reads `size` bytes at `offset` in BAR `bar`'s region. */
  barRead(bar: BarSpec, offset: number, size: number): number;
  barWrite(bar: BarSpec, offset: number, size: number, value: number): void;
  /** The driver wrote the function's config space (e.g. Command.InterruptDisable). */
  configWritten?(): void;
}

/** QEMU's gpex-root host bridge: Red Hat, Inc. (1b36) device 0008. */
export const HOST_BRIDGE = { vendorId: 0x1b36, deviceId: 0x0008, classCode: 0x060000 } as const;
export const PCI_DEVICES = 32;

class HostBridge implements PciFunction {
  readonly config = new PciConfigSpace(HOST_BRIDGE);
  barRead(): number {
    return 0;
  }
  barWrite(): void {}
}

export interface PciHostState {
  /** Each function's config header (256 bytes as hex) by its device number. */
  functions: { device: number; config: string }[];
}

const ONES = [0, 0xff, 0xffff, 0, 0xffffffff];

export class PciHost implements Persistent<PciHostState> {
  readonly stateId = 'pcie-host';
  readonly stateVersion = 1;
  /** Function 0 of each device on bus 0 (index = device number). */
  private readonly devices: (PciFunction | null)[] = new Array<PciFunction | null>(
    PCI_DEVICES,
  ).fill(null);
  /** The ECAM window's device (256 buses of 1 MiB). */
  readonly ecam: MmioDevice = {
    read: (offset, size) => this.configRead(offset, size),
    write: (offset, size, value) => this.configWrite(offset, size, value),
  };

  constructor() {
    this.devices[0] = new HostBridge();
  }

  /** Puts `fn` at device `device` (1..31) of bus 0. */
  attach(device: number, fn: PciFunction): void {
    if (!Number.isInteger(device) || device < 1 || device >= PCI_DEVICES) {
      throw new PciHostError(`PCI device ${device} does not exist; bus 0 has devices 1 to 31`);
    }
    if (this.devices[device] !== null) {
      throw new PciHostError(`PCI device ${device} is taken`);
    }
    this.devices[device] = fn;
  }

  /** The function at `device`, or null. */
  at(device: number): PciFunction | null {
    return this.devices[device] ?? null;
  }

  private fnAt(offset: number): { fn: PciFunction; reg: number } | null {
    const bus = Math.floor(offset / 0x100000);
    const device = (offset >>> 15) & 31;
    const func = (offset >>> 12) & 7;
    const fn = bus === 0 && func === 0 ? this.devices[device] : null;
    return fn ? { fn, reg: offset & (CONFIG_SPACE_SIZE - 1) } : null;
  }

  private configRead(offset: number, size: number): number {
    const f = this.fnAt(offset);
    return f ? f.fn.config.read(f.reg, size) : ONES[size];
  }

  private configWrite(offset: number, size: number, value: number): void {
    const f = this.fnAt(offset);
    if (!f) return;
    f.fn.config.write(f.reg, size, value);
    f.fn.configWritten?.();
  }

  /**
   * A window of the host's address space: `kind` 'mem' (BARs decode at the CPU address) or
   * 'io' (I/O BARs at the offset in the window, as the device tree's ranges map it).
   */
  window(kind: 'mem' | 'io', base: number): MmioDevice {
    const pciBase = kind === 'io' ? 0 : base;
    const find = (offset: number, size: number) => this.decode(kind, pciBase + offset, size);
    return {
      read: (offset, size) => {
        const d = find(offset, size);
        return d ? d.fn.barRead(d.bar, d.offset, size) : ONES[size];
      },
      write: (offset, size, value) => {
        const d = find(offset, size);
        if (d) d.fn.barWrite(d.bar, d.offset, size, value);
      },
    };
  }

  /** The BAR that decodes `size` bytes at PCI address `addr`, with the offset in it. */
  private decode(
    kind: 'mem' | 'io',
    addr: number,
    size: number,
  ): { fn: PciFunction; bar: BarSpec; offset: number } | null {
    for (const fn of this.devices) {
      if (fn === null) continue;
      for (const bar of fn.config.bars) {
        if ((bar.kind === 'io') !== (kind === 'io')) continue;
        const base = fn.config.barBase(bar);
        if (base !== null && base !== 0 && addr >= base && addr + size <= base + bar.size) {
          return { fn, bar, offset: addr - base };
        }
      }
    }
    return null;
  }

  saveState(): PciHostState {
    const functions: PciHostState['functions'] = [];
    this.devices.forEach((fn, device) => {
      if (fn) functions.push({ device, config: bytesToHex(fn.config.bytes) });
    });
    return { functions };
  }

  checkState(data: unknown): PciHostState {
    return StateReader.read(data, (r) => {
      const here = this.devices.filter((d) => d !== null).length;
      const functions = r.objects('functions', 0, PCI_DEVICES, (f, i) => {
        const device = f.int('device', 0, PCI_DEVICES - 1);
        const config = f.hexBytes('config', CONFIG_HEADER_SIZE, CONFIG_HEADER_SIZE);
        const fn = this.devices[device];
        if (!fn) throw new StateError(`functions[${i}]: this bus has no PCI device ${device}`);
        const bytes = hexToBytes(config);
        for (let o = 0; o < CONFIG_HEADER_SIZE; o++) {
          const fixed = fn.config.fixedMask(o);
          if (((bytes[o] ^ fn.config.bytes[o]) & fixed) !== 0) {
            throw new StateError(
              `functions[${i}]: config byte 0x${o.toString(16)} of PCI device ${device} is ` +
                `read-only and differs (${bytes[o]} saved, ${fn.config.bytes[o]} here): another device`,
            );
          }
        }
        return { device, config };
      });
      if (functions.length !== here || new Set(functions.map((f) => f.device)).size !== here) {
        throw new StateError(`functions must name each of this bus's ${here} PCI devices once`);
      }
      return { functions };
    });
  }

  /**
   * Takes the config spaces as saved (Status.Interrupt too); the functions' own parts, loaded
   * after this one, drive their interrupt lines again under the restored Command.
   */
  loadState(s: PciHostState): void {
    for (const f of s.functions) this.devices[f.device]!.config.bytes.set(hexToBytes(f.config));
  }
}
