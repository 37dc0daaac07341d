// Disk image locks: one writer or many readers, across processes; stale locks
// of killed processes are taken over; backing files of qcow2 clones are held
// read-only; nothing is left behind after a clean close.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { acquireDiskLock, DiskLockError, lockDirs } from './diskLock.js';
import { openDisk } from './openDisk.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-disklock-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function rawImage(): string {
  const p = join(dir, `disk${n++}.img`);
  writeFileSync(p, new Uint8Array(1 << 20));
  return p;
}

function holderFiles(image: string): string[] {
  const { primary, fallback } = lockDirs(image);
  const list = (d: string): string[] => (existsSync(d) ? readdirSync(d) : []);
  return [...list(primary), ...list(fallback)];
}

/** A child node process that holds locks until told to close or killed. */
class Holder {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<string>;
  private out = '';

  /** `code` runs in the child with `openDisk`, `acquireDiskLock` and `held` (an array) in scope. */
  constructor(code: string, uid?: number) {
    const here = new URL('.', import.meta.url).href;
    const script = `
      const { openDisk } = await import(${JSON.stringify(here + 'openDisk.js')});
      const { acquireDiskLock } = await import(${JSON.stringify(here + 'diskLock.js')});
      const held = [];
      try {
        ${code}
        process.stdout.write('ready\\n');
      } catch (e) {
        process.stdout.write('error: ' + e.message + '\\n');
      }
      process.stdin.on('data', (d) => {
        if (String(d).includes('close')) for (const h of held) (h.close ?? h.release).call(h);
        if (String(d).includes('exit')) process.exit(0);
      });
      process.stdin.on('end', () => process.exit(0));
    `;
    this.child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.stdout.on('data', (d: Buffer) => {
        this.out += d.toString();
        if (this.out.includes('\n')) resolve(this.out.trim());
      });
      this.child.on('exit', (code) => reject(new Error(`holder exited (${code}): ${this.out}`)));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  async exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise((resolve) => this.child.once('exit', resolve));
  }

  /** Tells the child to close what it holds and exit. */
  async close(): Promise<void> {
    this.child.stdin.write('close\nexit\n');
    await this.exited();
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited();
  }
}

function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DiskLockError, `expected a DiskLockError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a second writer is refused with a message naming the image and the holder', async () => {
  const img = rawImage();
  const h = new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`);
  try {
    assert.equal(await h.ready, 'ready');
    refused(
      () => openDisk(img, false),
      new RegExp(`disk image ${esc(img)} is in use: process ${h.pid} .*read-write.*stop that`),
    );
    // A reader is refused too: the image changes under it.
    refused(() => openDisk(img, true), new RegExp(`process ${h.pid} .*change under it`));
  } finally {
    await h.close();
  }
  // Released by the holder's close(): no files left, and it opens again.
  assert.deepEqual(holderFiles(img), []);
  assert.equal(existsSync(lockDirs(img).primary), false);
  openDisk(img, false).close();
});

test('readers share an image; a writer is refused while they hold it', async () => {
  const img = rawImage();
  const h = new Holder(`held.push(openDisk(${JSON.stringify(img)}, true));`);
  try {
    assert.equal(await h.ready, 'ready');
    const a = openDisk(img, true);
    const b = openDisk(img, true);
    assert.equal(holderFiles(img).length, 3);
    refused(
      () => openDisk(img, false),
      new RegExp(`process ${h.pid} .*read-only.*attach it read-only here too with ,ro`),
    );
    a.close();
    b.close();
    refused(() => openDisk(img, false), new RegExp(`process ${h.pid} `));
  } finally {
    await h.close();
  }
  openDisk(img, false).close();
  assert.deepEqual(holderFiles(img), []);
});

test('within one process: the same image attached twice read-write is refused', () => {
  const img = rawImage();
  const a = openDisk(img, false);
  try {
    refused(
      () => openDisk(img, false),
      new RegExp(`this process \\(PID ${process.pid}\\).*attached twice`),
    );
    refused(() => acquireDiskLock(img, 'ro'), /this process/);
  } finally {
    a.close();
  }
  const lock = acquireDiskLock(img, 'rw');
  lock.release();
  lock.release(); // idempotent
  assert.deepEqual(holderFiles(img), []);
});

