// A guest from `berth image build`, booted by naming the image (`berth run --image DIR`) with a
// control socket: it serves its web page through a forwarded port, its power button reaches
// acpid, and a `shutdown` request on the control socket powers it off cleanly: `berth run`
// exits 0 by itself, a file written (not synced) just before is on the disk image, and the
// ext4 file system is clean (debugfs and e2fsck -n, unmounted). Nothing is left behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_CMDLINE, buildImage } from '../../src/images/imageBuild.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';
import { GUEST_READY_BANNER, INDEX_HTML_TEXT, e2fsTool } from '../../src/images/rootfs.js';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { ConsoleSession } from './session.js';
import { freePort } from '../support/wait.js';

const BOOT_MS = 600_000;
/** From the press to the syscon's poweroff: rcK waits 1 s, init 1-2 s more. */
const SHUTDOWN_MS = 120_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;

test(
  'berth run --image DIR serves its page; shutdown on the control socket powers it off cleanly',
  { timeout: BOOT_MS + 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-image-it-'));
    let s: ConsoleSession | null = null;
    try {
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        progress: false,
        log: () => {},
      });
      const http = await freePort();
      const sock = join(dir, 'control.sock');
      s = ConsoleSession.berth([
        ...['--image', dir, '--append', `${IMAGE_CMDLINE} ${PLAIN_CONSOLE_ARG}`],
        ...['--net', 'user', '-p', `${http}:80`, '--control', sock],
      ]);
      await s.expect(GUEST_READY_BANNER, BOOT_MS);
      await s.expect(PROMPT, 60_000);

      const page = await fetch(`http://127.0.0.1:${http}/`, {
        signal: AbortSignal.timeout(30_000),
      });
      assert.ok((await page.text()).includes(INDEX_HTML_TEXT), 'the image serves its page');

      const seen = await s.run(
        'cat /proc/bus/input/devices; ls /dev/input; pidof acpid >/dev/null && echo acpid-up',
      );
      assert.match(seen, /N: Name="Berth power button"/, seen);
      assert.match(seen, /^acpid-up$/m, seen);
      // Written, not synced: the clean shutdown has to get it to the disk.
      const word = `pressed-${Date.now()}`;
      await s.run(`echo ${word} > /root/marker`);

      const status = await controlRequest<{ state: string }>(sock, { cmd: 'status' });
      assert.equal(status.state, 'running');
      assert.deepEqual(await controlRequest(sock, { cmd: 'shutdown' }), { pressed: true });
      const code = await Promise.race([
        s.exited,
        new Promise((res) => setTimeout(() => res('timeout'), SHUTDOWN_MS)),
      ]);
      assert.equal(
        code,
        0,
        `berth run ends by itself, status 0; output:\n${s.output.slice(-3000)}`,
      );
      assert.match(s.output, /berth: power key pressed, powering off/);
      assert.match(s.output, /berth: root file system synced and read-only/);
      assert.equal(existsSync(sock), false, 'the control socket is gone');
      assert.equal(existsSync(join(dir, '.rootfs.img.berth-lock')), false, 'the disk is unlocked');

      const debugfs = e2fsTool('debugfs');
      const cat = spawnSync(debugfs, ['-R', 'cat /root/marker', r.rootfsPath], {
        encoding: 'utf8',
      });
      assert.equal(cat.stdout, `${word}\n`, cat.stderr);
      const stats = spawnSync(debugfs, ['-R', 'stats', r.rootfsPath], { encoding: 'utf8' });
      assert.match(stats.stdout, /^Filesystem state:\s+clean$/m, stats.stdout.slice(0, 2000));
      const fsck = spawnSync(e2fsTool('e2fsck'), ['-fn', r.rootfsPath], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
    } finally {
      s?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('berth run --image refuses a directory that is not a built image, naming what is wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-image-bad-'));
  try {
    const r = spawnSync(process.execPath, [ConsoleSession.cliPath, 'run', '--image', dir], {
      encoding: 'utf8',
      input: '',
    });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /is not a built image: cannot read .*image\.json \(ENOENT\); make one with: berth image build --out/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
