// Graceful shutdown by the power key: a guest from `berth image build` runs in this process on a
// VirtBoard with the virtio-input power button. After its ready line a file is written (not
// synced) from the console; then VirtBoard.pressPowerButton() makes the guest's acpid run a
// clean poweroff, and the board stops with the syscon's poweroff by itself. The file is on the
// disk image afterwards and the ext4 file system is clean (debugfs and e2fsck -n, unmounted).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { VirtBoard } from '../../src/machine/board/virt.js';
import { buildImage } from '../../src/images/imageBuild.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';
import { GUEST_READY_BANNER, e2fsTool } from '../../src/images/rootfs.js';
import { HostClock, wallClockNs } from '../../src/vmm/clocks.js';
import { ConsoleIO } from '../../src/vmm/console.js';
import { FileBlockBackend } from '../../src/vmm/disk/fileBlockBackend.js';
import { readGuestFile, readKernel } from '../../src/vmm/kernelFile.js';
import { runGuest, type GuestExit } from '../../src/vmm/runGuest.js';

const BOOT_MS = 600_000;
/** From the press to the syscon's poweroff: rcK waits 1 s, init 1-2 s more. */
const SHUTDOWN_MS = 120_000;
const PROMPT = /# $/m;

function haveE2fs(): boolean {
  try {
    for (const t of ['mke2fs', 'debugfs', 'e2fsck'] as const) e2fsTool(t);
    return true;
  } catch {
    return false;
  }
}

/** The guest console in this process: what the guest printed, and lines typed into it. */
class Console {
  text = '';
  private seen = 0;
  readonly input = new PassThrough();
  readonly io = new ConsoleIO(
    this.input,
    new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.text += chunk.toString('latin1');
        done();
      },
    }),
  );

  async expect(pattern: RegExp | string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.text.slice(this.seen);
      const m = typeof pattern === 'string' ? rest.indexOf(pattern) : rest.search(pattern);
      if (m >= 0) {
        const len =
          typeof pattern === 'string' ? pattern.length : rest.slice(m).match(pattern)![0].length;
        this.seen += m + len;
        return rest.slice(0, m + len);
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${String(pattern)} in ${timeoutMs} ms; console tail:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types `command` between echoed markers and returns what it printed. */
  async run(command: string, timeoutMs = 60_000): Promise<string> {
    const id = Math.random().toString(36).slice(2, 8);
    this.input.write(`echo __start_''${id}; ${command}; echo __done_''${id}\n`);
    await this.expect(`__start_${id}`, timeoutMs);
    const out = await this.expect(`__done_${id}`, timeoutMs);
    return out.slice(0, -`__done_${id}`.length).replace(/\r/g, '');
  }

  tail(): string {
    return this.text.slice(-3000);
  }
}

test(
  'the power key shuts a built image down cleanly: poweroff by itself, file on a clean disk',
  { timeout: BOOT_MS + 300_000, skip: haveE2fs() ? false : 'e2fsprogs missing' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-power-it-'));
    const con = new Console();
    let disk: FileBlockBackend | undefined;
    try {
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        progress: false,
        log: () => {},
      });
      const m = r.manifest;
      disk = new FileBlockBackend(r.rootfsPath, { lock: true });
      const deviceLog: string[] = [];
      const clock = new HostClock();
      const board = new VirtBoard({
        memoryBytes: 256 << 20,
        clock,
        wallClock: wallClockNs(clock),
        console: con.io,
        firmware: readGuestFile(m.firmwarePath, 'firmware'),
        kernel: readKernel(m.kernelPath),
        initrd: readGuestFile(r.initrdPath, 'initrd'),
        bootargs: `${m.cmdline} ${PLAIN_CONSOLE_ARG}`,
        disks: [{ backend: disk, serial: 'berth-disk0' }],
        rng: { fill: (b) => webcrypto.getRandomValues(b) },
        input: {},
        log: (line) => deviceLog.push(line),
      });
      let exited: GuestExit | null = null;
      const running = runGuest(board, con.io, clock).then((e) => {
        exited = e;
        return e;
      });

      await con.expect(GUEST_READY_BANNER, BOOT_MS);
      await con.expect(PROMPT, 60_000);
      const seen = await con.run(
        'cat /proc/bus/input/devices; ls /dev/input; pidof acpid >/dev/null && echo acpid-up',
      );
      assert.match(seen, /N: Name="Berth power button"/, seen);
      assert.match(seen, /event0/, seen);
      assert.match(seen, /^acpid-up$/m, seen);
      // Written, not synced: the clean shutdown has to get it to the disk.
      const word = `pressed-${Date.now()}`;
      await con.run(`echo ${word} > /root/marker`);

      assert.equal(exited, null, 'the guest is still running');
      const pressedAt = Date.now();
      assert.equal(board.pressPowerButton(), true);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), SHUTDOWN_MS);
      });
      const exit = await Promise.race([running, timeout]);
      clearTimeout(timer);
      if (exit === 'timeout') con.io.quitRequested = true;
      assert.deepEqual(exit, { kind: 'poweroff' }, `console tail:\n${con.tail()}`);
      const took = Date.now() - pressedAt;
      assert.ok(took < SHUTDOWN_MS, `${took} ms`);
      assert.match(con.text, /berth: power key pressed, powering off/);
      assert.match(con.text, /berth: root file system synced and read-only/, con.tail());
      assert.deepEqual(deviceLog, [], 'no device went to NEEDS_RESET');
      disk.flush();
      disk.close();
      disk = undefined;

      const cat = spawnSync(e2fsTool('debugfs'), ['-R', 'cat /root/marker', r.rootfsPath], {
        encoding: 'utf8',
      });
      assert.equal(cat.stdout, `${word}\n`, cat.stderr);
      const stats = spawnSync(e2fsTool('debugfs'), ['-R', 'stats', r.rootfsPath], {
        encoding: 'utf8',
      });
      assert.match(stats.stdout, /^Filesystem state:\s+clean$/m, stats.stdout.slice(0, 2000));
      assert.doesNotMatch(stats.stdout, /^Filesystem features:.*needs_recovery/m);
      const fsck = spawnSync(e2fsTool('e2fsck'), ['-fn', r.rootfsPath], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
      assert.doesNotMatch(fsck.stdout + fsck.stderr, /recovery|was not cleanly unmounted/i);
    } finally {
      con.io.quitRequested = true;
      con.io.close();
      disk?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
