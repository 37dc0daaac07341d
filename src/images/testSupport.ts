// Test support (not used by Berth itself): builds a small signed Debian archive in a temporary
// folder — real .debs made with dpkg-deb, Packages.gz, Release, InRelease signed with a throwaway
// gpg key — so the archive client and the asset pipeline can be tested offline via a file: URL.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface FakeFile {
  data?: string | Uint8Array;
  mode?: number;
  symlink?: string;
}

export interface FakePackage {
  name: string;
  version: string;
  arch?: string;
  files?: Record<string, FakeFile>;
  depends?: string;
  provides?: string;
}

export interface FakeArchiveOptions {
  suite?: string;
  arch?: string;
  packages: FakePackage[];
  /** Sign InRelease (default), write Release + Release.gpg, or leave it unsigned. */
  signing?: 'inrelease' | 'detached' | 'none';
}

export class FakeArchive {
  readonly root: string;
  readonly mirror: string;
  readonly suite: string;
  readonly arch: string;
  /** A keyring holding the signing key, for gpgv. */
  readonly keyring: string;
  /** A keyring holding only another key (for the missing-key case). */
  readonly otherKeyring: string;
  private readonly gnupg: string;
  private readonly work: string;

  constructor() {
    this.work = mkdtempSync(join(tmpdir(), 'berth-fake-archive-'));
    this.root = join(this.work, 'debian');
    this.mirror = pathToFileURL(this.root).href;
    this.suite = 'fake';
    this.arch = 'riscv64';
    this.gnupg = join(this.work, 'gnupg');
    mkdirSync(this.gnupg, { mode: 0o700 });
    this.keyring = join(this.work, 'keyring.gpg');
    this.otherKeyring = join(this.work, 'other.gpg');
    this.gpg([
      '--quick-gen-key',
      'Berth Test Archive <archive@example.org>',
      'ed25519',
      'sign',
      'never',
    ]);
    writeFileSync(this.keyring, this.gpg(['--export', 'archive@example.org']));
    this.gpg(['--quick-gen-key', 'Someone Else <else@example.org>', 'ed25519', 'sign', 'never']);
    writeFileSync(this.otherKeyring, this.gpg(['--export', 'else@example.org']));
  }

  private gpg(args: string[], input?: Buffer): Buffer {
    return execFileSync(
      'gpg',
      [
        '--homedir',
        this.gnupg,
        '--batch',
        '--quiet',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        ...args,
      ],
      { input, stdio: ['pipe', 'pipe', 'pipe'] },
    );
  }

  /** (Re)writes the archive with these packages. Returns the .deb bytes by package name. */
  publish(opts: FakeArchiveOptions): Map<string, Buffer> {
    rmSync(this.root, { recursive: true, force: true });
    const suite = opts.suite ?? this.suite;
    const arch = opts.arch ?? this.arch;
    const debs = new Map<string, Buffer>();
    const stanzas: string[] = [];
    for (const p of opts.packages) {
      const deb = buildDeb(this.work, p, arch);
      const pArch = p.arch ?? arch;
      const filename = `pool/main/${p.name[0]}/${p.name}/${p.name}_${p.version.replace(/^\d+:/, '')}_${pArch}.deb`;
      mkdirSync(dirname(join(this.root, filename)), { recursive: true });
      writeFileSync(join(this.root, filename), deb);
      debs.set(p.name, deb);
      stanzas.push(
        [
          `Package: ${p.name}`,
          `Version: ${p.version}`,
          `Architecture: ${pArch}`,
          ...(p.provides ? [`Provides: ${p.provides}`] : []),
          ...(p.depends ? [`Depends: ${p.depends}`] : []),
          `Description: ${p.name} for tests`,
          ` a second description line`,
          `Filename: ${filename}`,
          `Size: ${deb.length}`,
          `SHA256: ${sha256(deb)}`,
        ].join('\n'),
      );
    }
    const packages = Buffer.from(stanzas.join('\n\n') + '\n');
    const dists = join(this.root, 'dists', suite);
    const index = `main/binary-${arch}/Packages.gz`;
    const gz = gzipSync(packages);
    mkdirSync(join(dists, dirname(index)), { recursive: true });
    writeFileSync(join(dists, index), gz);
    const release = [
      'Origin: Berth test',
      `Suite: ${suite}`,
      `Codename: ${suite}`,
      `Architectures: ${arch}`,
      'Components: main',
      'No-Support-for-Architecture-all: Packages',
      'SHA256:',
      ` ${sha256(gz)} ${gz.length} ${index}`,
      ` ${sha256(packages)} ${packages.length} main/binary-${arch}/Packages`,
      '',
    ].join('\n');
    writeFileSync(join(dists, 'Release'), release);
    const signing = opts.signing ?? 'inrelease';
    if (signing === 'inrelease') {
      writeFileSync(
        join(dists, 'InRelease'),
        this.gpg(['--local-user', 'archive@example.org', '--clearsign'], Buffer.from(release)),
      );
    } else if (signing === 'detached') {
      writeFileSync(
        join(dists, 'Release.gpg'),
        this.gpg(
          ['--local-user', 'archive@example.org', '--armor', '--detach-sign'],
          Buffer.from(release),
        ),
      );
    }
    return debs;
  }

