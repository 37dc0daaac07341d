// CSR access rules: privilege checks, read-only CSRs trap on write (but not
// on a read-only CSRRS/CSRRC with x0), missing CSRs, counters honouring
// mcounteren/scounteren, mcountinhibit, misa, mhartid, WARL fields (MPP, satp mode), the
// sstatus/sie/sip views of the M registers, mip write rules, and the FS
// field: FP with FS = Off is illegal, an FP write makes FS Dirty and sets SD.

#include "test.h"

#define MISA_EXPECTED ((2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20))

  .globl test_main
test_main:
  CLEAR_RECS
  // ---- Identification.
  CHECK_CSR(misa, MISA_EXPECTED)       // RV64 IMAFDC + S + U
  csrw misa, zero                       // WARL: writing is not an error
  CHECK_CSR(misa, MISA_EXPECTED)
  CHECK_CSR(mhartid, 0)
  csrr a0, mvendorid
  csrr a0, marchid
  csrr a0, mimpid
  // ---- Read-only CSRs (number bits 11:10 = 3): writes trap, pure reads do not.
  EXPECT_TRAP
  csrw mhartid, zero
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrrs a0, mvendorid, a1     // rs1 = a1 (even if zero) means a write
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrrwi a0, cycle, 0         // CSRRWI always writes
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  csrrs a0, mhartid, x0       // no write
  csrrc a0, instret, x0       // no write
  csrrsi a0, time, 0          // uimm = 0: no write
  csrrci a0, cycle, 0
  CHECK_MREC(REC_COUNT, 3)

  // ---- MPP is WARL: 2 (reserved) is not stored.
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPP_S
  csrs mstatus, t0
  li t0, 2 << 11
  csrc mstatus, t0
  csrs mstatus, t0            // S (01) | 10 = 11 = M: legal
  CHECK_CSR_BITS(mstatus, MSTATUS_MPP, MSTATUS_MPP)
  csrr t1, mstatus
  li t0, ~MSTATUS_MPP
  and t1, t1, t0
  li t0, 2 << 11
  or t1, t1, t0
  csrw mstatus, t1            // MPP = 2: reserved, keeps the old value (M)
  csrr t1, mstatus
  srli t1, t1, 11
  andi t1, t1, 3
  CHECK_NE(t1, 2)
  // UXL and SXL read as 2 (64-bit), and mstatus.SD is read-only.
  csrr t1, mstatus
  srli t1, t1, 32
  andi t1, t1, 0xf
  CHECK_EQ(t1, 0xa)
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_SD
  csrs mstatus, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_SD, 0)

  // ---- sstatus is a view of mstatus: M-only fields are invisible and unwritable.
  li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
  csrc mstatus, t0
  li t0, -1
  csrw sstatus, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPRV | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR, 0)
  CHECK_CSR_BITS(mstatus, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR)
  li t0, MSTATUS_MIE | MSTATUS_MPIE
  csrs mstatus, t0
  CHECK_CSR_BITS(sstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP, 0)
  csrw sstatus, zero
  CHECK_CSR_BITS(mstatus, MSTATUS_MIE | MSTATUS_MPIE, MSTATUS_MIE | MSTATUS_MPIE)
  li t0, MSTATUS_MIE | MSTATUS_MPIE
  csrc mstatus, t0

  // ---- sie and sip show only delegated interrupts.
  csrw mideleg, zero
  li t0, MIP_SSIP | MIP_STIP | MIP_MTIP
  csrw mie, t0
  CHECK_CSR(sie, 0)
  li t0, -1
  csrw sie, t0
  CHECK_CSR(mie, MIP_SSIP | MIP_STIP | MIP_MTIP)
  li t0, MIP_SSIP
  csrw mideleg, t0
  CHECK_CSR(sie, MIP_SSIP)
  csrw sie, zero
  CHECK_CSR(mie, MIP_STIP | MIP_MTIP)
  csrw mie, zero
  // mip: SSIP and STIP (without Sstc) are writable by M, MTIP/MSIP are not.
  li t0, MIP_SSIP | MIP_MTIP | MIP_MSIP
  csrs mip, t0
  CHECK_CSR(mip, MIP_SSIP)
  CHECK_CSR(sip, MIP_SSIP)    // delegated: visible in sip
  csrc mip, t0
  li t0, MIP_SSIP
  csrs sip, t0                // sip.SSIP writable when delegated
  CHECK_CSR(mip, MIP_SSIP)
  csrc sip, t0
  CHECK_CSR(mip, 0)
  csrw mideleg, zero
  li t0, MIP_SSIP
  csrs sip, t0                // not delegated: sip.SSIP is read-only zero
  CHECK_CSR(mip, 0)
  li t0, MIP_STIP
  csrs mip, t0
  CHECK_CSR(mip, MIP_STIP)
  csrc mip, t0

  // ---- satp: an unsupported mode is not written.
  li t0, (8 << 60) | 0x12345
  csrw satp, t0
  li t1, (1 << 60) | 0x80000   // mode 1 is reserved
  csrw satp, t1
  csrr t2, satp
  CHECK_EQR(t2, t0)
  csrw satp, zero

  // ---- Privilege checks: M CSRs from S, S CSRs from U.
  GOTO_S(s1)
s1:
  csrr a0, sstatus
  csrr a0, sscratch
  EXPECT_TRAP
  csrr a0, mscratch
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrw mstatus, zero
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, mhartid            // read-only, but M-level
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m1)
m1:
  GOTO_U(u1)
