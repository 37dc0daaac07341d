// The API's two WebSockets: a guest console (bytes between the WebSocket and the VMM's control
// socket, each side closing the other) and the events stream (stored events after `since`,
// then each new one as it is stored, as JSON text messages).

import type { WebSocket } from 'ws';
import { ConsoleRefused, openConsole } from '../vmm/controlClient.js';
import type { GuestEvent, Store } from './store.js';

/** Most console bytes buffered towards a slow WebSocket reader before it is dropped. */
const MAX_WS_BACKLOG = 4 * 1024 * 1024;

/**
 * How long the daemon keeps trying to reach a VMM's console. A VMM busy booting on a loaded host
 * (ten guests booting on two cores) can take longer than one attempt's 5 s to answer.
 */
const CONSOLE_ATTACH_MS = 60_000;

/** openConsole, tried again while the WebSocket is open, until CONSOLE_ATTACH_MS pass. */
async function openConsolePatiently(
  controlSocket: string,
  mode: ConsoleMode,
  wanted: () => boolean,
): ReturnType<typeof openConsole> {
  const deadline = Date.now() + CONSOLE_ATTACH_MS;
  let refusedSince: number | undefined;
  let ownAttemptLost = false;
  for (;;) {
    try {
      return await openConsole(controlSocket, { ...mode, timeoutMs: 5000 });
    } catch (e) {
      // A refusal (another writer) is tried again for a moment: a writer that has just closed
      // its WebSocket may not have left the VMM yet. After an attempt of our own timed out, the
      // busy VMM may have taken that dead attempt for the writer: retried until the deadline.
      if (!(e instanceof ConsoleRefused)) ownAttemptLost = true;
      else if (!ownAttemptLost && Date.now() > (refusedSince ??= Date.now()) + 2000) throw e;
      if (!wanted() || Date.now() + 1000 > deadline) throw e;
      await new Promise((r) => setTimeout(r, e instanceof ConsoleRefused ? 100 : 500));
    }
  }
}

/** How a client attaches: replay of recent output; as the writer, or taking over from one. */
export interface ConsoleMode {
  replay: boolean;
  write: boolean;
  force: boolean;
}

export function attachConsole(ws: WebSocket, controlSocket: string, mode: ConsoleMode): void {
  let open = true;
  const pending: Buffer[] = [];
  let vmm: import('node:net').Socket | null = null;
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (vmm) vmm.write(b);
    else pending.push(b);
  });
  ws.on('close', () => {
    open = false;
    vmm?.destroy();
  });
  ws.on('error', () => vmm?.destroy());
  openConsolePatiently(controlSocket, mode, () => open).then(
    ({ socket, early }) => {
      if (!open) return socket.destroy();
      vmm = socket;
      for (const b of pending.splice(0)) socket.write(b);
      const send = (d: Buffer): void => {
        if (ws.bufferedAmount > MAX_WS_BACKLOG) {
          ws.close(1008, 'console reader too slow');
          socket.destroy();
          return;
        }
        ws.send(d);
      };
      if (early.length > 0) send(early);
      socket.on('data', send);
      socket.resume();
      socket.on('close', () => ws.close(1000, 'the guest console closed'));
      socket.on('error', () => ws.close(1011, 'the guest console failed'));
    },
    (e: Error) => ws.close(e instanceof ConsoleRefused ? 4009 : 1011, e.message.slice(0, 120)),
  );
}

export function streamEvents(
  ws: WebSocket,
  store: Store,
  q: { guest?: string; since?: number; limit?: number },
): void {
  const wanted = (e: GuestEvent): boolean => q.guest === undefined || e.guest === q.guest;
  let last = 0;
  const send = (e: GuestEvent): void => {
    if (e.id <= last || !wanted(e)) return;
    last = e.id;
    ws.send(JSON.stringify(e));
  };
  const listener = (e: GuestEvent): void => send(e);
  store.events.on('event', listener);
  if (q.since !== undefined) for (const e of store.listEvents({ ...q })) send(e);
  ws.on('close', () => store.events.off('event', listener));
  ws.on('error', () => store.events.off('event', listener));
}
