// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-CPU data and AP bring-up: INIT-SIPI-SIPI with the real-mode
 * trampoline (boot.S) copied to TRAMP_BASE.  Each AP loads its own
 * GDT/TSS, the shared IDT, brings its interrupt handling up with
 * ik_x86_cpu_online() and idles in osl_idle_loop().
 */
#include "kern.h"

#define TRAMP_BASE 0x8000u

extern char tramp_start[], tramp_end[], tramp_cr3[], tramp_stack[], tramp_target[], tramp_arg[];
extern char boot_pml4[];

static struct percpu cpu0_data __attribute__((aligned(64)));
static char cpu0_ist[0x4000] __attribute__((aligned(16)));

struct percpu *percpu_alloc(unsigned int cpu)
{
	struct percpu *pc;
	char *ist;

	if (cpu == 0) {
		pc = &cpu0_data;
		ist = cpu0_ist;
		pc->tss.ist[0] = (uint64_t)(uintptr_t)(ist + sizeof(cpu0_ist));
	} else {
		char *stack = port_phys_alloc(KSTACK_SIZE, 4096);

		pc = port_phys_alloc(sizeof(*pc), 64);
		ist = port_phys_alloc(0x4000, 4096);
		if (!pc || !stack || !ist)
			port_fail("PORT: no memory for cpu %u\n", cpu);
		pc->stack_top = (uint64_t)(uintptr_t)(stack + KSTACK_SIZE);
		pc->tss.ist[0] = (uint64_t)(uintptr_t)(ist + 0x4000);
	}
	pc->self = pc;
	pc->cpu = cpu;
	ik_os_spin_init(&pc->req_lock);
	ik_os_spin_init(&pc->call_lock);
	return pc;
}

void percpu_install(struct percpu *pc)
{
	wrmsr(0xC0000101, (uint64_t)(uintptr_t)pc);	/* IA32_GS_BASE */
}

static void tramp_set(char *field, uint64_t v)
{
	*(volatile uint64_t *)phys_ptr(TRAMP_BASE + (uint64_t)(field - tramp_start)) = v;
}

static void ap_main(struct percpu *pc) __attribute__((noreturn));
static void ap_main(struct percpu *pc)
{
	int ret;

	percpu_install(pc);
	cpu_init_tables(pc);
	idt_load();
	pc->apic_id = lapic_read(LAPIC_ID) >> 24;
	lapic_write(LAPIC_SVR, 0x100 | PORT_VECTOR_SPURIOUS);
	lapic_write(LAPIC_LVT_LINT0, 1u << 16);
	lapic_write(LAPIC_LVT_LINT1, 1u << 16);
	sti();
	ret = ik_x86_cpu_online();
	if (ret)
		port_fail("PORT: ik_x86_cpu_online on cpu %u: %d\n", pc->cpu, ret);
	lapic_timer_start();
	__atomic_store_n(&pc->up, true, __ATOMIC_RELEASE);
	__atomic_add_fetch(&port_cpus_up, 1, __ATOMIC_ACQ_REL);
	osl_idle_loop();
}

static void wait_icr_idle(void)
{
	while (lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_BUSY)
		cpu_pause();
}

static void spin_us(uint64_t us)
{
	uint64_t end = ik_os_time_ns() + us * 1000;

	while (ik_os_time_ns() < end)
		cpu_pause();
}

int smp_boot_aps(void)
{
	const struct port_acpi *acpi = port_acpi();
	size_t len = (size_t)(tramp_end - tramp_start);

	memcpy(phys_ptr(TRAMP_BASE), tramp_start, len);
	tramp_set(tramp_cr3, (uint64_t)(uintptr_t)boot_pml4);
	tramp_set(tramp_target, (uint64_t)(uintptr_t)ap_main);
	for (unsigned int cpu = 1; cpu < acpi->nr_cpus; cpu++) {
		struct percpu *pc = percpu_alloc(cpu);
		uint32_t apic = acpi->apic_id[cpu];
		uint64_t t0 = ik_os_time_ns();

		pc->apic_id = apic;
		__atomic_store_n(&port_cpus[cpu], pc, __ATOMIC_RELEASE);
		tramp_set(tramp_stack, pc->stack_top);
		tramp_set(tramp_arg, (uint64_t)(uintptr_t)pc);

		/* INIT (assert, level), then two STARTUPs at TRAMP_BASE >> 12. */
		wait_icr_idle();
		lapic_write(LAPIC_ICR_HI, apic << 24);
		lapic_write(LAPIC_ICR_LO, 0x00004500);
		wait_icr_idle();
		spin_us(10000);
		for (unsigned int i = 0; i < 2 && !__atomic_load_n(&pc->up, __ATOMIC_ACQUIRE); i++) {
			lapic_write(LAPIC_ICR_HI, apic << 24);
			lapic_write(LAPIC_ICR_LO, 0x00004600 | (TRAMP_BASE >> 12));
			wait_icr_idle();
			spin_us(200);
		}
		while (!__atomic_load_n(&pc->up, __ATOMIC_ACQUIRE)) {
			if (ik_os_time_ns() - t0 > 2000000000ull) {
				port_printf("smp: cpu %u (apic %u) did not come up\n", cpu, apic);
				return -IK_EIO;
			}
			osl_run_deferred();
			cpu_pause();
		}
		port_printf("smp: cpu %u (apic %u) up in %llu us\n", cpu, apic,
			    (unsigned long long)((ik_os_time_ns() - t0) / 1000));
	}
	return 0;
}
