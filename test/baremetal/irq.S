// Interrupts: the machine timer in M-mode; global enables (MIE, SIE) and the
// rule that a lower privilege always takes the higher mode's interrupts;
// mideleg delegation of the supervisor software interrupt (mip/sip.SSIP);
// delegated interrupts never taken in M; priority order MEI > MSI > MTI >
// SEI > SSI > STI and M-level before S-level; vectored stvec; the Sstc
// stimecmp timer with menvcfg.STCE and mcounteren.TM.

#include "test.h"

// Waits (bounded) until m_rec / s_rec counts `n` traps.
.macro wait_rec rec, n, line
  li t3, 200000
7001:
  la t5, \rec
  ld t5, REC_COUNT(t5)
  li t6, \n
  beq t5, t6, 7002f
  addi t3, t3, -1
  bnez t3, 7001b
  li a0, \line
  mv a1, t5
  mv a2, t6
  j fail
7002:
.endm
#define WAIT_M(n) wait_rec m_rec, n, __LINE__
#define WAIT_S(n) wait_rec s_rec, n, __LINE__

// Runs a short loop in which a pending interrupt would be taken.
.macro idle
  li t3, 50
7003:
  addi t3, t3, -1
  bnez t3, 7003b
.endm

  .globl test_main
test_main:
  CLEAR_RECS
  csrw mie, zero
  csrw mideleg, zero
  csrci mstatus, MSTATUS_MIE
  li t0, MSTATUS_MPIE
  csrc mstatus, t0

  // ---- Machine timer interrupt in M-mode.
  li t0, CLINT_MTIME
  ld t1, 0(t0)
  addi t1, t1, 300
  li t0, CLINT_MTIMECMP
  sd t1, 0(t0)
  li t0, MIP_MTIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  WAIT_M(1)
  csrci mstatus, MSTATUS_MIE
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPP | MSTATUS_MPIE)
  CHECK_CSR_BITS(mip, MIP_MTIP, MIP_MTIP)     // taking it does not clear it
  CHECK_CSR(mcause, INTR | IRQ_MTI)

  // ---- M-mode with MIE = 0 does not take it ...
  CLEAR_RECS
  li t0, MIP_MTIP
  csrw mie, t0
  idle
  CHECK_MREC(REC_COUNT, 0)
  // ... but S-mode takes it whatever MIE is (MPIE = 0: MIE = 0 in S).
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  GOTO_S(s1)
s1:
  nop
  CHECK_MREC(REC_COUNT, 1)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  MREC(REC_EPC)
  la t0, s1
  CHECK_EQR(t5, t0)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPIE, MSTATUS_MPP_S)
  GOTO_M(m1)
m1:
  // And U-mode likewise.
  li t0, MIP_MTIP
  csrw mie, t0
  GOTO_U(u1)
u1:
  nop
  CHECK_MREC(REC_COUNT, 2)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, 0)
  GOTO_M(m2)
m2:
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MTIP, 0)

  // ---- Delegated SSIP: taken by S only when S's SIE allows it.
  CLEAR_RECS
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, zero
  GOTO_S(s2)
s2:
  csrci sstatus, MSTATUS_SIE
  li t0, MIP_SSIP
  csrs sie, t0
  csrs sip, t0
  idle
  CHECK_SREC(REC_COUNT, 0)
  csrsi sstatus, MSTATUS_SIE
ssi_taken:
  nop
  csrci sstatus, MSTATUS_SIE
  CHECK_SREC(REC_COUNT, 1)
  CHECK_SREC(REC_CAUSE, INTR | IRQ_SSI)
  SREC(REC_EPC)
  la t0, ssi_taken
  CHECK_EQR(t5, t0)
  SREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP | MSTATUS_SPIE)
  CHECK_CSR(scause, INTR | IRQ_SSI)
  CHECK_CSR(sie, 0)                           // the handler disabled it
  CHECK_CSR(sip, MIP_SSIP)                    // still pending
  CHECK_MREC(REC_COUNT, 0)
  // In U, S interrupts are enabled whatever SIE is.
  li t0, MIP_SSIP
  csrs sie, t0
  S_GOTO_U(u2)
u2:
  nop
  GOTO_M(m3)
m3:
  CHECK_SREC(REC_COUNT, 2)
  SREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_SPP, 0)
  // A delegated interrupt is never taken in M, even with MIE = 1.
  CLEAR_RECS
  li t0, MIP_SSIP
  csrs mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_MIE
  idle
  csrci mstatus, MSTATUS_MIE
  CHECK_MREC(REC_COUNT, 0)
  CHECK_SREC(REC_COUNT, 0)
  // Not delegated, it goes to M from S even with MIE = 0 and SIE = 1.
  csrw mideleg, zero
  GOTO_S(s3)
s3:
  csrsi sstatus, MSTATUS_SIE
  nop
  csrci sstatus, MSTATUS_SIE
  CHECK_MREC(REC_COUNT, 1)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_SSI)
  CHECK_SREC(REC_COUNT, 0)
  GOTO_M(m4)
