// A guest from `berth image build`, run by the daemon, stopped gracefully with `berth stop`: the
// power button reaches the guest's acpid, it powers off by itself before the timeout (no quit,
// no kill): the guest is `stopped` with the reason `user` and the VMM ended cleanly (status 0);
// a file written without sync just before is on the disk image and its ext4 file system is
// clean (debugfs and e2fsck -n on the image afterwards).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/images/imageBuild.js';
import { GUEST_READY_BANNER, e2fsTool } from '../../src/images/rootfs.js';
import {
  berthCli,
  DaemonProcess,
  killAndRemove,
  processesMentioning,
  until,
  openGuestConsole,
} from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhi-'));
const socket = join(dir, 'api.sock');
const imageDir = join(dir, 'image');

after(() => killAndRemove(dir));

test(
  'berth stop powers a built image off cleanly through the daemon',
  { timeout: 900_000 },
  async () => {
    const r = await buildImage({
      outDir: imageDir,
      sizeBytes: 128 << 20,
      progress: false,
      log: () => {},
    });
    const daemon = await new DaemonProcess(dir, socket).ready();
    try {
      const c = await daemon.api('POST', '/v1/guests', {
        name: 'img',
        memory: '256M',
        boot: { image: imageDir },
        stopTimeout: 300,
      });
      assert.equal(c.status, 201, c.text);
      const op = await daemon.act('img', { action: 'start' });
      assert.equal(op.status, 'Success', op.err);
      let out = '';
      const ws = await openGuestConsole(socket, 'img', (t) => (out += t));
      try {
        await until('the image to boot', () => out.includes(GUEST_READY_BANNER), 600_000, 250);
        await until('the prompt', () => /# (?:\x1b\[6n)?$/m.test(out), 60_000, 200);
        await until(
          'acpid to run',
          async () => {
            ws.send(Buffer.from('pidof acpid >/dev/null && echo acpid-$((40+2))\n'));
            await new Promise((res) => setTimeout(res, 1000));
            return out.includes('acpid-42');
          },
          60_000,
          0,
        );
        const word = `stopped-${Date.now()}`;
        ws.send(Buffer.from(`echo ${word} > /root/marker; echo written-$((6*7))\n`));
        await until('the marker', () => out.includes('written-42'), 60_000, 100);
      } finally {
        ws.close();
      }

      const t0 = Date.now();
      const stop = berthCli(socket, 'stop', 'img', '--json');
      assert.equal(stop.code, 0, stop.err + stop.out);
      const g = await daemon.guest('img');
      assert.equal(g.state, 'stopped');
      assert.equal(g.reason, 'user');
      const ev = (await daemon.api('GET', '/v1/events?guest=img')).body.metadata as {
        type: string;
        detail: string | null;
      }[];
      const last = ev.at(-1)!;
      assert.equal(last.type, 'stopped');
      assert.equal(last.detail, 'the VMM ended cleanly', 'it powered off, not quit or killed');
      process.stderr.write(`# berth stop took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      assert.match(out + readLog(daemon), /berth: power key pressed, powering off/);

      const debugfs = e2fsTool('debugfs');
      const cat = spawnSync(debugfs, ['-R', 'cat /root/marker', r.rootfsPath], {
        encoding: 'utf8',
      });
      assert.match(cat.stdout, /^stopped-\d+\n$/, cat.stderr);
      const stats = spawnSync(debugfs, ['-R', 'stats', r.rootfsPath], { encoding: 'utf8' });
      assert.match(stats.stdout, /^Filesystem state:\s+clean$/m, stats.stdout.slice(0, 2000));
      const fsck = spawnSync(e2fsTool('e2fsck'), ['-fn', r.rootfsPath], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
    } finally {
      await daemon.stop();
    }
    await until('no process of ours', () => processesMentioning(dir).length === 0, 10_000);
  },
);

/** The guest's console log as the daemon kept it (the shutdown messages come after we left). */
function readLog(daemon: DaemonProcess): string {
  const r = berthCli(daemon.socket, 'logs', 'img', '--console');
  return r.out;
}
