// What the daemon commands beyond the guest ones share (berth snapshot, clone, migrate): the
// options that say where the daemon is, the client they give, and one way to run a command
// with its help and exit statuses (0 done, 1 refused or failed, 2 bad usage, 3 no daemon).

import { ApiClient, ApiError, defaultSocket, UnreachableError } from '../host/apiClient.js';
import { RemoteError, remoteTarget } from '../host/remoteTarget.js';

export class UsageError extends Error {}

export const DAEMON_OPTIONS = {
  socket: { type: 'string' },
  remote: { type: 'string' },
  'token-file': { type: 'string' },
  fingerprint: { type: 'string' },
} as const;

export function apiOf(values: {
  socket?: string;
  remote?: string;
  'token-file'?: string;
  fingerprint?: string;
}): ApiClient {
  return new ApiClient(
    values.socket ?? defaultSocket(),
    remoteTarget({
      remote: values.remote,
      tokenFile: values['token-file'],
      fingerprint: values.fingerprint,
    }),
  );
}

export async function command(
  name: string,
  help: string,
  body: (args: string[]) => Promise<number>,
  args: string[],
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  try {
    return await body(args);
  } catch (e) {
    process.stderr.write(`berth ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof UnreachableError || e instanceof RemoteError) return 3;
    if (e instanceof ApiError) return 1;
    return 2;
  }
}
