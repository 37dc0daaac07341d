// `berth create|start|stop|restart|pause|resume|rm|ls|stats|inspect|logs|events`: the guest
// commands, each one or two requests to the daemon's API (apiClient.ts). Human tables by default,
// --json for scripts. Exit status: 0 done, 1 the daemon refused or the action failed,
// 2 bad usage, 3 no daemon to talk to.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError, defaultSocket, UnreachableError } from '../host/apiClient.js';
import { table } from './format.js';
import { lsTable, type GuestView } from './ls.js';
import { RemoteError, remoteTarget } from '../host/remoteTarget.js';
import { parseDiskSpec } from '../vmm/disk/fileBlockBackend.js';

export const GUEST_COMMANDS = [
  'create',
  'start',
  'stop',
  'restart',
  'pause',
  'resume',
  'rm',
  'ls',
  'stats',
  'inspect',
  'logs',
  'events',
  'console',
] as const;

export const GUESTS_HELP = `Guest commands (through the daemon; --socket PATH or BERTH_SOCKET to reach it, or over
TCP: --remote https://HOST:PORT --token-file F --fingerprint SHA256, or BERTH_REMOTE,
BERTH_TOKEN_FILE and BERTH_FINGERPRINT):
  berth create NAME [--memory 256M] [--cpus N] [--image DIR | --firmware F [--kernel K] [--initrd I]]
               [--append ARGS] [--disk PATH[,ro][,bus=pci]]... [--net none|user|tap[,bus=pci]]
               [-p H:G]... [--bridge BR] [--mac 52:54:00:12:34:56]
               [--restart no|on-failure|always] [--autostart] [--stop-timeout S]
               [--cpu-weight 1-10000] [--virtio-console]
                            ,bus=pci: the disk or card on virtio-pci (a PCI device of its
                            own) instead of a virtio slot, as with berth run;
                            --virtio-console: the console on hvc0, which carries the
                            terminal's window size (default: the serial port, ttyS0)
  berth start NAME          start a guest and wait until its VMM answers
  berth stop NAME [--force] [--timeout S]
                            power button, then quit after S seconds (--force: quit now);
                            start, stop and restart say on stderr what they wait for
  berth restart NAME [--force] [--timeout S]
  berth pause NAME | berth resume NAME
  berth rm NAME [--force]   delete a stopped guest (--force: stop it first, and delete its
                            snapshots and disk layers with it)
  berth ls [--json]         all guests: state, uptime, memory, CPU, RSS, PID, addresses
                            (the DHCP lease on user networking, published ports)
  berth stats [NAME...] [--json] [--watch | --no-stream]
                            CPU %, memory, MIPS, instructions, disk and network counters
                            of running guests; once (default), or every second (--watch)
  berth inspect NAME        everything the daemon knows about a guest, as JSON
  berth logs NAME [--lines N]   the VMM's own output
  berth logs NAME --console [--lines N]
                            the guest's console log (kept on disk, running or not)
  berth events [NAME] [--json]  the lifecycle events so far
  berth console NAME [--read-only | --force]
                            the guest console (Ctrl-A then X detaches); one client
                            writes at a time: --read-only watches, --force takes over
Exit status: 0 done, 1 refused or failed, 2 bad usage, 3 no daemon.
`;

class UsageError extends Error {}

/** What a long action waits for, said on stderr when it takes more than a second. */
async function progressLine(
  api: ApiClient,
  cmd: string,
  name: string,
  body: Record<string, unknown>,
): Promise<string> {
  if (cmd === 'start') return `waiting for ${name}'s VMM to answer...`;
  if (body.force) return `waiting for ${name}'s VMM to quit...`;
  const timeout =
    (body.timeout as number | undefined) ??
    (await api.call<GuestView>('GET', guestPath(name))).spec.stopTimeout;
  const off = `to power off (${timeout} s before it is forced)`;
  return cmd === 'stop'
    ? `waiting for ${name} ${off}...`
    : `restarting ${name}: waiting for it ${off}, then for its VMM to answer...`;
}

const guestPath = (n: string): string => `/v1/guests/${encodeURIComponent(n)}`;

