// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated PCI bus: configuration space (header, BAR sizing, read-only
 * bits, capability list), ECAM and the configuration hook, BAR decode, MSI
 * (multiple message, per-vector mask + pending), MSI-X (table and PBA at
 * BAR offsets, entry and function masking, torn entry writes), bus master,
 * unplug/re-plug and malformed configuration.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_pci.h"
#include "sim_test.h"

#define ECAM 0xE0000000ull
#define BAR0_ADDR 0xC0000000ull
#define BAR2_ADDR 0x800000000ull	/* 64-bit, above 4 GiB */
#define BDF SIM_PCI_BDF(0, 3, 0)

static struct sim_test_idt idt;

static struct sim_machine *machine(unsigned int permille)
{
	struct sim_machine *m = sim_test_machine(4, NULL, 11, false, permille);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	return m;
}

static uint32_t hook_read(struct sim_machine *m, uint16_t bdf, uint16_t off, unsigned int size)
{
	uint32_t v = 0;

	assert_int_equal(sim_pci_cfg_read(m, 0, bdf, off, size, &v), 0);
	return v;
}

static void hook_write(struct sim_machine *m, uint16_t bdf, uint16_t off, unsigned int size,
		       uint32_t v)
{
	assert_int_equal(sim_pci_cfg_write(m, 0, bdf, off, size, v), 0);
}

static uint32_t ecam_read(struct sim_machine *m, uint16_t bdf, uint16_t off, unsigned int size)
{
	return (uint32_t)sim_cpu_read(m, 0, ECAM + ((uint64_t)bdf << 12) + off, size);
}

static void ecam_write(struct sim_machine *m, uint16_t bdf, uint16_t off, unsigned int size,
		       uint32_t v)
{
	sim_cpu_write(m, 0, ECAM + ((uint64_t)bdf << 12) + off, v, size);
}

/* A device with BAR0 (32-bit, 16 KiB), BAR2 (64-bit prefetchable, 1 MiB), MSI, MSI-X. */
static struct sim_pci_dev_config std_config(void)
{
	struct sim_pci_dev_config c;

	memset(&c, 0, sizeof(c));
	c.vendor_id = 0x1AF4;
	c.device_id = 0x1234;
	c.revision = 2;
	c.class_code = 0x010802;	/* NVMe */
	c.subsys_vendor_id = 0x8086;
	c.subsys_id = 0x5555;
	c.interrupt_pin = 1;
	c.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM32, false, 0x4000, BAR0_ADDR };
	c.bars[2] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, true, 0x100000, BAR2_ADDR };
	c.pm = true;
	c.msi = true;
	c.msi_mmc_log2 = 3;
	c.msi_64bit = true;
	c.msi_maskable = true;
	c.msix = true;
	c.msix_table_size = 64;
	c.msix_table_bir = 2;
	c.msix_table_offset = 0x3000;	/* non-zero offset in BAR2 */
	c.msix_pba_bir = 0;
	c.msix_pba_offset = 0x2000;
	return c;
}

static struct sim_pci_dev *std_dev(struct sim_machine *m, struct sim_pci_bus **busp)
{
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 4);
	struct sim_pci_dev_config c = std_config();
	struct sim_pci_dev *dev;

	assert_non_null(bus);
	dev = sim_pci_dev_create(bus, BDF, &c);
	assert_non_null(dev);
	if (busp)
		*busp = bus;
	return dev;
}

static unsigned int find_cap(struct sim_machine *m, uint16_t bdf, unsigned int id)
{
	unsigned int pos = hook_read(m, bdf, SIM_PCI_CAP_PTR, 1) & ~3u;

	for (unsigned int n = 0; pos && n < 48; n++) {
		if (hook_read(m, bdf, (uint16_t)pos, 1) == id)
			return pos;
		pos = hook_read(m, bdf, (uint16_t)(pos + 1), 1) & ~3u;
	}
	return 0;
}

static void enable(struct sim_machine *m, uint16_t bdf, uint32_t bits)
{
	hook_write(m, bdf, SIM_PCI_COMMAND, 2, hook_read(m, bdf, SIM_PCI_COMMAND, 2) | bits);
}

static uint64_t msi_addr(unsigned int apic_id)
{
	return sim_test_msi_addr(apic_id, false);
}

/* ---- Configuration space --------------------------------------------------------- */

