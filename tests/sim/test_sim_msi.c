// SPDX-License-Identifier: BSD-2-Clause
/* MSI decoding, the physical address space and the test device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_test.h"

static struct sim_test_idt idt;
static const uint32_t sparse_ids[] = { 2, 5, 9, 14 };

static struct sim_machine *machine(unsigned int nr_cpus, const uint32_t *ids)
{
	struct sim_machine *m = sim_test_machine(nr_cpus, ids, 7, false, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	return m;
}

static unsigned int cpus_with_irr(struct sim_machine *m, unsigned int vector)
{
	unsigned int mask = 0;

	for (unsigned int cpu = 0; cpu < sim_nr_cpus(m); cpu++)
		if (sim_lapic_irr_test(m, cpu, vector))
			mask |= 1u << cpu;
	return mask;
}

static void test_physical(void **state)
{
	struct sim_machine *m = machine(4, sparse_ids);

	sim_test_msi(m, 9, false, 0x40);
	assert_int_equal(cpus_with_irr(m, 0x40), 1u << 2);
	sim_test_msi(m, 2, false, 0x41);
	assert_int_equal(cpus_with_irr(m, 0x41), 1u << 0);
	/* No APIC ID 0 on this machine (nor 3). */
	sim_test_msi(m, 0, false, 0x42);
	sim_test_msi(m, 3, false, 0x42);
	assert_int_equal(cpus_with_irr(m, 0x42), 0);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 2);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 2);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 2, 0x40), 1);
	assert_int_equal(idt.count[0][0x41], 1);
	sim_destroy(m);
}

static void test_broadcast(void **state)
{
	struct sim_machine *m = machine(4, sparse_ids);

	sim_test_msi(m, 0xFF, false, 0x50);
	assert_int_equal(cpus_with_irr(m, 0x50), 0xF);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 1);
	/* Offline CPUs are not destinations. */
	sim_cpu_set_online(m, 1, false);
	sim_test_msi(m, 0xFF, false, 0x51);
	assert_int_equal(cpus_with_irr(m, 0x51), 0xD);
	sim_test_msi(m, 5, false, 0x52);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 1);
	/* The 0x50 pending on CPU 1 was stranded there when it went offline. */
	assert_int_equal(sim_stat(m, SIM_STAT_OFFLINE_DISCARDED), 1);
	assert_false(sim_lapic_irr_test(m, 1, 0x50));
	sim_cpu_set_online(m, 1, true);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 1, 0x50), 0);
	assert_int_equal(sim_cpu_vector_count(m, 0, 0x50), 1);
	assert_int_equal(sim_cpu_vector_count(m, 1, 0x51), 0);
	assert_int_equal(sim_cpu_vector_count(m, 2, 0x51), 1);
	/* Offlining an idle CPU discards nothing. */
	sim_cpu_set_online(m, 3, false);
	assert_int_equal(sim_stat(m, SIM_STAT_OFFLINE_DISCARDED), 1);
	sim_destroy(m);
}

static void test_logical_flat_and_cluster(void **state)
{
	struct sim_machine *m = machine(4, sparse_ids);

	/* Flat model: LDR bits 1 << cpu (sim_test_enable_lapics). */
	sim_test_msi(m, 0x06, true, 0x60);
	assert_int_equal(cpus_with_irr(m, 0x60), 0x6);
	sim_test_msi(m, 0x10, true, 0x61);	/* no CPU has LDR bit 4 */
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 1);
	/* Cluster model: dest[7:4] cluster, dest[3:0] members. */
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		sim_test_lapic_write(m, cpu, T_LAPIC_DFR, 0x0FFFFFFF);
		sim_test_lapic_write(m, cpu, T_LAPIC_LDR, (0x20u | 1u << (cpu % 2)) << 24 |
				     (cpu >= 2 ? 0x10u << 24 : 0));
	}
	/* CPUs 0,1 are cluster 2, CPUs 2,3 cluster 3; member bit = cpu % 2. */
	sim_test_msi(m, 0x32, true, 0x62);
	assert_int_equal(cpus_with_irr(m, 0x62), 1u << 3);
	sim_destroy(m);
}

