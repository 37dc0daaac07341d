// The guest workloads of bench/cpu.ts: shell commands for the busybox initramfs (its applets
// only), each with the inputs it needs made beforehand in /tmp/w (rootfs, in the guest's RAM)
// and what its output must contain for the run to count. The first six are the table of issue
// 11; the others are of the same kinds (hashing, compression, text, short processes, a
// build-like mix).
//
// Inputs are text the host can reproduce, so that the expected checksums are constants: TEXT
// is `seq 20000` repeated, cut to a size (the host's `yes "$(seq 20000)" | head -c N`). Busybox's
// seq is slow for large counts (seq 500000 took 27 s on QEMU here), so the text is made by
// doubling a small file. The checksums below were computed on the host with GNU coreutils,
// sed and mawk from the commands in each comment.

import type { ConsoleSession } from '../test/integration/session.js';

export interface Workload {
  name: string;
  label: string;
  /** Makes the inputs in /tmp/w (created empty before, removed after); not timed. */
  setup?: string;
  /** The timed command. */
  run: string;
  /** Run after the timed command, not timed; its output is checked with the run's. */
  check?: string;
  /** What the run's and the check's output together must contain. */
  expect: RegExp;
}

const SEQ_BYTES = 108_894; // `seq 20000 | wc -c`

/** Shell that writes the first `bytes` bytes of `seq 20000` repeated to `file`. */
function text(bytes: number, file: string): string {
  let doublings = 0;
  while (SEQ_BYTES * 2 ** (doublings + 1) < bytes) doublings++;
  const double = 'cat /tmp/w/s /tmp/w/s > /tmp/w/t && mv /tmp/w/t /tmp/w/s && ';
  return (
    `seq 20000 > /tmp/w/s && ${double.repeat(doublings)}` +
    `cat /tmp/w/s /tmp/w/s | head -c ${bytes} > ${file} && rm /tmp/w/s`
  );
}

const MiB = 1024 * 1024;