m4:
  li t0, MIP_SSIP
  csrc mip, t0

  // ---- Priority in M: MSI, MTI, SEI, SSI, STI (none delegated).
  CLEAR_RECS
  csrw mideleg, zero
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrs mip, t0
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP | MIP_MSIP | MIP_MTIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_MREC(REC_NIRQ, 5)
  la s0, m_rec
  ld t0, REC_IRQLOG+0(s0)
  CHECK_EQ(t0, INTR | IRQ_MSI)
  ld t0, REC_IRQLOG+8(s0)
  CHECK_EQ(t0, INTR | IRQ_MTI)
  ld t0, REC_IRQLOG+16(s0)
  CHECK_EQ(t0, INTR | IRQ_SEI)
  ld t0, REC_IRQLOG+24(s0)
  CHECK_EQ(t0, INTR | IRQ_SSI)
  ld t0, REC_IRQLOG+32(s0)
  CHECK_EQ(t0, INTR | IRQ_STI)
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrc mip, t0
  CHECK_CSR(mip, 0)

  // ---- In S: a pending M-level interrupt goes first, then the delegated one.
  CLEAR_RECS
  li t0, MIP_SSIP
  csrw mideleg, t0
  li t0, MIP_SSIP | MIP_MTIP
  csrw mie, t0
  csrs mip, t0                // SSIP (MTIP is not writable)
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
  GOTO_S(s4)
s4:
  csrsi sstatus, MSTATUS_SIE
  nop
  csrci sstatus, MSTATUS_SIE
  GOTO_M(m5)
m5:
  CHECK_MREC(REC_NIRQ, 1)
  CHECK_MREC(REC_IRQLOG, INTR | IRQ_MTI)
  CHECK_SREC(REC_NIRQ, 1)
  CHECK_SREC(REC_IRQLOG, INTR | IRQ_SSI)
  // (Priority among delegated ones: SEI > SSI > STI in S.)
  CLEAR_RECS
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0
  GOTO_S(s5)
s5:
  csrsi sstatus, MSTATUS_SIE
  nop
  csrci sstatus, MSTATUS_SIE
  CHECK_SREC(REC_NIRQ, 3)
  la s0, s_rec
  ld t0, REC_IRQLOG+0(s0)
  CHECK_EQ(t0, INTR | IRQ_SEI)
  ld t0, REC_IRQLOG+8(s0)
  CHECK_EQ(t0, INTR | IRQ_SSI)
  ld t0, REC_IRQLOG+16(s0)
  CHECK_EQ(t0, INTR | IRQ_STI)
  // ---- Vectored stvec: interrupt n at base + 4n.
  la t0, s_vtable
  ori t0, t0, 1
  csrw stvec, t0
  li a4, 0
  li t0, MIP_SSIP
  csrs sie, t0
  csrsi sstatus, MSTATUS_SIE
  nop
  csrci sstatus, MSTATUS_SIE
  CHECK_EQ(a4, 1)
  la t0, trap_s
  csrw stvec, t0
  GOTO_M(m6)
m6:
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrc mip, t0
  csrw mie, zero

  // ---- Sstc. With STCE = 0, stimecmp is not accessible from S.
  li t0, 2                    // mcounteren.TM
  csrw mcounteren, t0
  csrw menvcfg, zero
  GOTO_S(s6)
s6:
  EXPECT_TRAP
  csrr a0, stimecmp
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m7)
m7:
  // STCE = 1 but TM = 0: still illegal from S.
  li t0, MENVCFG_STCE
  csrw menvcfg, t0
  CHECK_CSR(menvcfg, MENVCFG_STCE)
  csrw mcounteren, zero
  GOTO_S(s7)
s7:
  EXPECT_TRAP
  csrw stimecmp, zero
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m8)
m8:
  li t0, 2
  csrw mcounteren, t0
  // STIP now follows stimecmp: software writes to mip.STIP are ignored.
  li t0, -1
  csrw stimecmp, t0
  li t0, MIP_STIP
  csrs mip, t0
  CHECK_CSR_BITS(mip, MIP_STIP, 0)
  CLEAR_RECS
  li t0, MIP_STIP
  csrw mideleg, t0
  csrw mie, t0
  GOTO_S(s8)
s8:
  csrr t1, time
  addi t1, t1, 300
  csrw stimecmp, t1
  CHECK_CSR_BITS(sip, MIP_STIP, 0)
  csrsi sstatus, MSTATUS_SIE
  WAIT_S(1)
  csrci sstatus, MSTATUS_SIE
  CHECK_SREC(REC_CAUSE, INTR | IRQ_STI)
  CHECK_CSR_BITS(sip, MIP_STIP, MIP_STIP)
  csrr t1, time
  csrr t2, stimecmp
  bgeu t1, t2, 1f
  FAIL
1:
  // Moving stimecmp into the future clears STIP.
  li t0, -1
  csrw stimecmp, t0
  CHECK_CSR_BITS(sip, MIP_STIP, 0)
  // WFI in S sleeps until stimecmp.
  csrr t1, time
  li t2, 100000
  add t1, t1, t2
  csrw stimecmp, t1
  li t0, MIP_STIP
  csrs sie, t0
  csrsi sstatus, MSTATUS_SIE
  wfi
  csrci sstatus, MSTATUS_SIE
  CHECK_SREC(REC_COUNT, 2)
  csrr t2, time
  bgeu t2, t1, 1f
  FAIL
1:
  li t0, -1
  csrw stimecmp, t0
  GOTO_M(m9)
m9:
  // Not delegated, the Sstc timer interrupts M.
  CLEAR_RECS
  csrw mideleg, zero
  li t0, MIP_STIP
  csrw mie, t0
  csrw stimecmp, zero
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_MREC(REC_COUNT, 1)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_STI)
  li t0, -1
  csrw stimecmp, t0
  csrw menvcfg, zero
  csrw mie, zero
  PASS

  .align 8
s_vtable:
  j s_v_bad
  j s_v_ssi
  j s_v_bad
  j s_v_bad
  j s_v_bad
  j s_v_bad
  j s_v_bad
  j s_v_bad
  j s_v_bad
  j s_v_bad
s_v_ssi:
  li a4, 1
  j trap_s
s_v_bad:
  li a4, 99
  j trap_s
