# A bare-metal program for the virt board entered in M-mode without firmware
# (QEMU's -bios none, Berth's --firmware none): prints over the 16550 UART the
# boot registers (a0 = hart id, a1 = device tree address and its magic, a2 =
# fw_dynamic_info: the next stage's address and mode, i.e. where the kernel
# was put), what
# the empty flash at 0x20000000 reads as, before and after a CFI query, the
# device ID in each virtio-mmio slot (0: empty), and powers off through the
# test device. test/baremetal/board.test.ts runs it on Berth and on QEMU (with console.S).
#define FLASH 0x20000000

  .section .text.init
  .globl _start
_start:
  mv s0, a0
  mv s1, a1
  mv s3, a2
  la sp, stack_top
  la a0, msg_hello
  call puts
  la a0, msg_hart
  call puts
  mv a0, s0
  call puthex
  la a0, msg_dtb
  call puts
  mv a0, s1
  call puthex
  la a0, msg_magic
  call puts
  lwu a0, 0(s1)
  call puthex
  la a0, msg_next
  call puts
  ld a0, 16(s3)
  call puthex
  la a0, msg_mode
  call puts
  ld a0, 24(s3)
  call puthex
  la a0, msg_flash
  call puts
  li t0, FLASH
  lwu a0, 0(t0)
  call puthex
  la a0, msg_flash2
  call puts
  li t0, FLASH + 0x2000000 - 4
  lwu a0, 0(t0)
  call puthex
  # CFI query (0x98 at offset 0x55 << 2 for a 32-bit bank), then read 'Q'.
  li t0, FLASH
  li t1, 0x98
  sw t1, 0x154(t0)
  la a0, msg_cfi
  call puts
  li t0, FLASH
  lwu a0, 0x40(t0)
  call puthex
  # Back to read-array mode.
  li t0, FLASH
  li t1, 0xff
  sw t1, 0(t0)
  la a0, msg_array
  call puts
  li t0, FLASH
  lwu a0, 0(t0)
  call puthex
  # The device ID of each virtio slot (register 0x008 at 0x10001000 + N * 0x1000).
  li s2, 0
5:
  la a0, msg_slot
  call puts
  addi a0, s2, '0'
  call putc
  la a0, msg_colon
  call puts
  li t0, 0x10001000
  slli t1, s2, 12
  add t0, t0, t1
  lwu a0, 8(t0)
  call puthex
  addi s2, s2, 1
  li t1, 8
  blt s2, t1, 5b
  la a0, msg_bye
  call puts
  li a0, 0x5555
  j poweroff

  .section .rodata
msg_hello: .asciz "hello from M-mode\n"
msg_hart: .asciz "a0 (hart id): "
msg_dtb: .asciz "a1 (device tree): "
msg_magic: .asciz "device tree magic: "
msg_next: .asciz "fw_dynamic next_addr: "
msg_mode: .asciz "fw_dynamic next_mode: "
msg_flash: .asciz "flash 0x20000000: "
msg_flash2: .asciz "flash 0x21fffffc: "
msg_cfi: .asciz "after CFI query, flash 0x20000040: "
msg_array: .asciz "after read-array, flash 0x20000000: "
msg_slot: .asciz "virtio slot "
msg_colon: .asciz " device: "
msg_bye: .asciz "bye\n"

  .bss
  .balign 16
  .space 4096
stack_top:
