// Talks to a VMM's control socket (controlServer.ts): one request, one answer; or the console.
//
//   const status = await controlRequest(path, { cmd: 'status' });
//   const sock = await openConsole(path);   // raw console bytes both ways

import { connect, type Socket } from 'node:net';

export class ControlClientError extends Error {
  override readonly name = 'ControlClientError';
}

/** The VMM answered a console request with a refusal (another writer is attached). */
export class ConsoleRefused extends ControlClientError {}

function open(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new ControlClientError(`no answer from the control socket ${path} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ControlClientError(`cannot reach the VMM at ${path}: ${e.code ?? e.message}`));
    });
  });
}

/** Reads one JSON line from `sock`; the bytes after it stay unread in `rest`. */
function readLine(sock: Socket, timeoutMs: number): Promise<{ line: unknown; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      done();
      sock.pause();
      try {
        resolve({
          line: JSON.parse(buf.subarray(0, nl).toString('utf8')),
          rest: buf.subarray(nl + 1),
        });
      } catch (e) {
        reject(
          new ControlClientError(
            `the VMM answered with something that is not JSON: ${(e as Error).message}`,
          ),
        );
      }
    };
    const onClose = (): void => {
      done();
      reject(new ControlClientError('the VMM closed the control connection without answering'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new ControlClientError(`the VMM did not answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

type Answer = { ok: boolean; result?: unknown; error?: string };

/** Sends one request and returns its result; throws ControlClientError with the VMM's error. */
export async function controlRequest<T = unknown>(
  path: string,
  request: { cmd: string; [k: string]: unknown },
  timeoutMs = 5000,
): Promise<T> {
  const sock = await open(path, timeoutMs);
  try {
    sock.write(JSON.stringify(request) + '\n');
    const { line } = await readLine(sock, timeoutMs);
    const a = line as Answer;
    if (!a.ok) throw new ControlClientError(a.error ?? 'the VMM refused the request');
    return a.result as T;
  } finally {
    sock.destroy();
  }
}

/**
 * Attaches to the guest console: the returned socket reads the console's output (the last
 * 64 KiB first when `replay`) and, as its one writer (`write`, default true; `force` takes over
 * from another), writes its input. `early` holds output that came with the answer. A refusal
 * (another writer) throws ConsoleRefused.
 */
export async function openConsole(
  path: string,
  opts: { replay?: boolean; write?: boolean; force?: boolean; timeoutMs?: number } = {},
): Promise<{ socket: Socket; early: Buffer }> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const sock = await open(path, timeoutMs);
  const { replay = true, write = true, force = false } = opts;
  sock.write(JSON.stringify({ cmd: 'console', replay, write, force }) + '\n');
  const { line, rest } = await readLine(sock, timeoutMs);
  const a = line as Answer;
  if (!a.ok) {
    sock.destroy();
    throw new ConsoleRefused(a.error ?? 'the VMM refused the console');
  }
  return { socket: sock, early: rest };
}
