// Sv39 translation from S-mode (and from M with MPRV): 4 KiB, 2 MiB and
// 1 GiB pages, the upper half of the address space; page faults with the
// right cause (12 fetch, 13 load, 15 store) and stval; non-canonical
// addresses; misaligned superpages; reserved encodings (W without R, bits
// 60..54, PBMT when menvcfg.PBMTE = 0, a pointer at level 0); an access fault
// while walking; the U bit with SUM, MXR; hardware A and D updates (PTE read
// back); SFENCE.VMA making PTE changes visible; misaligned accesses and
// instructions that cross into another (non-adjacent, or invalid) page; PMP
// applied to the page-table walk and to the A/D update.
//
// Virtual layout:
//   0x0000000040000000 + n*4K  pt_l0[n] (4 KiB pages, see below)
//   0x0000000040200000         2 MiB page -> 0x80400000
//   0x0000000040400000         2 MiB page with a misaligned PPN
//   0x0000000080000000         1 GiB identity (code, data, tables), RWX
//   0x00000000c0000000         1 GiB read-only alias of 0x80000000
//   0x0000000100000000         1 GiB page with a misaligned PPN
//   0x0000000140000000         pointer to a "table" outside RAM
//   0xffffffffc0000000         1 GiB alias of 0x80000000 (upper half)

#include "test.h"

#define VA_L0 0x40000000
#define VA_A (VA_L0 + 0x0000)      /* page_a, RW */
#define VA_RO (VA_L0 + 0x1000)     /* page_b, R */
#define VA_U (VA_L0 + 0x2000)      /* page_c, U RW */
#define VA_X (VA_L0 + 0x3000)      /* x_page, X only */
#define VA_AD (VA_L0 + 0x4000)     /* page_ad, RW with A = D = 0 */
#define VA_INV (VA_L0 + 0x5000)    /* invalid */
#define VA_WO (VA_L0 + 0x6000)     /* W without R: reserved */
#define VA_SF (VA_L0 + 0x7000)     /* changed under SFENCE.VMA */
#define VA_P8 (VA_L0 + 0x8000)     /* page_p8 */
#define VA_P9 (VA_L0 + 0x9000)     /* page_a again: not adjacent to page_p8 */
#define VA_P10 (VA_L0 + 0xa000)    /* invalid, after VA_P9 */
#define VA_UCODE (VA_L0 + 0xb000)  /* user_code, U RX */
                                   /* 0xc000: cross_lo, 0xd000 invalid, 0xe000 cross_lo, 0xf000 cross_hi */
#define VA_MEGA 0x40200000
#define VA_MEGA_BAD 0x40400000
#define VA_GIGA 0xc0000000
#define VA_GIGA_BAD 0x100000000
#define VA_BADWALK 0x140000000
#define VA_HIGH 0xffffffffc0000000
#define PA_MEGA 0x80400000

#define PTE_LEAF_RW (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

  .globl test_main
