// Snapshot files of a whole board: a restored board runs on exactly as the original; zero
// pages are left out; and a file that is not a snapshot, of a newer format, of another board,
// truncated anywhere, with a bit flipped anywhere, or with a state that is out of range is
// refused with a clear message and changes nothing.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoBoard, runFor, type } from '../../../test/support/echoBoard.js';
import { crc32 } from './crc32.js';
import {
  decodeHeader,
  decodeSection,
  encodeHeader,
  encodeSectionHeader,
  HEADER_BYTES,
  isEnd,
  SnapshotError,
  type Section,
  type SnapshotProblem,
} from './format.js';
import { checkSnapshot, restoreSnapshot, snapshotBytes } from './snapshot.js';
import { restoreSnapshotFile, writeSnapshotFile } from './snapshotFile.js';
import { berthVersion } from './berthVersion.js';
import type { VirtBoard } from '../../machine/board/virt.js';
import { MemoryNetBackend } from '../../machine/virtio/netBackend.js';
import { formatMac } from '../../machine/virtio/net.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An echo board that has booted and echoed "hi". */
function running(extra = {}): ReturnType<typeof echoBoard> {
  const e = echoBoard(extra);
  runFor(e.board, 200_000);
  type(e.board, 'hi');
  return e;
}

/** Expects a refusal of kind `problem` whose message matches `message`, and `board` unchanged. */
function refused(
  board: VirtBoard,
  bytes: Uint8Array,
  problem: SnapshotProblem,
  message: RegExp,
): void {
  assert.throws(
    () => restoreSnapshot(board, bytes),
    (e: unknown) => e instanceof SnapshotError && e.problem === problem && message.test(e.message),
  );
}

/** The sections of a snapshot, to rewrite them. */
function sectionsOf(bytes: Uint8Array): Section[] {
  const out: Section[] = [];
  let offset = HEADER_BYTES;
  for (let i = 0; ; i++) {
    const { section, next } = decodeSection(bytes, offset, i);
    out.push({ ...section, payload: section.payload.slice() });
    offset = next;
    if (isEnd(section)) return out;
  }
}

/** A snapshot from a header and sections, with correct checksums. */
function assemble(header: Uint8Array, sections: Section[]): Uint8Array {
  return Buffer.concat([header, ...sections.flatMap((s) => [encodeSectionHeader(s), s.payload])]);
}

test('a restored board saves the same state and runs on exactly as the original', () => {
  const a = running();
  const path = join(dir, 'a.snap');
  const size = writeSnapshotFile(a.board, path);
  assert.equal(statSync(path).size, size);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['a.snap'], 'no temporary file is left');
  const b = echoBoard();
  const { info } = restoreSnapshotFile(b.board, path);
  assert.equal(info.writer, berthVersion());
  assert.equal(info.formatVersion, 1);
  assert.equal(info.shape.memoryBytes, 16 << 20);
  assert.deepEqual(b.board.saveState(), a.board.saveState());
  for (const e of [a, b]) {
    type(e.board, 'snap');
    runFor(e.board, 77_777);
  }
  assert.equal(b.output(), 'snap');
  assert.deepEqual(b.board.saveState(), a.board.saveState());
});

test('zero pages are left out and the rest is compressed: 16 MiB of RAM fit in under 16 KiB', () => {
  const bytes = snapshotBytes(running().board);
  assert.ok(bytes.length < 16384, `${bytes.length} bytes`);
  const ram = sectionsOf(bytes).filter((s) => s.name === 'ram');
  assert.equal(ram.length, 1, 'one 16 MiB window');
  const names = sectionsOf(bytes).map((s) => s.name);
  assert.deepEqual(names.slice(0, 3), ['board', 'hart0', 'clint']);
  assert.equal(names.at(-1), '');
});

test('a file that is not a snapshot, empty, or of a newer format is refused', () => {
  const { board } = running();
  const good = snapshotBytes(board);
  refused(
    board,
    new TextEncoder().encode('QFI\xfb not a snapshot'),
    'format',
    /^it is not a Berth snapshot \(it does not start with BERTHSNP\)$/,
  );
  refused(board, new Uint8Array(0), 'truncated', /^it is empty$/);
  const newer = good.slice();
  new DataView(newer.buffer).setUint32(8, 2, true);
  newer.set(
    encodeHeader({ ...decodeHeaderLoosely(newer), formatVersion: 2 }).subarray(0, HEADER_BYTES),
  );
  refused(
    board,
    newer,
    'version',
    /^it has snapshot format version 2, newer than this Berth reads \(up to 1\); restore it with a newer Berth$/,
  );
  const extra = Buffer.concat([good, Uint8Array.of(0)]);
  refused(board, extra, 'corrupt', /1 bytes follow its end marker/);
});

/** The header fields of `bytes` without checking its version. */
function decodeHeaderLoosely(bytes: Uint8Array): ReturnType<typeof decodeHeader> {
  const copy = bytes.slice(0, HEADER_BYTES);
  new DataView(copy.buffer).setUint32(8, 1, true);
  new DataView(copy.buffer).setUint32(76, crc32(copy.subarray(0, 76)), true);
  return decodeHeader(copy);
}

