// Reaching a daemon over TCP (`berth daemon --listen`): `--remote https://HOST:PORT` with
// `--token-file FILE` and `--fingerprint SHA256` (or BERTH_REMOTE, BERTH_TOKEN_FILE,
// BERTH_FINGERPRINT). The daemon's certificate is self-signed, so no CA vouches for it: the
// connection is pinned to the SHA-256 fingerprint the daemon printed, and one that does not
// match is closed before a byte of the request (or the token) is sent.

import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';

export interface RemoteTarget {
  url: URL;
  token: string;
  /** Upper-case hex without colons. */
  fingerprint: string;
}

export class RemoteError extends Error {
  override readonly name = 'RemoteError';
}

/** 'SHA256:ab:cd…', 'AB:CD…' or 'abcd…' → 'ABCD…'; refuses anything but 64 hex digits. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp
    .trim()
    .replace(/^sha-?256[:=]?/i, '')
    .replace(/:/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new RemoteError(
      `--fingerprint: give the certificate's SHA-256 fingerprint (64 hex digits, colons allowed), as the daemon printed it`,
    );
  }
  return hex;
}

/** The remote target from flags, then the environment; null when none is asked for. */
export function remoteTarget(flags: {
  remote?: string;
  tokenFile?: string;
  fingerprint?: string;
}): RemoteTarget | null {
  const remote = flags.remote ?? process.env.BERTH_REMOTE;
  if (!remote) return null;
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw new RemoteError(`--remote: '${remote}' is not a URL such as https://127.0.0.1:8443`);
  }
  if (url.protocol !== 'https:' || !url.port) {
    throw new RemoteError(`--remote: give https://HOST:PORT (not '${remote}')`);
  }
  const tokenFile = flags.tokenFile ?? process.env.BERTH_TOKEN_FILE;
  const fp = flags.fingerprint ?? process.env.BERTH_FINGERPRINT;
  if (!tokenFile) throw new RemoteError('--remote needs --token-file FILE (or BERTH_TOKEN_FILE)');
  if (!fp) throw new RemoteError('--remote needs --fingerprint SHA256 (or BERTH_FINGERPRINT)');
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (e) {
    throw new RemoteError(`cannot read the token file: ${(e as Error).message}`);
  }
  return { url, token, fingerprint: normalizeFingerprint(fp) };
}

/** A TLS connection to the daemon whose certificate has the pinned fingerprint. */
export function pinnedConnect(t: RemoteTarget): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const host = t.url.hostname.replace(/^\[|\]$/g, '');
    const sock = connect({
      host,
      port: Number(t.url.port),
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      rejectUnauthorized: false, // self-signed: checked by fingerprint below
      ALPNProtocols: ['http/1.1'],
    });
    sock.once('secureConnect', () => {
      const got = (sock.getPeerCertificate().fingerprint256 ?? '').replace(/:/g, '');
      if (got !== t.fingerprint) {
        sock.destroy();
        reject(
          new RemoteError(
            `the daemon at ${t.url.host} shows a certificate with SHA-256 fingerprint ${got}, ` +
              `not the pinned ${t.fingerprint}: refusing to talk to it`,
          ),
        );
        return;
      }
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) =>
      reject(new RemoteError(`cannot reach ${t.url.host}: ${e.code ?? e.message}`)),
    );
  });
}