test_main:
  CLEAR_RECS
  // Data behind the 2 MiB page.
  li t0, PA_MEGA + 0x1238
  li t1, 0x4d45474150414745
  sd t1, 0(t0)

  // ---- Page tables.
  li t3, RAM_BASE
  set_pte pt_root, 2, t3, PTE_KERN | PTE_G
  set_pte_label pt_root, 1, pt_l1, PTE_V
  set_pte_label pt_l1, 0, pt_l0, PTE_V
  set_pte_label pt_l0, 0, page_a, PTE_LEAF_RW
  set_pte_label pt_l0, 1, page_b, PTE_V | PTE_R | PTE_A
  set_pte_label pt_l0, 2, page_c, PTE_LEAF_RW | PTE_U
  set_pte_label pt_l0, 3, x_page, PTE_V | PTE_X | PTE_A
  set_pte_label pt_l0, 4, page_ad, PTE_V | PTE_R | PTE_W
  set_pte_label pt_l0, 6, page_a, PTE_V | PTE_W | PTE_A | PTE_D
  set_pte_label pt_l0, 7, page_a, PTE_LEAF_RW
  set_pte_label pt_l0, 8, page_p8, PTE_LEAF_RW
  set_pte_label pt_l0, 9, page_a, PTE_LEAF_RW
  set_pte_label pt_l0, 11, user_code, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
  set_pte_label pt_l0, 12, cross_lo, PTE_V | PTE_X | PTE_A
  set_pte_label pt_l0, 14, cross_lo, PTE_V | PTE_X | PTE_A
  set_pte_label pt_l0, 15, cross_hi, PTE_V | PTE_X | PTE_A
  set_pte_pa pt_l1, 1, PA_MEGA, PTE_LEAF_RW
  set_pte_pa pt_l1, 2, PA_MEGA + 0x1000, PTE_LEAF_RW
  set_pte_pa pt_root, 3, RAM_BASE, PTE_V | PTE_R | PTE_A
  set_pte_pa pt_root, 4, RAM_BASE + 0x200000, PTE_LEAF_RW
  set_pte_pa pt_root, 5, 0x1000, PTE_V
  set_pte_pa pt_root, 511, RAM_BASE, PTE_LEAF_RW

  // satp reads back what was written.
  la t0, pt_root
  srli t0, t0, 12
  li t1, SATP_SV39
  or t0, t0, t1
  csrw satp, t0
  csrr t1, satp
  CHECK_EQR(t1, t0)
  sfence.vma

  // ---- M with MPRV = 1 translates loads and stores as MPP.
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPP_S | MSTATUS_MPRV
  csrs mstatus, t0
  li a5, VA_A
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x0706050403020100)
  li a5, VA_U                 // U page as S without SUM: fault (taken in M)
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_U)
  li t0, MSTATUS_MPRV         // (the trap set MPP = M; restore MPRV's view as U)
  csrs mstatus, t0
  li t0, MSTATUS_MPP
  csrc mstatus, t0            // MPP = U
  ld t1, 0(a5)                // U page as U: fine
  CHECK_EQ(t1, 0xc0c0c0c0c0c0c0c0)
  li a5, VA_A
  EXPECT_TRAP
  sd zero, 0(a5)              // non-U page as U: store page fault
  CHECK_TRAP(PRIV_M, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_A)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  // Without MPRV, M ignores satp.
  la a5, page_a
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x0706050403020100)

  // Page faults go to S.
  li t0, (1 << CAUSE_FETCH_PAGE) | (1 << CAUSE_LOAD_PAGE) | (1 << CAUSE_STORE_PAGE)
  csrw medeleg, t0
  li t0, MSTATUS_SUM | MSTATUS_MXR
  csrc mstatus, t0
  GOTO_S(s_main)
s_main:
  // ---- 4 KiB pages.
  li a5, VA_A
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x0706050403020100)
  li t0, 0x1111222233334444
  sd t0, 8(a5)
  la t2, page_a
  ld t1, 8(t2)                // through the identity map: same physical page
  CHECK_EQR(t1, t0)
  li a5, VA_RO
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)
  EXPECT_TRAP
  sd zero, 16(a5)             // read-only
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_RO + 16)
  li a5, VA_INV
  EXPECT_TRAP
  lw t1, 4(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_INV + 4)
  EXPECT_TRAP
  sb t1, 5(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_INV + 5)
  EXPECT_TRAP
  amoadd.w t1, t1, (a5)       // AMOs report store faults
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_INV)
  li a5, VA_WO                // W without R is reserved: page fault for any access
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(VA_WO)
  // Fetch from a page without X: fault 12 with stval = sepc = the target.
  li a5, VA_A
  EXPECT_TRAP_RESUME(s_after_fetch)
  jalr ra, 0(a5)
