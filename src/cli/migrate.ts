// `berth migrate GUEST --to https://HOST:PORT ...`: live migration of a running guest to another
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
              [--downtime MS] [--max-bandwidth SIZE] [--timeout S]
  Moves a running guest to the Berth daemon of another host while it runs: its memory is
  copied in rounds, then it pauses for the last pages and its devices (at most --downtime
  milliseconds, 300 by default, as estimated from the measured bandwidth; a guest that writes
  memory faster than the link copies it is slowed until the copy catches up) and runs on at the
  destination. The destination is its daemon's API (berth daemon --listen): the address, token
  file and certificate fingerprint it printed. --max-bandwidth caps the stream (bytes per
  second, e.g. 32M); --timeout gives up after S seconds (600). Disks must be files both hosts
  reach at the same paths; a guest with snapshots or a TAP card does not migrate. If anything
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

function progress(m: MigrationStats): string {
  const pct = m.bytesRemaining > 0 && m.bytesSent > 0 ? ` ${bytes(m.bytesRemaining)} to go,` : '';
  const throttle = m.throttlePercent > 0 ? `, guest throttled ${m.throttlePercent}%` : '';
  return (
    `${m.status}: round ${m.rounds}, ${bytes(m.bytesSent)} sent,${pct} ` +
    `${bytes(m.throughputBytesPerSecond)}/s${throttle}`
  );
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...DAEMON_OPTIONS,
      to: { type: 'string' },
      'to-token-file': { type: 'string' },
      'to-fingerprint': { type: 'string' },
      downtime: { type: 'string' },
      'max-bandwidth': { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('berth migrate takes one GUEST');
  const guest = positionals[0];
  const url = values.to;
  const tokenFile = values['to-token-file'];
  const fp = values['to-fingerprint'];
  if (!url || !tokenFile || !fp) {
    throw new UsageError(
      "berth migrate needs --to https://HOST:PORT, --to-token-file FILE and --to-fingerprint SHA256 (what the destination's daemon printed)",
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
  if (values['max-bandwidth'] !== undefined) {
    try {
      body.maxBandwidth = parseSize(values['max-bandwidth']);
    } catch (e) {
      throw new UsageError(`--max-bandwidth: ${(e as Error).message}`);
    }
  }
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
          `${bytes(m.bytesSent)} sent, total ${m.totalMs} ms, downtime ${m.downtimeMs ?? '?'} ms` +
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
