// The API over TCP (`berth daemon --listen HOST:PORT`): the same routes as on the UNIX socket,
// behind TLS and a bearer token. The certificate is the user's (--tls-cert/--tls-key) or a
// self-signed one the daemon makes on its first start with `openssl req -x509` (Node's crypto
// cannot make X.509 certificates) and keeps in STATE/tls/; clients pin it by its SHA-256
// fingerprint, which the daemon prints at start. The token is 32 random bytes in hex, made once
// in STATE/token with mode 0600; every request without `Authorization: Bearer TOKEN` gets 401.

import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildApi } from './api.js';
import { HostError } from './errors.js';
import type { FigureHistory } from './figureHistory.js';
import type { StateDir } from './stateDir.js';
import type { Supervisor } from './supervisor.js';

export interface ListenOptions {
  host: string;
  /** 0: any free port (the log says which). */
  port: number;
  /** The user's own certificate and key (PEM files); else a self-signed pair is made. */
  certFile?: string;
  keyFile?: string;
  /** How long a web console session lasts (default 8 h). */
  sessionTtlMs?: number;
}

export interface RemoteApi {
  host: string;
  port: number;
  /** SHA-256 of the certificate, as colon-separated upper-case hex. */
  fingerprint: string;
  tokenFile: string;
  close(): Promise<void>;
}

/** Parses HOST:PORT (an IPv6 host in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new HostError(400, `--listen: give HOST:PORT, such as 127.0.0.1:8443 (not '${value}')`);
  }
  return { host: m[1] ?? m[2], port };
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** STATE/tls/{cert,key}.pem, made with openssl on the first start. */
function selfSigned(
  dirs: StateDir,
  host: string,
  log: (l: string) => void,
): { cert: string; key: string } {
  const dir = join(dirs.root, 'tls');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  if (!hasOpenssl()) {
    throw new HostError(
      500,
      "cannot make a TLS certificate: the openssl command is missing (install Debian's " +
        'openssl package) — or give your own with --tls-cert and --tls-key',
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const san = /^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`;
  const tmpKey = `${key}.tmp`;
  const tmpCert = `${cert}.tmp`;
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'].concat(
        ['-nodes', '-days', '3650', '-subj', '/CN=berth daemon'],
        ['-addext', `subjectAltName=${san},DNS:localhost,IP:127.0.0.1`],
        ['-keyout', tmpKey, '-out', tmpCert],
      ),
      { stdio: 'pipe' },
    );
    chmodSync(tmpKey, 0o600);
    writeFileSync(key, readFileSync(tmpKey), { mode: 0o600 });
    writeFileSync(cert, readFileSync(tmpCert), { mode: 0o644 });
  } catch (e) {
    const why = ((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim();
    throw new HostError(500, `openssl could not make a certificate: ${why}`);
  } finally {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
  }
  log(`made a self-signed TLS certificate: ${cert}`);
  return { cert, key };
}

/** The token in STATE/token, made (mode 0600) when missing. */
export function ensureToken(dirs: StateDir): { file: string; token: string } {
  const file = join(dirs.root, 'token');
  try {
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  chmodSync(file, 0o600);
  const token = readFileSync(file, 'utf8').trim();
  if (!/^\S{16,}$/.test(token)) {
    throw new HostError(500, `the token file ${file} holds no token (remove it to make a new one)`);
  }
  return { file, token };
}

export async function serveRemote(
  sup: Supervisor,
  dirs: StateDir,
  listen: ListenOptions,
  log: (l: string) => void,
  history?: FigureHistory,
): Promise<RemoteApi> {
  if ((listen.certFile === undefined) !== (listen.keyFile === undefined)) {
    throw new HostError(400, 'give both --tls-cert and --tls-key, or neither');
  }
  const files =
    listen.certFile && listen.keyFile
      ? { cert: listen.certFile, key: listen.keyFile }
      : selfSigned(dirs, listen.host, log);
  let cert: Buffer;
  let key: Buffer;
  let fingerprint: string;
  try {
    cert = readFileSync(files.cert);
    key = readFileSync(files.key);
    fingerprint = new X509Certificate(cert).fingerprint256;
  } catch (e) {
    throw new HostError(400, `cannot read the TLS certificate: ${(e as Error).message}`);
  }
  const { file: tokenFile, token } = ensureToken(dirs);
  // Incoming migrations' VMMs serve their stream with the same certificate (Supervisor.takeIncoming).
  sup.migrationTls = { cert: cert.toString('utf8'), key: key.toString('utf8') };
  const app = await buildApi(sup, {
    https: { cert, key },
    token,
    sessionTtlMs: listen.sessionTtlMs,
    history,
  });
  await app.listen({ host: listen.host, port: listen.port });
  const addr = app.server.address() as AddressInfo;
  log(
    `serving https://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` +
      ` (certificate SHA-256 fingerprint ${fingerprint}; token in ${tokenFile})`,
  );
  return {
    host: addr.address,
    port: addr.port,
    fingerprint,
    tokenFile,
    close: () => app.close(),
  };
}
