// The groups of the differential suite, their default sizes, and the mapping
// between a case number and (group, index). Case n of a group is generated
// from its own random stream seeded by (seed, n), so any case can be rebuilt
// alone: case id = group number * CASE_STRIDE + index.

import { CASE_STRIDE, type Case, CaseBuilder } from './caseModel.js';
import { FP_RM_TOTAL, genFpCvt, genFpD, genFpMix, genFpRm, genFpS } from './genFp.js';
import {
  genAmo,
  genSmc,
  genM,
  genMDirected,
  genMem,
  genRv64i,
  genRvc,
  genZicsr,
  M_DIRECTED_TOTAL,
  SLOTS,
} from './genInt.js';
import { genFcsr } from './genFcsr.js';
import { genZb, genZbDirected, ZB_DIRECTED_TOTAL } from './genZb.js';
import { Rng } from './values.js';

export interface Group {
  name: string;
  /** Cases at scale 1. */
  count: number;
  /** Directed groups that enumerate a table do not grow with DIFF_SCALE. */
  fixed?: boolean;
  /** Extra linker flags. */
  link?: string[];
  gen: (b: CaseBuilder) => void;
}

export const GROUPS: readonly Group[] = [
  { name: 'rv64i', count: 2000, gen: genRv64i },
  { name: 'rvc', count: 1500, gen: genRvc },
  { name: 'mem', count: 1500, gen: genMem },
  { name: 'm', count: 1000, gen: genM },
  {
    name: 'm-directed',
    count: Math.ceil(M_DIRECTED_TOTAL / SLOTS),
    fixed: true,
    gen: genMDirected,
  },
  { name: 'amo', count: 1500, gen: genAmo },
  { name: 'zicsr', count: 600, gen: genZicsr },
  { name: 'fp-s', count: 1200, gen: genFpS },
  { name: 'fp-d', count: 1200, gen: genFpD },
  // Each (operation, rounding mode) pair 16 times, on different operands.
  {
    name: 'fp-rm',
    count: 16 * Math.ceil(FP_RM_TOTAL / SLOTS),
    fixed: true,

    gen: genFpRm,
  },
  { name: 'fp-cvt', count: 1000, gen: genFpCvt },
  { name: 'fp-mix', count: 1000, gen: genFpMix },
  // Code written at run time: the program is linked as one writable and executable segment.
  { name: 'smc', count: 300, link: ['-Wl,-N', '-Wl,--no-warn-rwx-segments'], gen: genSmc },
  // Zba, Zbb, Zbc, Zbs (and pause): random sequences, and every instruction on every edge operand.
  { name: 'zb', count: 1000, gen: genZb },
  {
    name: 'zb-directed',
    count: Math.ceil(ZB_DIRECTED_TOTAL / SLOTS),
    fixed: true,
    gen: genZbDirected,
  },
  // fflags, frm and fcsr accesses among F/D operations and integer work (translated in blocks).
  { name: 'fcsr', count: 800, gen: genFcsr },
];

export function groupOf(id: number): { group: Group; index: number } {
  const g = GROUPS[Math.floor(id / CASE_STRIDE)];
  if (!g)
    throw new Error(
      `DIFF_CASE=${id}: no such case (case numbers are group * ${CASE_STRIDE} + index, ${GROUPS.length} groups)`,
    );
  return { group: g, index: id % CASE_STRIDE };
}

export function caseCount(g: Group, scale: number): number {
  return g.fixed ? g.count : Math.min(CASE_STRIDE, Math.round(g.count * scale));
}

export function makeCase(seed: number, id: number): Case {
  const { group, index } = groupOf(id);
  const b = new CaseBuilder(new Rng(seed, id), id, group.name, index);
  group.gen(b);
  return b.c;
}

export function caseIds(g: Group, scale: number): number[] {
  const base = GROUPS.indexOf(g) * CASE_STRIDE;
  return Array.from({ length: caseCount(g, scale) }, (_, i) => base + i);
}