test('the lock of a SIGKILLed process is stale and taken over', async () => {
  const img = rawImage();
  const h = new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`);
  assert.equal(await h.ready, 'ready');
  refused(() => openDisk(img, false), new RegExp(`process ${h.pid} `));
  await h.kill();
  assert.equal(holderFiles(img).length, 1, 'the killed process could not clean up');
  const d = openDisk(img, false);
  assert.equal(holderFiles(img).length, 1, 'the stale holder file is gone, ours is there');
  assert.match(holderFiles(img)[0], new RegExp(`^rw-${process.pid}-`));
  d.close();
  assert.deepEqual(holderFiles(img), []);
});

test('a killed holder that its parent has not reaped yet (a zombie) is stale too', async () => {
  const img = rawImage();
  const here = new URL('.', import.meta.url).href;
  const script = `
    const { openDisk } = await import(${JSON.stringify(here + 'openDisk.js')});
    openDisk(${JSON.stringify(img)}, false);
    process.stdout.write(process.pid + '\\n');
    setInterval(() => {}, 1000);
  `;
  // sh starts node and becomes sleep, which never reaps it.
  const sh = spawn('sh', ['-c', 'node --input-type=module -e "$0" & exec sleep 30', script]);
  try {
    const pid = Number(
      await new Promise<string>((resolve) =>
        sh.stdout.once('data', (d: Buffer) => resolve(d.toString())),
      ),
    );
    refused(() => openDisk(img, false), new RegExp(`process ${pid} `));
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (!readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) {
      assert.ok(Date.now() < deadline, 'the holder becomes a zombie');
      await new Promise((r) => setTimeout(r, 20));
    }
    openDisk(img, false).close();
  } finally {
    sh.kill('SIGKILL');
  }
});

test('a process that exits without closing leaves no lock files', async () => {
  const img = rawImage();
  const h = new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`);
  assert.equal(await h.ready, 'ready');
  h.child.stdin.write('exit\n');
  await h.exited();
  assert.deepEqual(holderFiles(img), []);
});

test('a lock file whose PID was reused by another process is stale', () => {
  const img = rawImage();
  const { primary } = lockDirs(img);
  execFileSync('mkdir', ['-p', primary]);
  // Our own PID, but a start time that is not ours: a dead holder whose PID came back.
  const record = {
    pid: process.pid,
    start: 1,
    bootId: null,
    pidNs: null,
    host: hostname(),
    mode: 'rw',
    cmd: 'old',
    image: img,
    since: new Date(0).toISOString(),
  };
  writeFileSync(join(primary, `rw-${process.pid}-abcdef`), JSON.stringify(record));
  const lock = acquireDiskLock(img, 'rw');
  assert.deepEqual(holderFiles(img), [basename(lock.file)]);
  lock.release();
});

test('a holder on another host cannot be checked: refused, naming the lock file to remove', () => {
  const img = rawImage();
  const { primary } = lockDirs(img);
  execFileSync('mkdir', ['-p', primary]);
  const file = join(primary, 'rw-4242-0123ab');
  writeFileSync(
    file,
    JSON.stringify({
      pid: 4242,
      start: 5,
      bootId: 'elsewhere',
      pidNs: null,
      host: 'some-other-host',
      mode: 'rw',
      cmd: 'berth run',
      image: img,
      since: new Date(0).toISOString(),
    }),
  );
  refused(
    () => openDisk(img, true),
    new RegExp(
      `process 4242 \\(berth run\\) on host some-other-host.*remove the stale lock file ${esc(file)}`,
    ),
  );
  rmSync(file);
  openDisk(img, true).close();
});

