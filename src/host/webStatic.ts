// The web console's built assets (dist/web, made by `npm run build` from src/web/ with Vite),
// served at / on the TCP API: index.html (the login page, then the console) and /assets/*.
// Without a build the page says how to make one.

import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/web, from dist/src/host/. */
export const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

export async function webStatic(app: FastifyInstance, root = WEB_ROOT): Promise<void> {
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`the web console is not built (no ${root}/index.html): run npm run build`),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    // Hashed asset names change with their content; the page itself is checked each time.
    setHeaders: (res, path) => {
      res.setHeader(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('x-frame-options', 'DENY');
    },
  });
}
