// Places firmware and kernel images in RAM: ELF files by their physical
// addresses (relocated to `base` when those lie outside RAM, as for Linux's
// vmlinux, whose physical addresses start at 0), RISC-V Linux `Image` files
// and other flat binaries at `base`.

import type { Ram } from '../ram.js';
import { ElfError, isElf, parseElf } from './elf.js';

export class ImageError extends Error {}

export interface PlacedImage {
  /** Physical entry address. */
  entry: number;
  /** Lowest and one past the highest physical address written. */
  start: number;
  end: number;
  kind: 'elf' | 'linux-image' | 'flat';
}

/** True for a RISC-V Linux kernel `Image` (magic "RSC\x05" at 0x38). */
export function isLinuxImage(b: Uint8Array): boolean {
  return (
    b.length >= 64 && b[0x38] === 0x52 && b[0x39] === 0x53 && b[0x3a] === 0x43 && b[0x3b] === 0x05
  );
}

export function placeImage(ram: Ram, bytes: Uint8Array, base: number, what: string): PlacedImage {
  if (bytes.length === 0) throw new ImageError(`${what} is empty`);
  if (isElf(bytes)) {
    let img;
    try {
      img = parseElf(bytes);
    } catch (e) {
      throw new ImageError(`${what}: ${e instanceof ElfError ? e.message : String(e)}`);
    }
    let lo = Infinity;
    let hi = 0;
    for (const s of img.segments) {
      lo = Math.min(lo, Number(s.paddr));
      hi = Math.max(hi, Number(s.paddr) + s.memsz);
    }
    const inRam = ram.offsetOf(lo, hi - lo) >= 0;
    const delta = inRam ? 0 : base - lo;
    if (ram.offsetOf(lo + delta, hi - lo) < 0) {
      throw new ImageError(
        `too little memory: the ${what} needs ${((hi - lo) / 1048576).toFixed(1)} MiB at 0x${(lo + delta).toString(16)}; give the guest more memory`,
      );
    }
    for (const s of img.segments) {
      const at = Number(s.paddr) + delta;
      ram.write(at, s.data);
      if (s.memsz > s.data.length)
        ram.write(at + s.data.length, new Uint8Array(s.memsz - s.data.length));
    }
    // The entry is a virtual address for vmlinux: find it relative to the segment holding it.
    let entry = Number(img.entry) + delta;
    for (const s of img.segments) {
      const v = s.vaddr;
      if (img.entry >= v && img.entry < v + BigInt(s.memsz))
        entry = Number(s.paddr) + delta + Number(img.entry - v);
    }
    return { entry, start: lo + delta, end: hi + delta, kind: 'elf' };
  }
  if (ram.offsetOf(base, bytes.length) < 0) {
    throw new ImageError(
      `too little memory: the ${what} (${(bytes.length / 1048576).toFixed(1)} MiB) does not fit in RAM at 0x${base.toString(16)}; give the guest more memory`,
    );
  }
  let size = bytes.length;
  const kind = isLinuxImage(bytes) ? 'linux-image' : 'flat';
  if (kind === 'linux-image') {
    // image_size (offset 0x10) includes the kernel's BSS: that much RAM must be free.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    size = Math.max(size, Number(dv.getBigUint64(0x10, true)));
    if (ram.offsetOf(base, size) < 0) {
      throw new ImageError(
        `too little memory: the ${what} needs ${(size / 1048576).toFixed(1)} MiB of RAM from 0x${base.toString(16)}; give the guest more memory`,
      );
    }
  }
  ram.write(base, bytes);
  return { entry: base, start: base, end: base + size, kind };
}
