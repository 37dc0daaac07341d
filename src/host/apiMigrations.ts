// The migration routes: POST /v1/guests/NAME/migrate {url, token, fingerprint, downtimeMs,
// maxBandwidth, timeoutS} moves a running guest to another host's daemon (202, an operation
// whose metadata are the migration's statistics), and POST /v1/migrations/incoming {spec} is
// what the source daemon asks of the destination: take this guest, and say on which port its
// VMM waits for the stream (201); POST /v1/host/drain {url, ...} migrates every running guest
// (202). migrations.ts and Supervisor.takeIncoming say what each does.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { accepted, sync } from './apiEnvelope.js';
import { CopiedDisks } from './copyStorage.js';
import { badRequest } from './errors.js';
import { doc, NameParams } from './apiSchemas.js';
import type { Migrations } from './migrations.js';
import type { Supervisor } from './supervisor.js';

const MigrateBody = z
  .object({
    url: z.string().min(1).max(2048),
    token: z.string().min(1).max(4096),
    fingerprint: z.string().min(1).max(200),
    downtimeMs: z.number().int().min(1).max(600_000).optional(),
    maxBandwidth: z.number().int().min(4096).nullable().optional(),
    timeoutS: z.number().int().min(1).max(86_400).optional(),
    copyStorage: z.boolean().optional(),
  })
  .strict();

const IncomingBody = z
  .object({
    spec: z.record(z.string(), z.unknown()),
    /** With the storage: each disk's size and format (null: read-only, at the same path here). */
    copyStorage: z.boolean().optional(),
    disks: CopiedDisks.optional(),
  })
  .strict();

export function migrationRoutes(
  app: FastifyInstance,
  migrations: Migrations,
  sup: Supervisor,
): void {
  const errors = { 400: doc.error, 404: doc.error, 409: doc.error };

  app.post(
    '/v1/guests/:name/migrate',
    {
      schema: {
        summary:
          "live-migrate a running guest to another host's daemon (its https://HOST:PORT, " +
          'token and certificate fingerprint); disks must be files both hosts reach at the ' +
          'same paths, or, with copyStorage, writable disks are copied while the guest runs',
        params: NameParams,
        body: MigrateBody,
        response: { 202: doc.async, ...errors },
      },
    },
    async (req, reply) => {
      const { name } = req.params as z.output<typeof NameParams>;
      return accepted(reply, migrations.migrate(name, req.body as z.output<typeof MigrateBody>));
    },
  );

  app.post(
    '/v1/host/drain',
    {
      schema: {
        summary:
          "migrate every running guest to another host's daemon, one after the other; the " +
          'host starts no guest meanwhile (maintenance)',
        body: MigrateBody,
        response: { 202: doc.async, ...errors },
      },
    },
    async (req, reply) =>
      accepted(reply, migrations.drain(req.body as z.output<typeof MigrateBody>)),
  );

  app.post(
    '/v1/migrations/incoming',
    {
      schema: {
        summary:
          'for a source daemon: take the guest of this spec, migrating in; answers the port on ' +
          'which its VMM waits for the stream, on the address this request came to; with ' +
          'copyStorage, new disks of the sizes and formats in disks are made here for the stream',
        body: IncomingBody,
        response: {
          201: doc.sync({
            type: 'object',
            properties: {
              name: { type: 'string' },
              port: { type: 'integer' },
              token: { type: ['string', 'null'], description: "the stream's one-time token" },
            },
          }),
          ...errors,
          507: doc.error,
        },
      },
    },
    async (req, reply) => {
      // Over TCP, the address the source reached this daemon at; over the UNIX socket, loopback.
      const host = req.socket.localAddress?.replace(/^::ffff:/, '') || '127.0.0.1';
      const body = req.body as z.output<typeof IncomingBody>;
      if ((body.copyStorage === true) !== (body.disks !== undefined)) {
        throw badRequest("copyStorage: true comes with disks (each disk's size and format)");
      }
      const taken = await sup.takeIncoming(body.spec, host, body.disks ?? null);
      void reply.code(201);
      return sync(taken);
    },
  );
}
