# Berth's built-in demo: a bare-metal M-mode program that prints a greeting and
# the first Fibonacci numbers through the UART at 0x10000000, then powers off
# through the syscon at 0x100000. Rebuild demo bytes with: bash demo/build.sh
  .section .text
  .globl _start
_start:
  li s0, 0x10000000        # UART transmit register
  lla a0, greeting
  call puts
  li s1, 0                 # fib(n-1)
  li s2, 1                 # fib(n)
  li s3, 20                # count
1:
  mv a0, s2
  call putnum
  li a0, ' '
  call putc
  add t0, s1, s2
  mv s1, s2
  mv s2, t0
  addi s3, s3, -1
  bnez s3, 1b
  li a0, '\n'
  call putc
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)             # power off
2: j 2b

putc:
  sb a0, 0(s0)
  ret

puts:
  mv t2, ra
  mv t3, a0
3: lbu a0, 0(t3)
  beqz a0, 4f
  call putc
  addi t3, t3, 1
  j 3b
4: mv ra, t2
  ret

# putnum: prints a0 in decimal (uses a 24-byte buffer on a scratch area)
putnum:
  mv t4, ra
  lla t5, numbuf + 23
  sb zero, 0(t5)
  li t6, 10
5: remu t0, a0, t6
  divu a0, a0, t6
  addi t0, t0, '0'
  addi t5, t5, -1
  sb t0, 0(t5)
  bnez a0, 5b
  mv a0, t5
  call puts
  mv ra, t4
  ret

  .section .data
greeting: .asciz "Hello from Berth: a RISC-V hart in TypeScript.\nFibonacci: "
numbuf: .space 24
