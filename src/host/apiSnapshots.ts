// The snapshot routes: GET/POST /v1/guests/NAME/snapshots (list; take one: 202, an operation),
// GET/DELETE /v1/guests/NAME/snapshots/SNAP and POST /v1/guests/NAME/snapshots/SNAP/restore
// (202, an operation), and POST /v1/guests/NAME/clone {name, forwards} (202, an operation).
// snapshots.ts and clones.ts say what each does.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { accepted, sync } from './apiEnvelope.js';
import { doc, NameParams } from './apiSchemas.js';
import { GuestName } from './guestSpec.js';
import type { Clones } from './clones.js';
import type { Snapshots } from './snapshots.js';

const SnapshotParams = z.object({ name: GuestName, snapshot: GuestName }).strict();
const SnapshotBody = z.object({ name: GuestName }).strict();

const snapshotDoc = {
  type: 'object',
  properties: {
    guest: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'string' },
    stateful: { type: 'boolean', description: 'the machine was saved too (the guest ran)' },
    bytes: { type: 'integer', description: 'size of the machine file' },
    disks: { type: 'array', items: { type: 'string' }, description: 'the frozen disk images' },
    file: { type: ['string', 'null'], description: 'the machine file' },
  },
};

const CloneBody = z
  .object({ name: GuestName, forwards: z.array(z.unknown()).max(64).optional() })
  .strict();

export function snapshotRoutes(app: FastifyInstance, snapshots: Snapshots, clones: Clones): void {
  const errors = { 400: doc.error, 404: doc.error, 409: doc.error };
  type Params = z.output<typeof SnapshotParams>;

  app.get(
    '/v1/guests/:name/snapshots',
    {
      schema: {
        summary: "the guest's snapshots, oldest first",
        params: NameParams,
        response: { 200: doc.sync({ type: 'array', items: snapshotDoc }), ...errors },
      },
    },
    async (req) => sync(snapshots.list((req.params as z.output<typeof NameParams>).name)),
  );

  app.post(
    '/v1/guests/:name/snapshots',
    {
      schema: {
        summary:
          'take a snapshot: of the machine and its disks while the guest runs (it pauses ' +
          'meanwhile), of its disks alone while it is stopped',
        params: NameParams,
        body: SnapshotBody,
        response: { 202: doc.async, ...errors },
      },
    },
    async (req, reply) => {
      const { name } = req.params as z.output<typeof NameParams>;
      return accepted(
        reply,
        snapshots.create(name, (req.body as z.output<typeof SnapshotBody>).name),
      );
    },
  );

  app.get(
    '/v1/guests/:name/snapshots/:snapshot',
    { schema: { params: SnapshotParams, response: { 200: doc.sync(snapshotDoc), ...errors } } },
    async (req) => {
      const p = req.params as Params;
      return sync(snapshots.get(p.name, p.snapshot));
    },
  );

  app.delete(
    '/v1/guests/:name/snapshots/:snapshot',
    {
      schema: {
        summary: 'delete a snapshot (disk layers only it kept are deleted)',
        params: SnapshotParams,
        response: { 200: doc.sync(), ...errors },
      },
    },
    async (req) => {
      const p = req.params as Params;
      snapshots.delete(p.name, p.snapshot);
      return sync({});
    },
  );

  app.post(
    '/v1/guests/:name/snapshots/:snapshot/restore',
    {
      schema: {
        summary:
          'restore a snapshot: the guest is stopped (forced), its disks go back to the ' +
          "snapshot's, and it runs on from the snapshot's machine (a disk-only snapshot: " +
          'it boots afresh if it ran)',
        params: SnapshotParams,
        response: { 202: doc.async, ...errors },
      },
    },
    async (req, reply) => {
      const p = req.params as Params;
      return accepted(reply, snapshots.restore(p.name, p.snapshot));
    },
  );

  app.post(
    '/v1/guests/:name/clone',
    {
      schema: {
        summary:
          'a new guest from this one: its machine and disks at one instant (it pauses ' +
          'meanwhile), run on without booting, with copy-on-write disks and a network card ' +
          'of its own (a new MAC; published ports only as given in forwards)',
        params: NameParams,
        body: CloneBody,
        response: { 202: doc.async, ...errors },
      },
    },
    async (req, reply) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const b = req.body as z.output<typeof CloneBody>;
      return accepted(reply, clones.clone(name, b.name, { forwards: b.forwards }));
    },
  );
}
