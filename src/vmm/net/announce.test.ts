// The RARP announcements a migrated guest's VMM sends on its TAP card.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryNetBackend } from '../../machine/virtio/netBackend.js';
import { ANNOUNCE_AT_MS, announceGuest, rarpFrame } from './announce.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

test('a RARP request from the MAC to everyone, 60 bytes, as RFC 903 lays it out', () => {
  const f = rarpFrame(MAC);
  assert.equal(f.length, 60);
  const hex = Buffer.from(f.subarray(0, 42)).toString('hex');
  assert.equal(
    hex,
    'ffffffffffff' +
      '525400123456' +
      '8035' +
      '0001' +
      '0800' +
      '06' +
      '04' +
      '0003' +
      '525400123456' +
      '00000000' +
      '525400123456' +
      '00000000',
  );
  assert.ok(
    f.subarray(42).every((b) => b === 0),
    'padded with zeros',
  );
  assert.throws(() => rarpFrame(MAC.subarray(0, 5)), RangeError);
});

test('five announcements, 100 ms apart after 50 ms', async () => {
  const net = new MemoryNetBackend();
  const t0 = performance.now();
  const times: number[] = [];
  const send = net.send.bind(net);
  net.send = (f) => {
    times.push(performance.now() - t0);
    send(f);
  };
  announceGuest(net, MAC, () => {});
  await new Promise((r) => setTimeout(r, ANNOUNCE_AT_MS.at(-1)! + 200));
  assert.equal(net.sent.length, 5);
  for (const f of net.sent) assert.deepEqual(f, rarpFrame(MAC));
  times.forEach((t, i) => assert.ok(t >= ANNOUNCE_AT_MS[i] - 1, `frame ${i} at ${t} ms`));
});
