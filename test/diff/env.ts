// Environment settings shared by the differential tests (see the comment at the top of diff.test.ts).

export function envNum(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

const seedEnv = process.env.DIFF_SEED ?? '';
/** DIFF_SEED: a number (0x... allowed) or `random`; default 0x5eed. */
export const SEED =
  seedEnv === 'random' ? (Math.random() * 2 ** 32) >>> 0 : seedEnv ? Number(seedEnv) >>> 0 : 0x5eed;
export const SEED_TEXT = '0x' + SEED.toString(16);
/** DIFF_SCALE: multiplies the number of random cases (soak testing). */
export const SCALE = envNum('DIFF_SCALE', 1);
/** DIFF_MAX_FAIL: failing cases reported per test. */
export const MAX_FAIL = envNum('DIFF_MAX_FAIL', 5);
