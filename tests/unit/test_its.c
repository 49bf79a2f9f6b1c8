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

#include <irqkit/drivers/ims_slots.h>
#include <irqkit/drivers/testdev.h>
#include <irqkit/ims.h>
#include <irqkit/its.h>

#include "host_port.h"
#include "pcibed.h"
#include "sim_ims.h"
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

/* ---- Affinity under load ---------------------------------------------------------------- */

#define LOAD_FIRES 40u

struct line {
	struct fx *f;
	unsigned int dev, vec, irq;
	unsigned int left, patience;
	uint64_t raised, runs, seen;
	unsigned int last_cpu;
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	(void)irq;
	l->runs++;
	l->seen = l->raised;
	l->last_cpu = ik_os_cpu_id();
	return IK_IRQ_HANDLED;
}

/* Raise again only once the previous raise was handled: a lost one stalls the line. */
static void fire_event(void *arg)
{
	struct line *l = arg;
	struct sim_machine *m = l->f->pb.tb.m;

	if (l->seen != l->raised) {
		if (++l->patience < 20000)
			sim_schedule(m, 1 + sim_rand(m) % 16, fire_event, l);
		return;
	}
	l->patience = 0;
	if (!l->left)
		return;
	l->left--;
	l->raised++;
	sim_pci_dev_raise(l->f->sd[l->dev], l->vec);
	sim_schedule(m, 1 + sim_rand(m) % 60, fire_event, l);
}

struct move {
	unsigned int irq;
	ik_cpumask_t mask;
	int ret;
};

static void move_fn(void *arg)
{
	struct move *mv = arg;

	mv->ret = ik_irq_set_affinity(mv->irq, &mv->mask);
}

static void run_load(uint64_t seed)
{
	struct sim_pci_msix_entry snap[8];
	struct line lines[8];
	unsigned int nr = 8;
	struct fx f;

	fx_up(&f, seed);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 8, 8, IK_PCI_IRQ_MSIX, NULL), 8);
	for (unsigned int k = 0; k < nr; k++) {
		lines[k] = (struct line){ .f = &f, .dev = 0, .vec = k, .left = LOAD_FIRES };
		lines[k].irq = (unsigned int)ik_pci_irq_vector(f.dev[0], k);
		assert_int_equal(ik_request_irq(lines[k].irq, line_handler, 0, "load", &lines[k]), 0);
		snap[k] = pb_entry(f.sd[0], k);
		sim_schedule(f.pb.tb.m, 1 + k, fire_event, &lines[k]);
	}
	for (unsigned int step = 0; step < 100; step++) {
		struct sim_machine *m = f.pb.tb.m;
		struct line *l = &lines[sim_rand(m) % nr];
		struct move mv = { .irq = l->irq };
		struct ik_its_irq_info in;
		ik_cpumask_t eff;
		unsigned int icid;

		ik_cpumask_clear(&mv.mask);
		while (ik_cpumask_empty(&mv.mask)) {
			uint64_t bits = sim_rand(m);

			for (unsigned int c = 0; c < 4; c++)
				if (bits >> c & 1)
					ik_cpumask_set_cpu(c, &mv.mask);
		}
		testbed_on_cpu(&f.pb.tb, (unsigned int)(sim_rand(m) % 4), move_fn, &mv);
		assert_int_equal(mv.ret, 0);
		/* Back from the call: the service targets the effective CPU. */
		in = info_of(l->irq);
		assert_true(ik_cpumask_test_cpu(in.cpu, &mv.mask));
		assert_int_equal(ik_irq_get_effective_affinity(l->irq, &eff), 0);
		assert_int_equal(ik_cpumask_weight(&eff), 1);
		assert_true(ik_cpumask_test_cpu(in.cpu, &eff));
		assert_true(sim_its_event(f.its, f.bdf[0], in.event, NULL, &icid));
		assert_int_equal(sim_its_collection_cpu(f.its, icid), (int)in.cpu);
		for (unsigned int t = 0; t < 20; t++)
			sim_point(f.pb.tb.m);
	}
	sim_run_until_idle(f.pb.tb.m);
	for (unsigned int k = 0; k < nr; k++) {
		struct sim_pci_msix_entry e = pb_entry(f.sd[0], k);

		/* delivered == fired, every chain ran to the end. */
		assert_int_equal(lines[k].left, 0);
		assert_int_equal(lines[k].raised, LOAD_FIRES);
		assert_int_equal(lines[k].runs, LOAD_FIRES);
		/* No message was rewritten: the move is the service's business. */
		assert_memory_equal(&e, &snap[k], sizeof(e));
	}
	assert_true(lstats().movis > 0);
	assert_int_equal(sstats(&f).stale_hits, 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	for (unsigned int k = 0; k < nr; k++)
		assert_int_equal(ik_free_irq(lines[k].irq, &lines[k]), 0);
	fx_down(&f);
}