static void test_header(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);

	assert_int_equal(hook_read(m, BDF, SIM_PCI_VENDOR_ID, 2), 0x1AF4);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_VENDOR_ID, 4), 0x12341AF4);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_REVISION_ID, 4), 0x01080202);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_SUBSYS_VENDOR_ID, 4), 0x55558086);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_COMMAND, 2), 0);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_STATUS, 2), SIM_PCI_STATUS_CAP_LIST);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_ROM_ADDRESS, 4), 0);

	/* Read-only fields ignore writes. */
	hook_write(m, BDF, SIM_PCI_VENDOR_ID, 4, 0);
	hook_write(m, BDF, SIM_PCI_REVISION_ID, 4, 0xFFFFFFFF);
	hook_write(m, BDF, SIM_PCI_CAP_PTR, 1, 0);
	hook_write(m, BDF, SIM_PCI_ROM_ADDRESS, 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_VENDOR_ID, 4), 0x12341AF4);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_REVISION_ID, 4), 0x01080202);
	assert_int_not_equal(hook_read(m, BDF, SIM_PCI_CAP_PTR, 1), 0);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_ROM_ADDRESS, 4), 0);
	/* Command: only MSE, BME, parity, SERR, INTx disable are writable. */
	hook_write(m, BDF, SIM_PCI_COMMAND, 2, 0xFFFF);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_COMMAND, 2), 0x0546);
	hook_write(m, BDF, SIM_PCI_COMMAND, 2, 0);
	/* Status: capability bit read-only, error bits rw1c (never set by the model). */
	hook_write(m, BDF, SIM_PCI_STATUS, 2, 0xFFFF);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_STATUS, 2), SIM_PCI_STATUS_CAP_LIST);
	/* Scratch registers. */
	hook_write(m, BDF, SIM_PCI_INTERRUPT_LINE, 1, 0x0B);
	hook_write(m, BDF, SIM_PCI_CACHE_LINE_SIZE, 1, 0x10);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_INTERRUPT_LINE, 1), 0x0B);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_CACHE_LINE_SIZE, 1), 0x10);
	/* Extended space: no extended capabilities. */
	assert_int_equal(hook_read(m, BDF, 0x100, 4), 0);

	/* Capability list: PM -> MSI -> MSI-X, all found by walking. */
	unsigned int pm = find_cap(m, BDF, SIM_PCI_CAP_ID_PM);
	unsigned int msi = find_cap(m, BDF, SIM_PCI_CAP_ID_MSI);
	unsigned int msix = find_cap(m, BDF, SIM_PCI_CAP_ID_MSIX);

	assert_int_equal(pm, sim_pci_dev_pm_cap(dev));
	assert_int_equal(msi, sim_pci_dev_msi_cap(dev));
	assert_int_equal(msix, sim_pci_dev_msix_cap(dev));
	assert_int_equal(pm, 0x40);
	assert_true(pm && msi && msix);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_CAP_PTR, 1), pm);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(pm + 1), 1), msi);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 1), 1), msix);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 1), 1), 0);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(pm + 2), 2), 0x0003);

	/* MSI: MMC = 3, 64-bit, maskable; only enable and MME writable. */
	uint16_t flags = (uint16_t)hook_read(m, BDF, (uint16_t)(msi + 2), 2);

	assert_int_equal(flags, 3u << 1 | SIM_PCI_MSI_FLAGS_64BIT | SIM_PCI_MSI_FLAGS_MASKBIT);
	hook_write(m, BDF, (uint16_t)(msi + 2), 2, 0xFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 2), 2), flags | 0x71);
	hook_write(m, BDF, (uint16_t)(msi + 2), 2, 0);
	hook_write(m, BDF, (uint16_t)(msi + 4), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 4), 4), 0xFFFFFFFC);
	hook_write(m, BDF, (uint16_t)(msi + 8), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 8), 4), 0xFFFFFFFF);
	hook_write(m, BDF, (uint16_t)(msi + 0x0C), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 0x0C), 4), 0xFFFF);
	/* 8 implemented vectors: mask bits 7:0; pending read-only. */
	hook_write(m, BDF, (uint16_t)(msi + 0x10), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 0x10), 4), 0xFF);
	hook_write(m, BDF, (uint16_t)(msi + 0x14), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msi + 0x14), 4), 0);

	/* MSI-X: table size 63, only Function Mask and Enable writable, BIR/offsets ro. */
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 2), 2), 63);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 4), 4), 0x3000 | 2);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 8), 4), 0x2000 | 0);
	hook_write(m, BDF, (uint16_t)(msix + 2), 2, 0xFFFF);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 2), 2), 0xC000 | 63);
	hook_write(m, BDF, (uint16_t)(msix + 4), 4, 0);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(msix + 4), 4), 0x3002);
	sim_destroy(m);
}

static void test_bar_sizing(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 1);
	struct sim_pci_dev_config c;

	memset(&c, 0, sizeof(c));
	c.vendor_id = 0x8086;
	c.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM32, false, 0x1000, 0xC0001000 };
	c.bars[1] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, true, 0x100000, 0xC0100000 };
	c.bars[3] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, 8ull << 30, 0x400000000ull };
	assert_non_null(sim_pci_dev_create(bus, BDF, &c));

	assert_int_equal(hook_read(m, BDF, 0x10, 4), 0xC0001000);
	assert_int_equal(hook_read(m, BDF, 0x14, 4), 0xC0100000 | 0xC);
	assert_int_equal(hook_read(m, BDF, 0x18, 4), 0);
	assert_int_equal(hook_read(m, BDF, 0x1C, 4), 0x4);
	assert_int_equal(hook_read(m, BDF, 0x20, 4), 0x4);
	assert_int_equal(hook_read(m, BDF, 0x24, 4), 0);
	/* Sizing: all-ones in, size mask out (type bits kept). */
	for (uint16_t off = 0x10; off <= 0x24; off += 4)
		hook_write(m, BDF, off, 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, 0x10, 4), 0xFFFFF000);
	assert_int_equal(hook_read(m, BDF, 0x14, 4), 0xFFF0000C);
	assert_int_equal(hook_read(m, BDF, 0x18, 4), 0xFFFFFFFF);
	assert_int_equal(hook_read(m, BDF, 0x1C, 4), 0x00000004);	/* 8 GiB: low half all size */
	assert_int_equal(hook_read(m, BDF, 0x20, 4), 0xFFFFFFFE);
	assert_int_equal(hook_read(m, BDF, 0x24, 4), 0);		/* 64-bit BAR3 took BAR4 */
	/* Address bits below the size are read-only zero. */
	hook_write(m, BDF, 0x10, 4, 0xD0000FFF);
	assert_int_equal(hook_read(m, BDF, 0x10, 4), 0xD0000000);
	/* The upper half of a 64-bit BAR is rw; an unimplemented BAR is ro 0. */
	hook_write(m, BDF, 0x18, 4, 0x12345678);
	assert_int_equal(hook_read(m, BDF, 0x18, 4), 0x12345678);
	hook_write(m, BDF, 0x24, 4, 0x12345678);
	assert_int_equal(hook_read(m, BDF, 0x24, 4), 0);
	sim_destroy(m);
}

static uint64_t hook_bar_reads, hook_bar_writes, hook_last_off;

