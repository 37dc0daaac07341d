// `berth image build` against the real Debian archive (host apt configuration or BERTH_MIRROR;
// packages come from the cache after the first run): the disk is a clean ext4 with init,
// dropbear, busybox, the SSH key and the web page, and the initramfs holds the virtio and ext4
// modules and an /init that mounts root=/dev/vda. Units for the pure helpers come first.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { PackageIndex } from './archive.js';
import { readCpio } from './cpio.js';
import { buildImage, DISK_MODULES, IMAGE_CMDLINE } from './imageBuild.js';
import {
  ACPI_MAP,
  ACPID_CONF,
  busyboxApplets,
  chownImageToRoot,
  dependencyClosure,
  e2fsTool,
  GUEST_READY_BANNER,
  INDEX_HTML_TEXT,
  makeExt4,
  powerKeyScript,
  rcK,
  rcS,
  rootInitScript,
  usrMerged,
} from './rootfs.js';

const stanza = (name: string, deps = '', extra = '') =>
  `Package: ${name}\nVersion: 1.0\nArchitecture: riscv64\nFilename: pool/${name}.deb\nSize: 1\nSHA256: ${'0'.repeat(64)}\n${deps ? `Depends: ${deps}\n` : ''}${extra}`;

test('dependencyClosure follows Depends and Pre-Depends once, first resolvable alternative', () => {
  const index = new PackageIndex().add(
    [
      stanza('app', 'liba (>= 0.5), libmissing | libb', 'Pre-Depends: libc\n'),
      stanza('liba', 'libc'),
      stanza('libb', 'libc'),
      stanza('libc', 'libgcc'),
      stanza('libgcc', 'libc'),
    ].join('\n'),
  );
  const names = dependencyClosure(index, ['app']).map((p) => p.package);
  assert.deepEqual(names.sort(), ['app', 'liba', 'libb', 'libc', 'libgcc']);
  assert.throws(
    () => dependencyClosure(new PackageIndex().add(stanza('x', 'nothere')), ['x']),
    /x 1\.0 needs nothere/,
  );
});

test('busyboxApplets reads the sorted applet table', () => {
  const bin = Buffer.concat([
    Buffer.from('\x7fELF junk\0'),
    Buffer.from('[\0[[\0ash\0cat\0init\0sh\0\0more'),
  ]);
  assert.deepEqual(busyboxApplets(bin), ['[', '[[', 'ash', 'cat', 'init', 'sh']);
  assert.throws(() => busyboxApplets(Buffer.from('no table')), /applet table/);
});

