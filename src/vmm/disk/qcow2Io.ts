// File I/O helpers of the qcow2 backend: whole reads and writes at a
// position, and host errors turned into QcowError naming what was being done.

import * as fs from 'node:fs';
import { BlockBackendError } from '../../machine/virtio/blockBackend.js';
import { QcowError } from './qcow2Header.js';

export function wrapIo<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BlockBackendError) throw e;
    throw new QcowError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads until `dest` is full or the file ends; returns the byte count read. */
export function preadFull(fd: number, dest: Uint8Array, position: number): number {
  let done = 0;
  while (done < dest.length) {
    const n = fs.readSync(fd, dest, done, dest.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function pwriteFull(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    done += fs.writeSync(fd, data, done, data.length - done, position + done);
  }
}