export const WORKLOADS: Workload[] = [
  {
    name: 'sha256',
    label: 'sha256sum of a 16 MiB file',
    setup: text(16 * MiB, '/tmp/w/in'),
    run: 'sha256sum /tmp/w/in',
    // yes "$(seq 20000)" | head -c 16777216 | sha256sum
    expect: /^4fb1a9b01e8a39ad7bc8e6506e6e79512a28eec81189054a2be0e0f0c48946c4 /m,
  },
  {
    name: 'sha256-dd',
    label: 'sha256sum of 64 MiB of zeros from dd',
    run: 'dd if=/dev/zero bs=1048576 count=64 2>/dev/null | sha256sum',
    // head -c 67108864 /dev/zero | sha256sum
    expect: /^3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351 /m,
  },
  {
    name: 'gzip',
    label: 'gzip -1 of a 32 MiB file',
    setup: text(32 * MiB, '/tmp/w/in'),
    run: 'gzip -1 -c /tmp/w/in > /tmp/w/in.gz',
    // The round trip gives the input back; the compressed size is for comparing the two guests.
    check: 'gzip -dc /tmp/w/in.gz | md5sum; wc -c < /tmp/w/in.gz',
    // yes "$(seq 20000)" | head -c 33554432 | md5sum
    expect: /^12f06642cea962a56a529d5946c973e8 /m,
  },
  {
    name: 'ash',
    label: 'busybox ash loop, 20,000 arithmetic iterations',
    run:
      'i=0; s=0; while [ $i -lt 20000 ]; do s=$(( (s + i * i) % 1000003 )); i=$((i + 1)); done; ' +
      'echo sum $s',
    // the same loop in the host's bash
    expect: /^sum 670626$/m,
  },
  {
    name: 'sort',
    label: 'sort -rn of 200,000 numbers from seq',
    setup: 'seq 200000 > /tmp/w/in',
    run: 'sort -rn /tmp/w/in > /tmp/w/out',
    check: 'md5sum < /tmp/w/out',
    // seq 200000 | sort -rn | md5sum
    expect: /^e3f5c6d1c219f7b0016239a8cf596c8a /m,
  },
  {
    name: 'true',
    label: '300 runs of /bin/true from a shell loop',
    run: 'i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i + 1)); done; echo runs $i',
    expect: /^runs 300$/m,
  },
  {
    name: 'md5',
    label: 'md5sum of a 32 MiB file',
    setup: text(32 * MiB, '/tmp/w/in'),
    run: 'md5sum /tmp/w/in',
    // yes "$(seq 20000)" | head -c 33554432 | md5sum
    expect: /^12f06642cea962a56a529d5946c973e8 /m,
  },
  {
    name: 'tar',
    label: 'tar.gz round trip: 8 MiB of text, /lib, /etc, busybox',
    setup:
      `mkdir /tmp/w/tree /tmp/w/x && ${text(8 * MiB, '/tmp/w/tree/text')} && ` +
      'cp -a /lib /etc /bin/busybox /tmp/w/tree/ && tar -czf /tmp/w/in.tgz -C /tmp/w tree && ' +
      'rm -r /tmp/w/tree',
    run:
      'gzip -dc /tmp/w/in.tgz | tar -xf - -C /tmp/w/x && ' +
      'tar -cf - -C /tmp/w/x tree | gzip -1 > /tmp/w/out.tgz',
    // The text comes back whole; the count of entries is for comparing the two guests.
    check:
      'gzip -dc /tmp/w/out.tgz | tar -xOf - tree/text | md5sum; ' +
      'gzip -dc /tmp/w/out.tgz | tar -tf - | wc -l',
    // yes "$(seq 20000)" | head -c 8388608 | md5sum
    expect: /^e42168c2e87416758a3bac7c76b41b6e /m,
  },
  {
    name: 'sed-awk',
    label: 'sed | awk over 2 MiB of text (385,000 lines)',
    setup: text(2 * MiB, '/tmp/w/in'),
    run: "sed 's/\\([0-9]\\)\\([0-9]\\)$/\\2\\1/' /tmp/w/in | awk '{ s += $1 % 1000 } END { print \"sum\", s }'",
    // the same sed and awk (mawk) over yes "$(seq 20000)" | head -c 2097152
    expect: /^sum 192666033$/m,
  },
  {
    name: 'sh-c',
    label: '200 runs of sh -c from a shell loop',
    run: "i=0; while [ $i -lt 200 ]; do sh -c 'exit 0'; i=$((i + 1)); done; echo runs $i",
    expect: /^runs 200$/m,
  },
  {
    name: 'build',
    label: 'build-like mix: 40 x (sed | sort | gzip -1) of 20,000 lines',
    setup: 'mkdir /tmp/w/b && seq 20000 > /tmp/w/in',
    run: 'for i in $(seq 40); do sed "s/7/$i/g" /tmp/w/in | sort | gzip -1 > /tmp/w/b/$i.o; done',
    check: 'cat /tmp/w/b/*.o | gzip -dc | md5sum',
    // the same loop on the host (LC_ALL=C sort, the .o files in the shell's glob order)
    expect: /^604c60ad39d71ab11d3cbba198bd3fb8 /m,
  },
];

/**
 * Runs `w` on the guest's console: makes its inputs, times its command (the round trip from
 * the host), checks its output. Returns the seconds, null when the output was wrong (then
 * also told on stderr), and the output.
 */
export async function runWorkload(
  s: ConsoleSession,
  w: Workload,
  timeoutMs: number,
): Promise<[number | null, string]> {
  await s.run(`rm -rf /tmp/w && mkdir /tmp/w${w.setup ? ` && ${w.setup}` : ''}`, timeoutMs);
  const t = performance.now();
  const out = await s.run(w.run, timeoutMs);
  const seconds = (performance.now() - t) / 1000;
  const checked = w.check ? await s.run(w.check, timeoutMs) : '';
  await s.run('rm -rf /tmp/w', timeoutMs);
  const text = (out + checked).trim();
  if (!w.expect.test(text)) {
    process.stderr.write(`${w.name}: expected ${String(w.expect)}, the guest printed:\n${text}\n`);
    return [null, text];
  }
  return [seconds, text];
}
