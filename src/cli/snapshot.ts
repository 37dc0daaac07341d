// `berth snapshot create|restore|ls|rm GUEST [NAME]` and `berth clone GUEST NEW`: snapshots
// and clones through the daemon (src/host/snapshots.ts and clones.ts say what each does). Same daemon options and exit statuses as the
// guest commands (guests.ts).

import { parseArgs } from 'node:util';
import { apiOf, command, DAEMON_OPTIONS, UsageError } from './daemonCli.js';
import { bytes, table } from './format.js';

export const SNAPSHOT_HELP = `Snapshots (through the daemon; the same --socket/--remote options as the guest commands):
  berth snapshot create GUEST NAME
                  a running or paused guest: its machine and disks at one instant (it
                  pauses meanwhile); a stopped guest: its disks
  berth snapshot restore GUEST NAME
                  stop the guest (forced), put its disks back as the snapshot had
                  them and run on from the snapshot's machine
  berth snapshot ls GUEST [--json]
  berth snapshot rm GUEST NAME
After a guest's first snapshot its disk files stay as they were then: the writes that follow
go to disk layers in the daemon's state folder (STATE/layers), as with QEMU's external
snapshots. Deleting the guest deletes its snapshots and layers, not the files of its spec.
Exit status: 0 done, 1 refused or failed, 2 bad usage, 3 no daemon.
`;

export const CLONE_HELP = `berth clone GUEST NEW [-p H:G]...
  A new guest NEW from GUEST's machine and disks at one instant (GUEST pauses meanwhile),
  running on without booting, with copy-on-write disks of its own (disk layers), its own
  network card (a new MAC address, taken up by Berth's images) and its kernel's random state
  reseeded. Published ports are not copied (GUEST holds them): give NEW its own with -p.
  A stopped GUEST gives a stopped NEW. Same daemon options and exit statuses as berth snapshot.
`;

interface SnapshotView {
  name: string;
  createdAt: string;
  stateful: boolean;
  bytes: number;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...DAEMON_OPTIONS, json: { type: 'boolean' } },
  });
  const [sub, guest, name, ...extra] = positionals;
  const api = apiOf(values);
  const base = (): string => `/v1/guests/${encodeURIComponent(guest)}/snapshots`;
  const needs = (n: number): void => {
    const got = positionals.length - 1;
    if (guest === undefined || got !== n || extra.length > 0) {
      throw new UsageError(`berth snapshot ${sub} takes ${n === 1 ? 'GUEST' : 'GUEST NAME'}`);
    }
  };
  const say = (s: string): boolean => process.stdout.write(s);
  const slow = (what: string) => () => process.stderr.write(`${what}...\n`);
  switch (sub) {
    case 'create':
      needs(2);
      await api.operate('POST', base(), { name }, slow(`taking snapshot ${name} of ${guest}`));
      say(`${guest}: snapshot ${name} taken\n`);
      return 0;
    case 'restore':
      needs(2);
      await api.operate(
        'POST',
        `${base()}/${encodeURIComponent(name)}/restore`,
        {},
        slow(`restoring ${guest} to ${name}`),
      );
      say(`${guest}: restored to ${name}\n`);
      return 0;
    case 'rm':
      needs(2);
      await api.call('DELETE', `${base()}/${encodeURIComponent(name)}`);
      say(`${guest}: snapshot ${name} deleted\n`);
      return 0;
    case 'ls': {
      needs(1);
      const list = await api.call<SnapshotView[]>('GET', base());
      if (values.json) {
        say(JSON.stringify(list, null, 2) + '\n');
        return 0;
      }
      const rows = [['NAME', 'TAKEN', 'HOLDS', 'MACHINE']];
      for (const s of list) {
        rows.push([
          s.name,
          s.createdAt,
          s.stateful ? 'machine+disks' : 'disks',
          s.stateful ? bytes(s.bytes) : '-',
        ]);
      }
      say(table(rows));
      return 0;
    }
  }
  throw new UsageError(
    sub === undefined
      ? 'berth snapshot needs create, restore, ls or rm (berth snapshot --help)'
      : `unknown snapshot command '${sub}': create, restore, ls or rm`,
  );
}

async function runClone(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...DAEMON_OPTIONS,
      publish: { type: 'string', short: 'p', multiple: true },
    },
  });
  if (positionals.length !== 2) throw new UsageError('berth clone takes GUEST NEW');
  const [guest, name] = positionals;
  const body: Record<string, unknown> = { name };
  if (values.publish) body.forwards = values.publish;
  await apiOf(values).operate('POST', `/v1/guests/${encodeURIComponent(guest)}/clone`, body, () =>
    process.stderr.write(`cloning ${guest} to ${name}...\n`),
  );
  process.stdout.write(`${name}: cloned from ${guest}\n`);
  return 0;
}

export function cloneCommand(args: string[]): Promise<number> {
  return command('clone', CLONE_HELP, runClone, args);
}

export function snapshotCommand(args: string[]): Promise<number> {
  return command('snapshot', SNAPSHOT_HELP, run, args);
}
