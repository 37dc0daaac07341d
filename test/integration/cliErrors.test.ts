// `berth run` refuses bad input with a clear message and a non-zero status:
// missing or unreadable files, files that are not a kernel, bad sizes, and
// too little memory for the kernel and initrd.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';

function berth(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [ConsoleSession.cliPath, ...args], {
    input: '',
    timeout: 120_000,
  });
  return { status: r.status, stderr: r.stderr.toString() };
}

const dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
const notKernel = join(dir, 'notes.txt');
writeFileSync(notKernel, 'this is not a kernel\n'.repeat(10));

test('a missing kernel file is named in the error', () => {
  const r = berth(['run', '--kernel', join(dir, 'nope'), '--firmware', notKernel]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot read the kernel '.*nope': no such file/);
});

test('a file that is not a kernel is refused', () => {
  const r = berth(['run', '--kernel', notKernel, '--firmware', notKernel]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is not a RISC-V kernel/);
});

test('a directory given as the initrd is refused', () => {
  const r = berth(['run', '--kernel', notKernel, '--firmware', notKernel, '--initrd', dir]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /kernel|initrd/);
});

test('sizes that cannot be read, and unknown options, are refused', () => {
  assert.match(berth(['run', '--memory', 'lots']).stderr, /cannot read size 'lots'/);
  assert.match(berth(['run', '--frobnicate']).stderr, /Unknown option '--frobnicate'/);
  assert.match(berth(['launch']).stderr, /unknown command 'launch'/);
});

test(
  'too little memory for the kernel and initrd is refused before booting',
  { timeout: 600_000 },
  async () => {
    const a = await ensureDefaultAssets({});
    const r1 = berth(['run', '--memory', '1M']);
    assert.notEqual(r1.status, 0);
    assert.match(r1.stderr, /memory must be a multiple of 4 KiB between 16 MiB and 4 GiB/);
    const r2 = berth([
      'run',
      '--memory',
      '32M',
      '--kernel',
      a.kernelPath,
      '--firmware',
      a.firmwarePath,
      '--initrd',
      a.initrdPath,
    ]);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /too little memory/);
  },
);