static void test_lowest_priority(void **state)
{
	struct sim_machine *m = machine(4, NULL);
	uint32_t data = sim_test_msi_data(0x70, true, false);

	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x40);
	sim_test_lapic_write(m, 1, T_LAPIC_TPR, 0x20);
	sim_test_lapic_write(m, 2, T_LAPIC_TPR, 0x10);
	sim_test_lapic_write(m, 3, T_LAPIC_TPR, 0x30);
	sim_dma_write32(m, 1, sim_test_msi_addr(0x0F, true), data);
	assert_int_equal(cpus_with_irr(m, 0x70), 1u << 2);
	/* Among CPUs 0, 1, 3 only: CPU 1. */
	sim_dma_write32(m, 1, sim_test_msi_addr(0x0B, true), sim_test_msi_data(0x71, true, false));
	assert_int_equal(cpus_with_irr(m, 0x71), 1u << 1);
	/* Ties go to the lowest index. */
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		sim_test_lapic_write(m, cpu, T_LAPIC_TPR, 0);
	sim_dma_write32(m, 1, sim_test_msi_addr(0x0E, true), sim_test_msi_data(0x72, true, false));
	assert_int_equal(cpus_with_irr(m, 0x72), 1u << 1);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 3);
	sim_destroy(m);
}

static void test_illegal_vector(void **state)
{
	struct sim_machine *m = machine(2, NULL);

	sim_test_msi(m, 1, false, 0x0F);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ILLEGAL_VECTOR), 1);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 0);
	assert_false(sim_lapic_irr_test(m, 1, 0x0F));
	sim_test_lapic_write(m, 1, T_LAPIC_ESR, 0);
	assert_int_equal(sim_test_lapic_read(m, 1, T_LAPIC_ESR), T_ESR_RECV_ILLEGAL);
	sim_test_lapic_write(m, 0, T_LAPIC_ESR, 0);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ESR), 0);
	/* Vector 16 is the first legal one. */
	sim_test_msi(m, 1, false, 0x10);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 1);
	sim_destroy(m);
}

static void test_bad_format(void **state)
{
	struct sim_machine *m = machine(2, NULL);

	/* Remappable format (address bit 4) with no IOMMU. */
	sim_dma_write32(m, 1, sim_test_msi_addr(0, false) | 1u << 4, 0x40);
	/* NMI delivery mode: not modelled for messages. */
	sim_dma_write32(m, 1, sim_test_msi_addr(0, false), 0x400 | 0x40);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_BAD_FORMAT), 2);
	assert_int_equal(cpus_with_irr(m, 0x40), 0);
	sim_destroy(m);
}

static void test_coalescing(void **state)
{
	struct sim_machine *m = machine(2, NULL);

	sim_test_msi(m, 1, false, 0x80);
	sim_test_msi(m, 1, false, 0x80);
	sim_test_msi(m, 1, false, 0x80);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 3);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_COALESCED), 2);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 1, 0x80), 1);
	/* Once taken (IRR -> ISR), a new message latches again. */
	idt.no_eoi = true;
	sim_test_msi(m, 1, false, 0x81);
	sim_run_until_idle(m);
	sim_test_msi(m, 1, false, 0x81);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_COALESCED), 2);
	assert_true(sim_lapic_irr_test(m, 1, 0x81));
	assert_true(sim_lapic_isr_test(m, 1, 0x81));
	sim_destroy(m);
}

