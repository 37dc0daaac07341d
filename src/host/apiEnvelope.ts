// The API's answer envelopes, as Incus shapes them: {type: 'sync', metadata} for a result, and
// {type: 'async', operation} with 202 for an action that goes on as an operation.

import type { FastifyReply } from 'fastify';
import type { Operation } from './operations.js';

export const sync = (metadata: unknown, code = 200) => ({
  type: 'sync',
  status: 'Success',
  status_code: code,
  metadata,
});

export function accepted(reply: FastifyReply, op: Operation): unknown {
  reply.code(202);
  return {
    type: 'async',
    status: 'Operation created',
    status_code: 100,
    operation: `/v1/operations/${op.id}`,
    metadata: op,
  };
}
