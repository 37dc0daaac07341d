// Finds the Debian archive to fetch guest assets from: a mirror the user gave (--mirror or
// BERTH_MIRROR), else the first Debian `deb` source with component main in the host's apt
// configuration (/etc/apt/sources.list one-line format and sources.list.d/*.list, *.sources
// deb822 format, read in apt's order). No archive address is written into this code.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from './errors.js';

/** One `deb` or `deb-src` entry of the apt configuration (a deb822 stanza may hold several URIs). */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** Options such as signed-by, arch, trusted; keys lower-case. */
  options: Record<string, string>;
  /** The file it came from, for messages. */
  file: string;
}

export interface MirrorChoice {
  /** The archive root, without a trailing slash (e.g. http://mirror.example/debian). */
  uri: string;
  /** Where it came from: 'option', 'BERTH_MIRROR', or the apt file that named it. */
  from: string;
}

export interface FindMirrorOptions {
  /** A mirror given on the command line; wins over everything else. */
  mirror?: string;
  /** Environment to read BERTH_MIRROR from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The apt configuration folder (default: /etc/apt). */
  aptDir?: string;
}

/** Parses the one-line format: `deb [opt=val ...] uri suite [component ...]`. */
export function parseOneLineSources(text: string, file = 'sources.list'): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (line === '') continue;
    const m = /^(\S+)\s*(?:\[([^\]]*)\])?\s*(.*)$/.exec(line);
    if (!m) continue;
    const type = m[1];
    const options: Record<string, string> = {};
    for (const opt of (m[2] ?? '').trim().split(/\s+/)) {
      if (opt === '') continue;
      const eq = opt.indexOf('=');
      if (eq > 0) options[opt.slice(0, eq).toLowerCase()] = opt.slice(eq + 1);
    }
    const rest = m[3].split(/\s+/).filter((w) => w !== '');
    if (rest.length < 2) continue; // malformed: apt would refuse it; we just skip it
    out.push({
      types: [type],
      uris: [rest[0]],
      suites: [rest[1]],
      components: rest.slice(2),
      options,
      file,
    });
  }
  return out;
}

/** Parses the deb822 format of *.sources files: stanzas of `Field: value` lines. */
export function parseDeb822Sources(text: string, file = 'x.sources'): AptSource[] {
  const out: AptSource[] = [];
  const flush = (fields: Map<string, string>) => {
    if (fields.size === 0) return;
    if ((fields.get('enabled') ?? 'yes').trim().toLowerCase() === 'no') return;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter((w) => w !== '');
    const options: Record<string, string> = {};
    for (const [k, v] of fields) {
      if (!['types', 'uris', 'suites', 'components', 'enabled'].includes(k)) options[k] = v.trim();
    }
    out.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      options,
      file,
    });
  };
  let fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      flush(fields);
      fields = new Map();
      last = '';
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (last !== '') fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    fields.set(last, line.slice(colon + 1).trim());
  }
  flush(fields);
  return out;
}

/** Reads all sources of an apt configuration folder, in apt's order. Unreadable files are skipped. */
export function readAptSources(aptDir = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const main = join(aptDir, 'sources.list');
  const text = tryRead(main);
  if (text !== undefined) out.push(...parseOneLineSources(text, main));
  let names: string[] = [];
  try {
    names = readdirSync(join(aptDir, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d: fine
  }
  for (const name of names) {
    const path = join(aptDir, 'sources.list.d', name);
    if (name.endsWith('.list')) {
      const t = tryRead(path);
      if (t !== undefined) out.push(...parseOneLineSources(t, path));
    } else if (name.endsWith('.sources')) {
      const t = tryRead(path);
      if (t !== undefined) out.push(...parseDeb822Sources(t, path));
    }
  }
  return out;
}

// Suite names of Debian releases (and their aliases); a source naming one is a Debian archive.
const DEBIAN_SUITES = new Set([
  'buster',
  'bullseye',
  'bookworm',
  'trixie',
  'forky',
  'duke',
  'sid',
  'experimental',
  'stable',
  'oldstable',
  'oldoldstable',
  'testing',
  'unstable',
]);

function looksLikeDebianArchive(s: AptSource): boolean {
  if (!s.types.includes('deb') || !s.components.includes('main')) return false;
  // The security archive has another layout (dists/<suite>-security) and no riscv64 kernels.
  const suites = s.suites.filter((x) => !x.endsWith('-security') && !x.endsWith('/updates'));
  if (suites.length === 0) return false;
  if (suites.some((x) => DEBIAN_SUITES.has(x.split('-')[0]))) return true;
  return /debian-archive-keyring/.test(s.options['signed-by'] ?? '');
}

/** Picks the first Debian archive URI of the given sources (http, https or file only). */
export function pickDebianArchive(sources: AptSource[]): MirrorChoice | undefined {
  for (const s of sources) {
    if (!looksLikeDebianArchive(s)) continue;
    for (const uri of s.uris) {
      if (/^(https?|file):/.test(uri)) return { uri: normalizeMirror(uri), from: s.file };
    }
  }
  return undefined;
}

/** Checks and normalises a mirror URI given by the user. */
export function normalizeMirror(uri: string): string {
  const u = uri.trim();
  if (!/^(https?:\/\/[^/]|file:)/.test(u)) {
    throw new ImageError(
      'NO_MIRROR',
      `"${uri}" is not a usable mirror URL: give an http://, https:// or file: URL of a Debian archive (the folder that holds dists/ and pool/), e.g. --mirror http://mirror.example/debian`,
    );
  }
  return u.replace(/\/+$/, '');
}

/** The Debian archive to use: --mirror, else BERTH_MIRROR, else the host's apt configuration. */
export function findDebianMirror(opts: FindMirrorOptions = {}): MirrorChoice {
  if (opts.mirror) return { uri: normalizeMirror(opts.mirror), from: 'option' };
  const env = opts.env ?? process.env;
  if (env.BERTH_MIRROR) return { uri: normalizeMirror(env.BERTH_MIRROR), from: 'BERTH_MIRROR' };
  const aptDir = opts.aptDir ?? '/etc/apt';
  const found = pickDebianArchive(readAptSources(aptDir));
  if (found) return found;
  throw new ImageError(
    'NO_MIRROR',
    `found no Debian archive (a "deb" source with component main) in the apt configuration under ${aptDir}; pass a Debian mirror with --mirror URL or the environment variable BERTH_MIRROR, e.g. --mirror http://mirror.example/debian`,
  );
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
