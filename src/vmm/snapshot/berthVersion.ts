// The version of this Berth, from its package.json (recorded in every snapshot it writes).

import { readFileSync } from 'node:fs';

let version: string | null = null;

/** package.json's version, e.g. "0.1.0" (read once; from dist/src/vmm/snapshot/ up to the root). */
export function berthVersion(): string {
  if (version === null) {
    const pkg = JSON.parse(
      readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'),
    ) as { version?: unknown };
    version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return version;
}
