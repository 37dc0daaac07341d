// Table tests of the decoder: encodings (as Debian's riscv64 binutils emit
// them) against the fields the ISA manual defines for each instruction.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, X_DISCARD } from './decode.js';
import { Op } from './ops.js';

type Row = [
  number,
  Op,
  Partial<{ rd: number; rs1: number; rs2: number; rs3: number; rm: number; imm: number }>,
  string,
];

const rows: Row[] = [
  [0x4529, Op.ADDI, { rd: 10, rs1: 0, imm: 10 }, 'c.li a0,10'],
  [0x80058513, Op.ADDI, { rd: 10, rs1: 11, imm: -2048 }, 'addi a0,a1,-2048'],
  [0x72fd, Op.LUI, { rd: 5, imm: -4096 }, 'c.lui t0,0xfffff'],
  [0x12345097, Op.AUIPC, { rd: 1, imm: 0x12345000 }, 'auipc ra,0x12345'],
  [0x7fe000ef, Op.JAL, { rd: 1, imm: 0x7fe }, 'jal ra,.+0x7fe'],
  [0xff838367, Op.JALR, { rd: 6, rs1: 7, imm: -8 }, 'jalr t1,-8(t2)'],
  [0x80b50063, Op.BEQ, { rs1: 10, rs2: 11, imm: -4096 }, 'beq a0,a1,.-4096'],
  [0x7e947fe3, Op.BGEU, { rs1: 8, rs2: 9, imm: 4094 }, 'bgeu s0,s1,.+4094'],
  [0xff813783, Op.LD, { rd: 15, rs1: 2, imm: -8 }, 'ld a5,-8(sp)'],
  [0x7f08afa3, Op.SW, { rs1: 17, rs2: 16, imm: 2047 }, 'sw a6,2047(a7)'],
  [0x03f59513, Op.SLLI, { rd: 10, rs1: 11, imm: 63 }, 'slli a0,a1,63'],
  [0x4015d513, Op.SRAI, { rd: 10, rs1: 11, imm: 1 }, 'srai a0,a1,1'],
  [0x41f3529b, Op.SRAIW, { rd: 5, rs1: 6, imm: 31 }, 'sraiw t0,t1,31'],
  [0x407302b3, Op.SUB, { rd: 5, rs1: 6, rs2: 7 }, 'sub t0,t1,t2'],
  [0x0349a933, Op.MULHSU, { rd: 18, rs1: 19, rs2: 20 }, 'mulhsu s2,s3,s4'],
  [0x037b7abb, Op.REMUW, { rd: 21, rs1: 22, rs2: 23 }, 'remuw s5,s6,s7'],
  [0xe0b6352f, Op.AMOMAXU_D, { rd: 10, rs1: 12, rs2: 11 }, 'amomaxu.d a0,a1,(a2)'],
  [0x100322af, Op.LR_W, { rd: 5, rs1: 6 }, 'lr.w t0,(t1)'],
  [0x19ceb3af, Op.SC_D, { rd: 7, rs1: 29, rs2: 28 }, 'sc.d t2,t3,(t4)'],
  [0x3005a573, Op.CSRRS, { rd: 10, rs1: 11, imm: 0x300 }, 'csrrs a0,mstatus,a1'],
  [0x140fd073, Op.CSRRWI, { rd: X_DISCARD, rs1: 31, imm: 0x140 }, 'csrrwi zero,sscratch,31'],
  [
    0x6ac59543,
    Op.FMADD_D,
    { rd: 10, rs1: 11, rs2: 12, rs3: 13, rm: 1 },
    'fmadd.d fa0,fa1,fa2,fa3,rtz',
  ],
  [0xc0353553, Op.FCVT_LU_S, { rd: 10, rs1: 10, rm: 3 }, 'fcvt.lu.s a0,fa0,rup'],
  [0x2020a053, Op.FSGNJX_S, { rd: 0, rs1: 1, rs2: 2 }, 'fsgnjx.s ft0,ft1,ft2'],
  [0xe2079553, Op.FCLASS_D, { rd: 10, rs1: 15 }, 'fclass.d a0,fa5'],
  [0x4015f553, Op.FCVT_S_D, { rd: 10, rs1: 11, rm: 7 }, 'fcvt.s.d fa0,fa1'],
  [0x12b50073, Op.SFENCE_VMA, { rs1: 10, rs2: 11 }, 'sfence.vma a0,a1'],
  [0x1fe0, Op.ADDI, { rd: 8, rs1: 2, imm: 1020 }, 'c.addi4spn s0,sp,1020'],
  [0x5d7c, Op.LW, { rd: 15, rs1: 10, imm: 124 }, 'c.lw a5,124(a0)'],
  [0x7d7c, Op.LD, { rd: 15, rs1: 10, imm: 248 }, 'c.ld a5,248(a0)'],
  [0x7101, Op.ADDI, { rd: 2, rs1: 2, imm: -512 }, 'c.addi16sp sp,-512'],
  [0x7505, Op.LUI, { rd: 10, imm: 0xfffe1000 | 0 }, 'c.lui a0,0xfffe1'],
  [0x957d, Op.SRAI, { rd: 10, rs1: 10, imm: 63 }, 'c.srai a0,63'],
  [0x9981, Op.ANDI, { rd: 11, rs1: 11, imm: -32 }, 'c.andi a1,-32'],
  [0x9e15, Op.SUBW, { rd: 12, rs1: 12, rs2: 13 }, 'c.subw a2,a3'],
  [0xb001, Op.JAL, { rd: X_DISCARD, imm: -2048 }, 'c.j .-2048'],
  [0xd081, Op.BEQ, { rs1: 9, rs2: 0, imm: -256 }, 'c.beqz s1,.-256'],
  [0x70fe, Op.LD, { rd: 1, rs1: 2, imm: 504 }, 'c.ldsp ra,504(sp)'],
  [0xff86, Op.SD, { rs1: 2, rs2: 1, imm: 504 }, 'c.sdsp ra,504(sp)'],
  [0x9282, Op.JALR, { rd: 1, rs1: 5, imm: 0 }, 'c.jalr t0'],
  [0x9002, Op.EBREAK, {}, 'c.ebreak'],
  [0x2522, Op.FLD, { rd: 10, rs1: 2, imm: 8 }, 'c.fldsp fa0,8(sp)'],
];

