# A bare-metal program that idles forever the way a kernel waiting for input does: it prints
# "idle" over the UART, then sleeps in WFI with the machine timer armed 1 ms ahead, again and
# again (MTIE set, MIE clear: the timer ends each WFI without a trap). Under --deterministic
# the VMM skips each wait at once, so this runs flat out; test/baremetal/idleSignal.test.ts
# checks that the VMM still hears SIGTERM. Linked with console.S.
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200bff8

  .section .text.init
  .globl _start
_start:
  la sp, stack_top
  la a0, msg_idle
  call puts
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

  .bss
  .balign 16
  .space 1024
stack_top:
