// Boots the stock Debian riscv64 kernel with Berth's default initramfs through
// `berth run`, and talks to it on the serial console as a person would.
// The guest assets are fetched (and cached) on first use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ConsoleSession } from './session.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { rssMiB } from '../../bench/sessions.js';

const BOOT_MS = 240_000;
/** The shell prompt (busybox may follow it with a cursor-position query). */
const PROMPT = /# (?:\x1b\[6n)?$/m;

async function bootToShell(args: string[] = []): Promise<ConsoleSession> {
  const s = ConsoleSession.berth(['--memory', '256M', ...args]);
  await s.expect('Berth initramfs ready', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  return s;
}

test('assets are fetched before the boot tests', { timeout: 900_000 }, async () => {
  const a = await ensureDefaultAssets({});
  assert.ok(a.kernelPath && a.firmwarePath && a.initrdPath);
});

test(
  'Debian kernel boots to the busybox shell, answers commands, keeps the host time, powers off',
  { timeout: BOOT_MS + 120_000 },
  async () => {
    const s = await bootToShell();
    try {
      assert.equal((await s.run('echo $((6 * 7))')).trim(), '42');
      assert.match(await s.run('uname -m'), /riscv64/);
      // virtio-rng feeds the kernel's hardware RNG from the host's random source.
      assert.equal(
        (await s.run('cat /sys/devices/virtual/misc/hw_random/rng_current')).trim(),
        'virtio_rng.0',
      );
      const random = (await s.run('head -c 32 /dev/hwrng | od -An -tx1')).replace(/\s+/g, '');
      assert.match(random, /^[0-9a-f]{64}$/);
      assert.ok(new Set(random).size > 8, `random bytes look random: ${random}`);
      // The balloon (virtio-pci) hands back what the guest frees: 48 MiB written to a file in
      // its RAM took host memory, and removing the file gives most of it back within seconds.
      assert.match(await s.run('ls /sys/bus/virtio/drivers/virtio_balloon'), /virtio\d+/);
      const pid = s.child.pid!;
      const before = rssMiB(pid);
      await s.run('dd if=/dev/zero of=/tmp/fill bs=1M count=48 2>/dev/null');
      const full = rssMiB(pid);
      assert.ok(full > before + 40, `the file took host memory: ${before} -> ${full} MiB`);
      await s.run('rm /tmp/fill');
      let after = full;
      for (let i = 0; i < 60 && after > full - 32; i++) {
        await new Promise((r) => setTimeout(r, 500));
        after = rssMiB(pid);
      }
      assert.ok(after <= full - 32, `freed pages went back: ${full} -> ${after} MiB`);
      const guest = Number((await s.run('date +%s')).trim());
      const host = Date.now() / 1000;
      assert.ok(Math.abs(guest - host) < 5, `guest date ${guest} vs host ${host}`);
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s.kill();
    }
  },
);

test(
  'reboot -f reboots the guest, which boots again',
  { timeout: 2 * BOOT_MS + 60_000 },
  async () => {
    const s = await bootToShell();
    try {
      s.send('reboot -f\n');
      await s.expect('Berth initramfs ready', BOOT_MS);
      await s.expect(PROMPT, 60_000);
      assert.equal((await s.run('echo again')).trim(), 'again');
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s.kill();
    }
  },
);

const SCRIPT = [
  '',
  '',
  'echo start',
  'echo $((123456789 * 3))',
  'ls /',
  'uname -m',
  'echo hello > /tmp/f; cat /tmp/f; wc -c /tmp/f',
  'dd if=/dev/zero bs=1024 count=64 2>/dev/null | sha256sum',
  'cat /proc/cmdline',
  'poweroff -f',
  '',
].join('\n');

function berthScripted(args: string[]): string {
  return execFileSync(
    process.execPath,
    [ConsoleSession.cliPath, 'run', '--memory', '256M', ...args],
    {
      input: SCRIPT,
      maxBuffer: 64 << 20,
      timeout: BOOT_MS,
    },
  ).toString('latin1');
}

test('two --deterministic runs print identical output', { timeout: 2 * BOOT_MS + 60_000 }, () => {
  const a = berthScripted(['--deterministic']);
  const b = berthScripted(['--deterministic']);
  assert.match(a, /370370367/);
  assert.equal(a, b);
});

// Time under --deterministic is the instruction count (the kernel's timestamps
// included), so the same output means translated blocks retired exactly the
// instructions the interpreter did (Debian's kernel runs Zbb and Zbc
// instructions once the device tree names them, so both engines run them too).
test(
  '--deterministic prints the same with translated blocks and with the interpreter only',
  { timeout: 2 * BOOT_MS + 60_000 },
  () => {
    const translated = berthScripted(['--deterministic']);
    const interpreted = berthScripted(['--deterministic', '--jit-threshold', '0']);
    assert.match(translated, /370370367/);
    assert.equal(translated, interpreted);
  },
);

const COMMANDS = [
  'echo $((123456789 * 3))',
  'ls /',
  'uname -m',
  'echo hello > /tmp/f; cat /tmp/f; wc -c /tmp/f',
  'dd if=/dev/zero bs=1024 count=64 2>/dev/null | sha256sum',
  'cat /proc/cmdline',
  'printf "%s\\n" a b c | sort -r | tr "\\n" ,',
];

async function transcript(s: ConsoleSession): Promise<string[]> {
  await s.expect('Berth initramfs ready', BOOT_MS);
  await s.expect(PROMPT, 60_000);
  const out: string[] = [];
  for (const c of COMMANDS) out.push(await s.run(c));
  s.send('poweroff -f\n');
  await s.exited;
  return out;
}

test(
  'the same initramfs prints the same on Berth and on qemu-system-riscv64',
  { timeout: 2 * BOOT_MS + 60_000 },
  async () => {
    const a = await ensureDefaultAssets({});
    const berth = ConsoleSession.berth(['--memory', '256M']);
    const qemu = ConsoleSession.qemu(a);
    try {
      const [b, q] = await Promise.all([transcript(berth), transcript(qemu)]);
      assert.equal(b[0].trim(), '370370367');
      assert.deepEqual(b, q);
    } finally {
      berth.kill();
      qemu.kill();
    }
  },
);

test(
  'with --console virtio the shell runs on hvc0 and answers',
  { timeout: BOOT_MS + 60_000 },
  async () => {
    // Debian loads virtio_mmio from the initramfs, so hvc0 appears only then: the kernel log
    // and /init's banner are not on it (qemu-system-riscv64 shows the same), the shell is.
    const s = ConsoleSession.berth(['--memory', '256M', '--console', 'virtio']);
    try {
      await s.expect('built-in shell', BOOT_MS);
      await s.expect(PROMPT, 60_000);
      assert.equal((await s.run('echo $((6 * 7))')).trim(), '42');
      assert.match(await s.run('tty'), /\/dev\/(hvc0|console)/);
      s.send('poweroff -f\n');
      assert.equal(await s.exited, 0);
    } finally {
      s.kill();
    }
  },
);
