// A client for one suite of a Debian archive: fetches dists/<suite>/InRelease (or Release and
// Release.gpg), verifies the signature with gpgv and the Debian archive keyring, reads the
// SHA-256 list, fetches and checks the Packages index of one architecture, resolves packages
// (including metapackages such as linux-image-riscv64) and downloads .debs into the cache,
// checking size and SHA-256, with progress on stderr.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import { AssetCache, sha256Hex } from './cache.js';
import {
  compareVersions,
  parseRelations,
  parseStanza,
  type Relation,
  satisfies,
} from './control.js';
import { ImageError, MIRROR_HINT } from './errors.js';
import { startProgress } from './progress.js';

export const DEFAULT_SUITE = 'trixie';
export const DEFAULT_ARCH = 'riscv64';
export const DEFAULT_KEYRINGS = [
  '/usr/share/keyrings/debian-archive-keyring.gpg',
  '/usr/share/keyrings/debian-archive-keyring.pgp',
];

/** How to treat the Release signature: check when possible, always, or never (checksums only). */
export type VerifyMode = 'auto' | 'require' | 'skip';

export interface ArchiveOptions {
  /** Archive root URL (http, https or file), e.g. from findDebianMirror(). */
  mirror: string;
  suite?: string;
  arch?: string;
  component?: string;
  cache?: AssetCache;
  /** Keyring for gpgv (default: BERTH_KEYRING, else the Debian archive keyring). */
  keyring?: string;
  verify?: VerifyMode;
  /** Show download progress on stderr (default true). */
  progress?: boolean;
  /** Where notes and warnings go (default: stderr lines prefixed "berth: "). */
  log?: (line: string) => void;
  /** Give up on a request that sends nothing for this long (default 60 s). */
  idleTimeoutMs?: number;
}

export interface ReleaseInfo {
  fields: Record<string, string>;
  /** Path relative to dists/<suite>/ -> checksum and size. */
  files: Map<string, { sha256: string; size: number }>;
  /** How the Release was authenticated. */
  signature: { verified: true; keys: string[] } | { verified: false; reason: string };
}

export interface PackageInfo {
  package: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
  depends: Relation[][];
  preDepends: Relation[][];
  provides: Relation[][];
  fields: Record<string, string>;
}

const warned = new Set<string>();

export class DebianArchive {
  readonly mirror: string;
  readonly suite: string;
  readonly arch: string;
  readonly component: string;
  readonly cache: AssetCache;
  private readonly opts: ArchiveOptions;
  private releasePromise?: Promise<ReleaseInfo>;
  private indexPromise?: Promise<PackageIndex>;

  constructor(opts: ArchiveOptions) {
    this.opts = opts;
    this.mirror = opts.mirror.replace(/\/+$/, '');
    this.suite = opts.suite ?? DEFAULT_SUITE;
    this.arch = opts.arch ?? DEFAULT_ARCH;
    this.component = opts.component ?? 'main';
    this.cache = opts.cache ?? new AssetCache();
  }

  log(line: string): void {
    if (this.opts.log) this.opts.log(line);
    else process.stderr.write(`berth: ${line}\n`);
  }

  private warnOnce(key: string, line: string): void {
    if (warned.has(key)) return;
    warned.add(key);
    this.log(line);
  }

  url(path: string): string {
    return `${this.mirror}/${path}`;
  }

  /** The suite's Release data, fetched and verified once per instance. */
  release(): Promise<ReleaseInfo> {
    this.releasePromise ??= this.fetchRelease();
    return this.releasePromise;
  }

