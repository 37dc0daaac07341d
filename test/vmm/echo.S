# A bare-metal guest for the VMM tests, booted as the firmware of the virt board: prints
# "echo ready", then spins counting while it polls the UART, echoes every byte it receives,
# and powers off through the syscon when it receives 'q'. On Ctrl-T (0x14) it writes to every page of
# the 56 MiB above its first MiB (give it 64 MiB of RAM) and prints 'M', so its VMM's memory
# grows. On Ctrl-W (0x17) it dirties the 16 MiB above its first MiB in a loop, one page
# after another with a short spin between (a guest whose memory keeps changing, for live
# migration), until the next byte arrives, which it then handles as usual. On Ctrl-P (0x10) it prints 256 numbered lines at once, "line XXXXXXXX\n" (14 bytes,
# the number in hex, counting on from the previous Ctrl-P's), for tests of console logs. It
# never sleeps, so its instruction count grows as long as it runs.
  .section .text
  .globl _start
_start:
  li s0, 0x10000000        # UART
  li s3, 0                 # the next line number Ctrl-P prints
  lla a0, ready
  call puts
loop:
  addi s2, s2, 1
  lbu t0, 5(s0)            # LSR: bit 0 = data ready
  andi t0, t0, 1
  beqz t0, loop
  lbu a0, 0(s0)            # RBR
  li t1, 'q'
  beq a0, t1, off
  li t1, 0x14              # Ctrl-T: touch memory
  beq a0, t1, touch
  li t1, 0x17              # Ctrl-W: dirty memory until the next byte
  beq a0, t1, dirty
  li t1, 0x10              # Ctrl-P: print lines
  beq a0, t1, lines
  call putc
  j loop
touch:
  li t0, 0x80100000
  li t2, 0x83900000        # 56 MiB later
  li t3, 4096
4:
  sw t3, 0(t0)
  add t0, t0, t3
  bltu t0, t2, 4b
  li a0, 'M'
  call putc
  j loop
dirty:
  li t0, 0x80100000
  li t2, 0x80500000        # 4 MiB later
11:
  sw s2, 0(t0)
  li t4, 25000
12:
  addi t4, t4, -1
  bnez t4, 12b
  lbu t5, 5(s0)            # a byte waiting ends the loop
  andi t5, t5, 1
  bnez t5, loop
  li t3, 4096
  add t0, t0, t3
  bltu t0, t2, 11b
  j dirty
lines:
  li s4, 256
5:
  lla a0, line
  call puts
  mv a0, s3
  call puthex
  li a0, '\n'
  call putc
  addi s3, s3, 1
  addi s4, s4, -1
  bnez s4, 5b
  j loop
off:
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)             # power off
1: j 1b

putc:
  lbu t0, 5(s0)            # LSR: bit 5 = transmitter empty
  andi t0, t0, 0x20
  beqz t0, putc
  sb a0, 0(s0)
  ret

puts:
  mv t2, ra
  mv t3, a0
2:
  lbu a0, 0(t3)
  beqz a0, 3f
  call putc
  addi t3, t3, 1
  j 2b
3:
  mv ra, t2
  ret

puthex:                    # the low 32 bits of a0 as 8 hex digits
  mv t4, ra
  mv t5, a0
  li t6, 28
6:
  srl a0, t5, t6
  andi a0, a0, 15
  li t1, 10
  blt a0, t1, 7f
  addi a0, a0, 'a' - 10
  j 8f
7:
  addi a0, a0, '0'
8:
  call putc
  addi t6, t6, -4
  bgez t6, 6b
  mv ra, t4
  ret

  .section .rodata
ready:
  .asciz "echo ready\n"
line:
  .asciz "line "
