/* SPDX-License-Identifier: BSD-2-Clause */
/* port/x86_64 internals shared by the port's own files (not for tests). */
#ifndef PORT_X86_64_KERN_H
#define PORT_X86_64_KERN_H

#include "port.h"

/* Vectors owned by the port (reserved in the vector matrix on every CPU). */
#define PORT_VECTOR_TIMER    0xFC /* local APIC timer: wake-ups and the guest-side deadline */
#define PORT_VECTOR_CALL     0xFD /* ik_os_cpu_call() / port_run_on_cpu() requests */
#define PORT_VECTOR_SPURIOUS 0xFF /* what ik_x86_cpu_online() writes into the SVR */

#define LAPIC_BASE      0xFEE00000ull
#define LAPIC_ID        0x020
#define LAPIC_EOI       0x0B0
#define LAPIC_SVR       0x0F0
#define LAPIC_ESR       0x280
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERR   0x370
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3E0
#define LAPIC_ICR_BUSY  (1u << 12)

#define KSTACK_SIZE 0x10000u

/* Saved by the interrupt stubs (entry.S), lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* Per-CPU data; GS base points at it, self first. */
struct percpu {
	struct percpu *self;
	unsigned int cpu;
	uint32_t apic_id;
	unsigned int irq_depth;      /* nesting of interrupt entries */
	unsigned int cur_vector;     /* vector being handled (0: none), for exception reports */
	unsigned int spin_depth;     /* spinlocks held */
	unsigned int work_depth;     /* work items running (nested in waits) */
	volatile bool up;            /* running its idle loop, takes requests */
	uint64_t stack_top;
	uint64_t gdt[8];
	struct tss tss;
	/* Process-context requests (port_run_on_cpu), under req_lock. */
	ik_spinlock_t req_lock;
	struct run_req *req_head, *req_tail;
	/* Interrupt-context calls (ik_os_cpu_call), ring under call_lock. */
	ik_spinlock_t call_lock;
	unsigned int call_head, call_tail;
	struct cpu_call_slot {
		void (*fn)(void *arg);
		void *arg;
		volatile int *done;
	} calls[64];
	uint64_t timer_ticks;
};

struct run_req {
	struct run_req *next;
	void (*fn)(void *arg);
	void *arg;
	volatile int done;
};

extern struct percpu *port_cpus[PORT_MAX_CPUS];
extern unsigned int port_cpus_up;

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

/* A pointer to low physical memory the compiler cannot reason about (no -Warray-bounds). */
static inline void *phys_ptr(uint64_t pa)
{
	uintptr_t p = (uintptr_t)pa;

	__asm__("" : "+r"(p));
	return (void *)p;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t read_flags(void)
{
	uint64_t f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f) : : "memory");
	return f;
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static inline void cpu_pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline uint32_t lapic_read(uint32_t reg)
{
	return port_mmio_read32(LAPIC_BASE + reg);
}

static inline void lapic_write(uint32_t reg, uint32_t v)
{
	port_mmio_write32(LAPIC_BASE + reg, v);
}

/* console.c */
void serial_init(void);
void port_vprintf(const char *prefix, const char *fmt, va_list ap);
void port_panic_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __attribute__((noreturn)) port_exit(unsigned int code);
void __attribute__((noreturn)) port_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cpu.c */
void cpu_init_tables(struct percpu *pc);
void idt_init(void);
void idt_load(void);
void lapic_send(uint32_t apic_id, uint32_t icr_lo);
void lapic_timer_start(void);
extern uint64_t port_lapic_timer_per_ms;
extern volatile uint64_t port_deadline_ns;
extern const char *port_current_test;

/* acpi.c */
int acpi_init(void);

/* smp.c */
int smp_boot_aps(void);
struct percpu *percpu_alloc(unsigned int cpu);
void percpu_install(struct percpu *pc);

/* osl.c */
void heap_init(uint64_t start, uint64_t end);
void phys_init(uint64_t start, uint64_t end);
void time_init(void);
void osl_run_deferred(void);     /* process context: due timers, queued work, own requests */
void osl_handle_call_ipi(void);
void osl_idle_loop(void) __attribute__((noreturn));

/* pci.c */
void pci_init(void);

/* libc-like helpers for the compiler (memset/memcpy may be emitted implicitly). */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t port_strlen(const char *s);
int port_strncmp(const char *a, const char *b, size_t n);

#endif /* PORT_X86_64_KERN_H */
