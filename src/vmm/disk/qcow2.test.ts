// qcow2 backend against QEMU's own tools (qemu-img, qemu-io from Debian's
// qemu-utils): images qemu writes are read by us, images we write are read
// and checked by qemu, and hostile images give QcowError.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Qcow2Image, QcowError } from './qcow2.js';
import { createQcow2 } from './qcow2Create.js';

const hasQemu = spawnSync('qemu-img', ['--version']).status === 0;
const skip = hasQemu ? false : 'qemu-img not installed (run scripts/test-deps.sh)';

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-qcow2-'));
  made.push(d);
  return d;
}

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

function qemuIo(file: string, ...cmds: string[]): string {
  const args = ['-f', 'qcow2'];
  for (const c of cmds) args.push('-c', c);
  const out = execFileSync('qemu-io', [...args, file], { encoding: 'utf8' });
  assert.doesNotMatch(out, /Pattern verification failed|error|failed/i, out);
  return out;
}

function check(file: string): void {
  const r = spawnSync('qemu-img', ['check', '-f', 'qcow2', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `qemu-img check failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found/);
}

function compareWithRaw(image: string, raw: string): void {
  const r = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', image, raw], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `qemu-img compare: ${r.stdout}${r.stderr}`);
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A raw mirror kept next to an image: every write goes to both. */
class Mirror {
  readonly data: Uint8Array;
  constructor(size: number) {
    this.data = new Uint8Array(size);
  }
  write(img: Qcow2Image, offset: number, d: Uint8Array): void {
    img.write(offset, d);
    this.data.set(d, offset);
  }
  zero(img: Qcow2Image, offset: number, length: number, discard = false): void {
    if (discard) img.discard(offset, length);
    else img.writeZeroes(offset, length);
    this.data.fill(0, offset, offset + length);
  }
  save(file: string): void {
    fs.writeFileSync(file, this.data);
  }
}

function readAll(img: Qcow2Image): Uint8Array {
  const out = new Uint8Array(img.size);
  img.read(0, out);
  return out;
}

/** A mixed set of writes: unaligned, cross-cluster, cross-L2, rewrites. */
function exercise(img: Qcow2Image, m: Mirror): void {
  const cs = img.clusterSize;
  m.write(img, 0, pattern(4096, 1));
  m.write(img, 1000, pattern(3000, 2)); // rewrite inside an allocated cluster
  m.write(img, cs - 512, pattern(cs + 1024, 3)); // spans three clusters
  m.write(img, 5 * cs + 17, pattern(33, 4)); // partial cluster, unaligned
  const l2span = cs * (cs / 8);
  if (l2span + 2 * cs <= img.size) m.write(img, l2span - cs, pattern(3 * cs, 5)); // across L2 tables
  m.write(img, img.size - 512, pattern(512, 6)); // last sector
}

test('reads a v3 image written by qemu-io', { skip }, () => {
  const dir = tmpdir();
  const f = path.join(dir, 'a.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', f, '8M');
  qemuIo(f, 'write -P 0xab 0 64k', 'write -P 0xcd 1M 4k', 'write -P 0x11 4000k 200k');
  const img = Qcow2Image.open(f, { readOnly: true });
  assert.equal(img.size, 8 * 1024 * 1024);
  assert.equal(img.version, 3);
  const all = readAll(img);
  const expect = new Uint8Array(img.size);
  expect.fill(0xab, 0, 65536);
  expect.fill(0xcd, 1 << 20, (1 << 20) + 4096);
  expect.fill(0x11, 4000 * 1024, 4200 * 1024);
  assert.deepEqual(all, expect);
  assert.throws(() => img.write(0, new Uint8Array(512)), QcowError);
  assert.throws(() => img.read(img.size - 512, new Uint8Array(1024)), QcowError);
  img.close();
});

for (const compat of ['1.1', '0.10']) {
  test(
    `our writes to a qemu-made image (compat=${compat}) read back by qemu and check clean`,
    { skip },
    () => {
      const dir = tmpdir();
      const f = path.join(dir, 'a.qcow2');
      qemuImg('create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, f, '64M');
      qemuIo(f, 'write -P 0x5a 2M 128k');
      const img = Qcow2Image.open(f);
      assert.equal(img.version, compat === '1.1' ? 3 : 2);
      const m = new Mirror(img.size);
      m.data.fill(0x5a, 2 << 20, (2 << 20) + 128 * 1024);
      exercise(img, m);
      m.write(img, (2 << 20) + 4096, pattern(100, 7)); // inside qemu's data
      img.flush();
      assert.deepEqual(readAll(img), m.data);
      img.close();
      qemuIo(f, 'read -P 0x5a 2M 4k', 'read -P 0x5a 2056k 120k');
      check(f);
      const raw = path.join(dir, 'expect.raw');
      m.save(raw);
      compareWithRaw(f, raw);
      const conv = path.join(dir, 'conv.raw');
      qemuImg('convert', '-f', 'qcow2', '-O', 'raw', f, conv);
      assert.deepEqual(new Uint8Array(fs.readFileSync(conv)), m.data);
    },
  );
}

test('images we create: v3 and v2, several cluster sizes, qemu reads them', { skip }, () => {
  const dir = tmpdir();
  for (const [version, clusterBits] of [
    [3, 16],
    [2, 16],
    [3, 12],
    [3, 21],
  ] as const) {
    const f = path.join(dir, `c${version}-${clusterBits}.qcow2`);
    createQcow2(f, 48 * 1024 * 1024, { version, clusterBits });
    check(f);
    const info = JSON.parse(qemuImg('info', '--output=json', f));
    assert.equal(info['virtual-size'], 48 * 1024 * 1024);
    assert.equal(info['cluster-size'], 2 ** clusterBits);
    assert.equal(info['format-specific'].data.compat, version === 3 ? '1.1' : '0.10');
    const img = Qcow2Image.open(f);
    const m = new Mirror(img.size);
    exercise(img, m);
    img.close();
    check(f);
    const raw = path.join(dir, 'expect.raw');
    m.save(raw);
    compareWithRaw(f, raw);
    qemuIo(f, 'write -P 0x77 3M 64k');
    const again = Qcow2Image.open(f, { readOnly: true });
    m.data.fill(0x77, 3 << 20, (3 << 20) + 65536);
    assert.deepEqual(readAll(again), m.data);
    again.close();
  }
  assert.throws(() => createQcow2(path.join(dir, 'c3-16.qcow2'), 1 << 20), QcowError);
  assert.throws(() => createQcow2(path.join(dir, 'odd.qcow2'), 1000), QcowError);
});

test('refcount table growth with small clusters', { skip }, () => {
  const dir = tmpdir();
  const f = path.join(dir, 'small.qcow2');
  createQcow2(f, 24 * 1024 * 1024, { clusterBits: 9 });
  const img = Qcow2Image.open(f);
  const m = new Mirror(img.size);
  // 512-byte clusters: one refcount block covers 128 KiB, one table cluster 8 MiB.
  for (let off = 0; off < 20 * 1024 * 1024; off += 256 * 1024)
    m.write(img, off, pattern(200 * 1024, off));
  img.close();
  const hdr = new DataView(fs.readFileSync(f).buffer);
  assert.notEqual(Number(hdr.getBigUint64(48)), 512, 'the refcount table moved');
  assert.ok(hdr.getUint32(56) > 1, 'the refcount table grew');
  check(f);
  const raw = path.join(dir, 'expect.raw');
  m.save(raw);
  compareWithRaw(f, raw);
});

test('refcount widths 1 and 64 bits', { skip }, () => {
  const dir = tmpdir();
  for (const bits of ['1', '64']) {
    const f = path.join(dir, `r${bits}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `refcount_bits=${bits}`, f, '32M');
    const img = Qcow2Image.open(f);
    const m = new Mirror(img.size);
    exercise(img, m);
    img.close();
    check(f);
    const raw = path.join(dir, 'expect.raw');
    m.save(raw);
    compareWithRaw(f, raw);
  }
});

test('backing file clone: reads fall through, writes stay in the overlay', { skip }, () => {
  const dir = tmpdir();
  const base = path.join(dir, 'base.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', base, '16M');
  qemuIo(base, 'write -P 0xab 0 1M', 'write -P 0xcd 8M 64k');
  const baseCopy = path.join(dir, 'base.raw');
  qemuImg('convert', '-f', 'qcow2', '-O', 'raw', base, baseCopy);
  const baseBytes = new Uint8Array(fs.readFileSync(baseCopy));

  fs.mkdirSync(path.join(dir, 'vm'));
  const overlay = path.join(dir, 'vm', 'disk.qcow2');
  createQcow2(overlay, undefined, { backingFile: '../base.qcow2' });
  const info = JSON.parse(qemuImg('info', '--output=json', overlay));
  assert.equal(info['backing-filename'], '../base.qcow2');
  assert.equal(info['backing-filename-format'], 'qcow2');
  assert.equal(info['virtual-size'], 16 * 1024 * 1024);

  const img = Qcow2Image.open(overlay);
  assert.equal(img.backingFile, '../base.qcow2');
  assert.deepEqual(readAll(img), baseBytes);
  const m = new Mirror(img.size);
  m.data.set(baseBytes);
  m.write(img, 4096, pattern(100, 9)); // partial cluster: copy-on-write from base
  m.write(img, 8 * 1024 * 1024 + 65536 - 10, pattern(20, 10));
  m.zero(img, 128 * 1024, 64 * 1024); // whole cluster over base data: zero cluster
  m.zero(img, 300 * 1024, 1000, true); // partial: real zeros
  assert.deepEqual(readAll(img), m.data);
  img.close();
  check(overlay);
  check(base);
  compareWithRaw(base, baseCopy); // the base is unchanged
  const raw = path.join(dir, 'expect.raw');
  m.save(raw);
  compareWithRaw(overlay, raw);

  // A raw backing file, and a v2 overlay (no zero flag: zeros are written).
  const ov2 = path.join(dir, 'raw-overlay.qcow2');
  createQcow2(ov2, undefined, { backingFile: baseCopy, version: 2 });
  const img2 = Qcow2Image.open(ov2);
  const m2 = new Mirror(img2.size);
  m2.data.set(baseBytes);
  m2.zero(img2, 0, 65536);
  m2.write(img2, 70000, pattern(5000, 11));
  img2.close();
  check(ov2);
  m2.save(raw);
  compareWithRaw(ov2, raw);
  compareWithRaw(base, baseCopy);

  // A missing backing file is a clear error.
  fs.renameSync(base, base + '.moved');
  assert.throws(
    () => Qcow2Image.open(overlay),
    (e: unknown) => e instanceof QcowError && /does not exist/.test(e.message),
  );
});

