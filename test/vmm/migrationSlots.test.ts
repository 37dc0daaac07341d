// An incoming migration places the devices its configuration leaves without a slot where the
// source has them (a source of the fixed-slot Berth had rng in slot 0 and the power button in
// slot 3, here given as slots), and the guest echoes on at the destination; a slot the
// destination names that the source contradicts is refused at hello, naming the device and
// both slots, and the source runs on.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/vmm/controlClient.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { migrationEnded, startEcho, typeInto, type EchoVmm } from './echoVmm.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-migslots-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const disk = join(dir, 'a.img');
writeFileSync(disk, '');
truncateSync(disk, 1 << 20);

/** The source: the fixed-slot Berth's placement (rng 0, power button 3, the disk in 7). */
const source = (name: string): Promise<EchoVmm> =>
  startEcho(dir, name, { disks: [{ path: disk }], slots: { rng: 0, powerButton: 3 } });

async function incoming(name: string, extra: Record<string, unknown> = {}) {
  const b = await startEcho(dir, name, {
    disks: [{ path: disk }],
    incoming: { listen: '127.0.0.1:0' },
    ...extra,
  });
  return { ...b, addr: b.vmm.incoming!.address };
}

const devices = (e: EchoVmm): (string | null)[] =>
  e.vmm.currentBoard!.shape().virtio.map((s) => s?.device ?? null);

test("the destination takes the source's slots for the devices its configuration leaves open", async () => {
  const a = await source('place-a');
  const b = await incoming('place-b');
  try {
    await typeInto(a.sock, 'ab', a.out);
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'completed', m.error);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    await typeInto(b.sock, 'cd', b.out);
    assert.deepEqual(devices(b), [
      'virtio-rng',
      null,
      null,
      'virtio-input',
      null,
      null,
      null,
      'virtio-blk',
    ]);
    assert.deepEqual(b.vmm.config.slots, { rng: 0, powerButton: 3 });
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});

test('a destination slot the source contradicts is refused at hello; the source runs on', async () => {
  const a = await source('clash-a');
  const b = await incoming('clash-b', { slots: { powerButton: 5 } });
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr });
    const m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    assert.match(
      m.error ?? '',
      /the power button is configured in virtio slot 5, but sits in slot 3 in the source's board; leave its slot out, or give slot 3/,
    );
    assert.equal(m.rounds, 0);
    assert.equal((await b.done).code, 1);
    const s1 = await controlRequest<VmmStatus>(a.sock, { cmd: 'status' });
    assert.equal(s1.state, 'running');
    await typeInto(a.sock, 'zz', a.out);
  } finally {
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
});
