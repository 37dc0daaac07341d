// Port forwards of user-mode networking (`berth run -p`): a host port whose
// connections (TCP) or datagrams (UDP) reach a port of the guest.

export class PortForwardError extends Error {}

export interface PortForward {
  proto: 'tcp' | 'udp';
  hostPort: number;
  guestPort: number;
  /** Host address to bind (default: all IPv4 addresses). */
  hostAddress?: string;
}

/** Parses "HOSTPORT:GUESTPORT", "PORT", optionally "ADDR/…" in front and "/udp" or "/tcp" at the end. */
export function parsePortForward(spec: string): PortForward {
  const m = /^(?:([0-9a-fA-F.:]+)\/)?(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(spec.trim());
  const bad = (): PortForwardError =>
    new PortForwardError(
      `"${spec}" is not a port forward; write HOSTPORT:GUESTPORT (e.g. 8080:80), ` +
        `optionally with /udp, or ADDRESS/HOSTPORT:GUESTPORT`,
    );
  if (!m) throw bad();
  const hostPort = Number(m[2]);
  const guestPort = m[3] !== undefined ? Number(m[3]) : hostPort;
  if (hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) throw bad();
  const f: PortForward = { proto: m[4] === 'udp' ? 'udp' : 'tcp', hostPort, guestPort };
  if (m[1] !== undefined) f.hostAddress = m[1];
  return f;
}
