// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI functions from configuration space (src/pci/parse.c, src/pci/pci.c):
 * names and requester ids, BAR sizing (32/64-bit, prefetchable, upper
 * halves), the capability walk against loops, pointers into the header,
 * capabilities running off the end, duplicates and overlaps, malformed
 * MSI-X layouts (bad BIR, unimplemented BAR, upper half of a 64-bit BAR,
 * table or PBA beyond the BAR, overlapping table and PBA, a table size
 * that does not fit) refused with a log line naming the device and the
 * defect and no trace left, configuration access and power state, and the
 * parser run over random configuration spaces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host_port.h"
#include "pcibed.h"

static void test_header_and_bars(void **state)
{
	struct sim_pci_dev_config c = pcibed_std_config();
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	struct pcibed pb;
	uint16_t seg, rid;
	uint32_t v;

	pcibed_init(&pb, NULL);
	c.command = SIM_PCI_COMMAND_MEMORY;     /* firmware left decode on */
	sd = pcibed_plug(&pb, SIM_PCI_BDF(0x02, 0x1F, 7), &c);
	assert_int_equal(ik_pci_device_create(NULL, 0, SIM_PCI_BDF(0x02, 0x1F, 7), &dev), 0);
	assert_string_equal(ik_device_name(dev), "0000:02:1f.7");
	assert_true(ik_dev_is_pci(dev));
	assert_true(ik_device_requester_id(dev, &seg, &rid));
	assert_int_equal(seg, 0);
	assert_int_equal(rid, SIM_PCI_BDF(0x02, 0x1F, 7));
	assert_int_equal(ik_pci_bdf(dev), rid);
	assert_int_equal(ik_pci_vendor_id(dev), 0x8086);
	assert_int_equal(ik_pci_device_id(dev), 0x1234);
	/* No device-managed resources: a driver can bind. */
	assert_int_equal(ik_devm_count(dev), 0);

	assert_int_equal(ik_pci_resource_start(dev, 0), PB_BAR0);
	assert_int_equal(ik_pci_resource_len(dev, 0), 0x4000);
	assert_int_equal(ik_pci_resource_flags(dev, 0), IK_PCI_RES_MEM);
	assert_int_equal(ik_pci_resource_flags(dev, 1), 0);
	assert_int_equal(ik_pci_resource_len(dev, 1), 0);
	assert_int_equal(ik_pci_resource_start(dev, 2), PB_BAR2);
	assert_int_equal(ik_pci_resource_len(dev, 2), 0x100000);
	assert_int_equal(ik_pci_resource_flags(dev, 2),
			 IK_PCI_RES_MEM | IK_PCI_RES_MEM64 | IK_PCI_RES_PREFETCH);
	assert_int_equal(ik_pci_resource_flags(dev, 3), IK_PCI_RES_UPPER);
	assert_int_equal(ik_pci_resource_start(dev, 3), 0);
	assert_int_equal(ik_pci_resource_len(dev, 6), 0);
	/* Sizing left the BARs and the command register as firmware set them. */
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_BAR0, 4), (uint32_t)PB_BAR0);
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_BAR0 + 12, 4), (uint32_t)(PB_BAR2 >> 32));
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_MEMORY,
			 SIM_PCI_COMMAND_MEMORY);

	assert_int_equal(ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSI), sim_pci_dev_msi_cap(sd));
	assert_int_equal(ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSIX),
			 sim_pci_dev_msix_cap(sd));
	assert_int_equal(ik_pci_find_capability(dev, IK_PCI_CAP_ID_PM), sim_pci_dev_pm_cap(sd));
	assert_int_equal(ik_pci_find_capability(dev, 0x10), 0);
	assert_int_equal(ik_pci_msi_vec_count(dev), 8);
	assert_int_equal(ik_pci_msix_vec_count(dev), 64);

	/* Configuration access. */
	assert_int_equal(ik_pci_read_config(dev, IK_PCI_VENDOR_ID, 2, &v), 0);
	assert_int_equal(v, 0x8086);
	assert_int_equal(ik_pci_read_config(dev, 1, 2, &v), -IK_EINVAL);
	assert_int_equal(ik_pci_read_config(dev, 0, 3, &v), -IK_EINVAL);
	assert_int_equal(ik_pci_read_config(dev, 4096, 4, &v), -IK_EINVAL);
	assert_int_equal(ik_pci_write_config(dev, SIM_PCI_CACHE_LINE_SIZE, 1, 0x10), 0);
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_CACHE_LINE_SIZE, 1), 0x10);

	/* Command register and power state. */
	ik_pci_disable_device(dev);
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_COMMAND, 2) &
			 (SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER), 0);
	assert_int_equal(ik_pci_enable_device(dev), 0);
	ik_pci_set_master(dev);
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_COMMAND, 2) &
			 (SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER),
			 SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER);
	assert_true(sim_pci_dev_bus_master(sd));
	ik_pci_clear_master(dev);
	assert_false(sim_pci_dev_bus_master(sd));
	assert_int_equal(ik_pci_set_power_state(dev, IK_PCI_D3HOT), 0);
	assert_int_equal(sim_pci_cfg_peek(sd, (uint16_t)(sim_pci_dev_pm_cap(sd) + 4), 2) & 3, 3);
	assert_int_equal(ik_pci_power_state(dev), IK_PCI_D3HOT);
	assert_int_equal(ik_pci_set_power_state(dev, IK_PCI_D0), 0);
	assert_int_equal(sim_pci_cfg_peek(sd, (uint16_t)(sim_pci_dev_pm_cap(sd) + 4), 2) & 3, 0);
	assert_int_equal(ik_pci_set_power_state(dev, 2), -IK_EINVAL);

	/* Disconnected: nothing reaches the function. */
	ik_pci_set_disconnected(dev);
	assert_true(ik_pci_is_disconnected(dev));
	assert_int_equal(ik_pci_read_config(dev, IK_PCI_VENDOR_ID, 2, &v), -IK_ENODEV);
	assert_int_equal(v, 0xFFFF);
	assert_int_equal(ik_pci_write_config(dev, SIM_PCI_CACHE_LINE_SIZE, 1, 0x20), -IK_ENODEV);
	assert_int_equal(sim_pci_cfg_peek(sd, SIM_PCI_CACHE_LINE_SIZE, 1), 0x10);
	assert_int_equal(ik_pci_enable_device(dev), -IK_ENODEV);
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

