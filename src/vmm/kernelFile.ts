// Reads the guest's kernel, firmware and initrd files with clear errors:
// missing, unreadable or empty files, ELF files that are not for RISC-V, and gzip files that
// do not decompress. Any other file is a flat binary kernel, as QEMU's -kernel takes it.

import { closeSync, fstatSync, openSync, read, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { isElf, parseElf } from '../machine/loader/elf.js';

export class GuestFileError extends Error {}

export function readGuestFile(path: string, what: string): Uint8Array {
  try {
    // A plain view of the Buffer read (not a copy: the kernel and initrd are tens of MB).
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  } catch (e) {
    throw new GuestFileError(`cannot read the ${what} '${path}': ${whyNot(e)}`);
  }
}

/**
 * readGuestFile with the reading on libuv's threadpool, in one read where the system allows,
 * while this thread goes on: the file is opened here (throwing GuestFileError as readGuestFile
 * does), the promise has its bytes.
 */
export function readGuestFileSoon(path: string, what: string): Promise<Uint8Array> {
  const { fd, size } = openGuestFile(path, what);
  const bytes = new Uint8Array(size);
  return readAt(fd, bytes, 0)
    .then(
      (n) => bytes.subarray(0, n),
      (e: unknown) => {
        throw new GuestFileError(`cannot read the ${what} '${path}': ${whyNot(e)}`);
      },
    )
    .finally(() => closeSync(fd));
}

/** Reads into `bytes` from `at` until it is full or the file ends; resolves to the bytes read. */
function readAt(fd: number, bytes: Uint8Array, at: number): Promise<number> {
  return new Promise<number>((done, fail) => {
    if (at === bytes.length) return done(at);
    read(fd, bytes, at, bytes.length - at, at, (e, n) => {
      if (e) fail(e);
      else if (n === 0) done(at);
      else readAt(fd, bytes, at + n).then(done, fail);
    });
  });
}

function whyNot(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EACCES'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'it is a directory'
        : String(e);
}

/**
 * Reads a kernel: a RISC-V ELF (vmlinux or a bare-metal program), a Linux Image, a
 * gzip-compressed Image, or any other flat binary (loaded as it is, entered at its start).
 */
export function readKernel(path: string): Uint8Array {
  return kernelImage(readGuestFile(path, 'kernel'), path);
}

/** The kernel in `bytes`, read from `path`: decompressed and checked as readKernel does. */
export function kernelImage(bytes: Uint8Array, path: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch {
      throw new GuestFileError(
        `the kernel '${path}' looks gzip-compressed but does not decompress`,
      );
    }
  }
  if (bytes.length === 0) throw new GuestFileError(`the kernel '${path}' is empty`);
  if (isElf(bytes)) {
    try {
      parseElf(bytes);
    } catch (e) {
      throw new GuestFileError(`'${path}' is not a RISC-V kernel: ${(e as Error).message}`);
    }
  }
  return bytes;
}

/** Checks that `path` is a regular file this process can read, without reading it. */
export function checkGuestFile(path: string, what: string): void {
  closeSync(openGuestFile(path, what).fd);
}

/** Opens `path`, a regular file this process can read, and gives its size; else GuestFileError. */
function openGuestFile(path: string, what: string): { fd: number; size: number } {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(), { code: 'EISDIR' });
    return { fd, size: st.size };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    throw new GuestFileError(`cannot read the ${what} '${path}': ${whyNot(e)}`);
  }
}
