// Daemons that serve their API over TLS on loopback, as migration tests need two of: each on
// its own state folder, with the address, certificate fingerprint and token file it printed,
// and the ways an API request or the command line name one as a migration's destination.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, until } from './harness.js';

export interface RemoteHost {
  dir: string;
  socket: string;
  daemon: DaemonProcess;
  url: string;
  fingerprint: string;
  tokenFile: string;
}

/**
 * A daemon on a new state folder named from `prefix`, or again on `old`'s (a restart: it
 * adopts what runs; `old` is updated and returned). A guest migrating in waits 4 s for its
 * stream, not 60.
 */
export async function startRemoteHost(prefix: string, old?: RemoteHost): Promise<RemoteHost> {
  const dir = old?.dir ?? mkdtempSync(join(tmpdir(), prefix));
  const socket = join(dir, 'api.sock');
  const daemon = await new DaemonProcess(dir, socket, [
    ...['--listen', '127.0.0.1:0', '--incoming-timeout', '4'],
  ]).ready();
  const m = await until(
    'the daemon to print its address and fingerprint',
    () =>
      /serving (https:\/\/127\.0\.0\.1:\d+) \(certificate SHA-256 fingerprint ([0-9A-F:]+);/.exec(
        daemon.output,
      ),
    10_000,
  );
  const h = { dir, socket, daemon, url: m[1], fingerprint: m[2], tokenFile: join(dir, 'token') };
  return old ? Object.assign(old, h) : h;
}

/** `h` as the destination in a migrate or drain request's body, with `extra` fields. */
export const destination = (
  h: RemoteHost,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  url: h.url,
  token: readFileSync(h.tokenFile, 'utf8').trim(),
  fingerprint: h.fingerprint,
  ...extra,
});

/** The command line's way to name `h` as the destination. */
export const toFlags = (h: RemoteHost): string[] => [
  ...['--to', h.url, '--to-token-file', h.tokenFile, '--to-fingerprint', h.fingerprint],
];