static void test_absent_function(void **state)
{
	struct ik_device *dev = (struct ik_device *)&dev;
	struct pcibed pb;
	int64_t before;

	pcibed_init(&pb, NULL);
	before = sim_alloc_outstanding();
	assert_int_equal(ik_pci_device_create(NULL, 0, SIM_PCI_BDF(0, 5, 0), &dev), -IK_ENODEV);
	assert_null(dev);
	assert_int_equal(ik_pci_device_create(NULL, 7, SIM_PCI_BDF(0, 3, 0), &dev), -IK_ENODEV);
	assert_int_equal(ik_pci_device_create(NULL, 0, 0, NULL), -IK_EINVAL);
	assert_int_equal(sim_alloc_outstanding(), before);
	/* Not a PCI device: accessors are harmless. */
	assert_false(ik_dev_is_pci(NULL));
	assert_int_equal(ik_pci_resource_start(NULL, 0), 0);
	assert_int_equal(ik_pci_alloc_irq_vectors(NULL, 1, 1, IK_PCI_IRQ_MSIX, NULL), -IK_EINVAL);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* ---- Malformed capability lists ---------------------------------------------- */

struct bad_list {
	const char *what;
	void (*poke)(struct sim_pci_dev *sd);
	const char *log;
};

/* Standard layout: PM (first) -> MSI -> MSI-X. */
static void poke_loop(struct sim_pci_dev *sd)
{
	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_msix_cap(sd) + 1), 1, sim_pci_dev_pm_cap(sd));
}

static void poke_self_loop(struct sim_pci_dev *sd)
{
	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_pm_cap(sd) + 1), 1, sim_pci_dev_pm_cap(sd));
}

static void poke_into_header(struct sim_pci_dev *sd)
{
	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_msi_cap(sd) + 1), 1, 0x20);
}

static void poke_first_into_header(struct sim_pci_dev *sd)
{
	sim_pci_cfg_poke(sd, SIM_PCI_CAP_PTR, 1, 0x3C);
}

