// Zba, Zbb, Zbc, Zbs and Zihintpause in M-mode: results the Bitmanip
// specification gives for edge values (including ctzw of a register whose low
// word is zero, where QEMU 7.2 differs, so the differential suite cannot check
// it), pause as a hint that does not trap, and a loop that computes the same
// hash with bit-manipulation instructions and with their RV64I equivalents
// (long enough for the loop to be translated; baremetal.test.ts also runs this
// program on the interpreter alone and on translated blocks and compares the
// instructions retired).
#include "test.h"

  .globl test_main
test_main:
  CLEAR_RECS
  // ---- Zbb counts.
  li a3, 0x8000000000000000
  ctzw a4, a3                // low word zero: 32, not the count into the upper word
  CHECK_EQ(a4, 32)
  ctz a4, a3
  CHECK_EQ(a4, 63)
  clzw a4, a3
  CHECK_EQ(a4, 32)
  clz a4, zero
  CHECK_EQ(a4, 64)
  li a3, 0xffffffff00000001
  cpopw a4, a3
  CHECK_EQ(a4, 1)
  cpop a4, a3
  CHECK_EQ(a4, 33)
  // ---- Zbb bytes, extensions, min/max, rotates.
  li a3, 0x0000010000ff0001
  orc.b a4, a3
  CHECK_EQ(a4, 0x0000ff0000ff00ff)
  li a3, 0x0102030405060708
  rev8 a4, a3
  CHECK_EQ(a4, 0x0807060504030201)
  li a3, 0x12345678abcd8080
  sext.b a4, a3
  CHECK_EQ(a4, -128)
  sext.h a4, a3
  CHECK_EQ(a4, -32640)
  zext.h a4, a3
  CHECK_EQ(a4, 0x8080)
  li a5, -1
  max a4, a3, a5
  CHECK_EQ(a4, 0x12345678abcd8080)
  maxu a4, a3, a5
  CHECK_EQ(a4, -1)
  min a4, a3, a5
  CHECK_EQ(a4, -1)
  minu a4, a3, a5
  CHECK_EQ(a4, 0x12345678abcd8080)
  rori a4, a3, 32
  CHECK_EQ(a4, 0xabcd808012345678)
  roriw a4, a3, 16           // low word 0xabcd8080 -> 0x8080abcd, sign-extended
  CHECK_EQ(a4, 0xffffffff8080abcd)
  li a5, 64 + 8              // rotate amounts use the low 6 (5 for rolw) bits
  rol a4, a3, a5
  CHECK_EQ(a4, 0x345678abcd808012)
  rolw a4, a3, a5
  CHECK_EQ(a4, 0xffffffffcd8080ab)
  andn a4, a3, a5
  CHECK_EQ(a4, 0x12345678abcd8080)
  orn a4, zero, a5
  CHECK_EQ(a4, ~72)
  xnor a4, a3, a3
  CHECK_EQ(a4, -1)
  // ---- Zba: the .uw forms ignore the upper word of rs1.
  li a3, 0xdeadbeef80000000
  li a5, 1
  add.uw a4, a3, a5
  CHECK_EQ(a4, 0x80000001)
  sh3add.uw a4, a3, a5
  CHECK_EQ(a4, 0x400000001)
  sh1add a4, a3, a5
  CHECK_EQ(a4, 0xbd5b7ddf00000001)
  slli.uw a4, a3, 63
  CHECK_EQ(a4, 0)
  slli.uw a4, a3, 1
  CHECK_EQ(a4, 0x100000000)
  // ---- Zbc.
  li a3, -1
  clmul a4, a3, a3
  CHECK_EQ(a4, 0x5555555555555555)
  clmulh a4, a3, a3
  CHECK_EQ(a4, 0x5555555555555555)
  clmulr a4, a3, a3
  CHECK_EQ(a4, 0xaaaaaaaaaaaaaaaa)
  li a5, 0x8000000000000000
  clmulh a4, a5, a5
  CHECK_EQ(a4, 0x4000000000000000)
  // ---- Zbs: indexes are taken mod 64.
  li a5, 64 + 63
  bset a4, zero, a5
  CHECK_EQ(a4, 0x8000000000000000)
  bclr a4, a3, a5
  CHECK_EQ(a4, 0x7fffffffffffffff)
  binvi a4, zero, 32
  CHECK_EQ(a4, 0x100000000)
  bext a4, a4, a5
  CHECK_EQ(a4, 0)
  bexti a4, a3, 40
  CHECK_EQ(a4, 1)
  bclri a4, a3, 0
  CHECK_EQ(a4, -2)
  bseti a4, zero, 31
  CHECK_EQ(a4, 0x80000000)
  // ---- Zihintpause: a hint; it neither traps nor writes anything.
  li a4, 7
  pause
  CHECK_NO_TRAP(a4)
  CHECK_EQ(a4, 7)

  // ---- The same hash with Zb* instructions (s1) and with RV64I (s2).
  li s0, 0x0123456789abcdef  // xorshift state
  li s1, 0
  li s2, 0
  li s3, 3000
1:
  slli t0, s0, 13
  xor s0, s0, t0
  srli t0, s0, 7
  xor s0, s0, t0
  slli t0, s0, 17
  xor s0, s0, t0
  andi s4, s0, 63            // shift amount / bit index
  rori s5, s0, 29            // second operand
  // Zb*
  sh2add t1, s0, s5
  add s1, s1, t1
  andn t1, s0, s5
  xor s1, s1, t1
  xnor t1, s0, s5
  add s1, s1, t1
  rol t1, s0, s4
  xor s1, s1, t1
  bset t1, s5, s4
  add s1, s1, t1
  binv t1, s5, s4
  xor s1, s1, t1
  bext t1, s0, s4
  add s1, s1, t1
  add.uw t1, s0, s5
  xor s1, s1, t1
  sh1add.uw t1, s5, s1
  add s1, s1, t1
  sext.h t1, s0
  add s1, s1, t1
  zext.h t1, s5
  xor s1, s1, t1
  max t1, s0, s5
  add s1, s1, t1
  minu t1, s0, s5
  xor s1, s1, t1
  pause
  // RV64I
  slli t1, s0, 2
  add t1, t1, s5
  add s2, s2, t1
  not t1, s5
  and t1, t1, s0
  xor s2, s2, t1
  xor t1, s0, s5
  not t1, t1
  add s2, s2, t1
  sll t1, s0, s4
  neg t2, s4
  srl t2, s0, t2
  or t1, t1, t2
  xor s2, s2, t1
  li t2, 1
  sll t2, t2, s4
  or t1, s5, t2
  add s2, s2, t1
  xor t1, s5, t2
  xor s2, s2, t1
  srl t1, s0, s4
  andi t1, t1, 1
  add s2, s2, t1
  slli t1, s0, 32
  srli t1, t1, 32
  add t1, t1, s5
  xor s2, s2, t1
  slli t1, s5, 32
  srli t1, t1, 31
  add t1, t1, s2
  add s2, s2, t1
  slli t1, s0, 48
  srai t1, t1, 48
  add s2, s2, t1
  slli t1, s5, 48
  srli t1, t1, 48
  xor s2, s2, t1
  mv t1, s0
  bge s0, s5, 2f
  mv t1, s5
2:
  add s2, s2, t1
  mv t1, s0
  bltu s0, s5, 3f
  mv t1, s5
3:
  xor s2, s2, t1
  addi s3, s3, -1
  bnez s3, 1b
  CHECK_EQR(s1, s2)
  PASS
