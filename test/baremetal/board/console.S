# Console routines of the board programs (mhello.S, diskirq.S): output on the virt board's
# 16550 UART at 0x10000000, polled, and power-off through the test device at 0x100000.
# They clobber t0..t4 and a0 only.
#define UART 0x10000000
#define TEST 0x100000

  .text
# puts(a0): a NUL-terminated string.
  .globl puts
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
  .globl putc
putc:
  li t0, UART
1:
  lbu t2, 5(t0)
  andi t2, t2, 0x20
  beqz t2, 1b
  sb a0, 0(t0)
  ret

# puthex(a0): 16 hex digits and a newline.
  .globl puthex
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

# poweroff(a0): waits until the UART has sent its last byte (LSR bit 6, transmitter
# empty: a power-off right after the store can lose the final newline in QEMU), then
# writes a0 to the test device (0x5555: pass, 0x3333 | code << 16: fail).
  .globl poweroff
poweroff:
  li t0, UART
1:
  lbu t1, 5(t0)
  andi t1, t1, 0x40
  beqz t1, 1b
  li t0, TEST
  sw a0, 0(t0)
2:
  wfi
  j 2b