  private async fetchRelease(): Promise<ReleaseInfo> {
    const base = `dists/${this.suite}`;
    let text: string;
    let signature: ReleaseInfo['signature'];
    const inRelease = await this.fetchSmall(`${base}/InRelease`, true);
    if (inRelease) {
      text = clearsignedBody(inRelease.toString('utf8'), this.url(`${base}/InRelease`));
      signature = await this.verify(inRelease, undefined);
    } else {
      const rel = await this.fetchSmall(`${base}/Release`, true);
      if (!rel) {
        throw new ImageError(
          'NOT_FOUND',
          `the archive at ${this.mirror} has no suite "${this.suite}" (neither ${base}/InRelease nor ${base}/Release exists); pass a suite that has ${this.arch} (e.g. --suite trixie) or ${MIRROR_HINT}`,
        );
      }
      text = rel.toString('utf8');
      const sig = await this.fetchSmall(`${base}/Release.gpg`, true);
      signature = sig
        ? await this.verify(rel, sig)
        : this.unsigned(`${base}/Release has no Release.gpg`);
    }
    const fields = parseStanza(text);
    const names = [fields.Suite, fields.Codename].filter(Boolean);
    if (names.length > 0 && !names.includes(this.suite)) {
      throw new ImageError(
        'SIGNATURE',
        `${this.url(base)}: the Release file is for "${names.join('/')}", not "${this.suite}"; the mirror is misconfigured — ${MIRROR_HINT}`,
      );
    }
    if (fields['Valid-Until']) {
      const until = Date.parse(fields['Valid-Until']);
      if (Number.isFinite(until) && until < Date.now()) {
        throw new ImageError(
          'SIGNATURE',
          `${this.url(base)}: the Release file expired on ${fields['Valid-Until']} (the mirror is out of date, or the host clock is wrong); ${MIRROR_HINT}`,
        );
      }
    }
    const archs = (fields.Architectures ?? '').split(/\s+/);
    if (fields.Architectures && !archs.includes(this.arch)) {
      throw new ImageError(
        'NOT_FOUND',
        `suite "${this.suite}" of ${this.mirror} has no ${this.arch} packages (architectures: ${fields.Architectures}); riscv64 is an official Debian architecture from trixie on: pass --suite trixie (or later)`,
      );
    }
    const files = new Map<string, { sha256: string; size: number }>();
    for (const line of (fields.SHA256 ?? '').split('\n')) {
      const m = /^\s*([0-9a-f]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line);
      if (m) files.set(m[3], { sha256: m[1], size: Number(m[2]) });
    }
    if (files.size === 0) {
      throw new ImageError(
        'FORMAT',
        `${this.url(base)}: the Release file has no SHA256 list; ${MIRROR_HINT}`,
      );
    }
    return { fields, files, signature };
  }

  private unsigned(reason: string): ReleaseInfo['signature'] {
    const mode = this.verifyMode();
    if (mode === 'require') {
      throw new ImageError(
        'SIGNATURE',
        `cannot verify the archive signature: ${reason}; install gpgv and debian-archive-keyring, or set BERTH_VERIFY=auto to accept checksums only`,
      );
    }
    if (mode === 'auto') {
      this.warnOnce(
        `unsigned:${reason}`,
        `warning: not checking the archive signature (${reason}); relying on checksums only`,
      );
    }
    return { verified: false, reason };
  }

  private verifyMode(): VerifyMode {
    const env = process.env.BERTH_VERIFY;
    const m = this.opts.verify ?? (env === 'skip' || env === 'require' ? env : 'auto');
    return m;
  }

  private keyring(): string | undefined {
    if (this.opts.keyring) return this.opts.keyring;
    if (process.env.BERTH_KEYRING) return process.env.BERTH_KEYRING;
    return DEFAULT_KEYRINGS.find((k) => existsSync(k));
  }

