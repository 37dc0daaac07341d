import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHostname, installedPackages, seedMetaData } from './debianDistro.js';

test('the NoCloud meta-data: a new instance ID each time, the host name, the key as given', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2v "quoted" user@host';
  const a = seedMetaData({ hostname: 'web-1', sshPublicKey: key }).split('\n');
  const b = seedMetaData({ hostname: 'web-1' }).split('\n');
  assert.equal(a[1], 'local-hostname: web-1');
  // A YAML double-quoted scalar is JSON's string syntax: the key comes back as it was.
  assert.deepEqual(a.slice(2, 4), ['public-keys:', `  - ${JSON.stringify(key)}`]);
  assert.equal(JSON.parse(a[3].slice(4)), key);
  assert.equal(b.length, 3, 'no keys: no public-keys');
  assert.match(a[0], /^instance-id: berth-[0-9a-f]{16}$/);
  assert.notEqual(a[0], b[0]);
});

test('host names: letters, digits and inner hyphens up to 63; others are refused by name', () => {
  for (const ok of ['debian', 'a', 'web-01', 'X'.repeat(63)]) assert.equal(checkHostname(ok), ok);
  for (const bad of ['', '-a', 'a-', 'a_b', 'a.b', 'x'.repeat(64), 'a b']) {
    assert.throws(() => checkHostname(bad), /--hostname: .* is not a host name/);
  }
});

test('installed packages are read from a dpkg status file; removed ones are left out', () => {
  const status = [
    'Package: apt\nStatus: install ok installed\nVersion: 3.0.3\n',
    'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n',
    'Package: systemd\nStatus: install ok installed\nVersion: 257.9-1~deb13u1\nDescription: x\n more\n',
  ].join('\n');
  assert.deepEqual(installedPackages(status), [
    { name: 'apt', version: '3.0.3' },
    { name: 'systemd', version: '257.9-1~deb13u1' },
  ]);
});