function specFrom(name: string, v: Record<string, unknown>): Record<string, unknown> {
  const spec: Record<string, unknown> = { name };
  if (v.memory !== undefined) spec.memory = v.memory;
  if (v.cpus !== undefined) {
    const n = Number(v.cpus);
    if (!/^\d+$/.test(String(v.cpus)))
      throw new UsageError('--cpus takes a whole number from 1 to 8');
    spec.cpus = n;
  }
  const abs = (p: unknown): string => resolve(String(p));
  if (v.image !== undefined) {
    if (v.firmware !== undefined || v.kernel !== undefined || v.initrd !== undefined) {
      throw new UsageError(
        '--image brings its own boot files: leave out --firmware, --kernel and --initrd',
      );
    }
    spec.boot = { image: abs(v.image) };
  } else if (v.firmware !== undefined || v.kernel !== undefined || v.initrd !== undefined) {
    if (v.firmware === undefined) throw new UsageError('--kernel and --initrd need --firmware too');
    spec.boot = {
      firmware: abs(v.firmware),
      ...(v.kernel !== undefined ? { kernel: abs(v.kernel) } : {}),
      ...(v.initrd !== undefined ? { initrd: abs(v.initrd) } : {}),
      ...(v.append !== undefined ? { append: v.append } : {}),
    };
  } else if (v.append !== undefined) spec.boot = { append: v.append };
  if (v.disk !== undefined) {
    spec.disks = (v.disk as string[]).map((text) => {
      const d = parseDiskSpec(text);
      if (d.slot !== undefined) {
        throw new UsageError(
          `--disk ${text}: the daemon puts a guest's disks in virtio slots itself; ` +
            'slot=N is for berth run (bus=pci puts the disk on virtio-pci)',
        );
      }
      return { path: abs(d.path), readOnly: d.readOnly, ...(d.bus ? { bus: d.bus } : {}) };
    });
  }
  const net = networkFrom(v);
  if (net) spec.network = net;
  if (v.restart !== undefined) spec.restart = v.restart;
  if (v.autostart) spec.autostart = true;
  if (v['virtio-console']) spec.console = 'virtio';
  if (v['stop-timeout'] !== undefined) {
    const n = Number(v['stop-timeout']);
    if (!Number.isInteger(n)) throw new UsageError('--stop-timeout takes whole seconds');
    spec.stopTimeout = n;
  }
  if (v['cpu-weight'] !== undefined) {
    const n = Number(v['cpu-weight']);
    if (!Number.isInteger(n)) throw new UsageError('--cpu-weight takes a whole number');
    spec.cpuWeight = n;
  }
  return spec;
}

/** --net KIND[,bus=pci], -p, --bridge and --mac as the spec's network (the daemon checks the values). */
function networkFrom(v: Record<string, unknown>): Record<string, unknown> | null {
  const forwards = (v.publish as string[] | undefined) ?? [];
  const [given, ...opts] = v.net === undefined ? [] : String(v.net).split(',');
  const kind = given ?? (v.bridge !== undefined ? 'tap' : 'user');
  let bus: Record<string, string> = {};
  for (const opt of opts) {
    if (opt !== 'bus=pci' && opt !== 'bus=mmio') {
      throw new UsageError(`--net ${String(v.net)}: unknown option '${opt}' (bus=pci or bus=mmio)`);
    }
    bus = { bus: opt.slice('bus='.length) };
  }
  if (v.net === undefined && forwards.length === 0 && v.bridge === undefined) {
    if (v.mac !== undefined)
      throw new UsageError("--mac sets the network card's address: add --net");
    return null;
  }
  if (kind !== 'none' && kind !== 'user' && kind !== 'tap') {
    throw new UsageError(`--net is none, user or tap, not '${String(kind)}'`);
  }
  if (forwards.length > 0 && kind !== 'user') throw new UsageError('-p needs --net user');
  if (kind === 'tap' && v.bridge === undefined) {
    throw new UsageError('--net tap needs --bridge NAME: the Linux bridge the guest joins');
  }
  if (kind !== 'tap' && v.bridge !== undefined) {
    throw new UsageError('--bridge names the bridge for --net tap');
  }
  if (kind === 'none') {
    if (v.mac !== undefined)
      throw new UsageError("--mac sets the network card's address: it needs a card");
    if (opts.length > 0) throw new UsageError('--net none: there is no card to put on a bus');
    return { kind };
  }
  const mac = v.mac !== undefined ? { mac: v.mac } : {};
  return kind === 'user'
    ? { kind, forwards, ...mac, ...bus }
    : { kind, bridge: v.bridge, ...mac, ...bus };
}

function seconds(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError('--timeout takes whole seconds');
  return n;
}

