// `berth run` refuses bad input with a clear message and a non-zero status:
// missing or unreadable files, ELF files that are not a RISC-V kernel, bad sizes, and
// too little memory for the kernel and initrd.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
import { ensureDefaultAssets } from '../../src/images/assets.js';

function berth(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [ConsoleSession.cliPath, ...args], {
    input: '',
    timeout: 120_000,
    env,
  });
  return { status: r.status, stderr: r.stderr.toString() };
}

const dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const notKernel = join(dir, 'notes.txt');
writeFileSync(notKernel, 'this is not a kernel\n'.repeat(10));

test('a missing kernel file is named in the error', () => {
  const r = berth(['run', '--kernel', join(dir, 'nope'), '--firmware', notKernel]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot read the kernel '.*nope': no such file/);
});

test('an ELF file for another machine is refused as a kernel (any other file is a flat binary)', () => {
  const r = berth(['run', '--kernel', process.execPath, '--firmware', notKernel]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is not a RISC-V kernel: ELF file is for machine \d+, not RISC-V \(243\)/);
});

test('a directory given as the initrd is refused', () => {
  const r = berth(['run', '--kernel', notKernel, '--firmware', notKernel, '--initrd', dir]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /kernel|initrd/);
});

test('--boot uboot refuses the files U-Boot takes from the disk, and needs a disk', () => {
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  for (const flag of ['--kernel', '--initrd', '--append']) {
    const r = berth(['run', '--boot', 'uboot', '--disk', disk, flag, notKernel]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`${flag} with --boot uboot: U-Boot boots .*extlinux.conf`));
  }
  const small = berth(['run', '--boot', 'uboot', '--disk', disk, '--memory', '192M']);
  assert.notEqual(small.status, 0);
  assert.match(
    small.stderr,
    /--memory: booting through U-Boot needs at least 256M .* this guest has 192M/,
  );
  const image = join(dir, 'direct-image');
  mkdirSync(image);
  writeFileSync(join(image, 'rootfs.img'), Buffer.alloc(1 << 20));
  const manifest = { format: 1, rootfs: 'rootfs.img', initrd: 'rootfs.img', cmdline: '' };
  writeFileSync(
    join(image, 'image.json'),
    JSON.stringify({ ...manifest, kernelPath: notKernel, firmwarePath: notKernel }),
  );
  const direct = berth(['run', '--boot', 'uboot', '--image', image]);
  assert.notEqual(direct.status, 0);
  assert.match(direct.stderr, /--boot uboot: the image in .* boots directly .* has no \/boot/);
  const none = berth(['run', '--boot', 'uboot']);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /--boot uboot boots from the first disk.*give --disk PATH/);
  assert.match(
    berth(['run', '--boot', 'grub']).stderr,
    /--boot must be direct or uboot, not 'grub'/,
  );
  assert.match(
    berth(['image', 'build', '--out', dir, '--boot', 'lilo']).stderr,
    /--boot must be direct or uboot, not 'lilo'/,
  );
});

test('image build --distro: unknown distributions and options that do not go with one are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-distro-'));
  try {
    const cases: [string[], RegExp][] = [
      [['--distro', 'arch'], /--distro must be busybox or debian, not 'arch'/],
      [['--hostname', 'web'], /--user-data and --hostname are for --distro debian/],
      [['--distro', 'debian', '--boot', 'direct'], /--distro debian boots through U-Boot/],
      [['--distro', 'debian', '--user-data', join(dir, 'none')], /cannot read the user data/],
    ];
    writeFileSync(join(dir, 'plain.yaml'), 'users: []\n');
    cases.push([
      ['--distro', 'debian', '--user-data', join(dir, 'plain.yaml')],
      /is not cloud-init user data: it must begin with #cloud-config/,
    ]);
    for (const [args, message] of cases) {
      const r = berth(['image', 'build', '--out', join(dir, 'out'), ...args]);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.equal(existsSync(join(dir, 'out')), false, 'nothing was made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
    assert.match(r1.stderr, /memory: must be a multiple of 4 KiB between 16 MiB and 4 GiB/);
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
    // Debian's own kernel fits in 64M but panics in early boot below ~88M: refused by name.
    const r3 = berth(['run', '--memory', '64M']);
    assert.equal(r3.status, 2, r3.stderr);
    assert.match(r3.stderr, /Debian's kernel needs at least 96M/);
  },
);

test(
  'a second berth run on a disk in use is refused before booting',
  { timeout: 60_000 },
  async () => {
    const img = join(dir, 'shared.img');
    writeFileSync(img, new Uint8Array(1 << 20));
    // The first VMM opens the disk, then stalls fetching its guest assets (into an empty
    // cache) from a mirror that never answers: it holds the disk and boots nothing.
    const sockets: Socket[] = [];
    const mirror = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
    const port = (mirror.address() as { port: number }).port;
    const env = { ...process.env, BERTH_CACHE_DIR: mkdtempSync(join(dir, 'cache-')) };
    const args = ['--mirror', `http://127.0.0.1:${port}/debian`];
    const first = spawn(process.execPath, [ConsoleSession.cliPath, 'run', '--disk', img, ...args], {
      env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const exited = new Promise((r) => first.on('exit', r));
    try {
      const lockDir = join(dir, '.shared.img.berth-lock');
      const deadline = Date.now() + 30_000;
      while (!(existsSync(lockDir) && readdirSync(lockDir).some((f) => f.startsWith('rw-')))) {
        assert.ok(Date.now() < deadline && first.exitCode === null, 'the first VMM locks the disk');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const spec of [img, `${img},ro`]) {
        const r = berth(['run', '--disk', spec, ...args], env);
        assert.equal(r.status, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `^berth: disk image .*shared\\.img is in use: process ${first.pid} \\(.*main\\.js run --disk .*shared\\.img --mirror .*\\) has it open read-write\\. .*stop that virtual machine first`,
          ),
        );
        assert.equal(r.stderr.trim().split('\n').length, 1, 'refused before anything else');
      }
    } finally {
      first.kill('SIGKILL');
      await exited;
      for (const s of sockets) s.destroy();
      mirror.close();
    }
    // The killed VMM's lock is stale: the next one takes the disk (and fails later, at the
    // closed mirror), and its lock goes away when it exits.
    const r = berth(['run', '--disk', img, ...args], env);
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /in use/);
    assert.match(r.stderr, /could not fetch/);
    assert.equal(existsSync(join(dir, '.shared.img.berth-lock')), false);
  },
);
