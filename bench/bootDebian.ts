// The full Debian image's first boot (`berth image build --distro debian`): from process start
// to the serial console's login prompt, on qemu-system-riscv64 and on Berth, each on a qcow2
// overlay of its own over one image (so each is a first boot: cloud-init makes SSH host keys,
// sets the host name). Part of bench/boot.ts; skipped with the reason when this host cannot
// build the image (root, mmdebstrap, qemu-user-static, Linux 6.7).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDebianImage, debianBuildProblem } from '../src/images/debianDistro.js';
import { bootDebianOnBerth, bootDebianOnQemu } from '../test/integration/debianBoot.js';
import type { ConsoleSession } from '../test/integration/session.js';
import { onCleanup } from './cleanup.js';
import { rssMiB, started } from './sessions.js';

const LOGIN = /^debian login: /m;

export interface DebianBoot {
  /** Seconds from process start to the login prompt. */
  berth: number;
  qemu: number;
  berthRssMiB: number;
  qemuRssMiB: number;
}

/** Both first boots, or the reason they cannot run here. */
export async function measureDebianBoot(memory = '1G'): Promise<DebianBoot | string> {
  const problem = debianBuildProblem();
  if (problem) return problem;
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-debian-'));
  const removeDir = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const r = await buildDebianImage({
      outDir: join(dir, 'img'),
      progress: false,
      log: (line) => console.error(`# ${line}`),
    });
    const time = async (s: ConsoleSession): Promise<{ s: number; rss: number }> => {
      const t0 = performance.now();
      try {
        await s.expect(LOGIN, 30 * 60_000);
        const seconds = (performance.now() - t0) / 1000;
        return { s: seconds, rss: rssMiB(s.child.pid!) };
      } finally {
        s.kill();
        await s.exited;
      }
    };
    const qemu = await time(started(bootDebianOnQemu(r, { dir, memory })));
    const berth = await time(started(bootDebianOnBerth(r, { dir, memory })));
    return { berth: berth.s, qemu: qemu.s, berthRssMiB: berth.rss, qemuRssMiB: qemu.rss };
  } finally {
    removeDir();
  }
}
