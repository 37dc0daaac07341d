// Where the virt board puts its boot images in RAM, as QEMU's virt does (hw/riscv/boot.c):
// the firmware at the RAM base (none with QEMU's `-bios none`); the kernel, an ELF at its own
// physical addresses (relocated to the kernel base when they lie outside RAM, as Linux's
// vmlinux), a Linux Image or any other flat binary at the kernel base: the end of the
// firmware rounded up to 2 MiB, the RAM base without firmware; the initrd above the kernel
// (at half of RAM, at most 128 MiB in, when it fits there); the device tree at the top, 2 MiB
// aligned. Images that overlap are refused, naming both and their address ranges.
//
//   const layout = placeBootImages(ram, { firmware, kernel, initrd, memoryBytes }, (i) => dtb(i));

import type { Ram } from '../ram.js';
import { placeImage, type PlacedImage } from '../loader/image.js';
import { VIRT } from './memoryMap.js';

export class BootLayoutError extends Error {}

export interface BootImages {
  /** The M-mode firmware (OpenSBI fw_dynamic, or a bare-metal program); null: none. */
  firmware: Uint8Array | null;
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  memoryBytes: number;
}

export interface BoardLayout {
  firmware: PlacedImage | null;
  kernel: PlacedImage | null;
  initrd: { start: number; end: number } | null;
  fdt: { start: number; size: number };
}

const MIB2 = 2 * 1024 * 1024;
/** Room left after the device tree for the firmware's in-place edits. */
const FDT_ROOM = 64 * 1024;

/** QEMU's kernel start: the firmware's end rounded up to 2 MiB (the RAM base without one). */
export function kernelBase(firmware: PlacedImage | null): number {
  const after = firmware === null ? VIRT.ram.base : Math.max(firmware.end, VIRT.ram.base);
  return Math.ceil(after / MIB2) * MIB2;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

interface Region {
  what: string;
  start: number;
  end: number;
}

/** Throws naming the first two regions that share a byte. */
function checkOverlaps(regions: Region[]): void {
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i];
      const b = regions[j];
      if (a.start < b.end && b.start < a.end) {
        throw new BootLayoutError(
          `the ${b.what} (${hex(b.start)}..${hex(b.end)}) overlaps the ${a.what} ` +
            `(${hex(a.start)}..${hex(a.end)}); the images must lie apart in RAM`,
        );
      }
    }
  }
}

/** Writes the images and the device tree `deviceTree(initrd)` gives into RAM. */
export function placeBootImages(
  ram: Ram,
  images: BootImages,
  deviceTree: (initrd: BoardLayout['initrd']) => Uint8Array,
): BoardLayout {
  const base = VIRT.ram.base;
  const mem = images.memoryBytes;
  const firmware = images.firmware ? placeImage(ram, images.firmware, base, 'firmware') : null;
  const kernelAt = kernelBase(firmware);
  const kernel = images.kernel ? placeImage(ram, images.kernel, kernelAt, 'kernel') : null;
  const regions: Region[] = [];
  if (firmware) regions.push({ what: 'firmware', start: firmware.start, end: firmware.end });
  if (kernel) regions.push({ what: 'kernel', start: kernel.start, end: kernel.end });
  checkOverlaps(regions);

  const top = Math.min(base + mem, 0x100000000);
  const fdtStart = Math.floor((top - deviceTree(null).length - FDT_ROOM) / MIB2) * MIB2;
  let initrd: BoardLayout['initrd'] = null;
  if (images.initrd) {
    const size = images.initrd.length;
    const afterKernel = kernel ? kernel.end : kernelAt;
    let start = Math.max(afterKernel, base + Math.min(mem / 2, 128 * 1024 * 1024));
    start = Math.ceil(start / 4096) * 4096;
    if (start + size > fdtStart) start = Math.ceil(afterKernel / 4096) * 4096;
    if (start + size > fdtStart) {
      throw new BootLayoutError(
        `too little memory: the kernel and the ${(size / 1048576).toFixed(1)} MiB initrd ` +
          `do not fit in ${mem >> 20} MiB; give the guest more memory`,
      );
    }
    ram.write(start, images.initrd);
    initrd = { start, end: start + size };
  }
  const fdt = deviceTree(initrd);
  if (kernel && kernel.end > fdtStart && kernel.start < fdtStart + fdt.length) {
    throw new BootLayoutError(
      `too little memory for this kernel: give the guest more than ${mem >> 20} MiB`,
    );
  }
  checkOverlaps([...regions, { what: 'device tree', start: fdtStart, end: fdtStart + fdt.length }]);
  ram.write(fdtStart, fdt);
  return { firmware, kernel, initrd, fdt: { start: fdtStart, size: fdt.length } };
}
