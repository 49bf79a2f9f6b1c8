// SPDX-License-Identifier: BSD-2-Clause
/*
 * Regressions found with the MSI/MSI-X layout fuzzer (tests/fuzz/): each
 * test is the fuzzer input's scenario written out, checked at the register
 * level through the configuration-write log of the PCI test machine.
 *
 * MSI layout changed after create: the capability list is checked at
 * create with the Message Control read then (the capability's length
 * follows from its 64-bit and per-vector-masking bits); MSI enable used to
 * re-read Message Control and place the data and mask registers from the
 * new value, so a function whose capability grew (a capability at 0xF4
 * turning 64-bit and maskable) had its mask bits written at 0x104 --
 * beyond the standard configuration space -- and one whose capability now
 * overlapped the next had that capability's registers written.  Enable now
 * refuses a changed layout with -IK_EINVAL, writes nothing, and leaves the
 * function usable otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "host_port.h"
#include "pcibed.h"

#define MSI_64BIT   0x0080u
#define MSI_MASKBIT 0x0100u
#define MSI_ENABLE  0x0001u

static struct sim_pci_dev_config msi_only(uint8_t msi_at, bool msix, uint8_t msix_at)
{
	struct sim_pci_dev_config c = pcibed_std_config();

	c.pm = false;
	c.msi_64bit = false;
	c.msi_maskable = false;
	c.msi_mmc_log2 = 0;
	c.msi_cap_offset = msi_at;
	c.msix = msix;
	c.msix_cap_offset = msix_at;
	return c;
}

/* Configuration writes to [first, last] of PB_BDF since log index @from. */
static unsigned int writes_in(struct pcibed *pb, unsigned int from, uint16_t first, uint16_t last)
{
	unsigned int n = 0;

	for (unsigned int i = from; i < pb->nr_log; i++)
		if (pb->log[i].bdf == PB_BDF && pb->log[i].offset + pb->log[i].size - 1 >= first &&
		    pb->log[i].offset <= last)
			n++;
	return n;
}

/* A 32-bit, non-maskable MSI capability at 0xF4 (ends at 0xFE) turns 64-bit + maskable. */
static void test_msi_grown_at_end_of_space(void **state)
{
	struct sim_pci_dev_config c = msi_only(0xF4, false, 0);
	struct pcibed pb;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	uint16_t flags;
	unsigned int from;

	pcibed_init(&pb, NULL);
	sd = pcibed_plug(&pb, PB_BDF, &c);
	assert_int_equal(sim_pci_dev_msi_cap(sd), 0xF4);
	dev = pcibed_device(&pb, PB_BDF);
	assert_int_equal(ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSI), 0xF4);

	flags = (uint16_t)sim_pci_cfg_peek(sd, 0xF6, 2);
	sim_pci_cfg_poke(sd, 0xF6, 2, flags | MSI_64BIT | MSI_MASKBIT);
	from = pb.nr_log;
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSI, NULL), -IK_EINVAL);
	/* Nothing written at all: not past the space, not even the capability. */
	assert_int_equal(writes_in(&pb, from, 0x100, 0xFFF), 0);
	assert_int_equal(writes_in(&pb, from, 0xF4, 0xFF), 0);
	assert_false(sim_pci_cfg_peek(sd, 0xF6, 2) & MSI_ENABLE);
	assert_false(ik_pci_msi_enabled(dev));

	/* Back to the layout found at create: MSI works. */
	sim_pci_cfg_poke(sd, 0xF6, 2, flags);
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	assert_int_equal(writes_in(&pb, from, 0x100, 0xFFF), 0);
	assert_true(sim_pci_cfg_peek(sd, 0xF6, 2) & MSI_ENABLE);
	ik_pci_free_irq_vectors(dev);
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/*
 * MSI at 0x40 (32-bit, non-maskable: 0x40..0x49) and MSI-X at 0x4C: grown
 * to 64-bit + maskable, the MSI mask bits would land on the MSI-X
 * capability's Table Offset/BIR register (0x50).
 */
static void test_msi_grown_over_next_capability(void **state)
{
	struct sim_pci_dev_config c = msi_only(0x40, true, 0x4C);
	struct pcibed pb;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	uint16_t flags;
	unsigned int from;

	pcibed_init(&pb, NULL);
	sd = pcibed_plug(&pb, PB_BDF, &c);
	dev = pcibed_device(&pb, PB_BDF);
	assert_int_equal(ik_pci_find_capability(dev, IK_PCI_CAP_ID_MSIX), 0x4C);

	flags = (uint16_t)sim_pci_cfg_peek(sd, 0x42, 2);
	sim_pci_cfg_poke(sd, 0x42, 2, flags | MSI_64BIT | MSI_MASKBIT);
	from = pb.nr_log;
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSI, NULL), -IK_EINVAL);
	assert_int_equal(writes_in(&pb, from, 0x40, 0x57), 0);
	assert_false(ik_pci_msi_enabled(dev));

	/* MSI-X is unaffected. */
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	assert_int_equal(writes_in(&pb, from, 0x40, 0x4B), 0);
	ik_pci_free_irq_vectors(dev);
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

/* Only the layout bits matter: an unchanged layout with other bits set still enables. */
static void test_msi_unchanged_layout_enables(void **state)
{
	struct sim_pci_dev_config c = msi_only(0xF4, false, 0);
	struct pcibed pb;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	unsigned int from;

	pcibed_init(&pb, NULL);
	sd = pcibed_plug(&pb, PB_BDF, &c);
	dev = pcibed_device(&pb, PB_BDF);
	/* Multiple Message Capable changed (a read-only field, still no layout change). */
	sim_pci_cfg_poke(sd, 0xF6, 2, (sim_pci_cfg_peek(sd, 0xF6, 2) & ~0x000Eu) | (2u << 1));
	from = pb.nr_log;
	assert_int_equal(ik_pci_alloc_irq_vectors(dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	assert_int_equal(writes_in(&pb, from, 0x100, 0xFFF), 0);
	ik_pci_free_irq_vectors(dev);
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msi_grown_at_end_of_space),
		cmocka_unit_test(test_msi_grown_over_next_capability),
		cmocka_unit_test(test_msi_unchanged_layout_enables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
