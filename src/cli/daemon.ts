// `berth daemon [--socket P] [--state-dir D] [--memory-limit SIZE]`: runs the host daemon in
// the foreground until SIGTERM or SIGINT. Stopping it leaves the guests running; the next
// daemon on the same state folder adopts them.

import { parseArgs } from 'node:util';
import { startDaemon } from '../host/daemon.js';
import { parseListen } from '../host/remoteApi.js';
import { defaultStateDir } from '../host/stateDir.js';
import { parseSize } from '../vmm/size.js';

/** How long a stopping daemon waits for its close (servers, operations, database). */
const CLOSE_MS = 10_000;

export const DAEMON_HELP = `Usage: berth daemon [--socket PATH] [--state-dir DIR] [--memory-limit SIZE]
                    [--listen HOST:PORT [--tls-cert FILE --tls-key FILE]]

Runs the host daemon: the REST API on a UNIX socket (mode 0600), guests' VMMs as processes
of their own that outlive the daemon, state in SQLite.

Options:
  --state-dir DIR      state folder (default /var/lib/berth as root, else
                       $XDG_STATE_HOME/berth)
  --socket PATH        the API socket (default STATE-DIR/berth.sock)
  --memory-limit SIZE  guest memory all running guests may hold (default 80% of host memory)
  --start-timeout S    seconds a new VMM may take to answer on its control socket (120)
  --incoming-timeout S seconds a guest migrating in waits for its stream before it is given
                       up (60)
  --listen HOST:PORT   also serve the API over TCP with TLS; clients need the token in
                       STATE-DIR/token (made 0600 on first use) and pin the certificate by
                       the SHA-256 fingerprint printed at start
  --tls-cert FILE      your own certificate (PEM) for --listen, with --tls-key FILE;
                       default: a self-signed one made with openssl in STATE-DIR/tls/

As root, each VMM runs in a cgroup of its own (memory limit, CPU weight) and as a user ID of
its own with the group berth-vmm; the daemon's log says so, or why not.
`;

/** A timeout flag's SECONDS, in ms. */
function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3600) {
    throw new Error(`${flag}: whole seconds from 1 to 3600 (not '${v}')`);
  }
  return n * 1000;
}

export async function daemonCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      socket: { type: 'string' },
      'state-dir': { type: 'string' },
      'memory-limit': { type: 'string' },
      listen: { type: 'string' },
      'start-timeout': { type: 'string' },
      'incoming-timeout': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values['tls-cert'] !== undefined && values.listen === undefined) {
    throw new Error('--tls-cert and --tls-key go with --listen HOST:PORT');
  }
  if (values.help) {
    process.stdout.write(DAEMON_HELP);
    return 0;
  }
  const memoryLimit =
    values['memory-limit'] !== undefined ? parseSize(values['memory-limit']) : undefined;
  const d = await startDaemon({
    stateDir: values['state-dir'] ?? defaultStateDir(),
    socket: values.socket,
    memoryLimit,
    startTimeoutMs: seconds(values['start-timeout'], '--start-timeout'),
    incomingWaitMs: seconds(values['incoming-timeout'], '--incoming-timeout'),
    listen: values.listen
      ? { ...parseListen(values.listen), certFile: values['tls-cert'], keyFile: values['tls-key'] }
      : undefined,
  });
  process.stderr.write(`berth daemon: serving ${d.socket}\n`);
  // A fault in one request or one guest's watching is logged, never the daemon's end.
  process.on('unhandledRejection', (e) =>
    process.stderr.write(
      `berth daemon: internal error: ${e instanceof Error ? e.stack : String(e)}\n`,
    ),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
  // The daemon ends once it has closed: an operation still waiting on a timer (a stop's graceful
  // timeout, a console being attached) must not keep it running. A close that takes longer than
  // CLOSE_MS is given up; the database is safe in its write-ahead log.
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    d.close().then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), CLOSE_MS))),
  ]);
  clearTimeout(timer);
  process.stderr.write(
    closed
      ? 'berth daemon: stopped (guests run on)\n'
      : `berth daemon: not closed after ${CLOSE_MS / 1000} s; stopped (guests run on)\n`,
  );
  process.exit(0);
}
