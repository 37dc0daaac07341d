// Snapshots of a whole virt board in the format of format.ts: written while the board is
// between runs (paused), read back only onto a board of the same shape. Reading checks
// everything before anything changes: the header, every section's checksum, the end marker,
// the board fingerprint, then every part's state (the board's checkState); only then is the
// board loaded. A refused snapshot leaves the board as it was.
//
//   sections, in order: "board" (the shape, JSON), one per part other than RAM under its bus
//   name (JSON state), "ram" windows (ramSections.ts), sections the VMM adds (names starting
//   "vmm."), the end marker.

import type { VirtBoard } from '../../machine/board/virt.js';
import type { BoardShape, BoardState } from '../../machine/board/virtState.js';
import { StateError, type SavedPart } from '../../machine/state/persistent.js';
import { berthVersion } from './berthVersion.js';
import { boardFingerprint, canonicalJson, sameBoard, shapeDifferences } from './boardShape.js';
import {
  decodeHeader,
  decodeSection,
  encodeHeader,
  encodeSectionHeader,
  END_SECTION,
  ENCODING_JSON,
  HEADER_BYTES,
  isEnd,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotError,
  type Section,
} from './format.js';
import { RamAssembler, ramSections } from './ramSections.js';

const BOARD_SECTION = 'board';
/** Names of sections the VMM adds for itself begin with this. */
export const VMM_SECTION_PREFIX = 'vmm.';

export interface SnapshotInfo {
  formatVersion: number;
  /** The Berth version that wrote it. */
  writer: string;
  /** Hex SHA-256 of the board's shape. */
  fingerprint: string;
  shape: BoardShape;
}

/** A snapshot that passed every check against a board, ready to load. */
export interface CheckedSnapshot {
  info: SnapshotInfo;
  state: BoardState;
  /** The VMM's own sections ("vmm.*"), JSON. */
  extras: Record<string, unknown>;
}

const utf8 = new TextEncoder();

function jsonSection(name: string, kind: string, version: number, value: unknown): Section {
  return {
    name,
    kind,
    version,
    encoding: ENCODING_JSON,
    payload: utf8.encode(JSON.stringify(value)),
  };
}

/**
 * The snapshot of `board` (between runs) as a sequence of byte chunks: the header, then each
 * section's header and payload. `extras` are written as JSON sections named "vmm.KEY".
 */
export function* snapshotChunks(
  board: VirtBoard,
  extras: Record<string, unknown> = {},
): Generator<Uint8Array> {
  const shape = board.shape();
  yield encodeHeader({
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    writer: berthVersion(),
    fingerprint: boardFingerprint(shape),
  });
  // Every part's state but RAM's, which is deflated straight from views of guest RAM (the
  // board is between runs, so nothing writes it meanwhile): no copy of the guest's memory.
  const parts = board.parts().filter(([name]) => name !== 'ram');
  const ram = board.ram;
  const sections: Iterable<Section>[] = [
    [
      jsonSection(
        BOARD_SECTION,
        board.stateId,
        board.stateVersion,
        JSON.parse(canonicalJson(shape)),
      ),
    ],
    parts.map(([name, p]) => jsonSection(name, p.stateId, p.stateVersion, p.saveState())),
    ramSections({ size: ram.size, runs: ram.dataRuns() }, ram.stateVersion),
    Object.entries(extras).map(([k, v]) => jsonSection(VMM_SECTION_PREFIX + k, 'vmm', 1, v)),
    [END_SECTION],
  ];
  for (const group of sections) {
    for (const s of group) {
      yield encodeSectionHeader(s);
      if (s.payload.length > 0) yield s.payload;
    }
  }
}

/** The whole snapshot of `board` in one buffer. */
export function snapshotBytes(board: VirtBoard, extras: Record<string, unknown> = {}): Uint8Array {
  const b = Buffer.concat([...snapshotChunks(board, extras)]);
  return new Uint8Array(b.buffer, b.byteOffset, b.length); // a Uint8Array: slice() copies
}

function parseJson(s: Section, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(s.payload));
  } catch {
    throw new SnapshotError('corrupt', `it is damaged: ${where} is not JSON`);
  }
}

/**
 * The board section of the snapshot that `bytes` begins with, parsed (the header's and the
 * section's checksums checked, nothing else); throws SnapshotError when it cannot be read.
 */
