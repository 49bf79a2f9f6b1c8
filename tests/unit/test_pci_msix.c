// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI-X (src/pci/msix.c) on the simulated PCI bus, observed at the
 * register level: the enable sequence against stale unmasked entries
 * (reference scenario 4), delivery from a table at a non-zero offset in a
 * 64-bit and in a 32-bit BAR, dynamic allocation and free while other
 * vectors fire (7), PBA delivery on unmask, index edge cases and
 * unsupporting parents (8, 9), double free and free under a handler (10),
 * partial allocation and retry (12), restore of sparse entries after a
 * reset (27), D3 and surprise removal (28), a 32-bit-only function (29),
 * MSI <-> MSI-X switching (31), plug/unplug/re-plug, and allocation
 * failure injection through enable and dynamic allocation (11).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/matrix.h>

#include "host_port.h"
#include "pcibed.h"

#define MSIX_CTRL_MASK 0x1u

struct fx {
	struct pcibed pb;
	struct sim_pci_dev_config c;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	uint8_t cap;                    /* MSI-X capability offset */
};

static void fx_up(struct fx *f, const struct testbed_opts *o,
		  void (*tweak)(struct sim_pci_dev_config *c))
{
	pcibed_init(&f->pb, o);
	f->c = pcibed_std_config();
	if (tweak)
		tweak(&f->c);
	f->sd = pcibed_plug(&f->pb, PB_BDF, &f->c);
	f->cap = sim_pci_dev_msix_cap(f->sd);
	f->dev = pcibed_device(&f->pb, PB_BDF);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static uint32_t msix_ctrl(struct fx *f)
{
	return sim_pci_cfg_peek(f->sd, (uint16_t)(f->cap + SIM_PCI_MSIX_FLAGS), 2);
}

static bool entry_masked(struct fx *f, unsigned int i)
{
	return pb_entry(f->sd, i).ctrl & MSIX_CTRL_MASK;
}

static uint64_t vec_sent(struct fx *f, unsigned int i)
{
	struct sim_pci_stats st;

	sim_pci_dev_vector_stats(f->sd, i, &st);
	return st.sent;
}

static uint64_t vec_pending_set(struct fx *f, unsigned int i)
{
	struct sim_pci_stats st;

	sim_pci_dev_vector_stats(f->sd, i, &st);
	return st.pending_set;
}

static bool entry_equal(struct sim_pci_msix_entry a, struct sim_pci_msix_entry b)
{
	return a.addr_lo == b.addr_lo && a.addr_hi == b.addr_hi && a.data == b.data &&
	       a.ctrl == b.ctrl;
}

/* A device raising vectors [first, first + nr) every tick while it runs. */
struct storm {
	struct sim_machine *m;
	struct sim_pci_dev *sd;
	unsigned int first, nr, left;
	uint64_t raised[64];
	/*
	 * If set, vector i is raised only once the previous raise was handled
	 * (the LAPIC merges a message into an IRR bit that is still set, so a
	 * free-running storm cannot be counted message by message).
	 */
	struct pb_vec *vecs;
};

static void storm_fn(void *arg)
{
	struct storm *s = arg;

	for (unsigned int i = s->first; i < s->first + s->nr; i++) {
		if (s->vecs && __atomic_load_n(&s->vecs[i].count, __ATOMIC_RELAXED) != s->raised[i])
			continue;
		sim_pci_dev_raise(s->sd, i);
		s->raised[i]++;
	}
	if (--s->left)
		sim_schedule(s->m, 1, storm_fn, s);
}

static void storm_start(struct storm *s, struct fx *f, unsigned int first, unsigned int nr,
			unsigned int ticks)
{
	memset(s, 0, sizeof(*s));
	s->m = f->pb.tb.m;
	s->sd = f->sd;
	s->first = first;
	s->nr = nr;
	s->left = ticks;
	sim_schedule(s->m, 1, storm_fn, s);
}

/* ---- Enable sequence ----------------------------------------------------------- */

struct enable_watch {
	struct fx *f;
	unsigned int ctrl_writes;
	uint32_t first_ctrl;
	bool all_masked_at_unmaskall;
	bool saw_unmaskall;
};

static void watch_ctrl(struct pcibed *pb, const struct pb_cfg_write *w)
{
	struct enable_watch *ew = pb->on_cfg_arg;
	struct fx *f = ew->f;

	if (w->offset != f->cap + SIM_PCI_MSIX_FLAGS)
		return;
	if (!ew->ctrl_writes++)
		ew->first_ctrl = w->value;
	if ((w->value & SIM_PCI_MSIX_FLAGS_ENABLE) && !(w->value & SIM_PCI_MSIX_FLAGS_MASKALL)) {
		ew->saw_unmaskall = true;
		ew->all_masked_at_unmaskall = true;
		for (unsigned int i = 0; i < f->c.msix_table_size; i++)
			if (!entry_masked(f, i))
				ew->all_masked_at_unmaskall = false;
	}
}

/*
 * Scenario 4: a crashed kernel left every entry unmasked with a valid
 * message, and the device fires all the time.  Enabling MSI-X must not let
 * a single message out before a handler is requested: Function Mask and
 * Enable go on together first, and every entry of the table is masked
 * before the Function Mask is cleared.  The requested vector then gets
 * what was pending exactly once.
 */
static void test_enable_sequence_stale_entries(void **state)
{
	struct enable_watch ew = { 0 };
	struct storm storm;
	struct pb_vec v = { 0 };
	uint64_t accepted;
	struct fx f;
	int n;

	fx_up(&f, NULL, NULL);
	for (unsigned int i = 0; i < 64; i++) {
		uint64_t e = PB_BAR2 + 0x3000 + i * 16;

		sim_cpu_write(f.pb.tb.m, 0, e + 0, 0xFEE00000u, 4);
		sim_cpu_write(f.pb.tb.m, 0, e + 4, 0, 4);
		sim_cpu_write(f.pb.tb.m, 0, e + 8, 0x40 + i, 4);
		sim_cpu_write(f.pb.tb.m, 0, e + 12, 0, 4);
		assert_false(entry_masked(&f, i));
	}
	accepted = pb_msi_accepted(&f.pb);
	ew.f = &f;
	f.pb.on_cfg_write = watch_ctrl;
	f.pb.on_cfg_arg = &ew;
	storm_start(&storm, &f, 0, 64, 400);

	n = ik_pci_alloc_irq_vectors(f.dev, 1, 4, IK_PCI_IRQ_MSIX, NULL);
	assert_int_equal(n, 4);
	f.pb.on_cfg_write = NULL;
	assert_true(ew.first_ctrl & SIM_PCI_MSIX_FLAGS_ENABLE);
	assert_true(ew.first_ctrl & SIM_PCI_MSIX_FLAGS_MASKALL);
	assert_true(ew.saw_unmaskall);
	assert_true(ew.all_masked_at_unmaskall);
	assert_int_equal(msix_ctrl(&f) & (SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL),
			 SIM_PCI_MSIX_FLAGS_ENABLE);
	sim_run_until_idle(f.pb.tb.m);
	assert_true(storm.raised[3] > 0);
	for (unsigned int i = 0; i < 64; i++) {
		assert_int_equal(vec_sent(&f, i), 0);
		assert_true(entry_masked(&f, i));
	}
	assert_int_equal(pb_msi_accepted(&f.pb), accepted);
	assert_true(sim_pci_msix_pending(f.sd, 3));

	/* Request: what was pending is delivered exactly once, through the new message. */
	assert_int_equal(pb_request(&v, ik_pci_irq_vector(f.dev, 3)), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(vec_sent(&f, 3), 1);
	assert_false(sim_pci_msix_pending(f.sd, 3));
	assert_false(entry_masked(&f, 3));
	sim_pci_dev_raise(f.sd, 3);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 2);
	/* The unrequested ones never sent anything. */
	for (unsigned int i = 0; i < 64; i++)
		if (i != 3)
			assert_int_equal(vec_sent(&f, i), 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- Table placement ------------------------------------------------------------ */

static void table_in_bar0(struct sim_pci_dev_config *c)
{
	c->msix_table_bir = 0;
	c->msix_table_offset = 0x800;
	c->msix_pba_bir = 0;
	c->msix_pba_offset = 0x1000;
	c->msix_table_size = 32;
}

static void check_delivery(struct fx *f, unsigned int nvec)
{
	struct pb_vec v[8] = { 0 };

	for (unsigned int i = 0; i < nvec; i++) {
		int irq = ik_pci_irq_vector(f->dev, i);
		const struct ik_msi_desc *desc;
		struct sim_pci_msix_entry e;

		assert_true(irq > 0);
		assert_int_equal(pb_request(&v[i], (unsigned int)irq), 0);
		/* The entry holds exactly the cached message, unmasked. */
		desc = ik_irq_get_msi_desc((unsigned int)irq);
		e = pb_entry(f->sd, i);
		assert_int_equal(e.addr_lo, desc->msg.address_lo);
		assert_int_equal(e.addr_hi, desc->msg.address_hi);
		assert_int_equal(e.data, desc->msg.data);
		assert_int_equal(e.ctrl & MSIX_CTRL_MASK, 0);
		/* Per-device domain: hwirq is the table index. */
		assert_int_equal(ik_irq_get_irq_data((unsigned int)irq)->hwirq, i);
	}
	/* Rounds apart: raises of one vector in a burst coalesce in the IRR. */
	for (unsigned int round = 0; round < 3; round++) {
		for (unsigned int i = 0; i < nvec; i++)
			sim_pci_dev_raise(f->sd, i);
		sim_run_until_idle(f->pb.tb.m);
	}
	for (unsigned int i = 0; i < nvec; i++) {
		assert_int_equal(v[i].count, 3);
		assert_int_equal(pb_free(&v[i]), 0);
	}
}

static void test_table_in_64bit_bar_at_offset(void **state)
{
	struct fx f;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_resource_flags(f.dev, 2) & IK_PCI_RES_MEM64, IK_PCI_RES_MEM64);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 8, 8, IK_PCI_IRQ_MSIX, NULL), 8);
	assert_true(ik_pci_msix_enabled(f.dev));
	check_delivery(&f, 8);
	fx_down(&f);
}

static void test_table_in_32bit_bar(void **state)
{
	struct fx f;

	fx_up(&f, NULL, table_in_bar0);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 100, IK_PCI_IRQ_MSIX, NULL), 32);
	check_delivery(&f, 8);
	fx_down(&f);
}

/* ---- Dynamic allocation while other vectors fire ------------------------------- */

/*
 * Scenario 7: four vectors fire continuously while entries are allocated
 * (at random or any index) and freed in a loop, sometimes with a handler
 * requested and freed in between.  The active entries are never masked
 * (no raise found one masked) or rewritten, every raise is delivered, new
 * entries come out masked and freed ones are masked with a zero message.
 */
static void test_dynamic_while_firing(void **state)
{
	struct testbed_opts o = { .seed = 7, .interleave_permille = 500 };
	struct sim_pci_msix_entry snap[4];
	struct pb_vec v[4] = { 0 }, dyn = { 0 };
	struct storm storm;
	struct fx f;

	fx_up(&f, &o, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 4, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	assert_true(ik_pci_msix_can_alloc_dyn(f.dev));
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pb_request(&v[i], ik_pci_irq_vector(f.dev, i)), 0);
	for (unsigned int i = 0; i < 4; i++)
		snap[i] = pb_entry(f.sd, i);
	storm_start(&storm, &f, 0, 4, 20000);
	storm.vecs = v;

	for (unsigned int iter = 0; iter < 300; iter++) {
		uint32_t want = (iter % 3) ? IK_MSI_ANY_INDEX : 4 + (uint32_t)(sim_rand(f.pb.tb.m) % 60);
		struct ik_msi_map map = ik_pci_msix_alloc_irq_at(f.dev, want, NULL);
		struct sim_pci_msix_entry e;

		assert_true(map.index >= 4 && map.index < 64);
		assert_true(map.virq > 0);
		if (want != IK_MSI_ANY_INDEX)
			assert_int_equal(map.index, want);
		else
			assert_int_equal(map.index, 4);
		assert_true(entry_masked(&f, (unsigned int)map.index));
		if (iter % 4 == 0) {
			assert_int_equal(pb_request(&dyn, map.virq), 0);
			assert_false(entry_masked(&f, (unsigned int)map.index));
			sim_pci_dev_raise(f.sd, (unsigned int)map.index);
			assert_int_equal(pb_free(&dyn), 0);
			assert_true(entry_masked(&f, (unsigned int)map.index));
		}
		assert_int_equal(ik_pci_msix_free_irq(f.dev, map), 0);
		e = pb_entry(f.sd, (unsigned int)map.index);
		assert_true(e.ctrl & MSIX_CTRL_MASK);
		assert_int_equal(e.addr_lo, 0);
		assert_int_equal(e.data, 0);
		for (unsigned int i = 0; i < 4; i++)
			assert_true(entry_equal(pb_entry(f.sd, i), snap[i]));
	}
	sim_run_until_idle(f.pb.tb.m);
	for (unsigned int i = 0; i < 4; i++) {
		assert_true(storm.raised[i] > 100);
		assert_int_equal(v[i].count, storm.raised[i]);
		assert_int_equal(vec_pending_set(&f, i), 0);
		assert_true(entry_equal(pb_entry(f.sd, i), snap[i]));
		assert_int_equal(pb_free(&v[i]), 0);
	}
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	fx_down(&f);
}

