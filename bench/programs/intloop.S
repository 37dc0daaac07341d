# Integer-heavy guest loop: xorshift64 hashing with adds, shifts, compares and
# branches; 1,000 million instructions, then exit(0).
  .globl _start
_start:
  li s0, 0x9e3779b97f4a7c15   # state
  li s1, 0                    # accumulator
  li s2, 76923077             # iterations (13 instructions each)
1:
  slli t0, s0, 13
  xor s0, s0, t0
  srli t0, s0, 7
  xor s0, s0, t0
  slli t0, s0, 17
  xor s0, s0, t0
  add s1, s1, s0
  sltu t1, s1, s0
  add s1, s1, t1
  andi t2, s0, 0xff
  addw s3, s3, t2
  addi s2, s2, -1
  bnez s2, 1b
  li a0, 0
  li a7, 93
  ecall
