// Browser sessions on the TCP API (the web console, src/web/). A browser cannot send the bearer
// token on its own, so POST /web/login exchanges the token for a session cookie: random, Secure,
// HttpOnly, SameSite=Strict, with a Max-Age and an expiry the daemon keeps too. Each session has
// a CSRF token, given to the page in the login answer (and by GET /web/session): every unsafe
// method (not GET, HEAD, OPTIONS) under a session must carry it in the X-Berth-CSRF header.
// WebSocket upgrades (console, events) are refused when their Origin is not the daemon's own.
// The login page and its static assets are the only things served without a token or session.
// Sessions live in the daemon's memory: a restart logs browsers out.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-berth-csrf';
/** Default lifetime of a session: a working day. */
export const DEFAULT_SESSION_MS = 8 * 3600_000;

interface Session {
  csrf: string;
  expires: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LoginBody = z.object({ token: z.string().min(1, 'give the token').max(1024) }).strict();

/** Equal strings, compared in constant time (of their hashes). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Paths served without a token: the console's page and its assets (GET only). */
function isPublic(method: string, path: string): boolean {
  if (method === 'POST') return path === '/web/login';
  if (method !== 'GET' && method !== 'HEAD') return false;
  // Vite's assets: flat hashed names (no '..', no encoded characters).
  return path === '/' || path === '/index.html' || /^\/assets\/[\w-]+(\.[\w-]+)+$/.test(path);
}

/** The request's Origin is the daemon's own (https://HOST as the browser addressed it). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser (browsers always send it on WebSockets)
  return origin === `https://${req.headers.host ?? ''}`;
}

export interface Refusal {
  status: number;
  message: string;
}

export class WebSessions {
  private sessions = new Map<string, Session>();

  constructor(
    private token: string,
    readonly ttlMs = DEFAULT_SESSION_MS,
    private now: () => number = Date.now,
  ) {}

  /** A new session for the right token; null for a wrong one. */
  login(token: string): { id: string; csrf: string; expires: number } | null {
    if (!sameSecret(token, this.token)) return null;
    this.sweep();
    const s = { csrf: randomBytes(24).toString('hex'), expires: this.now() + this.ttlMs };
    const id = randomBytes(32).toString('hex');
    this.sessions.set(id, s);
    return { id, ...s };
  }

  logout(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }

  /** The live session of this id (an expired one is forgotten). */
  session(id: string | undefined): Session | null {
    if (id === undefined) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  /** A WebSocket upgrade from a page of another origin: refused, token or not. */
  foreignWebSocket(req: FastifyRequest): Refusal | null {
    const isWs = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (!isWs || sameOrigin(req)) return null;
    return { status: 403, message: `WebSocket from another origin (${req.headers.origin})` };
  }

  /** Why a request without the bearer token is refused, or null when it may pass. */
  check(req: FastifyRequest): Refusal | null {
    const path = req.url.split('?')[0];
    const foreign = this.foreignWebSocket(req);
    if (foreign) return foreign;
    if (isPublic(req.method, path)) {
      if (req.method === 'POST' && !sameOrigin(req)) {
        return { status: 403, message: `login from another origin (${req.headers.origin})` };
      }
      return null;
    }
    const s = this.session(req.cookies?.[SESSION_COOKIE]);
    if (!s) {
      return {
        status: 401,
        message:
          "send the daemon's token: Authorization: Bearer TOKEN (from its token file), or log " +
          'in at / (no session, or it expired)',
      };
    }
    if (!SAFE_METHODS.has(req.method) && !sameSecret(String(req.headers[CSRF_HEADER]), s.csrf)) {
      return { status: 403, message: `a session's ${req.method} needs the ${CSRF_HEADER} header` };
    }
    return null;
  }

  /** Forgets expired sessions. */
  sweep(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= t) this.sessions.delete(id);
  }
}

/** Registers the cookie parser and /web/login, /web/logout, /web/session. */
export async function webSessionRoutes(app: FastifyInstance, web: WebSessions): Promise<void> {
  await app.register(cookie);
  const cookieOpts = (maxAge: number) =>
    ({
      path: '/',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      maxAge,
    }) as const;

  app.post(
    '/web/login',
    { schema: { summary: 'exchange the token for a session cookie', body: LoginBody } },
    async (req, reply: FastifyReply) => {
      const s = web.login((req.body as z.output<typeof LoginBody>).token);
      if (!s) {
        return reply.code(401).send({
          type: 'error',
          error: "wrong token: give the one in the daemon's token file",
          error_code: 401,
        });
      }
      void reply.setCookie(SESSION_COOKIE, s.id, cookieOpts(Math.floor(web.ttlMs / 1000)));
      return { csrf: s.csrf, expires: new Date(s.expires).toISOString() };
    },
  );

  app.get('/web/session', { schema: { summary: "this browser's session" } }, async (req) => {
    const s = web.session(req.cookies[SESSION_COOKIE]);
    // The hook let the request through, so it has a session or the bearer token.
    return s
      ? { csrf: s.csrf, expires: new Date(s.expires).toISOString() }
      : { csrf: null, expires: null };
  });

  app.post('/web/logout', { schema: { summary: 'end the session' } }, async (req, reply) => {
    web.logout(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, cookieOpts(0));
    return {};
  });
}
