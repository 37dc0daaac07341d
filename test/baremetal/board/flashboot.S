# A bare-metal program that runs from flash bank 0 (QEMU's -drive if=pflash,unit=0 with
# -bios none, Berth's --flash IMAGE with --firmware none: the reset vector enters 0x20000000).
# It keeps to its own code (pc-relative: lla, not la, which loads from a GOT in RAM; no
# stack: console.S's routines use none) and prints where it runs, the boot registers, and what
# it programs into bank 1 (an image too): a word, an erased sector, a buffered write, with the
# status register after each. On a read-only bank 1 the status shows the program and erase
# errors. test/baremetal/flash.test.ts runs it.
#define FLASH1 0x22000000

# status(label): prints label and the status register of bank 1 (0x70), then read-array.
.macro status label
  lla a0, \label
  call puts
  li t0, FLASH1
  li t1, 0x70
  sw t1, 0(t0)
  lwu a0, 0(t0)
  call puthex
  li t0, FLASH1
  li t1, 0x50
  sw t1, 0(t0)
.endm

  .section .text.init
  .globl _start
_start:
  mv s0, a0
  mv s1, a1
  auipc s2, 0
  lla a0, msg_hello
  call puts
  lla a0, msg_pc
  call puts
  mv a0, s2
  call puthex
  lla a0, msg_hart
  call puts
  mv a0, s0
  call puthex
  lla a0, msg_magic
  call puts
  lwu a0, 0(s1)
  call puthex

  # A word at 0x100.
  li t0, FLASH1 + 0x100
  li t1, 0x40
  sw t1, 0(t0)
  li t1, 0x12345678
  sw t1, 0(t0)
  status msg_program
  # The third sector (0x80000..0xbffff) erased.
  li t0, FLASH1 + 0x80000
  li t1, 0x20
  sw t1, 0(t0)
  li t1, 0xd0
  sw t1, 0(t0)
  status msg_erase
  # Two words at 0x200 through the buffer.
  li t0, FLASH1 + 0x200
  li t1, 0xe8
  sw t1, 0(t0)
  li t1, 1
  sw t1, 0(t0)
  li t1, 0xcafef00d
  sw t1, 0(t0)
  li t1, 0x0badc0de
  sw t1, 4(t0)
  li t1, 0xd0
  sw t1, 0(t0)
  status msg_buffer
  li t0, FLASH1
  li t1, 0xff
  sw t1, 0(t0)
  lla a0, msg_word
  call puts
  li t0, FLASH1 + 0x100
  lwu a0, 0(t0)
  call puthex
  lla a0, msg_erased
  call puts
  li t0, FLASH1 + 0xbfffc
  lwu a0, 0(t0)
  call puthex
  lla a0, msg_buffered
  call puts
  li t0, FLASH1 + 0x204
  lwu a0, 0(t0)
  call puthex
  lla a0, msg_bye
  call puts
  li a0, 0x5555
  call poweroff

  .section .rodata
msg_hello: .asciz "running from flash\n"
msg_pc: .asciz "pc: "
msg_hart: .asciz "a0 (hart id): "
msg_magic: .asciz "device tree magic: "
msg_program: .asciz "status after programming: "
msg_erase: .asciz "status after erasing: "
msg_buffer: .asciz "status after the buffered write: "
msg_word: .asciz "bank 1 0x100: "
msg_erased: .asciz "bank 1 0xbfffc: "
msg_buffered: .asciz "bank 1 0x204: "
msg_bye: .asciz "bye\n"
