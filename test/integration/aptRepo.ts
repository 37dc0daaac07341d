// A small signed apt repository for guests to install from, served on the host's loopback: a
// package (Architecture: all) that installs a command printing a marker, and a stand-in kernel
// package whose postinst runs Debian's kernel hooks, built with dpkg-deb;
// a flat repository (Packages, Release) signed inline (InRelease) with a new OpenPGP key made
// with gpg in a temporary home. A guest on `--net user` reaches it at 10.0.2.2:PORT and trusts
// it through `Signed-By:` with the key's public part.
//
// API
//   const repo = await serveAptRepo(dir);   repo.port, repo.publicKey (armored), repo.marker
//   repo.close()

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';

export const APT_PACKAGE = 'berth-hello';

export interface AptRepo {
  port: number;
  /** The signing key's public part, ASCII-armored (for Signed-By). */
  publicKey: string;
  /** What the package's command, /usr/bin/berth-hello, prints. */
  marker: string;
  /** Paths the guest asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * The version of the stand-in kernel that APT_KERNEL_PACKAGE installs: its postinst copies the
 * running kernel and initramfs to /boot/vmlinux-VERSION and /boot/initrd.img-VERSION and runs the
 * kernel hooks in /etc/kernel/postinst.d for it, as a linux-image package's postinst does; only
 * u-boot-menu's (zz-u-boot-menu), since the initramfs is a copy and initramfs-tools' hook would
 * look for the version's modules.
 */
export const APT_KERNEL_VERSION = '6.99.0-berth-test';
export const APT_KERNEL_PACKAGE = `linux-image-${APT_KERNEL_VERSION}`;

interface RepoPackage {
  name: string;
  description: string;
  files: { path: string; mode: number; text: string }[];
  postinst?: string;
}

export async function serveAptRepo(dir: string): Promise<AptRepo> {
  const marker = `hello from the test repository ${Date.now().toString(36)}`;
  const v = APT_KERNEL_VERSION;
  const packages: RepoPackage[] = [
    {
      name: APT_PACKAGE,
      description: 'prints a marker',
      files: [
        { path: `usr/bin/${APT_PACKAGE}`, mode: 0o755, text: `#!/bin/sh\necho '${marker}'\n` },
      ],
    },
    {
      name: APT_KERNEL_PACKAGE,
      description: 'the running kernel again, under a newer version',
      files: [],
      postinst: [
        '#!/bin/sh',
        'set -e',
        '[ "$1" = configure ] || exit 0',
        `cp "/boot/vmlinux-$(uname -r)" /boot/vmlinux-${v}`,
        `cp "/boot/initrd.img-$(uname -r)" /boot/initrd.img-${v}`,
        `run-parts --report --exit-on-error --arg=${v} --arg=/boot/vmlinux-${v} --regex='^zz-' /etc/kernel/postinst.d`,
        '',
      ].join('\n'),
    },
  ];
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  let index = '';
  for (const p of packages) index += buildPackage(dir, repo, p) + '\n';
  writeFileSync(join(repo, 'Packages'), index);
  const release =
    [
      'Origin: Berth tests',
      'Label: Berth tests',
      'Suite: berth-test',
      'Codename: berth-test',
      `Date: ${new Date().toUTCString()}`,
      'Architectures: all riscv64',
      'SHA256:',
      ` ${sha256(Buffer.from(index))} ${index.length} Packages`,
    ].join('\n') + '\n';
  writeFileSync(join(repo, 'Release'), release);

  const home = join(dir, 'gnupg');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const gpg = (args: string[], input?: string): Buffer =>
    execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', ...args], {
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  gpg(['--passphrase', '', '--quick-gen-key', 'Berth test repository', 'ed25519', 'sign', 'never']);
  gpg(['--passphrase', '', '--clearsign', '-o', join(repo, 'InRelease'), join(repo, 'Release')]);
  const publicKey = gpg(['--armor', '--export']).toString();

  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]));
    requests.push(path);
    const file = join(repo, path);
    if (!file.startsWith(repo + '/') || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    publicKey,
    marker,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Builds one package into `repo` with dpkg-deb; returns its stanza for the Packages index. */
function buildPackage(dir: string, repo: string, p: RepoPackage): string {
  const root = join(dir, 'pkg', p.name);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  const control = [
    `Package: ${p.name}`,
    'Version: 1.0',
    'Architecture: all',
    'Maintainer: Berth tests <tests@berth.invalid>',
    `Description: ${p.description} (made by the Berth test suite)`,
  ].join('\n');
  writeFileSync(join(root, 'DEBIAN', 'control'), control + '\n');
  if (p.postinst !== undefined) {
    writeFileSync(join(root, 'DEBIAN', 'postinst'), p.postinst, { mode: 0o755 });
  }
  for (const f of p.files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.text, { mode: f.mode });
  }
  const debName = `${p.name}_1.0_all.deb`;
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, join(repo, debName)], {
    stdio: 'pipe',
  });
  const deb = readFileSync(join(repo, debName));
  return (
    [control, `Filename: ./${debName}`, `Size: ${deb.length}`, `SHA256: ${sha256(deb)}`].join(
      '\n',
    ) + '\n'
  );
}
