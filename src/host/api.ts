// The daemon's REST API (fastify), shaped like Incus's: /v1/guests, /v1/guests/NAME,
// GET /v1/guests/NAME/state (figures), PUT /v1/guests/NAME/state {action, force, timeout},
// /v1/operations/ID[/wait] and DELETE to cancel (apiOperations.ts), snapshots under
// /v1/guests/NAME/snapshots (apiSnapshots.ts), migrations (apiMigrations.ts), /v1/events
// (JSON, or a WebSocket of new events), /v1/guests/NAME/console (the console log, or a
// WebSocket carrying the console), /v1/openapi.json and Prometheus text at /metrics. Answers
// are Incus envelopes: {type: 'sync', metadata}, {type: 'async', operation} with 202,
// {type: 'error', error, error_code} with a 4xx/5xx status. Routes validate with zod; nothing
// changes on bad input.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger, { type SwaggerOptions } from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  ConsoleQuery,
  DeleteQuery,
  doc,
  EventsQuery,
  isZod,
  LogsQuery,
  NameParams,
  StateAction,
  zodMessage,
} from './apiSchemas.js';
import { accepted, sync } from './apiEnvelope.js';
import { operationRoutes } from './apiOperations.js';
import { migrationRoutes } from './apiMigrations.js';
import { snapshotRoutes } from './apiSnapshots.js';
import { HostError } from './errors.js';
import { attachConsole, streamEvents } from './apiStreams.js';
import { consoleLogTail } from './consoleLogTail.js';
import { Metrics } from './metrics.js';
import type { Supervisor } from './supervisor.js';
import type { FigureHistory } from './figureHistory.js';
import { sameSecret } from './webSessions.js';
import { webAccess, webDataRoutes } from './apiWeb.js';

export const API_VERSION = '1.0';

/** Maps any error to the API's error envelope and status. */
function errorBody(e: FastifyError | HostError | Error): { status: number; message: string } {
  if (e instanceof HostError) return { status: e.status, message: e.message };
  const fe = e as FastifyError;
  if (fe.validation) return { status: 400, message: fe.message };
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, message: `send JSON (Content-Type: application/json): ${fe.message}` };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, message: fe.message };
  }
  return { status: 500, message: `internal error: ${e.message}` };
}

export interface ApiOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  https?: { key: Buffer; cert: Buffer };
  /** Refuse (401) every request without `Authorization: Bearer TOKEN`. */
  token?: string;
  /** With a token: how long a web console session lasts (default 8 h). */
  sessionTtlMs?: number;
  /** The figures' history (one for the daemon's listeners); else the API keeps its own. */
  history?: FigureHistory;
}

