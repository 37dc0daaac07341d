// The daemon's public API as the page uses it: same-origin fetches carrying the session cookie
// and, on unsafe methods, the session's CSRF token; errors as the API words them.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
let onLoggedOut: () => void = () => {};

export function setCsrf(token: string | null): void {
  csrf = token;
}

export function whenLoggedOut(f: () => void): void {
  onLoggedOut = f;
}

// The API's answers are JSON of many shapes; views read them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Calls the API; resolves to the whole JSON answer, or throws ApiError with its message. */
export async function call(method: string, path: string, body?: unknown): Promise<Json> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['x-berth-csrf'] = csrf;
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, `the daemon did not answer: ${(e as Error).message}`);
  }
  const json = await r.json().catch(() => null);
  if (!r.ok) {
    if (r.status === 401 && path !== '/web/login') onLoggedOut();
    throw new ApiError(r.status, json?.error ?? `${r.status} ${r.statusText}`);
  }
  return json;
}

/** The metadata of a sync answer. */
export const get = async (path: string): Promise<Json> => (await call('GET', path)).metadata;

/** A WebSocket on the API, same origin (the session cookie goes with it). */
export function socket(path: string): WebSocket {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new WebSocket(`${proto}//${location.host}${path}`);
}

/** Waits for an operation to end, reporting each state; resolves to its last state. */
export async function follow(opPath: string, each: (op: Json) => void): Promise<Json> {
  for (;;) {
    const op = await get(`${opPath}/wait?timeout=1`).catch(async (e: ApiError) => {
      if (e.status === 408 || e.status === 504) return get(opPath);
      throw e;
    });
    each(op);
    if (op.status !== 'Running') return op;
  }
}
