// The host layer's one error type: a message for the user and the HTTP status the API answers
// with (400 bad input, 404 unknown, 409 wrong state, 507 not enough host memory, 500 ours).

export class HostError extends Error {
  override readonly name = 'HostError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (m: string): HostError => new HostError(400, m);
export const notFound = (m: string): HostError => new HostError(404, m);
export const conflict = (m: string): HostError => new HostError(409, m);
