// Snapshots taken before virtio slots followed QEMU's plugging order restore with no slots
// given: test/fixtures/snapshot/echo-vmm-fixed-slots.snap was written by the control socket of
// a VMM of that Berth (rng in slot 0, network card 2, power button 3, disks 7 and 6), and
// echo-v1.snap (format 1, Berth 0.1.0) by its board; a restore places the devices its
// configuration leaves open as the snapshot has them, and the guest goes on. A slot the
// configuration names that the snapshot contradicts is refused, naming the device and both
// slots, and starts nothing. A snapshot records which disk sits in which slot, so disks given
// slots out of order come back in those slots.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseVmmConfig } from '../../src/vmm/config.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { readSnapshotShape } from '../../src/vmm/snapshot/snapshotFile.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { echoGuestElf } from './echoGuest.js';
import { startEcho, typeInto, type EchoVmm } from './echoVmm.js';
import { until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-slots-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const FIXTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  ...'../../../test/fixtures/snapshot'.split('/'),
);

/** A raw disk image of `bytes` in the test folder. */
function disk(name: string, bytes: number): string {
  const path = join(dir, name);
  writeFileSync(path, '');
  truncateSync(path, bytes);
  return path;
}

/** What sits in each virtio slot of the VMM's board: the device, and the disk's path. */
function slots(e: EchoVmm): (string | null)[] {
  const paths = e.vmm.config.disks.map((d) => d.path);
  return e.vmm
    .currentBoard!.shape()
    .virtio.map((s) =>
      s === null ? null : s.disk === undefined ? s.device : `disk ${paths[s.disk]}`,
    );
}

const status = (sock: string): Promise<VmmStatus> =>
  controlRequest<VmmStatus>(sock, { cmd: 'status' });

/** The devices of the VMM that wrote echo-vmm-fixed-slots.snap (no slots given). */
const oldDevices = (): Record<string, unknown> => ({
  disks: [{ path: disk('a.img', 1 << 20) }, { path: disk('b.img', 2 << 20), readOnly: true }],
  net: { kind: 'user' },
});

test('a VMM snapshot of the fixed-slot Berth restores with no slots given, and the guest echoes on', async () => {
  const file = join(dir, 'old.snap');
  copyFileSync(join(FIXTURES, 'echo-vmm-fixed-slots.snap'), file);
  const devices = oldDevices();
  const paths = (devices.disks as { path: string }[]).map((d) => d.path);
  const expected = ['virtio-rng', null, 'virtio-net', 'virtio-input', null, null];
  const b = await startEcho(dir, 'old-b', { ...devices, restore: file });
  const again = join(dir, 'again.snap');
  try {
    await until('the restored VMM to answer', async () => existsSync(b.sock));
    assert.deepEqual(slots(b), [...expected, `disk ${paths[1]}`, `disk ${paths[0]}`]);
    const s = await status(b.sock);
    assert.equal(s.state, 'running');
    assert.ok(s.instructions >= 2_600_000, `${s.instructions} instructions go on from 2,600,000`);
    await typeInto(b.sock, 'xy', b.out);
    assert.equal(b.out(), 'xy', 'no boot banner: the guest went on from the snapshot');
    // Its own snapshot records the placement, each disk's number with it.
    await controlRequest(b.sock, { cmd: 'snapshot', path: again });
  } finally {
    b.vmm.quit();
    await b.done;
  }
  const shape = readSnapshotShape(again) as { virtio: ({ disk?: number } | null)[] };
  assert.deepEqual(
    shape.virtio.map((s) => s?.disk ?? null),
    [null, null, null, null, null, null, 1, 0],
  );
  const c = await startEcho(dir, 'old-c', { ...devices, restore: again });
  try {
    await until('the restored VMM to answer', async () => existsSync(c.sock));
    assert.deepEqual(slots(c), [...expected, `disk ${paths[1]}`, `disk ${paths[0]}`]);
    await typeInto(c.sock, 'zw', c.out);
  } finally {
    c.vmm.quit();
    await c.done;
  }
});

