// The VMM's control socket: a UNIX stream socket (mode 0600, so only its owner and root may
// connect) speaking one JSON object per line. A supervisor talks to a VMM only through it.
//
//   → {"id": 1, "cmd": "status"}      ← {"id": 1, "ok": true, "result": {...VmmStatus}}
//   → {"cmd": "pause"} / "resume"     ← {"ok": true, "result": {"state": "paused"}}
//   → {"cmd": "shutdown"}             ← {"ok": true, "result": {"pressed": true}}: the power button
//   → {"cmd": "quit"}                 ← {"ok": true, ...}, then the VMM flushes, cleans up and exits
//   → {"cmd": "snapshot", "path": "/abs/file.snap", "overlays": ["/abs/layer.qcow2" | null, ...]}
//                                     ← {"ok": true, "result": {"path", "bytes", "milliseconds",
//                                       "frozen"}}: the guest paused, its machine written, each
//                                       writable disk frozen and its writes moved to its overlay
//                                       (when overlays are named), the guest resumed
//   → {"cmd": "migrate", "to": "HOST:PORT", "downtimeMs": 300, "maxBandwidth": BYTES_PER_S,
//      "timeoutS": 600, "holdMs": 0, "tls": {"fingerprint": "AB:CD:..."}, "token": "HEX",
//      "mirror": false}
//                                     ← {"ok": true, "result": {...MigrationStats}} at once; the
//                                       migration runs on (status.migration); once completed,
//                                       the VMM ends, or at a quit within holdMs; "migrate-cancel".
//                                       tls: over TLS, the destination's certificate pinned by
//                                       its SHA-256; token: the destination's (incoming.token);
//                                       mirror: the writable disks go too (incoming.mirror)
//   → {"cmd": "resize", "cols": 120, "rows": 40}
//                                     ← {"ok": true, "result": {"cols", "rows"}}: the virtio
//                                       console's window size (hvc0); refused for the serial one
//   → {"cmd": "console", "replay": true, "write": true, "force": false}
//                                     ← {"ok": true}, then the connection carries the console as
//                                       raw bytes both ways (the last 64 KiB first, when replay)
// The console has any number of readers and one writer: a second client asking to write is
// refused while the first is attached, unless it takes over (force: the first one's input is
// ignored from then on); `write: false` attaches a reader, whose input is ignored.
// Errors: {"id": ..., "ok": false, "error": "..."}; a line that is not a request gets an error
// and the connection stays usable; a line over 64 KiB closes it.

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ConsoleIO } from './console.js';
import type { VmmStatus } from './status.js';
import type { SnapshotResult } from './vmm.js';
import { reaper } from './reaper.js';

export class ControlSocketError extends Error {
  override readonly name = 'ControlSocketError';
}

/** What the control socket drives: the VMM. */
export interface Controllable {
  readonly io: ConsoleIO;
  status(): VmmStatus;
  pause(): void;
  resume(): void;
  shutdown(): boolean;
  quit(): void;
  /**
   * Writes a snapshot of the machine to an absolute path (pausing the guest meanwhile), freezing
   * each writable disk into the overlay named for it when `overlays` is given.
   */
  snapshot(path: string, overlays?: (string | null)[]): SnapshotResult;
  /** Further commands (migrate, migrate-cancel: vmm/migration/); throws when refused. */
  command?(cmd: string, req: Record<string, unknown>): unknown;
}

export const MAX_REQUEST_LINE = 64 * 1024;
/** Console output waiting for a slow reader before it is disconnected. */
const MAX_CONSOLE_BACKLOG = 4 * 1024 * 1024;

export type ControlRequest = {
  id?: unknown;
  cmd: string;
  replay?: boolean;
  write?: boolean;
  force?: boolean;
  path?: unknown;
  overlays?: unknown;
};

function reply(
  sock: Socket,
  id: unknown,
  body: { ok: true; result?: unknown } | { ok: false; error: string },
): void {
  if (!sock.writable) return;
  sock.write(JSON.stringify(id === undefined ? body : { id, ...body }) + '\n');
}

