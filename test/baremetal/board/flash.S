# A bare-metal program for the virt board entered in M-mode without firmware that drives the
# two CFI flash banks at 0x20000000 and 0x22000000 (Intel/Sharp command set, 32-bit banks of
# two 16-bit chips) with no image attached, and prints what each step reads back: the device
# IDs, the whole CFI query table, the status register, single-word programming, a block erase,
# a buffered write, an 8-byte store while programming (two 32-bit writes, the second taken as
# a command), a query of bank 1 while bank 0 reads its array, lock commands and an unknown one,
# and code programmed into the flash and called there.
# Then it resets the board through the syscon (0x100000 <- 0x7777); on the second boot, told
# apart by what it programmed, it prints what the flash holds after the reset and powers off.
# test/baremetal/flash.test.ts runs it on Berth and on QEMU (with console.S).
#define FLASH0 0x20000000
#define FLASH1 0x22000000
#define TEST 0x100000

# show(label, offset): reads the 32-bit word at FLASH0 + offset and prints it after label.
.macro show label, offset
  la a0, \label
  call puts
  li t0, FLASH0 + \offset
  lwu a0, 0(t0)
  call puthex
.endm

# cmd(value, offset): writes value (32 bits) at FLASH0 + offset.
.macro cmd value, offset
  li t0, FLASH0 + \offset
  li t1, \value
  sw t1, 0(t0)
.endm

  .section .text.init
  .globl _start
_start:
  la sp, stack_top
  # Second boot: the word at 0x1000 is what the first programmed.
  li t0, FLASH0 + 0x1000
  lwu t1, 0(t0)
  li t2, 0xffff
  beq t1, t2, second_boot

  la a0, msg_hello
  call puts
  show msg_array, 0

  # Device IDs: manufacturer (0x89, Intel) and device (0x18) in both chips' lanes.
  cmd 0x90, 0
  show msg_id0, 0
  show msg_id1, 4
  show msg_id2, 8
  la a0, msg_idb
  call puts
  li t0, FLASH0
  lbu a0, 0(t0)
  call puthex
  la a0, msg_idh
  call puts
  li t0, FLASH0
  lhu a0, 4(t0)
  call puthex

  # The CFI query table, one byte of the low chip's lane a word, eight to a line.
  cmd 0x98, 0x154
  la a0, msg_cfi
  call puts
  li s0, 0
1:
  li s1, 0
  li s2, 0
2:
  li t0, FLASH0
  add t1, s0, s2
  slli t1, t1, 2
  add t0, t0, t1
  lbu t1, 0(t0)
  slli s1, s1, 8
  or s1, s1, t1
  addi s2, s2, 1
  li t1, 8
  blt s2, t1, 2b
  mv a0, s1
  call puthex
  addi s0, s0, 8
  li t1, 0x58
  blt s0, t1, 1b
  la a0, msg_cfi64
  call puts
  li t0, FLASH0 + 0x40
  ld a0, 0(t0)
  call puthex
  # Another command in query mode leaves it there; read-array leaves it.
  cmd 0x90, 0
  show msg_cfi_again, 0x40
  cmd 0xff, 0
  show msg_array, 0x40

  # Status register; clear status; status again.
  cmd 0x70, 0
  show msg_status, 0
  cmd 0x50, 0
  show msg_cleared, 0
  cmd 0x70, 0
  show msg_status, 0
  cmd 0xff, 0

  # Program one word: reads give the status until read-array.
  cmd 0x40, 0x1000
  cmd 0x12345678, 0x1000
  show msg_programmed, 0x1000
  cmd 0xff, 0
  show msg_word, 0x1000
  # Programming writes the value as it is (not ANDed with what was there).
  cmd 0x10, 0x1000
  cmd 0x0000ffff, 0x1000
  cmd 0xff, 0
  show msg_word, 0x1000

  # Block erase of the second 256 KiB sector.
  cmd 0x20, 0x40010
  cmd 0xd0, 0x40010
  show msg_erase_status, 0x40010
  cmd 0xff, 0
  show msg_before, 0x3fffc
  show msg_first, 0x40000
  show msg_last, 0x7fffc
  show msg_after, 0x80000

  # Buffered write: 0xe8, the count less one (per chip), the words, 0xd0.
  cmd 0xe8, 0x2000
  show msg_buffer_status, 0x2000
  cmd 1, 0x2000
  cmd 0xa1b2c3d4, 0x2000
  cmd 0x01020304, 0x2004
  cmd 0xd0, 0x2000
  cmd 0xff, 0
  show msg_buffer0, 0x2000
  show msg_buffer1, 0x2004

  # An 8-byte store while programming: the low word is programmed, the high one (0xff) is
  # the next command, read-array.
  cmd 0x40, 0x3000
  li t0, FLASH0 + 0x3000
  li t1, 0x000000ff11223344
  sd t1, 0(t0)
  show msg_sd, 0x3000
  show msg_sd_high, 0x3004

  # Bank 1 answers a query on its own; bank 0 stays in read-array.
  li t0, FLASH1 + 0x154
  li t1, 0x98
  sw t1, 0(t0)
  show msg_bank0, 0x40
  la a0, msg_bank1
  call puts
  li t0, FLASH1 + 0x40
  lwu a0, 0(t0)
  call puthex
  li t0, FLASH1
  li t1, 0xff
  sw t1, 0(t0)

  # Lock setup and lock, then status; an unknown command goes back to read-array.
  cmd 0x60, 0
  cmd 0x01, 0
  show msg_lock, 0
  cmd 0x33, 0
  show msg_unknown, 0x1000
  # Byte and halfword writes of commands.
  li t0, FLASH0
  li t1, 0x90
  sb t1, 0(t0)
  show msg_byte_cmd, 0
  li t0, FLASH0
  li t1, 0xff
  sh t1, 0(t0)
  show msg_array, 0

  # Two instructions programmed at 0x4000 (li a0, 0x123; ret) and called there.
  la t2, xip
  cmd 0x40, 0x4000
  lwu t1, 0(t2)
  li t0, FLASH0 + 0x4000
  sw t1, 0(t0)
  cmd 0x40, 0x4004
  lwu t1, 4(t2)
  li t0, FLASH0 + 0x4004
  sw t1, 0(t0)
  cmd 0xff, 0
  fence.i
  li a0, 0
  li t0, FLASH0 + 0x4000
  jalr t0
  mv s0, a0
  la a0, msg_xip
  call puts
  mv a0, s0
  call puthex

  # Leave bank 0 in query mode and reset the board.
  cmd 0x98, 0x154
  la a0, msg_reset
  call puts
  li a0, 0x7777
  j poweroff

  .option push
  .option norvc
xip:
  li a0, 0x123
  ret
  .option pop

second_boot:
  la a0, msg_second
  call puts
  show msg_word, 0x1000
  show msg_first, 0x40000
  show msg_buffer0, 0x2000
  show msg_array, 0x40
  la a0, msg_bye
  call puts
  li a0, 0x5555
  j poweroff

  .section .rodata
msg_hello: .asciz "flash: the CFI banks at 0x20000000\n"
msg_array: .asciz "read-array: "
msg_id0: .asciz "ID 0: "
msg_id1: .asciz "ID 1: "
msg_id2: .asciz "ID 2: "
msg_idb: .asciz "ID 0 (byte): "
msg_idh: .asciz "ID 1 (halfword): "
msg_cfi: .asciz "CFI table:\n"
msg_cfi64: .asciz "CFI 0x40 (8 bytes): "
msg_cfi_again: .asciz "after 0x90 in query mode, 0x40: "
msg_status: .asciz "status: "
msg_cleared: .asciz "after clear status: "
msg_programmed: .asciz "after programming: "
msg_word: .asciz "0x1000: "
msg_erase_status: .asciz "after erase: "
msg_before: .asciz "0x3fffc: "
msg_first: .asciz "0x40000: "
msg_last: .asciz "0x7fffc: "
msg_after: .asciz "0x80000: "
msg_buffer_status: .asciz "after 0xe8: "
msg_buffer0: .asciz "0x2000: "
msg_buffer1: .asciz "0x2004: "
msg_sd: .asciz "after sd, 0x3000: "
msg_sd_high: .asciz "after sd, 0x3004: "
msg_bank0: .asciz "bank 0 while bank 1 queries, 0x40: "
msg_bank1: .asciz "bank 1 0x40: "
msg_lock: .asciz "after lock: "
msg_unknown: .asciz "after an unknown command, 0x1000: "
msg_byte_cmd: .asciz "after a byte 0x90: "
msg_xip: .asciz "called in the flash: "
msg_reset: .asciz "reset\n"
msg_second: .asciz "after the reset\n"
msg_bye: .asciz "bye\n"

  .bss
  .balign 16
  .space 4096
stack_top:
