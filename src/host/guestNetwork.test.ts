// A guest's card: the MAC derived from its name is stable, locally administered and unicast;
// no two guests with TAP cards get the same one, and a MAC given that another TAP card has is
// refused; the VMM's `net` carries the MAC and, for a TAP card, the device handed over; TAP
// device names fit Linux's 15 characters and differ between state folders.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVmmConfig } from '../vmm/config.js';
import { HostError } from './errors.js';
import { guestMac, tapDeviceName, TAP_FD, vmmNet, withMac } from './guestNetwork.js';
import { parseGuestSpec, type GuestSpec } from './guestSpec.js';

const tap = (name: string, mac?: string): GuestSpec =>
  parseGuestSpec({ name, network: { kind: 'tap', bridge: 'br0', ...(mac ? { mac } : {}) } });

test('the MAC derived from a name: stable, 52:54:00 in front, different names differ', () => {
  const a = guestMac('web1');
  assert.equal(a, guestMac('web1'));
  assert.match(a, /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.notEqual(a, guestMac('web2'));
  assert.notEqual(a, guestMac('web1', 1));
  const first = parseInt(a.slice(0, 2), 16);
  assert.equal(first & 2, 2, 'locally administered');
  assert.equal(first & 1, 0, 'unicast');
});

test('withMac: filled in for user and tap cards; a clash among TAP cards is avoided or refused', () => {
  const w = withMac(tap('w'), []);
  assert.equal(w.network.kind === 'tap' && w.network.mac, guestMac('w'));
  const user = withMac(parseGuestSpec({ name: 'u', network: { kind: 'user' } }), []);
  assert.equal(user.network.kind === 'user' && user.network.mac, guestMac('u'));
  const none = parseGuestSpec({ name: 'n' });
  assert.deepEqual(withMac(none, []), none);
  // another TAP card holds w's derived MAC: w gets the next one derived from its name
  const holder = withMac(tap('h', guestMac('w')), []);
  const w2 = withMac(tap('w'), [holder]);
  assert.equal(w2.network.kind === 'tap' && w2.network.mac, guestMac('w', 1));
  // a user card with the same MAC is no clash (its network is the VMM's own)
  const u2 = withMac(parseGuestSpec({ name: 'u2', network: { kind: 'user' } }), [holder]);
  assert.equal(u2.network.kind === 'user' && u2.network.mac, guestMac('u2'));
  assert.throws(
    () => withMac(tap('x', guestMac('w')), [holder]),
    (e: unknown) =>
      e instanceof HostError &&
      e.status === 409 &&
      /^network\.mac: 52:54:00:.* is the card of guest 'h' already/.test(e.message),
  );
  // a spec stored without a MAC counts with the one derived from its name
  assert.throws(() => withMac(tap('y', guestMac('old')), [tap('old')]), /guest 'old'/);
});

test("vmmNet: the VMM's card, with the device handed over for a TAP card", () => {
  const t = withMac(tap('t'), []);
  const net = vmmNet(t, 'berth0123456789');
  assert.deepEqual(net, {
    kind: 'tap',
    bridge: 'br0',
    mac: guestMac('t'),
    device: { fd: TAP_FD, name: 'berth0123456789' },
  });
  assert.deepEqual(parseVmmConfig({ firmware: '/f', net }).net, net, 'the VMM accepts it');
  assert.throws(() => vmmNet(t), /needs its device/);
  const u = parseGuestSpec({ name: 'u', network: { kind: 'user', forwards: ['8080:80'] } });
  assert.deepEqual(vmmNet(u), {
    kind: 'user',
    forwards: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }],
    mac: guestMac('u'),
  });
});

test('TAP device names: 15 characters, per state folder and guest', () => {
  const a = tapDeviceName('/var/lib/berth', 'web1');
  assert.match(a, /^berth[0-9a-f]{10}$/);
  assert.equal(a, tapDeviceName('/var/lib/berth/', 'web1'));
  assert.notEqual(a, tapDeviceName('/var/lib/berth', 'web2'));
  assert.notEqual(a, tapDeviceName('/tmp/other', 'web1'));
});
