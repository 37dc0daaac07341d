// TCP peers for the network transfer tests, in the test's process (loopback)
// or run inside a network namespace as `node streamPeer.js MODE HOST PORT [MIB]`,
// printing one JSON line when listening and one with the result:
//   sink:   accepts one connection, counts and hashes (sha256) what arrives
//   source: connects and sends MIB MiB of a deterministic stream, hashing it
//   idle:   accepts one connection, stays silent, records what arrives and when

import { createHash } from 'node:crypto';
import { createServer, connect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface StreamResult {
  bytes: number;
  sha256: string;
  seconds: number;
  /** Text received (idle mode), and ms from accept to its first byte. */
  text?: string;
  silentMs?: number;
  error?: string;
}

const MIB = 1 << 20;

/** A 1 MiB block of seeded pseudo-random bytes (xorshift32). */
export function block(seed = 0x9e3779b9): Buffer {
  const b = Buffer.alloc(MIB);
  let x = seed >>> 0;
  for (let i = 0; i < MIB; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** Listens on host:port (0: any free port) for one connection; `idle` keeps silent and records text. */
export function listenOnce(
  host: string,
  port: number,
  idle = false,
): Promise<{ port: number; result: Promise<StreamResult> }> {
  return new Promise((resolve, reject) => {
    let finish!: (r: StreamResult) => void;
    const result = new Promise<StreamResult>((r) => (finish = r));
    const srv = createServer({ allowHalfOpen: true }, (sock) => {
      srv.close();
      const hash = createHash('sha256');
      const accepted = performance.now();
      let bytes = 0;
      let start = 0;
      let first = -1;
      let text = '';
      let error: string | undefined;
      sock.on('data', (d: Buffer) => {
        if (bytes === 0) start = performance.now();
        if (first < 0) first = performance.now() - accepted;
        bytes += d.length;
        hash.update(d);
        if (idle && text.length < 1024) text += d.toString();
      });
      sock.on('error', (e) => (error = e.message));
      sock.on('close', () =>
        finish({
          bytes,
          sha256: hash.digest('hex'),
          seconds: (performance.now() - start) / 1000,
          ...(idle ? { text, silentMs: Math.round(first) } : {}),
          ...(error !== undefined ? { error } : {}),
        }),
      );
      sock.on('end', () => sock.end());
    });
    srv.once('error', reject);
    srv.listen(port, host, () => resolve({ port: (srv.address() as AddressInfo).port, result }));
  });
}

/** Connects to host:port and sends `mib` MiB (the block repeated), then half-closes; resolves at close. */
export function sendStream(host: string, port: number, mib: number): Promise<StreamResult> {
  const b = block();
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, allowHalfOpen: true });
    let sent = 0;
    const start = performance.now();
    let seconds = 0;
    const pump = (): void => {
      while (sent < mib) {
        hash.update(b);
        sent++;
        if (!sock.write(b)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => {
        done = true;
        seconds = (performance.now() - start) / 1000;
      });
    };
    sock.once('connect', pump);
    let done = false;
    sock.on('data', () => {});
    // The peer may half-close first (nc -l with no input does at once): keep sending.
    sock.on('end', () => {
      if (done) sock.destroy();
    });
    sock.once('error', reject);
    sock.once('close', () =>
      resolve({
        bytes: sent * MIB,
        sha256: hash.digest('hex'),
        seconds: seconds || (performance.now() - start) / 1000,
      }),
    );
  });
}

async function main(): Promise<void> {
  const [mode, host, port, mib] = process.argv.slice(2);
  const out = (o: unknown): boolean => process.stdout.write(JSON.stringify(o) + '\n');
  if (mode === 'source') {
    out({ result: await sendStream(host, Number(port), Number(mib)) });
    return;
  }
  const l = await listenOnce(host, Number(port), mode === 'idle');
  out({ listening: l.port });
  out({ result: await l.result });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`streamPeer: ${String(e)}\n`);
    process.exit(1);
  });
}
