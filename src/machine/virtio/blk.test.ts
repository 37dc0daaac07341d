// virtio-blk on an in-memory disk, driven through the mmio transport as the
// Linux driver would: configuration space, reads, writes, flush, discard,
// write-zeroes, GET_ID, read-only disks, unsupported and malformed requests,
// counters and saved state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';
import { Ram } from '../ram.js';
import { FakeLine } from '../devices/testIrq.js';
import { BlockBackendError, MemoryBlockBackend, type BlockBackend } from './blockBackend.js';
import {
  BLK_MAX_RANGES,
  VirtioBlk,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from './blk.js';
import { REG, VirtioMmio } from './mmio.js';
import { VirtioError } from './device.js';
import { TestDriver } from './virtioTestDriver.js';

const BASE = 0x80000000;
const DISK = 64 * 1024;

function setup(backend: BlockBackend = new MemoryBlockBackend(DISK), serial = 'berth-test-disk') {
  const ram = new Ram(BASE, 2 << 20);
  const blk = new VirtioBlk(backend, { serial });
  const logs: string[] = [];
  const t = new VirtioMmio(ram, blk, new FakeLine(), (l) => logs.push(l), 'slot 7');
  const d = new TestDriver(ram, t);
  d.init([16]);
  return { ram, blk, t, d, logs, backend };
}

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, sector % 2 ** 32, true);
  v.setUint32(12, Math.floor(sector / 2 ** 32), true);
  return h;
}

function ranges(list: [number, number, number][]): Uint8Array {
  const b = new Uint8Array(16 * list.length);
  const v = new DataView(b.buffer);
  list.forEach(([sector, count, flags], i) => {
    v.setUint32(16 * i, sector, true);
    v.setUint32(16 * i + 8, count, true);
    v.setUint32(16 * i + 12, flags, true);
  });
  return b;
}

type Env = ReturnType<typeof setup>;

