// The source's connection to the destination: plain TCP, or TLS (1.3 at least) when the migrate
// request names the destination certificate's SHA-256 fingerprint. The destination's certificate
// is self-signed, so it is not checked against any authority: it is pinned. Once the handshake
// is done and before anything is sent, the certificate the peer showed must have that
// fingerprint, or the connection is closed and the migration refused. The TLSSocket it gives
// extends net.Socket: the frames (wire.ts) go over it as over TCP.

import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { hostPort } from './target.js';
import { MigrationError } from './wire.js';

/** How long connecting (and the TLS handshake) may take. */
const CONNECT_MS = 10_000;

/** A SHA-256 fingerprint as 64 lowercase hex digits (colons and case ignored), or null. */
export function normalFingerprint(s: string): string | null {
  const hex = s.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

/** As openssl and Node print it: AB:CD:... */
function colons(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/**
 * Connects to `to` (HOST:PORT); with `fingerprint` (normalFingerprint's form) over TLS to a
 * server whose certificate has it. Rejects with a MigrationError saying what failed.
 */
export function openChannel(to: string, fingerprint: string | null): Promise<Socket> {
  const { host, port } = hostPort(to);
  const sock: Socket =
    fingerprint === null
      ? tcpConnect({ host, port })
      : tlsConnect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  let reached = false;
  sock.once('connect', () => (reached = true));
  return new Promise<Socket>((resolve, reject) => {
    const fail = (e: MigrationError): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new MigrationError(`${to} did not answer`)), CONNECT_MS);
    sock.once('error', (e: Error & { reason?: string }) => {
      if (!reached || fingerprint === null) {
        return fail(new MigrationError(`cannot reach ${to}: ${e.message}`));
      }
      const why = e.reason ?? e.message;
      const hint = /wrong version number/.test(why) ? ' (does it listen without TLS?)' : '';
      fail(new MigrationError(`the TLS handshake with ${to} failed: ${why}${hint}`));
    });
    if (fingerprint === null) {
      sock.once('connect', () => (clearTimeout(timer), resolve(sock)));
      return;
    }
    sock.once('secureConnect', () => {
      const cert = (sock as TLSSocket).getPeerCertificate();
      const got = cert?.fingerprint256 ? normalFingerprint(cert.fingerprint256) : null;
      if (got === null) {
        return fail(new MigrationError(`${to} showed no certificate`));
      }
      if (got !== fingerprint) {
        return fail(
          new MigrationError(
            `the destination's certificate has fingerprint ${colons(got)}, not ${colons(fingerprint)}`,
          ),
        );
      }
      clearTimeout(timer);
      resolve(sock);
    });
  });
}