test('a configured slot the snapshot contradicts is refused, naming the device and both slots', async () => {
  const file = join(dir, 'old2.snap');
  copyFileSync(join(FIXTURES, 'echo-vmm-fixed-slots.snap'), file);
  const sock = join(dir, 'refused.sock');
  const start = (extra: Record<string, unknown>): Promise<Vmm> =>
    Vmm.start(
      parseVmmConfig({
        name: 'refused',
        memory: '32M',
        firmware: echoGuestElf(),
        controlSocket: sock,
        restore: file,
        ...oldDevices(),
        ...extra,
      }),
      { console: { input: null, output: null }, log: () => {} },
    );
  await assert.rejects(
    start({ slots: { rng: 4 } }),
    new RegExp(
      `^SnapshotError: snapshot ${file}: virtio-rng is configured in virtio slot 4, but sits in slot 0 in the snapshot; leave its slot out, or give slot 0$`,
    ),
  );
  const a = join(dir, 'a.img');
  await assert.rejects(
    start({
      disks: [
        { path: a, slot: 6 },
        { path: join(dir, 'b.img'), readOnly: true },
      ],
    }),
    new RegExp(
      `disk 0 \\(${a}\\) is configured in virtio slot 6, but sits in slot 7 in the snapshot`,
    ),
  );
  assert.equal(existsSync(sock), false, 'no control socket was made');
  // Slots that agree with the snapshot restore.
  const b = await startEcho(dir, 'agree', {
    ...oldDevices(),
    slots: { rng: 0, net: 2 },
    restore: file,
  });
  try {
    await until('the restored VMM to answer', async () => existsSync(b.sock));
    await typeInto(b.sock, 'ok', b.out);
  } finally {
    b.vmm.quit();
    await b.done;
  }
});

test('the format 1 fixture (Berth 0.1.0, virtio console in slot 1) restores in a VMM with no slots given', async () => {
  const file = join(dir, 'v1.snap');
  copyFileSync(join(FIXTURES, 'echo-v1.snap'), file);
  const b = await startEcho(dir, 'v1', {
    memory: '16M',
    console: 'virtio',
    net: { kind: 'user' },
    disks: [{ path: disk('v1a.img', 1 << 20) }, { path: disk('v1b.img', 2 << 20), readOnly: true }],
    restore: file,
  });
  try {
    await until('the restored VMM to answer', async () => existsSync(b.sock));
    assert.deepEqual(slots(b).slice(0, 4), [
      'virtio-rng',
      'virtio-console',
      'virtio-net',
      'virtio-input',
    ]);
    const s1 = await status(b.sock);
    assert.equal(s1.state, 'running');
    assert.ok(s1.instructions >= 340_000, `${s1.instructions} instructions go on from 340,000`);
    await until(
      'the guest to run on',
      async () => (await status(b.sock)).instructions > s1.instructions,
    );
  } finally {
    b.vmm.quit();
    await b.done;
  }
});

test('disks given slots out of order come back in those slots when restored with none given', async () => {
  const x = disk('x.img', 1 << 20);
  const y = disk('y.img', 2 << 20);
  const a = await startEcho(dir, 'order-a', {
    disks: [
      { path: x, slot: 0 },
      { path: y, readOnly: true },
    ],
  });
  const file = join(dir, 'order.snap');
  // Disk x in slot 0 as asked; y, the button and the rng take the highest free slots in turn.
  const placed = [`disk ${x}`, null, null, null, null, 'virtio-input', 'virtio-rng', `disk ${y}`];
  try {
    assert.deepEqual(slots(a), placed);
    await typeInto(a.sock, 'ab', a.out);
    await controlRequest(a.sock, { cmd: 'snapshot', path: file });
  } finally {
    a.vmm.quit();
    await a.done;
  }
  const b = await startEcho(dir, 'order-b', {
    disks: [{ path: x }, { path: y, readOnly: true }],
    restore: file,
  });
  try {
    await until('the restored VMM to answer', async () => existsSync(b.sock));
    assert.deepEqual(slots(b), placed, 'the restore keeps every slot');
    await typeInto(b.sock, 'cd', b.out);
  } finally {
    b.vmm.quit();
    await b.done;
  }
});