/** Sends a request; returns the status byte, data read and the used length. */
function request(
  env: Env,
  type: number,
  sector: number,
  opts: { out?: Uint8Array; inLen?: number; indirect?: boolean } = {},
): { status: number; data: Uint8Array; used: number } {
  const bufs = [{ data: header(type, sector) }];
  if (opts.out) bufs.push({ data: opts.out });
  const w: { writeLen: number }[] = [];
  if (opts.inLen) w.push({ writeLen: opts.inLen });
  w.push({ writeLen: 1 });
  const addrs = env.d.submit(0, [...bufs, ...w], { indirect: opts.indirect });
  const used = env.d.takeUsed(0);
  assert.equal(used.length, 1);
  const status = env.d.bytes(addrs[addrs.length - 1], 1)[0];
  const data = opts.inLen ? env.d.bytes(addrs[0], opts.inLen) : new Uint8Array(0);
  return { status, data, used: used[0].len };
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

test('configuration space: capacity, size_max, seg_max, blk_size, discard and write-zeroes limits', () => {
  const { t } = setup();
  assert.equal(t.read(REG.deviceId, 4), 2);
  assert.equal(t.read(0x100, 4), DISK / 512);
  assert.equal(t.read(0x104, 4), 0);
  assert.equal(t.read(0x108, 4), 1 << 20);
  assert.equal(t.read(0x10c, 4), 254);
  assert.equal(t.read(0x114, 4), 512);
  assert.equal(t.read(0x124, 4), 65536, 'max_discard_sectors');
  assert.equal(t.read(0x128, 4), BLK_MAX_RANGES, 'max_discard_seg');
  assert.equal(t.read(0x12c, 4), 1, 'discard_sector_alignment');
  assert.equal(t.read(0x130, 4), 65536, 'max_write_zeroes_sectors');
  assert.equal(t.read(0x134, 4), BLK_MAX_RANGES);
  assert.equal(t.read(0x138, 1), 1, 'write_zeroes_may_unmap');
  assert.equal(t.read(0x100, 1), (DISK / 512) & 0xff, 'byte access');
  const f = t.offeredFeatures;
  for (const bit of [VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES]) {
    assert.ok(f & (1n << BigInt(bit)), `feature ${bit}`);
  }
  assert.equal(f & (1n << BigInt(VIRTIO_BLK_F_RO)), 0n);
});

test('write then read back, direct and through indirect tables, with counters', () => {
  const env = setup();
  const data = pattern(4096, 3);
  const w = request(env, VIRTIO_BLK_T_OUT, 8, { out: data });
  assert.equal(w.status, VIRTIO_BLK_S_OK);
  assert.equal(w.used, 1);
  assert.deepEqual(
    (env.backend as MemoryBlockBackend).data.subarray(8 * 512, 8 * 512 + 4096),
    data,
  );
  const r = request(env, VIRTIO_BLK_T_IN, 8, { inLen: 4096, indirect: true });
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.equal(r.used, 4097);
  assert.deepEqual(r.data, data);
  assert.deepEqual(
    { ...env.blk.counters },
    {
      requests: 2,
      readRequests: 1,
      writeRequests: 1,
      flushes: 0,
      discards: 0,
      writeZeroes: 0,
      errors: 0,
      bytesRead: 4096,
      bytesWritten: 4096,
    },
  );
});

test('a read scattered over several buffers', () => {
  const env = setup();
  const mem = env.backend as MemoryBlockBackend;
  mem.data.set(pattern(1024, 9), 0);
  const addrs = env.d.submit(0, [
    { data: header(VIRTIO_BLK_T_IN, 0) },
    { writeLen: 100 },
    { writeLen: 924 },
    { writeLen: 1 },
  ]);
  assert.deepEqual(env.d.takeUsed(0), [{ id: 0, len: 1025 }]);
  assert.deepEqual(env.d.bytes(addrs[0], 100), pattern(1024, 9).subarray(0, 100));
  assert.deepEqual(env.d.bytes(addrs[1], 924), pattern(1024, 9).subarray(100));
  assert.equal(env.d.bytes(addrs[2], 1)[0], VIRTIO_BLK_S_OK);
});

test('requests past the end or not in whole sectors get IOERR', () => {
  const env = setup();
  assert.equal(
    request(env, VIRTIO_BLK_T_IN, DISK / 512, { inLen: 512 }).status,
    VIRTIO_BLK_S_IOERR,
  );
  assert.equal(
    request(env, VIRTIO_BLK_T_IN, DISK / 512 - 1, { inLen: 1024 }).status,
    VIRTIO_BLK_S_IOERR,
  );
  assert.equal(request(env, VIRTIO_BLK_T_IN, 2 ** 60, { inLen: 512 }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(
    request(env, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(100) }).status,
    VIRTIO_BLK_S_IOERR,
  );
  assert.equal(env.blk.counters.errors, 4);
  assert.equal(env.t.needsReset, false);
});

test('flush calls the backend', () => {
  const backend = new MemoryBlockBackend(DISK);
  let flushes = 0;
  backend.flush = () => void flushes++;
  const env = setup(backend);
  assert.equal(request(env, VIRTIO_BLK_T_FLUSH, 0).status, VIRTIO_BLK_S_OK);
  assert.equal(flushes, 1);
  assert.equal(env.blk.counters.flushes, 1);
});

test('discard and write-zeroes clear their ranges; bad ranges get IOERR or UNSUPP', () => {
  const env = setup();
  const mem = env.backend as MemoryBlockBackend;
  mem.data.fill(0xaa);
  const r1 = request(env, VIRTIO_BLK_T_DISCARD, 0, {
    out: ranges([
      [2, 2, 0],
      [10, 1, 0],
    ]),
  });
  assert.equal(r1.status, VIRTIO_BLK_S_OK);
  assert.ok(mem.data.subarray(1024, 2048).every((b) => b === 0));
  assert.ok(mem.data.subarray(5120, 5632).every((b) => b === 0));
  assert.equal(mem.data[1023], 0xaa);
  assert.equal(mem.data[2048], 0xaa);
  const r2 = request(env, VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: ranges([[20, 3, 1]]) });
  assert.equal(r2.status, VIRTIO_BLK_S_OK);
  assert.ok(mem.data.subarray(20 * 512, 23 * 512).every((b) => b === 0));
  assert.equal(mem.data[23 * 512], 0xaa);
  assert.equal(
    request(env, VIRTIO_BLK_T_DISCARD, 0, { out: ranges([[127, 2, 0]]) }).status,
    VIRTIO_BLK_S_IOERR,
  );
  assert.equal(
    request(env, VIRTIO_BLK_T_DISCARD, 0, { out: ranges([[1, 1, 1]]) }).status,
    VIRTIO_BLK_S_UNSUPP,
  );
  assert.equal(
    request(env, VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: ranges([[1, 1, 2]]) }).status,
    VIRTIO_BLK_S_UNSUPP,
  );
  assert.equal(
    request(env, VIRTIO_BLK_T_DISCARD, 0, { out: new Uint8Array(10) }).status,
    VIRTIO_BLK_S_IOERR,
  );
  const many = ranges(
    Array.from({ length: BLK_MAX_RANGES + 1 }, (_, i) => [i, 1, 0] as [number, number, number]),
  );
  assert.equal(request(env, VIRTIO_BLK_T_DISCARD, 0, { out: many }).status, VIRTIO_BLK_S_IOERR);
  assert.equal(env.blk.counters.discards, 5);
  assert.equal(env.blk.counters.writeZeroes, 2);
});

