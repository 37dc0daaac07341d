// Reading a console log with its rotated parts: all of it oldest first, the last N lines across
// the parts when the current file is short, a last line without its newline counted, a part
// missing in the middle (a rotation under way) passed over, and a symbolic link not followed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleLogTail, lastLines } from './consoleLogTail.js';

test('lastLines: whole lines from the end; a last line without a newline is one', () => {
  const b = (s: string): Buffer => Buffer.from(s);
  assert.equal(lastLines(b('a\nb\nc\n'), 2).toString(), 'b\nc\n');
  assert.equal(lastLines(b('a\nb\nc'), 2).toString(), 'b\nc');
  assert.equal(lastLines(b('a\nb\nc\n'), 5).toString(), 'a\nb\nc\n');
  assert.equal(lastLines(b('a\r\nb\r\n'), 1).toString(), 'b\r\n');
  assert.equal(lastLines(b(''), 3).toString(), '');
});

test('consoleLogTail: across the rotated parts, oldest first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tail-'));
  try {
    const path = join(dir, 'console.log');
    assert.equal(consoleLogTail(path).length, 0, 'no log yet: nothing');
    writeFileSync(`${path}.2`, 'one\ntwo\n');
    writeFileSync(`${path}.1`, 'three\nfour\n');
    writeFileSync(path, 'five\n~ # ');
    assert.equal(consoleLogTail(path).toString(), 'one\ntwo\nthree\nfour\nfive\n~ # ');
    assert.equal(consoleLogTail(path, 2).toString(), 'five\n~ # ');
    assert.equal(consoleLogTail(path, 4).toString(), 'three\nfour\nfive\n~ # ');
    assert.equal(consoleLogTail(path, 5).toString(), 'two\nthree\nfour\nfive\n~ # ');
    assert.equal(consoleLogTail(path, 100).toString(), 'one\ntwo\nthree\nfour\nfive\n~ # ');

    rmSync(`${path}.1`); // as between two renames of a rotation
    assert.equal(consoleLogTail(path).toString(), 'one\ntwo\nfive\n~ # ');

    rmSync(`${path}.2`);
    writeFileSync(join(dir, 'secret'), 'not for the API\n');
    symlinkSync(join(dir, 'secret'), `${path}.1`);
    assert.equal(consoleLogTail(path).toString(), 'five\n~ # ', 'the link is not followed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
