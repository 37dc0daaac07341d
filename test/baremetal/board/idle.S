# A bare-metal program that idles forever the way a kernel waiting for input does: it prints
# "idle" over the UART, then sleeps in WFI with the machine timer armed 1 ms ahead, again and
# again (MTIE set, MIE clear: the timer ends each WFI without a trap). Under --deterministic
# the VMM skips each wait at once, so this runs flat out; test/baremetal/idleSignal.test.ts
# checks that the VMM still hears SIGTERM.
#define UART 0x10000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200bff8

  .section .text.init
  .globl _start
_start:
  li t0, UART
  la a0, msg_idle
1:
  lbu t1, 0(a0)
  beqz t1, 3f
2:
  lbu t2, 5(t0)
  andi t2, t2, 0x20
  beqz t2, 2b
  sb t1, 0(t0)
  addi a0, a0, 1
  j 1b
3:
  csrci mstatus, 8
  li t0, 0x80
  csrw mie, t0
  li t3, CLINT_MTIME
  li t4, CLINT_MTIMECMP
4:
  ld t1, 0(t3)
  li t2, 10000
  add t1, t1, t2
  sd t1, 0(t4)
  wfi
  j 4b

  .section .rodata
msg_idle: .asciz "idle\n"
