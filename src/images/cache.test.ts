// Tests of the content-addressed cache: location, atomic writes, checked reads, and recovery
// from corrupted entries (a damaged cached .deb is fetched again).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { DebianArchive } from './archive.js';
import { AssetCache, defaultCacheDir, sha256Hex } from './cache.js';
import { FakeArchive } from './testSupport.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-cache-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the cache folder follows BERTH_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
  assert.equal(defaultCacheDir({ BERTH_CACHE_DIR: '/x/y', XDG_CACHE_HOME: '/c' }), '/x/y');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/berth');
  assert.match(defaultCacheDir({ XDG_CACHE_HOME: 'relative/ignored' }), /\.cache\/berth$/);
  assert.match(defaultCacheDir({}), /\.cache\/berth$/);
});

test('put, get and read check the content against its name', async () => {
  const c = new AssetCache(join(dir, 'a'));
  const data = Buffer.from('hello cache');
  const { sha256, path } = await c.put(data);
  assert.equal(sha256, sha256Hex(data));
  assert.equal(await c.get(sha256), path);
  assert.equal(await c.get(sha256, data.length + 1), undefined, 'a wrong size counts as corrupt');
  assert.equal(existsSync(path), false, 'and the entry is removed');
  await c.put(data);
  writeFileSync(path, 'hellO cache');
  assert.equal(await c.read(sha256), undefined);
  assert.equal(existsSync(path), false);
  assert.equal(await c.get('0'.repeat(64)), undefined);
  // No temporary files are left behind.
  await c.put(data);
  assert.deepEqual(
    readdirSync(dirname(path)).filter((n) => n.includes('.tmp-')),
    [],
  );
});

test('a writer publishes only what matches the expected hash and size', async () => {
  const c = new AssetCache(join(dir, 'w'));
  const data = Buffer.from('streamed content');
  const sha = sha256Hex(data);
  const w = await c.writer(sha);
  await w.write(data.subarray(0, 5));
  await w.write(data.subarray(5));
  assert.equal((await w.commit(data.length)).ok, true);
  assert.equal(readFileSync(c.blobPath(sha), 'utf8'), 'streamed content');
  const bad = await c.writer('1'.repeat(64));
  await bad.write(data);
  assert.equal((await bad.commit()).ok, false);
  assert.equal(existsSync(c.blobPath('1'.repeat(64))), false);
  assert.deepEqual(
    readdirSync(dirname(c.blobPath('1'.repeat(64)))).filter((n) => n.includes('.tmp-')),
    [],
  );
});

test('records are JSON written atomically; bad keys are refused', async () => {
  const c = new AssetCache(join(dir, 'r'));
  assert.equal(await c.readRecord('nothing'), undefined);
  await c.writeRecord('assets-trixie-riscv64', { a: 1 });
  assert.deepEqual(await c.readRecord('assets-trixie-riscv64'), { a: 1 });
  await assert.rejects(c.writeRecord('../escape', {}), TypeError);
});

test('a corrupted cached .deb is downloaded again', async () => {
  const fake = new FakeArchive();
  try {
    const debs = fake.publish({
      packages: [{ name: 'pkg', version: '1', files: { '/x': { data: 'x'.repeat(5000) } } }],
    });
    const cache = new AssetCache(join(dir, 'd'));
    const archive = () =>
      new DebianArchive({
        mirror: fake.mirror,
        suite: fake.suite,
        cache,
        keyring: fake.keyring,
        progress: false,
        log: () => {},
      });
    const pkg = (await archive().packages()).resolve('pkg');
    const path = await archive().download(pkg);
    assert.ok(readFileSync(path).equals(debs.get('pkg')!));
    // Flip one byte in the cached file: the next download notices and fetches it again.
    const bytes = readFileSync(path);
    bytes[100] ^= 0xff;
    writeFileSync(path, bytes);
    const again = await archive().download(pkg);
    assert.equal(again, path);
    assert.ok(readFileSync(again).equals(debs.get('pkg')!));
    // A truncated file too.
    writeFileSync(path, bytes.subarray(0, 10));
    assert.ok(readFileSync(await archive().download(pkg)).equals(debs.get('pkg')!));
  } finally {
    fake.close();
  }
});
