// Tests of .deb extraction on small packages built here with dpkg-deb, in each compression.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as zlib from 'node:zlib';
import { extractDeb, normalizePath, parseAr, readDebControl } from './deb.js';
import { ImageError } from './errors.js';

let dir = '';
const BIG = Buffer.alloc(300_000, 0);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919) & 0xff;

function build(compression: string): Buffer {
  const out = join(dir, `pkg-${compression}.deb`);
  execFileSync(
    'dpkg-deb',
    ['--root-owner-group', `-Z${compression}`, '--build', join(dir, 'root'), out],
    {
      stdio: 'pipe',
    },
  );
  return readFileSync(out);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-deb-'));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    'Package: berth-test\nVersion: 1:2.3-4\nArchitecture: all\nMaintainer: Test <t@example.org>\nDescription: test package\n multi-line\n',
  );
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  mkdirSync(join(root, 'usr', 'share', 'berth-test', 'empty'), { recursive: true });
  writeFileSync(join(root, 'usr', 'bin', 'tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(root, 'usr', 'bin', 'tool'), 0o755);
  symlinkSync('tool', join(root, 'usr', 'bin', 'alias'));
  writeFileSync(join(root, 'usr', 'share', 'berth-test', 'big.bin'), BIG);
  chmodSync(join(root, 'usr', 'share', 'berth-test', 'big.bin'), 0o644);
});

after(() => rmSync(dir, { recursive: true, force: true }));

for (const z of ['xz', 'gzip', 'none']) {
  test(`extracts a ${z} package: files, modes, symlinks, directories, control`, async () => {
    const deb = build(z);
    const members = parseAr(deb).map((m) => m.name);
    assert.equal(members[0], 'debian-binary');
    assert.ok(members[2].startsWith('data.tar'));
    const entries = await extractDeb(deb);
    const by = new Map(entries.map((e) => [e.path, e]));
    assert.equal(by.get('/')?.type, 'directory');
    const tool = by.get('/usr/bin/tool');
    assert.equal(tool?.type, 'file');
    assert.equal(tool?.mode, 0o755);
    assert.equal(tool?.uid, 0);
    assert.equal(tool?.data?.toString(), '#!/bin/sh\necho tool\n');
    assert.deepEqual(
      [by.get('/usr/bin/alias')?.type, by.get('/usr/bin/alias')?.linkTarget],
      ['symlink', 'tool'],
    );
    assert.equal(by.get('/usr/share/berth-test/empty')?.type, 'directory');
    assert.ok(by.get('/usr/share/berth-test/big.bin')?.data?.equals(BIG));
    const control = await readDebControl(deb);
    assert.equal(control.Package, 'berth-test');
    assert.equal(control.Version, '1:2.3-4');
    assert.equal(control.Description, 'test package\nmulti-line');
  });
}

test('include selects entries and skips the content of the others; done stops early', async () => {
  const deb = build('xz');
  const only = await extractDeb(deb, { include: (p, t) => t === 'file' && p.endsWith('/tool') });
  assert.deepEqual(
    only.map((e) => e.path),
    ['/usr/bin/tool'],
  );
  const first = await extractDeb(deb, { done: (got) => got.length >= 2 });
  assert.equal(first.length, 2);
});

test('zstd packages work where Node has zstd, else say what is needed', async () => {
  let deb: Buffer;
  try {
    deb = build('zstd');
  } catch {
    return; // this dpkg-deb cannot write zstd
  }
  if ('zstdDecompress' in zlib) {
    const entries = await extractDeb(deb);
    assert.ok(entries.some((e) => e.path === '/usr/bin/tool'));
  } else {
    await assert.rejects(
      extractDeb(deb),
      (e: unknown) => e instanceof ImageError && e.code === 'UNSUPPORTED' && /Node/.test(e.message),
    );
  }
});

test('damaged input gives FORMAT errors', async () => {
  assert.throws(
    () => parseAr(Buffer.from('not an archive')),
    (e: unknown) => e instanceof ImageError && e.code === 'FORMAT',
  );
  const deb = build('xz');
  await assert.rejects(extractDeb(deb.subarray(0, deb.length - 5000)), ImageError);
  assert.throws(() => normalizePath('./usr/../../etc/passwd'), ImageError);
  assert.equal(normalizePath('./usr/bin/'), '/usr/bin');
  assert.equal(normalizePath('./'), '/');
});
