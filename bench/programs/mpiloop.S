# Multi-precision multiply-accumulate, as the kernel's mpihelp_addmul_1 and vli_mult run it
# for the RSA and ECDSA checks of a boot: r[] += a[] * b over 32 limbs, with MUL and MULHU
# for each limb's 128-bit product and SLTU for the carries; about 1,000 million instructions
# (15 a limb, 7 more a pass), then exit(0).
  .globl _start
_start:
  la s0, a_limbs
  li t0, 32
  li t1, 0x9e3779b97f4a7c15
  mv t2, s0
1:
  sd t1, 0(t2)
  slli t3, t1, 13
  xor t1, t1, t3
  srli t3, t1, 7
  xor t1, t1, t3
  addi t2, t2, 8
  addi t0, t0, -1
  bnez t0, 1b
  li s2, 2053388              # passes
  li s3, 0xd1b54a32d192ed03   # the multiplier b
2:
  la a0, r_limbs
  mv a1, s0
  li a2, 32
  li a3, 0                    # carry
3:
  ld t0, 0(a1)
  mul t1, t0, s3
  mulhu t2, t0, s3
  add t1, t1, a3
  sltu t3, t1, a3
  add t2, t2, t3
  ld t4, 0(a0)
  add t1, t4, t1
  sltu t3, t1, t4
  add a3, t2, t3
  sd t1, 0(a0)
  addi a1, a1, 8
  addi a0, a0, 8
  addi a2, a2, -1
  bnez a2, 3b
  addi s3, s3, 2
  addi s2, s2, -1
  bnez s2, 2b
  li a0, 0
  li a7, 93
  ecall

  .bss
  .balign 8
a_limbs:
  .space 256
r_limbs:
  .space 256