test('the power key maps to a handler, and rcK ends every process before going read-only', () => {
  // acpi.map: six fields, the last (the description) holding the action table's key.
  const [type, hexType, code, num, value, ...desc] = ACPI_MAP.split('\n')[0].split(/\s+/);
  assert.deepEqual(
    [type, parseInt(hexType, 16), code, Number(num), Number(value)],
    ['EV_KEY', 1, 'KEY_POWER', 116, 1],
  );
  const [key, action] = ACPID_CONF.split('\n')[0].split(/\s+/);
  assert.ok(desc.includes(key), `${key} in ${desc.join(' ')}`);
  assert.equal(action, 'PWRF/00000080');
  assert.match(powerKeyScript(), /^#!\/bin\/sh\n/);
  assert.match(powerKeyScript(), /^exec \/usr\/sbin\/poweroff$/m, 'poweroff through init, not -f');
  const k = rcK();
  const at = (re: RegExp) => k.search(re);
  assert.ok(at(/kill -TERM -1/) >= 0 && at(/kill -TERM -1/) < at(/kill -KILL -1/));
  assert.ok(at(/kill -KILL -1/) < at(/^sync$/m) && at(/^sync$/m) < at(/remount,ro \//));
  assert.match(rcS(), /acpid -l \/run\/acpid\.log\n[\s\S]*\/proc\/\$\(pidof acpid\)\/fd/);
});

test('usrMerged maps /bin, /sbin and /lib under /usr', () => {
  assert.equal(usrMerged('/bin/sh'), '/usr/bin/sh');
  assert.equal(
    usrMerged('/lib/ld-linux-riscv64-lp64d.so.1'),
    '/usr/lib/ld-linux-riscv64-lp64d.so.1',
  );
  assert.equal(usrMerged('/sbin'), '/usr/sbin');
  assert.equal(usrMerged('/usr/sbin/dropbear'), '/usr/sbin/dropbear');
  assert.equal(usrMerged('/library/x'), '/library/x');
});

test('the disk /init reads root= and falls back to a rescue shell', () => {
  const s = rootInitScript();
  assert.match(s, /root=\/dev\/vda/);
  assert.match(s, /root=\*\) root="\$\{arg#root=\}"/);
  assert.match(s, /exec switch_root \/newroot "\$init"/);
  assert.match(s, /rescue shell/);
});

function haveE2fs(): boolean {
  try {
    e2fsTool('mke2fs');
    e2fsTool('debugfs');
    e2fsTool('e2fsck');
    return true;
  } catch {
    return false;
  }
}

test(
  'chownImageToRoot makes every inode root:root when the staging files are not, also in a partition',
  { skip: haveE2fs() ? false : 'e2fsprogs missing' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-owner-'));
    try {
      const tree = join(dir, 'tree');
      mkdirSync(join(tree, 'a b'), { recursive: true });
      writeFileSync(join(tree, 'a b', 'f'), 'x');
      symlinkSync('a b/f', join(tree, 'l'));
      if (process.getuid?.() === 0) {
        for (const p of ['a b', 'a b/f']) chownSync(join(tree, p), 1234, 1234);
        lchownSync(join(tree, 'l'), 1234, 1234);
      }
      for (const offset of [0, 1 << 20]) {
        const img = join(dir, `x${offset}.img`);
        makeExt4(tree, img, { sizeBytes: 8 << 20, offsetBytes: offset });
        assert.equal(statSync(img).size, offset + (8 << 20), 'the file system ends the file');
        if (offset > 0) {
          const head = readFileSync(img).subarray(0, offset);
          assert.ok(
            head.every((b) => b === 0),
            'nothing before the partition',
          );
        }
        const fs = offset ? `${img}?offset=${offset}` : img;
        const ls = (path: string) =>
          spawnSync(e2fsTool('debugfs'), ['-R', `ls -l "${path}"`, fs], { encoding: 'utf8' })
            .stdout;
        assert.doesNotMatch(ls('/a b'), /100644 \(1\)\s+0\s+0\s/, 'staged owners are kept');
        chownImageToRoot(img, ['/', '/a b', '/a b/f', '/l'], offset);
        assert.match(ls('/a b'), /100644 \(1\)\s+0\s+0\s+1 /);
        for (const name of ['a b', 'l']) {
          assert.match(ls('/'), new RegExp(`\\(\\d\\)\\s+0\\s+0\\s.* ${name}\\n`));
        }
        const fsck = spawnSync(e2fsTool('e2fsck'), ['-fn', fs], { encoding: 'utf8' });
        assert.equal(fsck.status, 0, fsck.stdout);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBerthTestKeyBerthTestKeyBerthTestKey0 test@berth';

test(
  'berth image build: a clean ext4 root disk and its initramfs from Debian packages',
  { timeout: 900_000, skip: haveE2fs() ? false : 'e2fsprogs (mke2fs, debugfs, e2fsck) missing' },
  async () => {
    const out = mkdtempSync(join(tmpdir(), 'berth-image-'));
    try {
      const r = await buildImage({
        outDir: out,
        sizeBytes: 128 << 20,
        sshPublicKey: KEY,
        progress: false,
        log: () => {},
      });
      const img = r.rootfsPath;
      assert.equal(statSync(img).size, 128 << 20);
      assert.ok(statSync(img).blocks * 512 < 64 << 20, 'the image file is sparse');

      const fsck = spawnSync(e2fsTool('e2fsck'), ['-fn', img], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);

      const debugfs = (cmd: string) => {
        const d = spawnSync(e2fsTool('debugfs'), ['-R', cmd, img], { encoding: 'utf8' });
        assert.equal(d.status, 0, d.stderr);
        return d.stdout;
      };
      const root = debugfs('ls -l /');
      for (const name of [
        'etc',
        'usr',
        'root',
        'srv',
        'proc',
        'sys',
        'dev',
        'tmp',
        'bin',
        'sbin',
      ]) {
        assert.match(root, new RegExp(` ${name}\\n`), `/${name} in ${root}`);
      }
      // Owners are root:root (columns: inode, mode, uid, gid).
      for (const line of root.trim().split('\n')) {
        assert.match(line, /^\s*\d+\s+\d+ \(\d+\)\s+0\s+0\s/, line);
      }
      assert.match(debugfs('stat /usr/sbin/init'), /Fast link dest: "\.\.\/bin\/busybox"/);
      assert.match(debugfs('ls -l /usr/sbin'), /100755 \(1\)\s+0\s+0\s+\d+ .* dropbear\n/);
      assert.match(debugfs('ls -l /usr/bin'), /100755 \(1\)\s+0\s+0\s+\d+ .* busybox\n/);
      assert.match(debugfs('ls -l /usr/bin'), / dropbearkey\n/);
      assert.match(debugfs('ls -l /usr/lib'), / ld-linux-riscv64-lp64d\.so\.1\n/);
      assert.match(debugfs('ls -l /usr/lib/riscv64-linux-gnu'), / libc\.so\.6\n/);
      assert.equal(debugfs('cat /root/.ssh/authorized_keys'), `${KEY}\n`);
      assert.match(debugfs('stat /root/.ssh/authorized_keys'), /Mode:\s+0600/);
      assert.match(debugfs('cat /srv/www/index.html'), new RegExp(INDEX_HTML_TEXT));
      assert.match(debugfs('cat /etc/inittab'), /::sysinit:\/etc\/init\.d\/rcS/);
      const rcs = debugfs('cat /etc/init.d/rcS');
      assert.match(rcs, /dropbear -r \S+ -p 22/);
      assert.match(rcs, /httpd -p 80 -h \/srv\/www/);
      assert.match(rcs, /udhcpc .*-i eth0/);
      assert.match(debugfs('cat /etc/berth/console'), new RegExp(GUEST_READY_BANNER));
      // The power key: acpid (a busybox applet), its map and action, the handler, a clean rcK.
      assert.match(rcs, /^\s*acpid -l \/run\/acpid\.log$/m);
      assert.match(debugfs('stat /usr/sbin/acpid'), /Fast link dest: "\.\.\/bin\/busybox"/);
      assert.equal(debugfs('cat /etc/acpi.map'), ACPI_MAP);
      assert.equal(debugfs('cat /etc/acpid.conf'), ACPID_CONF);
      assert.match(debugfs('stat /etc/acpi/PWRF/00000080'), /Mode:\s+0755/);
      assert.match(debugfs('cat /etc/acpi/PWRF/00000080'), /^exec \/usr\/sbin\/poweroff$/m);
      assert.match(debugfs('cat /etc/init.d/rcK'), /remount,ro \//);
      assert.match(debugfs('cat /etc/shadow'), /^root:\*:/);

      // The initramfs: modules, their load list and an /init that mounts /dev/vda.
      const entries = readCpio(gunzipSync(readFileSync(r.initrdPath)));
      const byPath = new Map(entries.map((e) => [e.path, e]));
      const init = byPath.get('init')?.data?.toString('utf8') ?? '';
      assert.match(init, /root=\/dev\/vda/);
      assert.match(init, /switch_root/);
      const v = r.manifest.kernelVersion;
      const list = byPath.get('etc/berth/modules')?.data?.toString('utf8') ?? '';
      for (const m of [
        ...['virtio_mmio', 'virtio_blk', 'virtio_net', 'ext4', 'jbd2', 'mbcache'],
        ...['virtio_input', 'evdev'],
      ]) {
        const line = list.split('\n').find((l) => l.endsWith(`/${m}.ko`));
        assert.ok(line, `${m} in the load list:\n${list}`);
        assert.ok(byPath.get(`lib/modules/${v}/${line}`)?.data?.length, `${m}.ko in the archive`);
      }
      const order = list.split('\n');
      const at = (m: string) => order.findIndex((l) => l.endsWith(`/${m}.ko`));
      assert.ok(at('jbd2') < at('ext4') && at('virtio_mmio') < at('virtio_blk'), 'load order');
      assert.ok(byPath.has(`lib/modules/${v}/modules.dep`));

      const manifest = JSON.parse(readFileSync(r.manifestPath, 'utf8')) as typeof r.manifest;
      assert.equal(manifest.cmdline, IMAGE_CMDLINE);
      assert.ok(statSync(manifest.kernelPath).size > 8 << 20);
      assert.ok(statSync(manifest.firmwarePath).size > 0);
      assert.ok(manifest.packages.some((p) => p.name === 'dropbear-bin'));
      assert.ok(manifest.packages.some((p) => p.name === 'libc6'));
      for (const m of ['virtio_blk', 'ext4']) assert.ok(manifest.modules.includes(m));
      assert.ok(DISK_MODULES.includes('ext4'));

      // Where Debian's qemu-riscv64 is installed: dropbear runs with the image's own libraries.
      const q = spawnSync('sh', ['-c', 'command -v qemu-riscv64'], { encoding: 'utf8' });
      if (q.status === 0) {
        const tree = join(out, 'tree');
        mkdirSync(tree);
        spawnSync(e2fsTool('debugfs'), ['-R', `rdump /usr ${tree}`, img]);
        spawnSync('ln', ['-s', 'usr/lib', join(tree, 'lib')]);
        const run = spawnSync(
          q.stdout.trim(),
          ['-L', tree, join(tree, 'usr', 'sbin', 'dropbear'), '-V'],
          { encoding: 'utf8' },
        );
        assert.match(run.stdout + run.stderr, /Dropbear v\d+/);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
