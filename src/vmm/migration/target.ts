// HOST:PORT addresses of the migration stream, and the migrate request's options checked.

import { MigrationError } from './wire.js';
import type { MigrateOptions } from './source.js';

export function hostPort(addr: string, allowZero = false): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new MigrationError(`'${addr}' is not HOST:PORT (e.g. 127.0.0.1:4444)`);
  }
  return { host: m[1] ?? m[2], port };
}

/** The options of a {"cmd": "migrate", ...} request, or a MigrationError saying what is wrong. */
export function migrateOptions(req: Record<string, unknown>): MigrateOptions {
  const { to, downtimeMs = 300, maxBandwidth = null, timeoutS = 600, holdMs = 0 } = req;
  if (typeof to !== 'string') throw new MigrationError('migrate needs "to": "HOST:PORT"');
  hostPort(to);
  const num = (v: unknown, name: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      throw new MigrationError(`migrate: "${name}" must be a number of at least ${min}`);
    }
    return v;
  };
  return {
    to,
    downtimeMs: num(downtimeMs, 'downtimeMs', 1),
    maxBandwidth: maxBandwidth === null ? null : num(maxBandwidth, 'maxBandwidth', 4096),
    timeoutS: num(timeoutS, 'timeoutS', 1),
    holdMs: Math.min(num(holdMs, 'holdMs', 0), 60_000),
  };
}
