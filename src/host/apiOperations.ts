// The operations routes: GET /v1/operations, GET /v1/operations/ID, GET
// /v1/operations/ID/wait?timeout=S (answers when it ends, or as it is after S seconds) and
// DELETE /v1/operations/ID (cancels it where its action allows that now; operations.ts and
// supervisor.ts say what a cancel means for each action).

import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { sync } from './apiEnvelope.js';
import { doc, OperationParams, WaitQuery } from './apiSchemas.js';
import { notFound } from './errors.js';
import type { Operations } from './operations.js';

export function operationRoutes(app: FastifyInstance, operations: Operations): void {
  const errors = { 400: doc.error, 404: doc.error, 409: doc.error };
  const idOf = (params: unknown): string => (params as z.output<typeof OperationParams>).id;

  app.get(
    '/v1/operations',
    { schema: { response: { 200: doc.sync({ type: 'array', items: doc.operation }) } } },
    async () => sync(operations.list()),
  );

  app.get(
    '/v1/operations/:id',
    { schema: { params: OperationParams, response: { 200: doc.sync(doc.operation), ...errors } } },
    async (req) => {
      const op = operations.get(idOf(req.params));
      if (!op) throw notFound('no such operation');
      return sync(op);
    },
  );

  app.delete(
    '/v1/operations/:id',
    {
      schema: {
        summary:
          'cancels a running operation where its action allows it now (409 when it has ended ' +
          'or cannot be cancelled); answers with the operation once its work has ended',
        params: OperationParams,
        response: { 200: doc.sync(doc.operation), ...errors },
      },
    },
    async (req) => sync(await operations.cancel(idOf(req.params))),
  );

  app.get(
    '/v1/operations/:id/wait',
    {
      schema: {
        summary: 'waits for the operation to end (timeout seconds, default 30)',
        params: OperationParams,
        querystring: WaitQuery,
        response: { 200: doc.sync(doc.operation), ...errors },
      },
    },
    async (req) => {
      const { timeout } = req.query as z.output<typeof WaitQuery>;
      const op = await operations.wait(idOf(req.params), timeout * 1000);
      if (!op) throw notFound('no such operation');
      return sync(op);
    },
  );
}
