// Physical memory protection: S/U accesses that match no entry fail (even
// when every entry is off); TOR, NAPOT and NA4 ranges with their
// permissions; the lowest-numbered matching entry wins; an access that only
// partly matches fails (for M as well); unlocked entries do not restrict M
// but do restrict M with MPRV; a locked entry denies M-mode writes (access fault 7) and
// fetches, and cannot be changed, nor can the address below a locked TOR.
// No traps are delegated: everything lands in M.

#include "test.h"

#define CFG_R 0x01
#define CFG_W 0x02
#define CFG_X 0x04
#define CFG_TOR 0x08
#define CFG_NA4 0x10
#define CFG_NAPOT 0x18
#define CFG_L 0x80

// pmpaddr value of a NAPOT region of `size` (a power of two >= 8) at the
// address in `reg` (clobbers t6).
.macro napot reg, size
  srli \reg, \reg, 2
  li t6, (\size / 8) - 1
  or \reg, \reg, t6
.endm

  .globl test_main
test_main:
  CLEAR_RECS
  csrw medeleg, zero
  // pmpaddr holds physical address bits 55..2.
  li t0, -1
  csrw pmpaddr0, t0
  CHECK_CSR(pmpaddr0, 0x003fffffffffffff)
  csrw pmpaddr0, zero

  // ---- Every entry off: M is unrestricted, S fails to fetch anything.
  csrw pmpcfg0, zero
  csrw pmpcfg2, zero
  la t0, pmp_rw
  ld t1, 0(t0)
  sd t1, 8(t0)
  EXPECT_TRAP_RESUME_M(m_after_nofetch)
  GOTO_S(s_nothing)
s_nothing:
  FAIL
m_after_nofetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  la t0, s_nothing
  CHECK_TVALR(t0)
  CHECK_EQR(s7, t0)
  MREC(REC_STATUS)
  CHECK_BITS(t5, MSTATUS_MPP, MSTATUS_MPP_S)

  // ---- Entries:
  //   0  TOR [0, _text_end)           R X    (code)
  //   1  NAPOT pmp_rw (4 KiB)         R W
  //   2  (off; its address is the bottom of entry 3)
  //   3  TOR [pmp_tor, pmp_tor_end)   R
  //   4  NA4 pmp_na4                  R W
  //   5  NAPOT pmp_prio (4 KiB)       R      (wins over 6)
  //   6  NAPOT pmp_prio (8 KiB)       R W
  la t0, _text_end
  srli t0, t0, 2
  csrw pmpaddr0, t0
  la t0, pmp_rw
  napot t0, 4096
  csrw pmpaddr1, t0
  la t0, pmp_tor
  srli t0, t0, 2
  csrw pmpaddr2, t0
  la t0, pmp_tor_end
  srli t0, t0, 2
  csrw pmpaddr3, t0
  la t0, pmp_na4
  srli t0, t0, 2
  csrw pmpaddr4, t0
  la t0, pmp_prio
  napot t0, 4096
  csrw pmpaddr5, t0
  la t0, pmp_prio
  napot t0, 8192
  csrw pmpaddr6, t0
  li t0, (CFG_TOR | CFG_R | CFG_X) | ((CFG_NAPOT | CFG_R | CFG_W) << 8) | ((CFG_TOR | CFG_R) << 24) | ((CFG_NA4 | CFG_R | CFG_W) << 32) | ((CFG_NAPOT | CFG_R) << 40) | ((CFG_NAPOT | CFG_R | CFG_W) << 48)
  csrw pmpcfg0, t0
  csrr t1, pmpcfg0
  CHECK_EQR(t1, t0)

  // Addresses used below, kept in saved registers.
  la s0, pmp_rw
  la s1, pmp_tor
  la s2, pmp_tor_end
  la s3, pmp_na4
  la s4, pmp_prio
  la s5, pmp_none

  // ---- M is not restricted by unlocked entries.
  sd zero, 0(s1)
  sd zero, 0(s5)
  GOTO_S(s_main)
s_main:
  // NAPOT RW.
  ld t1, 0(s0)
  sd t1, 16(s0)
  li t0, 4088
  add t0, s0, t0
  sd t1, 0(t0)                // last dword of the region
  EXPECT_TRAP_RESUME(s_after_xfetch)
  jalr ra, 0(s0)              // no X
s_after_xfetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  CHECK_TVALR(s0)
  // TOR R: loads anywhere inside, stores fault, the ends are exclusive.
  ld t1, 0(s1)
  ld t1, -8(s2)
  EXPECT_TRAP
  sd t1, 8(s1)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  addi t0, s1, 8
  CHECK_TVALR(t0)
  EXPECT_TRAP
  ld t1, 0(s2)                // first byte past the top
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVALR(s2)
  EXPECT_TRAP
  lw t1, -4(s1)               // just below the bottom
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  // NA4: exactly four bytes.
  lw t1, 0(s3)
  sw t1, 0(s3)
  EXPECT_TRAP
  lw t1, 4(s3)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  EXPECT_TRAP
  ld t1, 0(s3)                // aligned, but only half of it matches
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVALR(s3)
  // Priority: entry 5 (R) decides before entry 6 (RW) ...
  ld t1, 0(s4)
  EXPECT_TRAP
  sd t1, 0(s4)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  // ... and past entry 5's 4 KiB, entry 6 allows writes.
  li t0, 4096
  add t0, s4, t0
  sd t1, 0(t0)
  // Memory no entry matches.
  EXPECT_TRAP
  ld t1, 0(s5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVALR(s5)
  EXPECT_TRAP
  amoswap.d t1, t1, (s5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  EXPECT_TRAP
  sb t1, 3(s5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  addi t0, s5, 3
  CHECK_TVALR(t0)
  li a7, 0
  S_GOTO_U(u_main)
u_main:
  // U follows the same entries.
  ld t1, 0(s0)
  sd t1, 24(s0)
  ld t1, 0(s1)
  EXPECT_TRAP
  sd t1, 0(s1)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  EXPECT_TRAP
  lw t1, 0(s5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  GOTO_M(m_main)
m_main:
  // ---- M with MPRV = 1 and MPP = U is checked like U.
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ld t1, 0(s1)
  EXPECT_TRAP
  sd t1, 0(s1)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  li t0, MSTATUS_MPRV         // (the trap set MPP = M; MPRV still 1)
  csrc mstatus, t0
  sd t1, 0(s1)                // without MPRV: fine
  // An entry that matches only part of an access fails it, even for M and
  // an unlocked entry: ld over NA4 entry 4 and the word after it.
  lw t1, 0(s3)
  EXPECT_TRAP
  ld t1, 0(s3)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVALR(s3)
  EXPECT_TRAP
  sd t1, 0(s3)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  // Same at the top of the TOR range.
  EXPECT_TRAP
  ld t1, -4(s2)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)

  // ---- Locked entry 7: NAPOT pmp_locked, R only, applies to M too.
  la t0, pmp_locked
  napot t0, 4096
  csrw pmpaddr7, t0
  li t0, (CFG_L | CFG_NAPOT | CFG_R) << 56
  csrs pmpcfg0, t0
  la a5, pmp_locked
  ld t1, 0(a5)                // M may read
  EXPECT_TRAP
  sd t1, 0(a5)                // ... but not write
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  CHECK_TVALR(a5)
  EXPECT_TRAP
  amoadd.w t1, t1, (a5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  EXPECT_TRAP_RESUME(m_after_lfetch)
  jalr ra, 0(a5)              // ... nor execute
m_after_lfetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  CHECK_TVALR(a5)
  // The locked entry cannot be changed; its neighbours in pmpcfg0 can.
  csrr t2, pmpcfg0
  li t0, 0xff << 56
  csrc pmpcfg0, t0
  csrr t1, pmpcfg0
  CHECK_EQR(t1, t2)
  csrr t2, pmpaddr7
  csrw pmpaddr7, zero
  csrr t1, pmpaddr7
  CHECK_EQR(t1, t2)
  li t0, CFG_W << 48
  csrc pmpcfg0, t0
  csrr t1, pmpcfg0
  srli t1, t1, 48
  andi t1, t1, 0xff
  CHECK_EQ(t1, CFG_NAPOT | CFG_R)
  // Locked TOR entry 9 also locks pmpaddr8 (its bottom).
  la t0, pmp_ltor
  srli t0, t0, 2
  csrw pmpaddr8, t0
  la t0, pmp_ltor_end
  srli t0, t0, 2
  csrw pmpaddr9, t0
  li t0, (CFG_L | CFG_TOR | CFG_R | CFG_W) << 8
  csrw pmpcfg2, t0
  csrr t2, pmpaddr8
  csrw pmpaddr8, zero
  csrr t1, pmpaddr8
  CHECK_EQR(t1, t2)
  la a5, pmp_ltor
  sd t1, 0(a5)                // RW for M
  EXPECT_TRAP_RESUME(m_after_ltfetch)
  jalr ra, 0(a5)
m_after_ltfetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  // S is held to the locked entries like any other.
  la s0, pmp_locked
  GOTO_S(s_locked)
s_locked:
  ld t1, 0(s0)
  EXPECT_TRAP
  sd t1, 0(s0)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  GOTO_M(m_done)
m_done:
  PASS

  .data
  .balign 8192
pmp_prio: .skip 8192
pmp_rw: .dword 0x5257
  .balign 4096
pmp_none: .skip 4096
pmp_tor: .skip 0x800
pmp_tor_end: .skip 0x800
pmp_na4: .skip 4096
pmp_locked: .skip 4096
pmp_ltor: .skip 4096
pmp_ltor_end:
