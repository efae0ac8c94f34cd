/* Context switch for x86-64 (System V): saves the callee-saved registers,
 * MXCSR and the x87 control word on the old stack, stores its stack pointer
 * in *from, and resumes the context whose stack pointer is `to`.
 *
 *   void urio__ctx_switch(void **from, void *to);
 *
 * A new context's stack is laid out by urio__ctx_init (fiber.c) to "return"
 * into urio__ctx_start with r12 = entry function and r13 = its argument, and
 * rbp = 0 so frame-pointer unwinders (perf -g, gdb) stop at the task base. */
	.text
	.globl urio__ctx_switch
	.hidden urio__ctx_switch
	.type urio__ctx_switch, @function
	.p2align 4
urio__ctx_switch:
	.cfi_startproc
	/* Frame, low to high: MXCSR + x87 CW, r15, r14, r13, r12, rbx, rbp,
	 * then the return address the call pushed. */
	leaq -0x38(%rsp), %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %r15, 0x08(%rsp)
	movq %r14, 0x10(%rsp)
	movq %r13, 0x18(%rsp)
	movq %r12, 0x20(%rsp)
	movq %rbx, 0x28(%rsp)
	movq %rbp, 0x30(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	movq 0x08(%rsp), %r15
	movq 0x10(%rsp), %r14
	movq 0x18(%rsp), %r13
	movq 0x20(%rsp), %r12
	movq 0x28(%rsp), %rbx
	movq 0x30(%rsp), %rbp
	leaq 0x38(%rsp), %rsp
	/* ret, not jmp: the return stack predicts the return address the
	 * call pushed, which is right whenever the task we resume suspended
	 * at the same call site (urio__suspend's, for all of them), and every
	 * later return then predicts too. A jmp leaves that entry behind and
	 * each return after the switch misses (nop, 1 worker: 5.5 -> 6.5M/s
	 * with ret). */
	ret
	.cfi_endproc
	.size urio__ctx_switch, .-urio__ctx_switch

	.globl urio__ctx_start
	.hidden urio__ctx_start
	.type urio__ctx_start, @function
	.p2align 4
urio__ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	movq %r13, %rdi
	callq *%r12
	ud2
	.cfi_endproc
	.size urio__ctx_start, .-urio__ctx_start

	.section .note.GNU-stack,"",@progbits
