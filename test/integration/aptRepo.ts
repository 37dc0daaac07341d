// A small signed apt repository for guests to install from, served on the host's loopback: one
// package (Architecture: all) that installs a command printing a marker, built with dpkg-deb;
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
import { join, normalize } from 'node:path';

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

export async function serveAptRepo(dir: string): Promise<AptRepo> {
  const marker = `hello from the test repository ${Date.now().toString(36)}`;
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr', 'bin'), { recursive: true });
  const control = [
    `Package: ${APT_PACKAGE}`,
    'Version: 1.0',
    'Architecture: all',
    'Maintainer: Berth tests <tests@berth.invalid>',
    'Description: prints a marker (made by the Berth test suite)',
  ].join('\n');
  writeFileSync(join(pkg, 'DEBIAN', 'control'), control + '\n');
  writeFileSync(join(pkg, 'usr', 'bin', APT_PACKAGE), `#!/bin/sh\necho '${marker}'\n`, {
    mode: 0o755,
  });
  const repo = join(dir, 'repo');
  mkdirSync(repo, { recursive: true });
  const debName = `${APT_PACKAGE}_1.0_all.deb`;
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', pkg, join(repo, debName)], {
    stdio: 'pipe',
  });
  const deb = readFileSync(join(repo, debName));
  const packages =
    [control, `Filename: ./${debName}`, `Size: ${deb.length}`, `SHA256: ${sha256(deb)}`].join(
      '\n',
    ) + '\n';
  writeFileSync(join(repo, 'Packages'), packages);
  const release =
    [
      'Origin: Berth tests',
      'Label: Berth tests',
      'Suite: berth-test',
      'Codename: berth-test',
      `Date: ${new Date().toUTCString()}`,
      'Architectures: all riscv64',
      'SHA256:',
      ` ${sha256(Buffer.from(packages))} ${packages.length} Packages`,
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
