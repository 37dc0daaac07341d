// `berth migrate GUEST --to https://HOST:PORT ...` (and `berth host drain`, every running guest):
// live migration of a running guest to another
// host's daemon, through this host's daemon (src/host/migrations.ts says what happens). While
// it runs, its progress on stderr (a line rewritten in place on a terminal); at the end, what it
// took on stdout. Same daemon options and exit statuses as berth snapshot.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiError } from '../host/apiClient.js';
import { normalizeFingerprint } from '../host/remoteTarget.js';
import type { MigrationStats } from '../vmm/migration/stats.js';
import { parseSize } from '../vmm/size.js';
import { apiOf, command, DAEMON_OPTIONS, UsageError } from './daemonCli.js';
import { bytes } from './format.js';

export const MIGRATE_HELP = `berth migrate GUEST --to https://HOST:PORT --to-token-file FILE --to-fingerprint SHA256
              [--downtime MS] [--max-bandwidth SIZE] [--timeout S] [--copy-storage]
  Moves a running guest to the Berth daemon of another host while it runs: its memory is
  copied in rounds, then it pauses for the last pages and its devices (at most --downtime
  milliseconds, 300 by default, as estimated from the measured bandwidth; a guest that writes
  memory faster than the link copies it is slowed until the copy catches up) and runs on at the
  destination. The destination is its daemon's API (berth daemon --listen): the address, token
  file and certificate fingerprint it printed. --max-bandwidth caps the stream (bytes per
  second, e.g. 32M); --timeout gives up after S seconds (600). Disks must be files both hosts
  reach at the same paths, or, with --copy-storage, the writable ones are copied while the guest
  runs (the destination makes new disks in its state folder, disks/; read-only disks must still
  be at the same paths); a guest with snapshots does not migrate. If anything
  fails before the switch, the guest runs on here. Open TCP connections through user
  networking (-p) are not carried: clients connect again to the destination's ports.
  Same daemon options (--socket, --remote ...) and exit statuses as berth snapshot.
`;

