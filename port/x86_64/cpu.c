// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-CPU descriptor tables (GDT with a TSS), the shared IDT, interrupt
 * dispatch, exception reports, local APIC IPIs and the local APIC timer.
 */
#include "kern.h"

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern char isr_stubs[];
static struct idt_entry idt[256] __attribute__((aligned(16)));

uint64_t port_lapic_timer_per_ms;
volatile uint64_t port_deadline_ns;
const char *port_current_test;

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS  0x28

void idt_init(void)
{
	for (unsigned int v = 0; v < 256; v++) {
		uint64_t addr = (uint64_t)(uintptr_t)(isr_stubs + 16 * v);

		idt[v].off_lo = (uint16_t)addr;
		idt[v].sel = SEL_CODE;
		/* Double fault and NMI on their own stack (IST1). */
		idt[v].ist = (v == 8 || v == 2) ? 1 : 0;
		idt[v].type = 0x8E;	/* present, DPL 0, 64-bit interrupt gate */
		idt[v].off_mid = (uint16_t)(addr >> 16);
		idt[v].off_hi = (uint32_t)(addr >> 32);
		idt[v].zero = 0;
	}
}

void idt_load(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(p));
}

/* GDT: null, code64, data, (unused), (unused), TSS (two slots). */
void cpu_init_tables(struct percpu *pc)
{
	uint64_t tss = (uint64_t)(uintptr_t)&pc->tss;
	uint64_t limit = sizeof(pc->tss) - 1;
	struct desc_ptr p = { sizeof(pc->gdt) - 1, (uint64_t)(uintptr_t)pc->gdt };

	pc->gdt[0] = 0;
	pc->gdt[1] = 0x00AF9A000000FFFFull;
	pc->gdt[2] = 0x00CF92000000FFFFull;
	pc->gdt[3] = 0;
	pc->gdt[4] = 0;
	pc->gdt[5] = (limit & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (0x89ull << 40) |
		     (((limit >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
	pc->gdt[6] = tss >> 32;
	pc->gdt[7] = 0;
	pc->tss.iomap_base = sizeof(pc->tss);
	__asm__ volatile("lgdt %0\n\t"
			 "pushq $0x08\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl $0x10, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 : : "m"(p) : "rax", "memory");
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

/* ---- Local APIC ---------------------------------------------------------------------- */

/* Send with local interrupts off: the ICR pair is per CPU. */
void lapic_send(uint32_t apic_id, uint32_t icr_lo)
{
	ik_irqflags_t flags = ik_os_irq_save();

	while (lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_BUSY)
		cpu_pause();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	ik_os_irq_restore(flags);
}

/* Periodic 1 ms tick on this CPU: wakes idle loops, checks the deadline. */
void lapic_timer_start(void)
{
	lapic_write(LAPIC_TIMER_DCR, 0x3);	/* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, PORT_VECTOR_TIMER | (1u << 17));
	lapic_write(LAPIC_TIMER_ICR, (uint32_t)port_lapic_timer_per_ms);
}

/* ---- Dispatch -------------------------------------------------------------------------- */

static const char *const exc_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 FP", "alignment check", "machine check",
	"SIMD FP", "virtualization", "control protection",
};

static void __attribute__((noreturn)) report_exception(struct trap_frame *f)
{
	uint64_t cr2;
	const char *name = f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] :
			   "reserved";

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	port_panic_printf("\nPORT: EXCEPTION %llu (%s) on cpu %u (in vector 0x%x): error 0x%llx "
			  "rip 0x%llx cr2 0x%llx rsp 0x%llx rflags 0x%llx\n",
			  (unsigned long long)f->vector, name, this_cpu()->cpu, this_cpu()->cur_vector,
			  (unsigned long long)f->error, (unsigned long long)f->rip,
			  (unsigned long long)cr2, (unsigned long long)f->rsp,
			  (unsigned long long)f->rflags);
	port_panic_printf("  rax %llx rbx %llx rcx %llx rdx %llx rsi %llx rdi %llx rbp %llx\n",
			  (unsigned long long)f->rax, (unsigned long long)f->rbx,
			  (unsigned long long)f->rcx, (unsigned long long)f->rdx,
			  (unsigned long long)f->rsi, (unsigned long long)f->rdi,
			  (unsigned long long)f->rbp);
	if (f->rsp > 0x100000 && f->rsp < 0x8000000 && !(f->rsp & 7)) {
		const uint64_t *sp = (const uint64_t *)(uintptr_t)f->rsp;

		port_panic_printf("  stack %llx %llx %llx %llx %llx %llx\n",
				  (unsigned long long)sp[0], (unsigned long long)sp[1],
				  (unsigned long long)sp[2], (unsigned long long)sp[3],
				  (unsigned long long)sp[4], (unsigned long long)sp[5]);
	}
	{
		/* A few return addresses up the frame-pointer chain, when there is one. */
		uint64_t *fp = (uint64_t *)(uintptr_t)f->rbp;

		for (unsigned int i = 0; i < 8 && fp && (uintptr_t)fp > 0x100000 &&
		     (uintptr_t)fp < 0x8000000 && !((uintptr_t)fp & 7); i++) {
			port_panic_printf("  caller 0x%llx\n", (unsigned long long)fp[1]);
			fp = (uint64_t *)(uintptr_t)fp[0];
		}
	}
	port_fail("exception %llu\n", (unsigned long long)f->vector);
}

void isr_dispatch(struct trap_frame *f);
void isr_dispatch(struct trap_frame *f)
{
	struct percpu *pc = this_cpu();
	unsigned int vector = (unsigned int)f->vector;
	uint64_t deadline;
	unsigned int outer;

	if (vector < IK_X86_FIRST_EXTERNAL_VECTOR)
		report_exception(f);
	pc->irq_depth++;
	outer = pc->cur_vector;
	pc->cur_vector = vector;
	switch (vector) {
	case PORT_VECTOR_SPURIOUS:
		/* No ISR bit was set: no EOI. */
		break;
	case PORT_VECTOR_CALL:
		lapic_write(LAPIC_EOI, 0);
		osl_handle_call_ipi();
		break;
	case PORT_VECTOR_TIMER:
		lapic_write(LAPIC_EOI, 0);
		pc->timer_ticks++;
		deadline = port_deadline_ns;	/* once: the harness clears it when the test ends */
		if (deadline && ik_os_time_ns() > deadline) {
			port_fail("PORT: deadline passed (cpu %u, rip 0x%llx)\n", pc->cpu,
				  (unsigned long long)f->rip);
		}
		break;
	default:
		ik_x86_common_interrupt(vector);
		break;
	}
	pc->cur_vector = outer;
	pc->irq_depth--;
}