/* ---- PBA ----------------------------------------------------------------------------- */

struct irq_report {
	unsigned int n;
	struct ik_msi_irq_info info[8];
};

static int collect(const struct ik_msi_irq_info *info, void *arg)
{
	struct irq_report *r = arg;

	if (r->n < 8)
		r->info[r->n] = *info;
	r->n++;
	return 0;
}

static void test_pba_delivery_on_unmask_once(void **state)
{
	struct irq_report r = { 0 };
	struct pb_vec v = { 0 };
	struct fx f;
	int irq;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	for (int i = 0; i < 5; i++)
		sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_true(sim_pci_msix_pending(f.sd, 1));
	assert_int_equal(vec_sent(&f, 1), 0);

	/* Introspection: the pending and masked state comes from the function. */
	assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.info[1].mode, "msix");
	assert_string_equal(r.info[1].domain, "PCI-MSIX-0000:00:03.0");
	assert_int_equal(r.info[1].index, 1);
	assert_true(r.info[1].masked);
	assert_true(r.info[1].pending);
	assert_false(r.info[1].started);
	assert_false(r.info[0].pending);

	irq = ik_pci_irq_vector(f.dev, 1);
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(vec_sent(&f, 1), 1);
	assert_false(sim_pci_msix_pending(f.sd, 1));
	r.n = 0;
	assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
	assert_false(r.info[1].masked);
	assert_false(r.info[1].pending);
	assert_true(r.info[1].started);

	/* Disabled (lazily), fired while masked, enabled: once more. */
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	sim_pci_dev_raise(f.sd, 1);
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 2);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/* ---- MSI <-> MSI-X -------------------------------------------------------------------- */

static void test_msi_msix_switch(void **state)
{
	struct irq_report r = { 0 };
	struct pb_vec v = { 0 };
	struct fx f;
	struct ik_irq_domain *d;

	fx_up(&f, NULL, NULL);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
		assert_true(ik_pci_msi_enabled(f.dev));
		d = ik_msi_get_device_domain(f.dev, IK_MSI_DEFAULT_DOMAIN);
		assert_string_equal(ik_irq_domain_name(d), "PCI-MSI-0000:00:03.0");
		/* The other kind while one is active: refused, nothing changes. */
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 4, IK_PCI_IRQ_MSIX, NULL),
				 -IK_EINVAL);
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL),
				 -IK_EINVAL);
		assert_true(ik_pci_msi_enabled(f.dev));
		assert_ptr_equal(ik_msi_get_device_domain(f.dev, IK_MSI_DEFAULT_DOMAIN), d);
		assert_int_equal(pb_request(&v, ik_pci_irq_vector(f.dev, 0)), 0);
		sim_pci_dev_raise(f.sd, 0);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(v.count, 1);
		assert_int_equal(pb_free(&v), 0);
		v.count = 0;
		ik_pci_free_irq_vectors(f.dev);
		assert_false(ik_pci_msi_enabled(f.dev));

		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 3, 3, IK_PCI_IRQ_ALL_TYPES, NULL), 3);
		assert_true(ik_pci_msix_enabled(f.dev));
		d = ik_msi_get_device_domain(f.dev, IK_MSI_DEFAULT_DOMAIN);
		assert_string_equal(ik_irq_domain_name(d), "PCI-MSIX-0000:00:03.0");
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL),
				 -IK_EINVAL);
		r.n = 0;
		assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
		assert_int_equal(r.n, 3);
		for (unsigned int i = 0; i < 3; i++) {
			assert_string_equal(r.info[i].mode, "msix");
			assert_int_equal(r.info[i].index, i);
		}
		assert_int_equal(pb_request(&v, ik_pci_irq_vector(f.dev, 2)), 0);
		sim_pci_dev_raise(f.sd, 2);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(v.count, 1);
		assert_int_equal(pb_free(&v), 0);
		v.count = 0;
		ik_pci_free_irq_vectors(f.dev);
		assert_false(ik_pci_msix_enabled(f.dev));
		assert_int_equal(msix_ctrl(&f) & SIM_PCI_MSIX_FLAGS_ENABLE, 0);
		r.n = 0;
		assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
		assert_int_equal(r.n, 0);
	}
	fx_down(&f);
}

/* ---- Index edge cases, unsupporting parents ------------------------------------- */

static void small_table(struct sim_pci_dev_config *c)
{
	c->msix_table_size = 4;
}

static void test_dynamic_edge_cases(void **state)
{
	struct ik_msi_map map, m2, m3;
	int64_t before;
	struct fx f;

	fx_up(&f, NULL, small_table);
	/* Before enable: not supported (yet). */
	assert_true(ik_pci_msix_can_alloc_dyn(f.dev));
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	assert_int_equal(map.virq, 0);

	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	before = sim_alloc_outstanding();
	map = ik_pci_msix_alloc_irq_at(f.dev, 1, NULL);
	assert_int_equal(map.index, -IK_EBUSY);
	map = ik_pci_msix_alloc_irq_at(f.dev, 4, NULL);
	assert_int_equal(map.index, -IK_ERANGE);
	map = ik_pci_msix_alloc_irq_at(f.dev, 2048, NULL);
	assert_int_equal(map.index, -IK_ERANGE);
	assert_int_equal(sim_alloc_outstanding(), before);
	m2 = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(m2.index, 2);
	m3 = ik_pci_msix_alloc_irq_at(f.dev, 3, NULL);
	assert_int_equal(m3.index, 3);
	before = sim_alloc_outstanding();
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOSPC);
	assert_int_equal(map.virq, 0);
	assert_int_equal(sim_alloc_outstanding(), before);
	assert_int_equal(ik_pci_irq_vector(f.dev, 3), (int)m3.virq);
	/* A freed slot is reusable. */
	assert_int_equal(ik_pci_msix_free_irq(f.dev, m2), 0);
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, 2);
	ik_pci_free_irq_vectors(f.dev);
	/* Disabled again: not supported; MSI mode: not supported either. */
	map = ik_pci_msix_alloc_irq_at(f.dev, 2, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	fx_down(&f);
}

/* Scenario 9: a parent that cannot grow MSI-X after enable (ITS-like). */
static void test_parent_without_alloc_dyn(void **state)
{
	struct ik_msi_map map;
	struct pb_vec v = { 0 };
	struct fx f;

	pcibed_init(&f.pb, NULL);
	pcibed_tparent_create(&f.pb, IK_MSI_FLAG_PCI_MSIX);
	f.c = pcibed_std_config();
	f.sd = pcibed_plug(&f.pb, PB_BDF, &f.c);
	f.cap = sim_pci_dev_msix_cap(f.sd);
	f.dev = pcibed_device(&f.pb, PB_BDF);
	assert_false(ik_pci_msix_can_alloc_dyn(f.dev));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	assert_string_equal(ik_irq_domain_name(ik_msi_get_device_domain(f.dev, 0)),
			    "TIR-PCI-MSIX-0000:00:03.0");
	assert_false(ik_pci_msix_can_alloc_dyn(f.dev));
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_ENOTSUPP);
	/* The vectors themselves work through the extra level. */
	assert_int_equal(pb_request(&v, ik_pci_irq_vector(f.dev, 1)), 0);
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

/*
 * Scenario 33: a parent that masks at the destination (ITS-like, it
 * requires MASK_PARENT).  The entry is still opened at startup -- or
 * nothing would ever arrive -- and closed at shutdown; runtime masking
 * reaches the parent.
 */
