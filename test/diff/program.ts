// Renders test cases into one RISC-V assembly program (static, no libc).
// Each case: a setup routine copies the case's data area, sets fcsr and
// f0..f31 and clears any LR reservation; inline loads set x1..x31 (sp holds
// the data area); the case body runs; a dump routine writes the data area,
// x0..x31 (x0's slot carries the case id), f0..f31 and fcsr with write(2).
// Cases fall through into each other. A handler for SIGILL, SIGTRAP, SIGBUS
// and SIGSEGV writes a signal record (case id, signal number, SIGNAL_MAGIC in
// the x0..x2 slots) and goes on with the next case, so one program can hold
// cases that trap. _start jumps to the case whose index is in the patchable
// start block, so a run can resume after a case that stopped the hart.

import { type Case, MEM_SIZE, REC_F, REC_FCSR, REC_SIZE, REC_X } from './caseModel.js';
import { u64 } from './values.js';

/** Magic quad that precedes the patchable start index in the ELF file. */
export const MAGIC_START = 0x5452415453464944n; // "DIFSTART"
/** In the sp slot of a record written by the signal handler. */
export const SIGNAL_MAGIC = 0x21214c414e474953n; // "SIGNAL!!"
/** Offset in the data area of the page boundary inside it. */
export const DAREA_CROSS = 256;

const SIGNALS = [4, 5, 7, 11];
const SA_NODEFER = 0x40000000;

const hex = (v: bigint): string => '0x' + u64(v).toString(16);

function routines(): string[] {
  const l: string[] = [];
  l.push(
    '  .text',
    '  .p2align 2',
    'setup:',
    '  lla sp, darea',
    '  addi t0, a0, 512',
    '  mv t1, sp',
    `  li t2, ${MEM_SIZE / 8}`,
  );
  l.push(
    '1:',
    '  ld t3, 0(t0)',
    '  sd t3, 0(t1)',
    '  addi t0, t0, 8',
    '  addi t1, t1, 8',
    '  addi t2, t2, -1',
    '  bnez t2, 1b',
  );
  l.push('  lla t0, scratch', '  sc.d zero, zero, (t0)', '  ld t0, 0(a0)', '  fscsr t0');
  for (let i = 0; i < 32; i++) l.push(`  fld f${i}, ${256 + 8 * i}(a0)`);
  l.push('  ret', '', 'dump:');
  for (let i = 2; i < 32; i++) l.push(`  sd x${i}, ${REC_X + 8 * i}(sp)`);
  for (let i = 0; i < 32; i++) l.push(`  fsd f${i}, ${REC_F + 8 * i}(sp)`);
  l.push('  frcsr t0', `  sd t0, ${REC_FCSR}(sp)`);
  l.push(
    '  li a0, 1',
    '  mv a1, sp',
    `  li a2, ${REC_SIZE}`,
    '  li a7, 64',
    '  ecall',
    '  ret',
    '',
  );
  // Entered with a0 = signal number; never returns: records the signal and runs the next case.
  // QEMU keeps the signal blocked in spite of SA_NODEFER, so the handler unblocks it.
  l.push(
    '  .p2align 2',
    'sighandler:',
    '  mv s1, a0',
    '  li a0, 1',
    '  lla a1, sigset',
    '  li a2, 0',
    '  li a3, 8',
    '  li a7, 135',
    '  ecall',
    '  mv a0, s1',
  );
  l.push('  lla sp, darea', '  lla t0, curcase', '  ld s0, 0(t0)');
  l.push('  lla t2, caseids', '  slli t3, s0, 3', '  add t2, t2, t3', '  ld t3, 0(t2)');
  l.push(
    `  sd t3, ${REC_X}(sp)`,
    `  sd a0, ${REC_X + 8}(sp)`,
    `  li t4, ${hex(SIGNAL_MAGIC)}`,
    `  sd t4, ${REC_X + 16}(sp)`,
  );
  l.push('  li a0, 1', '  mv a1, sp', `  li a2, ${REC_SIZE}`, '  li a7, 64', '  ecall');
  l.push(
    '  lla t2, casetable',
    '  addi s0, s0, 1',
    '  slli s0, s0, 3',
    '  add t2, t2, s0',
    '  ld t2, 0(t2)',
    '  jr t2',
    '',
  );
  return l;
}

