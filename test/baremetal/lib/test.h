// Shared definitions and macros of the bare-metal test programs (see
// runtime.S for the trap handlers they rely on, harness.ts for the machine).
//
// Register conventions, valid in every privilege mode:
//   s11  set to 1 before an instruction that must raise an exception; a trap
//        handler that takes an exception while s11 == 0 reports FAIL
//        ("unexpected trap"), otherwise it clears s11 and records the trap in
//   s9   cause, s8 tval, s7 epc, s6 the mode that took it (3 = M, 1 = S).
//   s10  resume address after the expected exception (0 = epc + 4; bit 0
//        set = resume in M-mode, M handler only). Cleared by the handler.
//   t6, a0..a2 are clobbered by the CHECK macros (only on failure for a0..a2);
//   t0..t5 by the mode-switch macros. The handlers preserve everything else
//   except s6..s11 (written as above), and a0/a7 on the magic ecalls.
// Every program is assembled without compressed instructions (.option norvc)
// so that "epc + 4" skips exactly the faulting instruction.
//
// Interrupts are recorded by the handlers in m_rec / s_rec (count, cause,
// epc, status and a log of the first 8 interrupt causes) and the handler
// clears the interrupt's enable bit in mie / sie so that it is not retaken.

#ifndef BERTH_TEST_H
#define BERTH_TEST_H

#define TESTDEV 0x100000
#define TESTDEV_OUT 0x100010
#define CLINT_MSIP 0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200bff8

#define RAM_BASE 0x80000000

// Requests to the M-mode handler through ecall (a7 = request).
#define MAGIC_FAIL 0x4641494c
#define MAGIC_PASS 0x50415353
#define MAGIC_GOTO_M 0x474f4d4d

#define PRIV_U 0
#define PRIV_S 1
#define PRIV_M 3

#define MSTATUS_SIE (1 << 1)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_UBE (1 << 6)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_FS_CLEAN (2 << 13)
#define MSTATUS_FS_DIRTY (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)
#define MSTATUS_SD (1 << 63)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define INTR (1 << 63)

#define MIP_SSIP (1 << IRQ_SSI)
#define MIP_MSIP (1 << IRQ_MSI)
#define MIP_STIP (1 << IRQ_STI)
#define MIP_MTIP (1 << IRQ_MTI)
#define MIP_SEIP (1 << IRQ_SEI)
#define MIP_MEIP (1 << IRQ_MEI)

#define MENVCFG_STCE (1 << 63)

#define SATP_SV39 (8 << 60)
#define SATP_SV48 (9 << 60)

#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_KERN (PTE_V | PTE_RWX | PTE_A | PTE_D)

// Offsets in m_rec / s_rec.
#define REC_COUNT 0
#define REC_CAUSE 8
#define REC_EPC 16
#define REC_TVAL 24
#define REC_STATUS 32
#define REC_NIRQ 40
#define REC_IRQLOG 48
#define REC_SAVE 112
#define REC_SIZE 160

#ifdef __ASSEMBLER__

.option norvc
.option nopic

// Fails with code `line` when reg != val (a1 = actual, a2 = expected).
.macro check_eq reg, val, line
  li t6, \val
  beq \reg, t6, 8765f
  mv a1, \reg
  mv a2, t6
  li a0, \line
  j fail
8765:
.endm

.macro check_eqr reg, reg2, line
  beq \reg, \reg2, 8765f
  mv a1, \reg
  mv a2, \reg2
  li a0, \line
  j fail
8765:
.endm

.macro check_ne reg, val, line
  li t6, \val
  bne \reg, t6, 8765f
  mv a1, \reg
  mv a2, t6
  li a0, \line
  j fail
8765:
.endm

// Fails unless the expected exception was taken by `mode` with `cause`.
.macro check_trap mode, cause, line
  check_eq s11, 0, \line
  check_eq s6, \mode, \line
  check_eq s9, \cause, \line
.endm