test('the backing file of an open qcow2 clone is held read-only', async () => {
  const base = join(dir, 'base.qcow2');
  const clone = join(dir, 'clone.qcow2');
  const clone2 = join(dir, 'clone2.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '1M']);
  for (const c of [clone, clone2]) {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', c]);
  }
  const h = new Holder(`held.push(openDisk(${JSON.stringify(clone)}, false));`);
  try {
    assert.equal(await h.ready, 'ready');
    refused(
      () => openDisk(base, false),
      new RegExp(
        `disk image ${esc(base)} is in use: process ${h.pid} .*read-only as the backing file of ${esc(clone)}`,
      ),
    );
    refused(() => openDisk(clone, true), new RegExp(`${esc(clone)} is in use`));
    // Other readers of the base, and other clones of it, are fine.
    const r = openDisk(base, true);
    const c2 = openDisk(clone2, false);
    c2.write(0, new Uint8Array(512).fill(7));
    c2.close();
    r.close();
  } finally {
    await h.close();
  }
  // A writer of the base keeps clones from opening.
  const w = openDisk(base, false);
  refused(() => openDisk(clone2, false), new RegExp(`${esc(base)} is in use: this process`));
  assert.deepEqual(holderFiles(clone2), [], 'the clone is unlocked again after the refusal');
  w.close();
  for (const f of [base, clone, clone2]) assert.deepEqual(holderFiles(f), []);
});

test('holders in the fallback directory and next to the image see each other', async () => {
  const img = rawImage();
  const { fallback } = lockDirs(img);
  const h = new Holder(
    `held.push(acquireDiskLock(${JSON.stringify(img)}, 'rw', { fallbackOnly: true }));`,
  );
  try {
    assert.equal(await h.ready, 'ready');
    assert.equal(readdirSync(fallback).length, 1);
    refused(() => openDisk(img, true), new RegExp(`process ${h.pid} `));
  } finally {
    await h.close();
  }
  assert.equal(existsSync(fallback), false);
  const mine = acquireDiskLock(img, 'ro');
  refused(
    () => acquireDiskLock(img, 'rw', { fallbackOnly: true }),
    /this process.*read-only.*attached twice/,
  );
  mine.release();
});

test(
  "a user who cannot write the image's directory locks it in the fallback directory",
  { skip: process.getuid?.() !== 0 && 'needs root, to run a holder as nobody' },
  async () => {
    const shared = join(dir, 'shared');
    execFileSync('mkdir', ['-m', '755', shared]);
    execFileSync('chmod', ['755', dir]);
    const img = join(shared, 'disk.img');
    writeFileSync(img, new Uint8Array(1 << 20), { mode: 0o666 });
    execFileSync('chmod', ['666', img]);
    const h = new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`, 65534);
    try {
      assert.equal(await h.ready, 'ready');
      assert.equal(existsSync(lockDirs(img).primary), false);
      assert.equal(readdirSync(lockDirs(img).fallback).length, 1);
      refused(() => openDisk(img, true), new RegExp(`process ${h.pid} .*read-write`));
    } finally {
      await h.close();
    }
    assert.deepEqual(holderFiles(img), []);
    // And the other way round: the holder next to the image keeps nobody out.
    const mine = openDisk(img, true);
    const h2 = new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`, 65534);
    try {
      assert.match(
        await h2.ready,
        new RegExp(`^error: disk image .* is in use: process ${process.pid} `),
      );
    } finally {
      await h2.close();
      mine.close();
    }
  },
);

test('of several processes racing for the write lock, exactly one gets it', async () => {
  const img = rawImage();
  const hs = Array.from(
    { length: 4 },
    () => new Holder(`held.push(openDisk(${JSON.stringify(img)}, false));`),
  );
  try {
    const results = await Promise.all(hs.map((h) => h.ready));
    assert.equal(results.filter((r) => r === 'ready').length, 1, results.join('\n'));
    for (const r of results.filter((x) => x !== 'ready')) assert.match(r, /is in use: process/);
  } finally {
    await Promise.all(hs.map((h) => h.close()));
  }
  assert.deepEqual(holderFiles(img), []);
});
