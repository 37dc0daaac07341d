// Tests of the control-file syntax helpers: stanzas, relations and Debian version ordering.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compareVersions,
  parseRelations,
  parseStanza,
  parseStanzas,
  satisfies,
} from './control.js';

test('stanzas: fields, continuation lines, blank-line separation', () => {
  const s = parseStanza(
    'Package: a\nDescription: short\n long line\n .\n more\nSHA256:\n 00 1 x\n 11 2 y\n',
  );
  assert.equal(s.Package, 'a');
  assert.equal(s.Description, 'short\nlong line\n.\nmore');
  assert.equal(s.SHA256, '\n00 1 x\n11 2 y');
  assert.deepEqual(
    parseStanzas('A: 1\n\nA: 2\n \t\nA: 3\n').map((x) => x.A),
    ['1', '2', '3'],
  );
});

test('relations: alternatives, versions, architecture qualifiers', () => {
  assert.deepEqual(
    parseRelations(
      'kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, libc6:any (<< 3)',
    ),
    [
      [{ name: 'kmod' }],
      [
        { name: 'initramfs-tools', op: '>=', version: '0.120+deb8u2' },
        { name: 'linux-initramfs-tool' },
      ],
      [{ name: 'libc6', arch: 'any', op: '<<', version: '3' }],
    ],
  );
  assert.deepEqual(parseRelations(undefined), []);
  assert.ok(satisfies('6.12.117-1', { name: 'x', op: '=', version: '6.12.117-1' }));
  assert.ok(!satisfies('6.12.117-1', { name: 'x', op: '>>', version: '6.12.117-1' }));
});

test('Debian version ordering', () => {
  const ordered = [
    '1.0~rc1',
    '1.0',
    '1.0-1',
    '1.0a',
    '1.0+b1',
    '1.0.1',
    '1.2',
    '1.10',
    '6.12.117-1',
    '1:0.1',
    '1:1.37.0-6+b9',
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      const want = Math.sign(i - j);
      assert.equal(
        Math.sign(compareVersions(ordered[i], ordered[j])),
        want,
        `${ordered[i]} vs ${ordered[j]}`,
      );
    }
  }
  assert.equal(compareVersions('1.0-1', '1.0-1'), 0);
  assert.equal(compareVersions('0:1.0', '1.0'), 0);
  assert.ok(compareVersions('1.0~~', '1.0~') < 0);
  assert.ok(compareVersions('2.0-1~bpo1', '2.0-1') < 0);
});