s_after_fetch:
  CHECK_TRAP(PRIV_S, CAUSE_FETCH_PAGE)
  CHECK_TVAL(VA_A)
  CHECK_EQ(s7, VA_A)
  // Execute-only page: fetch works, loads fault unless MXR = 1.
  li a5, VA_X
  jalr ra, 0(a5)              // x_page: ret
  EXPECT_TRAP
  lw t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_X)
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  lw t1, 0(a5)
  CHECK_EQ(t1, 0x00008067)    // jalr x0, 0(ra)
  EXPECT_TRAP
  sw t1, 0(a5)                // MXR does not make it writable
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  li t0, MSTATUS_MXR
  csrc sstatus, t0

  // ---- U bit: S needs SUM for loads and stores, and may never fetch.
  li a5, VA_U
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_U)
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xc0c0c0c0c0c0c0c0)
  sd t1, 8(a5)
  li a5, VA_UCODE
  EXPECT_TRAP_RESUME(s_after_ufetch)
  jalr ra, 0(a5)
s_after_ufetch:
  CHECK_TRAP(PRIV_S, CAUSE_FETCH_PAGE)
  CHECK_TVAL(VA_UCODE)
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  // U-mode: its own pages work, S pages fault (into S).
  li t0, VA_UCODE
  csrw sepc, t0
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  sret
m_back_from_u:                // (reached in M, see user_code)
  CHECK_EQ(a2, 0xc0c0c0c0c0c0c0c0)
  CHECK_EQ(a3, CAUSE_LOAD_PAGE)
  CHECK_EQ(a4, VA_A)
  CHECK_EQ(a6, PRIV_S)
  CHECK_EQ(a7, 0)             // (cleared by GOTO_M)
  GOTO_S(s_part2)
s_part2:
  // ---- Hardware A/D update, read back from the PTE.
  get_pte t0, pt_l0, 4
  CHECK_BITS(t0, PTE_A | PTE_D, 0)
  li a5, VA_AD
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xd0d0d0d0d0d0d0d0)
  get_pte t0, pt_l0, 4
  CHECK_BITS(t0, PTE_A | PTE_D, PTE_A)
  sd t1, 8(a5)
  get_pte t0, pt_l0, 4
  CHECK_BITS(t0, PTE_A | PTE_D, PTE_A | PTE_D)
  // The rest of the PTE is unchanged.
  la t2, page_ad
  srli t2, t2, 12
  slli t2, t2, 10
  ori t2, t2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  CHECK_EQR(t0, t2)

  // ---- SFENCE.VMA makes PTE changes visible.
  li a5, VA_SF
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x0706050403020100)          // page_a
  set_pte_label pt_l0, 7, page_b, PTE_LEAF_RW
  sfence.vma
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)          // page_b
  set_pte_label pt_l0, 7, page_c, PTE_LEAF_RW
  sfence.vma a5, zero                       // this page only
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xc0c0c0c0c0c0c0c0)          // page_c
  set_pte_label pt_l0, 7, page_c, PTE_V | PTE_R | PTE_A
  sfence.vma a5, zero
  EXPECT_TRAP
  sd t1, 0(a5)                              // now read-only
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  la t0, pt_l0
  sd zero, 7*8(t0)
  sfence.vma
  EXPECT_TRAP
  ld t1, 0(a5)                              // now invalid
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_SF)
  set_pte_label pt_l0, 7, page_b, PTE_V | PTE_R | PTE_A
  sfence.vma
  ld t1, 0(a5)                              // valid again
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)

  // ---- Superpages.
  li a5, VA_MEGA + 0x1238
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x4d45474150414745)
  li a5, VA_MEGA_BAD + 0x1238               // PPN not 2 MiB aligned
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_MEGA_BAD + 0x1238)
  la t0, page_b
  li t1, RAM_BASE
  sub t0, t0, t1
  li t1, VA_GIGA
  add a5, t0, t1                            // page_b through the 1 GiB alias
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)
  EXPECT_TRAP
  sd t1, 0(a5)                              // the alias is read-only
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVALR(a5)
  li a5, VA_GIGA_BAD + 0x40                 // PPN not 1 GiB aligned
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_GIGA_BAD + 0x40)
  la t0, page_b                             // upper half
  li t1, RAM_BASE
  sub t0, t0, t1
  li t1, VA_HIGH
  add a5, t0, t1
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)

  // ---- Non-canonical addresses (bits 63..39 must equal bit 38).
  li a5, 0x4000000000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(0x4000000000)
  li a5, 0xffffff0040000000
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  CHECK_TVAL(0xffffff0040000000)
  li a5, 0x8000000000 + VA_A
  EXPECT_TRAP_RESUME(s_after_nc_fetch)
  jalr ra, 0(a5)
