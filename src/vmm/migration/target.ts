// HOST:PORT addresses of the migration stream, and the migrate request's options checked
// (tls.fingerprint: the destination certificate's SHA-256, colons allowed; token: hex; mirror:
// whether the writable disks are sent too, diskMirror.ts).

import { normalFingerprint } from './channel.js';
import { MigrationError } from './wire.js';
import type { MigrateOptions } from './source.js';

/** A migration token: hex, at least 128 bits. */
export const TOKEN_PATTERN = /^[0-9a-fA-F]{32,1024}$/;

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
  const { tls = null, token = null, mirror = false } = req;
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
    tls: tls === null ? null : { fingerprint: fingerprintOption(tls) },
    token: token === null ? null : tokenOption(token),
    mirror: mirrorOption(mirror),
  };
}

function fingerprintOption(tls: unknown): string {
  const f = (tls as { fingerprint?: unknown } | null)?.fingerprint;
  const hex = typeof f === 'string' ? normalFingerprint(f) : null;
  if (typeof tls !== 'object' || Object.keys(tls!).some((k) => k !== 'fingerprint') || !hex) {
    throw new MigrationError(
      'migrate: "tls" must be {"fingerprint": the SHA-256 of the destination\'s certificate, 64 hex digits, colons allowed}',
    );
  }
  return hex;
}

function tokenOption(token: unknown): string {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new MigrationError('migrate: "token" must be hex, at least 32 digits');
  }
  return token;
}

function mirrorOption(mirror: unknown): boolean {
  if (typeof mirror !== 'boolean') {
    throw new MigrationError('migrate: "mirror" must be true (send the writable disks) or false');
  }
  return mirror;
}
