// What the API adds for the web console (src/web/): on the TCP listener, the access hook (the
// bearer token, or a browser session with its CSRF header; WebSockets only from the daemon's
// own origin), the session routes and the page's static files; on both listeners, the guest
// spec's JSON Schema (the create form), the last hour of a guest's figures (the charts) and the
// window size of a virtio console (the terminal's size, PUT /v1/guests/NAME/console).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { controlRequest } from '../vmm/controlClient.js';
import { HostError } from './errors.js';
import { sync } from './apiEnvelope.js';
import { doc, NameParams } from './apiSchemas.js';
import { FigureHistory } from './figureHistory.js';
import type { Supervisor } from './supervisor.js';
import { WebSessions, webSessionRoutes } from './webSessions.js';
import { webStatic } from './webStatic.js';

/** The TCP listener's access hook, session routes and the console's page. */
export async function webAccess(
  app: FastifyInstance,
  token: string,
  sessionTtlMs: number | undefined,
  bearerMatches: (header: string | undefined) => boolean,
): Promise<void> {
  const web = new WebSessions(token, sessionTtlMs);
  await webSessionRoutes(app, web);
  app.addHook('onRequest', async (req, reply) => {
    const refusal = bearerMatches(req.headers.authorization)
      ? web.foreignWebSocket(req)
      : web.check(req);
    if (!refusal) return;
    if (refusal.status === 401) void reply.header('www-authenticate', 'Bearer');
    await reply
      .code(refusal.status)
      .send({ type: 'error', error: refusal.message, error_code: refusal.status });
  });
  await webStatic(app);
}

const ConsoleSize = z
  .object({
    cols: z.number().int().min(1).max(65535),
    rows: z.number().int().min(1).max(65535),
  })
  .strict();

/** GET /v1/schemas/guest-spec, GET /v1/guests/NAME/history, PUT /v1/guests/NAME/console. */
export function webDataRoutes(
  app: FastifyInstance,
  sup: Supervisor,
  shared: FigureHistory | undefined,
): void {
  const errors = { 400: doc.error, 404: doc.error };
  app.get(
    '/v1/schemas/guest-spec',
    {
      schema: {
        summary:
          'the JSON Schema (2020-12) of a guest spec, made from the zod schema the daemon ' +
          'validates with (the web console builds and checks its create form with it)',
      },
    },
    async () => sync(doc.spec),
  );

  const history = shared ?? new FigureHistory(sup).start();
  if (!shared) app.addHook('onClose', async () => history.close());
  app.get(
    '/v1/guests/:name/history',
    {
      schema: {
        summary:
          "the last hour of the guest's figures, sampled every 5 s (the web console's charts)",
        params: NameParams,
        response: { 200: doc.sync(), ...errors },
      },
    },
    async (req) => {
      const { name } = req.params as z.output<typeof NameParams>;
      sup.get(name); // 404 for no such guest
      return sync({ intervalMs: history.intervalMs, samples: history.samples(name) });
    },
  );

  app.put(
    '/v1/guests/:name/console',
    {
      schema: {
        summary:
          "the console's window size {cols, rows}, for a guest whose console is virtio (hvc0); " +
          'the serial console (ttyS0) carries none (409: set it with stty in the guest)',
        params: NameParams,
        body: ConsoleSize,
        response: { 200: doc.sync(), ...errors, 409: doc.error },
      },
    },
    async (req) => {
      const { name } = req.params as z.output<typeof NameParams>;
      const { cols, rows } = req.body as z.output<typeof ConsoleSize>;
      const sock = sup.controlSocketOf(name);
      try {
        return sync(await controlRequest(sock, { cmd: 'resize', cols, rows }, 5000));
      } catch (e) {
        throw new HostError(409, `${name}: ${(e as Error).message}`);
      }
    },
  );
}