s_after_nc_fetch:
  CHECK_TRAP(PRIV_S, CAUSE_FETCH_PAGE)
  CHECK_TVAL(0x8000000000 + VA_A)

  // ---- Reserved PTE encodings: bits 60..54 set, PBMT without
  // menvcfg.PBMTE, a pointer at the last level.
  la t0, page_b
  srli t0, t0, 12
  slli t0, t0, 10
  ori t0, t0, PTE_V | PTE_R | PTE_A
  li t1, 1 << 60
  or t1, t1, t0
  la t2, pt_l0
  sd t1, 16*8(t2)
  li t1, 1 << 61              // PBMT = NC
  or t1, t1, t0
  sd t1, 17*8(t2)
  andi t1, t0, ~(PTE_R | PTE_A)
  sd t1, 18*8(t2)             // V only: a pointer at level 0
  sd t0, 19*8(t2)             // the same page, well-formed
  sfence.vma
  li a5, VA_L0 + 0x13000
  ld t1, 0(a5)
  CHECK_EQ(t1, 0xb0b0b0b0b0b0b0b0)
  li a5, VA_L0 + 0x10000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  li a5, VA_L0 + 0x11000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  li a5, VA_L0 + 0x12000
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  CHECK_TVAL(VA_L0 + 0x12000)

  // ---- A PTE outside RAM: access fault (not delegated: M), stval = the VA.
  li a5, VA_BADWALK + 0x10
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVAL(VA_BADWALK + 0x10)

  // ---- Misaligned accesses across pages that are not adjacent in RAM.
  li a5, VA_P8 + 0xffc
  ld t1, 0(a5)
  CHECK_EQ(t1, 0x0302010011223344)
  li t0, 0x8877665544332211
  sd t0, 0(a5)
  ld t1, 0(a5)
  CHECK_EQR(t1, t0)
  la t2, page_a
  lw t1, 0(t2)
  CHECK_EQ(t1, 0xffffffff88776655)          // (lw sign-extends)
  la t2, page_p8 + 0xffc
  lwu t1, 0(t2)
  CHECK_EQ(t1, 0x44332211)
  li a5, VA_P8 + 0xfff
  lhu t1, 0(a5)
  CHECK_EQ(t1, 0x5544)
  // Crossing into an invalid page: the fault names the part that faulted.
  li a5, VA_P9 + 0xffe
  EXPECT_TRAP
  lw t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_LOAD_PAGE)
  beqz s8, 1f
  CHECK_TVAL(VA_P10)
1:
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_S, CAUSE_STORE_PAGE)
  beqz s8, 1f
  CHECK_TVAL(VA_P10)
1:
  // ---- An instruction that straddles two pages (not adjacent in RAM) ...
  li a0, 0
  li a5, VA_L0 + 0xeffe
  jalr ra, 0(a5)              // addi a0, a0, 0x123; ret
  CHECK_EQ(a0, 0x123)
  // ... and one whose second half is on an invalid page: sepc = its start,
  // stval = the part that faulted.
  li a5, VA_L0 + 0xcffe
  EXPECT_TRAP_RESUME(s_after_split_fetch)
  jalr ra, 0(a5)
s_after_split_fetch:
  CHECK_TRAP(PRIV_S, CAUSE_FETCH_PAGE)
  CHECK_EQ(s7, VA_L0 + 0xcffe)
  CHECK_TVAL(VA_L0 + 0xd000)
  CHECK_EQ(a0, 0x123)
  GOTO_M(m_done)
