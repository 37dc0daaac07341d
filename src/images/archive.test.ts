// Tests of the archive client: the Packages parser and dependency resolution on a fixture, the
// clearsigned-file reader, and a signed test archive served from a file: URL (signatures good,
// bad and from unknown keys; detached signatures; checksums; downloads into the cache).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { clearsignedBody, DebianArchive, PackageIndex } from './archive.js';
import { AssetCache } from './cache.js';
import { ImageError } from './errors.js';
import { FakeArchive, type FakePackage, sha256 } from './testSupport.js';

const PACKAGES = `Package: linux-image-riscv64
Source: linux
Version: 6.12.117-1
Architecture: riscv64
Provides: linux-image-generic, wireguard-modules (= 1.0.0)
Depends: linux-image-6.12.117+deb13-riscv64 (= 6.12.117-1)
Description: Linux for 64-bit RISC-V platforms (meta-package)
Filename: pool/main/l/linux/linux-image-riscv64_6.12.117-1_riscv64.deb
Size: 1444
SHA256: c1685361464fce280b85273c0914696c4167ab4d94a335c22401b52a1f7f9959

Package: linux-image-6.12.117+deb13-riscv64
Source: linux
Version: 6.12.117-1
Architecture: riscv64
Depends: kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Pre-Depends: linux-base (>= 4.12~)
Description: Linux 6.12 for 64-bit RISC-V platforms
 The Linux kernel 6.12 and modules for use on 64-bit RISC-V platforms.
Filename: pool/main/l/linux/linux-image-6.12.117+deb13-riscv64_6.12.117-1_riscv64.deb
Size: 112593968
SHA256: F5D9424B6F6A4518197202EFFC7E8EEAA90F8D73466C2DBA2470F6EA7FB4F55C

Package: linux-image-6.12.117+deb13-riscv64
Version: 6.12.110-1
Architecture: riscv64
Filename: pool/main/l/linux/old.deb
Size: 1
SHA256: 0000000000000000000000000000000000000000000000000000000000000000

Package: busybox-static
Source: busybox (1:1.37.0-6)
Version: 1:1.37.0-6+b9
Architecture: riscv64
Provides: busybox
Filename: pool/main/b/busybox/busybox-static_1.37.0-6+b9_riscv64.deb
Size: 941532
SHA256: 4add476d2b185c5b487c285b38d790f0881a7e4a8e2ddde835f917e770eb8633

Package: opensbi
Version: 1.6-1
Architecture: all
Filename: pool/main/o/opensbi/opensbi_1.6-1_all.deb
Size: 204072
SHA256: dc4a43bd21a0ca11771ed8b19ee6fa8476d1d0f4976bd0b27c0357c699d27e1e
`;

test('Packages: stanzas by name, newest version first, fields parsed', () => {
  const idx = new PackageIndex().add(PACKAGES);
  assert.equal(idx.size, 4);
  const k = idx.versions('linux-image-6.12.117+deb13-riscv64');
  assert.deepEqual(
    k.map((p) => p.version),
    ['6.12.117-1', '6.12.110-1'],
  );
  assert.equal(k[0].size, 112593968);
  assert.equal(k[0].sha256, 'f5d9424b6f6a4518197202effc7e8eeaa90f8d73466c2dba2470f6ea7fb4f55c');
  assert.equal(
    k[0].fields.Description.split('\n')[1],
    'The Linux kernel 6.12 and modules for use on 64-bit RISC-V platforms.',
  );
  assert.deepEqual(k[0].preDepends, [[{ name: 'linux-base', op: '>=', version: '4.12~' }]]);
  assert.equal(idx.get('busybox-static')?.version, '1:1.37.0-6+b9');
  assert.equal(idx.get('nothing'), undefined);
});

test('resolution: metapackage to versioned kernel, virtual packages through Provides', () => {
  const idx = new PackageIndex().add(PACKAGES);
  const { meta, target } = idx.followMeta('linux-image-riscv64', /^linux-image-\d/);
  assert.equal(meta.version, '6.12.117-1');
  assert.equal(target.package, 'linux-image-6.12.117+deb13-riscv64');
  assert.equal(target.version, '6.12.117-1', 'the exact version the metapackage asks for');
  assert.equal(idx.resolve('busybox').package, 'busybox-static');
  assert.equal(idx.resolve('linux-image-generic').package, 'linux-image-riscv64');
  assert.equal(
    idx.resolve({ name: 'linux-image-6.12.117+deb13-riscv64', op: '<<', version: '6.12.117' })
      .version,
    '6.12.110-1',
  );
  assert.throws(
    () => idx.resolve('linux-image-sparc'),
    (e: unknown) => e instanceof ImageError && e.code === 'NOT_FOUND',
  );
  assert.throws(() => idx.followMeta('opensbi', /^linux-image-\d/), ImageError);
});

test('clearsigned files: body with dash-escapes; anything outside the signed block is refused', () => {
  const signed =
    '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: x\n- -----not armor\nCodename: x\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n';
  assert.equal(clearsignedBody(signed), 'Suite: x\n-----not armor\nCodename: x\n');
  assert.throws(() => clearsignedBody('Suite: x\n'), ImageError);
  assert.throws(() => clearsignedBody(signed + 'Suite: evil\n'), ImageError);
  assert.throws(
    () => clearsignedBody(signed.replace('-----END PGP SIGNATURE-----\n', '')),
    ImageError,
  );
});

