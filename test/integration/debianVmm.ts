// A VMM in the test's own process running the stock Debian kernel with Berth's busybox
// initramfs (the default assets), reached through its control socket and console: for tests
// that migrate or snapshot a real guest between VMMs of one process.

import { join } from 'node:path';
import { ensureDefaultAssets } from '../../src/images/assets.js';
import { openConsole } from '../../src/vmm/controlClient.js';
import { parseVmmConfig } from '../../src/vmm/config.js';
import { Vmm, type VmmExit } from '../../src/vmm/vmm.js';
import { sleep, until } from '../support/wait.js';

export interface DebianVmm {
  vmm: Vmm;
  sock: string;
  out: () => string;
  done: Promise<VmmExit>;
}

/** A VMM in this process booting Debian's kernel and Berth's initramfs, its console recorded. */
export async function startDebianVmm(
  dir: string,
  name: string,
  extra: Record<string, unknown>,
): Promise<DebianVmm> {
  const a = await ensureDefaultAssets({ progress: false });
  const sock = join(dir, `${name}.sock`);
  const config = parseVmmConfig({
    name,
    firmware: a.firmwarePath,
    kernel: a.kernelPath,
    initrd: a.initrdPath,
    controlSocket: sock,
    ...extra,
  });
  const vmm = await Vmm.start(config, { console: { input: null, output: null }, log: () => {} });
  let out = '';
  vmm.io.subscribe((c) => (out += c.toString('latin1')));
  return { vmm, sock, out: () => out, done: vmm.run() };
}

/** Types `line` on the guest's console and waits for `marker` after it. */
export async function shell(
  g: DebianVmm,
  line: string,
  marker: RegExp,
  ms = 120_000,
): Promise<string> {
  const c = await openConsole(g.sock, { replay: false });
  const before = g.out().length;
  c.socket.write(`${line}\n`);
  await sleep(100);
  c.socket.destroy();
  let m: RegExpMatchArray | null = null;
  await until(
    `${marker} on the console`,
    () => (m = g.out().slice(before).match(marker)) !== null,
    ms,
  );
  return m![1] ?? m![0];
}
