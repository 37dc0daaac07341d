// Reads a guest's console log as its VMM keeps it (src/vmm/consoleLog.ts): PATH, and the older
// parts PATH.1, PATH.2 … beside it. All of it, oldest first, or its last N lines, taken across
// the rotated files when the current one holds fewer. Bytes as the guest wrote them. The files
// are written by the VMM's user: a symbolic link or anything but a regular file is not read.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** The most read of one file (the VMM keeps each within its maxBytes, 1 MiB by default). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Rotated files looked for (the VMM's config allows keep up to 100). */
const MAX_PARTS = 100;

/** The file's bytes (its last MAX_FILE_BYTES), or null when there is no such regular file. */
function readPart(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const n = Math.min(st.size, MAX_FILE_BYTES);
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, st.size - n + got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of `buf` (a last line without its newline counts as one). */
export function lastLines(buf: Buffer, n: number): Buffer {
  let i = buf.length - 1;
  if (buf[i] === 0x0a) i--; // the last line's own newline
  for (let seen = 0; i >= 0; i--) {
    i = buf.lastIndexOf(0x0a, i);
    if (i < 0) break;
    if (++seen === n) return buf.subarray(i + 1);
  }
  return buf;
}

/** Newlines in `buf`. */
function newlines(buf: Buffer): number {
  let count = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) count++;
  return count;
}

/**
 * The console log at `path` with its rotated parts: all of it, or its last `lines` lines. A part
 * missing between others (the VMM rotating at that moment) is passed over; two end the search.
 */
export function consoleLogTail(path: string, lines?: number): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  let missing = 0;
  for (let i = 0; i <= MAX_PARTS && missing < 2; i++) {
    const part = readPart(i === 0 ? path : `${path}.${i}`);
    if (part === null) {
      missing++;
      continue;
    }
    missing = 0;
    parts.unshift(part);
    count += newlines(part);
    if (lines !== undefined && count > lines) break; // the line before the first one wanted ends here
  }
  const all = Buffer.concat(parts);
  return lines === undefined ? all : lastLines(all, lines);
}