static uint64_t dev_bar_read(void *opaque, unsigned int bar, uint64_t offset, unsigned int size)
{
	hook_bar_reads++;
	hook_last_off = offset;
	return 0xA5000000u | bar << 16 | (uint32_t)offset;
}

static void dev_bar_write(void *opaque, unsigned int bar, uint64_t offset, uint64_t value,
			  unsigned int size)
{
	hook_bar_writes++;
	hook_last_off = offset;
}

static const struct sim_pci_bar_ops dev_ops = { .read = dev_bar_read, .write = dev_bar_write };

static void test_bar_decode(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 4);
	struct sim_pci_dev_config c = std_config();
	struct sim_pci_dev *dev;
	struct sim_pci_stats st;
	uint64_t base;

	c.bar_ops = &dev_ops;
	dev = sim_pci_dev_create(bus, BDF, &c);
	assert_non_null(dev);
	hook_bar_reads = hook_bar_writes = 0;
	/* Memory Space Enable clear: nothing decodes. */
	assert_false(sim_pci_dev_bar_decoding(dev, 0, NULL));
	assert_int_equal(sim_cpu_read(m, 0, BAR0_ADDR + 0x10, 4), 0xFFFFFFFF);
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x3000 + 0xC, 4), 0xFFFFFFFF);
	enable(m, BDF, SIM_PCI_COMMAND_MEMORY);
	assert_true(sim_pci_dev_bar_decoding(dev, 0, &base));
	assert_int_equal(base, BAR0_ADDR);
	assert_true(sim_pci_dev_bar_decoding(dev, 2, &base));
	assert_int_equal(base, BAR2_ADDR);
	/* Table entry 0 vector control: masked out of reset. */
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x3000 + 0xC, 4), 1);
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x3000 + 63 * 16 + 0xC, 4), 1);
	/* Outside table and PBA: the device model. */
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x10, 4), 0xA5020010);
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x3000 + 64 * 16, 4), 0xA5023400);
	sim_cpu_write(m, 0, BAR0_ADDR + 0x1FF8, 1, 4);
	assert_int_equal(hook_last_off, 0x1FF8);
	assert_int_equal(sim_cpu_read(m, 0, BAR0_ADDR + 0x2000, 8), 0);	/* PBA */
	sim_cpu_write(m, 0, BAR0_ADDR + 0x2000, ~0ull, 8);		/* ro */
	assert_int_equal(sim_cpu_read(m, 0, BAR0_ADDR + 0x2000, 8), 0);
	assert_int_equal(sim_cpu_read(m, 0, BAR0_ADDR + 0x2008, 4), 0xA5002008);
	assert_int_equal(hook_bar_writes, 1);
	/* Moving the BAR moves the decode. */
	hook_write(m, BDF, 0x10, 4, 0xC0010000);
	assert_int_equal(sim_cpu_read(m, 0, BAR0_ADDR + 0x10, 4), 0xFFFFFFFF);
	assert_int_equal(sim_cpu_read(m, 0, 0xC0010000 + 0x10, 4), 0xA5000010);
	/* Sizing with decode on maps over RAM: refused and counted, not fatal. */
	hook_write(m, BDF, 0x10, 4, 0);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.bar_conflicts, 1);
	assert_false(sim_pci_dev_bar_decoding(dev, 0, NULL));
	hook_write(m, BDF, 0x10, 4, (uint32_t)BAR0_ADDR);
	assert_true(sim_pci_dev_bar_decoding(dev, 0, NULL));
	/* Off again. */
	hook_write(m, BDF, SIM_PCI_COMMAND, 2, 0);
	assert_false(sim_pci_dev_bar_decoding(dev, 2, NULL));
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0x3000 + 0xC, 4), 0xFFFFFFFF);
	sim_destroy(m);
}

static void test_ecam_matches_hook(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_bus *bus;
	struct sim_pci_dev *dev = std_dev(m, &bus);
	struct sim_pci_dev_config c = std_config();
	uint16_t other = SIM_PCI_BDF(2, 31, 7);

	c.bars[0].addr = 0xC1000000;
	c.bars[2].addr = 0x900000000ull;
	c.pm = false;
	assert_non_null(sim_pci_dev_create(bus, other, &c));
	for (uint16_t off = 0; off < 0x104; off += 4) {
		assert_int_equal(ecam_read(m, BDF, off, 4), hook_read(m, BDF, off, 4));
		assert_int_equal(ecam_read(m, other, off, 4), hook_read(m, other, off, 4));
		assert_int_equal(ecam_read(m, BDF, off + 2, 2), hook_read(m, BDF, off + 2, 2));
		assert_int_equal(ecam_read(m, BDF, off + 3, 1), hook_read(m, BDF, off + 3, 1));
	}
	/* A write through one is seen through the other. */
	ecam_write(m, BDF, SIM_PCI_COMMAND, 2, SIM_PCI_COMMAND_MASTER);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_COMMAND, 2), SIM_PCI_COMMAND_MASTER);
	hook_write(m, other, SIM_PCI_INTERRUPT_LINE, 1, 0x42);
	assert_int_equal(ecam_read(m, other, SIM_PCI_INTERRUPT_LINE, 1), 0x42);
	/* Absent functions and buses beyond the segment: all-ones. */
	assert_int_equal(hook_read(m, SIM_PCI_BDF(0, 4, 0), 0, 4), 0xFFFFFFFF);
	assert_int_equal(ecam_read(m, SIM_PCI_BDF(0, 4, 0), 0, 4), 0xFFFFFFFF);
	assert_int_equal(hook_read(m, SIM_PCI_BDF(0, 4, 0), 0, 2), 0xFFFF);
	assert_int_equal(hook_read(m, SIM_PCI_BDF(9, 0, 0), 0, 4), 0xFFFFFFFF);
	assert_int_equal(ecam_read(m, SIM_PCI_BDF(0, 3, 1), 0, 2), 0xFFFF);
	/* Misaligned ECAM access: all-ones; the hook refuses it. */
	assert_int_equal(ecam_read(m, BDF, 1, 2), 0xFFFF);
	{
		uint32_t v;

		assert_int_equal(sim_pci_cfg_read(m, 0, BDF, 1, 2, &v), -EINVAL);
	}
	/* Another segment. */
	assert_null(sim_pci_bus_create(m, 0, 0, 1));		/* duplicate segment */
	assert_null(sim_pci_bus_create(m, 1, ECAM, 1));		/* ECAM overlap */
	struct sim_pci_bus *seg1 = sim_pci_bus_create(m, 1, 0, 1);

	assert_non_null(seg1);
	c.bars[0].addr = 0xC2000000;
	c.bars[2].addr = 0xA00000000ull;
	c.device_id = 0x7777;
	assert_non_null(sim_pci_dev_create(seg1, BDF, &c));
	{
		uint32_t v;

		assert_int_equal(sim_pci_cfg_read(m, 1, BDF, SIM_PCI_DEVICE_ID, 2, &v), 0);
		assert_int_equal(v, 0x7777);
		assert_int_equal(sim_pci_cfg_read(m, 2, BDF, SIM_PCI_DEVICE_ID, 2, &v), 0);
		assert_int_equal(v, 0xFFFF);
	}
	assert_int_equal(hook_read(m, BDF, SIM_PCI_DEVICE_ID, 2), 0x1234);
	(void)dev;
	sim_destroy(m);
}

