// The host daemon: opens the state folder and its database, adopts the VMMs a previous daemon
// left running, and serves the REST API on a UNIX socket (mode 0600: its owner and root
// only). Closing it stops the API and the watching, never the guests: they run on, to be
// adopted by the next daemon.
//
//   const d = await startDaemon({ stateDir: '/var/lib/berth' });   // socket: STATE/berth.sock
//   await d.close();

import type { FastifyInstance } from 'fastify';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { buildApi } from './api.js';
import { HostError } from './errors.js';
import { StateDir, MAX_SOCKET_PATH } from './stateDir.js';
import { Store } from './store.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export interface DaemonOptions extends SupervisorOptions {
  stateDir: string;
  /** The API's UNIX socket (default STATE/berth.sock). */
  socket?: string;
}

export interface Daemon {
  socket: string;
  supervisor: Supervisor;
  app: FastifyInstance;
  close(): Promise<void>;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
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
  if (await answers(path)) throw new HostError(409, `a daemon already serves ${path}`);
  unlinkSync(path);
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const dirs = new StateDir(opts.stateDir);
  dirs.prepare();
  const socket = opts.socket ?? dirs.apiSocket;
  await claimSocket(socket);
  const store = new Store(dirs.db);
  const supervisor = new Supervisor(store, dirs, opts);
  let app: FastifyInstance | null = null;
  try {
    await supervisor.init();
    app = await buildApi(supervisor);
    const old = process.umask(0o177);
    try {
      await app.listen({ path: socket });
    } finally {
      process.umask(old);
    }
    chmodSync(socket, 0o600);
  } catch (e) {
    supervisor.close();
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
    close: () =>
      (closing ??= (async () => {
        supervisor.close();
        await server.close();
        await supervisor.operations.settle(100);
        store.close();
      })()),
  };
}
