// Live migration with disk mirroring between two VMMs on 127.0.0.1 (diskMirror.ts, blocks.ts):
// the destination's disks are its own new files (a raw image and a qcow2 one), and the source
// sends its disks while the guest runs. Writes and a discard land on the source's disks during
// the rounds, through the same LayeredDisk the guest's virtio-blk device writes to (the echo
// guest has no disk driver: the test writes for it, between the guest's slices as the device
// does); afterwards the destination's disks hold exactly what was written, and so do the
// source's. A flipped byte inside a BLOCKS message is refused, the source guest runs on and
// its disk is as it was; a destination disk of another size, and a destination that shares
// the source's disks, are refused at hello.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/vmm/controlClient.js';
import { openDisk } from '../../src/vmm/disk/openDisk.js';
import { createQcow2 } from '../../src/vmm/disk/qcow2Create.js';
import { migrationEnded, printFigures, startEcho, typeInto, type EchoVmm } from './echoVmm.js';
import { flipRelay } from './flipRelay.js';

const MIB = 1 << 20;
const SIZE = 8 * MIB;
const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-mirror-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function rawDisk(name: string, size = SIZE): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  truncateSync(p, size);
  return p;
}

function qcowDisk(name: string, size = SIZE): string {
  const p = join(dir, name);
  createQcow2(p, size);
  return p;
}

/** A disk's contents as its backend reads them (raw or qcow2), without a lock. */
function contents(path: string): Buffer {
  const d = openDisk(path, true, false);
  try {
    const b = Buffer.alloc(d.size);
    d.read(0, b);
    return b;
  } finally {
    d.close();
  }
}

/** Writes `data` at `offset` of a disk image through its backend (before any VMM opens it). */
function fill(path: string, offset: number, data: Uint8Array): void {
  const d = openDisk(path, false);
  try {
    d.write(offset, data);
    d.flush();
  } finally {
    d.close();
  }
}

async function mirrorTarget(name: string, disks: string[]): Promise<EchoVmm & { addr: string }> {
  const b = await startEcho(dir, name, {
    incoming: { listen: '127.0.0.1:0', mirror: true },
    disks: disks.map((path) => ({ path })),
  });
  return { ...b, addr: b.vmm.incoming!.address };
}