/** True when the request's Authorization header carries `token` (compared in constant time). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  return sameSecret(m[1], token);
}

export async function buildApi(sup: Supervisor, opts: ApiOptions = {}): Promise<FastifyInstance> {
  const base = { logger: false, bodyLimit: 1024 * 1024 };
  // An HTTPS instance has another server type; routes and hooks are the same.
  const app = (
    opts.https ? Fastify({ ...base, https: opts.https }) : Fastify(base)
  ) as FastifyInstance;
  const token = opts.token;
  // zod schemas validate; JSON Schemas (documentation only) pass the data through.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (!isZod(schema)) return (data) => ({ value: data });
    return (data) => {
      const r = schema.safeParse(data);
      if (r.success) return { value: r.data };
      const where = httpPart === 'body' ? 'body' : httpPart === 'params' ? 'path' : 'query';
      const err = new Error(zodMessage(r.error, where)) as FastifyError;
      return { error: err };
    };
  });
  app.removeContentTypeParser('text/plain'); // JSON only: anything else is a 415
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setSchemaErrorFormatter((errors) => {
    const e = new Error(errors[0]?.message ?? 'bad request');
    return e;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Berth host API', version: API_VERSION },
      components: {
        schemas: { Operation: doc.operation, Guest: doc.guest, GuestState: doc.stats },
      },
    },
    transform: ({ schema, url }) => {
      if (!schema) return { schema, url };
      const out: Record<string, unknown> = { ...schema };
      for (const part of ['params', 'querystring', 'body'] as const) {
        const s = (schema as Record<string, unknown>)[part];
        if (isZod(s)) out[part] = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
      }
      return { schema: out as typeof schema, url };
    },
  } as SwaggerOptions);
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  app.setErrorHandler((e, _req, reply) => {
    const { status, message } = errorBody(e as Error);
    void reply.code(status).send({ type: 'error', error: message, error_code: status });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      type: 'error',
      error: `no such resource: ${req.method} ${req.url.split('?')[0]}`,
      error_code: 404,
    });
  });

  if (token !== undefined) {
    await webAccess(app, token, opts.sessionTtlMs, (h) => bearerMatches(h, token));
  }

  const errors = { 400: doc.error, 404: doc.error, 409: doc.error };

  app.get('/v1', { schema: { response: { 200: doc.sync() } } }, async () =>
    sync({ api_version: API_VERSION, guests: '/v1/guests', openapi: '/v1/openapi.json' }),
  );

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/v1/guests',
    {
      schema: {
        summary: 'all guests',
        response: { 200: doc.sync({ type: 'array', items: doc.guest }) },
      },
    },
    async () => sync(sup.list()),
  );

  app.post(
    '/v1/guests',
    {
      schema: {
        summary: 'create a guest (stopped)',
        body: doc.spec,
        response: { 201: doc.sync(doc.guest), ...errors },
      },
    },
    async (req, reply) => {
      const g = sup.create(req.body);
      reply.code(201);
      return sync(g, 201);
    },
  );

  app.get(
    '/v1/guests/:name',
    { schema: { params: NameParams, response: { 200: doc.sync(doc.guest), ...errors } } },
    async (req) => sync(sup.get((req.params as z.output<typeof NameParams>).name)),
  );

  app.delete(
    '/v1/guests/:name',
    {
      schema: {
        summary:
          'delete a stopped guest; one with snapshots or disk layers (its writes since its ' +
          'first snapshot) only with force=true, which deletes them too',
        params: NameParams,
        querystring: DeleteQuery,
        response: { 200: doc.sync(), ...errors },
      },
    },
    async (req) => {
      const force = (req.query as z.output<typeof DeleteQuery>).force === 'true';
      sup.delete((req.params as z.output<typeof NameParams>).name, { force });
      return sync({});
    },
  );

  app.get(
    '/v1/guests/:name/state',
    {
      schema: {
        summary: "the guest's state and figures: CPU, memory, disks, network (berth stats)",
        params: NameParams,
        response: { 200: doc.sync(doc.stats), ...errors },
      },
    },
    async (req) => sync(sup.stats((req.params as z.output<typeof NameParams>).name)),
  );

  app.put(
    '/v1/guests/:name/state',
    {
      schema: {
        summary: 'start, stop, restart (202, an operation), pause or resume (200)',
        params: NameParams,
        body: StateAction,
        response: { 200: doc.sync(doc.guest), 202: doc.async, ...errors, 507: doc.error },
      },
    },
    async (req, reply) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const a = req.body as z.output<typeof StateAction>;
      if (
        (a.action === 'pause' || a.action === 'resume' || a.action === 'start') &&
        a.timeout !== undefined
      ) {
        throw new HostError(400, `body.timeout: only stop and restart take a timeout`);
      }
      switch (a.action) {
        case 'start':
          return accepted(reply, sup.start(name));
        case 'stop':
          return accepted(reply, sup.stop(name, { force: a.force, timeout: a.timeout }));
        case 'restart':
          return accepted(reply, sup.restart(name, { force: a.force, timeout: a.timeout }));
        case 'pause':
          return sync(await sup.pause(name));
        case 'resume':
          return sync(await sup.resume(name));
      }
    },
  );

  app.get(
    '/v1/guests/:name/logs',
    {
      schema: {
        summary: "the VMM's own output (stdout and stderr)",
        params: NameParams,
        querystring: LogsQuery,
      },
    },
    async (req, reply) => {
      const path = sup.logPath((req.params as z.output<typeof NameParams>).name);
      const { lines } = req.query as z.output<typeof LogsQuery>;
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        text = '';
      }
      if (lines !== undefined)
        text = text
          .split('\n')
          .slice(-lines - 1)
          .join('\n');
      void reply.type('text/plain; charset=utf-8');
      return text;
    },
  );

  app.route({
    method: 'GET',
    url: '/v1/guests/:name/console',
    schema: {
      summary: 'the guest console: its log, or (as a WebSocket) the console itself',
      description:
        "A plain GET answers with the guest's console log, kept on disk by its VMM whether it " +
        'runs or not (application/octet-stream, the bytes as the guest wrote them, oldest ' +
        'first, across the rotated parts; `lines=N`: the last N lines), as GET ' +
        '/1.0/instances/NAME/console does in Incus. With an Upgrade request it is a WebSocket ' +
        "carrying the running guest's console, raw bytes both ways, the last 64 KiB of output " +
        'first unless `replay=false`. Any number of readers, one writer: while one client ' +
        'writes, another is refused (closed with code 4009) unless it attaches with ' +
        '`write=false` (its input ignored) or `force=true` (it takes the input over).',
      params: NameParams,
      querystring: ConsoleQuery,
    },
    preHandler: async (req) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const q = req.query as z.output<typeof ConsoleQuery>;
      if (req.ws) {
        if (q.lines !== undefined) {
          throw new HostError(400, 'lines: only the console log (a plain GET) takes lines');
        }
        sup.controlSocketOf(name);
      } else if (q.replay !== undefined || q.write !== undefined || q.force !== undefined) {
        throw new HostError(400, 'replay, write, force: only the WebSocket console takes them');
      }
    },
    handler: async (req, reply) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const { lines } = req.query as z.output<typeof ConsoleQuery>;
      const log = consoleLogTail(sup.consoleLogPath(name), lines);
      void reply.type('application/octet-stream');
      return log;
    },
    wsHandler: (ws, req) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const q = req.query as z.output<typeof ConsoleQuery>;
      attachConsole(ws, sup.controlSocketOf(name), {
        replay: q.replay !== 'false',
        write: q.write !== 'false',
        force: q.force === 'true',
      });
    },
  });

  operationRoutes(app, sup.operations);
  snapshotRoutes(app, sup.snapshots, sup.clones);
  migrationRoutes(app, sup.migrations, sup);

  app.route({
    method: 'GET',
    url: '/v1/events',
    schema: {
      summary: 'lifecycle events (JSON); as a WebSocket, each new event as it happens',
      querystring: EventsQuery,
    },
    handler: async (req) => sync(sup.store.listEvents(req.query as z.output<typeof EventsQuery>)),
    wsHandler: (ws, req) => streamEvents(ws, sup.store, req.query as z.output<typeof EventsQuery>),
  });

  webDataRoutes(app, sup, opts.history);

  const metrics = new Metrics(sup);
  app.get('/metrics', { schema: { summary: 'Prometheus text' } }, async (_req, reply) => {
    void reply.type(metrics.contentType);
    return metrics.text();
  });

  return app;
}