// CHECK_EQ(reg, value): reg must equal the constant.
#define CHECK_EQ(reg, val) check_eq reg, val, __LINE__
#define CHECK_NE(reg, val) check_ne reg, val, __LINE__
#define CHECK_EQR(reg, reg2) check_eqr reg, reg2, __LINE__
// CHECK_CSR(csr, value): reads csr into t5 and compares.
#define CHECK_CSR(csr, val) csrr t5, csr; check_eq t5, val, __LINE__
// CHECK_BITS(reg, mask, value): (reg & mask) must equal value.
#define CHECK_BITS(reg, mask, val) li t6, mask; and t5, reg, t6; check_eq t5, val, __LINE__
#define CHECK_CSR_BITS(csr, mask, val) csrr t4, csr; CHECK_BITS(t4, mask, val)
// The next instruction must trap; afterwards CHECK_TRAP(mode, cause).
#define EXPECT_TRAP li s11, 1; li s10, 0
#define EXPECT_TRAP_RESUME(label) li s11, 1; la s10, label
// Same, resuming in M-mode (only for traps taken by M).
#define EXPECT_TRAP_RESUME_M(label) li s11, 1; la s10, label; ori s10, s10, 1
#define CHECK_TRAP(mode, cause) check_trap mode, cause, __LINE__
#define CHECK_TVAL(val) check_eq s8, val, __LINE__
#define CHECK_TVALR(reg) check_eqr s8, reg, __LINE__
#define CHECK_NO_TRAP(reg) check_eq s11, 0, __LINE__
// Field of the M (or S) handler's record into t5.
#define MREC(field) la t5, m_rec; ld t5, field(t5)
#define SREC(field) la t5, s_rec; ld t5, field(t5)
#define CHECK_MREC(field, val) MREC(field); check_eq t5, val, __LINE__
#define CHECK_SREC(field, val) SREC(field); check_eq t5, val, __LINE__
#define FAIL li a0, __LINE__; li a1, 0; li a2, 0; j fail
#define PASS j pass

// Absolute (link-time) address of `sym` into reg, from code running at any
// virtual alias.
.macro la_abs reg, sym
  auipc \reg, 0
  lwu \reg, 12(\reg)
  j 8766f
  .word \sym
8766:
.endm

// From M-mode: continue at `label` in privilege `mode` (via MRET; MPIE is
// left as it is, so MIE after the switch is the current MPIE).
.macro goto_mode mode, label
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (\mode << 11)
  csrs mstatus, t0
  la t0, \label
  csrw mepc, t0
  mret
.endm
#define GOTO_S(label) goto_mode PRIV_S, label
#define GOTO_U(label) goto_mode PRIV_U, label

// From S-mode: continue at `label` in U-mode (via SRET).
.macro s_goto_u label
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  la t0, \label
  csrw sepc, t0
  sret
.endm
#define S_GOTO_U(label) s_goto_u label

// From any mode: continue at the absolute address `label` in M-mode.
.macro goto_m label
  la_abs a0, \label
  li a7, MAGIC_GOTO_M
  ecall
.endm
#define GOTO_M(label) goto_m label

// Resets the handler records (count, cause, irq log).
.macro clear_recs
  la t0, m_rec
  sd zero, REC_COUNT(t0)
  sd zero, REC_CAUSE(t0)
  sd zero, REC_NIRQ(t0)
  la t0, s_rec
  sd zero, REC_COUNT(t0)
  sd zero, REC_CAUSE(t0)
  sd zero, REC_NIRQ(t0)
.endm
#define CLEAR_RECS clear_recs

// Writes a leaf or pointer PTE: table[index] = ((pa >> 12) << 10) | flags,
// with pa in a register (not t4..t6). Clobbers t4, t5, t6.
.macro set_pte table, index, pareg, flags
  srli t4, \pareg, 12
  slli t4, t4, 10
  li t5, \flags
  or t4, t4, t5
  la t5, \table
  li t6, (\index * 8)
  add t5, t5, t6
  sd t4, 0(t5)
.endm
// Reads table[index] into reg.
.macro get_pte reg, table, index
  la \reg, \table
  li t6, (\index * 8)
  add \reg, \reg, t6
  ld \reg, 0(\reg)
.endm
// Same with the PA given by a label (clobbers t3 too).
.macro set_pte_label table, index, label, flags
  la t3, \label
  set_pte \table, \index, t3, \flags
.endm
// Same with a constant PA.
.macro set_pte_pa table, index, pa, flags
  li t3, \pa
  set_pte \table, \index, t3, \flags
.endm

// satp = mode | root PPN; then sfence.vma. Clobbers t4, t5.
.macro set_satp mode, root
  la t4, \root
  srli t4, t4, 12
  li t5, \mode
  or t4, t4, t5
  csrw satp, t4
  sfence.vma
.endm

#endif // __ASSEMBLER__
#endif // BERTH_TEST_H
