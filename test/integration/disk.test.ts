// Boots the Debian kernel with a raw disk image attached through `berth run
// --disk`: the guest writes a pattern to /dev/vda and reads it back, the host
// finds it in the image file; a second boot attaches the image read-only and
// the guest's write fails while reads still work. Two boots in all.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';

const BOOT_MS = 240_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;
const MIB = 1 << 20;
const WORD = 'BERTH-DISK-PATTERN';
/** Builds /tmp/p in the guest: WORD doubled 16 times, cut to 1 MiB (fast, unlike `yes`). */
const MAKE_PATTERN =
  `printf ${WORD} > /tmp/a; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; ` +
  `do cat /tmp/a /tmp/a > /tmp/b; mv /tmp/b /tmp/a; done; head -c ${MIB} /tmp/a > /tmp/p; rm /tmp/a`;

/** The guest's /tmp/p. */
function expectedPattern(): Buffer {
  return Buffer.from(WORD.repeat(Math.ceil(MIB / WORD.length))).subarray(0, MIB);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function bootToShell(args: string[]): Promise<ConsoleSession> {
  const s = ConsoleSession.berth(['--memory', '256M', ...args]);
  await s.expect('Berth initramfs ready', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'berth-disk-it-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const img = join(dir, 'disk.img');
const second = join(dir, 'second.img');

test('--disk with a missing or odd-sized image fails at once with a clear message', () => {
  const odd = join(dir, 'odd.img');
  writeFileSync(odd, new Uint8Array(1000));
  for (const [arg, msg] of [
    [join(dir, 'missing.img'), /cannot open disk image .*missing\.img: the file does not exist/],
    [odd, /odd\.img is 1000 bytes; a raw disk must be a non-zero multiple of 512 bytes/],
  ] as const) {
    const r = spawnSync(process.execPath, [ConsoleSession.cliPath, 'run', '--disk', arg], {
      input: '',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.toString(), msg);
  }
});

test('assets are fetched before the disk tests', { timeout: 900_000 }, async () => {
  const a = await ensureDefaultAssets({});
  assert.ok(a.kernelPath && a.firmwarePath && a.initrdPath);
});

test(
  'the guest writes a pattern to /dev/vda, reads it back, discards a range; the image file holds it',
  { timeout: BOOT_MS + 180_000 },
  async () => {
    writeFileSync(img, '');
    truncateSync(img, 16 * MIB);
    writeFileSync(second, '');
    truncateSync(second, MIB);
    const s = await bootToShell(['--disk', img, '--disk', second]);
    try {
      // The first --disk is vda (16 MiB = 32768 sectors), the second vdb, with their serials.
      assert.equal((await s.run('cat /sys/block/vda/size')).trim(), '32768');
      assert.equal((await s.run('cat /sys/block/vdb/size')).trim(), '2048');
      assert.equal((await s.run('cat /sys/block/vda/serial')).trim(), 'berth-disk0');
      assert.equal((await s.run('cat /sys/block/vda/ro')).trim(), '0');
      await s.run(MAKE_PATTERN, 120_000);
      const want = (await s.run('sha256sum < /tmp/p')).trim().split(/\s+/)[0];
      assert.equal(want, sha256(expectedPattern()));
      // The pattern at 1 MiB and at 4 MiB; the second copy is then discarded.
      for (const seek of [16, 64]) {
        const dd = await s.run(
          `dd if=/tmp/p of=/dev/vda bs=65536 seek=${seek} conv=fsync 2>&1; echo rc=$?`,
          120_000,
        );
        assert.match(dd, /rc=0/);
      }
      assert.match(await s.run(`blkdiscard -o ${4 * MIB} -l ${MIB} /dev/vda; echo rc=$?`), /rc=0/);
      await s.run('sync; echo 3 > /proc/sys/vm/drop_caches');
      const got = await s.run('dd if=/dev/vda bs=65536 skip=16 count=16 2>/dev/null | sha256sum');
      assert.equal(got.trim().split(/\s+/)[0], want);
      const gone = await s.run('dd if=/dev/vda bs=65536 skip=64 count=16 2>/dev/null | sha256sum');
      assert.equal(
        gone.trim().split(/\s+/)[0],
        sha256(new Uint8Array(MIB)),
        'discarded range reads as zeros',
      );
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s.kill();
    }
    const file = readFileSync(img);
    assert.equal(file.length, 16 * MIB);
    assert.ok(
      file.subarray(MIB, 2 * MIB).equals(expectedPattern()),
      'pattern at 1 MiB in the image',
    );
    assert.ok(
      file.subarray(0, MIB).every((b) => b === 0),
      'nothing else written',
    );
    assert.ok(
      file.subarray(2 * MIB).every((b) => b === 0),
      'nothing else written',
    );
  },
);

test(
  'with --disk IMG,ro the guest sees a read-only vda: writes fail, reads work, the file is unchanged',
  { timeout: BOOT_MS + 180_000 },
  async () => {
    const before = sha256(readFileSync(img));
    const s = await bootToShell(['--disk', `${img},ro`]);
    try {
      assert.equal((await s.run('cat /sys/block/vda/ro')).trim(), '1');
      const dd = await s.run(
        'dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>&1; echo rc=$?',
      );
      assert.match(dd, /rc=[1-9]/);
      const got = await s.run('dd if=/dev/vda bs=65536 skip=16 count=16 2>/dev/null | sha256sum');
      assert.equal(got.trim().split(/\s+/)[0], sha256(expectedPattern()));
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s.kill();
    }
    assert.equal(sha256(readFileSync(img)), before);
  },
);
