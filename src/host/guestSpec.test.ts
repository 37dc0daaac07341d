// The guest spec: defaults filled in, every kind of boot accepted, and one message naming the
// field for each kind of mistake; the state machine allows only libvirt-like transitions.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostError } from './errors.js';
import { bootKind, parseGuestSpec } from './guestSpec.js';
import { canTransition } from './states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fw = join(dir, 'fw.bin');
writeFileSync(fw, 'x');
const disk2 = join(dir, 'disk2.img');
writeFileSync(disk2, 'y');

test('a minimal spec gets the defaults: 256M, one vCPU, no network, Debian boot, serial console, no restart', () => {
  const s = parseGuestSpec({ name: 'web1' });
  assert.deepEqual(s, {
    name: 'web1',
    memory: 256 << 20,
    cpus: 1,
    disks: [],
    network: { kind: 'none' },
    boot: {},
    console: 'serial',
    restart: 'no',
    autostart: false,
    stopTimeout: 30,
    cpuWeight: 100,
  });
  assert.equal(bootKind(s), 'default');
  const f = parseGuestSpec({
    name: 'a',
    memory: '64M',
    boot: { firmware: fw, append: 'quiet' },
    network: { kind: 'user', forwards: ['8080:80'] },
    restart: 'always',
  });
  assert.equal(bootKind(f), 'files');
  assert.equal(f.memory, 64 << 20);
  assert.deepEqual(f.network, {
    kind: 'user',
    forwards: [{ proto: 'tcp', hostPort: 8080, guestPort: 80 }],
  });
  const t = parseGuestSpec({
    name: 'b',
    network: { kind: 'tap', bridge: 'br0', mac: '52-54-00-AB-CD-EF' },
  });
  assert.deepEqual(t.network, { kind: 'tap', bridge: 'br0', mac: '52:54:00:ab:cd:ef' });
});

test('each mistake gets one message naming its field', () => {
  const bad: [unknown, RegExp][] = [
    [null, /^spec: /],
    [[], /^spec: /],
    [{}, /^name: /],
    [{ name: 'a b' }, /^name: /],
    [{ name: 'a', memory: '3.5M' }, /^memory: /],
    [{ name: 'a', memory: 0 }, /^memory: /],
    [{ name: 'a', memory: '64M' }, /^memory: Debian's kernel needs at least 96M .* has 64M/],
    [{ name: 'a', boot: { firmware: 'fw' } }, /^boot\.firmware: give an absolute path/],
    [
      { name: 'a', boot: { firmware: fw, kernel: join(dir, 'none') } },
      /^boot\.kernel: no such file/,
    ],
    [{ name: 'a', boot: { image: dir } }, /^boot\.image: .*not a built image/],
    [{ name: 'a', boot: { initrd: fw } }, /^boot\.firmware: /],
    [{ name: 'a', boot: { colour: 'red' } }, /^boot: .*\{image: DIR\}/],
    [{ name: 'a', disks: [{ path: fw }, { path: fw }] }, /^disks: .* named twice/],
    [{ name: 'a', network: { kind: 'none', forwards: [] } }, /^network/],
    [{ name: 'a', network: { kind: 'tap' } }, /^network\.bridge: /],
    [
      { name: 'a', network: { kind: 'tap', bridge: 'br 0' } },
      /^network\.bridge: a Linux interface name/,
    ],
    [{ name: 'a', network: { kind: 'tap', bridge: 'a'.repeat(16) } }, /^network\.bridge: /],
    [{ name: 'a', network: { kind: 'tap', bridge: 'br0', forwards: [] } }, /^network.*forwards/],
    [
      { name: 'a', network: { kind: 'user', mac: '52:54:00:12:34' } },
      /^network\.mac: .*not a MAC address/,
    ],
    [
      { name: 'a', network: { kind: 'user', mac: '01:00:5e:00:00:01' } },
      /^network\.mac: .*multicast/,
    ],
    [
      { name: 'a', network: { kind: 'user', mac: '00:00:00:00:00:00' } },
      /^network\.mac: .*not a usable address/,
    ],
    [
      {
        name: 'a',
        network: { kind: 'user', forwards: Array.from({ length: 33 }, (_, i) => `${i + 1}`) },
      },
      /^network\.forwards: at most 32 port forwards/,
    ],
    [{ name: 'a', cpuWeight: 0 }, /^cpuWeight: .*between 1 and 10000/],
    [{ name: 'a', cpuWeight: 1.5 }, /^cpuWeight: .*whole number/],
    [{ name: 'a', vmmMemoryLimit: '1K' }, /^vmmMemoryLimit: /],
    [{ name: 'a', disks: [{ path: fw, bus: 'isa' }] }, /^disks\.0\.bus: bus is 'mmio' .* or 'pci'/],
    [{ name: 'a', disks: [{ path: fw, slot: 3 }] }, /^disks\.0: Unrecognized key: "slot"/],
    [{ name: 'a', network: { kind: 'user', bus: 'usb' } }, /^network\.bus: bus is 'mmio'/],
    [{ name: 'a', network: { kind: 'tap', bridge: 'br0', bus: 1 } }, /^network\.bus: /],
    [
      { name: 'a', network: { kind: 'none', bus: 'pci' } },
      /^network\.bus: there is no network card \(kind: none\) to put on a bus/,
    ],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => parseGuestSpec(input),
      (e: unknown) => {
        assert.ok(e instanceof HostError && e.status === 400, String(e));
        assert.match(e.message, message, JSON.stringify(input));
        return true;
      },
    );
  }
});

