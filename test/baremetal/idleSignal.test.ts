// A VMM whose guest idles with a timer armed, under --deterministic (idle time passes at once,
// so the VMM never sleeps), still turns SIGTERM into an orderly quit, status 128 + 15: the idle
// loop gives the event loop, where signals are heard, its turn as the compute loop does.
// board/idle.S is the guest.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { boardProgram } from './boardPrograms.js';
import { BERTH_CLI } from '../integration/session.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-idle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('--deterministic: SIGTERM stops a VMM whose guest idles on its timer', async () => {
  const elf = boardProgram('idle', dir);
  const args = ['run', '--firmware', 'none', '--kernel', elf, '--deterministic'];
  const child = spawn(process.execPath, [BERTH_CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "idle" within 30 s: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('idle\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 500)); // well into the idle loop
    child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000)),
    ]);
    assert.equal(code, 143);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
