// Opens one suite of the Debian archive for fetching guest assets: the archive from the caller's
// mirror or the host's apt configuration, its Release file checked (the signature noted in the
// log), and its riscv64 Packages index. Shared by the default assets (assets.ts) and U-Boot
// (uboot.ts), which each fetch their packages only when they are used.

import { findDebianMirror } from './aptSources.js';
import { DEFAULT_ARCH, DebianArchive, type PackageIndex, type VerifyMode } from './archive.js';
import type { AssetCache } from './cache.js';

export interface SuiteArchiveOptions {
  mirror?: string;
  suite: string;
  cache: AssetCache;
  keyring?: string;
  verify?: VerifyMode;
  progress?: boolean;
  aptDir?: string;
  log: (line: string) => void;
  /** What is being fetched, for the log ("the riscv64 guest assets"). */
  what: string;
}

export interface SuiteArchive {
  archive: DebianArchive;
  index: PackageIndex;
  /** The archive's root URL. */
  mirror: string;
}

export async function openSuiteArchive(opts: SuiteArchiveOptions): Promise<SuiteArchive> {
  const mirror = findDebianMirror({ mirror: opts.mirror, aptDir: opts.aptDir });
  opts.log(
    `fetching ${opts.what} from ${mirror.uri} (suite ${opts.suite}; mirror from ${mirror.from})`,
  );
  const archive = new DebianArchive({
    mirror: mirror.uri,
    suite: opts.suite,
    arch: DEFAULT_ARCH,
    cache: opts.cache,
    keyring: opts.keyring,
    verify: opts.verify,
    progress: opts.progress,
    log: opts.log,
  });
  const release = await archive.release();
  opts.log(
    release.signature.verified
      ? `${opts.suite} Release signature verified (key ${release.signature.keys.join(', ')})`
      : `${opts.suite} Release signature NOT verified (${release.signature.reason})`,
  );
  return { archive, index: await archive.packages(), mirror: mirror.uri };
}
