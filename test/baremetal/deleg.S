// Exception delegation to S-mode (medeleg): which bits exist, which traps go
// to S and which stay in M, and the S-mode trap state: stvec, sepc, scause,
// stval, sstatus SPP/SPIE/SIE and SRET. Interrupt delegation is in irq.S.

#include "test.h"

  .globl test_main
test_main:
  CLEAR_RECS
  // ---- medeleg: bit 11 (ecall from M) is read-only zero; the rest is WARL.
  li t0, -1
  csrw medeleg, t0
  CHECK_CSR_BITS(medeleg, 1 << 11, 0)
  CHECK_CSR_BITS(medeleg, (1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15), (1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15))
  csrw medeleg, zero
  CHECK_CSR(medeleg, 0)
  // mideleg: the supervisor interrupts can be delegated.
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw mideleg, t0
  CHECK_CSR_BITS(mideleg, MIP_SSIP | MIP_STIP | MIP_SEIP, MIP_SSIP | MIP_STIP | MIP_SEIP)
  csrw mideleg, zero

  // Delegate illegal instruction, breakpoint, ecall from U and load access faults.
  li t0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_ECALL_U) | (1 << CAUSE_LOAD_ACCESS)
  csrw medeleg, t0

  // ---- Traps from M-mode are never delegated.
  EXPECT_TRAP
  .word 0xfe208033
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  ebreak
  CHECK_TRAP(PRIV_M, CAUSE_BREAKPOINT)
  CHECK_SREC(REC_COUNT, 0)

  // ---- From U with sstatus.SIE = 1: to S with SPP = U, SPIE = 1, SIE = 0.
  csrsi sstatus, MSTATUS_SIE
  csrw sie, zero
  csrw mie, zero
  csrw sepc, zero
  GOTO_U(u1)
u1:
  EXPECT_TRAP
u_ill:
  .word 0xfe208033
  CHECK_TRAP(PRIV_S, CAUSE_ILLEGAL)
  CHECK_TVAL(0xfe208033)
  la t0, u_ill
  CHECK_EQR(s7, t0)
  SREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE)
  // ecall from U is delegated: a plain ecall (a7 = 0) lands in S.
  li a7, 0
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_S, CAUSE_ECALL_U)
  CHECK_TVAL(0)
  // ebreak from U: delegated, stval = pc or 0.
  EXPECT_TRAP
u_brk:
  ebreak
  CHECK_TRAP(PRIV_S, CAUSE_BREAKPOINT)
  la t0, u_brk
  CHECK_EQR(s7, t0)
  beqz s8, 1f
  CHECK_EQR(s8, t0)
1:
  // A delegated load access fault goes to S, a store access fault (not delegated) to M.
  li a5, 0x1000
  EXPECT_TRAP
  lw a0, 4(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_ACCESS)
  CHECK_TVAL(0x1004)
  EXPECT_TRAP
  sw a0, 4(a5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  CHECK_TVAL(0x1004)
  // Reading sstatus from U is illegal: delegated, so S gets it.
  EXPECT_TRAP
  csrr a0, sstatus
  CHECK_TRAP(PRIV_S, CAUSE_ILLEGAL)
  CHECK_TVAL(0x10002573)
  GOTO_M(m1)
m1:
  // M took its two own traps and the store fault; S took the other five.
  CHECK_MREC(REC_COUNT, 3)
  CHECK_SREC(REC_COUNT, 5)
  // Each SRET back to U set SIE = SPIE = 1; the GOTO_M ecall (delegated,
  // passed on by S) then trapped into S again: SPIE = 1, SIE = 0, SPP = U.
  CHECK_CSR_BITS(sstatus, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE)

  // ---- From U with SIE = 0: SPIE = 0.
  csrci sstatus, MSTATUS_SIE
  GOTO_U(u2)
u2:
  EXPECT_TRAP
  .word 0
  CHECK_TRAP(PRIV_S, CAUSE_ILLEGAL)
  SREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, 0)
  GOTO_M(m2)
m2:
  // SRET set SIE = SPIE = 0 and SPIE = 1; the GOTO_M trap into S: SPIE = SIE = 0.
  CHECK_CSR_BITS(sstatus, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, 0)

  // ---- From S with SIE = 1: SPP = S, SPIE = 1, SIE = 0; SRET restores.
  GOTO_S(s1)
s1:
  csrsi sstatus, MSTATUS_SIE
  EXPECT_TRAP
s_ill:
  csrr a0, mstatus            // M CSR from S: illegal, delegated
  CHECK_TRAP(PRIV_S, CAUSE_ILLEGAL)
  CHECK_TVAL(0x30002573)
  la t0, s_ill
  CHECK_EQR(s7, t0)
  SREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP | MSTATUS_SPIE)
  CHECK_CSR_BITS(sstatus, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE | MSTATUS_SIE)
  // scause, sepc, stval are visible from S and hold the last trap.
  CHECK_CSR(scause, CAUSE_ILLEGAL)
  CHECK_CSR(stval, 0x30002573)
  la t0, s_ill
  addi t0, t0, 4
  csrr t1, sepc               // the handler moved sepc past the instruction
  CHECK_EQR(t1, t0)
  // Not delegated from S: ecall from S and store access faults go to M.
  li a7, 0
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_S)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, MSTATUS_MPP_S)
  li a5, 0x1000
  EXPECT_TRAP
  sd a0, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  // A trap into S uses the current stvec.
  la t0, s_custom
  csrw stvec, t0
  li a4, 0
  EXPECT_TRAP
  ebreak
  CHECK_TRAP(PRIV_S, CAUSE_BREAKPOINT)
  CHECK_EQ(a4, 1)
  la t0, trap_s
  csrw stvec, t0
  // stvec and sepc WARL: sepc bit 0 is zero.
  li t0, 0x80000001
  csrw sepc, t0
  CHECK_CSR(sepc, 0x80000000)
  // SRET from S to S (SPP = S) and to U (SPP = U).
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, s2
  csrw sepc, t0
  sret
s2:
  CHECK_CSR_BITS(sstatus, MSTATUS_SPP, 0)  // SRET left SPP = U
  csrr a0, sstatus                          // still S: sstatus is readable
  S_GOTO_U(u3)
u3:
  EXPECT_TRAP
  csrr a0, sstatus                          // now U: illegal
  CHECK_TRAP(PRIV_S, CAUSE_ILLEGAL)
  GOTO_M(m3)
m3:
  csrw medeleg, zero
  // Without delegation the same U trap goes to M.
  GOTO_U(u4)
u4:
  EXPECT_TRAP
  .word 0
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m4)
m4:
  PASS

  .align 2
s_custom:
  li a4, 1
  j trap_s
