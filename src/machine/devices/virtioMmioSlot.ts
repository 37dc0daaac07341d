// An empty virtio-mmio slot: the transport's identification registers with
// device ID 0 ("no device"), as virtio 1.2 section 4.2.2 describes and as the
// virt board's unused slots look to a driver. Everything else reads as zero
// and writes are ignored.

import type { MmioDevice } from '../bus.js';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VERSION = 2;
/**
 * Vendor ID of every virtio-mmio slot, empty or not: QEMU's ("QEMU" in little-endian ASCII),
 * which programs written for QEMU's virt board check (xv6 refuses a disk with another).
 */
export const VIRTIO_VENDOR_QEMU = 0x554d4551;

const MAGIC = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;

export class EmptyVirtioSlot implements MmioDevice {
  read(offset: number, size: number): number {
    if (size !== 4) return 0;
    switch (offset) {
      case MAGIC:
        return VIRTIO_MMIO_MAGIC;
      case VERSION:
        return VIRTIO_MMIO_VERSION;
      case DEVICE_ID:
        return 0;
      case VENDOR_ID:
        return VIRTIO_VENDOR_QEMU;
      default:
        return 0;
    }
  }

  write(): void {}
}
