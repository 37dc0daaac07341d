// Tests of the apt configuration reader: both source formats, the choice of the Debian archive,
// and the overrides.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  findDebianMirror,
  normalizeMirror,
  parseDeb822Sources,
  parseOneLineSources,
  pickDebianArchive,
  readAptSources,
} from './aptSources.js';
import { ImageError } from './errors.js';

const ONE_LINE = `# a comment
deb http://mirror.example/debian bookworm main contrib   # trailing comment
deb-src http://mirror.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://other.example/debian/ trixie main
deb [ trusted=yes ] file:/srv/local-repo ./
deb http://security.example/debian-security bookworm-security main
`;

const DEB822 = `# leading comment
Types: deb deb-src
URIs: http://mirror.example/debian
  http://mirror2.example/debian
Suites: bookworm bookworm-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: trixie
Components: main
Enabled: no

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
`;

test('one-line format: types, options, uri, suite, components, comments', () => {
  const s = parseOneLineSources(ONE_LINE, 'sources.list');
  assert.equal(s.length, 5);
  assert.deepEqual(s[0].types, ['deb']);
  assert.deepEqual(s[0].uris, ['http://mirror.example/debian']);
  assert.deepEqual(s[0].suites, ['bookworm']);
  assert.deepEqual(s[0].components, ['main', 'contrib']);
  assert.deepEqual(s[1].types, ['deb-src']);
  assert.equal(s[2].options.arch, 'amd64');
  assert.equal(s[2].options['signed-by'], '/usr/share/keyrings/debian-archive-keyring.gpg');
  assert.deepEqual(s[2].uris, ['https://other.example/debian/']);
  assert.equal(s[3].options.trusted, 'yes');
  assert.deepEqual(s[3].suites, ['./']);
  assert.deepEqual(s[3].components, []);
});

test('deb822 format: multi-value fields, continuation lines, Enabled: no, embedded keys', () => {
  const s = parseDeb822Sources(DEB822, 'x.sources');
  assert.equal(s.length, 2, 'the disabled stanza is skipped');
  assert.deepEqual(s[0].types, ['deb', 'deb-src']);
  assert.deepEqual(s[0].uris, ['http://mirror.example/debian', 'http://mirror2.example/debian']);
  assert.deepEqual(s[0].suites, ['bookworm', 'bookworm-updates']);
  assert.deepEqual(s[0].components, ['main', 'non-free-firmware']);
  assert.equal(s[0].options['signed-by'], '/usr/share/keyrings/debian-archive-keyring.gpg');
  assert.match(s[1].options['signed-by'], /BEGIN PGP PUBLIC KEY BLOCK/);
});

test('the Debian archive is the first deb source with main, skipping security and vendor archives', () => {
  const vendorFirst = [
    ...parseDeb822Sources(DEB822.split('\n\n')[2], 'vendor.sources'),
    ...parseOneLineSources(
      'deb http://security.example/debian-security trixie-security main\n' + ONE_LINE,
    ),
  ];
  assert.deepEqual(pickDebianArchive(vendorFirst), {
    uri: 'http://mirror.example/debian',
    from: 'sources.list',
  });
  assert.equal(pickDebianArchive(parseDeb822Sources(DEB822))?.uri, 'http://mirror.example/debian');
  // An unknown suite name still counts when the source is signed by the Debian keyring.
  const custom = parseOneLineSources(
    'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://m.example/debian/ mysuite main\n',
  );
  assert.equal(pickDebianArchive(custom)?.uri, 'http://m.example/debian');
  assert.equal(
    pickDebianArchive(parseOneLineSources('deb-src http://m.example/debian sid main\n')),
    undefined,
  );
});

test('readAptSources reads sources.list then sources.list.d in order, ignoring other files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apt-'));
  try {
    mkdirSync(join(dir, 'sources.list.d'));
    writeFileSync(join(dir, 'sources.list.d', 'b.sources'), DEB822);
    writeFileSync(join(dir, 'sources.list.d', 'a.list'), 'deb http://a.example/debian sid main\n');
    writeFileSync(join(dir, 'sources.list.d', 'c.sources.disabled'), DEB822);
    const s = readAptSources(dir);
    assert.deepEqual(
      s.map((x) => x.uris[0]),
      ['http://a.example/debian', 'http://mirror.example/debian', 'https://vendor.example/apt'],
    );
    assert.equal(findDebianMirror({ aptDir: dir, env: {} }).uri, 'http://a.example/debian');
    writeFileSync(join(dir, 'sources.list'), 'deb http://first.example/debian trixie main\n');
    assert.equal(findDebianMirror({ aptDir: dir, env: {} }).uri, 'http://first.example/debian');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--mirror wins over BERTH_MIRROR, which wins over apt; no source is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-apt-'));
  try {
    const env = { BERTH_MIRROR: 'http://env.example/debian/' };
    assert.deepEqual(findDebianMirror({ mirror: 'http://opt.example/debian', env, aptDir: dir }), {
      uri: 'http://opt.example/debian',
      from: 'option',
    });
    assert.deepEqual(findDebianMirror({ env, aptDir: dir }), {
      uri: 'http://env.example/debian',
      from: 'BERTH_MIRROR',
    });
    assert.throws(
      () => findDebianMirror({ env: {}, aptDir: dir }),
      (e: unknown) =>
        e instanceof ImageError && e.code === 'NO_MIRROR' && /--mirror/.test(e.message),
    );
    assert.throws(() => normalizeMirror('ftp.example/debian'), ImageError);
    assert.equal(normalizeMirror('file:///srv/mirror/'), 'file:///srv/mirror');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