test('a backend without discard / write-zeroes: features off, requests UNSUPP', () => {
  const mem = new MemoryBlockBackend(DISK);
  const plain: BlockBackend = {
    size: mem.size,
    readOnly: false,
    read: (o, d) => mem.read(o, d),
    write: (o, d) => mem.write(o, d),
    flush: () => {},
  };
  const env = setup(plain);
  assert.equal(env.t.offeredFeatures & (1n << BigInt(VIRTIO_BLK_F_DISCARD)), 0n);
  assert.equal(env.t.offeredFeatures & (1n << BigInt(VIRTIO_BLK_F_WRITE_ZEROES)), 0n);
  assert.equal(env.t.read(0x124, 4), 0);
  assert.equal(
    request(env, VIRTIO_BLK_T_DISCARD, 0, { out: ranges([[0, 1, 0]]) }).status,
    VIRTIO_BLK_S_UNSUPP,
  );
  assert.equal(
    request(env, VIRTIO_BLK_T_WRITE_ZEROES, 0, { out: ranges([[0, 1, 0]]) }).status,
    VIRTIO_BLK_S_UNSUPP,
  );
});

test('GET_ID returns the serial, zero-padded to 20 bytes', () => {
  const env = setup(undefined, 'disk-42');
  const r = request(env, VIRTIO_BLK_T_GET_ID, 0, { inLen: 20 });
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.equal(r.used, 21);
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode('disk-42'));
  assert.deepEqual(r.data, id);
  assert.throws(
    () => new VirtioBlk(new MemoryBlockBackend(DISK), { serial: 'x'.repeat(21) }),
    VirtioError,
  );
});

test('a read-only disk offers RO and no discard, answers writes with IOERR, still reads', () => {
  const backend = new MemoryBlockBackend(DISK, true);
  backend.data.fill(0x55);
  const env = setup(backend);
  const f = env.t.offeredFeatures;
  assert.ok(f & (1n << BigInt(VIRTIO_BLK_F_RO)));
  assert.equal(f & (1n << BigInt(VIRTIO_BLK_F_DISCARD)), 0n);
  assert.equal(f & (1n << BigInt(VIRTIO_BLK_F_WRITE_ZEROES)), 0n);
  assert.equal(
    request(env, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(512) }).status,
    VIRTIO_BLK_S_IOERR,
  );
  assert.notEqual(
    request(env, VIRTIO_BLK_T_DISCARD, 0, { out: ranges([[0, 1, 0]]) }).status,
    VIRTIO_BLK_S_OK,
  );
  assert.equal(backend.data[0], 0x55);
  const r = request(env, VIRTIO_BLK_T_IN, 0, { inLen: 512 });
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.equal(r.data[511], 0x55);
  assert.equal(request(env, VIRTIO_BLK_T_FLUSH, 0).status, VIRTIO_BLK_S_OK);
});

test('unknown request types get UNSUPP', () => {
  const env = setup();
  assert.equal(request(env, 99, 0).status, VIRTIO_BLK_S_UNSUPP);
  assert.equal(
    request(env, 14 /* secure erase, not offered */, 0, { out: ranges([[0, 1, 0]]) }).status,
    VIRTIO_BLK_S_UNSUPP,
  );
  assert.equal(env.t.needsReset, false);
});

test('a request without a full header or without a status byte puts the device into NEEDS_RESET', () => {
  for (const bufs of [
    [{ data: new Uint8Array(8) }, { writeLen: 1 }],
    [{ data: header(VIRTIO_BLK_T_IN, 0) }],
  ]) {
    const env = setup();
    env.d.submit(0, bufs);
    assert.equal(env.t.needsReset, true);
    assert.equal(env.logs.length, 1);
    assert.match(env.logs[0], /virtio-blk at slot 7: .*(header|status)/);
    assert.equal(env.d.takeUsed(0).length, 0);
  }
});

test('a backend error answers IOERR and leaves the device working', () => {
  const env = setup();
  const mem = env.backend as MemoryBlockBackend;
  const read = mem.read.bind(mem);
  mem.read = () => {
    throw new BlockBackendError('the image file went away');
  };
  assert.equal(request(env, VIRTIO_BLK_T_IN, 0, { inLen: 512 }).status, VIRTIO_BLK_S_IOERR);
  mem.read = read;
  assert.equal(request(env, VIRTIO_BLK_T_IN, 0, { inLen: 512 }).status, VIRTIO_BLK_S_OK);
  assert.equal(env.t.needsReset, false);
});

test('a disk restores with its transport; its counters are not state', () => {
  const env = setup();
  request(env, VIRTIO_BLK_T_OUT, 0, { out: new Uint8Array(1024) });
  const other = setup();
  const s = assertRoundTrip(env.t, other.t);
  assert.deepEqual(s.device, { id: 'virtio-blk', version: 1, state: {} });
  assert.equal(s.queues[0].ready, true);
  assert.equal(other.blk.counters.requests, 0);
  assertRefused(other.blk, { requests: 1 }, /requests is not part of this state/);
  assertMutationsRefused(other.t);
});
