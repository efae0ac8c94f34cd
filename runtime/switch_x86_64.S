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
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
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
