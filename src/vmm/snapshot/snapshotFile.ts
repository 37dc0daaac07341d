// Snapshot files: written whole to a temporary name beside the target (mode 0600: guest
// memory) and renamed into place, so a reader never sees half a file; read whole, checked
// completely, and only then loaded. Every refusal names the file. A restore in a hurry reads
// the file ahead (readSnapshotFile) with its RAM inflated on the thread pool, in parallel and
// beside whatever else the process does meanwhile; the check is the same either way.

import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import type { VirtBoard } from '../../machine/board/virt.js';
import { HEADER_BYTES, SECTION_HEADER_BYTES, SnapshotError } from './format.js';
import { inflateOptions, ramPacked } from './ramSections.js';
import { checkSnapshot, snapshotChunks, snapshotShape, type CheckedSnapshot } from './snapshot.js';

/** The most of a file readSnapshotShape reads: a board section is well under 1 KiB. */
const SHAPE_READ_BYTES = 64 * 1024;

/**
 * The board shape a snapshot file says it was taken of (unchecked but for its checksums), read
 * from the start of the file; null when the file cannot be read or made out (checkSnapshotFile
 * then says why). A restore places its devices by it before it makes the board.
 */
export function readSnapshotShape(path: string): unknown {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const head = new Uint8Array(SHAPE_READ_BYTES);
    let got = 0;
    while (got < head.length) {
      const n = readSync(fd, head, got, head.length - got, got);
      if (n === 0) break; // a file shorter than that
      got += n;
    }
    return snapshotShape(head.subarray(0, got));
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Writes the snapshot of `board` (between runs) to `path`; returns its size in bytes. */
export function writeSnapshotFile(
  board: VirtBoard,
  path: string,
  extras: Record<string, unknown> = {},
): number {
  const tmp = `${path}.${process.pid}.tmp`;
  let fd = -1;
  let size = 0;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    for (const chunk of snapshotChunks(board, extras)) {
      let done = 0;
      while (done < chunk.length) done += writeSync(fd, chunk, done);
      size += chunk.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
    return size;
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A snapshot file read ahead: its bytes, and its RAM sections' pages by payload offset. */
export interface SnapshotFileBytes {
  bytes: Uint8Array;
  inflated: Map<number, Uint8Array>;
}

/** A snapshot file being read (readSnapshotFile). */
export interface SnapshotReading {
  /**
   * The RAM pages its sections hold (unchecked), as soon as the file is read and before its
   * RAM is inflated: a restore backs them meanwhile (Ram.prefault).
   */
  pages: Promise<number[]>;
  read: Promise<SnapshotFileBytes | null>;
}

/** A snapshot file being read ahead, by the path it was given as. */
export interface SnapshotReadAhead extends SnapshotReading {
  path: string;
}

const inflateRawAsync = promisify(inflateRaw);

/**
 * Reads `path` and inflates its RAM sections on the thread pool, all at once; checks nothing
 * (checkSnapshotFile does, on these bytes). Null when the file cannot be read: checkSnapshotFile
 * then says why. A section it cannot make out is left to the check to inflate (or refuse).
 */
export function readSnapshotFile(path: string): SnapshotReading {
  let pagesKnown: (pages: number[]) => void = () => {};
  const pages = new Promise<number[]>((r) => (pagesKnown = r));
  const read = (async () => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch {
      pagesKnown([]);
      return null;
    }
    return inflateRam(bytes, pagesKnown);
  })();
  return { pages, read };
}

/** Inflates the RAM sections of `bytes`, first telling `pagesKnown` which pages they hold. */
async function inflateRam(
  bytes: Uint8Array,
  pagesKnown: (pages: number[]) => void,
): Promise<SnapshotFileBytes> {
  const present: number[] = [];
  const inflated = new Map<number, Uint8Array>();
  const work: Promise<void>[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = HEADER_BYTES; at + SECTION_HEADER_BYTES <= bytes.length;) {
    const length = Number(v.getBigUint64(at + 72, true));
    const start = at + SECTION_HEADER_BYTES;
    if (bytes[at] === 0 || start + length > bytes.length) break; // the end, or damage
    const isRam = bytes[at] === 0x72 && bytes[at + 1] === 0x61 && bytes[at + 2] === 0x6d;
    const w =
      isRam && bytes[at + 3] === 0 ? ramPacked(bytes.subarray(start, start + length)) : null;
    if (w !== null) {
      present.push(...w.pages);
      work.push(
        inflateRawAsync(w.packed, inflateOptions(w.bytes)).then(
          (data) => void inflated.set(start, data),
          () => {}, // the check inflates it again and says what is wrong
        ),
      );
    }
    at = start + length;
  }
  pagesKnown(present);
  await Promise.all(work);
  return { bytes, inflated };
}

/**
 * Reads `path` (or takes what readSnapshotFile read of it) and checks it against `board`
 * completely, changing nothing.
 */
export function checkSnapshotFile(
  board: VirtBoard,
  path: string,
  read?: SnapshotFileBytes | null,
): CheckedSnapshot {
  let bytes = read?.bytes;
  try {
    bytes ??= readFileSync(path);
  } catch (e) {
    throw new SnapshotError('format', `cannot read the snapshot ${path}: ${(e as Error).message}`);
  }
  try {
    return checkSnapshot(board, bytes, read?.inflated);
  } catch (e) {
    if (e instanceof SnapshotError)
      throw new SnapshotError(e.problem, `snapshot ${path}: ${e.message}`);
    throw e;
  }
}

/** Restores `board` from the snapshot file `path`; a refused file changes nothing. */
export function restoreSnapshotFile(board: VirtBoard, path: string): CheckedSnapshot {
  const checked = checkSnapshotFile(board, path);
  board.loadState(checked.state);
  return checked;
}