static void test_every_message_counted_once(void **state)
{
	struct sim_machine *m = machine(4, sparse_ids);
	uint64_t total = 0;

	for (unsigned int i = 0; i < 2000; i++) {
		uint32_t dest = (uint32_t)(sim_rand(m) & 0xFF);
		uint64_t addr = sim_test_msi_addr(dest, sim_rand(m) & 1) |
				((sim_rand(m) & 7) == 0 ? 1u << 4 : 0);
		uint32_t data = (uint32_t)sim_rand(m) & 0xC7FF;

		sim_dma_write32(m, 1, addr, data);
		if ((i & 63) == 0)
			sim_run_until_idle(m);
	}
	total = sim_stat(m, SIM_STAT_MSI_ACCEPTED) + sim_stat(m, SIM_STAT_MSI_NO_DEST) +
		sim_stat(m, SIM_STAT_MSI_ILLEGAL_VECTOR) + sim_stat(m, SIM_STAT_MSI_BAD_FORMAT);
	assert_int_equal(total, 2000);
	assert_true(sim_stat(m, SIM_STAT_MSI_ACCEPTED) > 0);
	assert_true(sim_stat(m, SIM_STAT_MSI_NO_DEST) > 0);
	assert_true(sim_stat(m, SIM_STAT_MSI_BAD_FORMAT) > 0);
	sim_destroy(m);
}

static void test_config_validation(void **state)
{
	struct sim_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_null(sim_create(&cfg));
	cfg.nr_cpus = SIM_MAX_CPUS + 1;
	assert_null(sim_create(&cfg));
	cfg.nr_cpus = 2;
	cfg.apic_ids_given = true;
	cfg.apic_ids[0] = 4;
	cfg.apic_ids[1] = 4;
	assert_null(sim_create(&cfg));
	cfg.apic_ids[1] = 0xFF;
	assert_null(sim_create(&cfg));
	cfg.apic_ids[1] = 0xFE;
	cfg.ram_size = 0xFEE00000ull + 4096;
	assert_null(sim_create(&cfg));
	cfg.ram_size = 0;
	cfg.nr_cpus = SIM_MAX_CPUS;
	cfg.apic_ids_given = false;
	struct sim_machine *m = sim_create(&cfg);

	assert_non_null(m);
	assert_ptr_equal(sim_current(), m);
	assert_int_equal(sim_nr_cpus(m), SIM_MAX_CPUS);
	sim_destroy(m);
	assert_null(sim_current());
}

struct fake_dev {
	uint32_t regs[4];
	unsigned int reads, writes;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct fake_dev *d = opaque;

	d->reads++;
	return d->regs[offset / 4];
}

static void fake_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct fake_dev *d = opaque;

	d->writes++;
	d->regs[offset / 4] = (uint32_t)value;
}

static const struct sim_region_ops fake_ops = { .read = fake_read, .write = fake_write };

static void test_address_space(void **state)
{
	struct sim_machine *m = machine(1, NULL);
	struct fake_dev dev = { .regs = { 0x11, 0x22, 0x33, 0x44 } };

	/* RAM at 0. */
	sim_cpu_write(m, 0, 0x1000, 0x1122334455667788ull, 8);
	assert_int_equal(sim_cpu_read(m, 0, 0x1000, 8), 0x1122334455667788ull);
	assert_int_equal(sim_cpu_read(m, 0, 0x1004, 4), 0x11223344);
	assert_int_equal(sim_cpu_read(m, 0, 0x1001, 1), 0x77);
	sim_dma_write32(m, 0x100, 0x2000, 0xCAFEF00D);
	assert_int_equal(sim_cpu_read(m, 0, 0x2000, 4), 0xCAFEF00D);

	assert_int_equal(sim_map_region(m, 0xD0000000, 16, &fake_ops, &dev, "fake"), 0);
	assert_int_equal(sim_map_region(m, 0xD000000C, 16, &fake_ops, &dev, "x"), -EEXIST);
	assert_int_equal(sim_map_region(m, 0xCFFFFFF8, 16, &fake_ops, &dev, "x"), -EEXIST);
	assert_int_equal(sim_map_region(m, 0x80000, 16, &fake_ops, &dev, "x"), -EEXIST);
	assert_int_equal(sim_map_region(m, 0xFEE00100, 16, &fake_ops, &dev, "x"), -EEXIST);
	assert_int_equal(sim_map_region(m, 0xD0000010, 0, &fake_ops, &dev, "x"), -EINVAL);
	assert_int_equal(sim_cpu_read(m, 0, 0xD0000008, 4), 0x33);
	sim_cpu_write(m, 0, 0xD0000004, 0x99, 4);
	assert_int_equal(dev.regs[1], 0x99);
	/* Unmapped: reads float high, writes are counted. */
	assert_int_equal(sim_cpu_read(m, 0, 0xD0000010, 4), 0xFFFFFFFF);
	assert_int_equal(sim_cpu_read(m, 0, 0xD0000010, 2), 0xFFFF);
	sim_cpu_write(m, 0, 0xD0000010, 1, 4);
	sim_dma_write32(m, 0x100, 0xE0000000, 1);
	assert_int_equal(sim_stat(m, SIM_STAT_UNMAPPED_WRITES), 2);
	assert_int_equal(sim_unmap_region(m, 0xD0000000), 0);
	assert_int_equal(sim_unmap_region(m, 0xD0000000), -ENOENT);
	assert_int_equal(sim_cpu_read(m, 0, 0xD0000008, 4), 0xFFFFFFFF);
	assert_int_equal(dev.reads, 1);
	assert_int_equal(dev.writes, 1);
	sim_destroy(m);
}

