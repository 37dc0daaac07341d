// The device state of the STATE message: the machine's state without its RAM (which went before
// as pages), in the snapshot format's encoding (snapshot/format.ts): the header with the board
// fingerprint, the "board" section (the shape), one JSON section per part other than RAM under
// its bus name, the VMM's "vmm.*" sections, the end marker; every section under its checksums.
// The destination checks all of it against its own board before it loads any part.

import type { VirtBoard } from '../../machine/board/virt.js';
import type { BoardShape } from '../../machine/board/virtState.js';
import { checkPart, StateError, type Persistent } from '../../machine/state/persistent.js';
import { berthVersion } from '../snapshot/berthVersion.js';
import {
  boardFingerprint,
  canonicalJson,
  sameShape,
  shapeDifferences,
} from '../snapshot/boardShape.js';
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
  type Section,
} from '../snapshot/format.js';
import { VMM_SECTION_PREFIX } from '../snapshot/snapshot.js';
import { MigrationError } from './wire.js';

const utf8 = new TextEncoder();

function json(name: string, kind: string, version: number, value: unknown): Section {
  return {
    name,
    kind,
    version,
    encoding: ENCODING_JSON,
    payload: utf8.encode(JSON.stringify(value)),
  };
}

/** The device state of `board` (between slices, paused) and the VMM's `extras`. */
export function encodeDeviceState(board: VirtBoard, extras: Record<string, unknown>): Uint8Array {
  const shape = board.shape();
  const chunks: Uint8Array[] = [
    encodeHeader({
      formatVersion: SNAPSHOT_FORMAT_VERSION,
      writer: berthVersion(),
      fingerprint: boardFingerprint(shape),
    }),
  ];
  const sections: Section[] = [
    json('board', board.stateId, board.stateVersion, JSON.parse(canonicalJson(shape))),
  ];
  for (const [name, part] of board.parts()) {
    if (part === board.ram) continue;
    sections.push(json(name, part.stateId, part.stateVersion, part.saveState()));
  }
  for (const [k, v] of Object.entries(extras)) {
    sections.push(json(VMM_SECTION_PREFIX + k, 'vmm', 1, v));
  }
  sections.push(END_SECTION);
  for (const s of sections) chunks.push(encodeSectionHeader(s), s.payload);
  return Buffer.concat(chunks);
}

/** Checked device state, ready to load. */
export interface CheckedDevices {
  parts: [Persistent<unknown>, unknown][];
  extras: Record<string, unknown>;
}

function parse(s: Section): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(s.payload));
  } catch {
    throw new MigrationError(`the device state's section ${s.name} is not JSON`);
  }
}

/** Checks the STATE payload against `board` completely, changing nothing. */
export function checkDeviceState(board: VirtBoard, bytes: Uint8Array): CheckedDevices {
  const refuse = (why: string): never => {
    throw new MigrationError(`the device state is refused: ${why}`);
  };
  try {
    const header = decodeHeader(bytes);
    const saved: Record<string, unknown> = {};
    const extras: Record<string, unknown> = {};
    let shape: BoardShape | null = null;
    let offset = HEADER_BYTES;
    for (let index = 0; ; index++) {
      const { section: s, next } = decodeSection(bytes, offset, index);
      offset = next;
      if (isEnd(s)) break;
      if (index === 0) {
        if (s.name !== 'board' || s.kind !== board.stateId || s.version > board.stateVersion) {
          refuse(`its first section is ${s.name} (${s.kind} version ${s.version})`);
        }
        shape = parse(s) as BoardShape;
      } else if (s.name.startsWith(VMM_SECTION_PREFIX)) {
        extras[s.name.slice(VMM_SECTION_PREFIX.length)] = parse(s);
      } else if (s.name === 'ram' || s.name === 'board' || s.name in saved) {
        refuse(`section ${s.name} does not belong there`);
      } else {
        saved[s.name] = { id: s.kind, version: s.version, state: parse(s) };
      }
    }
    if (offset !== bytes.length) refuse(`${bytes.length - offset} bytes follow its end`);
    if (shape === null) return refuse('it has no board section');
    const fp = (x: Uint8Array): string => Buffer.from(x).toString('hex');
    if (fp(boardFingerprint(shape)) !== fp(header.fingerprint)) {
      refuse('its board section does not match its fingerprint');
    }
    if (!sameShape(shape, board.shape())) {
      refuse(`it is of another board (${shapeDifferences(shape, board.shape()).join('; ')})`);
    }
    const parts: [Persistent<unknown>, unknown][] = [];
    const mine = board.parts().filter(([, p]) => p !== board.ram);
    for (const [name, part] of mine) {
      if (!(name in saved)) refuse(`it has no part ${name}, which this board has`);
      parts.push([part, checkPart(part, saved[name], name)]);
    }
    for (const name of Object.keys(saved)) {
      if (!mine.some(([n]) => n === name)) refuse(`it has a part ${name} this board lacks`);
    }
    return { parts, extras };
  } catch (e) {
    if (e instanceof MigrationError) throw e;
    if (e instanceof StateError || (e instanceof Error && e.name === 'SnapshotError')) {
      return refuse(e.message);
    }
    throw e;
  }
}

/** Loads checked device state in the board's restore order. */
export function loadDeviceState(checked: CheckedDevices): void {
  for (const [part, state] of checked.parts) part.loadState(state);
}
