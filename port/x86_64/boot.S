/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Multiboot v1 entry (32-bit protected mode, paging off), identity paging
 * of 0-4 GiB with 2 MiB pages, long mode, then kmain(multiboot info).
 * Also the AP trampoline: real mode straight to long mode, copied to
 * TRAMP_BASE before the SIPIs.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory information */
#define TRAMP_BASE 0x8000
#define T(sym) ((sym) - tramp_start + TRAMP_BASE)

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	mov %ebx, %esi			/* multiboot information, kept in %esi */

	/* Zero .bss (the page tables and the boot stack live there). */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov $boot_stack_top, %esp

	/* 2048 2 MiB pages: 0-4 GiB; 2-4 GiB (MMIO, ECAM) uncached. */
	mov $boot_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax			/* present, writable, 2 MiB */
	cmp $1024, %ecx
	jb 2f
	or $0x18, %eax			/* PWT | PCD */
2:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 1b

	mov $boot_pdpt, %edi
	mov $boot_pd + 0x3, %eax
	mov %eax, 0(%edi)
	add $0x1000, %eax
	mov %eax, 8(%edi)
	add $0x1000, %eax
	mov %eax, 16(%edi)
	add $0x1000, %eax
	mov %eax, 24(%edi)
	mov $boot_pdpt + 0x3, %eax
	mov %eax, boot_pml4

	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0xC0000080, %ecx		/* EFER */
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	lgdt boot_gdtr32
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	mov %esi, %edi			/* zero-extends: kmain(multiboot info) */
	call kmain
3:	cli
	hlt
	jmp 3b

/* ---- AP trampoline: runs at TRAMP_BASE, real mode -> long mode ------------------ */
	.section .rodata.tramp, "a"
	.code16
	.globl tramp_start, tramp_end, tramp_cr3, tramp_stack, tramp_target, tramp_arg
tramp_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl T(tramp_gdtr)
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	movl T(tramp_cr3), %eax
	mov %eax, %cr3
	mov $0xC0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	ljmpl $0x08, $T(tramp_64)
	.code64
tramp_64:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov T(tramp_stack), %rsp
	mov T(tramp_arg), %rdi
	mov T(tramp_target), %rax
	xor %ebp, %ebp
	call *%rax
4:	cli
	hlt
	jmp 4b
	.align 8
tramp_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt
	.align 8
tramp_cr3:
	.quad 0
tramp_stack:
	.quad 0
tramp_target:
	.quad 0
tramp_arg:
	.quad 0
tramp_end:

/* ---- Boot GDT: null, 64-bit code (0x08), data (0x10) --------------------------- */
	.section .rodata
	.align 16
	.globl boot_gdt
boot_gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF
	.quad 0x00CF92000000FFFF
boot_gdt_end:
	.align 8
boot_gdtr32:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.align 4096
	.globl boot_pml4
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
	.align 16
boot_stack:
	.skip 0x10000
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