static void poke_past_end(struct sim_pci_dev *sd)
{
	/* A Power Management capability (8 bytes) at 0xFC. */
	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_msix_cap(sd) + 1), 1, 0xFC);
	sim_pci_cfg_poke(sd, 0xFC, 2, SIM_PCI_CAP_ID_PM);
}

static void poke_second_msix(struct sim_pci_dev *sd)
{
	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_msix_cap(sd) + 1), 1, 0xC0);
	sim_pci_cfg_poke(sd, 0xC0, 2, SIM_PCI_CAP_ID_MSIX);
}

static void poke_overlap(struct sim_pci_dev *sd)
{
	/* An MSI-X capability starting inside the MSI capability. */
	uint8_t msi = sim_pci_dev_msi_cap(sd);

	sim_pci_cfg_poke(sd, (uint16_t)(sim_pci_dev_msix_cap(sd) + 1), 1, 0xC0);
	sim_pci_cfg_poke(sd, 0xC0, 1, 0x09);   /* vendor-specific, links on */
	sim_pci_cfg_poke(sd, 0xC1, 1, (uint32_t)(msi + 8));
	sim_pci_cfg_poke(sd, (uint16_t)(msi + 8), 2, SIM_PCI_CAP_ID_PM);
}

static void test_malformed_capability_lists(void **state)
{
	static const struct bad_list cases[] = {
		{ "loop", poke_loop, "loops" },
		{ "self loop", poke_self_loop, "loops" },
		{ "into header", poke_into_header, "into the header" },
		{ "first into header", poke_first_into_header, "into the header" },
		{ "past end", poke_past_end, "runs past" },
		{ "second MSI-X", poke_second_msix, "second MSI-X" },
		{ "overlap", poke_overlap, "overlaps" },
	};
	struct sim_pci_dev_config c = pcibed_std_config();
	struct pcibed pb;

	pcibed_init(&pb, NULL);
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(cases); i++) {
		struct sim_pci_dev *sd = pcibed_plug(&pb, PB_BDF, &c);
		struct ik_device *dev = NULL;
		int64_t before = sim_alloc_outstanding();

		cases[i].poke(sd);
		assert_int_equal(ik_pci_device_create(NULL, 0, PB_BDF, &dev), -IK_EINVAL);
		assert_null(dev);
		if (!strstr(sim_port_last_log(), cases[i].log) ||
		    !strstr(sim_port_last_log(), "0000:00:03.0"))
			fail_msg("%s: log \"%s\"", cases[i].what, sim_port_last_log());
		assert_int_equal(sim_alloc_outstanding(), before);
		sim_pci_dev_destroy(sd);
	}
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* ---- Malformed MSI-X layouts ------------------------------------------------- */

struct bad_msix {
	const char *what;
	unsigned int table_bir, pba_bir;
	uint32_t table_offset, pba_offset;
	unsigned int table_size;
	const char *log;
};

static void test_malformed_msix_layouts(void **state)
{
	static const struct bad_msix cases[] = {
		{ "table BIR 6", 6, 0, 0x0, 0x2000, 64, "table BIR 6 names no BAR" },
		{ "table BIR 7", 7, 0, 0x0, 0x2000, 64, "table BIR 7 names no BAR" },
		{ "PBA BIR 6", 2, 6, 0x3000, 0x0, 64, "PBA BIR 6 names no BAR" },
		{ "unimplemented BAR", 1, 0, 0x0, 0x2000, 64, "unimplemented BAR" },
		{ "upper half", 3, 0, 0x0, 0x2000, 64, "upper half of a 64-bit BAR" },
		{ "table beyond BAR", 0, 2, 0x3F00, 0x0, 64, "table (offset 3f00, 1024 bytes) lies beyond BAR0" },
		{ "table size does not fit", 0, 2, 0x0, 0x0, 2048, "table (offset 0, 32768 bytes) lies beyond BAR0" },
		{ "PBA beyond BAR", 2, 0, 0x3000, 0x4000, 64, "PBA (offset 4000, 8 bytes) lies beyond BAR0" },
		{ "PBA partly beyond", 2, 0, 0x3000, 0x3FF8, 65, "PBA (offset 3ff8, 16 bytes) lies beyond BAR0" },
		{ "overlap", 0, 0, 0x1000, 0x1200, 64, "overlap" },
		{ "PBA inside table", 2, 2, 0x0, 0x3F8, 64, "overlap" },
	};
	struct pcibed pb;

	pcibed_init(&pb, NULL);
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(cases); i++) {
		struct sim_pci_dev_config c = pcibed_std_config();
		struct sim_pci_dev *sd;
		struct ik_device *dev;
		int64_t before;
		uint8_t cap;

		c.msix_table_bir = cases[i].table_bir;
		c.msix_pba_bir = cases[i].pba_bir;
		c.msix_table_offset = cases[i].table_offset;
		c.msix_pba_offset = cases[i].pba_offset;
		c.msix_table_size = cases[i].table_size;
		sd = pcibed_plug(&pb, PB_BDF, &c);
		cap = sim_pci_dev_msix_cap(sd);
		dev = pcibed_device(&pb, PB_BDF);
		before = sim_alloc_outstanding();
		assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 4, IK_PCI_IRQ_MSIX, NULL),
				 -IK_EINVAL);
		if (!strstr(sim_port_last_log(), cases[i].log) ||
		    !strstr(sim_port_last_log(), "0000:00:03.0"))
			fail_msg("%s: log \"%s\"", cases[i].what, sim_port_last_log());
		/* Nothing changed: no enable, no domain, no resources, no allocation. */
		assert_false(ik_pci_msix_enabled(dev));
		assert_int_equal(sim_pci_cfg_peek(sd, (uint16_t)(cap + SIM_PCI_MSIX_FLAGS), 2) &
				 (SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL), 0);
		assert_null(ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN));
		assert_int_equal(ik_devm_count(dev), 0);
		assert_int_equal(sim_alloc_outstanding(), before);
		/* The function still has MSI: asking for either gets it. */
		assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 4, IK_PCI_IRQ_ALL_TYPES, NULL), 1);
		assert_true(ik_pci_msi_enabled(dev));
		ik_pci_free_irq_vectors(dev);
		ik_pci_device_destroy(dev);
		sim_pci_dev_destroy(sd);
	}
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* A capability that changed after create (the layout is re-read at enable). */
static void test_msix_layout_checked_at_enable(void **state)
{
	struct sim_pci_dev_config c = pcibed_std_config();
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	struct pcibed pb;
	uint8_t cap;

	pcibed_init(&pb, NULL);
	sd = pcibed_plug(&pb, PB_BDF, &c);
	cap = sim_pci_dev_msix_cap(sd);
	dev = pcibed_device(&pb, PB_BDF);
	sim_pci_cfg_poke(sd, (uint16_t)(cap + SIM_PCI_MSIX_TABLE), 4, 0x000FFF02u);
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), -IK_EINVAL);
	assert_non_null(strstr(sim_port_last_log(), "beyond BAR2"));
	sim_pci_cfg_poke(sd, (uint16_t)(cap + SIM_PCI_MSIX_TABLE), 4, 0x3000 | 2);
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	ik_pci_free_irq_vectors(dev);
	/* Memory decode off: the table is unreachable, refused. */
	ik_pci_disable_device(dev);
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), -IK_EINVAL);
	assert_non_null(strstr(sim_port_last_log(), "memory space disabled"));
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* ---- The parser over random configuration spaces -------------------------------- */

struct fuzz_cfg {
	uint8_t b[4096];
	uint32_t bar_mask[6];
	unsigned int reads, writes;
};

static int fuzz_read(void *ctx, uint16_t off, unsigned int size, uint32_t *value)
{
	struct fuzz_cfg *fc = ctx;
	uint32_t v = 0;

	assert_true(size == 1 || size == 2 || size == 4);
	assert_true(off % size == 0);
	assert_true(off + size <= 256);       /* never beyond the standard header */
	fc->reads++;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)fc->b[off + i] << (8 * i);
	*value = v;
	return 0;
}

