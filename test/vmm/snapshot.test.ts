// Snapshots through a VMM: the control socket's snapshot request pauses the guest, writes its
// machine and resumes it; a VMM started with restore goes on from the snapshot (the echo guest
// echoes on without booting again); a snapshot of another configuration, a damaged one or a bad
// request is refused with a clear message, and a refused restore starts nothing.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parseVmmConfig } from '../../src/vmm/config.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { controlRequest, openConsole } from '../../src/vmm/controlClient.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { echoGuestElf } from './echoGuest.js';
import { startEcho, typeInto } from './echoVmm.js';
import { until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-vmm-snap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
chmodSync(dir, 0o755);

test('snapshot on the control socket, then a VMM restored from it echoes on without booting', async () => {
  const a = await startEcho(dir, 'snap-a');
  const file = join(dir, 'a.snap');
  let saved = 0;
  try {
    await typeInto(a.sock, 'ab', a.out);
    await controlRequest(a.sock, { cmd: 'pause' });
    saved = (await controlRequest<VmmStatus>(a.sock, { cmd: 'status' })).instructions;
    const r = await controlRequest<{ path: string; bytes: number; milliseconds: number }>(a.sock, {
      cmd: 'snapshot',
      path: file,
    });
    assert.equal(r.path, file);
    assert.equal(readFileSync(file).length, r.bytes);
    assert.ok(r.bytes < 64 * 1024, `${r.bytes} bytes for 32 MiB`);
    await controlRequest(a.sock, { cmd: 'resume' });
    await typeInto(a.sock, 'cd', a.out);
  } finally {
    a.vmm.quit();
    await a.done;
  }
  const b = await startEcho(dir, 'snap-b', { restore: file });
  try {
    await until('the restored VMM to answer', async () => existsSync(b.sock));
    const s = await controlRequest<VmmStatus>(b.sock, { cmd: 'status' });
    assert.equal(s.state, 'running');
    assert.ok(s.instructions >= saved, `${s.instructions} instructions go on from ${saved}`);
    await typeInto(b.sock, 'xy', b.out);
    assert.equal(b.out(), 'xy', 'no boot banner: the guest went on from the snapshot');
    const c = await openConsole(b.sock, { replay: false });
    c.socket.write('q');
    assert.deepEqual(await b.done, { kind: 'poweroff', code: 0 });
    c.socket.destroy();
  } finally {
    b.vmm.quit();
    await b.done;
  }
});

test('a restore of another configuration or a damaged file is refused and starts nothing', async () => {
  const a = await startEcho(dir, 'snap-c');
  const file = join(dir, 'c.snap');
  try {
    await controlRequest(a.sock, { cmd: 'snapshot', path: file });
  } finally {
    a.vmm.quit();
    await a.done;
  }
  const start = (extra: Record<string, unknown>): Promise<Vmm> =>
    Vmm.start(
      parseVmmConfig({
        name: 'refused',
        memory: '32M',
        firmware: echoGuestElf(),
        controlSocket: join(dir, 'refused.sock'),
        restore: file,
        ...extra,
      }),
      { console: { input: null, output: null }, log: () => {} },
    );
  await assert.rejects(
    start({ memory: '64M' }),
    new RegExp(
      `^SnapshotError: snapshot ${file}: it is of another board configuration \\(memory: 33554432 bytes in the snapshot, 67108864 bytes here\\)`,
    ),
  );
  await assert.rejects(
    start({ powerButton: false }),
    /virtio slot 6: virtio-input in the snapshot, nothing here/,
  );
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.length - 10));
  await assert.rejects(start({}), /it is truncated: it ends inside the header of section \d+$/);
  bytes[200] ^= 4;
  writeFileSync(file, bytes);
  await assert.rejects(start({}), /it is damaged: .* fails its checksum/);
  assert.equal(existsSync(join(dir, 'refused.sock')), false, 'no control socket was made');
});

test('bad snapshot requests get an error and the guest runs on', async () => {
  const a = await startEcho(dir, 'snap-d');
  try {
    await assert.rejects(controlRequest(a.sock, { cmd: 'snapshot' }), /snapshot needs "path"/);
    await assert.rejects(
      controlRequest(a.sock, { cmd: 'snapshot', path: 'rel.snap' }),
      /the file must be an absolute path, not 'rel\.snap'/,
    );
    await assert.rejects(
      controlRequest(a.sock, { cmd: 'snapshot', path: join(dir, 'no', 'such.snap') }),
      /ENOENT/,
    );
    const s = await controlRequest<VmmStatus>(a.sock, { cmd: 'status' });
    assert.equal(s.state, 'running');
    await controlRequest(a.sock, { cmd: 'snapshot', path: join(dir, 'running.snap') });
    const t = await controlRequest<VmmStatus>(a.sock, { cmd: 'status' });
    assert.equal(t.state, 'running', 'a running guest runs on after its snapshot');
    await until('the guest to compute on', async () => {
      const u = await controlRequest<VmmStatus>(a.sock, { cmd: 'status' });
      return u.instructions > t.instructions;
    });
    await controlRequest(a.sock, { cmd: 'pause' });
    await controlRequest(a.sock, { cmd: 'snapshot', path: join(dir, 'paused.snap') });
    assert.equal(
      (await controlRequest<VmmStatus>(a.sock, { cmd: 'status' })).state,
      'paused',
      'a paused guest stays paused',
    );
  } finally {
    a.vmm.quit();
    await a.done;
  }
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('tmp')),
    [],
    'no temporary file is left',
  );
});

test('berth vmm restores a snapshot from its config; a refused one exits with the message', async () => {
  const a = await startEcho(dir, 'snap-e');
  const file = join(dir, 'e.snap');
  try {
    await typeInto(a.sock, 'hello', a.out);
    await controlRequest(a.sock, { cmd: 'snapshot', path: file });
  } finally {
    a.vmm.quit();
    await a.done;
  }
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
  const run = (memory: string): ReturnType<typeof spawnSync> => {
    const config = join(dir, `e-${memory}.json`);
    writeFileSync(
      config,
      JSON.stringify({ name: 'e', memory, firmware: echoGuestElf(), restore: file }),
    );
    return spawnSync(process.execPath, [cli, 'vmm', '--config', config, '--stdio'], {
      input: 'xyq',
      timeout: 60_000,
    });
  };
  const ok = run('32M');
  assert.equal(
    ok.stdout.toString(),
    'xy',
    'the guest echoes on from the snapshot, then powers off',
  );
  assert.equal(ok.status, 0, ok.stderr.toString());
  assert.match(
    ok.stderr.toString(),
    /restored .*e\.snap \(snapshot format 1, written by Berth 0\.1\.0\)/,
  );
  const refused = run('48M');
  assert.equal(refused.status, 2);
  assert.equal(refused.stdout.toString(), '');
  assert.match(
    refused.stderr.toString(),
    /^berth: snapshot .*e\.snap: it is of another board configuration \(memory: 33554432 bytes in the snapshot, 50331648 bytes here\); restore it on a machine configured like the one that took it\n$/,
  );
});

test('a snapshot with overlays freezes the disks at its instant; the guest writes on in the overlays', async () => {
  const disk = join(dir, 'f-disk.img');
  const ro = join(dir, 'f-ro.img');
  writeFileSync(disk, Buffer.alloc(1 << 20, 0x5a));
  writeFileSync(ro, Buffer.alloc(1 << 20, 0x11));
  const a = await startEcho(dir, 'snap-f', {
    disks: [{ path: disk }, { path: ro, readOnly: true }],
  });
  const overlay = join(dir, 'f-layer.qcow2');
  try {
    const bad = async (overlays: unknown, message: RegExp): Promise<void> => {
      const path = join(dir, 'f-bad.snap');
      await assert.rejects(controlRequest(a.sock, { cmd: 'snapshot', path, overlays }), message);
    };
    await bad('x', /"overlays" must be a list/);
    await bad([overlay], /overlays name 1 disks, the guest has 2/);
    await bad([null, null], /overlays\[0\] must be the absolute path of a new image/);
    await bad([overlay, overlay], /overlays\[1\] must be null \(the disk is read-only\)/);
    await bad(['rel.qcow2', null], /overlays\[0\] must be the absolute path/);
    assert.equal(existsSync(overlay), false, 'a refused request makes no overlay');
    const r = await controlRequest<{ frozen: (string | null)[] }>(a.sock, {
      cmd: 'snapshot',
      path: join(dir, 'f.snap'),
      overlays: [overlay, null],
    });
    assert.deepEqual(r.frozen, [disk, null]);
    const s = await controlRequest<VmmStatus>(a.sock, { cmd: 'status' });
    assert.equal(s.state, 'running');
    assert.deepEqual(
      s.disks.map((d) => d.path),
      [overlay, ro],
      'the status names the image the guest writes now',
    );
    const holders = readdirSync(join(dir, '.f-disk.img.berth-lock'));
    assert.ok(
      holders.length === 1 && holders[0].startsWith('ro-'),
      `the frozen disk is held read-only (as a backing file): ${holders.join(', ')}`,
    );
    assert.ok(
      readdirSync(join(dir, '.f-layer.qcow2.berth-lock')).every((h) => h.startsWith('rw-')),
      'the overlay is held read-write',
    );
  } finally {
    a.vmm.quit();
    await a.done;
  }
  assert.equal(existsSync(join(dir, '.f-disk.img.berth-lock')), false, 'locks are released');
  assert.equal(existsSync(join(dir, '.f-layer.qcow2.berth-lock')), false);
});