  /** Verifies a clearsigned file (sig undefined) or a detached signature with gpgv. */
  private async verify(data: Buffer, sig: Buffer | undefined): Promise<ReleaseInfo['signature']> {
    if (this.verifyMode() === 'skip') return { verified: false, reason: 'verification disabled' };
    const keyring = this.keyring();
    if (!keyring || !existsSync(keyring)) {
      return this.unsigned(
        `the Debian archive keyring (${this.opts.keyring ?? process.env.BERTH_KEYRING ?? DEFAULT_KEYRINGS[0]}) is missing — install debian-archive-keyring`,
      );
    }
    const dir = await mkdtemp(join(tmpdir(), 'berth-gpgv-'));
    try {
      const dataPath = join(dir, 'Release');
      await writeFile(dataPath, data);
      const args = ['--status-fd', '1', '--keyring', keyring];
      if (sig) {
        const sigPath = join(dir, 'Release.gpg');
        await writeFile(sigPath, sig);
        args.push(sigPath, dataPath);
      } else {
        args.push(dataPath);
      }
      let status: string;
      try {
        const r = await promisify(execFile)('gpgv', args, { encoding: 'utf8' });
        status = r.stdout;
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stdout?: string };
        if (err.code === 'ENOENT') {
          return this.unsigned('gpgv is not installed — install the Debian package gpgv');
        }
        status = err.stdout ?? '';
      }
      return this.judgeSignature(status, keyring);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private judgeSignature(status: string, keyring: string): ReleaseInfo['signature'] {
    const lines = status.split('\n').filter((l) => l.startsWith('[GNUPG:] '));
    const words = (tag: string) =>
      lines.filter((l) => l.split(' ')[1] === tag).map((l) => l.split(' ').slice(2));
    const where = this.url(`dists/${this.suite}`);
    if (words('BADSIG').length > 0) {
      throw new ImageError(
        'SIGNATURE',
        `${where}: BAD signature on the Release file — the file was altered or damaged on the way; ${MIRROR_HINT}`,
      );
    }
    const valid = words('VALIDSIG').map((w) => w[0]);
    if (valid.length > 0) return { verified: true, keys: valid };
    const missing = words('NO_PUBKEY').map((w) => w[0]);
    if (missing.length > 0) {
      throw new ImageError(
        'SIGNATURE',
        `${where}: the Release file is signed only by key(s) ${missing.join(', ')}, which the keyring ${keyring} does not hold (an older debian-archive-keyring lacks newer releases' keys); update the host's debian-archive-keyring package, point BERTH_KEYRING at a keyring holding the key, or set BERTH_VERIFY=skip to rely on checksums only`,
      );
    }
    const expired = [...words('EXPKEYSIG'), ...words('REVKEYSIG')].map((w) => w[0]);
    if (expired.length > 0) {
      throw new ImageError(
        'SIGNATURE',
        `${where}: the Release file is signed only by expired or revoked key(s) ${expired.join(', ')}; update the host's debian-archive-keyring package or ${MIRROR_HINT}`,
      );
    }
    throw new ImageError(
      'SIGNATURE',
      `${where}: gpgv found no valid signature on the Release file (${lines.join('; ') || 'no status'}); ${MIRROR_HINT}`,
    );
  }

  /** The package index of the suite's architecture (plus binary-all where the archive keeps it apart). */
  packages(): Promise<PackageIndex> {
    this.indexPromise ??= this.loadPackages();
    return this.indexPromise;
  }

  private async loadPackages(): Promise<PackageIndex> {
    const rel = await this.release();
    const index = new PackageIndex();
    index.add(await this.fetchIndex(`binary-${this.arch}`, rel));
    const allInArch = (rel.fields['No-Support-for-Architecture-all'] ?? '') === 'Packages';
    if (
      !allInArch &&
      [...rel.files.keys()].some((k) => k.startsWith(`${this.component}/binary-all/Packages`))
    ) {
      index.add(await this.fetchIndex('binary-all', rel));
    }
    return index;
  }

  private async fetchIndex(dir: string, rel: ReleaseInfo): Promise<string> {
    const base = `${this.component}/${dir}/Packages`;
    const choice = ['.gz', '.xz', ''].map((s) => base + s).find((p) => rel.files.has(p));
    if (!choice) {
      throw new ImageError(
        'NOT_FOUND',
        `the Release file of ${this.url(`dists/${this.suite}`)} lists no ${base}; pass a suite that has ${this.arch} (e.g. --suite trixie) or ${MIRROR_HINT}`,
      );
    }
    const want = rel.files.get(choice)!;
    let raw = await this.cache.read(want.sha256);
    if (!raw) {
      const paths = [`dists/${this.suite}/${choice}`];
      if (rel.fields['Acquire-By-Hash'] === 'yes') {
        const slash = choice.lastIndexOf('/');
        paths.unshift(
          `dists/${this.suite}/${choice.slice(0, slash)}/by-hash/SHA256/${want.sha256}`,
        );
      }
      let lastErr: unknown;
      for (const p of paths) {
        try {
          raw = await this.downloadToCache(
            p,
            want.sha256,
            want.size,
            `${this.suite}/${base}`,
            false,
          );
          break;
        } catch (e) {
          lastErr = e;
        }
      }
      if (!raw) throw lastErr;
    }
    if (choice.endsWith('.gz')) return (await promisify(zlib.gunzip)(raw)).toString('utf8');
    if (choice.endsWith('.xz')) return (await xz.decompress(raw)).toString('utf8');
    return raw.toString('utf8');
  }

  /** Downloads a package's .deb into the cache (or finds it there) and returns its path. */
  async download(pkg: PackageInfo): Promise<string> {
    const cached = await this.cache.get(pkg.sha256, pkg.size);
    if (cached) return cached;
    await this.downloadToCache(pkg.filename, pkg.sha256, pkg.size, pkg.package, true);
    return this.cache.blobPath(pkg.sha256);
  }

  /**
   * Fetches path into the cache blob named sha256, checking size and hash. Small files (big
   * false) are also returned; big ones show progress and return an empty buffer. Transient
   * failures are retried twice; a bad checksum once.
   */
  private async downloadToCache(
    path: string,
    sha256: string,
    size: number,
    label: string,
    big: boolean,
  ): Promise<Buffer> {
    const url = this.url(path);
    for (let attempt = 1; ; attempt++) {
      const w = await this.cache.writer(sha256);
      const progress = startProgress(label, size, this.opts.progress !== false);
      let got = 0;
      const keep: Buffer[] = [];
      try {
        for await (const chunk of this.stream(url)) {
          got += chunk.length;
          if (got > size) break;
          await w.write(chunk);
          if (!big) keep.push(chunk);
          progress.update(got);
        }
      } catch (e) {
        progress.done(false);
        await w.abort();
        if (attempt < 3 && e instanceof ImageError && e.code === 'NETWORK') {
          this.log(`retrying ${url} (${e.message})`);
          await new Promise((r) => setTimeout(r, 1000 * attempt));
          continue;
        }
        throw e;
      }
      progress.done();
      const r = await w.commit(size);
      if (r.ok) return big ? Buffer.alloc(0) : Buffer.concat(keep);
      const msg = `${url}: got ${got > size ? 'more than ' : ''}${r.size} bytes with SHA-256 ${r.sha256}, but the signed index says ${size} bytes with SHA-256 ${sha256}`;
      if (attempt < 2) {
        this.log(`${msg}; fetching it again`);
        continue;
      }
      throw new ImageError(
        'CHECKSUM',
        `${msg} — the mirror serves a damaged or changed file; try again later or ${MIRROR_HINT}`,
      );
    }
  }

  /** Fetches a small file; undefined on 404 when `optional`. Retries transient failures twice. */
  private async fetchSmall(path: string, optional: boolean): Promise<Buffer | undefined> {
    const url = this.url(path);
    for (let attempt = 1; ; attempt++) {
      const chunks: Buffer[] = [];
      try {
        for await (const c of this.stream(url)) chunks.push(c);
        return Buffer.concat(chunks);
      } catch (e) {
        if (optional && e instanceof ImageError && e.code === 'NOT_FOUND') return undefined;
        if (attempt < 3 && e instanceof ImageError && e.code === 'NETWORK') {
          this.log(`retrying ${url} (${e.message})`);
          await new Promise((r) => setTimeout(r, 1000 * attempt));
          continue;
        }
        throw e;
      }
    }
  }

  /** Streams a URL (http, https or file), with an idle timeout and clear errors. */
  private async *stream(url: string): AsyncGenerator<Buffer> {
    if (url.startsWith('file:')) {
      const path = fileURLToPath(url.startsWith('file://') ? url : `file://${url.slice(5)}`);
      try {
        await stat(path);
      } catch {
        throw new ImageError('NOT_FOUND', `${url} does not exist`);
      }
      yield await readFile(path);
      return;
    }
    const idle = this.opts.idleTimeoutMs ?? 60_000;
    const ac = new AbortController();
    let timer = setTimeout(() => ac.abort(), idle);
    const netErr = (e: unknown) =>
      new ImageError(
        'NETWORK',
        `could not fetch ${url}: ${ac.signal.aborted ? `no data for ${idle / 1000} s` : describe(e)}; check the network, or ${MIRROR_HINT}`,
        { cause: e },
      );
    let res: Response;
    try {
      res = await fetch(url, { signal: ac.signal, redirect: 'follow' });
    } catch (e) {
      clearTimeout(timer);
      throw netErr(e);
    }
    if (res.status === 404 || res.status === 410) {
      clearTimeout(timer);
      await res.body?.cancel().catch(() => {});
      throw new ImageError(
        'NOT_FOUND',
        `${url} was not found (HTTP ${res.status}); ${MIRROR_HINT}`,
      );
    }
    if (!res.ok || !res.body) {
      clearTimeout(timer);
      await res.body?.cancel().catch(() => {});
      const transient = res.status >= 500 || res.status === 429;
      throw new ImageError(
        transient ? 'NETWORK' : 'HTTP',
        `${url} answered HTTP ${res.status} ${res.statusText}; ${MIRROR_HINT}`,
      );
    }
    let complete = false;
    try {
      for await (const chunk of Readable.fromWeb(res.body as WebReadableStream)) {
        clearTimeout(timer);
        timer = setTimeout(() => ac.abort(), idle);
        yield chunk as Buffer;
      }
      complete = true;
    } catch (e) {
      throw netErr(e);
    } finally {
      clearTimeout(timer);
      if (!complete) ac.abort();
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}

/** The signed text of a clearsigned file; refuses anything outside the one signed block. */
export function clearsignedBody(text: string, where = 'InRelease'): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  const bad = (why: string) =>
    new ImageError('FORMAT', `${where} is not a valid clearsigned file (${why}); ${MIRROR_HINT}`);
  if (lines[i] !== '-----BEGIN PGP SIGNED MESSAGE-----') throw bad('no signed-message header');
  i++;
  while (i < lines.length && lines[i] !== '') {
    if (!/^Hash: /.test(lines[i])) throw bad('unexpected armor header');
    i++;
  }
  i++;
  const body: string[] = [];
  for (; i < lines.length; i++) {
    if (lines[i] === '-----BEGIN PGP SIGNATURE-----') break;
    if (lines[i].startsWith('-----')) throw bad('nested armor');
    body.push(lines[i].startsWith('- ') ? lines[i].slice(2) : lines[i]);
  }
  if (i >= lines.length) throw bad('no signature');
  for (; i < lines.length; i++) if (lines[i] === '-----END PGP SIGNATURE-----') break;
  if (i >= lines.length) throw bad('unterminated signature');
  if (lines.slice(i + 1).some((l) => l.trim() !== '')) throw bad('text after the signature');
  return body.join('\n') + '\n';
}

function toPackageInfo(fields: Record<string, string>): PackageInfo | undefined {
  if (!fields.Package || !fields.Version || !fields.Filename || !fields.SHA256) return undefined;
  return {
    package: fields.Package,
    version: fields.Version,
    architecture: fields.Architecture ?? '',
    filename: fields.Filename,
    size: Number(fields.Size ?? 0),
    sha256: fields.SHA256.toLowerCase(),
    depends: parseRelations(fields.Depends),
    preDepends: parseRelations(fields['Pre-Depends']),
    provides: parseRelations(fields.Provides),
    fields,
  };
}

/** A Packages index: stanzas kept as text, parsed when asked for. */
export class PackageIndex {
  private readonly raw = new Map<string, string[]>();
  private provided?: Map<string, string[]>;

  /** Adds the text of a Packages file. */
  add(text: string): this {
    for (const stanza of text.split(/\n(?=[ \t]*\n)/)) {
      const m = /^\s*Package:\s*(\S+)/m.exec(stanza);
      if (!m) continue;
      const list = this.raw.get(m[1]);
      if (list) list.push(stanza);
      else this.raw.set(m[1], [stanza]);
    }
    this.provided = undefined;
    return this;
  }

  get size(): number {
    return this.raw.size;
  }

  /** All versions of a real package, newest first. */
  versions(name: string): PackageInfo[] {
    return (this.raw.get(name) ?? [])
      .map((s) => toPackageInfo(parseStanza(s)))
      .filter((p): p is PackageInfo => p !== undefined)
      .sort((a, b) => compareVersions(b.version, a.version));
  }

  /** The newest version of a real package satisfying the relation's version, if any. */
  get(name: string, rel?: Relation): PackageInfo | undefined {
    return this.versions(name).find((p) => !rel || satisfies(p.version, rel));
  }

  /** Packages that list `name` in their Provides. */
  providers(name: string): PackageInfo[] {
    if (!this.provided) {
      this.provided = new Map();
      for (const [pkg, stanzas] of this.raw) {
        for (const s of stanzas) {
          const m = /^Provides:(.*(?:\n[ \t].*)*)/m.exec(s);
          if (!m) continue;
          for (const g of parseRelations(m[1].replace(/\n[ \t]/g, ' '))) {
            for (const r of g) {
              const l = this.provided.get(r.name);
              if (l) {
                if (!l.includes(pkg)) l.push(pkg);
              } else this.provided.set(r.name, [pkg]);
            }
          }
        }
      }
    }
    return (this.provided.get(name) ?? [])
      .map((p) => this.get(p))
      .filter((p): p is PackageInfo => p !== undefined);
  }

  /**
   * The package to install for a relation: the newest real package that satisfies it, else the
   * newest of its providers. Throws NOT_FOUND with a clear message.
   */
  resolve(nameOrRel: string | Relation): PackageInfo {
    const rel = typeof nameOrRel === 'string' ? { name: nameOrRel } : nameOrRel;
    const real = this.get(rel.name, rel);
    if (real) return real;
    const prov = this.providers(rel.name).sort((a, b) => compareVersions(b.version, a.version));
    if (prov.length > 0 && !rel.op) return prov[0];
    throw new ImageError(
      'NOT_FOUND',
      `package ${rel.name}${rel.op ? ` (${rel.op} ${rel.version})` : ''} is not in the package index; check the suite (--suite) and that the mirror carries this architecture`,
    );
  }

  /**
   * Follows a metapackage to the package it stands for: the first dependency (first alternative)
   * whose name matches `pattern`. E.g. linux-image-riscv64 -> linux-image-6.12.x+debNN-riscv64.
   */
  followMeta(meta: string, pattern: RegExp): { meta: PackageInfo; target: PackageInfo } {
    const m = this.resolve(meta);
    for (const group of [...m.preDepends, ...m.depends]) {
      for (const rel of group) {
        if (pattern.test(rel.name)) return { meta: m, target: this.resolve(rel) };
      }
    }
    throw new ImageError(
      'NOT_FOUND',
      `${meta} ${m.version} depends on no package matching ${pattern}; the archive's ${meta} is not what Berth expects`,
    );
  }
}

/** A short checksum note for logs. */
export function shortHash(sha: string): string {
  return sha.slice(0, 12);
}

export { sha256Hex };
