// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI-X (src/pci/msix.c) on the simulated PCI bus.
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

static void test_msix_basic(void **state)
{
	struct pcibed pb;
	struct sim_pci_dev_config c = pcibed_std_config();
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	struct pb_vec v[4] = { 0 };
	int n;

	pcibed_init(&pb, NULL);
	sd = pcibed_plug(&pb, PB_BDF, &c);
	dev = pcibed_device(&pb, PB_BDF);
	n = ik_pci_alloc_irq_vectors(dev, 1, 4, IK_PCI_IRQ_MSIX, NULL);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pb_request(&v[i], ik_pci_irq_vector(dev, i)), 0);
	for (int i = 0; i < 4; i++)
		sim_pci_dev_raise(sd, i);
	sim_run_until_idle(pb.tb.m);
	for (int i = 0; i < 4; i++)
		assert_int_equal(v[i].count, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pb_free(&v[i]), 0);
	ik_pci_free_irq_vectors(dev);
	ik_pci_device_destroy(dev);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msix_basic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