let fake: FakeArchive;
let cacheDir: string;
const logs: string[] = [];
const PKGS: FakePackage[] = [
  { name: 'alpha', version: '1.0-1', files: { '/usr/bin/alpha': { data: 'alpha!', mode: 0o755 } } },
  {
    name: 'beta',
    version: '2.0-1',
    arch: 'all',
    provides: 'virtual-beta',
    files: { '/usr/share/beta': { data: 'b'.repeat(10000) } },
  },
];

before(() => {
  fake = new FakeArchive();
  cacheDir = mkdtempSync(join(tmpdir(), 'berth-cache-'));
});
after(() => {
  fake.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

function client(
  extra: Partial<ConstructorParameters<typeof DebianArchive>[0]> = {},
): DebianArchive {
  return new DebianArchive({
    mirror: fake.mirror,
    suite: fake.suite,
    cache: new AssetCache(cacheDir),
    keyring: fake.keyring,
    progress: false,
    log: (l) => logs.push(l),
    ...extra,
  });
}

test('a signed archive: InRelease verified, index checked, packages resolved and downloaded', async () => {
  const debs = fake.publish({ packages: PKGS });
  const a = client();
  const rel = await a.release();
  assert.equal(rel.signature.verified, true);
  assert.equal(rel.fields.Codename, 'fake');
  assert.ok(rel.files.has('main/binary-riscv64/Packages.gz'));
  const idx = await a.packages();
  const beta = idx.resolve('virtual-beta');
  assert.equal(beta.package, 'beta');
  const path = await a.download(beta);
  assert.ok(readFileSync(path).equals(debs.get('beta')!));
  assert.equal(path, new AssetCache(cacheDir).blobPath(sha256(debs.get('beta')!)));
});

test('Release + Release.gpg (no InRelease) is verified too', async () => {
  fake.publish({ packages: PKGS, signing: 'detached' });
  const rel = await client().release();
  assert.equal(rel.signature.verified, true);
});

test('a tampered InRelease is refused', async () => {
  fake.publish({ packages: PKGS });
  const p = fake.path('dists/fake/InRelease');
  writeFileSync(p, readFileSync(p, 'utf8').replace('Origin: Berth test', 'Origin: Evil test'));
  await assert.rejects(
    client().release(),
    (e: unknown) =>
      e instanceof ImageError && e.code === 'SIGNATURE' && /BAD signature/.test(e.message),
  );
});

test('a signature by a key the keyring lacks is refused with advice', async () => {
  fake.publish({ packages: PKGS });
  await assert.rejects(
    client({ keyring: fake.otherKeyring }).release(),
    (e: unknown) =>
      e instanceof ImageError &&
      e.code === 'SIGNATURE' &&
      /does not hold/.test(e.message) &&
      /debian-archive-keyring/.test(e.message),
  );
  // With verification switched off, checksums alone are used.
  const rel = await client({ keyring: fake.otherKeyring, verify: 'skip' }).release();
  assert.equal(rel.signature.verified, false);
});

test('no keyring: one warning, then checksums only; require mode refuses', async () => {
  fake.publish({ packages: PKGS, signing: 'none' });
  logs.length = 0;
  const missing = join(cacheDir, 'no-such-keyring.gpg');
  const rel = await client({ keyring: missing }).release();
  assert.equal(rel.signature.verified, false);
  await client({ keyring: missing }).release();
  assert.equal(logs.filter((l) => /warning: not checking the archive signature/.test(l)).length, 1);
  await assert.rejects(client({ keyring: missing, verify: 'require' }).release(), ImageError);
});

test('a wrong suite and a missing suite give clear errors', async () => {
  fake.publish({ packages: PKGS });
  await assert.rejects(
    client({ suite: 'nosuch' }).release(),
    (e: unknown) => e instanceof ImageError && e.code === 'NOT_FOUND' && /--suite/.test(e.message),
  );
});

test('an index or package whose checksum does not match is refused', async () => {
  fake.publish({ packages: PKGS });
  // Corrupt Packages.gz after signing: its hash no longer matches the Release file.
  writeFileSync(fake.path('dists/fake/main/binary-riscv64/Packages.gz'), 'garbage');
  await assert.rejects(
    client({ cache: new AssetCache(join(cacheDir, 'c2')) }).packages(),
    (e: unknown) => e instanceof ImageError && e.code === 'CHECKSUM',
  );
  // A .deb that differs from its Packages entry.
  fake.publish({ packages: PKGS });
  const a = client({ cache: new AssetCache(join(cacheDir, 'c3')) });
  const alpha = (await a.packages()).resolve('alpha');
  writeFileSync(fake.path(alpha.filename), 'not the package');
  await assert.rejects(
    a.download(alpha),
    (e: unknown) => e instanceof ImageError && e.code === 'CHECKSUM' && /--mirror/.test(e.message),
  );
});

test('an unreachable mirror names the URL and the way out', async () => {
  const a = new DebianArchive({
    mirror: 'http://127.0.0.1:9/debian',
    suite: 'fake',
    cache: new AssetCache(cacheDir),
    progress: false,
    log: () => {},
  });
  await assert.rejects(
    a.release(),
    (e: unknown) =>
      e instanceof ImageError &&
      e.code === 'NETWORK' &&
      /127\.0\.0\.1:9\/debian\/dists\/fake\/InRelease/.test(e.message) &&
      /--mirror/.test(e.message),
  );
});
