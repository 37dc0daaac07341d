// Renders test cases into one RISC-V assembly program (static, no libc).
// Each case: a setup routine copies the case's data area, sets fcsr and
// f0..f31 and clears any LR reservation; inline loads set x1..x31 (sp holds
// the data area); the case body runs; a dump routine writes the data area,
// x0..x31 (x0's slot carries the case id), f0..f31 and fcsr with write(2).
// Cases fall through into each other; _start jumps to the case whose index is
// in the patchable start block, so a run can resume after a case that stopped
// the hart. A slot program has one case whose body is a patchable instruction
// word (for illegal-encoding and decoder tests) and a patchable fcsr.

import { type Case, MEM_SIZE, REC_F, REC_FCSR, REC_SIZE, REC_X } from './caseModel.js';
import { u64 } from './values.js';

/** Magic quads that precede patchable words in the ELF file. */
export const MAGIC_START = 0x5452415453464944n; // "DIFSTART": next quad = index of the first case to run
export const MAGIC_SLOT = 0x544f4c5346464944n; // "DIFFSLOT": next 4 bytes = the instruction under test
export const MAGIC_FCSR = 0x5253434646464944n; // "DIFFFCSR": next quad = the slot case's initial fcsr

const hex = (v: bigint): string => '0x' + u64(v).toString(16);

function setupAndDump(): string[] {
  const l: string[] = [];
  l.push('  .text', '  .p2align 2', 'setup:', '  lla sp, darea', '  addi t0, a0, 512', '  mv t1, sp', `  li t2, ${MEM_SIZE / 8}`);
  l.push('1:', '  ld t3, 0(t0)', '  sd t3, 0(t1)', '  addi t0, t0, 8', '  addi t1, t1, 8', '  addi t2, t2, -1', '  bnez t2, 1b');
  l.push('  lla t0, scratch', '  sc.d zero, zero, (t0)', '  ld t0, 0(a0)', '  fscsr t0');
  for (let i = 0; i < 32; i++) l.push(`  fld f${i}, ${256 + 8 * i}(a0)`);
  l.push('  ret', '', 'dump:');
  for (let i = 2; i < 32; i++) l.push(`  sd x${i}, ${REC_X + 8 * i}(sp)`);
  for (let i = 0; i < 32; i++) l.push(`  fsd f${i}, ${REC_F + 8 * i}(sp)`);
  l.push('  frcsr t0', `  sd t0, ${REC_FCSR}(sp)`);
  l.push('  li a0, 1', '  mv a1, sp', `  li a2, ${REC_SIZE}`, '  li a7, 64', '  ecall', '  ret', '');
  return l;
}

/** Body of a slot case: the instruction word to patch, with a no-op after it for 16-bit encodings. */
export const SLOT_BODY = [
  '.option push',
  '.option norvc',
  'j 1f',
  '.balign 8',
  `.quad ${hex(MAGIC_SLOT)}`,
  '1:',
  '.word 0x00000013',
  '.word 0x00000013',
  '.option pop',
];

export function renderProgram(cases: readonly Case[], slot = false): string {
  const t: string[] = ['  .globl _start', '  .text', '_start:'];
  t.push('  lla t0, startblock', '  ld t1, 8(t0)', '  lla t0, casetable', '  slli t1, t1, 3', '  add t0, t0, t1', '  ld t0, 0(t0)', '  jr t0', '');
  const d: string[] = ['  .data', '  .balign 8', `startblock: .quad ${hex(MAGIC_START)}, 0`, 'scratch: .quad 0', 'casetable:'];
  for (const c of cases) d.push(`  .quad c${c.id}`);
  d.push('  .quad done');
  for (const c of cases) {
    t.push(`# case ${c.id} (${c.group} #${c.index})`, `c${c.id}:`, `  lla a0, init${c.id}`, '  jal ra, setup', `  lla x31, init${c.id}`);
    for (let i = 1; i < 31; i++) if (i !== 2) t.push(`  ld x${i}, ${8 * i}(x31)`);
    t.push('  ld x31, 248(x31)');
    for (const line of c.body) t.push(line.endsWith(':') ? line : '  ' + line);
    t.push('  sd ra, ' + (REC_X + 8) + '(sp)', `  li ra, ${c.id}`, `  sd ra, ${REC_X}(sp)`, '  jal ra, dump', '');
    d.push('  .balign 8');
    if (slot) d.push(`  .quad ${hex(MAGIC_FCSR)}`);
    const q: string[] = [hex(BigInt(c.fcsr))];
    for (let i = 1; i < 32; i++) {
      const v = c.x[i];
      q.push(i === 2 ? '0' : typeof v === 'string' ? v : hex(v));
    }
    for (let i = 0; i < 32; i++) q.push(hex(c.f[i]));
    const dv = new DataView(c.mem.buffer, c.mem.byteOffset, c.mem.byteLength);
    for (let i = 0; i < MEM_SIZE; i += 8) q.push(hex(dv.getBigUint64(i, true)));
    d.push(`init${c.id}:`);
    for (let i = 0; i < q.length; i += 8) d.push('  .quad ' + q.slice(i, i + 8).join(', '));
  }
  t.push('done:', '  li a0, 0', '  li a7, 93', '  ecall', '');
  t.push(...setupAndDump());
  d.push('  .balign 4096', `darea: .zero ${REC_SIZE}`, '');
  return [...t, ...d].join('\n') + '\n';
}

/** File offset of the bytes following `magic` (little-endian quad) in `elf`. */
export function findPatch(elf: Uint8Array, magic: bigint): number {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  for (let i = 0; i + 16 <= elf.length; i += 4) {
    if (dv.getBigUint64(i, true) === magic) return i + 8;
  }
  throw new Error(`differential test program has no patch marker 0x${magic.toString(16)}`);
}

/** A copy of `elf` with the quad after `magic` set to `value`. */
export function patchQuad(elf: Uint8Array, magic: bigint, value: bigint): Uint8Array {
  const out = elf.slice();
  new DataView(out.buffer).setBigUint64(findPatch(out, magic), u64(value), true);
  return out;
}

/** A copy of the slot program with the instruction under test set (16-bit encodings get a c.nop after). */
export function patchSlot(elf: Uint8Array, enc: number, len: 2 | 4, fcsr: number): Uint8Array {
  const out = patchQuad(elf, MAGIC_FCSR, BigInt(fcsr));
  const dv = new DataView(out.buffer);
  const at = findPatch(out, MAGIC_SLOT);
  if (len === 4) dv.setUint32(at, enc >>> 0, true);
  else {
    dv.setUint16(at, enc & 0xffff, true);
    dv.setUint16(at + 2, 0x0001, true);
  }
  return out;
}