test('decodes each instruction to its operation and fields', () => {
  for (const [inst, op, fields, text] of rows) {
    const d = decode(inst);
    assert.equal(d.op, op, `${text}: op`);
    for (const [k, v] of Object.entries(fields)) {
      assert.equal(d[k as keyof typeof d], v, `${text}: ${k}`);
    }
  }
});

test('reserved and unknown encodings decode as illegal', () => {
  const illegal: [number, string][] = [
    [0x0000, 'all-zero parcel'],
    [0xffffffff | 0, 'all-ones word (opcode 0x7f)'],
    [0x0004, 'c.addi4spn with zero immediate'],
    [0x6001, 'c.lui with zero immediate'],
    [0x4002, 'c.lwsp with rd = x0'],
    [0x8002, 'c.jr with rs1 = x0'],
    [0x2001, 'c.addiw with rd = x0'],
    [0x0400_0053, 'fadd with fmt = 2 (H/Q)'],
    [0x0000_702f, 'AMO with funct3 = 7'],
    [0x0000_200f, 'MISC-MEM funct3 = 2'],
    [0x0000_0073 | (1 << 20) | (1 << 7), 'ebreak with rd != 0'],
    [0x4000_1013, 'slli with funct6 = 0x10'],
  ];
  for (const [inst, text] of illegal) assert.equal(decode(inst).op, Op.ILLEGAL, text);
});

test('writes to x0 go to the discard register; writes to f0 do not', () => {
  assert.equal(decode(0x00000013).rd, X_DISCARD); // addi x0, x0, 0
  assert.equal(decode(0x00003007).rd, 0); // fld f0, 0(x0)
});
