// A Debian guest (the stock kernel, OpenSBI and the busybox initramfs from the cache) started by
// the daemon with the default boot, reached on its serial console through the daemon's
// WebSocket: the READY_BANNER, a command answered, then a stop (busybox ignores the power
// button, so the timeout passes and the VMM is quit) that leaves no process behind.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ensureDefaultAssets, READY_BANNER } from '../../src/images/assets.js';
import { DaemonProcess, processesMentioning, until, killAndRemove } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'bhd-'));
const socket = join(dir, 'api.sock');

after(() => killAndRemove(dir));

test(
  'a Debian busybox guest through the daemon: banner and shell on the console',
  { timeout: 400_000 },
  async () => {
    await ensureDefaultAssets({ progress: false }); // cached after the first time
    const daemon = await new DaemonProcess(dir, socket).ready();
    try {
      const c = await daemon.api('POST', '/v1/guests', { name: 'deb', memory: '256M' });
      assert.equal(c.status, 201, c.text);
      const op = await daemon.act('deb', { action: 'start' });
      assert.equal(op.status, 'Success', op.err);
      const ws = new WebSocket(`ws+unix://${socket}:/v1/guests/deb/console`);
      let out = '';
      ws.on('message', (d: Buffer) => (out += d.toString('latin1')));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      try {
        await until('the READY_BANNER', () => out.includes(READY_BANNER), 240_000, 200);
        await until('the shell prompt', () => /# (?:\x1b\[6n)?$/m.test(out), 60_000, 200);
        ws.send(Buffer.from('echo $((6 * 7))x\n'));
        await until('the answer', () => out.includes('42x'), 30_000, 100);
      } finally {
        ws.close();
      }
      const t0 = Date.now();
      const stop = await daemon.act('deb', { action: 'stop', timeout: 2 });
      assert.equal(stop.status, 'Success', stop.err);
      assert.ok(Date.now() - t0 < 15_000);
      assert.equal((await daemon.guest('deb')).state, 'stopped');
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    }
    await until('no process of ours', () => processesMentioning(dir).length === 0, 5000);
  },
);
