// End to end against the real Debian archive of the host's apt configuration (or BERTH_MIRROR):
// fetches linux-image-riscv64, opensbi and busybox-static into the user's cache (later runs
// reuse it) and checks that the files are what a riscv64 virt machine needs. Where Debian's
// qemu-system-riscv64 is installed, the reference emulator boots them to the busybox shell.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  ensureDefaultAssets,
  type GuestAssets,
  isRiscvImage,
  PLAIN_CONSOLE_ARG,
  READY_BANNER,
} from './assets.js';
import { readCpio } from './cpio.js';

let assets: GuestAssets | undefined;

test('the real Debian riscv64 kernel, OpenSBI and busybox', { timeout: 900_000 }, async () => {
  // refresh: the signed index is fetched and checked every time; unchanged .debs come from the cache.
  const a = await ensureDefaultAssets({ refresh: true });
  assets = a;
  const kernel = readFileSync(a.kernelPath);
  assert.equal(a.kernelFormat, 'image');
  assert.ok(isRiscvImage(kernel), 'a RISC-V Linux Image');
  assert.equal(kernel.toString('latin1', 0, 2), 'MZ', 'with the EFI stub header');
  assert.equal(kernel.readUInt32LE(8), 0x200000, 'text_offset 2 MiB');
  assert.ok(kernel.length > 8 << 20, `kernel size ${kernel.length}`);
  assert.match(a.kernelVersion, /^\d+\.\d+\.\d+.*-riscv64$/);
  assert.equal(a.packages.kernel.name, `linux-image-${a.kernelVersion}`);

  const fwElf = readFileSync(a.firmwareElfPath);
  assert.equal(fwElf.readUInt32BE(0), 0x7f454c46, 'fw_dynamic.elf is an ELF');
  assert.equal(fwElf[4], 2, '64-bit');
  assert.equal(fwElf.readUInt16LE(18), 0xf3, 'RISC-V');
  const fwBin = statSync(a.firmwarePath).size;
  assert.ok(fwBin > 64 << 10 && fwBin < 2 << 20, `fw_dynamic.bin size ${fwBin}`);

  const cpio = readCpio(gunzipSync(readFileSync(a.initrdPath)));
  const busybox = cpio.find((e) => e.path === 'bin/busybox')?.data;
  assert.ok(
    busybox && busybox.readUInt32BE(0) === 0x7f454c46 && busybox.readUInt16LE(18) === 0xf3,
    'busybox is a RISC-V ELF',
  );
  assert.equal(busybox.readUInt16LE(16), 2, 'ET_EXEC: static, no interpreter');
  assert.ok(a.modules.includes('virtio_mmio'));

  // The second call is served from the cache alone.
  const again = await ensureDefaultAssets({ mirror: 'http://127.0.0.1:9/offline' });
  assert.equal(again.kernelPath, a.kernelPath);
  assert.equal(again.initrdPath, a.initrdPath);
});

const qemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

async function bootInQemu(a: GuestAssets, append: string, check: (out: string) => void) {
  // -nographic puts the first UART on stdio; stdin is a pipe, as with `berth run < file`.
  // prettier-ignore
  const child = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', '256M', '-smp', '1', '-nographic', '-no-reboot',
    '-bios', a.firmwarePath, '-kernel', a.kernelPath, '-initrd', a.initrdPath, '-append', append,
  ]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, ms: number) => {
    const end = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > end || child.exitCode !== null) {
        throw new Error(`no ${re} in:\n${out.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await waitFor(new RegExp(`${READY_BANNER}: Linux \\S+ riscv64`), 240_000);
    await waitFor(/# (\x1b\[6n)?$/, 60_000);
    child.stdin.write('echo $((6 * 7)); tty; lsmod | grep -c virtio\n');
    await waitFor(/\n42\r?\n\/dev\/ttyS0\r?\n\d+\r?\n/, 60_000);
    child.stdin.write('poweroff -f\n');
    assert.equal(await exited, 0);
    check(out.slice(out.indexOf(READY_BANNER)));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const noQemu = !qemu && 'qemu-system-riscv64 is not installed';

test(
  'QEMU boots them to a shell that answers typed commands',
  { skip: noQemu, timeout: 300_000 },
  async () => {
    const a = assets ?? (await ensureDefaultAssets({}));
    await bootInQemu(a, a.cmdline, (out) => {
      assert.match(out, /\/ # .*echo \$\(\(6 \* 7\)\)/, 'the line editor echoes the command');
    });
  },
);

test(
  'with berth_console=plain the shell echoes lines itself and sends no terminal queries',
  { skip: noQemu, timeout: 300_000 },
  async () => {
    const a = assets ?? (await ensureDefaultAssets({}));
    await bootInQemu(a, `${a.cmdline} ${PLAIN_CONSOLE_ARG}`, (out) => {
      assert.ok(!out.includes('\x1b['), 'no escape sequences');
      assert.match(out, /^\/ # echo \$\(\(6 \* 7\)\); tty; lsmod \| grep -c virtio\r?\n42\r?\n/m);
      assert.match(out, /^\/ # poweroff -f\r?$/m);
    });
  },
);
