// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>

#include "sim_test.h"

struct sim_machine *sim_test_machine(unsigned int nr_cpus, const uint32_t *apic_ids,
				     uint64_t seed, bool threaded, unsigned int permille)
{
	struct sim_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_cpus = nr_cpus;
	if (apic_ids) {
		cfg.apic_ids_given = true;
		memcpy(cfg.apic_ids, apic_ids, nr_cpus * sizeof(apic_ids[0]));
	}
	cfg.seed = seed;
	cfg.threaded = threaded;
	cfg.interleave_permille = permille;
	cfg.ram_size = 1u << 20;
	return sim_create(&cfg);
}

uint32_t sim_test_lapic_read(struct sim_machine *m, unsigned int cpu, uint32_t offset)
{
	return (uint32_t)sim_cpu_read(m, cpu, SIM_LAPIC_BASE + offset, 4);
}

void sim_test_lapic_write(struct sim_machine *m, unsigned int cpu, uint32_t offset,
			  uint32_t value)
{
	sim_cpu_write(m, cpu, SIM_LAPIC_BASE + offset, value, 4);
}

bool sim_test_lapic_bank_test(struct sim_machine *m, unsigned int cpu, uint32_t bank,
			      unsigned int vector)
{
	uint32_t reg = sim_test_lapic_read(m, cpu, bank + (vector / 32) * 0x10);

	return (reg >> (vector % 32)) & 1;
}

void sim_test_enable_lapics(struct sim_machine *m)
{
	for (unsigned int cpu = 0; cpu < sim_nr_cpus(m); cpu++) {
		sim_test_lapic_write(m, cpu, T_LAPIC_DFR, 0xFFFFFFFFu);
		sim_test_lapic_write(m, cpu, T_LAPIC_LDR, cpu < 8 ? (1u << cpu) << 24 : 0);
		sim_test_lapic_write(m, cpu, T_LAPIC_SVR, 0x1FF);
	}
}

uint64_t sim_test_msi_addr(uint32_t dest, bool logical)
{
	return 0xFEE00000ull | (uint64_t)(dest & 0xFF) << 12 | (logical ? 1u << 2 : 0);
}

uint32_t sim_test_msi_data(unsigned int vector, bool lowest_priority, bool level)
{
	return (vector & 0xFF) | (lowest_priority ? 1u << 8 : 0) |
	       (level ? (1u << 15 | 1u << 14) : 0);
}

void sim_test_msi(struct sim_machine *m, uint32_t dest, bool logical, unsigned int vector)
{
	sim_dma_write32(m, 0x0100, sim_test_msi_addr(dest, logical),
			sim_test_msi_data(vector, false, false));
}

static void test_idt_entry(void *ctx, unsigned int vector)
{
	struct sim_test_idt *idt = ctx;
	unsigned int cpu = sim_cpu_current(idt->m);

	__atomic_add_fetch(&idt->count[cpu][vector], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&idt->total, 1, __ATOMIC_RELAXED);
	if (!idt->no_log && idt->nr_log < SIM_TEST_LOG_MAX)
		idt->log[idt->nr_log++] = SIM_TEST_ENTER(cpu, vector);
	if (idt->hook)
		idt->hook(idt, cpu, vector);
	if (!idt->no_eoi)
		sim_test_lapic_write(idt->m, cpu, T_LAPIC_EOI, 0);
	if (!idt->no_log && idt->nr_log < SIM_TEST_LOG_MAX)
		idt->log[idt->nr_log++] = SIM_TEST_EXIT(cpu, vector);
}

void sim_test_idt_install(struct sim_machine *m, struct sim_test_idt *idt)
{
	idt->m = m;
	sim_set_idt(m, test_idt_entry, idt);
}
