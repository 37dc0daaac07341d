// A guest booted from its own disk serves on the network: with user-mode
// networking (libslirp) it gets an address by DHCP, the host fetches its
// web page through a forwarded port, `ssh -p PORT` runs a command in it with
// the key given to `berth image build`, and two guests run at once with
// separate disks and ports. Only loopback is used on the host side.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleSession } from './session.js';
import { buildImage } from '../../src/images/imageBuild.js';
import { GUEST_READY_BANNER, INDEX_HTML_TEXT } from '../../src/images/rootfs.js';
import { PLAIN_CONSOLE_ARG } from '../../src/images/initramfs.js';
import { freePort } from '../support/wait.js';

const BOOT_MS = 600_000;
const PROMPT = /# (?:\x1b\[6n)?$/m;

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (r.ok) return await r.text();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

test(
  'two guests on their own disks serve http and ssh through forwarded ports',
  { timeout: BOOT_MS + 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-net-it-'));
    const sessions: ConsoleSession[] = [];
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
      const r = await buildImage({
        outDir: dir,
        sizeBytes: 128 << 20,
        sshPublicKey: readFileSync(join(dir, 'key.pub'), 'utf8'),
        progress: false,
        log: () => {},
      });
      const m = r.manifest;
      const second = join(dir, 'rootfs-b.img');
      copyFileSync(r.rootfsPath, second);
      const guests = [
        { disk: r.rootfsPath, http: await freePort(), ssh: await freePort(), name: 'guest-a' },
        { disk: second, http: await freePort(), ssh: await freePort(), name: 'guest-b' },
      ];
      for (const g of guests) {
        sessions.push(
          ConsoleSession.berth([
            ...['--memory', '256M', '--kernel', m.kernelPath, '--firmware', m.firmwarePath],
            ...['--initrd', r.initrdPath, '--append', `${m.cmdline} ${PLAIN_CONSOLE_ARG}`],
            ...['--disk', g.disk, '--net', 'user', '-p', `${g.http}:80`, '-p', `${g.ssh}:22`],
          ]),
        );
      }
      await Promise.all(sessions.map((s) => s.expect(GUEST_READY_BANNER, BOOT_MS)));
      for (const [i, s] of sessions.entries()) {
        await s.expect(PROMPT, 60_000);
        const addr = await s.run('ip -4 addr show eth0');
        assert.match(addr, /inet \d+\.\d+\.\d+\.\d+\//, 'DHCP gave eth0 an address');
        await s.run(`echo ${guests[i].name} > /srv/www/id.txt`);
      }
      for (const g of guests) {
        const page = await fetchText(`http://127.0.0.1:${g.http}/`, 60_000);
        assert.match(page, new RegExp(INDEX_HTML_TEXT));
        assert.equal((await fetchText(`http://127.0.0.1:${g.http}/id.txt`, 30_000)).trim(), g.name);
        const out = execFileSync(
          'ssh',
          [
            ...['-p', String(g.ssh), '-i', join(dir, 'key'), '-o', 'StrictHostKeyChecking=no'],
            ...['-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'BatchMode=yes'],
            ...['-o', 'ConnectTimeout=60', 'root@127.0.0.1', 'cat /srv/www/id.txt; uname -m'],
          ],
          { timeout: 180_000 },
        ).toString();
        assert.match(out, new RegExp(`^${g.name}\\nriscv64$`, 'm'), out);
      }
      for (const s of sessions) s.send('poweroff -f\n');
      for (const s of sessions) assert.equal(await s.exited, 0);
    } finally {
      for (const s of sessions) s.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