test('compressed images: readable, and writes rewrite clusters', { skip }, () => {
  const dir = tmpdir();
  const src = path.join(dir, 'src.raw');
  const data = new Uint8Array(4 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 65536)
    data.set(
      pattern(30000, i).map((b) => b & 7),
      i,
    ); // compressible
  fs.writeFileSync(src, data);
  const f = path.join(dir, 'c.qcow2');
  qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', src, f);
  assert.ok(fs.statSync(f).size < data.length / 2, 'qemu compressed the clusters');
  const img = Qcow2Image.open(f);
  assert.deepEqual(readAll(img), data);
  const m = new Mirror(img.size);
  m.data.set(data);
  m.write(img, 65536 + 100, pattern(1000, 12));
  m.write(img, 3 * 65536, pattern(65536, 13));
  m.zero(img, 5 * 65536, 65536);
  assert.deepEqual(readAll(img), m.data);
  img.close();
  check(f);
  m.save(src);
  compareWithRaw(f, src);
});

test('v3 zero clusters and discard', { skip }, () => {
  const dir = tmpdir();
  const f = path.join(dir, 'z.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', f, '8M');
  qemuIo(f, 'write -P 0x33 0 1M', 'write -z 64k 128k', 'write -z 2M 64k');
  const img = Qcow2Image.open(f);
  const m = new Mirror(img.size);
  m.data.fill(0x33, 0, 1 << 20);
  m.data.fill(0, 65536, 3 * 65536);
  assert.deepEqual(readAll(img), m.data);
  m.write(img, 65536 + 10, pattern(10, 14)); // into a zero cluster
  m.zero(img, 256 * 1024, 256 * 1024, true);
  m.zero(img, 600 * 1024, 100 * 1024);
  m.write(img, 256 * 1024, pattern(64, 15));
  assert.deepEqual(readAll(img), m.data);
  img.close();
  check(f);
  const raw = path.join(dir, 'expect.raw');
  m.save(raw);
  compareWithRaw(f, raw);
});

