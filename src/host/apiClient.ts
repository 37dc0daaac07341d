// A client of the daemon's API, the CLI's and a source daemon's to its destination in a
// migration: HTTP requests over the daemon's UNIX socket (or over TCP with TLS pinned by
// fingerprint and a bearer token, remoteTarget.ts), answers unwrapped from their envelopes; an
// error answer becomes an ApiError with the daemon's message. The CLI speaks to the daemon only
// through this.

import { request } from 'node:http';
import WebSocket from 'ws';
import { pinnedConnect, type RemoteTarget } from './remoteTarget.js';
import { join } from 'node:path';
import { homedir } from 'node:os';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The daemon could not be reached at all. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

/** --socket, else BERTH_SOCKET, else the default state folder's berth.sock. */
export function defaultSocket(): string {
  if (process.env.BERTH_SOCKET) return process.env.BERTH_SOCKET;
  if (process.getuid?.() === 0) return '/var/lib/berth/berth.sock';
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'berth', 'berth.sock');
}

export interface Answer {
  status: number;
  type: string;
  body: unknown;
  /** The body as it came (e.g. a console log's bytes). */
  bytes: Buffer;
}

export class ApiClient {
  constructor(
    readonly socket: string,
    /** Over TCP with TLS instead of the UNIX socket (remote.ts). */
    readonly remote: RemoteTarget | null = null,
  ) {}

  /** Where the daemon is, for messages. */
  get where(): string {
    return this.remote ? this.remote.url.origin : this.socket;
  }

  private authorization(): Record<string, string> {
    return this.remote ? { authorization: `Bearer ${this.remote.token}` } : {};
  }

  /** A WebSocket to `path` (e.g. a guest's console) on the daemon. */
  async webSocket(path: string): Promise<WebSocket> {
    if (!this.remote) return new WebSocket(`ws+unix://${this.socket}:${path}`);
    const sock = await pinnedConnect(this.remote);
    return new WebSocket(`wss://${this.remote.url.host}${path}`, {
      createConnection: () => sock,
      headers: this.authorization(),
    });
  }

  async raw(method: string, path: string, body?: unknown): Promise<Answer> {
    const tls = this.remote ? await pinnedConnect(this.remote) : null;
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          ...(tls ? { createConnection: () => tls, host: this.remote!.url.hostname } : {}),
          ...(tls ? {} : { socketPath: this.socket }),
          path,
          method,
          headers: {
            ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
            ...this.authorization(),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const bytes = Buffer.concat(chunks);
            const text = bytes.toString('utf8');
            const type = String(res.headers['content-type'] ?? '');
            let parsed: unknown = text;
            if (type.includes('json')) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, type, body: parsed, bytes });
          });
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new UnreachableError(
            `cannot reach the berth daemon at ${this.where}: ${e.code ?? e.message} (start it with 'berth daemon', or give --socket or --remote)`,
          ),
        ),
      );
      req.end(data);
    });
  }

  /** A request whose answer is an envelope; returns its metadata (or the whole async answer). */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const a = await this.raw(method, path, body);
    const b = a.body as { type?: string; error?: string; metadata?: unknown };
    if (a.status >= 400 || b?.type === 'error') {
      throw new ApiError(a.status, b?.error ?? `the daemon answered ${a.status}`);
    }
    return (b?.type === 'async' ? b : b?.metadata) as T;
  }

  /**
   * Runs an action that answers with an operation and waits for it to end; `slow` is called
   * once when it has not ended after a second.
   */
  action(name: string, body: Record<string, unknown>, slow?: () => void): Promise<unknown> {
    return this.operate('PUT', `/v1/guests/${encodeURIComponent(name)}/state`, body, slow);
  }

  /** Any request that may answer with an operation, waited for as action() does. */
  async operate(
    method: string,
    path: string,
    body?: Record<string, unknown>,
    slow?: () => void,
  ): Promise<unknown> {
    const r = await this.call<{ type?: string; operation?: string; metadata?: unknown }>(
      method,
      path,
      body,
    );
    if (r?.type !== 'async' || !r.operation) return r;
    for (let first = true; ; first = false) {
      const op = await this.call<{ status: string; err: string }>(
        'GET',
        `${r.operation}/wait?timeout=${first ? 1 : 30}`,
      );
      if (op.status === 'Success') return op;
      if (op.status === 'Failure' || op.status === 'Cancelled') {
        throw new ApiError(500, op.err || `the operation ended: ${op.status}`);
      }
      if (first) slow?.();
    }
  }
}