test('disks written during the migration arrive whole: raw and qcow2, the destination runs on', async () => {
  const src = [rawDisk('a0.img'), qcowDisk('a1.qcow2')];
  const dst = [rawDisk('b0.img'), qcowDisk('b1.qcow2')];
  const model = [Buffer.alloc(SIZE), Buffer.alloc(SIZE)];
  // Data before the migration: 2 MiB of disk 0 (from 0), 1 MiB of disk 1 (from 3 MiB).
  for (const [i, off, n] of [
    [0, 0, 2 * MIB],
    [1, 3 * MIB, MIB],
  ] as const) {
    const d = randomBytes(n);
    fill(src[i], off, d);
    d.copy(model[i], off);
  }
  // A read-only disk stays shared: the destination opens the source's file at the switch.
  const shared = rawDisk('shared.img', MIB);
  const a = await startEcho(dir, 'mir-a', {
    disks: [...src.map((path) => ({ path })), { path: shared, readOnly: true }],
  });
  const b = await startEcho(dir, 'mir-b', {
    incoming: { listen: '127.0.0.1:0', mirror: true },
    disks: [...dst.map((path) => ({ path })), { path: shared, readOnly: true }],
  });
  const addr = b.vmm.incoming!.address;
  let writes = 0;
  let discarded = false;
  let writer: NodeJS.Timeout | undefined;
  try {
    await typeInto(a.sock, 'ab', a.out);
    await controlRequest(a.sock, {
      cmd: 'migrate',
      to: addr,
      mirror: true,
      maxBandwidth: 2 * MIB,
      downtimeMs: 50,
    });
    // The guest's writes while the rounds go: 4 KiB at a time in the first MiB of each disk,
    // until the third round starts; one discard of data sent in round 1.
    writer = setInterval(() => {
      const m = a.vmm.migrationStats();
      if (!m || m.status !== 'active' || m.rounds >= 3) return;
      const i = writes % 2;
      const off = (Math.floor(Math.random() * 256) * 4096) % MIB;
      const d = randomBytes(4096);
      a.vmm.disks[i].write(off, d);
      d.copy(model[i], off);
      writes++;
      if (!discarded && m.rounds === 2) {
        a.vmm.disks[0].discard(MIB + 65536, 65536);
        model[0].fill(0, MIB + 65536, MIB + 131072);
        discarded = true;
      }
    }, 15);
    const m = await migrationEnded(a);
    clearInterval(writer);
    printFigures('mirrored disks (8 MiB raw + 8 MiB qcow2), 2 MiB/s', m);
    assert.equal(m.status, 'completed', m.error);
    assert.deepEqual(await a.done, { kind: 'migrated', code: 0 });
    assert.ok(m.rounds >= 3, `${m.rounds} rounds`);
    assert.ok(writes > 20 && discarded, `${writes} writes during the rounds`);
    assert.ok(m.diskBytesSent > 3 * MIB, `${m.diskBytesSent} bytes of disk sent`);
    assert.equal(m.diskBytesRemaining, 0);
    const s = b.vmm.migrationStats()!;
    assert.equal(s.status, 'completed');
    assert.ok(s.diskBytesSent >= 3 * MIB, `the destination took ${s.diskBytesSent} disk bytes`);
    await typeInto(b.sock, 'xy', b.out);
  } finally {
    clearInterval(writer);
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
  assert.equal(sha256(readFileSync(dst[0])), sha256(model[0]), 'the raw destination file');
  assert.equal(sha256(contents(dst[1])), sha256(model[1]), 'the qcow2 destination image');
  assert.equal(sha256(readFileSync(src[0])), sha256(model[0]), 'the source raw file');
  assert.equal(sha256(contents(src[1])), sha256(model[1]), 'the source qcow2 image');
});

test('a flipped byte inside a BLOCKS message is refused; the source runs on, its disk as it was', async () => {
  const src = rawDisk('f-a.img');
  fill(src, 0, randomBytes(MIB));
  const before = sha256(readFileSync(src));
  const a = await startEcho(dir, 'flipd-a', { disks: [{ path: src }] });
  const b = await mirrorTarget('flipd-b', [rawDisk('f-b.img')]);
  // The stream: HELLO (24-byte header, its JSON), then round 1's first BLOCKS; the byte
  // flipped is inside the first block's data.
  const relay = await flipRelay(b.addr, (first: Buffer) => {
    assert.ok(first.length >= 24, 'the hello header comes in one piece');
    return 24 + first.readUInt32LE(12) + 24 + 4 + 24 + 1000;
  });
  try {
    await controlRequest(a.sock, { cmd: 'migrate', to: relay.address, mirror: true });
    const m = await migrationEnded(a);
    printFigures('a flipped byte in BLOCKS', m);
    assert.equal(m.status, 'failed');
    assert.match(m.error ?? '', /refused.*(checksum|damaged)/);
    assert.ok(relay.flipped(), 'the flipped byte went out');
    const exit = await b.done;
    assert.equal(exit.kind, 'incoming-failed');
    assert.equal(b.out(), '', 'the destination never ran the guest');
    assert.equal(a.vmm.disks[0].tracker, null, 'the source no longer logs its writes');
    await typeInto(a.sock, 'zz', a.out);
    assert.equal(
      (await controlRequest<{ state: string }>(a.sock, { cmd: 'status' })).state,
      'running',
    );
  } finally {
    relay.server.close();
    a.vmm.quit();
    b.vmm.quit();
    await Promise.all([a.done, b.done]);
  }
  assert.equal(sha256(readFileSync(src)), before, 'the source disk is untouched');
});

test('a destination disk of another size, or shared disks against a mirror, are refused at hello', async () => {
  const src = rawDisk('s-a.img');
  const a = await startEcho(dir, 'size-a', { disks: [{ path: src }] });
  try {
    const b = await mirrorTarget('size-b', [rawDisk('s-b.img', 4 * MIB)]);
    await controlRequest(a.sock, { cmd: 'migrate', to: b.addr, mirror: true });
    let m = await migrationEnded(a);
    assert.equal(m.status, 'failed');
    assert.match(
      m.error ?? '',
      /refused: the mirrored disks differ: the source sends disk 0: 8388608 bytes; this VMM's writable disks are disk 0: 4194304 bytes/,
    );
    assert.equal(m.rounds, 0);
    assert.equal((await b.done).code, 1);
    // A destination started without incoming.mirror opens the source's own files: refused.
    const c = await startEcho(dir, 'size-c', {
      incoming: { listen: '127.0.0.1:0' },
      disks: [{ path: src }],
    });
    await controlRequest(a.sock, { cmd: 'migrate', to: c.vmm.incoming!.address, mirror: true });
    m = await migrationEnded(a);
    assert.match(m.error ?? '', /refused: the source sends its disks \(mirror\); this VMM uses/);
    assert.equal((await c.done).code, 1);
    // And a mirror's target refuses a source that does not send its disks.
    const d = await mirrorTarget('size-d', [rawDisk('s-d.img')]);
    await controlRequest(a.sock, { cmd: 'migrate', to: d.vmm.incoming!.address });
    m = await migrationEnded(a);
    assert.match(m.error ?? '', /refused: this VMM's disks are the targets of a mirror/);
    assert.equal((await d.done).code, 1);
    await typeInto(a.sock, 'ok', a.out);
  } finally {
    a.vmm.quit();
    await a.done;
  }
});