test('disks and the network card on PCI: bus kept as given, absent means a virtio slot', () => {
  const s = parseGuestSpec({
    name: 'p',
    disks: [
      { path: fw, bus: 'pci' },
      { path: disk2, readOnly: true, bus: 'mmio' },
    ],
    network: { kind: 'user', bus: 'pci' },
  });
  assert.deepEqual(s.disks, [
    { path: fw, readOnly: false, bus: 'pci' },
    { path: disk2, readOnly: true, bus: 'mmio' },
  ]);
  assert.deepEqual(s.network, { kind: 'user', forwards: [], bus: 'pci' });
  // No bus is filled in, so a spec reads the same as before PCI (and as stored then).
  const old = parseGuestSpec({ name: 'o', disks: [{ path: fw }], network: { kind: 'user' } });
  assert.equal('bus' in old.disks[0], false);
  assert.equal('bus' in old.network, false);
  const tap = parseGuestSpec({ name: 't', network: { kind: 'tap', bridge: 'br0', bus: 'pci' } });
  assert.deepEqual(tap.network, { kind: 'tap', bridge: 'br0', bus: 'pci' });
});

test('devices that do not fit the virtio slots are refused at once; on PCI they fit', () => {
  const five = ['1', '2', '3', '4', '5'].map((n) => {
    const path = join(dir, `${n}.img`);
    writeFileSync(path, n);
    return { path };
  });
  const spec = { name: 's', disks: five, network: { kind: 'user' }, console: 'virtio' };
  assert.throws(
    () => parseGuestSpec(spec),
    (e: unknown) =>
      e instanceof HostError &&
      e.status === 400 &&
      e.message ===
        'disks: 5 disks, the network card, the virtio console, the rng, the power button take ' +
          "9 virtio slots and the board has 8; put disks or the network card on PCI (bus: 'pci')",
  );
  assert.equal(parseGuestSpec({ ...spec, network: { kind: 'user', bus: 'pci' } }).name, 's');
  const onePci = five.map((d, i) => (i === 2 ? { ...d, bus: 'pci' } : d));
  assert.equal(parseGuestSpec({ ...spec, disks: onePci }).disks[2].bus, 'pci');
  assert.equal(parseGuestSpec({ ...spec, console: 'serial' }).name, 's');
});

test('states: only the transitions a supervisor makes', () => {
  assert.ok(canTransition('stopped', 'starting'));
  assert.ok(canTransition('running', 'crashed'));
  assert.ok(canTransition('crashed', 'starting'));
  assert.ok(!canTransition('stopped', 'running'));
  assert.ok(!canTransition('stopped', 'paused'));
  assert.ok(!canTransition('paused', 'starting'));
  assert.ok(canTransition('stopping', 'running')); // a graceful stop cancelled
  assert.ok(!canTransition('stopping', 'paused'));
});
