// Figures as people read them.

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const rate = (n: number | null | undefined): string =>
  n === null || n === undefined ? '–' : `${bytes(n)}/s`;

export const percent = (n: number | null | undefined): string =>
  n === null || n === undefined ? '–' : `${n.toFixed(1)} %`;

export const mips = (n: number | null | undefined): string =>
  n === null || n === undefined ? '–' : n.toFixed(1);

export const count = (n: number | null | undefined): string =>
  n === null || n === undefined ? '–' : n.toLocaleString('en-US');