export function renderProgram(cases: readonly Case[]): string {
  const t: string[] = ['  .globl _start', '  .text', '_start:'];
  for (const sig of SIGNALS)
    t.push(
      `  li a0, ${sig}`,
      '  lla a1, sigact',
      '  li a2, 0',
      '  li a3, 8',
      '  li a7, 134',
      '  ecall',
    );
  t.push(
    '  lla t0, startblock',
    '  ld t1, 8(t0)',
    '  lla t0, casetable',
    '  slli t1, t1, 3',
    '  add t0, t0, t1',
    '  ld t0, 0(t0)',
    '  jr t0',
    '',
  );
  const d: string[] = [
    '  .data',
    '  .balign 8',
    `startblock: .quad ${hex(MAGIC_START)}, 0`,
    'scratch: .quad 0',
    'curcase: .quad 0',
    'smcbuf: .zero 256',
  ];
  d.push(
    `sigact: .quad sighandler, ${SA_NODEFER}, 0`,
    `sigset: .quad ${SIGNALS.reduce((m, s) => m | (1 << (s - 1)), 0)}`,
    'casetable:',
  );
  for (const c of cases) d.push(`  .quad c${c.id}`);
  d.push('  .quad done', 'caseids:');
  for (const c of cases) d.push(`  .quad ${c.id}`);
  cases.forEach((c, k) => {
    t.push(
      `# case ${c.id} (${c.group} #${c.index})`,
      `c${c.id}:`,
      '  lla t0, curcase',
      `  li t1, ${k}`,
      '  sd t1, 0(t0)',
    );
    t.push(`  lla a0, init${c.id}`, '  jal ra, setup', `  lla x31, init${c.id}`);
    for (let i = 1; i < 31; i++) if (i !== 2) t.push(`  ld x${i}, ${8 * i}(x31)`);
    t.push('  ld x31, 248(x31)');
    for (const line of c.body) t.push(line.endsWith(':') ? line : '  ' + line);
    t.push(
      '  sd ra, ' + (REC_X + 8) + '(sp)',
      `  li ra, ${c.id}`,
      `  sd ra, ${REC_X}(sp)`,
      '  jal ra, dump',
      '',
    );
    const q: string[] = [hex(BigInt(c.fcsr))];
    for (let i = 1; i < 32; i++) {
      const v = c.x[i];
      q.push(i === 2 ? '0' : typeof v === 'string' ? v : hex(v));
    }
    for (let i = 0; i < 32; i++) q.push(hex(c.f[i]));
    const dv = new DataView(c.mem.buffer, c.mem.byteOffset, c.mem.byteLength);
    for (let i = 0; i < MEM_SIZE; i += 8) q.push(hex(dv.getBigUint64(i, true)));
    d.push('  .balign 8', `init${c.id}:`);
    for (let i = 0; i < q.length; i += 8) d.push('  .quad ' + q.slice(i, i + 8).join(', '));
  });
  t.push('done:', '  li a0, 0', '  li a7, 93', '  ecall', '');
  t.push(...routines());
  // The data area straddles a page boundary at DAREA_CROSS, so that misaligned accesses there
  // cross pages; below it, room for the signal frame QEMU pushes under sp.
  d.push('  .balign 4096', `  .skip ${4096 - DAREA_CROSS}`, `darea: .zero ${REC_SIZE}`, '');
  return [...t, ...d].join('\n') + '\n';
}

/** A copy of `elf` with the quad after `magic` set to `value`. */
export function patchQuad(elf: Uint8Array, magic: bigint, value: bigint): Uint8Array {
  const out = elf.slice();
  const dv = new DataView(out.buffer);
  for (let i = 0; i + 16 <= out.length; i += 8) {
    if (dv.getBigUint64(i, true) === magic) {
      dv.setBigUint64(i + 8, u64(value), true);
      return out;
    }
  }
  throw new Error(`differential test program has no patch marker 0x${magic.toString(16)}`);
}
