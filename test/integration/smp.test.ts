// Guests with several harts (`berth run --cpus N`): the stock Debian kernel brings every
// hart online, /proc/cpuinfo lists them, and a command pinned to each runs there; a C program
// with pthreads (smp/smpstress.c, built with Debian's riscv64 gcc and handed to the guest as
// a raw disk) gets exact totals from AMO, LR/SC, mutex and spin-lock counters on threads
// pinned to every hart, and no outcome RVWMO forbids in its litmus shapes. Also:
// --deterministic stays byte-identical with several harts (they take turns on one thread
// in a fixed order), and translated blocks retire what the interpreter does.

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleSession } from './session.js';
import { hostParallelism } from '../support/hostParallelism.js';

/** test/integration/smp/ in the source tree, from dist/test/integration/. */
const SOURCES = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test',
  'integration',
  'smp',
);
const dir = mkdtempSync(join(tmpdir(), 'berth-smp-'));
/** smpstress as a raw disk (padded to whole sectors), and its size in bytes. */
const stress = { disk: join(dir, 'smpstress.img'), bytes: 0 };
before(() => {
  execFileSync('riscv64-linux-gnu-gcc', [
    ...['-O2', '-static', '-pthread', '-Wall', '-Werror'],
    ...[join(SOURCES, 'smpstress.c'), '-o', stress.disk],
  ]);
  stress.bytes = statSync(stress.disk).size;
  truncateSync(stress.disk, Math.ceil(stress.bytes / 512) * 512);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const BOOT_MS = 300_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;

async function bootToShell(cpus: number): Promise<ConsoleSession> {
  const s = ConsoleSession.berth([
    ...['--memory', '256M', '--cpus', String(cpus), '--disk', `${stress.disk},ro`],
  ]);
  await s.expect('Berth initramfs ready', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  return s;
}

/**
 * Harts 0 and 1 run at once on threads of their own: without a fence, each load can pass the
 * store before it, and both threads read the other's old value in some rounds. That needs the
 * host to run both threads at the same moment: if no round of smpstress (`out`) nor of up to
 * three runs of 20,000 more showed it, the host must have given the guest no second core
 * meanwhile (measured then: two host threads getting under 1.5x one's work).
 */
async function relaxedStoreBuffering(
  t: TestContext,
  s: ConsoleSession,
  out: string,
): Promise<void> {
  const count = (text: string): number => Number(/relaxed sb (\d+)/.exec(text)![1]);
  let relaxed = count(out);
  for (let i = 0; relaxed === 0 && i < 3; i++) {
    const more = await s.run('/tmp/smpstress 2 1000 20000', 300_000);
    assert.match(more, /forbidden mp 0 sb\+fences 0 lb\+deps 0 relaxed sb \d+ stale code 0/);
    relaxed += count(more);
  }
  t.diagnostic(`relaxed store buffering: ${relaxed} rounds`);
  if (relaxed > 0) return;
  const p = await hostParallelism();
  t.diagnostic(`the host runs two threads at ${p.toFixed(2)}x one's rate`);
  assert.ok(
    p < 1.5,
    `no relaxed store buffering, though the host ran two threads at ${p.toFixed(2)}x`,
  );
}

for (const cpus of [2, 4, 8]) {
  test(
    `with --cpus ${cpus} every hart is online, runs what is pinned to it, and threads on all count exactly`,
    { timeout: BOOT_MS + 120_000 },
    async (t) => {
      const s = await bootToShell(cpus);
      try {
        assert.equal((await s.run('nproc')).trim(), String(cpus));
        assert.equal((await s.run('cat /sys/devices/system/cpu/online')).trim(), `0-${cpus - 1}`);
        const info = await s.run('cat /proc/cpuinfo');
        const processors = [...info.matchAll(/^processor\s*:\s*(\d+)/gm)].map((m) => Number(m[1]));
        assert.deepEqual(processors, [...Array(cpus).keys()]);
        const harts = [...info.matchAll(/^hart\s*:\s*(\d+)/gm)].map((m) => Number(m[1]));
        assert.deepEqual(
          harts.sort((a, b) => a - b),
          [...Array(cpus).keys()],
        );
        // Field 39 of /proc/self/stat is the CPU the process last ran on.
        for (let c = 0; c < cpus; c++) {
          const stat = await s.run(`taskset -c ${c} cat /proc/self/stat`);
          assert.equal(stat.trim().split(/\s+/)[38], String(c), `pinned to cpu ${c}: ${stat}`);
        }
        // Two threads a hart, 20,000 rounds of each counter a thread, 2,000 of each litmus shape.
        await s.run(`head -c ${stress.bytes} /dev/vda > /tmp/smpstress && chmod +x /tmp/smpstress`);
        const out = await s.run(`/tmp/smpstress ${2 * cpus} 20000 2000`, 300_000);
        const total = 2 * cpus * 20000;
        assert.match(out, new RegExp(`amo ${total}/${total} cas ${total}/${total} mutex`));
        assert.match(out, /forbidden mp 0 sb\+fences 0 lb\+deps 0 relaxed sb \d+ stale code 0/);
        assert.match(out, /smpstress: ok/);
        await relaxedStoreBuffering(t, s, out);
        s.send('poweroff -f\n');
        assert.equal(await s.exited, 0);
      } finally {
        s.kill();
      }
    },
  );
}

const SCRIPT = [
  '',
  '',
  'echo start',
  'echo $((123456789 * 3))',
  'for c in 0 1; do taskset -c $c sh -c "dd if=/dev/zero bs=1024 count=256 2>/dev/null | sha256sum" & done; wait',
  'cat /proc/interrupts | head -3',
  'poweroff -f',
  '',
].join('\n');

function berthScripted(args: string[]): string {
  return execFileSync(
    process.execPath,
    [ConsoleSession.cliPath, 'run', '--memory', '256M', '--cpus', '2', ...args],
    { input: SCRIPT, maxBuffer: 64 << 20, timeout: BOOT_MS },
  ).toString('latin1');
}

test(
  'with two harts, --deterministic prints the same in every run and in both engines',
  {
    timeout: 3 * BOOT_MS,
  },
  () => {
    const a = berthScripted(['--deterministic']);
    const b = berthScripted(['--deterministic']);
    const interpreted = berthScripted(['--deterministic', '--jit-threshold', '0']);
    assert.match(a, /370370367/);
    assert.match(a, /smp: Brought up 1 node, 2 CPUs/);
    assert.equal(a, b);
    assert.equal(a, interpreted);
  },
);