static int fuzz_write(void *ctx, uint16_t off, unsigned int size, uint32_t value)
{
	struct fuzz_cfg *fc = ctx;

	assert_true(size == 1 || size == 2 || size == 4);
	assert_true(off % size == 0 && off + size <= 256);
	fc->writes++;
	/* BARs answer sizing with their mask; everything else is stored. */
	if (size == 4 && off >= 0x10 && off < 0x28)
		value &= fc->bar_mask[(off - 0x10) / 4] | 0xFu;
	for (unsigned int i = 0; i < size; i++)
		fc->b[off + i] = (uint8_t)(value >> (8 * i));
	return 0;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void test_parser_random_configs(void **state)
{
	struct ik_pci_cfg_access acc = { fuzz_read, fuzz_write, NULL };
	struct pcibed pb;
	unsigned int ok = 0, bad = 0, msix_ok = 0;
	uint64_t seed = 12345;

	pcibed_init(&pb, NULL);    /* for the log */
	for (unsigned int iter = 0; iter < 20000; iter++) {
		static struct fuzz_cfg fc;
		struct ik_pci_config cfg;
		struct ik_pci_msix_layout layout;
		int ret;

		for (unsigned int i = 0; i < 256; i += 8) {
			uint64_t r = splitmix(&seed);

			memcpy(&fc.b[i], &r, 8);
		}
		for (unsigned int i = 0; i < 6; i++)
			fc.bar_mask[i] = (uint32_t)splitmix(&seed);
		/* Bias toward plausible layouts so the deep paths run too. */
		fc.b[0] = 0x86;
		fc.b[0x0E] &= (iter & 1) ? 0x80 : 0xFF;
		if (iter % 4) {
			uint8_t pos = (uint8_t)(0x40 + (splitmix(&seed) % 48) * 4);
			uint8_t ids[] = { 0x01, 0x05, 0x11, 0x09 };

			fc.b[0x06] |= 0x10;
			fc.b[0x34] = pos;
			for (unsigned int k = 0; k < 4; k++) {
				uint8_t next = (uint8_t)(0x40 + (splitmix(&seed) % 48) * 4);

				fc.b[pos] = ids[splitmix(&seed) % 4];
				fc.b[pos + 1] = (k == 3) ? 0 : next;
				pos = next;
			}
		}
		if (iter % 8 == 0) {
			/* A valid MSI-X function, then one random byte of it changed. */
			uint32_t table = 0, pba = 0x800, bar0 = 0xC0000000u;
			uint16_t ctrl = (uint16_t)(splitmix(&seed) % 16);

			memset(fc.b, 0, 256);
			fc.b[0] = 0x86;
			fc.b[1] = 0x80;
			fc.b[0x06] = 0x10;
			fc.b[0x34] = 0x40;
			memcpy(&fc.b[0x10], &bar0, 4);
			fc.bar_mask[0] = 0xFFFFF000u;
			fc.b[0x40] = 0x11;
			memcpy(&fc.b[0x42], &ctrl, 2);
			memcpy(&fc.b[0x44], &table, 4);
			memcpy(&fc.b[0x48], &pba, 4);
			if (iter % 16)
				fc.b[splitmix(&seed) % 0x4C] ^= (uint8_t)(1u << (splitmix(&seed) % 8));
		}
		acc.ctx = &fc;
		ret = ik_pci_parse_config(&acc, "fuzz", &cfg);
		if (ret) {
			assert_true(ret == -IK_EINVAL || ret == -IK_ENODEV);
			bad++;
			continue;
		}
		ok++;
		ret = ik_pci_check_msix(&cfg, "fuzz", &layout);
		if (!ret) {
			msix_ok++;
			assert_true(layout.table_bir < 6);
			assert_true(layout.table_phys >= cfg.bars[layout.table_bir].start);
			assert_true(layout.table_phys + layout.table_size * 16ull <=
				    cfg.bars[layout.table_bir].start + cfg.bars[layout.table_bir].len);
		} else {
			assert_true(ret == -IK_EINVAL || ret == -IK_ENODEV);
		}
		for (unsigned int i = 0; i < 6; i++) {
			const struct ik_pci_bar_info *b = &cfg.bars[i];

			if (b->flags & IK_PCI_RES_MEM) {
				assert_true(b->len && !(b->len & (b->len - 1)));
				assert_int_equal(b->start & (b->len - 1), 0);
			}
		}
	}
	assert_true(ok > 1000);
	assert_true(bad > 1000);
	assert_true(msix_ok > 0);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_and_bars),
		cmocka_unit_test(test_absent_function),
		cmocka_unit_test(test_malformed_capability_lists),
		cmocka_unit_test(test_malformed_msix_layouts),
		cmocka_unit_test(test_msix_layout_checked_at_enable),
		cmocka_unit_test(test_parser_random_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
