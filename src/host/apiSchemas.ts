// Schemas of the REST API: zod for what the daemon validates (route params, queries, the state
// action), JSON Schema for documentation only (the OpenAPI document). The guest spec is
// documented from its zod schema and validated by parseGuestSpec, for one clear message.

import { z } from 'zod';
import { GuestName, GuestSpecSchema } from './guestSpec.js';
import { GUEST_STATES } from './states.js';

export const NameParams = z.object({ name: GuestName }).strict();
export const OperationParams = z.object({ id: z.string().uuid('an operation id is a UUID') });

const Seconds = z.coerce.number().int().min(0).max(3600);

export const StateAction = z
  .object({
    action: z.enum(['start', 'stop', 'restart', 'pause', 'resume']),
    force: z.boolean().default(false),
    /** Seconds a graceful stop waits for the guest before quitting it (default: the guest's stopTimeout). */
    timeout: z.number().int().min(0).max(3600).optional(),
  })
  .strict();

export const WaitQuery = z.object({ timeout: Seconds.default(30) }).strict();
export const EventsQuery = z
  .object({
    guest: GuestName.optional(),
    since: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  })
  .strict();
const Lines = z.coerce.number().int().min(1).max(100_000);
export const DeleteQuery = z.object({ force: z.enum(['true', 'false']).optional() }).strict();
export const LogsQuery = z.object({ lines: Lines.optional() }).strict();
export const ConsoleQuery = z
  .object({
    /** The console log (a plain GET): its last N lines, across its rotated parts. */
    lines: Lines.optional(),
    /** The WebSocket: the last 64 KiB of output first (default true). */
    replay: z.enum(['true', 'false']).optional(),
    /** The WebSocket: as the console's one writer (default true), or a reader only. */
    write: z.enum(['true', 'false']).optional(),
    /** The WebSocket: take over the input from the writer attached now. */
    force: z.enum(['true', 'false']).optional(),
  })
  .strict();

const nullable = (type: string) => ({ type: [type, 'null'] });

/** Where a guest is reached: its DHCP lease (user networking) and its published ports. */
const NET = {
  type: 'object',
  properties: {
    kind: { type: 'string' },
    address: { ...nullable('string'), description: 'the IPv4 address the guest took by DHCP' },
    ports: {
      type: 'array',
      items: { type: 'string' },
      description: 'HOSTADDR:HOSTPORT->GUESTPORT/PROTO',
    },
  },
};

/** Documentation-only JSON Schemas (validation passes them through). */
export const doc = {
  spec: z.toJSONSchema(GuestSpecSchema, { io: 'input', unrepresentable: 'any' }),
  sync: (metadata: object = {}) => ({
    type: 'object',
    properties: {
      type: { const: 'sync' },
      status: { type: 'string' },
      status_code: { type: 'integer' },
      metadata,
    },
  }),
  async: {
    type: 'object',
    properties: {
      type: { const: 'async' },
      status: { type: 'string' },
      status_code: { type: 'integer' },
      operation: { type: 'string', description: '/v1/operations/ID' },
      metadata: { $ref: '#/components/schemas/Operation' },
    },
  },
  error: {
    type: 'object',
    properties: {
      type: { const: 'error' },
      error: { type: 'string' },
      error_code: { type: 'integer' },
    },
  },
  guest: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      state: { enum: [...GUEST_STATES] },
      reason: { type: 'string' },
      spec: { type: 'object' },
      pid: { type: ['integer', 'null'] },
      createdAt: { type: 'string' },
      updatedAt: { type: 'string' },
      status: {
        type: ['object', 'null'],
        description: 'the VMM status: instructions, mips, rssBytes, cpuSeconds, net.address...',
      },
      cpuPercent: {
        type: ['number', 'null'],
        description: "the VMM's CPU use over the daemon's last poll (500 ms), % of one host CPU",
      },
      net: { oneOf: [NET, { type: 'null' }] },
    },
  },
  /** GET /v1/guests/NAME/state: Incus's instance state, with Berth's figures. */
  stats: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      state: { enum: [...GUEST_STATES] },
      reason: { type: 'string' },
      pid: nullable('integer'),
      uptimeSeconds: nullable('number'),
      sampledAt: { ...nullable('string'), description: "when the VMM's status was read" },
      cpu: {
        type: ['object', 'null'],
        properties: {
          seconds: { type: 'number', description: 'CPU time of the VMM process' },
          percent: { ...nullable('number'), description: '% of one host CPU, last poll interval' },
        },
      },
      memory: {
        type: 'object',
        properties: {
          guestBytes: { type: 'integer' },
          rssBytes: nullable('integer'),
          limitBytes: { ...nullable('integer'), description: "the VMM's cgroup limit" },
        },
      },
      guest: {
        type: ['object', 'null'],
        properties: {
          instructions: { type: 'integer' },
          mips: { type: 'number' },
          boots: { type: 'integer' },
        },
      },
      disk: {
        type: 'object',
        description: 'per disk by its name in the guest (vda, vdb...)',
        additionalProperties: {
          type: 'object',
          properties: Object.fromEntries([
            ['path', { type: 'string' }],
            ['readOnly', { type: 'boolean' }],
            ...['bytesRead', 'bytesWritten', 'reads', 'writes', 'flushes', 'errors'].map((k) => [
              k,
              { type: 'integer' },
            ]),
          ]),
        },
      },
      network: {
        type: 'object',
        description: 'per card by its name in the guest (eth0)',
        additionalProperties: {
          ...NET,
          properties: {
            ...NET.properties,
            hwaddr: nullable('string'),
            counters: {
              type: ['object', 'null'],
              description: 'seen from the guest: received is what was delivered to it',
              properties: Object.fromEntries(
                [
                  'bytesReceived',
                  'bytesSent',
                  'packetsReceived',
                  'packetsSent',
                  'packetsDroppedInbound',
                  'packetsDroppedOutbound',
                ].map((k) => [k, { type: 'integer' }]),
              ),
            },
          },
        },
      },
    },
  },
  operation: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      description: { type: 'string' },
      status: { enum: ['Running', 'Success', 'Failure', 'Cancelled'] },
      resources: { type: 'object' },
      mayCancel: { type: 'boolean', description: 'whether DELETE would cancel it now' },
      createdAt: { type: 'string' },
      updatedAt: { type: 'string' },
      err: { type: 'string' },
      metadata: {
        type: ['object', 'null'],
        description: 'what the work reports as it runs (a migration: its statistics)',
      },
    },
  },
};

/** A zod schema or a documentation-only JSON Schema. */
export function isZod(s: unknown): s is z.ZodType {
  return s instanceof z.ZodType;
}

/** A zod error as one line: "field: message". */
export function zodMessage(e: z.ZodError, where: string): string {
  const i = e.issues[0];
  const path = i.path.length > 0 ? i.path.join('.') : where;
  if (i.code === 'unrecognized_keys')
    return `${path === where ? where : path}: unknown field ${i.keys.map((k) => `'${k}'`).join(', ')}`;
  return `${path}: ${i.message}`;
}