u1:
  EXPECT_TRAP
  csrr a0, sscratch
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0x14002573)
  EXPECT_TRAP
  csrr a0, mstatus
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m2)
m2:

  // ---- Counters: cycle/time/instret below M need mcounteren (and
  // scounteren for U).
  li t0, 7
  csrw mcounteren, t0
  CHECK_CSR(mcounteren, 7)
  csrw scounteren, t0
  CHECK_CSR(scounteren, 7)
  csrw mcounteren, zero
  csrw scounteren, zero
  GOTO_S(s2)
s2:
  EXPECT_TRAP
  csrr a0, cycle
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, time
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, instret
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m3)
m3:
  li t0, 1                    // CY only
  csrw mcounteren, t0
  GOTO_S(s3)
s3:
  csrr a0, cycle              // allowed
  EXPECT_TRAP
  csrr a0, instret
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  S_GOTO_U(u3)
u3:
  EXPECT_TRAP
  csrr a0, cycle              // U also needs scounteren.CY
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m4)
m4:
  li t0, 7
  csrw mcounteren, t0
  li t0, 4                    // IR only for U
  csrw scounteren, t0
  GOTO_U(u4)
u4:
  csrr s0, instret
  csrr s1, instret
  bgtu s1, s0, 1f             // instret counts up
  FAIL
1:
  EXPECT_TRAP
  csrr a0, time
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  GOTO_M(m5)
m5:
  li t0, 7
  csrw scounteren, t0
  GOTO_U(u5)
u5:
  csrr a0, cycle
  csrr a0, time
  csrr a0, instret
  GOTO_M(m6)
m6:
  csrw mcounteren, zero
  csrw scounteren, zero
  // M-mode counters are always accessible and writable.
  csrr s0, mcycle
  csrr s1, minstret
  csrr s2, mcycle
  bgtu s2, s0, 1f
  FAIL
1:
  li t0, 1000000
  csrw minstret, t0
  csrr t1, minstret
  sub t1, t1, t0
  li t2, 10
  bltu t1, t2, 1f             // a few instructions later
  FAIL
1:

  // mcountinhibit: a bit that reads back as 1 stops its counter.
  li t0, 5
  csrw mcountinhibit, t0
  csrr s3, mcountinhibit
  andi t0, s3, 4
  beqz t0, 1f
  csrr s0, minstret
  nop
  csrr s1, minstret
  CHECK_EQR(s1, s0)
1:
  andi t0, s3, 1
  beqz t0, 1f
  csrr s0, mcycle
  nop
  csrr s1, mcycle
  CHECK_EQR(s1, s0)
1:
  csrw mcountinhibit, zero
  csrr s0, minstret
  csrr s1, minstret
  bgtu s1, s0, 1f
  FAIL
1:

  // ---- FS: with FS = Off, FP instructions and FP CSRs are illegal.
  li t0, MSTATUS_FS
  csrc mstatus, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, 0)
  EXPECT_TRAP
  fmv.d.x fa0, zero
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  CHECK_TVAL(0xf2000553)
  EXPECT_TRAP
  fadd.d fa0, fa1, fa2
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  la a5, fpdata
  EXPECT_TRAP
  fld fa0, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  fsd fa0, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  frcsr a0
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  EXPECT_TRAP
  csrr a0, fflags
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  // FS = Initial: FP works; writing an FP register makes FS Dirty and SD = 1.
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_INITIAL)
  li t0, 0x4000000000000000   // 2.0
  fmv.d.x fa0, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_DIRTY | MSTATUS_SD)
  CHECK_CSR_BITS(sstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_DIRTY | MSTATUS_SD)
  fsd fa0, 0(a5)
  ld t1, 0(a5)
  CHECK_EQR(t1, t0)
  // FS = Clean: SD = 0; fld (an FP register write) makes it Dirty.
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_CLEAN
  csrs mstatus, t0
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_CLEAN)
  fld fa1, 0(a5)
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_DIRTY | MSTATUS_SD)
  // FS = Clean: writing fcsr makes it Dirty.
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, MSTATUS_FS_CLEAN
  csrs mstatus, t0
  csrwi fflags, 1
  CHECK_CSR_BITS(mstatus, MSTATUS_FS | MSTATUS_SD, MSTATUS_FS_DIRTY | MSTATUS_SD)
  CHECK_CSR(fflags, 1)
  CHECK_CSR(fcsr, 1)
  // FS = Off in S and U too (sstatus.FS is the same field).
  li t0, MSTATUS_FS
  csrc mstatus, t0
  GOTO_S(s4)
s4:
  EXPECT_TRAP
  fmv.x.d a0, fa0
  CHECK_TRAP(PRIV_M, CAUSE_ILLEGAL)
  li t0, MSTATUS_FS_INITIAL
  csrs sstatus, t0            // S may turn the FPU on
  fmv.x.d a0, fa0
  li t1, 0x4000000000000000
  CHECK_EQR(a0, t1)
  GOTO_M(m7)
m7:
  // fmv.x.d wrote no FP state, but tracking may be conservative: Initial or Dirty.
  csrr t0, mstatus
  srli t0, t0, 13
  andi t0, t0, 3
  CHECK_NE(t0, 0)
  CHECK_NE(t0, 2)
  PASS

  .data
  .align 3
fpdata: .dword 0
