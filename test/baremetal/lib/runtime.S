// Runtime of the bare-metal tests: reset entry, the M-mode and S-mode trap
// handlers that implement the conventions of test.h, PASS/FAIL reporting and
// a little console output. Linked with every test program, which provides
// `test_main` (entered in M-mode, reset state plus the setup below).

#include "test.h"

  .section .text.init, "ax"
  .globl _start
_start:
  la t0, trap_m
  csrw mtvec, t0
  la t0, trap_s
  csrw stvec, t0
  // PMP entry 15 (lowest priority): the whole address space RWX, so S and U
  // may run anywhere until a test programs PMP itself.
  li t0, -1
  csrw pmpaddr15, t0
  li t0, (0x1f << 56)
  csrw pmpcfg2, t0
  la sp, stack_top
  li s6, 0
  li s7, 0
  li s8, 0
  li s9, 0
  li s10, 0
  li s11, 0
  j test_main

  .text

// Reports failure from any mode: a0 = code (source line), a1, a2 = details.
  .globl fail
fail:
  li a7, MAGIC_FAIL
  ecall
1: j 1b

  .globl pass
pass:
  li a7, MAGIC_PASS
  ecall
1: j 1b

// ---------------------------------------------------------------- M-mode
  .align 6
  .globl trap_m
trap_m:
  csrw mscratch, t0
  la t0, m_rec
  sd t1, REC_SAVE+0(t0)
  sd t2, REC_SAVE+8(t0)
  sd t3, REC_SAVE+16(t0)
  csrr t1, mscratch
  sd t1, REC_SAVE+24(t0)
  csrr t1, mcause
  bltz t1, .Lm_irq
  // ecall (causes 8, 9, 11) with a request in a7?
  addi t2, t1, -8
  li t3, 3
  bgtu t2, t3, .Lm_exc
  li t2, MAGIC_FAIL
  beq a7, t2, .Lm_fail
  li t2, MAGIC_PASS
  beq a7, t2, .Lm_pass
  li t2, MAGIC_GOTO_M
  beq a7, t2, .Lm_gotom
.Lm_exc:
  beqz s11, .Lm_unexpected
  li s11, 0
  li s6, PRIV_M
  mv s9, t1
  csrr s8, mtval
  csrr s7, mepc
  ld t2, REC_COUNT(t0)
  addi t2, t2, 1
  sd t2, REC_COUNT(t0)
  sd t1, REC_CAUSE(t0)
  csrr t2, mepc
  sd t2, REC_EPC(t0)
  csrr t2, mtval
  sd t2, REC_TVAL(t0)
  csrr t2, mstatus
  sd t2, REC_STATUS(t0)
  bnez s10, 1f
  csrr s10, mepc
  addi s10, s10, 4
1:
  // Bit 0 of the resume address asks to resume in M-mode.
  andi t2, s10, 1
  beqz t2, 2f
  li t2, MSTATUS_MPP
  csrs mstatus, t2
  andi s10, s10, -2
2:
  csrw mepc, s10
  li s10, 0
  j .Lm_ret
.Lm_irq:
  ld t2, REC_COUNT(t0)
  addi t2, t2, 1
  sd t2, REC_COUNT(t0)
  sd t1, REC_CAUSE(t0)
  csrr t2, mepc
  sd t2, REC_EPC(t0)
  csrr t2, mtval
  sd t2, REC_TVAL(t0)
  csrr t2, mstatus
  sd t2, REC_STATUS(t0)
  ld t2, REC_NIRQ(t0)
  li t3, 8
  bgeu t2, t3, 1f
  slli t3, t2, 3
  add t3, t3, t0
  sd t1, REC_IRQLOG(t3)
1:
  addi t2, t2, 1
  sd t2, REC_NIRQ(t0)
  // Disable this interrupt so that it is not taken again.
  li t2, 1
  sll t2, t2, t1
  csrc mie, t2
.Lm_ret:
  ld t1, REC_SAVE+0(t0)
  ld t2, REC_SAVE+8(t0)
  ld t3, REC_SAVE+16(t0)
  ld t0, REC_SAVE+24(t0)
  mret
.Lm_gotom:
  li a7, 0                    // so that a later plain ecall is not taken for a request
  li t2, MSTATUS_MPP
  csrs mstatus, t2
  csrw mepc, a0
  j .Lm_ret
.Lm_pass:
  la a0, msg_pass
  call puts
  li t0, TESTDEV
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b
.Lm_fail:
  mv s0, a0
  mv s1, a1
  mv s2, a2
  la a0, msg_fail
  call puts
  mv a0, s0
  call puthex
  la a0, msg_got
  call puts
  mv a0, s1
  call puthex
  la a0, msg_want
  call puts
  mv a0, s2
  call puthex
  csrr a0, mstatus
  srli a0, a0, 11
  andi a0, a0, 3
  mv s3, a0
  la a0, msg_from
  call puts
  mv a0, s3
  call puthex
  li a0, '\n'
  call putc
  slli s0, s0, 16
  li t1, 0x3333
  or t1, t1, s0
  li t0, TESTDEV
  sw t1, 0(t0)
