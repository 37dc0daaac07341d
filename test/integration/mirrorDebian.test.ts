// Disk mirroring with a real guest (the stock Debian kernel and Berth's busybox initramfs, two
// VMMs in this process on 127.0.0.1): the guest writes its virtio-blk disk in a loop with dd
// while it migrates with `mirror`, and keeps a copy of what it writes in its RAM (tmpfs); at
// the destination it stops and syncs, and the checksum of that copy is that of the
// destination's own file, and of its disk as it reads it; a range the guest never wrote is as
// it was on both sides.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READY_BANNER } from '../../src/images/assets.js';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { sleep, until } from '../support/wait.js';
import { migrationEnded } from '../vmm/echoVmm.js';
import { shell, startDebianVmm, type DebianVmm } from './debianVmm.js';

const MIB = 1 << 20;
const SIZE = 16 * MIB;
const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-mirror-debian-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);
const start = (name: string, extra: Record<string, unknown>): Promise<DebianVmm> =>
  startDebianVmm(dir, name, { memory: '128M', ...extra });

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test(
  'a Debian guest writing its disk with dd migrates with its disk: it reads back the destination file',
  { timeout: 900_000 },
  async () => {
    const src = join(dir, 'a.img');
    const dst = join(dir, 'b.img');
    const tail = randomBytes(MIB); // at 15 MiB: the guest never writes there
    writeFileSync(src, '');
    truncateSync(src, SIZE);
    const t = readFileSync(src);
    tail.copy(t, 15 * MIB);
    writeFileSync(src, t);
    writeFileSync(dst, '');
    truncateSync(dst, SIZE);
    const b = await start('deb-b', {
      incoming: { listen: '127.0.0.1:0', mirror: true },
      disks: [{ path: dst }],
    });
    const a = await start('deb-a', { disks: [{ path: src }] }).catch((e: Error) => {
      b.vmm.quit();
      throw e;
    });
    try {
      await until('the guest to boot', () => a.out().includes(READY_BANNER), 600_000);
      await sleep(2000);
      // dd in a loop: 64 KiB of random data at a moving place in the first 8 MiB, synced each time.
      // The guest keeps in /tmp/model (its RAM: tmpfs) what it writes: each 64 KiB of random
      // data goes to /dev/vda and to the same place of the model, until /tmp/stop appears.
      await shell(
        a,
        'dd if=/dev/vda of=/tmp/model bs=65536 2>/dev/null; echo copied-$((1+1))',
        /copied-2/,
      );
      await shell(
        a,
        'i=0; (while [ ! -e /tmp/stop ]; do n=$(( (i * 37) % 128 )); ' +
          'dd if=/dev/urandom of=/tmp/blk bs=65536 count=1 2>/dev/null; ' +
          'dd if=/tmp/blk of=/dev/vda bs=65536 seek=$n conv=fsync 2>/dev/null; ' +
          'dd if=/tmp/blk of=/tmp/model bs=65536 seek=$n conv=notrunc 2>/dev/null; ' +
          'i=$((i+1)); done; echo "loop-done $i") & echo started-$((1+1))',
        /started-2/,
      );
      await sleep(3000);
      await controlRequest(a.sock, {
        cmd: 'migrate',
        to: b.vmm.incoming!.address,
        mirror: true,
        maxBandwidth: 4 * MIB, // round 1 takes seconds: the guest writes chunks sent already
        timeoutS: 300,
      });
      const s = await migrationEnded(a, 300_000);
      process.stdout.write(
        `# Debian guest with dd on its disk: ${s.status}, ${s.rounds} rounds, ${s.bytesSent} bytes ` +
          `(disk ${s.diskBytesSent}), total ${s.totalMs} ms, downtime ${s.downtimeMs} ms, ` +
          `max throttle ${s.maxThrottlePercent}%\n`,
      );
      assert.equal(s.status, 'completed', s.error);
      assert.ok(s.rounds >= 2, `${s.rounds} rounds`);
      // At the destination: the writer still runs (it moved with the guest); stop it, then read.
      const writes = Number(await shell(b, 'touch /tmp/stop', /loop-done (\d+)/));
      await shell(b, 'sync; echo synced-$((2+1))', /synced-3/);
      const sum = async (what: string): Promise<string> =>
        shell(b, `sha256sum ${what} | cut -c1-64 | sed "s/^/sum=/"`, /sum=([0-9a-f]{64})/);
      const model = await sum('/tmp/model');
      const read = await sum('/dev/vda');
      const file = readFileSync(dst);
      process.stdout.write(`# the guest wrote ${writes} times 64 KiB in all\n`);
      assert.ok(writes > 20, `${writes} writes`);
      assert.equal(model, sha256(file), 'what the guest wrote is what the destination file holds');
      assert.equal(read, model, 'and what it reads back from it');
      assert.ok(!file.subarray(0, 8 * MIB).every((x) => x === 0), 'the guest wrote its disk');
      assert.ok(file.subarray(15 * MIB).equals(tail), 'the untouched range came over as it was');
      assert.ok(
        readFileSync(src)
          .subarray(15 * MIB)
          .equals(tail),
        'and is as it was at the source',
      );
      assert.ok(
        readFileSync(src)
          .subarray(8 * MIB, 15 * MIB)
          .every((x) => x === 0),
      );
    } finally {
      a.vmm.quit();
      b.vmm.quit();
      await Promise.all([a.done, b.done]);
    }
  },
);
