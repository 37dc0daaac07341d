// The host daemon: finds the cgroups and the user its VMMs run under, opens the state folder
// and its database, adopts the VMMs a previous daemon left running, and serves the REST API on
// a UNIX socket (mode 0600: its owner and root only) and, when asked, on TCP with TLS and a
// bearer token (remoteApi.ts). Closing it stops the API and the watching, never the guests: they run on, to be
// adopted by the next daemon (its cgroup folder is removed only when no guest's group is left).
//
//   const d = await startDaemon({ stateDir: '/var/lib/berth' });   // socket: STATE/berth.sock
//   await d.close();

import type { FastifyInstance } from 'fastify';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { socketAnswers } from '../vmm/controlServer.js';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { buildApi } from './api.js';
import { detectCgroups } from './cgroups.js';
import { FigureHistory } from './figureHistory.js';
import { serveRemote, type ListenOptions, type RemoteApi } from './remoteApi.js';
import { prepareVmmAccount } from './vmmUser.js';
import { HostError } from './errors.js';
import { defaultStateDir, StateDir, MAX_SOCKET_PATH } from './stateDir.js';
import { Store } from './store.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export interface DaemonOptions extends SupervisorOptions {
  stateDir: string;
  /** The API's UNIX socket (default STATE/berth.sock). */
  socket?: string;
  /** Also serve the API over TCP with TLS and a bearer token. */
  listen?: ListenOptions;
  /** Lines for the operator (default: standard error). */
  log?: (line: string) => void;
}

export interface Daemon {
  socket: string;
  supervisor: Supervisor;
  app: FastifyInstance;
  /** The TCP/TLS listener, when asked for. */
  remote: RemoteApi | null;
  close(): Promise<void>;
}

/** Removes a stale socket file; refuses when a daemon answers there. */
async function claimSocket(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new HostError(400, `the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes`);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new HostError(409, `${path} exists and is not a socket`);
  if (await socketAnswers(path)) throw new HostError(409, `a daemon already serves ${path}`);
  unlinkSync(path);
}

/** Finds the cgroups and the VMMs' user unless given, and says once what the VMMs run under. */
function isolation(opts: DaemonOptions, log: (line: string) => void): SupervisorOptions {
  let cgroups = opts.cgroups;
  if (cgroups === undefined) {
    // One daemon per state folder: the default one's guests go in `berth`, others' (tests,
    // several daemons on one host) in `berth-HASH`, so equal guest names never share a group.
    const isDefault = resolve(opts.stateDir) === resolve(defaultStateDir());
    const hash = createHash('sha256').update(resolve(opts.stateDir)).digest('hex').slice(0, 8);
    const found = detectCgroups(isDefault ? 'berth' : `berth-${hash}`);
    cgroups = found.ok ? found.cgroups : null;
    log(
      found.ok
        ? `cgroup v${found.cgroups.version}: each VMM in a group of its own under ` +
            `${dirname(found.cgroups.dirs('x')[0])}`
        : `no cgroup limits: ${found.reason}; VMMs run without memory limits or CPU weights`,
    );
  }
  let account = opts.account;
  if (account === undefined) {
    account = prepareVmmAccount();
    log(account ? account.description : "VMMs run as the daemon's own user (it is not root)");
  }
  return { ...opts, cgroups, account };
}

/** The database holds every guest's spec: its owner's only, whoever else may pass the folder. */
function restrictDatabase(db: string): void {
  for (const f of [db, `${db}-wal`, `${db}-shm`]) {
    try {
      chmodSync(f, 0o600);
    } catch {
      // not made yet: SQLite gives it the database's mode
    }
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`berth daemon: ${line}\n`));
  const dirs = new StateDir(opts.stateDir);
  const sup = isolation(opts, log);
  dirs.prepare(!!sup.account);
  const socket = opts.socket ?? dirs.apiSocket;
  await claimSocket(socket);
  const store = new Store(dirs.db);
  restrictDatabase(dirs.db);
  const supervisor = new Supervisor(store, dirs, sup);
  let app: FastifyInstance | null = null;
  let remote: RemoteApi | null = null;
  const history = new FigureHistory(supervisor);
  try {
    await supervisor.init();
    supervisor.layers.sweep(); // layers an earlier daemon made for actions it did not finish
    history.start();
    app = await buildApi(supervisor, { history });
    if (opts.listen) remote = await serveRemote(supervisor, dirs, opts.listen, log, history);
    const old = process.umask(0o177);
    try {
      await app.listen({ path: socket });
    } finally {
      process.umask(old);
    }
    chmodSync(socket, 0o600);
  } catch (e) {
    history.close();
    supervisor.close();
    await remote?.close();
    await app?.close();
    store.close();
    throw e;
  }
  const server = app;
  let closing: Promise<void> | null = null;
  return {
    socket,
    supervisor,
    app: server,
    remote,
    close: () =>
      (closing ??= (async () => {
        history.close();
        supervisor.close();
        await supervisor.releaseLeftGroups();
        sup.cgroups?.close(); // only when no guest's group is left in it
        await remote?.close();
        await server.close();
        await supervisor.operations.settle(100);
        store.close();
      })()),
  };
}
