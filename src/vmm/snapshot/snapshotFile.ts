// Snapshot files: written whole to a temporary name beside the target (mode 0600: guest
// memory) and renamed into place, so a reader never sees half a file; read whole, checked
// completely, and only then loaded. Every refusal names the file.

import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import type { VirtBoard } from '../../machine/board/virt.js';
import { SnapshotError } from './format.js';
import { checkSnapshot, snapshotChunks, type CheckedSnapshot } from './snapshot.js';

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

/** Reads `path` and checks it against `board` completely, changing nothing. */
export function checkSnapshotFile(board: VirtBoard, path: string): CheckedSnapshot {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SnapshotError('format', `cannot read the snapshot ${path}: ${(e as Error).message}`);
  }
  try {
    return checkSnapshot(board, bytes);
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
