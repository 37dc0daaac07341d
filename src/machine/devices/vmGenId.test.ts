// VM generation ID device: the 16 bytes at any width, the interrupt from a new ID until the
// guest reads it, saved state (round trip, refusals that change nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmGenId } from './vmGenId.js';
import { FakeLine } from './testIrq.js';
import {
  assertMutationsRefused,
  assertRefused,
  assertRoundTrip,
} from '../../../test/support/persistence.js';

const ID = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i); // 10 11 12 .. 1f

test('the ID reads byte by byte at offsets 0..15, little-endian at wider widths', () => {
  const d = new VmGenId(new FakeLine(), ID);
  for (let i = 0; i < 16; i++) assert.equal(d.read(i, 1), 0x10 + i);
  assert.equal(d.read(0, 2), 0x1110);
  assert.equal(d.read(4, 4), 0x17161514);
  assert.equal(d.read(12, 4), 0x1f1e1d1c);
  assert.equal(d.read(14, 4), 0, 'an access past the 16 bytes reads 0');
  assert.equal(d.read(16, 4), 0);
  assert.equal(d.read(0xffc, 4), 0);
  d.write(0, 4, 0xffffffff);
  assert.equal(d.read(0, 4), 0x13121110, 'writes are ignored');
  assert.deepEqual(new VmGenId().id, new Uint8Array(16), 'zeros without an ID');
  assert.throws(() => new VmGenId(new FakeLine(), new Uint8Array(8)), RangeError);
});

test('a new ID raises the interrupt until the guest reads the ID', () => {
  const line = new FakeLine();
  const d = new VmGenId(line, ID);
  assert.equal(line.level, false, 'no interrupt for the first ID');
  const next = ID.map((b) => b ^ 0xff);
  d.setId(next);
  assert.equal(line.level, true);
  assert.equal(d.pending, true);
  assert.equal(d.read(0x20, 4), 0, 'a read outside the ID does not acknowledge');
  assert.equal(line.level, true);
  assert.equal(d.read(0, 4), 0xecedeeef);
  assert.equal(line.level, false, 'reading the ID (the driver does in its handler) lowers it');
  assert.equal(d.pending, false);
  assert.deepEqual(d.id, next);
  assert.throws(() => d.setId(new Uint8Array(17)), RangeError);
  assert.deepEqual(d.id, next, 'a bad ID changes nothing');
});

test('state round trip, with a notification pending, drives the line again', () => {
  const a = new VmGenId(new FakeLine(), ID);
  a.setId(ID.map((b) => b + 1));
  const line = new FakeLine();
  const b = new VmGenId(line);
  const s = assertRoundTrip(a, b);
  assert.deepEqual(s, { id: '1112131415161718191a1b1c1d1e1f20', notifying: true });
  assert.equal(line.level, true);
  assert.deepEqual(b.id, a.id);
});

test('bad states are refused and change nothing', () => {
  const d = new VmGenId(new FakeLine(), ID);
  const good = d.saveState();
  assertRefused(d, { ...good, id: good.id.slice(2) }, /id must be 16 to 16 bytes/);
  assertRefused(d, { ...good, id: good.id.toUpperCase() }, /id must be bytes as lowercase hex/);
  assertRefused(d, { ...good, notifying: 1 }, /notifying must be true or false/);
  assertRefused(d, { ...good, extra: 0 }, /extra/);
  assert.ok(assertMutationsRefused(d) > 4);
  assert.deepEqual(d.id, ID);
});