1: j 1b
.Lm_unexpected:
  la a0, msg_unexp
  call puts
  csrr a0, mcause
  call puthex
  la a0, msg_epc
  call puts
  csrr a0, mepc
  call puthex
  la a0, msg_tval
  call puts
  csrr a0, mtval
  call puthex
  csrr a0, mstatus
  srli a0, a0, 11
  andi a0, a0, 3
  mv s3, a0
  la a0, msg_from
  call puts
  mv a0, s3
  call puthex
  li a0, '\n'
  call putc
  li t1, 0xffff3333
  li t0, TESTDEV
  sw t1, 0(t0)
1: j 1b

// Console output (M-mode only). putc: a0 = byte. puts: a0 = string.
// puthex: a0 = value, printed as 0x and 16 digits. Clobber t0..t3, a0, ra.
putc:
  li t0, TESTDEV_OUT
  sb a0, 0(t0)
  ret
puts:
  li t0, TESTDEV_OUT
1:
  lbu t1, 0(a0)
  beqz t1, 2f
  sb t1, 0(t0)
  addi a0, a0, 1
  j 1b
2:
  ret
puthex:
  li t0, TESTDEV_OUT
  li t1, '0'
  sb t1, 0(t0)
  li t1, 'x'
  sb t1, 0(t0)
  li t2, 60
1:
  srl t1, a0, t2
  andi t1, t1, 15
  addi t1, t1, '0'
  li t3, '9'
  ble t1, t3, 2f
  addi t1, t1, 'a' - '0' - 10
2:
  sb t1, 0(t0)
  addi t2, t2, -4
  bgez t2, 1b
  ret

// ---------------------------------------------------------------- S-mode
  .align 6
  .globl trap_s
trap_s:
  csrw sscratch, t0
  la t0, s_rec
  sd t1, REC_SAVE+0(t0)
  sd t2, REC_SAVE+8(t0)
  sd t3, REC_SAVE+16(t0)
  csrr t1, sscratch
  sd t1, REC_SAVE+24(t0)
  csrr t1, scause
  bltz t1, .Ls_irq
  // Requests from U-mode are passed on to M-mode.
  li t2, CAUSE_ECALL_U
  bne t1, t2, .Ls_exc
  li t2, MAGIC_FAIL
  beq a7, t2, .Ls_forward
  li t2, MAGIC_PASS
  beq a7, t2, .Ls_forward
  li t2, MAGIC_GOTO_M
  beq a7, t2, .Ls_forward
.Ls_exc:
  beqz s11, .Ls_unexpected
  li s11, 0
  li s6, PRIV_S
  mv s9, t1
  csrr s8, stval
  csrr s7, sepc
  ld t2, REC_COUNT(t0)
  addi t2, t2, 1
  sd t2, REC_COUNT(t0)
  sd t1, REC_CAUSE(t0)
  csrr t2, sepc
  sd t2, REC_EPC(t0)
  csrr t2, stval
  sd t2, REC_TVAL(t0)
  csrr t2, sstatus
  sd t2, REC_STATUS(t0)
  bnez s10, 1f
  csrr s10, sepc
  addi s10, s10, 4
1:
  csrw sepc, s10
  li s10, 0
  j .Ls_ret
.Ls_irq:
  ld t2, REC_COUNT(t0)
  addi t2, t2, 1
  sd t2, REC_COUNT(t0)
  sd t1, REC_CAUSE(t0)
  csrr t2, sepc
  sd t2, REC_EPC(t0)
  csrr t2, stval
  sd t2, REC_TVAL(t0)
  csrr t2, sstatus
  sd t2, REC_STATUS(t0)
  ld t2, REC_NIRQ(t0)
  li t3, 8
  bgeu t2, t3, 1f
  slli t3, t2, 3
  add t3, t3, t0
  sd t1, REC_IRQLOG(t3)
1:
  addi t2, t2, 1
  sd t2, REC_NIRQ(t0)
  li t2, 1
  sll t2, t2, t1
  csrc sie, t2
.Ls_ret:
  ld t1, REC_SAVE+0(t0)
  ld t2, REC_SAVE+8(t0)
  ld t3, REC_SAVE+16(t0)
  ld t0, REC_SAVE+24(t0)
  sret
.Ls_forward:
  ld t1, REC_SAVE+0(t0)
  ld t2, REC_SAVE+8(t0)
  ld t3, REC_SAVE+16(t0)
  ld t0, REC_SAVE+24(t0)
  ecall
1: j 1b
.Ls_unexpected:
  li a0, 0xfffd
  csrr a1, scause
  csrr a2, sepc
  j fail

  .section .rodata
msg_pass: .asciz "PASS\n"
msg_fail: .asciz "FAIL at line "
msg_got: .asciz " got "
msg_want: .asciz " expected "
msg_from: .asciz " priv "
msg_unexp: .asciz "FAIL unexpected trap mcause="
msg_epc: .asciz " mepc="
msg_tval: .asciz " mtval="

  .data
  .align 6
  .globl m_rec, s_rec
m_rec: .space REC_SIZE
s_rec: .space REC_SIZE

  .bss
  .align 12
stack: .space 4096
  .globl stack_top
stack_top:
