# Berth's engine warm-up program (src/machine/hart/warmUp.ts runs it before a guest boots).
# It gives V8 type feedback for every common path of the interpreter and the translator:
# integer, multiply/divide, bit manipulation, loads and stores of each width, branches both
# ways, calls, CSR accesses, atomics, floating point, compressed instructions, traps (ecall,
# ebreak, illegal instruction, access and page faults), an interrupt, and all of it again in
# S-mode under Sv39 paging at the addresses where kernels run. It ends at a WFI with a
# checksum of its work in a0.
# Registers: s0 data, s1 loop counter, s2 pass (0 M-mode, 1 S-mode), a0 checksum.
	.option norvc
	.text
	.globl _start
_start:
	lla	t0, trap
	csrw	mtvec, t0
	li	t0, 0x2000		# mstatus.FS = Initial
	csrs	mstatus, t0
	lla	s0, data
	li	a0, 0x123456789abcdef
	li	a1, -0x7edcba9876543211
	li	a2, 0x7fffffff
	li	a3, -3
	li	s2, 0
pass:
	li	s1, 240			# past the threshold at which the scratch hart makes blocks (warmUp.ts)
loop:
	call	body
	addi	s1, s1, -1
	bnez	s1, loop
	bnez	s2, done
	# S-mode with an identity gigapage over RAM: root table at s0 + 4096.
	li	t0, 4096
	add	t0, s0, t0
	srli	t1, t0, 12
	li	t2, 8 << 60
	or	t1, t1, t2
	li	t2, 0x80000000
	srli	t2, t2, 30
	slli	t2, t2, 3
	add	t2, t2, t0
	li	t3, (0x80000000 >> 12) << 10 | 0xcf	# V R W X A D
	sd	t3, 0(t2)
	li	t2, 510 * 8		# and again at 0xffffffff80000000, where kernels run
	add	t2, t2, t0
	sd	t3, 0(t2)
	li	t2, 7
	csrw	mcounteren, t2
	li	t0, -1			# PMP: S-mode may reach everything
	csrw	pmpaddr0, t0
	li	t0, 0x1f
	csrw	pmpcfg0, t0
	csrw	satp, t1
	sfence.vma
	li	t0, 0x1800
	csrc	mstatus, t0
	li	t0, 0x0800		# MPP = S
	csrs	mstatus, t0
	lla	t0, pass
	li	t2, 0xffffffff00000000	# the same code, at its high alias
	add	t0, t0, t2
	csrw	mepc, t0
	li	s2, 1
	mret
done:
	wfi
	j	done

body:
	# integer computation, kept wide
	add	t0, a0, a1
	sub	t1, a0, a2
	xor	t2, t0, t1
	or	t3, t2, a3
	and	t4, t3, a0
	sll	t5, a0, a3
	srl	t6, a1, a2
	sra	t5, a1, a3
	sll	t5, a1, s1		# by every amount, as the loop counts down
	srl	t6, a0, s1
	sra	t6, a1, s1
	srl	t6, a1, s1
	sra	t6, a0, s1
	sllw	t5, a1, s1
	srlw	t6, a0, s1
	sraw	t6, a1, s1
	slt	t5, s1, a2
	sltu	t6, s1, a2
	slti	t5, s1, 700
	sltiu	t6, s1, 700
	lw	t5, 8(s0)
	lw	t6, 0(s0)
	slt	t6, a1, a0
	sltu	t6, a0, a1
	addi	t0, t0, -2000
	xori	t1, t1, 1234
	ori	t2, t2, -1
	andi	t3, t3, 0x7f0
	slti	t4, a3, 5
	sltiu	t4, a3, 5
	slli	t5, a0, 33
	srli	t6, a1, 17
	srai	t6, a1, 40
	addw	t0, t0, a2
	subw	t1, t1, a3
	sllw	t2, a0, a3
	srlw	t3, a1, a2
	sraw	t4, a1, a3
	addiw	t5, a2, 1
	slliw	t6, a0, 7
	srliw	t6, a1, 9
	sraiw	t6, a1, 31
	lui	t0, 0xfffff
	auipc	t1, 0
	auipc	t2, 0xfffff
	add	a0, a0, t0
	add	a0, a0, t2
	xor	a0, a0, t4
	# multiply and divide
	mul	t0, a0, a1
	mulh	t1, a0, a1
	mulhsu	t2, a1, a0
	mulhu	t3, a0, a1
	div	t4, a0, a3
	divu	t5, a1, a2
	rem	t6, a0, a3
	remu	t0, a1, a2
	div	t1, a0, zero
	mulw	t2, a0, a1
	divw	t3, a1, a3
	divuw	t4, a1, a3
	remw	t5, a0, a3
	remuw	t6, a0, a3
	add	a0, a0, t0
	xor	a0, a0, t6
	# bit manipulation
	sh1add	t0, a0, a1
	sh3add.uw t1, a0, a1
	andn	t2, a0, a1
	clz	t3, a0
	ctz	t4, a1
	cpop	t5, a0
	rev8	t6, a0
	rori	t0, a0, 13
	max	t1, a0, a1
	zext.h	t2, a1
	bset	t3, a0, a3
	clmul	t4, a0, a1
	add	a0, a0, t1
	# loads and stores of each width
	sd	a0, 0(s0)
	sw	a1, 8(s0)
	sh	a2, 12(s0)
	sb	a3, 14(s0)
	ld	t0, 0(s0)
	lw	t1, 8(s0)
	lwu	t2, 8(s0)
	lh	t3, 12(s0)
	lhu	t4, 12(s0)
	lb	t5, 14(s0)
	lbu	t6, 14(s0)
	ld	t0, 3(s0)		# misaligned
	sd	t0, 21(s0)
	add	a0, a0, t1
	add	a0, a0, t5
	# branches both ways, calls and returns
	andi	t0, s1, 1
	beqz	t0, 1f
	addi	a0, a0, 1