/* ---- MSI -------------------------------------------------------------------------------- */

static void msi_program(struct sim_machine *m, unsigned int cap, uint64_t addr, uint16_t data,
			unsigned int mme_log2)
{
	hook_write(m, BDF, (uint16_t)(cap + 4), 4, (uint32_t)addr);
	hook_write(m, BDF, (uint16_t)(cap + 8), 4, (uint32_t)(addr >> 32));
	hook_write(m, BDF, (uint16_t)(cap + 0xC), 2, data);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, mme_log2 << 4 | SIM_PCI_MSI_FLAGS_ENABLE);
}

static void test_msi_multi_message(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	unsigned int cap = sim_pci_dev_msi_cap(dev);
	struct sim_pci_stats st;
	uint64_t addr;
	uint32_t data;

	enable(m, BDF, SIM_PCI_COMMAND_MASTER);
	/* 4 of 8 enabled; data 0x40 -> vectors 0x40..0x43 to APIC 2. */
	msi_program(m, cap, msi_addr(2), 0x40, 2);
	for (unsigned int k = 0; k < 4; k++)
		sim_pci_dev_raise(dev, k);
	for (unsigned int k = 0; k < 4; k++)
		assert_true(sim_lapic_irr_test(m, 2, 0x40 + k));
	/* More than enabled: shares the last one. */
	sim_pci_dev_raise(dev, 6);
	assert_true(sim_pci_dev_last_msg(dev, &addr, &data));
	assert_int_equal(addr, msi_addr(2));
	assert_int_equal(data, 0x43);
	/* Data bits below N are replaced, not ORed. */
	hook_write(m, BDF, (uint16_t)(cap + 0xC), 2, 0x4F);
	sim_pci_dev_raise(dev, 1);
	sim_pci_dev_last_msg(dev, NULL, &data);
	assert_int_equal(data, 0x4D);
	/* MME beyond MMC is clamped to MMC (8 vectors). */
	hook_write(m, BDF, (uint16_t)(cap + 0xC), 2, 0x80);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, 7u << 4 | 1);
	sim_pci_dev_raise(dev, 7);
	sim_pci_dev_last_msg(dev, NULL, &data);
	assert_int_equal(data, 0x87);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.raised, 7);
	assert_int_equal(st.sent, 7);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[2][0x40], 1);
	assert_int_equal(idt.count[2][0x43], 1);	/* the second merged in the IRR */
	assert_int_equal(idt.count[2][0x87], 1);

	/* The 32-bit layout: data at +8, mask at +0xC. */
	struct sim_pci_dev_config c = std_config();
	uint16_t bdf2 = SIM_PCI_BDF(0, 5, 0);

	c.msix = false;
	c.pm = false;
	c.msi_64bit = false;
	c.msi_mmc_log2 = 0;
	c.bars[0].addr = 0xC1000000;
	c.bars[2].addr = 0x900000000ull;
	struct sim_pci_dev *d32 = sim_pci_dev_create(sim_pci_dev_bus(dev), bdf2, &c);

	assert_non_null(d32);
	cap = sim_pci_dev_msi_cap(d32);
	assert_int_equal(cap, 0x40);
	assert_int_equal(hook_read(m, bdf2, (uint16_t)(cap + 2), 2), SIM_PCI_MSI_FLAGS_MASKBIT);
	hook_write(m, bdf2, (uint16_t)(cap + 4), 4, (uint32_t)msi_addr(1));
	hook_write(m, bdf2, (uint16_t)(cap + 8), 2, 0x51);
	hook_write(m, bdf2, (uint16_t)(cap + 0xC), 4, 0xFFFFFFFF);
	assert_int_equal(hook_read(m, bdf2, (uint16_t)(cap + 0xC), 4), 1);	/* 1 vector */
	hook_write(m, bdf2, (uint16_t)(cap + 0xC), 4, 0);
	hook_write(m, bdf2, (uint16_t)(cap + 2), 2, 0x71);	/* MME clamps to 0 */
	enable(m, bdf2, SIM_PCI_COMMAND_MASTER);
	sim_pci_dev_raise(d32, 3);
	assert_true(sim_pci_dev_last_msg(d32, &addr, &data));
	assert_int_equal(addr, msi_addr(1));
	assert_int_equal(data, 0x51);
	assert_true(sim_lapic_irr_test(m, 1, 0x51));
	sim_destroy(m);
}

static void test_msi_mask_pending(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	unsigned int cap = sim_pci_dev_msi_cap(dev);
	struct sim_pci_stats st;

	enable(m, BDF, SIM_PCI_COMMAND_MASTER);
	msi_program(m, cap, msi_addr(3), 0x60, 3);
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 0x06);	/* mask vectors 1, 2 */
	sim_pci_dev_raise(dev, 1);
	sim_pci_dev_raise(dev, 1);
	sim_pci_dev_raise(dev, 2);
	sim_pci_dev_raise(dev, 0);
	assert_int_equal(hook_read(m, BDF, (uint16_t)(cap + 0x14), 4), 0x06);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 0x06);
	assert_int_equal(sim_pci_msi_mask_bits(dev), 0x06);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.pending_set, 3);
	/* Unmask vector 1: sent once, its pending bit clears; vector 2 stays. */
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 0x04);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 0x04);
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 0x04);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 2);
	/* Pending survives MSI disable; it is sent when deliverable again. */
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, 3u << 4);
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 0);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 0x04);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, 3u << 4 | 1);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 0);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 3);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x60], 1);
	assert_int_equal(idt.count[3][0x61], 1);
	assert_int_equal(idt.count[3][0x62], 1);
	assert_int_equal(idt.total, 3);
	sim_pci_dev_vector_stats(dev, 1, &st);
	assert_int_equal(st.raised, 2);
	assert_int_equal(st.pending_set, 2);
	assert_int_equal(st.sent, 1);
	sim_destroy(m);
}

static void test_bus_master_and_disable(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	unsigned int cap = sim_pci_dev_msi_cap(dev);
	struct sim_pci_stats st;

	/* Nothing enabled. */
	sim_pci_dev_raise(dev, 0);
	/* MSI enabled but no bus master. */
	msi_program(m, cap, msi_addr(0), 0x30, 0);
	sim_pci_dev_raise(dev, 0);
	/* Masked without bus master: pending, sent once BME is set. */
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 1);
	sim_pci_dev_raise(dev, 0);
	hook_write(m, BDF, (uint16_t)(cap + 0x10), 4, 0);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 1);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.raised, 3);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.dropped_disabled, 1);
	assert_int_equal(st.dropped_no_bus_master, 1);
	assert_int_equal(st.pending_set, 1);
	enable(m, BDF, SIM_PCI_COMMAND_MASTER);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(sim_pci_msi_pending_bits(dev), 0);
	assert_true(sim_lapic_irr_test(m, 0, 0x30));
	/* Device-model DMA needs bus master too. */
	assert_true(sim_pci_dev_dma_write32(dev, 0x3000, 0xABCD));
	assert_int_equal(sim_cpu_read(m, 0, 0x3000, 4), 0xABCD);
	hook_write(m, BDF, SIM_PCI_COMMAND, 2, 0);
	assert_false(sim_pci_dev_dma_write32(dev, 0x3000, 0x1));
	assert_int_equal(sim_cpu_read(m, 0, 0x3000, 4), 0xABCD);
	sim_destroy(m);
}

/* ---- MSI-X ------------------------------------------------------------------------------- */

#define TABLE (BAR2_ADDR + 0x3000)
#define PBA (BAR0_ADDR + 0x2000)

static void entry_write(struct sim_machine *m, unsigned int k, uint64_t addr, uint32_t data)
{
	sim_cpu_write(m, 0, TABLE + k * 16 + 0, (uint32_t)addr, 4);
	sim_cpu_write(m, 0, TABLE + k * 16 + 4, (uint32_t)(addr >> 32), 4);
	sim_cpu_write(m, 0, TABLE + k * 16 + 8, data, 4);
}

static void entry_mask(struct sim_machine *m, unsigned int k, bool masked)
{
	sim_cpu_write(m, 0, TABLE + k * 16 + 0xC, masked ? 1 : 0, 4);
}

static unsigned int msix_on(struct sim_machine *m, struct sim_pci_dev *dev, bool maskall)
{
	unsigned int cap = sim_pci_dev_msix_cap(dev);

	enable(m, BDF, SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2,
		   SIM_PCI_MSIX_FLAGS_ENABLE | (maskall ? SIM_PCI_MSIX_FLAGS_MASKALL : 0));
	return cap;
}

static void test_msix_entry_mask_pba(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	struct sim_pci_msix_entry e;
	struct sim_pci_stats st;

	msix_on(m, dev, false);
	entry_write(m, 5, msi_addr(1), 0x55);
	entry_write(m, 63, msi_addr(2), 0x56);
	assert_true(sim_pci_msix_entry(dev, 5, &e));
	assert_int_equal(e.addr_lo, (uint32_t)msi_addr(1));
	assert_int_equal(e.data, 0x55);
	assert_int_equal(e.ctrl, 1);
	assert_false(sim_pci_msix_entry(dev, 64, &e));
	/* Raised while masked: PBA bit, read through the BAR. */
	sim_pci_dev_raise(dev, 5);
	sim_pci_dev_raise(dev, 5);
	sim_pci_dev_raise(dev, 63);
	assert_true(sim_pci_msix_pending(dev, 5));
	assert_int_equal(sim_cpu_read(m, 0, PBA, 8), 1ull << 5 | 1ull << 63);
	assert_int_equal(sim_cpu_read(m, 0, PBA + 4, 4), 1u << 31);
	assert_int_equal(sim_cpu_read(m, 0, PBA, 1), 1u << 5);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.pending_set, 3);
	/* Unmask: delivered exactly once, PBA bit cleared. */
	entry_mask(m, 5, false);
	assert_false(sim_pci_msix_pending(dev, 5));
	assert_int_equal(sim_cpu_read(m, 0, PBA, 8), 1ull << 63);
	entry_mask(m, 5, true);
	entry_mask(m, 5, false);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 1);
	sim_run_until_idle(m);
	/* Unmasked: sent at once. */
	sim_pci_dev_raise(dev, 5);
	/* 8-byte access to the control dword + data: unmask 63 with a qword write. */
	sim_cpu_write(m, 0, TABLE + 63 * 16 + 8, 0x56, 8);
	assert_false(sim_pci_msix_pending(dev, 63));
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 3);
	/* Beyond the table. */
	sim_pci_dev_raise(dev, 64);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.dropped_bad_vector, 1);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x55], 2);
	assert_int_equal(idt.count[2][0x56], 1);
	/* Table readback: sizes 8, 2, 1; address bits 1:0 read 0. */
	sim_cpu_write(m, 0, TABLE + 7 * 16, 0x1234567800000000ull | 0xFEE00003u, 8);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 7 * 16, 8), 0x12345678FEE00000ull);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 7 * 16 + 6, 2), 0x1234);
	sim_cpu_write(m, 0, TABLE + 7 * 16 + 8, 0xAB, 1);
	sim_cpu_write(m, 0, TABLE + 7 * 16 + 9, 0xCD, 1);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 7 * 16 + 8, 4), 0xCDAB);
	/* Vector control: only the mask bit is writable. */
	sim_cpu_write(m, 0, TABLE + 7 * 16 + 0xC, 0xFFFFFFFE, 4);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 7 * 16 + 0xC, 4), 0);
	sim_destroy(m);
}

static void test_msix_function_mask(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	unsigned int cap = msix_on(m, dev, true);
	struct sim_pci_stats st;

	for (unsigned int k = 0; k < 4; k++) {
		entry_write(m, k, msi_addr(k), 0x70 + k);
		entry_mask(m, k, false);
	}
	entry_mask(m, 3, true);
	for (unsigned int k = 0; k < 4; k++) {
		sim_pci_dev_raise(dev, k);
		sim_pci_dev_raise(dev, k);
	}
	assert_int_equal(sim_cpu_read(m, 0, PBA, 4), 0xF);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 0);
	/* Function Mask clear: entries 0..2 once each; 3 stays pending behind its own mask. */
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, SIM_PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(sim_cpu_read(m, 0, PBA, 4), 0x8);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, SIM_PCI_MSIX_FLAGS_ENABLE);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 3);
	entry_mask(m, 3, false);
	assert_int_equal(sim_cpu_read(m, 0, PBA, 4), 0);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 4);
	sim_run_until_idle(m);
	for (unsigned int k = 0; k < 4; k++)
		assert_int_equal(idt.count[k][0x70 + k], 1);
	assert_int_equal(idt.total, 4);

	/* Many pending at once (more than one delivery batch), all exactly once. */
	hook_write(m, BDF, (uint16_t)(cap + 2), 2,
		   SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int k = 0; k < 64; k++) {
		entry_write(m, k, 0x10000 + k * 4, 0x1000 + k);
		entry_mask(m, k, false);
		sim_pci_dev_raise(dev, k);
	}
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, SIM_PCI_MSIX_FLAGS_ENABLE);
	for (unsigned int k = 0; k < 64; k++) {
		struct sim_pci_stats vs;

		assert_int_equal(sim_cpu_read(m, 0, 0x10000 + k * 4, 4), 0x1000 + k);
		sim_pci_dev_vector_stats(dev, k, &vs);
		assert_int_equal(vs.sent, k < 4 ? 2 : 1);
	}
	assert_int_equal(sim_cpu_read(m, 0, PBA, 8), 0);

	/* MSI-X disabled: raises dropped, MSI not used while MSI-X is enabled. */
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, 0);
	sim_pci_dev_raise(dev, 0);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.dropped_disabled, 1);
	sim_destroy(m);
}

static void test_msix_torn_entry(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	uint64_t addr;
	uint32_t data;

	msix_on(m, dev, false);
	entry_write(m, 0, 0x1000, 0x11);
	entry_mask(m, 0, false);
	sim_pci_dev_raise(dev, 0);
	assert_int_equal(sim_cpu_read(m, 0, 0x1000, 4), 0x11);
	/* Rewrite the unmasked entry; a raise between the writes sends the mix. */
	sim_cpu_write(m, 0, TABLE + 0, 0x2000, 4);
	sim_pci_dev_raise(dev, 0);
	assert_true(sim_pci_dev_last_msg(dev, &addr, &data));
	assert_int_equal(addr, 0x2000);
	assert_int_equal(data, 0x11);
	assert_int_equal(sim_cpu_read(m, 0, 0x2000, 4), 0x11);
	sim_cpu_write(m, 0, TABLE + 8, 0x22, 4);
	sim_pci_dev_raise(dev, 0);
	assert_int_equal(sim_cpu_read(m, 0, 0x2000, 4), 0x22);
	sim_destroy(m);
}

/* The same through the scheduler: a device event interleaved at a register write. */
static void raise_event(void *arg)
{
	sim_pci_dev_raise(arg, 0);
}

static void test_msix_torn_entry_scheduled(void **state)
{
	struct sim_machine *m = machine(1000);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	uint64_t addr;
	uint32_t data;

	msix_on(m, dev, false);
	entry_write(m, 0, msi_addr(0), 0x40);
	entry_mask(m, 0, false);
	/* Move the vector to APIC 3 / 0x41: address first, then data. */
	sim_cpu_write(m, 0, TABLE + 0, (uint32_t)msi_addr(3), 4);
	sim_schedule(m, 0, raise_event, dev);
	sim_point(m);		/* what the host port does before the next access */
	sim_cpu_write(m, 0, TABLE + 8, 0x41, 4);
	assert_true(sim_pci_dev_last_msg(dev, &addr, &data));
	assert_int_equal(addr, msi_addr(3));
	assert_int_equal(data, 0x40);	/* torn: new destination, old vector */
	sim_run_until_idle(m);
	assert_int_equal(idt.count[3][0x40], 1);
	sim_destroy(m);
}

/* ---- Unplug, re-plug, malformed ------------------------------------------------------------ */

static void test_unplug_replug(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_bus *bus;
	struct sim_pci_dev *dev = std_dev(m, &bus);
	struct sim_pci_dev_config c = std_config();
	struct sim_pci_dev *fn1;
	struct sim_pci_stats st;

	/* Function 1 of the same device: function 0 becomes multi-function. */
	c.bars[0].addr = 0xC1000000;
	c.bars[2].addr = 0x900000000ull;
	fn1 = sim_pci_dev_create(bus, SIM_PCI_BDF(0, 3, 1), &c);
	assert_non_null(fn1);
	assert_null(sim_pci_dev_create(bus, SIM_PCI_BDF(0, 3, 1), &c));	/* occupied */
	assert_int_equal(hook_read(m, BDF, SIM_PCI_HEADER_TYPE, 1), 0x80);
	assert_int_equal(hook_read(m, SIM_PCI_BDF(0, 3, 1), SIM_PCI_HEADER_TYPE, 1), 0);
	assert_ptr_equal(sim_pci_bus_dev(bus, BDF), dev);

	msix_on(m, dev, false);
	entry_write(m, 0, msi_addr(0), 0x90);
	entry_mask(m, 0, false);
	sim_pci_dev_raise(dev, 0);
	sim_pci_dev_destroy(fn1);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_HEADER_TYPE, 1), 0);
	sim_pci_dev_destroy(dev);
	assert_false(sim_pci_dev_present(dev));
	assert_null(sim_pci_bus_dev(bus, BDF));
	assert_int_equal(hook_read(m, BDF, SIM_PCI_VENDOR_ID, 2), 0xFFFF);
	assert_int_equal(ecam_read(m, BDF, SIM_PCI_VENDOR_ID, 4), 0xFFFFFFFF);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 0xC, 4), 0xFFFFFFFF);
	hook_write(m, BDF, SIM_PCI_COMMAND, 2, 7);
	/* A stale pointer is inert. */
	sim_pci_dev_raise(dev, 0);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.dropped_disabled, 1);
	assert_false(sim_pci_dev_dma_write32(dev, 0x1000, 1));

	/* Re-plug at the same address: fresh function, same BAR addresses. */
	c = std_config();
	c.device_id = 0x4321;
	dev = sim_pci_dev_create(bus, BDF, &c);
	assert_non_null(dev);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_DEVICE_ID, 2), 0x4321);
	assert_int_equal(hook_read(m, BDF, SIM_PCI_COMMAND, 2), 0);
	msix_on(m, dev, false);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 0xC, 4), 1);
	entry_write(m, 0, msi_addr(1), 0x91);
	entry_mask(m, 0, false);
	sim_pci_dev_raise(dev, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x90], 1);
	assert_int_equal(idt.count[1][0x91], 1);
	sim_destroy(m);
}

static void test_create_validation(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_bus *bus = sim_pci_bus_create(m, 0, ECAM, 1);
	struct sim_pci_dev_config c;

	assert_null(sim_pci_bus_create(m, 3, 0xE0080000ull, 1));	/* ECAM misaligned */
	assert_null(sim_pci_bus_create(m, 3, 0, 0));
#define BAD(stmt)                                                         \
	do {                                                              \
		c = std_config();                                         \
		stmt;                                                     \
		assert_null(sim_pci_dev_create(bus, BDF, &c));            \
	} while (0)
	BAD(c.vendor_id = 0xFFFF);
	BAD(c.bars[0].size = 0x3000);
	BAD(c.bars[0].size = 8);
	BAD(c.bars[0].addr = BAR0_ADDR + 0x100);
	BAD(c.bars[0].addr = 0x100000000ull);	/* 32-bit BAR above 4 GiB */
	BAD(c.bars[3].type = SIM_PCI_BAR_MEM32);	/* upper half of 64-bit BAR2 */
	BAD(c.bars[5].type = SIM_PCI_BAR_MEM64);
	BAD(c.msi_mmc_log2 = 6);
	BAD(c.msix_table_size = 0);
	BAD(c.msix_table_size = 2049);
	BAD(c.msix_table_offset = 0x3004);
	BAD(c.msix_pba_bir = 8);
	BAD(c.msi_cap_offset = 0x3C);
	BAD(c.msi_cap_offset = 0xF0);		/* runs past 0xFF */
	BAD(c.msix_cap_offset = 0x42);
	BAD(c.msi_cap_offset = 0x40);		/* overlaps PM at 0x40 */
	assert_null(sim_pci_dev_create(bus, SIM_PCI_BDF(1, 0, 0), &c));	/* no bus 1 */
#undef BAD
	/* Odd but legal: caps at given offsets, list not in address order, BIR 7. */
	c = std_config();
	c.pm_cap_offset = 0xE0;
	c.msi_cap_offset = 0x80;
	c.msix_table_bir = 7;
	c.msix_pba_offset = 0x100000;	/* beyond BAR0 */
	struct sim_pci_dev *dev = sim_pci_dev_create(bus, BDF, &c);

	assert_non_null(dev);
	assert_int_equal(find_cap(m, BDF, SIM_PCI_CAP_ID_PM), 0xE0);
	assert_int_equal(find_cap(m, BDF, SIM_PCI_CAP_ID_MSI), 0x80);
	assert_int_equal(find_cap(m, BDF, SIM_PCI_CAP_ID_MSIX), 0x98);
	sim_destroy(m);
}

