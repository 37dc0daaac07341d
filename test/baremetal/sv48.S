// Sv48 translation from S-mode: the four-level walk with 4 KiB, 2 MiB,
// 1 GiB and 512 GiB pages, misaligned superpages at each level, canonical
// and non-canonical addresses (bits 63..48 must equal bit 47), the upper
// half, A/D updates on a superpage PTE, and SFENCE.VMA on a changed
// top-level PTE.
//
// Virtual layout:
//   root[0] -> l2:  l2[1] -> l1:  l1[0] -> l0: 4 KiB pages at 0x40000000
//                                 l1[1]: 2 MiB page 0x40200000 -> 0x80400000
//                                 l1[2]: 2 MiB page, misaligned PPN
//                   l2[2]: 1 GiB identity 0x80000000 (code, data, tables)
//                   l2[3]: 1 GiB alias 0xc0000000 -> 0x80000000
//                   l2[4]: 1 GiB page, misaligned PPN
//   root[1]: 512 GiB page at 0x8000000000 -> PA 0
//   root[2]: 512 GiB page, PPN only 1 GiB aligned
//   root[3]: 512 GiB page at 0x18000000000 -> PA 0 with A = D = 0
//   root[4]: changed under SFENCE.VMA
//   root[256]: 512 GiB page at 0xffff800000000000 -> PA 0 (upper half)

#include "test.h"

#define PTE_LEAF_RW (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define VA_A 0x40000000
#define VA_MEGA 0x40200000
#define VA_MEGA_BAD 0x40400000
#define VA_GIGA 0xc0000000
#define VA_GIGA_BAD 0x100000000
#define VA_TERA 0x8000000000
#define VA_TERA_BAD 0x10000000000
#define VA_TERA_AD 0x18000000000
#define VA_TERA_SF 0x20000000000
#define VA_HIGH 0xffff800000000000
#define PA_MEGA 0x80400000

// a5 = VA base + (label - 0) (the PA of label inside a 512 GiB page at PA 0).
.macro va_of reg, base, label
  la \reg, \label
  li t6, \base
  add \reg, \reg, t6
.endm

  .globl test_main
test_main:
  CLEAR_RECS
  li t0, PA_MEGA + 0x2468
  li t1, 0x5356343820324d42
  sd t1, 0(t0)
  set_pte_label pt_root, 0, pt_l2, PTE_V
  set_pte_label pt_l2, 1, pt_l1, PTE_V
  set_pte_label pt_l1, 0, pt_l0, PTE_V
  set_pte_label pt_l0, 0, page_a, PTE_LEAF_RW
  set_pte_pa pt_l1, 1, PA_MEGA, PTE_LEAF_RW
  set_pte_pa pt_l1, 2, PA_MEGA + 0x3000, PTE_LEAF_RW
  set_pte_pa pt_l2, 2, RAM_BASE, PTE_KERN
  set_pte_pa pt_l2, 3, RAM_BASE, PTE_LEAF_RW
  set_pte_pa pt_l2, 4, RAM_BASE + 0x1000, PTE_LEAF_RW
  set_pte_pa pt_root, 1, 0, PTE_LEAF_RW
  set_pte_pa pt_root, 2, 0x40000000, PTE_LEAF_RW
  set_pte_pa pt_root, 3, 0, PTE_V | PTE_R | PTE_W
  set_pte_pa pt_root, 4, 0, PTE_LEAF_RW
  set_pte_pa pt_root, 256, 0, PTE_LEAF_RW
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_SV48
  or t0, t0, t1
  csrw satp, t0
  csrr t1, satp
  CHECK_EQR(t1, t0)
  sfence.vma
  li t0, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
  csrw medeleg, t0
  GOTO_S(s_main)
s_main:
  // ---- 4 KiB page (four levels).
  li a5, VA_A
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  // ---- 2 MiB page (three levels) and a misaligned one.
  li a5, VA_MEGA + 0x2468
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x5356343820324d42)
  li a5, VA_MEGA_BAD
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_MEGA_BAD)
  // ---- 1 GiB page (two levels) and a misaligned one.
  la a5, page_a
  li t0, RAM_BASE
  sub a5, a5, t0
  li t0, VA_GIGA
  add a5, a5, t0
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  li a5, VA_GIGA_BAD + 8
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_GIGA_BAD + 8)
  // ---- 512 GiB page (one level): VA_TERA + PA.
  va_of a5, VA_TERA, page_a
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  li t0, 0x0102030405060708
  sd t0, 8(a5)
  la t2, page_a
  ld t1, 8(t2)
  CHECK_EQR(t1, t0)
  // A 512 GiB page whose PPN is only 1 GiB aligned.
  li a5, VA_TERA_BAD + 0x80000000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_TERA_BAD + 0x80000000)
  li a5, VA_TERA_BAD + 0x80000000
  EXPECT_TRAP_RESUME(s_after_fetch)
  jalr ra, 0(a5)
s_after_fetch:
  CHECK_TRAP(PRIV_S, CAUSE_FETCH_PAGE)
  CHECK_TVAL(VA_TERA_BAD + 0x80000000)
  // ---- Upper half: 0xffff800000000000 is canonical in Sv48.
  va_of a5, VA_HIGH, page_a
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  // ---- Non-canonical: bit 47 set, bits 63..48 clear; and the reverse.
  li a5, 0x0000800000000000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(0x0000800000000000)
  li a5, 0xffff000080000000
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(0xffff000080000000)
  // (An address that is non-canonical in Sv39 but fine in Sv48.)
  li a5, VA_TERA
  la t0, page_a
  add a5, a5, t0
  lw t1, 0(a5)

  // ---- A and D set on the 512 GiB leaf.
  get_pte t0, pt_root, 3
  CHECK_BITS(t0, PTE_A | PTE_D, 0)
  va_of a5, VA_TERA_AD, page_a
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  get_pte t0, pt_root, 3
  CHECK_BITS(t0, PTE_A | PTE_D, PTE_A)
  sd t1, 16(a5)
  get_pte t0, pt_root, 3
  CHECK_BITS(t0, PTE_A | PTE_D, PTE_A | PTE_D)

  // ---- SFENCE.VMA after changing a top-level PTE: 512 GiB page to a
  // pointer, then invalid.
  va_of a5, VA_TERA_SF, page_a
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)
  set_pte_pa pt_root, 4, 0x80000000, PTE_V | PTE_R | PTE_A   // now misaligned
  sfence.vma a5, zero
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  la t0, pt_root
  sd zero, 4*8(t0)
  sfence.vma
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVALR(a5)
  set_pte_pa pt_root, 4, 0, PTE_LEAF_RW
  sfence.vma
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xa4a4a4a4a4a4a4a4)

  GOTO_M(m_done)
m_done:
  csrw satp, zero
  sfence.vma
  csrw medeleg, zero
  PASS

  .data
  .balign 4096
page_a: .dword 0xa4a4a4a4a4a4a4a4

  .bss
  .balign 4096
pt_root: .skip 4096
pt_l2: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