static void test_affinity_under_load(void **state)
{
	static const uint64_t seeds[] = { 1, 7, 42, 1234, 99991 };

	(void)state;
	for (unsigned int i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run_load(seeds[i]);
}

/* ---- CPU hotplug ---------------------------------------------------------------------------- */

/*
 * Every line on CPU 2 under load; CPU 2 goes offline (x86 first, then the
 * ITS moves the LPIs away with their pending state) and comes back (its
 * notification interrupt restarts, maybe on another vector, and the ITS
 * reprograms the message).  Nothing is lost, and lines moved back are
 * handled on CPU 2 again.
 */
static void test_cpu_hotplug(void **state)
{
	struct line lines[8];
	unsigned int nr = 8;
	struct fx f;

	(void)state;
	fx_up(&f, 13);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 8, 8, IK_PCI_IRQ_MSIX, NULL), 8);
	for (unsigned int k = 0; k < nr; k++) {
		struct move mv;

		lines[k] = (struct line){ .f = &f, .dev = 0, .vec = k, .left = LOAD_FIRES };
		lines[k].irq = (unsigned int)ik_pci_irq_vector(f.dev[0], k);
		assert_int_equal(ik_request_irq(lines[k].irq, line_handler, 0, "hp", &lines[k]), 0);
		mv = (struct move){ .irq = lines[k].irq };
		ik_cpumask_clear(&mv.mask);
		ik_cpumask_set_cpu(2, &mv.mask);
		testbed_on_cpu(&f.pb.tb, 0, move_fn, &mv);
		assert_int_equal(mv.ret, 0);
		assert_int_equal(info_of(lines[k].irq).cpu, 2);
		sim_schedule(f.pb.tb.m, 1 + k, fire_event, &lines[k]);
	}
	for (unsigned int t = 0; t < 300; t++)
		sim_point(f.pb.tb.m);
	assert_int_equal(ik_its_cpu_offline(2), -IK_EBUSY);
	assert_int_equal(testbed_cpu_offline(&f.pb.tb, 2), 0);
	assert_int_equal(ik_its_cpu_offline(2), 0);
	for (unsigned int k = 0; k < nr; k++) {
		ik_cpumask_t eff;

		assert_int_not_equal(info_of(lines[k].irq).cpu, 2);
		assert_int_equal(ik_irq_get_effective_affinity(lines[k].irq, &eff), 0);
		assert_false(ik_cpumask_test_cpu(2, &eff));
	}
	for (unsigned int t = 0; t < 300; t++)
		sim_point(f.pb.tb.m);
	assert_int_equal(ik_its_cpu_online(2), -IK_EINVAL);
	assert_int_equal(testbed_cpu_online(&f.pb.tb, 2), 0);
	assert_int_equal(ik_its_cpu_online(2), 0);
	sim_run_until_idle(f.pb.tb.m);
	for (unsigned int k = 0; k < nr; k++) {
		struct move mv = { .irq = lines[k].irq };

		assert_int_equal(lines[k].left, 0);
		assert_int_equal(lines[k].raised, LOAD_FIRES);
		assert_int_equal(lines[k].runs, LOAD_FIRES);
		ik_cpumask_clear(&mv.mask);
		ik_cpumask_set_cpu(2, &mv.mask);
		testbed_on_cpu(&f.pb.tb, 1, move_fn, &mv);
		assert_int_equal(mv.ret, 0);
		lines[k].raised++;
		raise_one(&f, 0, k);
		assert_int_equal(lines[k].runs, LOAD_FIRES + 1);
		assert_int_equal(lines[k].last_cpu, 2);
	}
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	assert_int_equal(lstats().errors, 0);
	for (unsigned int k = 0; k < nr; k++)
		assert_int_equal(ik_free_irq(lines[k].irq, &lines[k]), 0);
	fx_down(&f);
}

/* ---- Dynamic MSI-X refused ------------------------------------------------------------- */

static void test_dynamic_msix_refused(void **state)
{
	struct ik_msi_map map;
	struct fx f;

	(void)state;
	fx_up(&f, 5);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	assert_false(ik_pci_msix_can_alloc_dyn(f.dev[0]));
	map = ik_pci_msix_alloc_irq_at(f.dev[0], IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	assert_int_equal(map.virq, 0);
	map = ik_pci_msix_alloc_irq_at(f.dev[0], 7, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	/* Nothing changed. */
	assert_int_equal(lstats().lpis_used, 2);
	assert_int_equal(ik_pci_irq_vector(f.dev[0], 2), -IK_EINVAL);
	fx_down(&f);
}

/* ---- Multi-MSI: an aligned event-id range --------------------------------------------- */

static void test_multi_msi_event_range(void **state)
{
	struct pb_vec v[8];
	uint32_t base;
	struct fx f;

	(void)state;
	fx_up(&f, 6);
	plug(&f, SIM_PCI_BDF(0, 3, 0), false, true);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 8, 8, IK_PCI_IRQ_MSI, NULL), 8);
	assert_string_equal(ik_irq_domain_name(ik_msi_get_device_domain(f.dev[0], 0)),
			    "ITS-PCI-MSI-0000:00:03.0");
	base = info_of((unsigned int)ik_pci_irq_vector(f.dev[0], 0)).event;
	assert_int_equal(base % 8, 0);
	memset(v, 0, sizeof(v));
	for (unsigned int k = 0; k < 8; k++) {
		int irq = ik_pci_irq_vector(f.dev[0], k);
		struct ik_its_irq_info in = info_of((unsigned int)irq);

		assert_int_equal(in.event, base + k);
		for (unsigned int j = 0; j < k; j++)
			assert_int_not_equal(info_of((unsigned int)ik_pci_irq_vector(f.dev[0], j)).lpi,
					     in.lpi);
		assert_int_equal(pb_request(&v[k], (unsigned int)irq), 0);
	}
	for (unsigned int k = 0; k < 8; k++)
		for (unsigned int r = 0; r <= k; r++)
			raise_one(&f, 0, k);
	for (unsigned int k = 0; k < 8; k++)
		assert_int_equal(v[k].count, k + 1);
	assert_int_equal(sstats(&f).dropped_unmapped_event, 0);
	for (unsigned int k = 0; k < 8; k++)
		assert_int_equal(pb_free(&v[k]), 0);
	ik_pci_free_irq_vectors(f.dev[0]);
	assert_int_equal(lstats().lpis_used, 0);
	assert_false(sim_its_device(f.its, f.bdf[0], NULL, NULL));
	fx_down(&f);
}

/* ---- A device id the service does not know --------------------------------------------- */

static void test_unmapped_device_dropped(void **state)
{
	struct ik_its_irq_info in;
	struct pb_vec v;
	struct fx f;
	int irq;

	(void)state;
	fx_up(&f, 8);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, false);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	irq = ik_pci_irq_vector(f.dev[0], 0);
	memset(&v, 0, sizeof(v));
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	in = info_of((unsigned int)irq);

	/* The same message with another requester id (no MAPD for it): dropped, counted. */
	assert_true(sim_pci_dev_dma_write32_as(f.sd[0], SIM_PCI_BDF(0, 7, 0), DOORBELL, in.event));
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 0);
	assert_int_equal(sstats(&f).dropped_unmapped_device, 1);
	assert_int_equal(sstats(&f).translations, 0);
	/* An event beyond the device's table: dropped too. */
	assert_true(sim_pci_dev_dma_write32_as(f.sd[0], f.bdf[0], DOORBELL, in.itt_events));
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(sstats(&f).dropped_event_range, 1);
	/* Its own id: delivered. */
	assert_true(sim_pci_dev_dma_write32(f.sd[0], DOORBELL, in.event));
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- IMS slots on the service ------------------------------------------------------------ */

static void test_ims_on_its(void **state)
{
	struct sim_ims_slots_config c = { .nr_slots = 8, .nr_msix = 2, .bar0_addr = 0xC0100000ull,
					  .bar2_addr = 0xC0200000ull };
	const uint16_t bdf = SIM_PCI_BDF(0, 4, 0);
	struct sim_ims_slots *sdev;
	struct ik_msi_map map[3];
	struct sim_ims_slot sl;
	struct ik_device *fn;
	struct pb_vec v[3];
	struct fx f;

	(void)state;
	fx_up(&f, 9);
	sdev = sim_ims_slots_create(f.pb.bus, bdf, &c);
	assert_non_null(sdev);
	assert_int_equal(ik_pci_device_create(NULL, 0, bdf, &fn), 0);
	ik_device_set_msi_parent(fn, ik_its_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ims_slots_driver), 0);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 8), 0);
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(fn)), "ITS-IMS-0000:00:04.0");
	assert_ptr_equal(ik_irq_domain_parent(ik_ims_domain(fn)), ik_its_domain());
	memset(v, 0, sizeof(v));
	for (unsigned int i = 0; i < 3; i++) {
		struct ik_its_irq_info in;

		map[i] = ik_ims_alloc_irq(fn, NULL, 0);
		assert_int_equal(map[i].index, (int)i);
		assert_int_equal(pb_request(&v[i], map[i].virq), 0);
		in = info_of(map[i].virq);
		assert_int_equal(in.devid, bdf);
		assert_int_equal(in.itt_events, 8);
		assert_true(sim_ims_slots_slot(sdev, i, &sl));
		assert_int_equal((uint64_t)sl.addr_hi << 32 | sl.addr_lo, DOORBELL);
		assert_int_equal(sl.data, in.event);
		assert_int_equal(sl.ctrl & SIM_IMS_CTRL_MASK, 0);
	}
	for (unsigned int i = 0; i < 3; i++) {
		sim_ims_slots_fire(sdev, i);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(v[i].count, 1);
	}
	/* Masked at the destination: the slot stays open, the event waits in the service. */
	assert_int_equal(ik_irq_set_disable_unlazy(map[1].virq, true), 0);
	assert_int_equal(ik_disable_irq(map[1].virq), 0);
	assert_true(sim_ims_slots_slot(sdev, 1, &sl));
	assert_int_equal(sl.ctrl & SIM_IMS_CTRL_MASK, 0);
	sim_ims_slots_fire(sdev, 1);
	sim_ims_slots_fire(sdev, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v[1].count, 1);
	assert_true(sim_its_lpi_pending(f.its, info_of(map[1].virq).lpi));
	assert_int_equal(ik_enable_irq(map[1].virq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v[1].count, 2);
	/* Affinity: one MOVI, the slot is not rewritten. */
	{
		struct sim_ims_slot before;
		ik_cpumask_t mask;

		assert_true(sim_ims_slots_slot(sdev, 2, &before));
		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(3, &mask);
		assert_int_equal(ik_irq_set_affinity(map[2].virq, &mask), 0);
		assert_int_equal(info_of(map[2].virq).cpu, 3);
		assert_true(sim_ims_slots_slot(sdev, 2, &sl));
		assert_int_equal(sl.data, before.data);
		sim_ims_slots_fire(sdev, 2);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(v[2].count, 2);
		assert_int_equal(v[2].last_cpu, 3);
	}
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(pb_free(&v[i]), 0);
		assert_int_equal(ik_ims_free_irq(fn, map[i]), 0);
	}
	assert_int_equal(lstats().lpis_used, 0);
	assert_false(sim_its_device(f.its, bdf, NULL, NULL));
	ik_pci_device_destroy(fn);
	fx_down(&f);
}

/*
 * A driver's own per-device domain (not built by the MSI core) below the
 * ITS is refused, not read as MSI alloc info.  (Regression: it crashed.)
 */
static void test_foreign_child_refused(void **state)
{
	struct ik_irq_domain *d;
	struct fx f;

	fx_up(&f, 5);
	d = ik_testdev_domain_create(ik_its_domain(), TB_DEV_BASE, 4, "foreign");
	assert_non_null(d);
	assert_int_equal(ik_testdev_alloc_irqs(d, 0, 1, NULL), -IK_EINVAL);
	assert_int_equal(ik_testdev_domain_remove(d), 0);
	fx_down(&f);
}

/*
 * The event table is sized at the first allocation: a store added afterwards
 * shares it (one device id) and, once it is full, grows it (here in place:
 * the 2-event table's granule holds 4); nothing is left behind.
 * (test_its_lifecycle.c grows tables under load, relocation included.)
 */