async function run(cmd: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      socket: { type: 'string' },
      remote: { type: 'string' },
      'token-file': { type: 'string' },
      fingerprint: { type: 'string' },
      'cpu-weight': { type: 'string' },
      json: { type: 'boolean' },
      watch: { type: 'boolean' },
      'no-stream': { type: 'boolean' },
      force: { type: 'boolean' },
      timeout: { type: 'string' },
      lines: { type: 'string' },
      console: { type: 'boolean' },
      'virtio-console': { type: 'boolean' },
      'read-only': { type: 'boolean' },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      image: { type: 'string' },
      firmware: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      disk: { type: 'string', multiple: true },
      net: { type: 'string' },
      bridge: { type: 'string' },
      mac: { type: 'string' },
      publish: { type: 'string', short: 'p', multiple: true },
      restart: { type: 'string' },
      autostart: { type: 'boolean' },
      'stop-timeout': { type: 'string' },
    },
  });
  const remote = remoteTarget({
    remote: values.remote,
    tokenFile: values['token-file'],
    fingerprint: values.fingerprint,
  });
  const api = new ApiClient(values.socket ?? defaultSocket(), remote);
  const out = (s: string): boolean => process.stdout.write(s);
  const needName = (): string => {
    if (positionals.length !== 1) throw new UsageError(`berth ${cmd} takes one guest name`);
    return positionals[0];
  };

  switch (cmd) {
    case 'ls': {
      if (positionals.length > 0) throw new UsageError('berth ls takes no names');
      const guests = await api.call<GuestView[]>('GET', '/v1/guests');
      if (values.json) {
        out(JSON.stringify(guests, null, 2) + '\n');
        return 0;
      }
      out(lsTable(guests));
      return 0;
    }
    case 'stats': {
      if (values.watch && values['no-stream']) {
        throw new UsageError('--watch and --no-stream exclude each other');
      }
      const { statsCommand } = await import('./stats.js');
      return statsCommand(api, positionals, { json: !!values.json, watch: !!values.watch });
    }
    case 'create': {
      const g = await api.call<GuestView>('POST', '/v1/guests', specFrom(needName(), values));
      out(values.json ? JSON.stringify(g, null, 2) + '\n' : `created ${g.name}\n`);
      return 0;
    }
    case 'inspect': {
      out(JSON.stringify(await api.call('GET', guestPath(needName())), null, 2) + '\n');
      return 0;
    }
    case 'start':
    case 'stop':
    case 'restart':
    case 'pause':
    case 'resume': {
      const name = needName();
      const body: Record<string, unknown> = { action: cmd };
      if (cmd === 'stop' || cmd === 'restart') {
        if (values.force) body.force = true;
        const t = seconds(values.timeout);
        if (t !== undefined) body.timeout = t;
      } else if (values.force || values.timeout !== undefined) {
        throw new UsageError(`berth ${cmd} takes no --force or --timeout`);
      }
      const waiting =
        cmd === 'pause' || cmd === 'resume' ? '' : await progressLine(api, cmd, name, body);
      await api.action(name, body, () => process.stderr.write(`${waiting}\n`));
      const g = await api.call<GuestView>('GET', guestPath(name));
      out(values.json ? JSON.stringify(g, null, 2) + '\n' : `${name}: ${g.state}\n`);
      return 0;
    }
    case 'rm': {
      const name = needName();
      if (values.force) {
        const g = await api.call<GuestView>('GET', guestPath(name));
        if (['starting', 'running', 'paused', 'stopping'].includes(g.state)) {
          await api.action(name, { action: 'stop', force: true });
        }
      }
      await api.call('DELETE', `${guestPath(name)}${values.force ? '?force=true' : ''}`);
      if (!values.json) out(`deleted ${name}\n`);
      return 0;
    }
    case 'logs': {
      const name = needName();
      const q = values.lines !== undefined ? `?lines=${encodeURIComponent(values.lines)}` : '';
      const what = values.console ? 'console' : 'logs';
      const a = await api.raw('GET', `${guestPath(name)}/${what}${q}`);
      if (a.status >= 400) {
        const b = a.body as { error?: string };
        throw new ApiError(a.status, b?.error ?? `the daemon answered ${a.status}`);
      }
      process.stdout.write(a.bytes);
      return 0;
    }
    case 'events': {
      if (positionals.length > 1) throw new UsageError('berth events takes at most one guest name');
      const q = positionals.length === 1 ? `?guest=${encodeURIComponent(positionals[0])}` : '';
      const events = await api.call<
        { time: string; guest: string; type: string; reason: string; detail: string | null }[]
      >('GET', `/v1/events${q}`);
      if (values.json) {
        out(JSON.stringify(events, null, 2) + '\n');
        return 0;
      }
      const rows = [['TIME', 'GUEST', 'TYPE', 'REASON', 'DETAIL']];
      for (const e of events) rows.push([e.time, e.guest, e.type, e.reason, e.detail ?? '']);
      out(table(rows));
      return 0;
    }
    case 'console': {
      const { consoleCommand } = await import('./console.js');
      return consoleCommand(api, needName(), {
        readOnly: values['read-only'] ?? false,
        force: values.force ?? false,
      });
    }
  }
  throw new UsageError(`unknown command '${cmd}'`);
}

export async function guestCommand(cmd: string, args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(GUESTS_HELP);
    return 0;
  }
  try {
    return await run(cmd, args);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`berth ${cmd}: ${message}\n`);
    if (e instanceof UnreachableError || e instanceof RemoteError) return 3;
    if (e instanceof ApiError) return 1;
    return 2; // usage: unknown options, missing names
  }
}
