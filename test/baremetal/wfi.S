// WFI: completes when an enabled interrupt is pending even if it is globally
// disabled (no trap, execution continues after WFI); sleeps until the timer
// fires; with the interrupt enabled the trap's epc is the instruction after
// WFI; in S (TW = 0) it behaves the same; in U it is illegal.

#include "test.h"

  .globl test_main
test_main:
  CLEAR_RECS
  csrw mie, zero
  csrci mstatus, MSTATUS_MIE
  // ---- Pending (MSIP) and enabled in mie, MIE = 0: WFI completes, no trap.
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, MIP_MSIP
  csrw mie, t0
  wfi
  CHECK_MREC(REC_COUNT, 0)
  CHECK_CSR_BITS(mip, MIP_MSIP, MIP_MSIP)
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  csrw mie, zero

  // ---- Sleep until the timer: mtimecmp = mtime + 100000, MTIE = 1, MIE = 0.
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  li t2, 100000
  add s0, t1, t2
  li t0, CLINT_MTIMECMP
  sd s0, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MTIP, 0)
  li t0, MIP_MTIP
  csrw mie, t0
  wfi
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  bgeu t1, s0, 1f             // woke up because the deadline passed
  FAIL
1:
  CHECK_CSR_BITS(mip, MIP_MTIP, MIP_MTIP)
  CHECK_MREC(REC_COUNT, 0)
  // The time CSR agrees with mtime.
  csrr t2, time
  bgeu t2, s0, 1f
  FAIL
1:

  // ---- Same with MIE = 1: the interrupt is taken; mepc = the instruction after WFI.
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  li t2, 50000
  add s0, t1, t2
  li t0, CLINT_MTIMECMP
  sd s0, 0(t0)
  li t0, MIP_MTIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  wfi
after_wfi:
  csrci mstatus, MSTATUS_MIE
  CHECK_MREC(REC_COUNT, 1)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  MREC(REC_EPC)
  la t0, after_wfi
  CHECK_EQR(t5, t0)
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)

  // ---- In S with TW = 0: a delegated SSIP pending, enabled in sie, SIE = 0:
  // WFI completes without a trap.
  CLEAR_RECS
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0
  li t0, MSTATUS_TW
  csrc mstatus, t0
  GOTO_S(s1)
s1:
  csrci sstatus, MSTATUS_SIE
  wfi
  CHECK_SREC(REC_COUNT, 0)
  csrr t0, sip
  CHECK_BITS(t0, MIP_SSIP, MIP_SSIP)
  li t0, MIP_SSIP
  csrc sip, t0
  GOTO_M(m1)
m1:
  csrw mideleg, zero
  csrw mie, zero
  // ---- In S, M interrupts are enabled whatever MIE says: WFI sleeps, the
  // timer fires and traps to M with mepc after the WFI.
  CLEAR_RECS
  csrci mstatus, MSTATUS_MIE
  li t0, MSTATUS_MPIE
  csrc mstatus, t0            // MIE stays 0 in S as well
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  li t2, 30000
  add s0, t1, t2
  li t0, CLINT_MTIMECMP
  sd s0, 0(t0)
  li t0, MIP_MTIP
  csrw mie, t0
  GOTO_S(s2)
s2:
  wfi
s2_after:
  nop
  GOTO_M(m2)
m2:
  CHECK_MREC(REC_COUNT, 1)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  MREC(REC_EPC)
  la t0, s2_after
  CHECK_EQR(t5, t0)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, MSTATUS_MPP_S)
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  csrw mie, zero

  // ---- In U WFI is illegal (S-mode exists).
  GOTO_U(u1)
u1:
  EXPECT_TRAP
  wfi
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x10500073)
  GOTO_M(m3)
m3:
  PASS
