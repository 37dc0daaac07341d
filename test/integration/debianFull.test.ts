// The full Debian image (`berth image build --distro debian`): systemd, apt, OpenSSH and
// cloud-init, booted by U-Boot from the disk's own /boot. One image, two qcow2 overlays of it:
// one boots on qemu-system-riscv64, the other on Berth. On both, cloud-init's first boot gives
// the guest its host name and the default user's SSH key and password (from the seed the build
// made of --hostname, --ssh-key and --user-data); the serial console shows the same login
// banner; SSH works; `systemctl is-system-running` says running and `systemctl --failed` lists
// the same (nothing). On Berth a package is then installed with apt-get from a signed
// repository served on the host's loopback; a stand-in kernel package from it makes u-boot-menu
// rewrite extlinux.conf, and after a reboot U-Boot loads that kernel (a kernel upgrade takes
// effect at the next boot); a login on the serial console works, and `sudo poweroff` ends
// `berth run` with status 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDebianImage } from '../../src/images/debianDistro.js';
import { APT_KERNEL_PACKAGE, APT_KERNEL_VERSION, APT_PACKAGE, serveAptRepo } from './aptRepo.js';
import { freePort } from '../support/wait.js';
import { bootDebianOnBerth, bootDebianOnQemu } from './debianBoot.js';
import { ConsoleSession } from './session.js';

const BOOT_MS = 20 * 60_000;
const HOSTNAME = 'berth-debian';
const PASSWORD = 'berth-test-password';
const LOGIN = new RegExp(`^${HOSTNAME} login: `, 'm');

const run = promisify(execFile);

/** Runs a command in the guest over SSH as the default user; returns its output. */
async function ssh(port: number, dir: string, command: string, input?: string): Promise<string> {
  const child = run(
    'ssh',
    [
      ...['-p', String(port), '-i', join(dir, 'key'), '-o', 'StrictHostKeyChecking=no'],
      ...['-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'BatchMode=yes'],
      ...['-o', 'ConnectTimeout=60', '-o', 'IdentitiesOnly=yes', 'debian@127.0.0.1', command],
    ],
    { timeout: 600_000, maxBuffer: 16 << 20 },
  );
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

/** The line before the login prompt: "Debian GNU/Linux 13 HOST ttyS0". */
function banner(console: string): string {
  const text = console.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
  const at = text.search(LOGIN);
  const lines = text.slice(0, at).trimEnd().split('\n');
  return lines.at(-1)!.trim();
}

test(
  'the full Debian image boots on Berth as on QEMU: systemd running, SSH, apt install, serial login, poweroff',
  { timeout: 4 * BOOT_MS },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-debian-it-'));
    const sessions: ConsoleSession[] = [];
    const repo = await serveAptRepo(dir);
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
      const r = await buildDebianImage({
        outDir: join(dir, 'img'),
        sshPublicKey: readFileSync(join(dir, 'key.pub'), 'utf8').trim(),
        userData: `#cloud-config\npassword: ${PASSWORD}\nchpasswd: { expire: false }\n`,
        hostname: HOSTNAME,
        progress: false,
        log: (line) => console.log(`# ${line}`),
      });
      const m = r.manifest;
      assert.equal(m.boot, 'uboot');
      for (const name of ['systemd', 'apt', 'openssh-server', 'cloud-init', 'u-boot-menu']) {
        assert.ok(
          m.packages.some((p) => p.name === name),
          `the image has ${name}`,
        );
      }
      // QEMU, as its users would start it, and Berth, booting at the same time.
      const qPort = await freePort();
      const q = bootDebianOnQemu(r, { dir, memory: '1G', sshPort: qPort });
      sessions.push(q);
      const bPort = await freePort();
      const s = bootDebianOnBerth(r, { dir, memory: '1G', sshPort: bPort });
      sessions.push(s);
      const t = Date.now();
      const login = async (c: ConsoleSession, name: string): Promise<void> => {
        await c.expect(LOGIN, BOOT_MS);
        console.log(`# ${name}: login prompt after ${((Date.now() - t) / 1000).toFixed(1)} s`);
      };
      await Promise.all([login(q, 'QEMU'), login(s, 'Berth')]);
      const qState = await ssh(qPort, dir, 'systemctl is-system-running --wait || true');
      const qFailed = await ssh(qPort, dir, 'systemctl --failed --plain --no-legend');
      await ssh(qPort, dir, 'sudo poweroff').catch(() => '');
      assert.equal(await q.exited, 0);

      assert.equal(banner(s.output), banner(q.output));
      assert.match(banner(s.output), new RegExp(`^Debian GNU/Linux 13 ${HOSTNAME} ttyS0$`));
      const state = await ssh(bPort, dir, 'systemctl is-system-running --wait || true');
      const failed = await ssh(bPort, dir, 'systemctl --failed --plain --no-legend');
      assert.equal(state.trim(), 'running', `Berth: ${state}\nfailed units:\n${failed}`);
      assert.equal(qState.trim(), 'running', `QEMU: ${qState}\nfailed units:\n${qFailed}`);
      assert.equal(failed, qFailed);
      assert.equal((await ssh(bPort, dir, 'hostname')).trim(), HOSTNAME);

      // apt-get from the test's signed repository on the host's loopback (10.0.2.2 in the guest).
      await ssh(bPort, dir, 'sudo tee /etc/apt/keyrings/berth-test.asc >/dev/null', repo.publicKey);
      const list = `deb [signed-by=/etc/apt/keyrings/berth-test.asc] http://10.0.2.2:${repo.port}/ ./`;
      await ssh(bPort, dir, `echo '${list}' | sudo tee /etc/apt/sources.list.d/berth-test.list`);
      const only =
        '-o Dir::Etc::SourceList=/etc/apt/sources.list.d/berth-test.list -o Dir::Etc::SourceParts=-';
      await ssh(bPort, dir, `sudo apt-get ${only} update`);
      await ssh(bPort, dir, `sudo apt-get ${only} install -y ${APT_PACKAGE}`);
      assert.equal((await ssh(bPort, dir, APT_PACKAGE)).trim(), repo.marker);
      assert.ok(repo.requests.includes('/InRelease'), repo.requests.join(' '));

      // A kernel upgrade: u-boot-menu's hook rewrites extlinux.conf, and U-Boot boots the new
      // kernel at the next boot.
      await ssh(bPort, dir, `sudo apt-get ${only} install -y ${APT_KERNEL_PACKAGE}`);
      const conf = await ssh(bPort, dir, 'cat /boot/extlinux/extlinux.conf');
      const first = /^label l0\n(?:\t.*\n)*?\tlinux (\S+)$/m.exec(conf);
      assert.equal(first?.[1], `/boot/vmlinux-${APT_KERNEL_VERSION}`, conf);
      await ssh(bPort, dir, 'sudo systemctl reboot').catch(() => '');
      await s.expect(`Retrieving file: /boot/vmlinux-${APT_KERNEL_VERSION}`, BOOT_MS);
      await s.expect(LOGIN, BOOT_MS);

      // A login on the serial console, with the password from the user data.
      s.send('debian\n');
      await s.expect('Password:', 60_000);
      s.send(`${PASSWORD}\n`);
      await s.expect(/\$ $/m, 120_000);
      assert.equal((await s.run('id -un')).trim(), 'debian');
      s.send('sudo poweroff\n');
      assert.equal(await s.exited, 0, 'berth run ends with status 0 when the guest powers off');
    } finally {
      for (const c of sessions) c.kill();
      await repo.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
