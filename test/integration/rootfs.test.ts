// Boots the disk of `berth image build` on Berth: the initramfs mounts /dev/vda (ext4) and
// switch_roots into it, busybox init starts dropbear and httpd and prints the ready line; a file
// written and synced survives `reboot -f` and a kill of the VMM process; then the guest powers
// off. Three boots in all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
import { buildImage } from '../../src/images/imageBuild.js';
import { GUEST_READY_BANNER, INDEX_HTML_TEXT, e2fsTool } from '../../src/images/rootfs.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';

const BOOT_MS = 600_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;

function haveMke2fs(): boolean {
  try {
    e2fsTool('mke2fs');
    return true;
  } catch {
    return false;
  }
}

test(
  'a built image boots from /dev/vda, serves, and keeps a synced file across reboot -f',
  { timeout: 3 * BOOT_MS + 300_000, skip: haveMke2fs() ? false : 'mke2fs (e2fsprogs) missing' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-rootfs-it-'));
    let s: ConsoleSession | undefined;
    try {
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        progress: false,
        log: () => {},
      });
      const m = r.manifest;
      const args = [
        ...['--memory', '256M', '--kernel', m.kernelPath, '--firmware', m.firmwarePath],
        ...['--initrd', r.initrdPath, '--append', `${m.cmdline} ${PLAIN_CONSOLE_ARG}`],
        ...['--disk', r.rootfsPath],
      ];
      s = ConsoleSession.berth(args);
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);

      const mounts = await s.run('cat /proc/mounts');
      assert.match(mounts, /^\/dev\/vda \/ ext4 rw[, ]/m, mounts);
      const services = await s.run(
        'pidof dropbear >/dev/null && pidof httpd >/dev/null && echo up',
      );
      assert.match(services, /^up$/m, services);
      const page = await s.run('wget -q -O - http://127.0.0.1/');
      assert.match(page, new RegExp(INDEX_HTML_TEXT));

      const word = `persisted-${Date.now()}`;
      await s.run(`echo ${word} > /root/persist; sync`);
      s.send('reboot -f\n');
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);
      const back = await s.run('cat /root/persist; grep " / " /proc/mounts');
      assert.match(back, new RegExp(`^${word}$`, 'm'), back);
      assert.match(back, /^\/dev\/vda \/ ext4 /m);

      // The VMM process killed outright: what the guest synced is in the image file.
      const word2 = `survives-kill-${Date.now()}`;
      await s.run(`echo ${word2} > /root/persist2; sync`);
      s.kill();
      await s.exited;
      s = ConsoleSession.berth(args);
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);
      assert.match(await s.run('cat /root/persist2'), new RegExp(`^${word2}$`, 'm'));

      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
