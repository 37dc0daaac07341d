// M-mode trap handling: direct and vectored mtvec, illegal instruction (mtval
// holds the instruction bits), ecall from M, S and U, ebreak and c.ebreak,
// access faults, the mstatus stack (MIE/MPIE/MPP) on trap entry and MRET,
// mepc/mtvec WARL behaviour, mscratch.

#include "test.h"

  .globl test_main
test_main:
  // ---- ecall from M: cause 11, mepc = the ecall, mtval = 0; the mstatus stack.
  CLEAR_RECS
  li t0, MSTATUS_MIE          // mie = 0, so nothing can interrupt
  csrs mstatus, t0
  EXPECT_TRAP
ecall_m:
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_M)
  CHECK_TVAL(0)
  la t0, ecall_m
  CHECK_EQR(s7, t0)
  addi t0, t0, 4
  csrr t1, mepc               // the handler moved it past the ecall
  CHECK_EQR(t1, t0)
  CHECK_MREC(REC_COUNT, 1)
  MREC(REC_STATUS)            // inside the handler: MPP = M, MPIE = old MIE = 1, MIE = 0
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPP | MSTATUS_MPIE)
  // After MRET: MIE = MPIE = 1, MPIE = 1, MPP = U (least privileged mode).
  CHECK_CSR_BITS(mstatus, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE | MSTATUS_MIE)
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  EXPECT_TRAP
  ecall
  MREC(REC_STATUS)            // MIE was 0: MPIE = 0
  CHECK_BITS(t5, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPP)
  CHECK_CSR_BITS(mstatus, MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE)

  // ---- Illegal instructions: mtval = the instruction bits.
  EXPECT_TRAP
ill1:
  .word 0xfe208033            // OP with funct7 = 0x7f: reserved
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0xfe208033)
  la t0, ill1
  CHECK_EQR(s7, t0)
  EXPECT_TRAP
  csrw cycle, x0              // write to a read-only CSR
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0xc0001073)
  EXPECT_TRAP
  csrr a0, 0x800              // a CSR that does not exist
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x80002573)
  EXPECT_TRAP
  .half 0x0004                // C.ADDI4SPN with nzuimm = 0: reserved, 16-bit
  .half 0x0001                // c.nop (skipped with it)
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x0004)
  EXPECT_TRAP
  .word 0                     // all zeros: defined illegal
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0)
  EXPECT_TRAP
    .word 0x10200073 | (1 << 7) // SRET with rd != 0: not SRET, reserved
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)

  // ---- ebreak and c.ebreak: cause 3, mepc = pc, mtval = pc or 0.
  EXPECT_TRAP
brk:
  ebreak
  CHECK_TRAP(PRIV_M, CAUSE_BREAKPOINT)
  la t0, brk
  CHECK_EQR(s7, t0)
  beqz s8, 1f
  CHECK_EQR(s8, t0)
1:
  EXPECT_TRAP_RESUME(after_cbrk)
cbrk:
  .option rvc
  c.ebreak
  .option norvc
  .half 0x0001
after_cbrk:
  CHECK_TRAP(PRIV_M, CAUSE_BREAKPOINT)
  la t0, cbrk
  CHECK_EQR(s7, t0)

  // ---- Access faults: nothing is mapped at 0x1000.
  li a5, 0x1000
  EXPECT_TRAP
  ld a0, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVAL(0x1000)
  EXPECT_TRAP
  sw a0, 8(a5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  CHECK_TVAL(0x1008)
  EXPECT_TRAP_RESUME(after_fetch)
  jalr ra, 0(a5)
after_fetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  CHECK_TVAL(0x1000)
  CHECK_EQ(s7, 0x1000)         // mepc = the target that could not be fetched

  // ---- WARL: mepc bit 0 reads as zero (IALIGN = 16); mtvec reserved modes.
  li t0, 0x80000003
  csrw mepc, t0
  CHECK_CSR(mepc, 0x80000002)
  csrr s0, mtvec
  li t0, 0x80000102
  csrw mtvec, t0
  csrr t1, mtvec
  andi t1, t1, 3
  li t2, 2
  bltu t1, t2, 1f
  FAIL                        // mode 2 and 3 are reserved; must read back as a legal mode
1:
  csrw mtvec, s0
  li t0, 0x123456789abcdef0
  csrw mscratch, t0
  csrr t1, mscratch
  CHECK_EQR(t1, t0)

  // ---- ecall from U and S; the trap records the previous privilege in MPP.
  GOTO_U(in_u)
in_u:
  EXPECT_TRAP
ecall_u:
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_U)
  la t0, ecall_u
  CHECK_EQR(s7, t0)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, 0)
  GOTO_M(back_from_u)
back_from_u:
  GOTO_S(in_s)
in_s:
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_S)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, MSTATUS_MPP_S)
  GOTO_M(back_from_s)
back_from_s:
  csrr t0, mstatus            // the GOTO_M ecall came from S: MPP = S then, M after the handler set it
  CHECK_BITS(t0, MSTATUS_MPP, 0)

  // ---- Vectored mtvec: exceptions at base, interrupt n at base + 4n.
  csrci mstatus, MSTATUS_MIE
  csrr s0, mtvec
  la t0, vtable
  ori t0, t0, 1
  csrw mtvec, t0
  csrr t1, mtvec
  CHECK_EQR(t1, t0)
  li a4, 0
  EXPECT_TRAP
  ecall
  CHECK_TRAP(PRIV_M, CAUSE_ECALL_M)
  CHECK_EQ(a4, 100)
  // Machine software interrupt through the CLINT msip register.
  CLEAR_RECS
  li a4, 0
  li t0, CLINT_MSIP
  li t1, 1
  sw t1, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MSIP, MIP_MSIP)
  li t0, MIP_MSIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
msi_taken:
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_EQ(a4, 103)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MSI)
  MREC(REC_EPC)
  la t0, msi_taken
  CHECK_EQR(t5, t0)
  li t0, CLINT_MSIP
  sw zero, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MSIP, 0)
  // Machine timer interrupt: mtimecmp = 0 makes MTIP pending at once.
  li a4, 0
  li t0, CLINT_MTIMECMP
  sd zero, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MTIP, MIP_MTIP)
  li t0, MIP_MTIP
  csrw mie, t0
  csrsi mstatus, MSTATUS_MIE
  nop
  csrci mstatus, MSTATUS_MIE
  CHECK_EQ(a4, 107)
  CHECK_MREC(REC_CAUSE, INTR | IRQ_MTI)
  li t0, CLINT_MTIMECMP
  li t1, -1
  sd t1, 0(t0)
  CHECK_CSR_BITS(mip, MIP_MTIP, 0)
  csrw mtvec, s0
  csrw mie, zero
  PASS

// Vector table: entry 0 takes exceptions, entry n interrupt n. Each entry
// marks a4 and continues in the common handler.
  .align 8
vtable:
  j v_exc
  j v_bad
  j v_bad
  j v_msi
  j v_bad
  j v_bad
  j v_bad
  j v_mti
  j v_bad
  j v_bad
  j v_bad
  j v_bad
v_exc:
  li a4, 100
  j trap_m
v_msi:
  li a4, 103
  j trap_m
v_mti:
  li a4, 107
  j trap_m
v_bad:
  li a4, 999
  j trap_m
