// The Node.js options a process that runs a guest starts with: the `berth` command's own
// first line (#!/usr/bin/env -S node ...), the daemon's VMM processes (host/launcher.ts) and
// the test and benchmark sessions all pass these.
//
// --max-semi-space-size=1: V8's young generation grows to two 16 MiB semi-spaces by default,
// and a VMM's allocations (device buffers, promises, log lines) soon fill them; they stay
// committed while the guest idles. Capped at 1 MiB, a booted 256 MiB guest idle at its
// busybox prompt held 196 MiB resident instead of 222 MiB, and boot, gzip, sed | awk, the ash
// loop and /bin/true in `bench:cpu`'s guest took the same time within their run-to-run spread
// (the machine's hot paths allocate next to nothing).

export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
