// A virtual disk backed by a raw image file on the host: synchronous positioned
// reads and writes, fsync for flush. Discard and write-zeroes only write where
// the file holds non-zero bytes, so holes of a sparse image stay holes.

import { parseSlotOption } from '../virtioPlacement.js';
import * as fs from 'node:fs';
import { BlockBackendError, type BlockBackend } from '../../machine/virtio/blockBackend.js';
import { acquireDiskLock, type DiskLock } from './diskLock.js';

export class FileBlockBackendError extends Error {}

/** Bytes examined at once by discard / write-zeroes. */
const ZERO_CHUNK = 64 * 1024;

export class FileBlockBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly path: string;
  private fd: number;
  private lock: DiskLock | null = null;

  /**
   * Opens `path` (read-only when asked); throws FileBlockBackendError with a
   * clear message. With `lock`, takes a disk lock (shared when read-only)
   * before using the file, and throws DiskLockError when it is in use.
   */
  constructor(path: string, opts: { readOnly?: boolean; lock?: boolean } = {}) {
    this.path = path;
    this.readOnly = opts.readOnly ?? false;
    let fd: number;
    try {
      fd = fs.openSync(path, this.readOnly ? 'r' : 'r+');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'the file does not exist (create it first, e.g. truncate -s 1G FILE)'
          : code === 'EACCES' || code === 'EPERM'
            ? `permission denied${this.readOnly ? '' : ' (add ,ro to attach it read-only)'}`
            : code === 'EISDIR'
              ? 'it is a directory'
              : (e as Error).message;
      throw new FileBlockBackendError(`cannot open disk image ${path}: ${why}`);
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      fs.closeSync(fd);
      throw new FileBlockBackendError(`disk image ${path} is not a regular file`);
    }
    if (opts.lock) {
      try {
        this.lock = acquireDiskLock(path, this.readOnly ? 'ro' : 'rw');
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
    }
    if (st.size === 0 || st.size % 512 !== 0) {
      fs.closeSync(fd);
      this.lock?.release();
      throw new FileBlockBackendError(
        `disk image ${path} is ${st.size} bytes; a raw disk must be a non-zero multiple of 512 bytes`,
      );
    }
    this.fd = fd;
    this.size = st.size;
  }

  private check(offset: number, length: number): void {
    if (this.fd < 0) throw new BlockBackendError(`disk image ${this.path} is closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new BlockBackendError(
        `access of ${length} bytes at ${offset} is outside the ${this.size}-byte disk`,
      );
    }
  }

  private writable(): void {
    if (this.readOnly) throw new BlockBackendError(`disk image ${this.path} is read-only`);
  }

  private io(e: unknown, what: string): never {
    throw new BlockBackendError(`${what} disk image ${this.path} failed: ${(e as Error).message}`);
  }

  read(offset: number, dest: Uint8Array): void {
    this.check(offset, dest.length);
    let done = 0;
    try {
      while (done < dest.length) {
        const n = fs.readSync(this.fd, dest, done, dest.length - done, offset + done);
        if (n === 0) {
          dest.fill(0, done); // the file shrank under us: read as zeros
          return;
        }
        done += n;
      }
    } catch (e) {
      this.io(e, 'reading');
    }
  }

  write(offset: number, data: Uint8Array): void {
    this.writable();
    this.check(offset, data.length);
    let done = 0;
    try {
      while (done < data.length) {
        done += fs.writeSync(this.fd, data, done, data.length - done, offset + done);
      }
    } catch (e) {
      this.io(e, 'writing');
    }
  }

  flush(): void {
    if (this.readOnly || this.fd < 0) return;
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      this.io(e, 'flushing');
    }
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  /** Zeros the range, writing only chunks that are not already zero (holes stay holes). */
  writeZeroes(offset: number, length: number): void {
    this.writable();
    this.check(offset, length);
    const buf = new Uint8Array(Math.min(ZERO_CHUNK, length));
    for (let pos = offset; pos < offset + length; pos += buf.length) {
      const chunk = buf.subarray(0, Math.min(buf.length, offset + length - pos));
      this.read(pos, chunk);
      if (chunk.some((b) => b !== 0)) {
        chunk.fill(0);
        this.write(pos, chunk);
      }
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } finally {
      this.fd = -1;
      this.lock?.release();
      this.lock = null;
    }
  }
}

/**
 * Parses a --disk value: PATH, then options ro (or rw), slot=N (a virtio slot, 0..7) and
 * bus=pci (on virtio-pci instead of a slot) or bus=mmio.
 */
export function parseDiskSpec(spec: string): {
  path: string;
  readOnly: boolean;
  slot?: number;
  bus?: 'mmio' | 'pci';
} {
  const parts = spec.split(',');
  let readOnly = false;
  let slot: number | undefined;
  let bus: 'mmio' | 'pci' | undefined;
  const fail = (m: string): Error => new FileBlockBackendError(m);
  while (parts.length > 1) {
    const opt = parts[parts.length - 1];
    const s = parseSlotOption(`--disk ${spec}`, opt, fail);
    if (s !== undefined) slot ??= s;
    else if (opt === 'ro') readOnly = true;
    else if (opt === 'rw') readOnly = false;
    else if (opt === 'bus=pci' || opt === 'bus=mmio') bus ??= opt === 'bus=pci' ? 'pci' : 'mmio';
    else break;
    parts.pop();
  }
  const path = parts.join(',');
  if (path === '')
    throw new FileBlockBackendError(`--disk ${spec}: give the path of a raw image file`);
  return {
    path,
    readOnly,
    ...(slot === undefined ? {} : { slot }),
    ...(bus === undefined ? {} : { bus }),
  };
}
