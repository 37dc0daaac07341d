// A two-hart Debian guest (hart 1 on a worker thread of its own) migrates between two VMMs of
// this process on 127.0.0.1 while a loop pinned to hart 1 rewrites files in its RAM (tmpfs):
// at the destination the loop runs on and never found a copy that differs from its source,
// both harts are online, and each runs what is pinned to it. The pages hart 1 dirties reach the
// dirty log although they are written on another thread, and hart 1's state moves with it.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READY_BANNER } from '../../src/images/assets.js';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { sleep, until } from '../support/wait.js';
import { migrationEnded } from '../vmm/echoVmm.js';
import { shell, startDebianVmm, type DebianVmm } from './debianVmm.js';

const MIB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'berth-smp-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const start = (name: string, extra: Record<string, unknown> = {}): Promise<DebianVmm> =>
  startDebianVmm(dir, name, { memory: '128M', harts: 2, ...extra });

test(
  'a two-hart guest migrates while hart 1 rewrites its files: nothing it wrote is lost',
  { timeout: 600_000 },
  async () => {
    const b = await start('smp-b', { incoming: { listen: '127.0.0.1:0' } });
    const a = await start('smp-a').catch((e: Error) => {
      b.vmm.quit();
      throw e;
    });
    try {
      await until('the guest to boot', () => a.out().includes(READY_BANNER), 300_000);
      await sleep(2000);
      // On hart 1: 256 KiB of new random bytes, copied and compared, until /tmp/stop appears.
      await shell(
        a,
        "taskset -c 1 sh -c 'i=0; bad=0; while [ ! -e /tmp/stop ]; do " +
          'dd if=/dev/urandom of=/tmp/a bs=65536 count=4 2>/dev/null; cp /tmp/a /tmp/b; ' +
          'cmp -s /tmp/a /tmp/b || bad=$((bad+1)); i=$((i+1)); done; ' +
          'echo "loop-done $i bad $bad"\' & echo started-$((1+1))',
        /started-2/,
      );
      await sleep(3000);
      await controlRequest(a.sock, {
        cmd: 'migrate',
        to: b.vmm.incoming!.address,
        maxBandwidth: 4 * MIB, // rounds of seconds: the loop dirties pages already sent
        timeoutS: 300,
      });
      const s = await migrationEnded(a, 300_000);
      process.stdout.write(
        `# two-hart guest, hart 1 rewriting files: ${s.status}, ${s.rounds} rounds, ` +
          `${s.bytesSent} bytes, downtime ${s.downtimeMs} ms, max throttle ${s.maxThrottlePercent}%\n`,
      );
      assert.equal(s.status, 'completed', s.error);
      assert.ok(s.rounds >= 2, `${s.rounds} rounds`);
      assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
      const [loops, bad] = (await shell(b, 'touch /tmp/stop', /loop-done (\d+ bad \d+)/))
        .split(' bad ')
        .map(Number);
      assert.ok(loops > 5, `${loops} rounds of the loop`);
      assert.equal(bad, 0, 'a copy differed from its source');
      const sums = await shell(
        b,
        'sha256sum /tmp/a /tmp/b | cut -c1-64 | sort -u | wc -l | sed "s/^/files=/"',
        /files=(\d+)/,
      );
      assert.equal(sums, '1', 'the last copy is its source');
      assert.equal(await shell(b, 'nproc | sed "s/^/n=/"', /n=(\d+)/), '2');
      for (const c of [0, 1]) {
        const cpu = await shell(
          b,
          `taskset -c ${c} cat /proc/self/stat | cut -d" " -f39 | sed "s/^/cpu=/"`,
          /cpu=(\d+)/,
        );
        assert.equal(cpu, String(c));
      }
    } finally {
      a.vmm.quit();
      b.vmm.quit();
      await Promise.all([a.done, b.done]);
    }
  },
);