static void test_malformed_never_crash(void **state)
{
	struct sim_machine *m = machine(0);
	struct sim_pci_dev *dev = std_dev(m, NULL);
	unsigned int cap = msix_on(m, dev, false);
	unsigned int msi = sim_pci_dev_msi_cap(dev);

	/* Capability pointer loop. */
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 1), 1, sim_pci_dev_pm_cap(dev));
	assert_int_equal(hook_read(m, BDF, (uint16_t)(cap + 1), 1), 0x40);
	/* BIR 6 and 7: no table decode, raises still work as the model says. */
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 4), 4, 0x3000 | 6);
	assert_int_equal(sim_cpu_read(m, 0, TABLE + 0xC, 4), 0);	/* device area now */
	sim_pci_dev_raise(dev, 0);
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 8), 4, 7);
	/* Table running off the end of its BAR, with the largest table size. */
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 4), 4, 0xFFFF8 | 2);
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 2), 2, SIM_PCI_MSIX_FLAGS_ENABLE | 0x7FF);
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0xFFFF8, 4), 0);
	assert_int_equal(sim_cpu_read(m, 0, BAR2_ADDR + 0xFFFF8 + 0xC - 0x10, 4), 0);
	sim_cpu_write(m, 0, BAR2_ADDR + 0xFFFF8 + 0xC - 0x10, 0, 4);
	sim_pci_dev_raise(dev, 2047);
	sim_pci_dev_raise(dev, 2048);
	/* Table and PBA overlapping in the same place. */
	sim_pci_cfg_poke(dev, (uint16_t)(cap + 8), 4, 0xFFFF8 | 2);
	sim_cpu_read(m, 0, BAR2_ADDR + 0xFFFF8, 8);
	/* MSI flags rewritten: 32-bit layout, MMC 7, MME 7. */
	sim_pci_cfg_poke(dev, (uint16_t)(msi + 2), 2, 0xFFFF);
	hook_write(m, BDF, (uint16_t)(cap + 2), 2, 0);
	sim_pci_dev_raise(dev, 31);
	sim_pci_dev_raise(dev, 1000);

	/* Random pokes and accesses everywhere. */
	for (unsigned int i = 0; i < 20000; i++) {
		uint64_t r = sim_rand(m);
		uint16_t off = (uint16_t)(r & 0xFF);
		unsigned int size = 1u << (r >> 8 & 3) % 3;

		switch (r >> 12 & 7) {
		case 0:
			sim_pci_cfg_poke(dev, off & (uint16_t)~(size - 1), size, (uint32_t)(r >> 32));
			break;
		case 1:
			hook_write(m, BDF, off & (uint16_t)~(size - 1), size, (uint32_t)(r >> 32));
			break;
		case 2:
			sim_pci_dev_raise(dev, (unsigned int)(r >> 20) & 0xFFF);
			break;
		case 3:
		case 4: {
			unsigned int asz = 1u << (r >> 16 & 3);
			uint64_t a = (r >> 24 & 1 ? BAR2_ADDR : BAR0_ADDR) + ((r >> 32) & 0xFFFF8);

			if (r >> 15 & 1)
				sim_cpu_write(m, 0, a, r, asz);
			else
				sim_cpu_read(m, 0, a, asz);
			break;
		}
		case 5:
			ecam_read(m, BDF, off & (uint16_t)~(size - 1), size);
			break;
		default:
			hook_write(m, BDF, SIM_PCI_COMMAND, 2, (uint32_t)(r >> 40) & 0x6);
			break;
		}
		if ((i & 1023) == 0)
			sim_run_until_idle(m);
	}
	sim_run_until_idle(m);
	sim_destroy(m);
}

/* ---- Threaded smoke test: raises from device threads while the CPU reprograms ---------------- */

struct raiser {
	struct sim_pci_dev *dev;
	unsigned int vector;
};

static void *raiser_thread(void *arg)
{
	struct raiser *r = arg;

	for (unsigned int i = 0; i < 2000; i++)
		sim_pci_dev_raise(r->dev, r->vector);
	return NULL;
}

static void test_threaded_raise(void **state)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 3, true, 0);
	struct sim_pci_bus *bus;
	struct sim_pci_dev *dev;
	struct raiser r[4];
	pthread_t th[4];
	struct sim_pci_stats st;

	assert_non_null(m);
	dev = std_dev(m, &bus);
	msix_on(m, dev, false);
	for (unsigned int k = 0; k < 4; k++) {
		entry_write(m, k, 0x8000 + 4 * k, k);
		entry_mask(m, k, false);
	}
	for (unsigned int k = 0; k < 4; k++) {
		r[k] = (struct raiser){ dev, k };
		assert_int_equal(pthread_create(&th[k], NULL, raiser_thread, &r[k]), 0);
	}
	for (unsigned int i = 0; i < 500; i++) {
		entry_mask(m, i & 3, true);
		entry_mask(m, i & 3, false);
	}
	for (unsigned int k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	sim_pci_dev_stats(dev, &st);
	assert_int_equal(st.raised, 8000);
	/* Every raise was sent at once or latched in a PBA bit that was sent on unmask. */
	assert_true(st.sent + st.pending_set >= 8000);
	assert_true(st.sent <= 8000);
	assert_int_equal(st.dropped_no_bus_master + st.dropped_disabled + st.dropped_bad_vector, 0);
	assert_int_equal(sim_cpu_read(m, 0, PBA, 8), 0);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_bar_decode),
		cmocka_unit_test(test_ecam_matches_hook),
		cmocka_unit_test(test_msi_multi_message),
		cmocka_unit_test(test_msi_mask_pending),
		cmocka_unit_test(test_bus_master_and_disable),
		cmocka_unit_test(test_msix_entry_mask_pba),
		cmocka_unit_test(test_msix_function_mask),
		cmocka_unit_test(test_msix_torn_entry),
		cmocka_unit_test(test_msix_torn_entry_scheduled),
		cmocka_unit_test(test_unplug_replug),
		cmocka_unit_test(test_create_validation),
		cmocka_unit_test(test_malformed_never_crash),
		cmocka_unit_test(test_threaded_raise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
