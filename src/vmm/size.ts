// Parses sizes such as 256M, 1G, 512MiB or a plain number of bytes.

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`cannot read size '${text}': use a number with K, M or G, such as 256M`);
  const v = Math.round(parseFloat(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`size '${text}' is out of range`);
  return v;
}
