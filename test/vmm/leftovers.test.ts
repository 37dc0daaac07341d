// A VMM process (`berth vmm --config`) that is stopped with SIGTERM or killed with SIGKILL
// leaves nothing behind: no process of its own, no control socket file, no disk lock; the same
// guest starts again at once on the same disk and socket. Network backends are covered where
// they are tested (test/integration/network*.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/vmm/controlClient.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { BERTH_CLI } from '../integration/session.js';
import { echoGuestElf } from './echoGuest.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-leftovers-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function startVmm(
  configPath: string,
  sock: string,
): Promise<{ child: ChildProcess; helpers: number[] }> {
  const child = spawn(process.execPath, [BERTH_CLI, 'vmm', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(`the VMM's control socket (${stderr})`, async () => {
    if (child.exitCode !== null) assert.fail(`the VMM exited: ${stderr}`);
    if (!existsSync(sock)) return false;
    try {
      return (await controlRequest<VmmStatus>(sock, { cmd: 'status' })).state === 'running';
    } catch {
      return false;
    }
  });
  return { child, helpers: childrenOf(child.pid!) };
}

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`after ${signal}: no process, socket or lock left, and the guest starts again at once`, async () => {
    const disk = join(dir, `${signal}.img`);
    writeFileSync(disk, new Uint8Array(1 << 20));
    const sock = join(dir, `${signal}.sock`);
    const configPath = join(dir, `${signal}.json`);
    writeFileSync(
      configPath,
      JSON.stringify({
        memory: '32M',
        firmware: echoGuestElf(),
        disks: [{ path: disk }],
        controlSocket: sock,
      }),
    );
    const lockDir = join(dir, `.${signal}.img.berth-lock`);
    const first = await startVmm(configPath, sock);
    assert.ok(existsSync(lockDir), 'the disk is locked while the VMM runs');
    assert.ok(first.helpers.length >= 1, 'the VMM has its reaper');
    const exited = new Promise<number | null>((r) => first.child.on('exit', (code) => r(code)));
    first.child.kill(signal);
    const code = await exited;
    if (signal === 'SIGTERM') assert.equal(code, 143, 'SIGTERM ends the VMM with status 143');
    await until('the helpers to exit', () => first.helpers.every((p) => !alive(p)), 5000);
    await until('the socket and lock to go', () => !existsSync(sock) && !existsSync(lockDir), 5000);
    const again = await startVmm(configPath, sock);
    again.child.kill('SIGTERM');
    await new Promise((r) => again.child.on('exit', r));
    await until(
      'cleanup after the second run',
      () => !existsSync(sock) && !existsSync(lockDir),
      5000,
    );
  });
}