m_done:
  csrw medeleg, zero
  // ---- PMP checks the page-table walk as an S-mode access: with the tables
  // outside every PMP entry, translated accesses take access faults of their
  // own type.
  la t0, pt_root
  srli t0, t0, 2
  csrw pmpaddr0, t0
  li t0, 0x0f                 // TOR [0, pt_root) RWX
  csrw pmpcfg0, t0
  csrw pmpcfg2, zero          // drop the runtime's catch-all entry
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPP_S | MSTATUS_MPRV
  csrs mstatus, t0
  li a5, VA_A
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVAL(VA_A)
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPP_S
  csrs mstatus, t0
  EXPECT_TRAP
  sd t1, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_STORE_ACCESS)
  CHECK_TVAL(VA_A)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  EXPECT_TRAP_RESUME_M(m_after_walk_fetch)
  GOTO_S(s_unreachable)
s_unreachable:
  FAIL
m_after_walk_fetch:
  CHECK_TRAP(PRIV_M, CAUSE_FETCH_ACCESS)
  la t0, s_unreachable
  CHECK_TVALR(t0)
  // Tables readable but not writable: a walk that must set A or D fails
  // with an access fault (the implicit PTE write is checked too).
  la t0, pt_root
  srli t0, t0, 2
  csrw pmpaddr0, t0
  la t0, pt_end
  srli t0, t0, 2
  csrw pmpaddr1, t0
  li t0, 0x0f | (0x09 << 8)   // [0, pt_root) RWX, [pt_root, pt_end) R
  csrw pmpcfg0, t0
  la t0, pt_l0
  ld t1, 4*8(t0)
  andi t1, t1, ~(PTE_A | PTE_D)
  sd t1, 4*8(t0)              // page_ad: A = D = 0 again
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, MSTATUS_MPP_S | MSTATUS_MPRV
  csrs mstatus, t0
  li a5, VA_A
  ld t1, 0(a5)                // A and D already set: walk only reads
  li a5, VA_AD
  EXPECT_TRAP
  ld t1, 0(a5)
  CHECK_TRAP(PRIV_M, CAUSE_LOAD_ACCESS)
  CHECK_TVAL(VA_AD)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  get_pte t1, pt_l0, 4
  CHECK_BITS(t1, PTE_A | PTE_D, 0)
  csrw pmpcfg0, zero
  li t0, (0x1f << 56)
  csrw pmpcfg2, t0
  csrw satp, zero
  sfence.vma
  PASS

// ---- U-mode code, mapped at VA_UCODE (U, R, X). Leaves results in a2..a7
// and returns to M.
  .section .text.user, "ax"
  .balign 4096
user_code:
  li t0, VA_U
  ld a2, 0(t0)                // own page: fine
  li t0, VA_A
  EXPECT_TRAP
  ld t1, 0(t0)                // S page: load page fault, delegated to S
  mv a3, s9
  mv a4, s8
  mv a6, s6
  GOTO_M(m_back_from_u)

// ---- An instruction split over two pages: its low half ends cross_lo, its
// high half starts cross_hi (mapped at the next virtual page).
  .balign 4096
cross_hi:
  .half 0x1235                // addi a0, a0, 0x123 = 0x12350513
  ret
  .balign 4096
  .skip 4096                  // keeps the two pages apart in RAM
cross_lo:
  .skip 0xffe
  .half 0x0513

// ---- Execute-only page.
  .balign 4096
x_page:
  ret
  .balign 4096

  .data
  .balign 4096
page_a: .dword 0x0706050403020100
  .balign 4096
page_b: .dword 0xb0b0b0b0b0b0b0b0
  .balign 4096
page_c: .dword 0xc0c0c0c0c0c0c0c0
  .balign 4096
page_ad: .dword 0xd0d0d0d0d0d0d0d0
  .balign 4096
page_p8: .skip 0xff8
  .dword 0x1122334455667788

  .bss
  .balign 4096
pt_root: .skip 4096
pt_l1: .skip 4096
pt_l0: .skip 4096
pt_end:
