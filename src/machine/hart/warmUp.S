# Berth's engine warm-up program (src/machine/hart/warmUp.ts runs it before a guest boots).
# It gives V8 type feedback for every common path of the interpreter and the translator:
# integer, multiply/divide, bit manipulation, loads and stores of each width, branches both
# ways, calls, CSR accesses, atomics, floating point, compressed instructions, traps (ecall,
# ebreak, illegal instruction, access and page faults), an interrupt, and all of it again in
# S-mode under Sv57 paging at the addresses where kernels run. Then a kernel's round, over
# and over: a U-mode program under a three-level page table, its store page fault and ecall
# delegated to an S-mode handler, a fetch from an unmapped page, sfence.vma by address and
# by ASID, satp switching ASIDs, kernel reads of user memory under SUM, code written at a
# page's end and run across it, and an Sstc timer that wakes a WFI with interrupts masked
# and is taken once they are not. It ends at a WFI with a checksum of its work in a0.
# Registers: s0 data, s1 loop counter, s2 pass (0 M-mode, 1 S-mode), a0 checksum; in the
# kernel's rounds s3 the ecall's way back, s4 the user entry, s6 rounds, s7 satp without
# ASID, s8 the last-level table, s9 the user data page's entry.
	.option norvc

	# table[index] = a pointer to the next level's table at `next` (uses t5, t6)
	.macro	link table, index, next
	srli	t5, \next, 12
	slli	t5, t5, 10
	ori	t5, t5, 1
	li	t6, \index * 8
	add	t6, t6, \table
	sd	t5, 0(t6)
	.endm

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
	# S-mode under Sv57, as Linux takes it where it can. Tables from s0 + 4096: the root, a
	# level 3 and a level 2 table for low addresses, and another two for high ones; a gigapage
	# maps RAM at its own address and again at 0xffffffff80000000, where kernels run.
	li	t0, 4096
	add	a4, s0, t0
	add	a5, a4, t0
	add	a6, a5, t0
	add	a7, a6, t0
	add	t3, a7, t0
	link	a4, 0, a5
	link	a5, 0, a6
	link	a4, 511, a7
	link	a7, 511, t3
	li	t2, (0x80000000 >> 12) << 10 | 0xef	# V R W X G A D
	sd	t2, 2 * 8(a6)
	li	t0, 510 * 8
	add	t0, t0, t3
	sd	t2, 0(t0)
	srli	t1, a4, 12
	li	t2, 10 << 60
	or	t1, t1, t2
	li	t2, 7
	csrw	mcounteren, t2
	li	t0, (0x80010000 + 0x8000 - 1) >> 2	# PMP: 64 KiB past RAM closed (as firmware
	csrw	pmpaddr0, t0			# guards its own), then S-mode may reach everything
	li	t0, -1
	csrw	pmpaddr1, t0
	li	t0, 0x1f18
	csrw	pmpcfg0, t0
	csrw	satp, t1
	sfence.vma
	# for the kernel's rounds: ecalls from U and instruction and store page faults go to S,
	# and so does the supervisor timer, which Sstc (menvcfg.STCE) drives
	li	t0, (1 << 8) | (1 << 12) | (1 << 15)
	csrw	medeleg, t0
	li	t0, 1 << 5
	csrw	mideleg, t0
	li	t0, -1
	slli	t0, t0, 63
	csrs	menvcfg, t0
	lla	t0, strap
	li	t2, 0xffffffff00000000
	add	t0, t0, t2
	csrw	stvec, t0
	li	t0, -1
	csrw	stimecmp, t0
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
	# The kernel's rounds. User tables under the low level 2 one (s0 + 12288): [0] -> level 1
	# (s0 + 24576), [0] -> level 0 (s0 + 28672); user code at 0x10000 (the page of ucode),
	# user data at 0x20000 (s0 + 32768), mapped by the page fault handler without A and D
	# (the walk sets them) and unmapped each round.
	li	t1, 12288
	add	t1, t1, s0
	li	t2, 24576
	add	t2, t2, s0
	li	s8, 28672
	add	s8, s8, s0
	link	t1, 0, t2
	link	t2, 0, s8
	li	t4, 32768
	add	t4, t4, s0
	srli	t4, t4, 12
	slli	t4, t4, 10
	ori	s9, t4, 0x17		# V R W U
	lla	t4, ucode		# at the high alias: its physical address is the low half
	slli	t4, t4, 32
	srli	t4, t4, 32
	srli	t5, t4, 12
	slli	t5, t5, 10
	ori	t5, t5, 0x5b		# V R X U A
	sd	t5, 16 * 8(s8)
	slli	t4, t4, 52		# its page offset
	srli	t4, t4, 52
	li	s4, 0x10000
	or	s4, s4, t4
	csrr	s7, satp
	sfence.vma
	li	s6, 160			# past the scratch hart's threshold: the rounds run as blocks too
kround:
	andi	t2, s6, 1		# ASID 1 or 2 over the same tables
	addi	t2, t2, 1
	slli	t0, t2, 44
	or	t0, t0, s7
	csrw	satp, t0
	lla	s3, kback
	csrw	sepc, s4
	li	t0, 0x100		# SPP = U
	csrc	sstatus, t0
	sret
