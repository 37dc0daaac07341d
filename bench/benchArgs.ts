// The benchmarks' command-line options: node:util's parseArgs, with the benchmark's usage line
// printed for --help (exit 0), and with the reason for an unknown option, a malformed one or
// a value out of range (exit 2), in place of a stack trace.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface BenchArgs<T extends ParseArgsConfig> {
  values: ReturnType<typeof parseArgs<T>>['values'];
  /** Ends the benchmark with `message` and the usage line (exit 2): a bad option value. */
  fail(message: string): never;
}

/** Parses process.argv by `config`; `usage` is e.g. "npm run bench:cpu [-- --rounds 3]". */
export function benchArgs<T extends ParseArgsConfig>(usage: string, config: T): BenchArgs<T> {
  const fail = (message: string): never => {
    console.error(`${message}\nusage: ${usage}`);
    process.exit(2);
  };
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: ${usage}`);
    process.exit(0);
  }
  try {
    return { values: parseArgs(config).values, fail };
  } catch (e) {
    return fail((e as Error).message);
  }
}
