// Snapshot files read ahead (readSnapshotFile: RAM inflated on the thread pool) restore exactly
// as files read by the check itself, and refuse the same damage the same way.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoBoard, runFor, type } from '../../../test/support/echoBoard.js';
import {
  decodeSection,
  encodeSectionHeader,
  HEADER_BYTES,
  isEnd,
  SnapshotError,
  type Section,
} from './format.js';
import { checkSnapshotFile, readSnapshotFile, writeSnapshotFile } from './snapshotFile.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-snapfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function running(): ReturnType<typeof echoBoard> {
  const e = echoBoard();
  runFor(e.board, 200_000);
  type(e.board, 'hi');
  return e;
}

/** The file with every RAM section's deflated data replaced by bytes that do not inflate. */
function withBadRam(bytes: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [bytes.subarray(0, HEADER_BYTES)];
  for (let at = HEADER_BYTES, i = 0; ; i++) {
    const { section, next } = decodeSection(bytes, at, i);
    let s: Section = section;
    if (s.name === 'ram') {
      const payload = s.payload.slice();
      payload.fill(0xff, 8 + 512); // past the header and the bitmap of 4096 pages
      s = { ...s, payload };
    }
    out.push(encodeSectionHeader(s), s.payload);
    at = next;
    if (isEnd(section)) return Buffer.concat(out);
  }
}

test('a file read ahead restores as one the check reads itself', async () => {
  const a = running();
  const path = join(dir, 'a.snap');
  writeSnapshotFile(a.board, path);
  const reading = readSnapshotFile(path);
  const read = await reading.read;
  assert.ok(read !== null);
  assert.equal(read.inflated.size, 1, 'the one RAM window of the echo board, inflated ahead');
  assert.deepEqual(
    await reading.pages,
    a.board.ram.dataPages(),
    'the pages it holds are known before it is inflated',
  );
  const b = echoBoard();
  const c = echoBoard();
  b.board.loadState(checkSnapshotFile(b.board, path, read).state);
  c.board.loadState(checkSnapshotFile(c.board, path).state);
  assert.deepEqual(b.board.saveState(), a.board.saveState());
  assert.deepEqual(c.board.saveState(), a.board.saveState());
});

test('damaged RAM read ahead is refused as when the check reads it; the board is unchanged', async () => {
  const a = running();
  const path = join(dir, 'good.snap');
  writeSnapshotFile(a.board, path);
  const bad = join(dir, 'bad.snap');
  writeFileSync(bad, withBadRam(readFileSync(path)));
  const read = await readSnapshotFile(bad).read;
  assert.equal(read?.inflated.size, 0, 'nothing inflated ahead');
  const b = echoBoard();
  const before = b.board.saveState();
  for (const r of [read, undefined]) {
    assert.throws(
      () => checkSnapshotFile(b.board, bad, r),
      (e: unknown) =>
        e instanceof SnapshotError &&
        e.problem === 'corrupt' &&
        /^snapshot .*bad\.snap: it is damaged: section \d+ \(ram\) does not decompress/.test(
          e.message,
        ),
    );
  }
  assert.deepEqual(b.board.saveState(), before);
});

test('a file that cannot be read ahead is refused by the check, saying why', async () => {
  const path = join(dir, 'none.snap');
  const reading = readSnapshotFile(path);
  const read = await reading.read;
  assert.equal(read, null);
  assert.deepEqual(await reading.pages, [], 'no pages to back');
  assert.throws(
    () => checkSnapshotFile(echoBoard().board, path, read),
    /cannot read the snapshot .*none\.snap: ENOENT/,
  );
});
