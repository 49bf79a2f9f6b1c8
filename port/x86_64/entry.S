/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * 256 interrupt stubs, 16 bytes apart from isr_stubs: each pushes a dummy
 * error code where the CPU pushes none, then its vector, and joins
 * isr_common, which saves the general registers (struct trap_frame) and
 * calls isr_dispatch(frame).
 */
	.section .text
	.code64
	.align 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	/*
	 * General registers only: the whole kernel, library included, is
	 * built with -mgeneral-regs-only and SSE is never enabled, so there
	 * is no SSE state to save.  The stack is aligned for the C ABI.
	 */
	mov %rsp, %rbx
	and $~15, %rsp
	mov %rbx, %rdi
	call isr_dispatch
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