test('internal snapshots stay intact when we write', { skip }, () => {
  const dir = tmpdir();
  const f = path.join(dir, 's.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', f, '8M');
  qemuIo(f, 'write -P 0x44 0 512k');
  qemuImg('snapshot', '-c', 'before', f);
  const img = Qcow2Image.open(f);
  const m = new Mirror(img.size);
  m.data.fill(0x44, 0, 512 * 1024);
  m.write(img, 1000, pattern(70000, 16));
  m.zero(img, 256 * 1024, 64 * 1024);
  img.close();
  check(f);
  const raw = path.join(dir, 'expect.raw');
  m.save(raw);
  compareWithRaw(f, raw);
  const snap = path.join(dir, 'snap.raw');
  qemuImg('convert', '-f', 'qcow2', '-O', 'raw', '-l', 'snapshot.name=before', f, snap);
  const want = new Uint8Array(8 * 1024 * 1024);
  want.fill(0x44, 0, 512 * 1024);
  assert.deepEqual(new Uint8Array(fs.readFileSync(snap)), want);
});

function patch(file: string, at: number, bytes: number[]): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, at);
  fs.closeSync(fd);
}

function be32(v: number): number[] {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

function expectQcowError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof QcowError, `expected QcowError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

test('hostile and unsupported images give QcowError', { skip }, () => {
  const dir = tmpdir();
  const good = path.join(dir, 'good.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', good, '8M');
  qemuIo(good, 'write -P 0x66 0 64k');
  const fresh = (name: string): string => {
    const f = path.join(dir, name);
    fs.copyFileSync(good, f);
    return f;
  };

  const notQcow = path.join(dir, 'plain.raw');
  fs.writeFileSync(notQcow, new Uint8Array(4096));
  expectQcowError(() => Qcow2Image.open(notQcow), /not a qcow2 image/);
  expectQcowError(() => Qcow2Image.open(path.join(dir, 'nothing.qcow2')), /cannot open/);

  const trunc = fresh('trunc.qcow2');
  fs.truncateSync(trunc, 50);
  expectQcowError(() => Qcow2Image.open(trunc), /truncated/);
  const trunc2 = fresh('trunc2.qcow2');
  fs.truncateSync(trunc2, 65536 + 100);
  expectQcowError(() => Qcow2Image.open(trunc2), /past the end/);

  const v4 = fresh('v4.qcow2');
  patch(v4, 4, be32(4));
  expectQcowError(() => Qcow2Image.open(v4), /version 4/);

  const enc = fresh('enc.qcow2');
  patch(enc, 32, be32(1));
  expectQcowError(() => Qcow2Image.open(enc), /encrypted/);

  const hugeL1 = fresh('hugel1.qcow2');
  patch(hugeL1, 36, be32(0x7fffffff));
  expectQcowError(() => Qcow2Image.open(hugeL1), /L1 table is too large/);

  const l1Past = fresh('l1past.qcow2');
  patch(l1Past, 40, [0, 0, 0, 1, 0, 0, 0, 0]);
  expectQcowError(() => Qcow2Image.open(l1Past), /past the end/);

  const rtPast = fresh('rtpast.qcow2');
  patch(rtPast, 48, [0, 0, 0, 0, 0x10, 0, 0, 0]);
  expectQcowError(() => Qcow2Image.open(rtPast), /refcount table lies past the end/);

  const misaligned = fresh('misaligned.qcow2');
  patch(misaligned, 40, [0, 0, 0, 0, 0, 3, 0, 8]);
  expectQcowError(() => Qcow2Image.open(misaligned), /not cluster aligned/);

  const unknownFeature = fresh('feature.qcow2');
  patch(unknownFeature, 72 + 7 - 2, [0x80, 0, 0]); // incompatible bit 23
  expectQcowError(() => Qcow2Image.open(unknownFeature), /incompatible features.*bit 23/);

  const dirty = fresh('dirty.qcow2');
  patch(dirty, 79, [1]);
  expectQcowError(() => Qcow2Image.open(dirty), /dirty/);
  Qcow2Image.open(dirty, { readOnly: true }).close();

  const extL2 = path.join(dir, 'extl2.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', extL2, '8M');
  expectQcowError(() => Qcow2Image.open(extL2), /extended L2/);

  const zstd = path.join(dir, 'zstd.qcow2');
  if (
    spawnSync('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-o',
      'compression_type=zstd',
      zstd,
      '8M',
    ]).status === 0
  ) {
    expectQcowError(() => Qcow2Image.open(zstd), /zstd/);
  }

  // An L1 entry pointing past the end of the file: the error comes on access.
  const badL2 = fresh('badl2.qcow2');
  const l1Offset = Number(new DataView(fs.readFileSync(badL2).buffer).getBigUint64(40));
  patch(badL2, l1Offset, [0x80, 0, 0, 0, 0x40, 0, 0, 0]);
  const img = Qcow2Image.open(badL2);
  expectQcowError(() => img.read(0, new Uint8Array(512)), /corrupt/);
  expectQcowError(() => img.write(0, new Uint8Array(512)), /corrupt/);
  img.close();
});

test('random corruption never escapes as anything but QcowError', { skip }, () => {
  const dir = tmpdir();
  const good = path.join(dir, 'good.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', good, '4M');
  qemuIo(good, 'write -P 0x66 0 64k', 'write -z 1M 8k', 'write -P 0x12 3M 4k');
  const bytes = new Uint8Array(fs.readFileSync(good));
  const f = path.join(dir, 'fuzz.qcow2');
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let opened = 0;
  let refused = 0;
  for (let iter = 0; iter < 300; iter++) {
    const b = bytes.slice();
    for (let k = 0; k < 1 + rnd(8); k++) {
      const at = rnd(4) === 0 ? rnd(112) : rnd(b.length);
      b[at] = rnd(256);
    }
    fs.writeFileSync(f, b);
    try {
      const img = Qcow2Image.open(f);
      try {
        img.read(0, new Uint8Array(128 * 1024));
        img.read(3 << 20, new Uint8Array(8192));
        img.write(4096, new Uint8Array(100).fill(1));
        img.write(2 << 20, new Uint8Array(5000).fill(2));
        img.writeZeroes(1 << 20, 8192);
        opened++;
      } finally {
        img.close();
      }
    } catch (e) {
      assert.ok(e instanceof QcowError, `iteration ${iter}: ${String(e)}`);
      refused++;
    }
  }
  assert.ok(opened > 0 && refused > 0, `opened ${opened}, refused ${refused}`);
});
