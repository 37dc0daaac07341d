// The virt board's flash banks at 0x20000000 with no image attached: QEMU
// creates its two CFI flash devices (pflash0, pflash1) even without
// `-drive if=pflash`, and firmware that looks for a flash (U-Boot, EDK2, the
// device tree's cfi-flash node) finds them there, reading as zeros. Berth has
// no flash images, so nothing is ever stored: every read is zero and every
// write is ignored. Unlike QEMU's, the banks do not answer CFI commands (a
// query reads zeros too) and cannot be programmed (QEMU's empty banks keep
// what is programmed, in memory, until QEMU exits): a driver finds no flash
// chip and leaves the region alone. Stateless, so it is no part of a snapshot.

import type { MmioDevice } from '../bus.js';

export class EmptyFlash implements MmioDevice {
  read(_offset: number, _size: number): number {
    return 0;
  }

  write(_offset: number, _size: number, _value: number): void {}
}
