// Prometheus metrics (prom-client) read from the supervisor at each scrape: guests per state,
// each guest's state (berth_guest_state{guest, state} 1), and per running guest its
// instructions, MIPS, resident memory, CPU time, guest memory, and the bytes and operations of
// its disks and network card.

import { Gauge, Registry } from 'prom-client';
import { GUEST_STATES } from './states.js';
import type { Supervisor } from './supervisor.js';

type Guest = ReturnType<Supervisor['list']>[number];

export class Metrics {
  private readonly registry = new Registry();

  constructor(sup: Supervisor) {
    const r = [this.registry];
    new Gauge({
      name: 'berth_guests',
      help: 'Guests by state',
      labelNames: ['state'],
      registers: r,
      collect() {
        const guests = sup.list();
        for (const s of GUEST_STATES)
          this.set({ state: s }, guests.filter((g) => g.state === s).length);
      },
    });
    const perGuest = (name: string, help: string, pick: (g: Guest) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['guest'],
        registers: r,
        collect() {
          this.reset();
          for (const g of sup.list()) {
            const v = pick(g);
            if (v !== undefined) this.set({ guest: g.name }, v);
          }
        },
      });
    };
    perGuest(
      'berth_guest_instructions',
      'Guest instructions retired since its VMM started',
      (g) => g.status?.instructions,
    );
    perGuest(
      'berth_guest_mips',
      'Guest instructions per second, in millions',
      (g) => g.status?.mips,
    );
    perGuest(
      'berth_guest_rss_bytes',
      'Resident memory of the VMM process',
      (g) => g.status?.rssBytes,
    );
    perGuest('berth_guest_cpu_seconds', 'CPU time of the VMM process', (g) => g.status?.cpuSeconds);
    perGuest('berth_guest_memory_bytes', 'Guest RAM as specified', (g) => g.spec.memory);
    new Gauge({
      name: 'berth_guest_state',
      help: 'The state of each guest (1 for its present state)',
      labelNames: ['guest', 'state'],
      registers: r,
      collect() {
        this.reset();
        for (const g of sup.list()) this.set({ guest: g.name, state: g.state }, 1);
      },
    });
    type DiskCounter = 'bytesRead' | 'bytesWritten' | 'readRequests' | 'writeRequests';
    const disks = (g: Guest, k: DiskCounter): number | undefined =>
      g.status ? g.status.disks.reduce((n, d) => n + (d[k] ?? 0), 0) : undefined;
    perGuest('berth_guest_disk_read_bytes', 'Bytes its disks read', (g) => disks(g, 'bytesRead'));
    perGuest('berth_guest_disk_written_bytes', 'Bytes written to its disks', (g) =>
      disks(g, 'bytesWritten'),
    );
    perGuest('berth_guest_disk_reads', 'Read requests its disks served', (g) =>
      disks(g, 'readRequests'),
    );
    perGuest('berth_guest_disk_writes', 'Write requests its disks served', (g) =>
      disks(g, 'writeRequests'),
    );
    perGuest(
      'berth_guest_network_received_packets',
      'Frames its network card delivered to it',
      (g) => g.status?.net?.card?.rxFrames,
    );
    perGuest(
      'berth_guest_network_sent_packets',
      'Frames it sent on its network card',
      (g) => g.status?.net?.card?.txFrames,
    );
    perGuest(
      'berth_guest_network_received_bytes',
      'Bytes its network card delivered to it',
      (g) => g.status?.net?.card?.rxBytes,
    );
    perGuest(
      'berth_guest_network_sent_bytes',
      'Bytes it sent on its network card',
      (g) => g.status?.net?.card?.txBytes,
    );
    new Gauge({
      name: 'berth_host_guest_memory_limit_bytes',
      help: 'Guest memory the host may commit',
      registers: r,
      collect() {
        this.set(sup.memoryLimit);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
