// How the CLI prints figures: aligned tables, sizes in binary units, large counts, durations.

/** Rows of cells as columns two spaces apart, the first row being the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 0B, 512B, 1.5KiB, 201MiB: three significant digits at most. */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${UNITS[u]}`;
}

/** 999, 12.3k, 4.56M, 1.23G: counts such as instructions. */
export function count(n: number): string {
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [d, s] of steps) if (n >= d) return `${(n / d).toPrecision(3)}${s}`;
  return String(Math.round(n));
}

/** 42s, 3m12s, 2h05m, 3d04h. */
export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}