static void test_itt_sized_at_first_allocation_then_grown(void **state)
{
	struct sim_ims_slots_config c = { .nr_slots = 8, .nr_msix = 2, .bar0_addr = 0xC0100000ull,
					  .bar2_addr = 0xC0200000ull };
	const uint16_t bdf = SIM_PCI_BDF(0, 4, 0);
	struct ik_msi_map map, map2;
	struct ik_device *fn;
	unsigned int bits;
	struct fx f;

	(void)state;
	fx_up(&f, 12);
	assert_non_null(sim_ims_slots_create(f.pb.bus, bdf, &c));
	assert_int_equal(ik_pci_device_create(NULL, 0, bdf, &fn), 0);
	ik_device_set_msi_parent(fn, ik_its_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ims_slots_driver), 0);
	/* First allocation: MSI-X, 2 entries -> a 2-event table. */
	assert_int_equal(ik_pci_alloc_irq_vectors(fn, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	assert_true(sim_its_device(f.its, bdf, NULL, &bits));
	assert_int_equal(bits, 1);
	/* IMS added later: one free event left, then the table grows (in place). */
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 8), 0);
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(map.index, 0);
	assert_int_equal(info_of(map.virq).event, 1);
	assert_int_equal(lstats().itt_grows, 0);
	map2 = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(map2.index, 1);
	assert_int_equal(info_of(map2.virq).event, 2);
	assert_int_equal(info_of(map2.virq).itt_events, 4);
	assert_true(sim_its_device(f.its, bdf, NULL, &bits));
	assert_int_equal(bits, 2);
	assert_int_equal(lstats().itt_grows, 1);
	assert_int_equal(lstats().itt_relocations, 0);
	assert_int_equal(lstats().lpis_used, 3);
	assert_int_equal(ik_ims_free_irq(fn, map2), 0);
	assert_int_equal(ik_ims_free_irq(fn, map), 0);
	ik_pci_free_irq_vectors(fn);
	assert_false(sim_its_device(f.its, bdf, NULL, NULL));
	assert_int_equal(lstats().lpis_used, 0);
	ik_pci_device_destroy(fn);
	fx_down(&f);
}

/* ---- Allocation failure injection -------------------------------------------------------- */

static void test_failure_injection(void **state)
{
	struct ik_its_config c = its_config();
	unsigned int failures = 0;
	int64_t baseline;
	struct fx f;

	(void)state;
	fx_up(&f, 10);
	plug(&f, SIM_PCI_BDF(0, 3, 0), true, true);
	/* Warm up: the interrupt-number table keeps its chunks. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 4, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	ik_pci_free_irq_vectors(f.dev[0]);
	baseline = sim_alloc_outstanding();
	for (uint64_t nth = 1; nth < 200; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_pci_alloc_irq_vectors(f.dev[0], 4, 4, IK_PCI_IRQ_MSIX, NULL);
		sim_alloc_fail_nth(0);
		if (ret < 0) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
		} else {
			assert_int_equal(ret, 4);
			assert_int_equal(lstats().lpis_used, 4);
			ik_pci_free_irq_vectors(f.dev[0]);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_int_equal(lstats().lpis_used, 0);
		assert_int_equal(lstats().devices, 0);
		assert_int_equal(lstats().itt_bytes_used, 0);
		assert_false(sim_its_device(f.its, f.bdf[0], NULL, NULL));
		if (ret >= 0 && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 4);

	/* Multi-MSI too. */
	failures = 0;
	for (uint64_t nth = 1; nth < 200; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_pci_alloc_irq_vectors(f.dev[0], 4, 4, IK_PCI_IRQ_MSI, NULL);
		sim_alloc_fail_nth(0);
		if (ret < 0)
			failures++;
		else
			ik_pci_free_irq_vectors(f.dev[0]);
		assert_int_equal(lstats().lpis_used, 0);
		assert_int_equal(lstats().devices, 0);
		if (ret >= 0 && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 4);

	/* Init: every failure undone (domain, notification interrupts, maps). */
	ik_pci_device_destroy(f.dev[0]);
	f.nr_devs = 0;
	assert_int_equal(ik_its_exit(), 0);
	baseline = sim_alloc_outstanding();
	failures = 0;
	for (uint64_t nth = 1; nth < 200; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_its_init(&c);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
			assert_null(ik_its_domain());
			assert_int_equal(sim_alloc_outstanding(), baseline);
			continue;
		}
		assert_int_equal(ik_its_exit(), 0);
		assert_int_equal(sim_alloc_outstanding(), baseline);
		if (sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 3);
	assert_int_equal(ik_its_init(&c), 0);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_flags),
		cmocka_unit_test(test_msix_delivery),
		cmocka_unit_test(test_mask_at_destination),
		cmocka_unit_test(test_affinity_under_load),
		cmocka_unit_test(test_cpu_hotplug),
		cmocka_unit_test(test_dynamic_msix_refused),
		cmocka_unit_test(test_multi_msi_event_range),
		cmocka_unit_test(test_unmapped_device_dropped),
		cmocka_unit_test(test_ims_on_its),
		cmocka_unit_test(test_foreign_child_refused),
		cmocka_unit_test(test_itt_sized_at_first_allocation_then_grown),
		cmocka_unit_test(test_failure_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