static void test_mask_parent_startup_shutdown(void **state)
{
	struct pb_vec v = { 0 };
	uint64_t masks;
	struct fx f;
	int irq;

	pcibed_init(&f.pb, NULL);
	pcibed_tparent_create_ex(&f.pb, IK_MSI_FLAG_PCI_MSIX, IK_MSI_FLAG_MASK_PARENT);
	f.c = pcibed_std_config();
	f.sd = pcibed_plug(&f.pb, PB_BDF, &f.c);
	f.cap = sim_pci_dev_msix_cap(f.sd);
	f.dev = pcibed_device(&f.pb, PB_BDF);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	assert_true(ik_msi_get_domain_info(ik_msi_get_device_domain(f.dev, 0))->flags &
		    IK_MSI_FLAG_MASK_PARENT);
	irq = ik_pci_irq_vector(f.dev, 1);
	assert_true(entry_masked(&f, 1));
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	assert_false(entry_masked(&f, 1));
	assert_true(f.pb.tparent_unmasks > 0);
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	/* A runtime mask reaches the destination. */
	assert_int_equal(ik_irq_set_disable_unlazy((unsigned int)irq, true), 0);
	masks = f.pb.tparent_masks;
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	assert_true(f.pb.tparent_masks > masks);
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 2);
	assert_int_equal(pb_free(&v), 0);
	assert_true(entry_masked(&f, 1));
	fx_down(&f);
}

/* ---- Double free, free under a handler -------------------------------------------- */

static void test_double_free_and_busy(void **state)
{
	struct pb_vec v = { 0 };
	struct ik_msi_map map, bogus = { .index = -IK_ENOSPC, .virq = 0 };
	uint64_t warnings;
	struct fx f;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	map = ik_pci_msix_alloc_irq_at(f.dev, 9, NULL);
	assert_int_equal(map.index, 9);
	assert_int_equal(pb_request(&v, map.virq), 0);

	/* Free with the handler installed: refused, the vector keeps working. */
	warnings = sim_port_warnings();
	assert_int_equal(ik_pci_msix_free_irq(f.dev, map), -IK_EBUSY);
	assert_true(sim_port_warnings() > warnings);
	assert_int_equal(ik_pci_irq_vector(f.dev, 9), (int)map.virq);
	sim_pci_dev_raise(f.sd, 9);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	/* Freeing all vectors under a handler: refused as a whole. */
	ik_pci_free_irq_vectors(f.dev);
	assert_true(ik_pci_msix_enabled(f.dev));
	assert_int_equal(ik_pci_irq_vector(f.dev, 9), (int)map.virq);

	assert_int_equal(pb_free(&v), 0);
	assert_int_equal(ik_pci_msix_free_irq(f.dev, map), 0);
	assert_int_equal(ik_pci_irq_vector(f.dev, 9), -IK_EINVAL);
	/* Double free: warned about, nothing happens. */
	warnings = sim_port_warnings();
	assert_int_equal(ik_pci_msix_free_irq(f.dev, map), -IK_EINVAL);
	assert_true(sim_port_warnings() > warnings);
	assert_int_equal(ik_pci_msix_free_irq(f.dev, bogus), -IK_EINVAL);
	/* A map whose slot was reused by another allocation is not that allocation. */
	struct ik_msi_map again = ik_pci_msix_alloc_irq_at(f.dev, 9, NULL);

	assert_int_equal(again.index, 9);
	if (again.virq != map.virq)
		assert_int_equal(ik_pci_msix_free_irq(f.dev, map), -IK_EINVAL);
	assert_int_equal(ik_pci_irq_vector(f.dev, 9), (int)again.virq);
	assert_int_equal(ik_pci_msix_free_irq(f.dev, again), 0);
	fx_down(&f);
}

/* ---- Restore after reset ------------------------------------------------------------ */

static void test_restore_sparse_after_reset(void **state)
{
	static const unsigned int idx[] = { 0, 5, 17, 40 };
	struct sim_pci_msix_entry snap[4];
	struct irq_report r = { 0 };
	struct pb_vec v[4] = { 0 };
	struct sim_pci_dev_config c;
	unsigned int log_from;
	struct fx f;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	for (unsigned int i = 1; i < 4; i++) {
		struct ik_msi_map map = ik_pci_msix_alloc_irq_at(f.dev, idx[i], NULL);

		assert_int_equal(map.index, idx[i]);
	}
	/* 17 stays unrequested (masked). */
	for (unsigned int i = 0; i < 4; i++)
		if (idx[i] != 17)
			assert_int_equal(pb_request(&v[i], ik_pci_irq_vector(f.dev, idx[i])), 0);
	for (unsigned int i = 0; i < 4; i++)
		snap[i] = pb_entry(f.sd, idx[i]);
	assert_true(snap[2].ctrl & MSIX_CTRL_MASK);
	assert_false(snap[3].ctrl & MSIX_CTRL_MASK);

	/* Function-level reset: everything back to power-on, decode off. */
	c = f.c;
	c.command = 0;
	sim_pci_dev_destroy(f.sd);
	f.sd = pcibed_plug(&f.pb, PB_BDF, &c);
	assert_int_equal(msix_ctrl(&f) & SIM_PCI_MSIX_FLAGS_ENABLE, 0);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pb_entry(f.sd, idx[i]).data, 0);

	log_from = f.pb.nr_log;
	assert_int_equal(ik_pci_restore_msi_state(f.dev), 0);
	/* Enable + Function Mask first, Function Mask cleared last. */
	for (unsigned int i = log_from; i < f.pb.nr_log; i++) {
		if (f.pb.log[i].offset == f.cap + SIM_PCI_MSIX_FLAGS) {
			assert_int_equal(f.pb.log[i].value &
					 (SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL),
					 SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL);
			break;
		}
	}
	assert_int_equal(msix_ctrl(&f) & (SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL),
			 SIM_PCI_MSIX_FLAGS_ENABLE);
	assert_true(sim_pci_cfg_peek(f.sd, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_MEMORY);
	assert_true(sim_pci_cfg_peek(f.sd, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_MASTER);
	for (unsigned int i = 0; i < 4; i++)
		assert_true(entry_equal(pb_entry(f.sd, idx[i]), snap[i]));
	for (unsigned int i = 0; i < 64; i++) {
		bool used = i == 0 || i == 5 || i == 17 || i == 40;

		if (!used)
			assert_true(entry_masked(&f, i));
	}
	for (unsigned int i = 0; i < 4; i++)
		sim_pci_dev_raise(f.sd, idx[i]);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v[0].count, 1);
	assert_int_equal(v[1].count, 1);
	assert_int_equal(v[3].count, 1);
	assert_true(sim_pci_msix_pending(f.sd, 17));

	/* Sparse indices kept. */
	assert_int_equal(ik_msi_device_for_each_irq(f.dev, collect, &r), 0);
	assert_int_equal(r.n, 4);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(r.info[i].index, idx[i]);
	for (unsigned int i = 0; i < 4; i++)
		if (idx[i] != 17)
			assert_int_equal(pb_free(&v[i]), 0);
	fx_down(&f);
}

/* ---- D3 and surprise removal ---------------------------------------------------- */

static void test_d3_caches_writes(void **state)
{
	struct pb_vec v = { 0 };
	struct sim_pci_msix_entry before;
	const struct ik_msi_desc *desc;
	ik_cpumask_t mask;
	unsigned int log_from;
	struct fx f;
	int irq;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	irq = ik_pci_irq_vector(f.dev, 1);
	assert_int_equal(pb_request(&v, (unsigned int)irq), 0);
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 1);
	before = pb_entry(f.sd, 1);

	assert_int_equal(ik_pci_set_power_state(f.dev, IK_PCI_D3HOT), 0);
	log_from = f.pb.nr_log;
	ik_cpumask_clear(&mask);
	ik_cpumask_set_cpu(2, &mask);
	assert_int_equal(ik_irq_set_affinity((unsigned int)irq, &mask), 0);
	/* Neither the table nor configuration space was touched; the message is cached. */
	assert_int_equal(f.pb.nr_log, log_from);
	assert_true(entry_equal(pb_entry(f.sd, 1), before));
	desc = ik_irq_get_msi_desc((unsigned int)irq);
	assert_true(desc->msg.address_lo != before.addr_lo || desc->msg.data != before.data);
	/* Allocating and masking in D3: cached too. */
	struct ik_msi_map map = ik_pci_msix_alloc_irq_at(f.dev, 7, NULL);

	assert_int_equal(map.index, 7);
	assert_int_equal(f.pb.nr_log, log_from);
	/* Enabling or restoring outside D0: refused. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSIX, NULL), -IK_EIO);
	assert_int_equal(ik_pci_restore_msi_state(f.dev), -IK_EIO);

	assert_int_equal(ik_pci_set_power_state(f.dev, IK_PCI_D0), 0);
	assert_int_equal(ik_pci_restore_msi_state(f.dev), 0);
	assert_int_equal(pb_entry(f.sd, 1).addr_lo, desc->msg.address_lo);
	assert_int_equal(pb_entry(f.sd, 1).data, desc->msg.data);
	assert_false(entry_masked(&f, 1));
	assert_true(entry_masked(&f, 7));
	sim_pci_dev_raise(f.sd, 1);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v.count, 2);
	assert_int_equal(v.last_cpu, 2);
	assert_int_equal(pb_free(&v), 0);
	fx_down(&f);
}

static void test_surprise_removal_and_replug(void **state)
{
	struct pb_vec v[2] = { 0 };
	ik_cpumask_t mask;
	uint64_t unmapped;
	unsigned int log_from;
	struct fx f;

	fx_up(&f, NULL, NULL);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
		for (unsigned int i = 0; i < 2; i++)
			assert_int_equal(pb_request(&v[i], ik_pci_irq_vector(f.dev, i)), 0);
		sim_pci_dev_raise(f.sd, 0);
		sim_pci_dev_raise(f.sd, 1);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(v[0].count, 1);
		assert_int_equal(v[1].count, 1);

		/* Surprise removal: the driver learns about it, then tears down. */
		ik_pci_set_disconnected(f.dev);
		sim_pci_dev_destroy(f.sd);
		unmapped = sim_stat(f.pb.tb.m, SIM_STAT_UNMAPPED_WRITES);
		log_from = f.pb.nr_log;
		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(3, &mask);
		assert_int_equal(ik_irq_set_affinity(v[0].irq, &mask), 0);
		for (unsigned int i = 0; i < 2; i++) {
			assert_int_equal(pb_free(&v[i]), 0);
			v[i].count = 0;
		}
		assert_int_equal(ik_pci_restore_msi_state(f.dev), -IK_ENODEV);
		assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 1, IK_PCI_IRQ_MSIX, NULL),
				 -IK_ENODEV);
		ik_pci_free_irq_vectors(f.dev);
		ik_pci_device_destroy(f.dev);
		assert_int_equal(sim_stat(f.pb.tb.m, SIM_STAT_UNMAPPED_WRITES), unmapped);
		assert_int_equal(f.pb.nr_log, log_from);

		/* Re-plug: a new function, a new device. */
		f.sd = pcibed_plug(&f.pb, PB_BDF, &f.c);
		f.dev = pcibed_device(&f.pb, PB_BDF);
	}
	/* And an orderly unplug with vectors left to the device-managed release. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	ik_pci_device_destroy(f.dev);
	sim_pci_dev_destroy(f.sd);
	assert_int_equal(ik_pci_device_create(NULL, 0, PB_BDF, &f.dev), -IK_ENODEV);
	assert_int_equal(pcibed_fini(&f.pb), 0);
}

/* ---- 32-bit-only function (scenario 29) ------------------------------------------ */

static void test_no_64bit_msi(void **state)
{
	struct ik_msi_map map;
	int64_t baseline;
	struct pb_matrix mx;
	struct fx f;

	pcibed_init(&f.pb, NULL);
	pcibed_tparent_create(&f.pb, IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
	f.c = pcibed_std_config();
	f.sd = pcibed_plug(&f.pb, PB_BDF, &f.c);
	f.cap = sim_pci_dev_msix_cap(f.sd);
	f.dev = pcibed_device(&f.pb, PB_BDF);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	ik_pci_free_irq_vectors(f.dev);
	baseline = sim_alloc_outstanding();
	mx = pb_matrix(&f.pb);

	/* The parent composes addresses above 4 GiB; the function cannot take them. */
	f.pb.tparent_addr_hi = 1;
	ik_pci_set_quirks(f.dev, IK_PCI_QUIRK_NO_64BIT_MSI);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), -IK_EIO);
	assert_non_null(strstr(sim_port_last_log(), "0000:00:03.0"));
	assert_non_null(strstr(sim_port_last_log(), "64-bit"));
	assert_false(ik_pci_msix_enabled(f.dev));
	assert_int_equal(msix_ctrl(&f) & (SIM_PCI_MSIX_FLAGS_ENABLE | SIM_PCI_MSIX_FLAGS_MASKALL), 0);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));

	/* Without the quirk, a 64-bit table takes the address. */
	ik_pci_set_quirks(f.dev, 0);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	assert_int_equal(pb_entry(f.sd, 0).addr_hi, 1);
	ik_pci_free_irq_vectors(f.dev);

	/* Enabled below 4 GiB, then a dynamic vector above: refused. */
	f.pb.tparent_addr_hi = 0;
	ik_pci_set_quirks(f.dev, IK_PCI_QUIRK_NO_64BIT_MSI);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	f.pb.tparent_addr_hi = 1;
	baseline = sim_alloc_outstanding();
	map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
	assert_int_equal(map.index, -IK_EIO);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	f.pb.tparent_addr_hi = 0;
	fx_down(&f);
}

/* ---- Partial allocation (scenario 12) ---------------------------------------------- */

static void big_table_elsewhere(struct sim_pci_dev_config *c)
{
	c->bars[0].addr = PB_BAR0 + 0x100000;
	c->bars[2].addr = PB_BAR2 + 0x100000;
	c->msix_table_size = 256;
	c->msix_pba_offset = 0x2000;
}

static void test_partial_allocation_retry(void **state)
{
	struct testbed_opts o = { .nr_cpus = 1, .seed = 3 };
	struct sim_pci_dev_config cb;
	struct ik_device *hog;
	struct pb_matrix mx;
	struct fx f;
	int n;

	fx_up(&f, &o, NULL);
	cb = pcibed_std_config();
	big_table_elsewhere(&cb);
	pcibed_plug(&f.pb, SIM_PCI_BDF(0, 4, 0), &cb);
	hog = pcibed_device(&f.pb, SIM_PCI_BDF(0, 4, 0));
	mx = pb_matrix(&f.pb);
	assert_true(mx.available > 40 && mx.available - 40 <= 256);
	/* Managed vectors reserve a vector each on the only CPU: leave 40. */
	n = (int)mx.available - 40;
	assert_int_equal(ik_pci_alloc_irq_vectors(hog, (unsigned int)n, (unsigned int)n,
						  IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY, NULL), n);
	mx = pb_matrix(&f.pb);
	assert_int_equal(mx.available, 40);

	/* 64 asked, 41 needed: nothing. 64 asked, 1 needed: the 40 there are. */
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 41, 64,
						  IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY, NULL),
			 -IK_ENOSPC);
	assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));
	assert_false(ik_pci_msix_enabled(f.dev));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 1, 64,
						  IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY, NULL),
			 40);
	assert_true(ik_pci_irq_vector(f.dev, 39) > 0);
	assert_int_equal(ik_pci_irq_vector(f.dev, 40), -IK_EINVAL);
	check_delivery(&f, 8);
	ik_pci_free_irq_vectors(f.dev);
	assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));
	ik_pci_device_destroy(hog);
	fx_down(&f);
}