export function snapshotShape(bytes: Uint8Array): unknown {
  decodeHeader(bytes);
  const { section } = decodeSection(bytes, HEADER_BYTES, 0);
  if (section.name !== BOARD_SECTION) {
    throw new SnapshotError('corrupt', 'it is damaged: its first section is not the board');
  }
  return parseJson(section, 'section 0 (board)');
}

/**
 * Reads `bytes` and checks them against `board` completely, changing nothing. Throws
 * SnapshotError (its `problem` says which kind) with a message to put after the file's name.
 * `inflated` may hold RAM sections' pages inflated ahead, by their payload's offset in `bytes`.
 */
export function checkSnapshot(
  board: VirtBoard,
  bytes: Uint8Array,
  inflated?: ReadonlyMap<number, Uint8Array>,
): CheckedSnapshot {
  const header = decodeHeader(bytes);
  const parts: Record<string, SavedPart> = {};
  const extras: Record<string, unknown> = {};
  const ram = new RamAssembler(board.ram.size);
  let ramVersion: number | null = null;
  let shape: BoardShape | null = null;
  let offset = HEADER_BYTES;
  for (let index = 0; ; index++) {
    const { section: s, next } = decodeSection(bytes, offset, index);
    offset = next;
    if (isEnd(s)) break;
    const where = `section ${index} (${s.name})`;
    if (index === 0) {
      if (s.name !== BOARD_SECTION) {
        throw new SnapshotError(
          'corrupt',
          `it is damaged: ${where} comes where the board section belongs`,
        );
      }
      if (s.kind !== board.stateId || s.version > board.stateVersion) {
        throw new SnapshotError(
          'format',
          `it is of a ${s.kind} board (version ${s.version}); this Berth restores ` +
            `${board.stateId} boards up to version ${board.stateVersion}`,
        );
      }
      shape = parseJson(s, where) as BoardShape;
    } else if (s.name === 'ram') {
      if (ramVersion !== null && s.version !== ramVersion) {
        throw new SnapshotError('corrupt', `it is damaged: ${where} has another RAM version`);
      }
      ramVersion = s.version;
      ram.add(s, where, inflated?.get(s.payload.byteOffset - bytes.byteOffset));
    } else if (s.name.startsWith(VMM_SECTION_PREFIX)) {
      extras[s.name.slice(VMM_SECTION_PREFIX.length)] = parseJson(s, where);
    } else {
      if (Object.prototype.hasOwnProperty.call(parts, s.name) || s.name === BOARD_SECTION) {
        throw new SnapshotError('corrupt', `it is damaged: ${where} appears twice`);
      }
      parts[s.name] = { id: s.kind, version: s.version, state: parseJson(s, where) };
    }
  }
  if (offset !== bytes.length) {
    throw new SnapshotError(
      'corrupt',
      `it is damaged: ${bytes.length - offset} bytes follow its end marker`,
    );
  }
  if (shape === null) throw new SnapshotError('corrupt', 'it is damaged: it has no board section');
  const fingerprint = Buffer.from(header.fingerprint).toString('hex');
  if (Buffer.from(boardFingerprint(shape)).toString('hex') !== fingerprint) {
    throw new SnapshotError(
      'corrupt',
      'it is damaged: its board section does not match its fingerprint',
    );
  }
  const here = board.shape();
  if (!sameBoard(shape, here)) {
    const diff = shapeDifferences(shape, here);
    throw new SnapshotError(
      'board',
      `it is of another board configuration (${diff.join('; ') || 'the fingerprints differ'}); ` +
        'restore it on a machine configured like the one that took it',
    );
  }
  parts.ram = {
    id: board.ram.stateId,
    version: ramVersion ?? board.ram.stateVersion,
    state: ram.state(),
  };
  let state: BoardState;
  try {
    state = board.checkState({ parts });
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    throw new SnapshotError('state', `its machine state is refused: ${e.message}`);
  }
  const info: SnapshotInfo = {
    formatVersion: header.formatVersion,
    writer: header.writer,
    fingerprint,
    shape,
  };
  return { info, state, extras };
}

/** Checks `bytes` completely, then loads them into `board` (nothing changes when refused). */
export function restoreSnapshot(board: VirtBoard, bytes: Uint8Array): CheckedSnapshot {
  const checked = checkSnapshot(board, bytes);
  board.loadState(checked.state);
  return checked;
}
