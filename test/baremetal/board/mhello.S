# A bare-metal program for the virt board entered in M-mode without firmware
# (QEMU's -bios none, Berth's --firmware none): prints over the 16550 UART the
# boot registers (a0 = hart id, a1 = device tree address and its magic, a2 =
# fw_dynamic_info: the next stage's address and mode, i.e. where the kernel
# was put), what
# the empty flash at 0x20000000 reads as, before and after a CFI query, the
# device ID in each virtio-mmio slot (0: empty), and powers off through the
# test device. test/baremetal/board.test.ts runs it on Berth and on QEMU.
#define UART 0x10000000
#define TEST 0x100000
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
  # Wait until the UART has sent its last byte (LSR bit 6, transmitter empty): a
  # power-off right after the store can lose the final newline in QEMU.
  li t0, UART
4:
  lbu t1, 5(t0)
  andi t1, t1, 0x40
  beqz t1, 4b
  li t0, TEST
  li t1, 0x5555
  sw t1, 0(t0)
1:
  wfi
  j 1b

# puts(a0): a NUL-terminated string.
puts:
  li t0, UART
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
  ret

# putc(a0): one character.
putc:
  li t0, UART
1:
  lbu t2, 5(t0)
  andi t2, t2, 0x20
  beqz t2, 1b
  sb a0, 0(t0)
  ret

# puthex(a0): 16 hex digits and a newline.
puthex:
  li t0, UART
  li t3, 60
1:
  srl t1, a0, t3
  andi t1, t1, 15
  li t4, 10
  blt t1, t4, 2f
  addi t1, t1, 'a' - 10
  j 3f
2:
  addi t1, t1, '0'
3:
  lbu t2, 5(t0)
  andi t2, t2, 0x20
  beqz t2, 3b
  sb t1, 0(t0)
  addi t3, t3, -4
  bgez t3, 1b
4:
  lbu t2, 5(t0)
  andi t2, t2, 0x20
  beqz t2, 4b
  li t1, '\n'
  sb t1, 0(t0)
  ret

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
