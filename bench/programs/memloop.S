# Memory-heavy guest loop: repeatedly sums and rewrites a 1 MiB array with
# 64-bit loads and stores (stride 8), exercising the TLB and RAM paths.
  .globl _start
_start:
  li s2, 480                  # passes over the array
2:
  lla t0, array
  li t1, 131072               # doublewords per pass
  li s1, 0
1:
  ld t2, 0(t0)
  add s1, s1, t2
  addi t2, t2, 3
  sd t2, 0(t0)
  lw t3, 4(t0)
  add s1, s1, t3
  addi t0, t0, 8
  addi t1, t1, -1
  bnez t1, 1b
  addi s2, s2, -1
  bnez s2, 2b
  li a0, 0
  li a7, 93
  ecall
  .bss
  .align 12
array: .space 1048576
