// Opens a disk image for `berth run --disk`: qcow2 images (by their magic)
// through the qcow2 backend, anything else as a raw image file.

import { closeSync, openSync, readSync } from 'node:fs';
import type { BlockBackend } from '../../machine/virtio/blockBackend.js';
import { FileBlockBackend } from './fileBlockBackend.js';
import { Qcow2Image } from './qcow2.js';
import { QCOW_MAGIC } from './qcow2Header.js';

export type DiskBackend = BlockBackend & { close(): void };

/** An image's format, by its magic ('raw' for anything else, or for a file that cannot be read). */
export function diskFormat(path: string): 'raw' | 'qcow2' {
  return isQcow2(path) ? 'qcow2' : 'raw';
}

function isQcow2(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // the raw backend reports the problem with the path
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === QCOW_MAGIC;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a disk image and takes a disk lock on it (shared when read-only) and
 * on its backing files (shared), held until close(); throws DiskLockError
 * when another VMM uses it in a conflicting way.
 */
export function openDisk(path: string, readOnly: boolean, lock = true): DiskBackend {
  return isQcow2(path)
    ? Qcow2Image.open(path, { readOnly, lock })
    : new FileBlockBackend(path, { readOnly, lock });
}