/** True when something accepts connections on the UNIX socket `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private readonly sockets = new Set<Socket>();
  /** The one console connection whose input reaches the guest. */
  private writer: Socket | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly vmm: Controllable,
  ) {
    server.on('connection', (sock) => this.accept(sock));
  }

  /** Listens on `path`; a stale socket file of a dead VMM is replaced, a live one refused. */
  static async listen(path: string, vmm: Controllable): Promise<ControlServer> {
    let existing: ReturnType<typeof lstatSync> | null = null;
    try {
      existing = lstatSync(path);
    } catch {
      // nothing there
    }
    if (existing) {
      if (!existing.isSocket()) {
        throw new ControlSocketError(
          `cannot make the control socket ${path}: a file that is not a socket is there`,
        );
      }
      if (await socketAnswers(path)) {
        throw new ControlSocketError(
          `another VMM answers on the control socket ${path}; choose another path`,
        );
      }
      unlinkSync(path); // left by a VMM that was killed
    }
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new ControlSocketError(`cannot listen on the control socket ${path}: ${e.message}`)),
      );
      const mask = process.umask(0o177); // the socket file is made 0600, never wider
      try {
        server.listen(path, () => resolve());
      } finally {
        process.umask(mask);
      }
    });
    chmodSync(path, 0o600);
    reaper.track(path); // the listening server keeps the VMM's event loop alive, even while paused
    return new ControlServer(path, server, vmm);
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl < 0) break;
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        if (this.handle(sock, line) === 'console') {
          sock.off('data', onData);
          this.attachConsole(sock, Buffer.from(buffered, 'utf8'));
          return;
        }
      }
      if (buffered.length > MAX_REQUEST_LINE) {
        reply(sock, undefined, { ok: false, error: `request line over ${MAX_REQUEST_LINE} bytes` });
        sock.end();
      }
    };
    sock.on('data', onData);
  }

  private handle(sock: Socket, line: string): 'console' | void {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      reply(sock, undefined, {
        ok: false,
        error: 'not JSON: send one JSON object per line, e.g. {"cmd":"status"}',
      });
      return;
    }
    if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string') {
      reply(sock, undefined, {
        ok: false,
        error: 'a request is an object with "cmd", e.g. {"cmd":"status"}',
      });
      return;
    }
    const vmm = this.vmm;
    const id = req.id;
    switch (req.cmd) {
      case 'status':
        return reply(sock, id, { ok: true, result: vmm.status() });
      case 'pause':
        vmm.pause();
        return reply(sock, id, { ok: true, result: { state: vmm.status().state } });
      case 'resume':
        vmm.resume();
        return reply(sock, id, { ok: true, result: { state: vmm.status().state } });
      case 'shutdown': {
        const pressed = vmm.shutdown();
        if (!pressed)
          return reply(sock, id, {
            ok: false,
            error: 'the guest has no power button (powerButton: false)',
          });
        return reply(sock, id, { ok: true, result: { pressed } });
      }
      case 'quit':
        reply(sock, id, { ok: true, result: { state: 'stopping' } });
        vmm.quit();
        return;
      case 'snapshot': {
        if (typeof req.path !== 'string' || req.path === '') {
          return reply(sock, id, {
            ok: false,
            error: 'snapshot needs "path": the absolute path of the file to write',
          });
        }
        const overlays = req.overlays;
        if (
          overlays !== undefined &&
          !(
            Array.isArray(overlays) &&
            overlays.every((o: unknown) => o === null || typeof o === 'string')
          )
        ) {
          return reply(sock, id, {
            ok: false,
            error:
              'snapshot: "overlays" must be a list of absolute paths (null for read-only disks)',
          });
        }
        try {
          return reply(sock, id, {
            ok: true,
            result: vmm.snapshot(req.path, overlays as (string | null)[] | undefined),
          });
        } catch (e) {
          return reply(sock, id, { ok: false, error: (e as Error).message });
        }
      }
      case 'resize':
      case 'migrate':
      case 'migrate-cancel':
        try {
          return reply(sock, id, {
            ok: true,
            result: vmm.command?.(req.cmd, req as Record<string, unknown>),
          });
        } catch (e) {
          return reply(sock, id, { ok: false, error: (e as Error).message });
        }
      case 'console': {
        const write = req.write !== false;
        if (write && this.writer !== null && !this.writer.destroyed && req.force !== true) {
          return reply(sock, id, {
            ok: false,
            error:
              'the console has a writer already: attach read-only (write: false), or take ' +
              'over its input (force: true)',
          });
        }
        if (write) this.writer = sock;
        reply(sock, id, { ok: true });
        if (req.replay !== false) {
          const recent = vmm.io.recent();
          if (recent.length > 0) sock.write(recent);
        }
        return 'console';
      }
      default:
        return reply(sock, id, {
          ok: false,
          error: `unknown command "${req.cmd}"; known: status, pause, resume, shutdown, quit, snapshot, console, resize, migrate, migrate-cancel`,
        });
    }
  }

  private attachConsole(sock: Socket, early: Buffer): void {
    const io = this.vmm.io;
    const off = io.subscribe((chunk) => {
      // A reader that does not keep up is dropped rather than buffered without bound.
      if (sock.writableLength > MAX_CONSOLE_BACKLOG) sock.destroy();
      else if (sock.writable) sock.write(chunk);
    });
    sock.on('close', () => {
      off();
      if (this.writer === sock) this.writer = null;
    });
    const input = (d: Buffer): void => {
      if (this.writer === sock) io.inject(d); // a reader's (or a replaced writer's) is ignored
    };
    if (early.length > 0) input(early);
    sock.on('data', input);
  }

  /** Stops listening, ends every connection and removes the socket file. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const s of this.sockets) s.destroy();
      this.server.close(() => resolve());
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
      reaper.untrack(this.path);
    });
    return this.closing;
  }
}