interface OperationView {
  status: string;
  err: string;
  metadata: MigrationStats | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The disks' share of what was sent, when they are copied (--copy-storage). */
function disk(m: MigrationStats): string {
  return m.diskBytesSent > 0 ? ` (${bytes(m.diskBytesSent)} of disk)` : '';
}

function progress(m: MigrationStats): string {
  const pct = m.bytesRemaining > 0 && m.bytesSent > 0 ? ` ${bytes(m.bytesRemaining)} to go,` : '';
  const throttle = m.throttlePercent > 0 ? `, guest throttled ${m.throttlePercent}%` : '';
  return (
    `${m.status}: round ${m.rounds}, ${bytes(m.bytesSent)} sent${disk(m)},${pct} ` +
    `${bytes(m.throughputBytesPerSecond)}/s${throttle}`
  );
}

const TO_OPTIONS = {
  ...DAEMON_OPTIONS,
  to: { type: 'string' },
  'to-token-file': { type: 'string' },
  'to-fingerprint': { type: 'string' },
  downtime: { type: 'string' },
  'max-bandwidth': { type: 'string' },
  timeout: { type: 'string' },
  'copy-storage': { type: 'boolean' },
} as const;

/** The body of a migrate or drain request from the --to flags. */
function migrateBody(values: {
  to?: string;
  'to-token-file'?: string;
  'to-fingerprint'?: string;
  downtime?: string;
  'max-bandwidth'?: string;
  timeout?: string;
  'copy-storage'?: boolean;
}): Record<string, unknown> {
  const url = values.to;
  const tokenFile = values['to-token-file'];
  const fp = values['to-fingerprint'];
  if (!url || !tokenFile || !fp) {
    throw new UsageError(
      "needs --to https://HOST:PORT, --to-token-file FILE and --to-fingerprint SHA256 (what the destination's daemon printed)",
    );
  }
  let token: string;
  let fingerprint: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
    fingerprint = normalizeFingerprint(fp);
  } catch (e) {
    throw new UsageError(
      `--to-token-file/--to-fingerprint: ${(e as Error).message.replace('--fingerprint: ', '')}`,
    );
  }
  const int = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: '${v}' is not a whole number`);
    return Number(v);
  };
  const body: Record<string, unknown> = { url, token, fingerprint };
  const downtimeMs = int(values.downtime, '--downtime');
  const timeoutS = int(values.timeout, '--timeout');
  if (downtimeMs !== undefined) body.downtimeMs = downtimeMs;
  if (timeoutS !== undefined) body.timeoutS = timeoutS;
  if (values['copy-storage']) body.copyStorage = true;
  if (values['max-bandwidth'] !== undefined) {
    try {
      body.maxBandwidth = parseSize(values['max-bandwidth']);
    } catch (e) {
      throw new UsageError(`--max-bandwidth: ${(e as Error).message}`);
    }
  }
  return body;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: TO_OPTIONS,
  });
  if (positionals.length !== 1) throw new UsageError('berth migrate takes one GUEST');
  const guest = positionals[0];
  const url = values.to;
  const body = migrateBody(values);
  const api = apiOf(values);
  const r = await api.call<{ operation: string }>(
    'POST',
    `/v1/guests/${encodeURIComponent(guest)}/migrate`,
    body,
  );
  const tty = process.stderr.isTTY === true;
  let shown = '';
  for (;;) {
    const op = await api.call<OperationView>('GET', `${r.operation}/wait?timeout=1`);
    const m = op.metadata;
    if (op.status !== 'Running') {
      if (tty && shown) process.stderr.write('\n');
      if (op.status !== 'Success' || !m) {
        throw new ApiError(500, op.err || `the migration ended: ${op.status}`);
      }
      process.stdout.write(
        `${guest} migrated to ${url}: ${m.rounds} round${m.rounds === 1 ? '' : 's'}, ` +
          `${bytes(m.bytesSent)} sent${disk(m)}, total ${m.totalMs} ms, ` +
          `downtime ${m.downtimeMs ?? '?'} ms` +
          (m.maxThrottlePercent > 0 ? `, guest throttled up to ${m.maxThrottlePercent}%` : '') +
          '\n',
      );
      return 0;
    }
    if (m) {
      const line = progress(m);
      if (line !== shown) {
        process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
        shown = line;
      }
    }
    await sleep(250);
  }
}

export function migrateCommand(args: string[]): Promise<number> {
  return command('migrate', MIGRATE_HELP, run, args);
}

export const HOST_HELP = `berth host drain --to https://HOST:PORT --to-token-file FILE --to-fingerprint SHA256
                 [--downtime MS] [--max-bandwidth SIZE] [--timeout S] [--copy-storage]
  Migrates every running guest of this host to the other host's daemon, one after the other,
  as berth migrate does (see berth migrate --help), for maintenance. Meanwhile this host starts
  no guest. Prints each guest's outcome; exit status 1 when a guest stayed.
`;

interface DrainView {
  status: string;
  err: string;
  metadata: { guests: { guest: string; status: string; err: string }[] } | null;
}

async function drain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: TO_OPTIONS,
  });
  if (positionals.length !== 1 || positionals[0] !== 'drain') {
    throw new UsageError('berth host takes drain (berth host --help)');
  }
  const api = apiOf(values);
  const r = await api.call<{ operation: string }>('POST', '/v1/host/drain', migrateBody(values));
  let said = 0;
  for (;;) {
    const op = await api.call<DrainView>('GET', `${r.operation}/wait?timeout=2`);
    const done = op.metadata?.guests ?? [];
    for (const g of done.slice(said)) {
      process.stdout.write(
        g.status === 'Success' ? `${g.guest}: migrated\n` : `${g.guest}: stayed: ${g.err}\n`,
      );
    }
    said = done.length;
    if (op.status === 'Running') continue;
    if (op.status !== 'Success') throw new ApiError(500, op.err || `the drain ended: ${op.status}`);
    process.stdout.write(
      `drained: ${said} guest${said === 1 ? '' : 's'} migrated to ${values.to}\n`,
    );
    return 0;
  }
}

export function hostCommand(args: string[]): Promise<number> {
  return command('host', HOST_HELP, drain, args);
}
