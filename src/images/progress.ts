// Download progress on stderr: a redrawn bar on a terminal, a plain line every two seconds
// otherwise (logs, CI), built on cli-progress.

import cliProgress from 'cli-progress';

export interface Progress {
  update(bytes: number): void;
  /** Ends the display; `ok` false when the download failed. */
  done(ok?: boolean): void;
}

const MiB = 1024 * 1024;

/** A progress display for one download of `total` bytes, or a silent one. */
export function startProgress(
  label: string,
  total: number,
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!enabled) return { update() {}, done() {} };
  const started = Date.now();
  if (!stream.isTTY) return plainProgress(label, total, stream, started);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      fps: 10,
      hideCursor: true,
      clearOnComplete: false,
      format: (_options, params) => {
        const secs = Math.max((Date.now() - started) / 1000, 0.001);
        const speed = params.value / MiB / secs;
        const amount = `${(params.value / MiB).toFixed(1)}/${(params.total / MiB).toFixed(1)} MiB`;
        const pct = `${Math.floor((params.value / Math.max(params.total, 1)) * 100)}%`;
        const width = 24;
        const fill = Math.round(params.progress * width);
        const barText = '#'.repeat(fill) + '-'.repeat(width - fill);
        return `${label} [${barText}] ${pct.padStart(4)} ${amount} ${speed.toFixed(1)} MiB/s`;
      },
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total, 0);
  return {
    update(bytes: number) {
      bar.update(bytes);
    },
    done(ok = true) {
      if (ok) bar.update(total);
      bar.stop();
    },
  };
}

/** Not a terminal: one plain line when the download starts, every two seconds, and at the end. */
function plainProgress(
  label: string,
  total: number,
  stream: NodeJS.WritableStream,
  started: number,
): Progress {
  let bytes = 0;
  let last = started;
  const line = (what: string) => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const amount = `${(bytes / MiB).toFixed(1)}/${(total / MiB).toFixed(1)} MiB`;
    const pct = Math.floor((bytes / Math.max(total, 1)) * 100);
    stream.write(
      `berth: ${what} ${label}: ${amount} (${pct}%, ${(bytes / MiB / secs).toFixed(1)} MiB/s)\n`,
    );
  };
  stream.write(`berth: downloading ${label} (${(total / MiB).toFixed(1)} MiB)\n`);
  return {
    update(b: number) {
      bytes = b;
      const now = Date.now();
      if (now - last >= 2000) {
        last = now;
        line('downloading');
      }
    },
    done(ok = true) {
      line(ok ? 'downloaded' : 'failed to download');
    },
  };
}
