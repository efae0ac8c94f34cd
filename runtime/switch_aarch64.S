/* Context switch for AArch64 (AAPCS64): saves x19-x30, d8-d15 and FPCR on
 * the old stack, stores sp in *from, resumes the context at `to`.
 *
 *   void urio__ctx_switch(void **from, void *to);
 *
 * A new context "returns" (x30) into urio__ctx_start with x19 = entry
 * function, x20 = argument and x29 = 0 to end frame-pointer unwinding. */
	.text
	.globl urio__ctx_switch
	.hidden urio__ctx_switch
	.type urio__ctx_switch, %function
	.p2align 4
urio__ctx_switch:
	sub sp, sp, #176
	stp x19, x20, [sp, #0]
	stp x21, x22, [sp, #16]
	stp x23, x24, [sp, #32]
	stp x25, x26, [sp, #48]
	stp x27, x28, [sp, #64]
	stp x29, x30, [sp, #80]
	stp d8, d9, [sp, #96]
	stp d10, d11, [sp, #112]
	stp d12, d13, [sp, #128]
	stp d14, d15, [sp, #144]
	mrs x9, fpcr
	str x9, [sp, #160]
	mov x9, sp
	str x9, [x0]
	mov sp, x1
	ldr x9, [sp, #160]
	msr fpcr, x9
	ldp x19, x20, [sp, #0]
	ldp x21, x22, [sp, #16]
	ldp x23, x24, [sp, #32]
	ldp x25, x26, [sp, #48]
	ldp x27, x28, [sp, #64]
	ldp x29, x30, [sp, #80]
	ldp d8, d9, [sp, #96]
	ldp d10, d11, [sp, #112]
	ldp d12, d13, [sp, #128]
	ldp d14, d15, [sp, #144]
	add sp, sp, #176
	ret
	.size urio__ctx_switch, .-urio__ctx_switch

	.globl urio__ctx_start
	.hidden urio__ctx_start
	.type urio__ctx_start, %function
	.p2align 4
urio__ctx_start:
	mov x0, x20
	blr x19
	brk #0
	.size urio__ctx_start, .-urio__ctx_start

	.section .note.GNU-stack,"",%progbits