kback:
	li	t3, 0x40000		# SUM: the kernel reads the user's page; kread clears it again
	csrs	sstatus, t3
	jal	kread
	add	a0, a0, t1
	li	t0, 0x6000		# a task's first floating point after a switch: FS from
	csrc	sstatus, t0		# Clean (the kernel saved its registers) to Dirty
	li	t0, 0x4000
	csrs	sstatus, t0
	fmv.d	fa0, fa1
	fnmsub.d fa2, fa0, fa1, fa0
	fcvt.w.d t0, fa2, rtz
	frrm	t1
	add	a0, a0, t0
	add	a0, a0, t1
	andi	t0, s6, 7		# one round in 8: the MMU's slow paths, each width
	bnez	t0, 2f			# missing the TLB,
	sfence.vma
	lbu	t1, 0(s0)
	sfence.vma
	lhu	t1, 2(s0)
	sfence.vma
	lw	t1, 4(s0)
	sfence.vma
	ld	t1, 8(s0)
	sfence.vma
	sb	t1, 16(s0)
	sfence.vma
	sh	t1, 18(s0)
	sfence.vma
	sw	t1, 20(s0)
	sfence.vma
	sd	t1, 24(s0)
	li	t0, 4092		# an access across a page's end (into the root table's page,
	add	t0, t0, s0		# and back unchanged),
	ld	t1, 1(t0)
	sd	t1, 1(t0)
	lla	t4, data		# and s0's page at its high address too: one TLB set, two tags
	ld	t1, 0(t4)
	ld	t1, 0(s0)
	ld	t1, 0(t4)
2:	sd	zero, 32 * 8(s8)	# unmap the user data page: its next store faults again
	li	t0, 0x20000
	sfence.vma t0, zero
	andi	t0, s6, 7
	bnez	t0, 1f
	sfence.vma zero, t2
1:	li	t0, 0x8000effe		# addi a0, a0, 1 or 2 across the page's end, then ret
	li	t1, 0x0513
	sh	t1, 0(t0)
	andi	t1, s6, 1
	slli	t1, t1, 4
	li	t4, 0x80670015
	add	t1, t1, t4
	sw	t1, 2(t0)
	sh	zero, 6(t0)
	fence.i
	jalr	t0
	li	t0, 0x30000		# a call to an unmapped page: the handler returns to t2
	jalr	t2, 0(t0)
	csrw	stimecmp, zero		# due at once: wakes a WFI with SIE clear, then taken
	li	t0, 0x20
	csrs	sie, t0
	csrr	t1, sip
	wfi
	csrsi	sstatus, 2
	csrci	sstatus, 2
	add	a0, a0, t1
	addi	s6, s6, -1
	bnez	s6, kround
final:
	wfi
	j	final

kread:
	li	t0, 0x20000
	ld	t1, 0(t0)
	csrc	sstatus, t3
	ret

	.balign	4
strap:					# S-mode traps
	csrr	t0, scause
	bltz	t0, 2f
	li	t1, 8
	beq	t0, t1, 1f
	li	t1, 12
	beq	t0, t1, 3f
	csrr	t0, stval		# a page fault on the user's data: map it and retry
	srli	t1, t0, 12
	andi	t1, t1, 511
	slli	t1, t1, 3
	add	t1, t1, s8
	sd	s9, 0(t1)
	sfence.vma t0, zero
	sret
1:	jr	s3			# an ecall from U: back to the kernel's round
2:	li	t0, -1			# the timer
	csrw	stimecmp, t0
	sret
3:	csrw	sepc, t2		# an instruction page fault: back to the caller
	sret

ucode:					# U-mode: runs at 0x10000 + its page offset
	li	t2, 0x20000
	sd	a0, 0(t2)		# a store page fault, the first time each round
	ld	t3, 0(t2)
	add	a0, a0, t3
	csrr	t4, sscratch		# illegal in U-mode: M's handler skips it
	ecall

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
	orc.b	t6, t6
	rori	t0, a0, 13
	max	t1, a0, a1
	zext.h	t2, a1
	bset	t3, a0, a3
	clmul	t4, a0, a1
	clmulh	t5, a0, a1
	cpopw	t6, a1
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
	li	t0, 0x40000		# sstatus.SUM, and SIE (a block that sets it stops): the
	csrs	sstatus, t0		# block hands SUM back to the hart, which takes up the new
	csrsi	sstatus, 2		# data TLB tag (a kernel's user copies do that)
	csrc	sstatus, t0
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
	amomaxu.d t4, a1, (s0)
	amoxor.w t4, a2, (s0)
	lr.d	t5, (s0)
	sc.d	t6, a0, (s0)
	lr.w	t5, (s0)
	sc.w	t6, a1, (s0)
	amoor.d	zero, a2, (s0)		# rd = zero, as a kernel's bit operations
	lr.d	t5, (s0)
	sc.d	zero, a0, (s0)
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
	fmv.w.x	fs5, a1
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
	c.fsd	fa0, 40(s0)
	c.fld	fa1, 40(s0)
	c.mv	t6, sp
	c.mv	sp, s0
	c.fsdsp	fa0, 48(sp)
	c.fldsp	fa1, 48(sp)
	c.mv	sp, t6
	c.nop
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
	.word	0x00000057		# an opcode of an extension it lacks (vector)
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
	li	t1, 0x3000		# a device read, and code outside RAM (warmUp.ts's ROM;
	lw	t3, 0(t1)		# unmapped in S-mode)
	jalr	t2, 0(t1)
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
	.fill	36864, 1, 0