test('a snapshot of another board configuration is refused, saying what differs', () => {
  const bytes = snapshotBytes(running().board);
  refused(
    echoBoard({ memoryBytes: 32 << 20 }).board,
    bytes,
    'board',
    /memory: 16777216 bytes in the snapshot, 33554432 bytes here/,
  );
  refused(
    echoBoard({ harts: 2 }).board,
    bytes,
    'board',
    /harts \(--cpus\): 1 in the snapshot, 2 here/,
  );
  refused(
    echoBoard({ input: undefined }).board,
    bytes,
    'board',
    /virtio slot 3: virtio-input in the snapshot, nothing here/,
  );
  refused(
    echoBoard({ net: undefined }).board,
    bytes,
    'board',
    /^it is of another board configuration \(virtio slot 2: virtio-net in the snapshot, nothing here\); restore it on a machine configured like the one that took it$/,
  );
});

test('a snapshot restores onto a board whose network card has another MAC, which it keeps', () => {
  const a = running();
  const bytes = snapshotBytes(a.board);
  const mac = '52:54:00:12:34:99';
  const b = echoBoard({ net: { backend: new MemoryNetBackend(), mac } });
  assert.notEqual(formatMac(a.board.net!.mac), mac);
  const { info } = restoreSnapshot(b.board, bytes);
  assert.equal(
    info.shape.virtio[2]?.mac,
    formatMac(a.board.net!.mac),
    'the snapshot names its MAC',
  );
  assert.equal(formatMac(b.board.net!.mac), mac);
  const config = Array.from({ length: 6 }, (_, i) => b.board.net!.configRead(i, 1));
  assert.equal(formatMac(Uint8Array.from(config)), mac, 'the guest reads the new MAC');
  assert.equal(b.board.instructions(), a.board.instructions());
});

test('a bit flipped in any byte is caught; the board is unchanged', () => {
  const a = running();
  const bytes = snapshotBytes(a.board);
  const b = running();
  type(b.board, 'x');
  const before = snapshotBytes(b.board);
  let tried = 0;
  for (let pos = 0; pos < bytes.length; pos++) {
    const bad = bytes.slice();
    bad[pos] ^= 1 << (pos % 8);
    const expected: SnapshotProblem[] =
      pos < 8 ? ['format'] : pos < 12 ? ['format', 'version'] : ['corrupt'];
    assert.throws(
      () => restoreSnapshot(b.board, bad),
      (e: unknown) => e instanceof SnapshotError && expected.includes(e.problem),
      `a flip at byte ${pos}`,
    );
    tried++;
  }
  assert.equal(tried, bytes.length);
  assert.deepEqual(snapshotBytes(b.board), before);
});

test('a file cut short anywhere is refused as truncated; the board is unchanged', () => {
  const bytes = snapshotBytes(running().board);
  const b = running();
  const before = snapshotBytes(b.board);
  for (let len = 1; len < bytes.length; len++) {
    assert.throws(
      () => checkSnapshot(b.board, bytes.subarray(0, len)),
      (e: unknown) =>
        e instanceof SnapshotError &&
        e.problem === 'truncated' &&
        /^it is truncated: it ends/.test(e.message),
      `cut at ${len}`,
    );
  }
  assert.deepEqual(snapshotBytes(b.board), before);
});

test('a well-formed file whose state is out of range is refused by the part and field', () => {
  const bytes = snapshotBytes(running().board);
  const b = running();
  const before = snapshotBytes(b.board);
  const sections = sectionsOf(bytes);
  const uart = sections.find((s) => s.name === 'uart0')!;
  const state = JSON.parse(new TextDecoder().decode(uart.payload));
  uart.payload = new TextEncoder().encode(JSON.stringify({ ...state, ier: 99 }));
  refused(
    b.board,
    assemble(bytes.subarray(0, HEADER_BYTES), sections),
    'state',
    /^its machine state is refused: uart0: ier must be an integer from 0 to 15, got 99$/,
  );
  const plic = sections.find((s) => s.name === 'plic')!;
  plic.version = 3;
  uart.payload = new TextEncoder().encode(JSON.stringify(state));
  refused(
    b.board,
    assemble(bytes.subarray(0, HEADER_BYTES), sections),
    'state',
    /plic: the sifive-plic state has version 3, newer than this Berth reads/,
  );
  const noBoard = sectionsOf(bytes).slice(1);
  refused(
    b.board,
    assemble(bytes.subarray(0, HEADER_BYTES), noBoard),
    'corrupt',
    /section 0 \(hart0\) comes where the board section belongs/,
  );
  const twice = sectionsOf(bytes);
  twice.splice(2, 0, twice[1]);
  refused(
    b.board,
    assemble(bytes.subarray(0, HEADER_BYTES), twice),
    'corrupt',
    /section 2 \(hart0\) appears twice/,
  );
  assert.deepEqual(snapshotBytes(b.board), before);
});

test('the file names itself in every refusal; an unreadable one is refused too', () => {
  const path = join(dir, 'bad.snap');
  writeFileSync(path, 'hello');
  const { board } = running();
  assert.throws(
    () => restoreSnapshotFile(board, path),
    new RegExp(`^SnapshotError: snapshot ${path}: it is not a Berth snapshot`),
  );
  assert.throws(
    () => restoreSnapshotFile(board, join(dir, 'none.snap')),
    /cannot read the snapshot .*none\.snap: ENOENT/,
  );
  assert.equal(existsSync(join(dir, 'none.snap')), false);
  rmSync(path);
});
