# Floating-point guest loop: a recurrence x = x * (3/7) + 7 over 64 doubles in memory, with a
# running sum, a square root, a quotient, conversions to integer (rtz) and to single and back,
# and a comparison; 23 instructions an iteration, 230 million instructions, then exit(0). The
# first division (3/7) is inexact, so fflags.NX is set from the start, as in most programs.
  .globl _start
_start:
  la s0, buf
  li s2, 10000000             # iterations
  li s1, 0                    # index
  li s3, 0                    # sum of the truncated values
  li s4, 0                    # count of comparisons
  fcvt.d.w fs0, zero          # running sum
  fcvt.d.w fs3, zero
  li t0, 3
  fcvt.d.w fs1, t0
  li t0, 7
  fcvt.d.w fs2, t0
  fdiv.d fs1, fs1, fs2        # 3/7
1:
  slli t1, s1, 3
  andi t1, t1, 504
  add t1, t1, s0
  fld ft0, 0(t1)
  fmul.d ft1, ft0, fs1
  fadd.d ft1, ft1, fs2
  fsd ft1, 0(t1)
  fadd.d fs0, fs0, ft1
  fsqrt.d ft2, ft1
  fdiv.d ft3, ft2, ft1
  fcvt.w.d t2, ft1, rtz
  add s3, s3, t2
  flt.d t3, ft3, fs1
  add s4, s4, t3
  fcvt.s.d fa0, ft2
  fmul.s fa1, fa0, fa0
  fcvt.d.s ft4, fa1
  fsub.d fs3, fs3, ft4
  fmax.d fs3, fs3, fs0
  fmv.x.d t4, fs3
  addi s1, s1, 1
  addi s2, s2, -1
  bnez s2, 1b
  li a0, 0
  li a7, 93
  ecall

  .bss
  .balign 8
buf:
  .space 512