  /** Path of a file in the published archive. */
  path(rel: string): string {
    return join(this.root, rel);
  }

  close(): void {
    try {
      execFileSync('gpgconf', ['--homedir', this.gnupg, '--kill', 'all'], { stdio: 'ignore' });
    } catch {
      // no agent running
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}

function buildDeb(work: string, p: FakePackage, arch: string): Buffer {
  const root = mkdtempSync(join(work, 'pkgroot-'));
  try {
    mkdirSync(join(root, 'DEBIAN'));
    writeFileSync(
      join(root, 'DEBIAN', 'control'),
      `Package: ${p.name}\nVersion: ${p.version}\nArchitecture: ${p.arch ?? arch}\nMaintainer: Berth tests <tests@example.org>\nDescription: test\n`,
    );
    for (const [path, f] of Object.entries(p.files ?? {})) {
      const full = join(root, path);
      mkdirSync(dirname(full), { recursive: true });
      if (f.symlink !== undefined) symlinkSync(f.symlink, full);
      else {
        writeFileSync(full, f.data ?? '');
        chmodSync(full, f.mode ?? 0o644);
      }
    }
    const out = join(work, 'out.deb');
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, out], {
      stdio: 'pipe',
    });
    return readFileSync(out);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** 64+ bytes that look like a RISC-V Linux Image (magic "RISCV" at 0x30, "RSC\x05" at 0x38). */
export function fakeRiscvImage(extra = 'kernel'): Buffer {
  const b = Buffer.alloc(0x40 + extra.length);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x200000, 8);
  b.write('RISCV\0\0\0', 0x30, 'latin1');
  b.write('RSC\x05', 0x38, 'latin1');
  b.write(extra, 0x40, 'latin1');
  return b;
}

/** Bytes that look like a kernel module with a .modinfo depends= field. */
export function fakeModule(name: string, depends: string[]): Buffer {
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
    Buffer.from(`\0license=GPL\0depends=${depends.join(',')}\0name=${name}\0`),
  ]);
}

/** A stand-in for an ELF executable. */
export function fakeElf(tag: string): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from(tag)]);
}

/** Asset options that fetch quietly from `fake` into the cache folder `cacheDir`. */
export function fakeAssetOptions(
  fake: FakeArchive,
  cacheDir: string,
): {
  mirror: string;
  suite: string;
  cacheDir: string;
  keyring: string;
  progress: false;
  log: () => void;
} {
  return {
    mirror: fake.mirror,
    suite: fake.suite,
    cacheDir,
    keyring: fake.keyring,
    progress: false,
    log: () => {},
  };
}
