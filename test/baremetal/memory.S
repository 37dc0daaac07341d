// LR/SC: success, SC without a reservation, SC to another address, and the
// reservation cleared by a trap (exception or interrupt) between LR and SC;
// misaligned LR/SC/AMO raise an exception. Misaligned loads and stores of
// every size (integer and FP), also across a page boundary, complete
// without trapping.

#include "test.h"

  .globl test_main
test_main:
  CLEAR_RECS
  csrw mie, zero
  csrci mstatus, MSTATUS_MIE
  la s0, buf

  // ---- LR/SC basics.
  li t0, 0x1111
  sd t0, 0(s0)
  lr.d t1, (s0)
  CHECK_EQ(t1, 0x1111)
  li t2, 0x2222
  sc.d t3, t2, (s0)
  CHECK_EQ(t3, 0)
  ld t1, 0(s0)
  CHECK_EQ(t1, 0x2222)
  li t2, 0x3333
  sc.d t3, t2, (s0)           // the reservation was used up
  CHECK_NE(t3, 0)
  ld t1, 0(s0)
  CHECK_EQ(t1, 0x2222)
  // lr.w sign-extends; sc.w to another address fails.
  li t0, 0x80000001
  sw t0, 8(s0)
  addi a5, s0, 8
  lr.w t1, (a5)
  CHECK_EQ(t1, 0xffffffff80000001)
  addi a4, s0, 16
  sc.w t3, t2, (a4)
  CHECK_NE(t3, 0)
  lw t1, 16(s0)
  CHECK_EQ(t1, 0)

  // ---- A trap between LR and SC clears the reservation.
  lr.d t1, (s0)
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_M)
  sc.d t3, t2, (s0)
  CHECK_NE(t3, 0)
  ld t1, 0(s0)
  CHECK_EQ(t1, 0x2222)
  lr.d t1, (s0)
  EXPECT_TRAP
  .word 0
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  sc.d t3, t2, (s0)
  CHECK_NE(t3, 0)
  // Interrupt between LR and SC.
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
  li t0, MIP_MTIP
  csrw mie, t0
  lr.d t1, (s0)
  csrsi mstatus, MSTATUS_MIE
  csrci mstatus, MSTATUS_MIE
  sc.d t3, t2, (s0)
  CHECK_NE(t3, 0)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  // And from S, through a trap into M (ecall) and back.
  GOTO_S(s1)
s1:
  lr.d t1, (s0)
  li a7, 0
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_S)
  sc.d t3, t2, (s0)
  CHECK_NE(t3, 0)
  lr.d t1, (s0)
  sc.d t3, t2, (s0)           // no trap: succeeds
  CHECK_EQ(t3, 0)
  GOTO_M(m1)
m1:
  // ---- Misaligned LR, SC and AMOs raise misaligned (or access) exceptions.
  addi a5, s0, 4
  EXPECT_TRAP
  lr.d t1, (a5)
  CHECK_EQ(s11, 0)
  li t0, CAUSE_MISALIGNED_LOAD
  beq s9, t0, 1f
  CHECK_EQ(s9, CAUSE_LOAD_ACCESS)
1:
  CHECK_TVALR(a5)
  EXPECT_TRAP
  sc.d t3, t2, (a5)
  CHECK_EQ(s11, 0)
  li t0, CAUSE_MISALIGNED_STORE
  beq s9, t0, 1f
  CHECK_EQ(s9, CAUSE_STORE_ACCESS)
1:
  addi a5, s0, 2
  EXPECT_TRAP
  amoadd.w t1, t2, (a5)
  CHECK_EQ(s11, 0)
  li t0, CAUSE_MISALIGNED_STORE
  beq s9, t0, 1f
  CHECK_EQ(s9, CAUSE_STORE_ACCESS)
1:
  CHECK_EQ(s11, 0)

  // ---- Misaligned loads and stores complete without a trap.
  la s1, mis
  li t0, 0x0807060504030201
  sd t0, 0(s1)
  li t0, 0x100f0e0d0c0b0a09
  sd t0, 8(s1)
  lh t1, 1(s1)
  CHECK_EQ(t1, 0x0302)
  lhu t1, 7(s1)
  CHECK_EQ(t1, 0x0908)
  lw t1, 3(s1)
  CHECK_EQ(t1, 0x07060504)
  lwu t1, 6(s1)
  CHECK_EQ(t1, 0x0a090807)
  ld t1, 5(s1)
  CHECK_EQ(t1, 0x0d0c0b0a09080706)
  li t0, 0xa1a2a3a4a5a6a7a8
  sd t0, 1(s1)
  sh t0, 11(s1)
  sw t0, 13(s1)
  ld t1, 0(s1)
  CHECK_EQ(t1, 0xa2a3a4a5a6a7a801)
  ld t1, 8(s1)
  CHECK_EQ(t1, 0xa6a7a8a7a80b0aa1)
  ld t1, 16(s1)
  CHECK_EQ(t1, 0xa5)
  // Across a page boundary (two physically adjacent pages).
  la s2, page2
  li t0, 0x1122334455667788
  sd t0, -3(s2)
  ld t1, -3(s2)
  CHECK_EQR(t1, t0)
  lbu t1, -3(s2)
  CHECK_EQ(t1, 0x88)
  lbu t1, 4(s2)
  CHECK_EQ(t1, 0x11)
  lw t1, -2(s2)
  CHECK_EQ(t1, 0x44556677)
  sw t0, -1(s2)
  lwu t1, -1(s2)
  CHECK_EQ(t1, 0x55667788)
  // FP loads and stores.
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  li t0, 0x400921fb54442d18   // pi
  fmv.d.x fa0, t0
  fsd fa0, 3(s1)
  fld fa1, 3(s1)
  fmv.x.d t1, fa1
  CHECK_EQR(t1, t0)
  fsw fa0, 21(s1)
  lwu t1, 21(s1)
  CHECK_EQ(t1, 0x54442d18)
  flw fa2, 21(s1)
  fmv.x.w t1, fa2
  CHECK_EQ(t1, 0x54442d18)
  CHECK_EQ(s11, 0)
  PASS

  .data
  .balign 16
buf: .skip 64
mis: .skip 64
  .balign 4096
page1: .skip 4096
page2: .skip 4096
