// The CLI's figures: sizes in binary units, counts, durations, and aligned tables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytes, count, duration, table } from './format.js';

test('bytes: binary units, three significant digits at most', () => {
  const cases: [number, string][] = [
    [0, '0B'],
    [1023, '1023B'],
    [1024, '1KiB'],
    [1536, '1.5KiB'],
    [256 * 1024 * 1024, '256MiB'],
    [201.34 * 1024 * 1024, '201MiB'],
    [3.25 * 1024 ** 3, '3.3GiB'],
  ];
  for (const [n, s] of cases) assert.equal(bytes(n), s, String(n));
});

test('count: k, M, G, T', () => {
  assert.deepEqual([0, 999, 1000, 12_345, 4_560_000, 1_234_567_890, 2e12].map(count), [
    '0',
    '999',
    '1.00k',
    '12.3k',
    '4.56M',
    '1.23G',
    '2.00T',
  ]);
});

test('duration: seconds, then minutes, hours, days', () => {
  assert.deepEqual([0, 59.9, 60, 192, 3600, 7500, 86_400 * 3 + 4 * 3600].map(duration), [
    '0s',
    '59s',
    '1m00s',
    '3m12s',
    '1h00m',
    '2h05m',
    '3d04h',
  ]);
});

test('table: columns two spaces apart, no trailing blanks', () => {
  assert.equal(
    table([
      ['NAME', 'STATE', 'ADDRESSES'],
      ['web1', 'running', '10.0.2.15'],
      ['b', 'stopped', ''],
    ]),
    'NAME  STATE    ADDRESSES\nweb1  running  10.0.2.15\nb     stopped\n',
  );
});
