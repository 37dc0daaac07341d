// The namespace that runs Debian's tools (mmdebstrap) for `berth image build --distro debian`:
// exit statuses come through, and a Berth process killed with SIGKILL takes what it started in
// the namespace along (SIGTERM first, then SIGKILL for what is left after the grace time).
// Needs what a Debian image build needs (root, unshare, qemu-user-static, Linux 6.7); skipped
// with the reason otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInRiscvNamespace, riscvNamespaceProblem } from './riscvNamespace.js';

/** Why the namespace cannot be made here, or undefined. */
async function unsupported(): Promise<string | undefined> {
  const problem = riscvNamespaceProblem();
  if (problem) return problem;
  try {
    await runInRiscvNamespace(['true']);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
const skip = await unsupported();

/** PIDs of the processes whose command line holds `token`. */
function holding(token: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(token)) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

test('the command exit status comes back', { skip }, async () => {
  assert.equal(await runInRiscvNamespace(['sh', '-c', 'exit 7']), 7);
});

test(
  'a Berth process killed with SIGKILL takes the command and its children along',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-ns-'));
    const mark = join(dir, 'term');
    // A command that notes SIGTERM and goes on, with a child that would run for over 16 minutes.
    const token = `${1000 + (process.pid % 1000)}.${Date.now() % 1000}`;
    const script =
      `trap 'echo term > ${mark}' TERM; sleep ${token} & ` + 'while :; do sleep 0.1; done';
    const berth = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { runInRiscvNamespace } from ${JSON.stringify(new URL('./riscvNamespace.js', import.meta.url).href)};
       await runInRiscvNamespace(['bash', '-c', ${JSON.stringify(script)}]);`,
      ],
      { stdio: 'ignore' },
    );
    try {
      await until('the command started', () => holding(`sleep\0${token}`).length > 0, 20_000);
      berth.kill('SIGKILL');
      await until(
        'the command told to stop',
        () => {
          try {
            return readFileSync(mark, 'utf8') === 'term\n';
          } catch {
            return false;
          }
        },
        5_000,
      );
      const ms = await until(
        'everything in the namespace ended',
        () => holding(`sleep\0${token}`).length === 0 && holding(mark).length === 0,
        20_000,
      );
      assert.ok(ms > 5_000, `the command had its grace time (${ms} ms)`);
    } finally {
      berth.kill('SIGKILL');
      for (const pid of holding(token)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
