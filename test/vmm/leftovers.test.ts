// A VMM process (`berth vmm --config`) that is stopped with SIGTERM or killed with SIGKILL
// leaves nothing behind: no process of its own, no control socket file, no disk lock; the same
// guest starts again at once on the same disk and socket. Network backends are covered where
// they are tested (test/integration/network*.test.ts).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/vmm/controlClient.js';
import type { VmmStatus } from '../../src/vmm/status.js';
import { BERTH_CLI } from '../integration/session.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { echoGuestElf } from './echoGuest.js';
import { until } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-leftovers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

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

test(
  'a VMM killed with SIGKILL gives its terminal back in the mode it found it',
  { timeout: 900_000 },
  async () => {
    await ensureDefaultAssets({}); // berth run boots Debian's kernel after the firmware
    const tag = `tty-${process.pid}-${Date.now()}`;
    // In a pseudo-terminal of its own: berth run, then (after it is killed) the terminal's modes.
    const inner = `${process.execPath} ${BERTH_CLI} run --firmware ${echoGuestElf()} --name ${tag}; sleep 1; echo AFTER-KILL; stty -a`;
    const child = spawn('script', ['-qec', `sh -c '${inner}'`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const exited = new Promise((r) => child.on('exit', r));
    try {
      await until('the guest to boot', () => /OpenSBI|echo ready/.test(out), 120_000);
      const pgrep = spawnSync('pgrep', ['-f', tag], { encoding: 'utf8' });
      const pids = pgrep.stdout.trim().split('\n').filter(Boolean).map(Number);
      const vmm = pids.find((p) =>
        readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(process.execPath),
      );
      assert.ok(vmm, `the VMM's pid (${pgrep.stdout})`);
      process.kill(vmm, 'SIGKILL');
      await until('the modes after the kill', () => /AFTER-KILL[\s\S]*\bisig\b/.test(out), 10_000);
      const modes = out.slice(out.indexOf('AFTER-KILL'));
      assert.match(modes, /(^|\s)icanon(\s|$)/m, modes);
      assert.match(modes, /(^|\s)echo(\s|$)/m, modes);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  },
);
