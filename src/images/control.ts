// Debian control-file syntax (deb822): stanzas of `Field: value` lines with indented continuation
// lines, as used by Release, Packages and a package's control file; plus dependency fields and
// Debian version ordering.

/** Parses one stanza. Field names keep their spelling; look them up with the usual capitals. */
export function parseStanza(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (last !== undefined) out[last] += '\n' + line.slice(1);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    out[last] = line.slice(colon + 1).trim();
  }
  return out;
}

/** Splits text into stanzas (separated by blank lines) and parses each. */
export function parseStanzas(text: string): Record<string, string>[] {
  return text
    .split(/\n[ \t]*\n/)
    .filter((s) => s.trim() !== '')
    .map(parseStanza);
}

export interface Relation {
  name: string;
  /** '<<', '<=', '=', '>=', '>>' when the relation has a version. */
  op?: string;
  version?: string;
  arch?: string;
}

/** Parses a Depends-like field into a list of alternatives lists: `a (>= 1) | b, c`. */
export function parseRelations(field: string | undefined): Relation[][] {
  if (!field) return [];
  return field
    .split(',')
    .map((group) =>
      group
        .split('|')
        .map((alt) => alt.trim())
        .filter((alt) => alt !== '')
        .map((alt) => {
          const m = /^([^\s(:[]+)(?::(\S+))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?/.exec(
            alt,
          );
          if (!m) return { name: alt };
          const r: Relation = { name: m[1] };
          if (m[2]) r.arch = m[2];
          if (m[3]) {
            r.op = m[3] === '<' ? '<=' : m[3] === '>' ? '>=' : m[3];
            r.version = m[4];
          }
          return r;
        }),
    )
    .filter((g) => g.length > 0);
}

/** Whether `version` satisfies the relation's version constraint (true when it has none). */
export function satisfies(version: string, r: Relation): boolean {
  if (!r.op || r.version === undefined) return true;
  const c = compareVersions(version, r.version);
  switch (r.op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
    default:
      return false;
  }
}

/** Debian version ordering (epoch:upstream-revision, `~` sorting before everything). */
export function compareVersions(a: string, b: string): number {
  const pa = splitVersion(a);
  const pb = splitVersion(b);
  if (pa.epoch !== pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  return comparePart(pa.upstream, pb.upstream) || comparePart(pa.revision, pb.revision);
}

function splitVersion(v: string): { epoch: number; upstream: string; revision: string } {
  let rest = v.trim();
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon > 0 && /^\d+$/.test(rest.slice(0, colon))) {
    epoch = Number(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) return { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
  return { epoch, upstream: rest, revision: '' };
}

function charOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // non-digit prefix, compared character by character with dpkg's ordering
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ca = i < a.length && !isDigit(a[i]) ? a[i] : undefined;
      const cb = j < b.length && !isDigit(b[j]) ? b[j] : undefined;
      const d = charOrder(ca) - charOrder(cb);
      if (d !== 0) return d < 0 ? -1 : 1;
      if (ca !== undefined) i++;
      if (cb !== undefined) j++;
    }
    // numeric part
    let na = '';
    let nb = '';
    while (i < a.length && isDigit(a[i])) na += a[i++];
    while (j < b.length && isDigit(b[j])) nb += b[j++];
    const x = BigInt(na || '0');
    const y = BigInt(nb || '0');
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