/* ---- Allocation failure injection (scenario 11) ------------------------------------- */

static struct fx *drv_fx;
static struct ik_msi_map drv_dyn[2];
static struct pb_vec drv_vec;

static int fi_probe(struct ik_device *dev)
{
	int n = ik_pci_alloc_irq_vectors(dev, 4, 8, IK_PCI_IRQ_MSIX, NULL);

	if (n < 0)
		return n;
	for (int i = 0; i < 2; i++) {
		drv_dyn[i] = ik_pci_msix_alloc_irq_at(dev, IK_MSI_ANY_INDEX, NULL);
		if (drv_dyn[i].index < 0)
			return drv_dyn[i].index;
	}
	return pb_request(&drv_vec, ik_pci_irq_vector(dev, 0));
}

static void fi_remove(struct ik_device *dev)
{
	pb_free(&drv_vec);
}

static const struct ik_driver fi_driver = { .name = "fi", .probe = fi_probe, .remove = fi_remove };

static void test_failure_injection_enable(void **state)
{
	struct pb_matrix mx;
	int64_t baseline;
	unsigned int failures = 0;
	struct fx f;

	fx_up(&f, NULL, NULL);
	drv_fx = &f;
	/* Warm up: the core keeps the leaves of its irq-number table once grown. */
	assert_int_equal(ik_device_bind(f.dev, &fi_driver), 0);
	assert_int_equal(ik_device_unbind(f.dev), 0);
	baseline = sim_alloc_outstanding();
	mx = pb_matrix(&f.pb);
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		drv_vec.count = 0;
		sim_alloc_fail_nth(nth);
		ret = ik_device_bind(f.dev, &fi_driver);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_true(ret == -IK_ENOMEM || ret == -IK_ENOSPC);
		} else {
			sim_pci_dev_raise(f.sd, 0);
			sim_run_until_idle(f.pb.tb.m);
			assert_int_equal(drv_vec.count, 1);
			assert_int_equal(ik_device_unbind(f.dev), 0);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));
		assert_int_equal(ik_devm_count(f.dev), 0);
		assert_null(ik_msi_get_device_domain(f.dev, IK_MSI_DEFAULT_DOMAIN));
		assert_int_equal(msix_ctrl(&f) & SIM_PCI_MSIX_FLAGS_ENABLE, 0);
		if (!ret && sim_alloc_count() - start < nth)
			break;  /* the injection point lies beyond the whole bind */
	}
	assert_true(failures > 10);
	ik_pci_device_destroy(f.dev);
	assert_int_equal(pcibed_fini(&f.pb), 0);
}

static void test_failure_injection_dynamic(void **state)
{
	struct pb_matrix mx;
	int64_t baseline;
	unsigned int failures = 0;
	struct fx f;

	fx_up(&f, NULL, NULL);
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev, 2, 2, IK_PCI_IRQ_MSIX, NULL), 2);
	baseline = sim_alloc_outstanding();
	mx = pb_matrix(&f.pb);
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		struct ik_msi_map map;
		struct pb_vec v = { 0 };

		sim_alloc_fail_nth(nth);
		map = ik_pci_msix_alloc_irq_at(f.dev, IK_MSI_ANY_INDEX, NULL);
		sim_alloc_fail_nth(0);
		if (map.index < 0) {
			failures++;
			assert_int_equal(map.index, -IK_ENOMEM);
			assert_int_equal(map.virq, 0);
			assert_true(entry_masked(&f, 2));
		} else {
			assert_int_equal(map.index, 2);
			assert_int_equal(pb_request(&v, map.virq), 0);
			sim_pci_dev_raise(f.sd, 2);
			sim_run_until_idle(f.pb.tb.m);
			assert_int_equal(v.count, 1);
			assert_int_equal(pb_free(&v), 0);
			assert_int_equal(ik_pci_msix_free_irq(f.dev, map), 0);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_true(pb_matrix_equal(pb_matrix(&f.pb), mx));
		if (map.index >= 0 && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 3);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enable_sequence_stale_entries),
		cmocka_unit_test(test_table_in_64bit_bar_at_offset),
		cmocka_unit_test(test_table_in_32bit_bar),
		cmocka_unit_test(test_dynamic_while_firing),
		cmocka_unit_test(test_pba_delivery_on_unmask_once),
		cmocka_unit_test(test_msi_msix_switch),
		cmocka_unit_test(test_dynamic_edge_cases),
		cmocka_unit_test(test_parent_without_alloc_dyn),
		cmocka_unit_test(test_mask_parent_startup_shutdown),
		cmocka_unit_test(test_double_free_and_busy),
		cmocka_unit_test(test_restore_sparse_after_reset),
		cmocka_unit_test(test_d3_caches_writes),
		cmocka_unit_test(test_surprise_removal_and_replug),
		cmocka_unit_test(test_no_64bit_msi),
		cmocka_unit_test(test_partial_allocation_retry),
		cmocka_unit_test(test_failure_injection_enable),
		cmocka_unit_test(test_failure_injection_dynamic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