1:	bltu	a1, a0, 2f
	addi	a0, a0, 3
2:	bge	a3, a2, 3f
	addi	a0, a0, 5
3:	blt	a1, a0, 4f
	bgeu	a2, a3, 4f
	addi	a0, a0, 7
4:	bne	s1, a2, 5f
	addi	a0, a0, 9
5:	bltu	s1, a2, 5f		# equal high halves
	addi	a0, a0, 11
5:	blt	a2, s1, 5f
	addi	a0, a0, 13
5:	jal	t6, leaf
	# CSR accesses
	csrrc	t2, sscratch, a1
	csrrwi	t3, sscratch, 5
	csrr	t4, sepc
	csrr	t5, fcsr
	csrrsi	t6, fflags, 1
	li	t0, 0x40000		# sstatus.SUM, and SIE (a block that sets it stops)
	csrs	sstatus, t0
	csrc	sstatus, t0
	csrsi	sstatus, 2
	csrci	sstatus, 2
	csrr	t0, instret
	csrr	t1, cycle
	csrr	t2, time
	# atomics
	amoadd.d t0, a0, (s0)
	amoswap.w t1, a1, (s0)
	amoor.d	t2, a2, (s0)
	amomax.d t3, a3, (s0)
	amominu.w t4, a1, (s0)
	lr.d	t5, (s0)
	sc.d	t6, a0, (s0)
	lr.w	t5, (s0)
	sc.w	t6, a1, (s0)
	add	a0, a0, t6
	# floating point
	fcvt.d.l fa0, a0
	fcvt.d.w fa1, a3
	fadd.d	fa2, fa0, fa1
	fsub.d	fa3, fa2, fa1
	fmul.d	fa4, fa3, fa1
	fdiv.d	fa5, fa4, fa1
	fsqrt.d	fa6, fa2
	fmadd.d	fa7, fa0, fa1, fa2
	fmin.d	ft0, fa0, fa1
	feq.d	t0, fa0, fa1
	flt.d	t1, fa1, fa0
	fclass.d t2, fa5
	fcvt.l.d t3, fa5, rtz
	fcvt.wu.d t4, fa4
	fsgnjn.d ft1, fa0, fa1
	fmv.x.d	t5, fa6
	fmv.d.x	ft2, a1
	fsd	fa2, 16(s0)
	fld	ft3, 16(s0)
	fcvt.s.d fs0, fa2
	fadd.s	fs1, fs0, fs0
	fmul.s	fs2, fs1, fs0
	fdiv.s	fs3, fs2, fs0
	fcvt.w.s t6, fs3
	fsw	fs3, 24(s0)
	flw	fs4, 24(s0)
	fmv.x.w	t0, fs4
	fcvt.d.s ft4, fs4
	fadd.d	ft5, ft4, ft3, rup
	add	a0, a0, t3
	xor	a0, a0, t5
	# compressed instructions
	.option rvc
	c.addi	a0, 3
	c.mv	a4, a0
	c.add	a4, a1
	c.sd	a4, 32(s0)
	c.ld	a5, 32(s0)
	c.slli	a5, 3
	c.andi	a5, -4
	c.sub	a5, a4
	c.beqz	a5, 6f
	c.xor	a0, a5
6:	c.nop
	c.nop				# an even number of halfwords: what follows stays aligned
	.option norvc
	# traps, one pass in 16: ecall, illegal instruction, access or page fault, an interrupt
	andi	t0, s1, 15
	bnez	t0, 7f
	ecall
	ebreak
	.word	0
	li	t1, 0x1000
	ld	t2, 0(t1)
	csrrw	t0, mscratch, a0	# M-mode CSRs: illegal in S-mode, traps too
	csrrs	t1, mscratch, zero
	csrsi	mie, 2			# SSIE
	csrsi	mip, 2			# SSIP pending: taken at once in M-mode
	csrsi	mstatus, 8
	csrci	mstatus, 8
	fence
	fence.i
7:	ret

leaf:
	xor	a0, a0, s1
	addi	t6, t6, 8
	jalr	zero, -8(t6)		# a target below the base

	.balign	4
trap:
	csrr	t0, mcause
	bltz	t0, 1f
	csrr	t0, mepc
	addi	t0, t0, 4
	csrw	mepc, t0
	mret
1:	csrci	mip, 2
	mret

	.data
	.balign	4096
data:
	.fill	8192, 1, 0