static void program_slot(struct sim_machine *m, uint64_t base, unsigned int slot,
			 uint64_t addr, uint32_t data)
{
	uint64_t s = base + slot * 16;

	sim_cpu_write(m, 0, s + 0x0, (uint32_t)addr, 4);
	sim_cpu_write(m, 0, s + 0x4, (uint32_t)(addr >> 32), 4);
	sim_cpu_write(m, 0, s + 0x8, data, 4);
}

static void test_testdev(void **state)
{
	struct sim_machine *m = machine(4, sparse_ids);
	const uint64_t base = 0xC0000000;
	struct sim_testdev *dev = sim_testdev_create(m, base, 4, 0x0300);

	assert_non_null(dev);
	assert_null(sim_testdev_create(m, base + 0x10, 1, 0x0301));	/* overlap */
	program_slot(m, base, 0, sim_test_msi_addr(5, false), 0x45);
	assert_int_equal(sim_cpu_read(m, 0, base + 0x0, 4), 0xFEE05000);
	assert_int_equal(sim_cpu_read(m, 0, base + 0x8, 4), 0x45);
	sim_testdev_fire(dev, 0);
	assert_true(sim_lapic_irr_test(m, 1, 0x45));

	/* Masked: the fire sets PENDING; unmasking sends the message then. */
	sim_cpu_write(m, 0, base + 0xC, 1, 4);
	sim_testdev_fire(dev, 0);
	assert_int_equal(sim_cpu_read(m, 0, base + 0xC, 4), 3);
	assert_int_equal(sim_testdev_fired(dev, 0), 2);
	assert_int_equal(sim_testdev_sent(dev, 0), 1);
	sim_run_until_idle(m);
	program_slot(m, base, 0, sim_test_msi_addr(14, false), 0x46);
	sim_cpu_write(m, 0, base + 0xC, 0, 4);
	assert_int_equal(sim_cpu_read(m, 0, base + 0xC, 4), 0);
	assert_int_equal(sim_testdev_sent(dev, 0), 2);
	assert_true(sim_lapic_irr_test(m, 3, 0x46));

	/* A half-written message goes out as it stands: new address, old data. */
	sim_cpu_write(m, 0, base + 0x0, (uint32_t)sim_test_msi_addr(2, false), 4);
	sim_testdev_fire(dev, 0);
	assert_true(sim_lapic_irr_test(m, 0, 0x46));

	/* FIRE through the CTRL register. */
	program_slot(m, base, 3, sim_test_msi_addr(9, false), 0x47);
	sim_cpu_write(m, 0, base + 0x3C, 1u << 31, 4);
	assert_true(sim_lapic_irr_test(m, 2, 0x47));
	assert_int_equal(sim_testdev_sent(dev, 3), 1);
	assert_int_equal(sim_testdev_fired(dev, 1), 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.total, 4);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_physical),
		cmocka_unit_test(test_broadcast),
		cmocka_unit_test(test_logical_flat_and_cluster),
		cmocka_unit_test(test_lowest_priority),
		cmocka_unit_test(test_illegal_vector),
		cmocka_unit_test(test_bad_format),
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_every_message_counted_once),
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_address_space),
		cmocka_unit_test(test_testdev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
