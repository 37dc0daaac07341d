// MRET and SRET: privilege transitions, the status stack, MPRV cleared when
// returning below M, MPP/SPP becoming U; xRET from too low a privilege; the
// trap-virtualisation bits TSR (SRET), TW (WFI) and TVM (satp, SFENCE.VMA).

#include "test.h"

  .globl test_main
test_main:
  CLEAR_RECS
  csrw mie, zero
  // ---- MRET to M with MPRV = 1 keeps MPRV; MPP becomes U.
  li t0, MSTATUS_MPRV | MSTATUS_MPP
  csrs mstatus, t0
  la t0, r1
  csrw mepc, t0
  mret
r1:
  CHECK_CSR_BITS(mstatus, MSTATUS_MPRV | MSTATUS_MPP, MSTATUS_MPRV)
  // (MPRV with MPP = U and no translation: accesses are checked as U by PMP,
  // which allows everything through entry 15.)
  la t0, scratch
  ld t1, 0(t0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0

  // ---- MRET to S clears MPRV; the new privilege is S.
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  GOTO_S(s1)
s1:
  csrr a0, sstatus            // legal in S
  EXPECT_TRAP
  csrr a0, mstatus            // illegal in S
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPRV, MSTATUS_MPP_S)
  // MRET in S is illegal.
  EXPECT_TRAP
  mret
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x30200073)
  GOTO_M(m1)
m1:
  // ---- MRET to U clears MPRV.
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  GOTO_U(u1)
u1:
  EXPECT_TRAP
  csrr a0, sstatus            // illegal in U
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPRV, 0)
  EXPECT_TRAP
  sret                        // illegal in U
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x10200073)
  EXPECT_TRAP
  mret
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m2)
m2:
  // ---- SRET executed in M: to S (SPP = S), clears MPRV, SPP becomes U.
  li t0, MSTATUS_MPRV | MSTATUS_MPP   // MPP = M keeps M-mode data accesses untranslated
  csrs mstatus, t0
  li t0, MSTATUS_SPP | MSTATUS_SPIE
  csrs mstatus, t0
  csrci mstatus, MSTATUS_SIE
  la t0, s2
  csrw sepc, t0
  sret
s2:
  CHECK_CSR_BITS(sstatus, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE | MSTATUS_SIE)
  EXPECT_TRAP
  csrr a0, mstatus
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)   // proves we are in S
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPRV, MSTATUS_MPP_S)
  // SRET in S to U (SPP = U).
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  la t0, u2
  csrw sepc, t0
  sret
u2:
  EXPECT_TRAP
  csrr a0, sstatus
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)   // proves we are in U
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, 0)
  GOTO_M(m3)
m3:
  // ---- TSR: SRET in S traps; SRET in M still works.
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  GOTO_S(s3)
s3:
  EXPECT_TRAP
  sret
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x10200073)
  GOTO_M(m4)
m4:
  li t0, MSTATUS_SPP
  csrs mstatus, t0
  la t0, s4
  csrw sepc, t0
  sret                        // from M: allowed with TSR = 1
s4:
  EXPECT_TRAP
  csrr a0, mstatus
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m5)
m5:
  li t0, MSTATUS_TSR
  csrc mstatus, t0
  // With TSR = 0, SRET in S works (to S itself here).
  GOTO_S(s5)
s5:
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, s6
  csrw sepc, t0
  sret
s6:
  // ---- TW: WFI in S traps when TW = 1 (wakeup is not needed for the trap).
  GOTO_M(m6)
m6:
  li t0, MSTATUS_TW
  csrs mstatus, t0
  GOTO_S(s7)
s7:
  EXPECT_TRAP
  wfi
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x10500073)
  GOTO_M(m7)
m7:
  // In M, WFI with TW = 1 is legal (an interrupt is pending and enabled in
  // mie so it completes at once; MIE = 0 so it is not taken).
  csrci mstatus, MSTATUS_MIE
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  li t0, MIP_MSIP
  csrw mie, t0
  wfi
  csrw mie, zero
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  li t0, MSTATUS_TW
  csrc mstatus, t0

  // ---- TVM: satp and SFENCE.VMA trap in S; fine in M; fine in S with TVM = 0.
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  csrr a0, satp
  csrw satp, zero
  sfence.vma
  GOTO_S(s8)
s8:
  EXPECT_TRAP
  csrr a0, satp
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x18002573)
  EXPECT_TRAP
  csrw satp, zero
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  sfence.vma
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x12000073)
  EXPECT_TRAP
  sfence.vma a0, a1
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m8)
m8:
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  GOTO_S(s9)
s9:
  csrr a0, satp
  csrw satp, zero
  sfence.vma
  sfence.vma a0, zero
  // SFENCE.VMA in U is illegal whatever TVM says.
  S_GOTO_U(u3)
u3:
  EXPECT_TRAP
  sfence.vma
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, satp
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m9)
m9:
  PASS

  .data
  .align 3
scratch: .dword 0x1122334455667788
