// A network namespace for the TAP tests, with a bridge br0 at 10.213.0.1/24 (or another address),
// and the check of whether such tests can run here (root, /dev/net/tun,
// iproute2, namespaces). delete() kills what runs in the namespace and
// removes it, so nothing on the host's own network changes.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const BRIDGE_IP = '10.213.0.1';

/** Why the TAP tests cannot run here, or undefined when they can. */
export function tapSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'TAP devices are a Linux feature';
  if (process.getuid?.() !== 0)
    return '--net tap needs root (CAP_NET_ADMIN); run the tests as root';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun on this host (modprobe tun)';
  for (const tool of ['ip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return `${tool} is missing (scripts/test-deps.sh installs it)`;
    }
  }
  const probe = `berth-tap-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create network namespaces here: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** A network namespace with br0 at 10.213.0.1/24 (or `bridgeIp`); delete() kills what runs in it and removes it. */
export class Netns {
  readonly name: string;

  constructor(tag: string, bridgeIp = BRIDGE_IP) {
    this.name = `berth-tap-${process.pid}-${tag}`;
    execFileSync('ip', ['netns', 'add', this.name]);
    try {
      this.exec('ip', ['link', 'set', 'lo', 'up']);
      this.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
      this.exec('ip', ['addr', 'add', `${bridgeIp}/24`, 'dev', 'br0']);
      this.exec('ip', ['link', 'set', 'br0', 'up']);
    } catch (e) {
      this.delete();
      throw e;
    }
  }

  /** Runs a command in the namespace; returns its stdout. */
  exec(cmd: string, args: string[], timeout = 60_000): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      timeout,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** The command line that runs `cmd` in the namespace. */
  wrap(cmd: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.name, cmd, ...args]];
  }

  /** Names of the interfaces on br0. */
  bridgePorts(): string[] {
    return this.exec('ip', ['-o', 'link', 'show', 'master', 'br0'])
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(':')[1].trim().split('@')[0]);
  }

  delete(): void {
    const pids = spawnSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' }).stdout ?? '';
    for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
