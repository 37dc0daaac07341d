// Tests of the newc cpio writer: the system's cpio must unpack it, and our reader must read back
// exactly what was written (types, modes, device numbers, padding, trailer).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CpioEntry, readCpio, TRAILER, writeCpio } from './cpio.js';

const ENTRIES: CpioEntry[] = [
  { path: '/bin', type: 'directory', mode: 0o755 },
  { path: 'bin/hello', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { path: 'bin/sh', type: 'symlink', mode: 0o777, linkTarget: 'hello' },
  { path: 'etc/empty', type: 'file', mode: 0o600 }, // parent etc/ is added by the writer
  {
    path: 'a/b/c/odd',
    type: 'file',
    mode: 0o644,
    data: Buffer.from('x'.repeat(5)),
    mtime: 1700000000,
  },
  { path: 'tmp', type: 'directory', mode: 0o1777 },
  { path: 'dev/console', type: 'chardev', mode: 0o600, major: 5, minor: 1 },
  { path: 'dev/null', type: 'chardev', mode: 0o666, major: 1, minor: 3 },
  { path: 'dev/sda', type: 'blockdev', mode: 0o660, major: 8, minor: 0 },
  { path: 'run/fifo', type: 'fifo', mode: 0o644 },
];

test('layout: headers, 4-byte alignment and the trailer', () => {
  const buf = writeCpio(ENTRIES);
  assert.equal(buf.length % 4, 0);
  assert.equal(buf.toString('latin1', 0, 6), '070701');
  const trailerAt = buf.lastIndexOf(TRAILER);
  assert.ok(trailerAt > 0);
  assert.equal((trailerAt - 110) % 4, 0, 'the trailer header starts on a 4-byte boundary');
  // An empty archive is just the trailer: 110-byte header + 11-byte name, padded to 124.
  assert.equal(writeCpio([]).length, 124);
});

test('read back: every entry with its type, mode, times, data, link and device numbers', () => {
  const back = readCpio(writeCpio(ENTRIES));
  const byPath = new Map(back.map((e) => [e.path, e]));
  assert.deepEqual(
    back.map((e) => e.path),
    [
      'bin',
      'bin/hello',
      'bin/sh',
      'etc',
      'etc/empty',
      'a',
      'a/b',
      'a/b/c',
      'a/b/c/odd',
      'tmp',
      'dev',
      'dev/console',
      'dev/null',
      'dev/sda',
      'run',
      'run/fifo',
    ],
  );
  assert.equal(byPath.get('bin/hello')?.data?.toString(), '#!/bin/sh\necho hi\n');
  assert.equal(byPath.get('bin/hello')?.mode, 0o755);
  assert.equal(byPath.get('bin/sh')?.linkTarget, 'hello');
  assert.equal(byPath.get('etc/empty')?.data?.length, 0);
  assert.equal(byPath.get('a/b/c/odd')?.mtime, 1700000000);
  assert.equal(byPath.get('tmp')?.mode, 0o1777);
  assert.deepEqual(
    [
      byPath.get('dev/console')?.type,
      byPath.get('dev/console')?.major,
      byPath.get('dev/console')?.minor,
    ],
    ['chardev', 5, 1],
  );
  assert.deepEqual([byPath.get('dev/null')?.major, byPath.get('dev/null')?.minor], [1, 3]);
  assert.equal(byPath.get('dev/sda')?.type, 'blockdev');
  assert.equal(byPath.get('run/fifo')?.type, 'fifo');
});

test('a later entry with the same path replaces the earlier one', () => {
  const back = readCpio(
    writeCpio([
      { path: 'x', type: 'file', mode: 0o644, data: Buffer.from('old') },
      { path: '/x', type: 'file', mode: 0o600, data: Buffer.from('new') },
    ]),
  );
  assert.equal(back.length, 1);
  assert.equal(back[0].data?.toString(), 'new');
});

test('the system cpio unpacks the archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cpio-'));
  try {
    // Device nodes need root to create; leave them out here (the reader test covers them).
    const archive = writeCpio(ENTRIES.filter((e) => e.type !== 'chardev' && e.type !== 'blockdev'));
    const listing = execFileSync('cpio', ['-idv', '--no-absolute-filenames'], {
      cwd: dir,
      input: archive,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    void listing;
    assert.equal(readFileSync(join(dir, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(lstatSync(join(dir, 'bin/hello')).mode & 0o7777, 0o755);
    assert.equal(readlinkSync(join(dir, 'bin/sh')), 'hello');
    assert.equal(readFileSync(join(dir, 'a/b/c/odd'), 'utf8'), 'xxxxx');
    assert.equal(lstatSync(join(dir, 'etc/empty')).size, 0);
    assert.ok(lstatSync(join(dir, 'run/fifo')).isFIFO());
    // The listing (-t -v) shows the device nodes with their numbers.
    const table = execFileSync('cpio', ['-tv'], {
      input: writeCpio(ENTRIES),
      stdio: ['pipe', 'pipe', 'pipe'],
    }).toString();
    assert.match(table, /^crw-------\s.*\b5,\s+1\b.*dev\/console$/m);
    assert.match(table, /^crw-rw-rw-\s.*\b1,\s+3\b.*dev\/null$/m);
    assert.match(table, /^drwxrwxrwt\s.*\btmp$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
