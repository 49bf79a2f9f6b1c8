// SPDX-License-Identifier: BSD-2-Clause
/*
 * The MSI core (src/msi): device domains built from templates and shaped
 * by MSI parents (flags restricted and extended, names, refusals), the
 * four masking models, the allocation engine (ranges, single slots at an
 * index or any index, partial results, idempotent free, refusal to free
 * under a handler), iterators and their cursor, bus-inserted descriptors,
 * affinity rewriting the store, release on unbind, introspection, and
 * allocation-failure injection with no leak.
 *
 * The store is the simulator's test device (16-byte slots {addr_lo,
 * addr_hi, data, ctrl}), driven as a platform-MSI device through a
 * template defined here, i.e. the way a device driver would use the core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/msi.h>

#include "testbed.h"

#define STORE_BASE 0xF1000000ull
#define STORE_SLOTS 32u
#define SLOT_ADDR_LO 0x0
#define SLOT_ADDR_HI 0x4
#define SLOT_DATA 0x8
#define SLOT_CTRL 0xC
#define CTRL_MASK 0x1u
#define CTRL_PENDING 0x2u

static struct testbed tb;
static struct sim_testdev *store;
static struct ik_device *dev;

/* ---- The store's template --------------------------------------------- */

static unsigned int source_masks, source_unmasks, writes;

static uint64_t slot_reg(const struct ik_irq_data *d, unsigned int reg)
{
	return STORE_BASE + d->hwirq * 16 + reg;
}

static void store_mask(struct ik_irq_data *d)
{
	source_masks++;
	ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), CTRL_MASK);
}

static void store_unmask(struct ik_irq_data *d)
{
	source_unmasks++;
	ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), 0);
}

static void store_write(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	uint32_t ctrl = ik_os_mmio_read32(slot_reg(d, SLOT_CTRL));

	writes++;
	/* The slot latches nothing atomically: mask around the rewrite. */
	if (!(ctrl & CTRL_MASK))
		ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), CTRL_MASK);
	ik_os_mmio_write32(slot_reg(d, SLOT_ADDR_LO), msg->address_lo);
	ik_os_mmio_write32(slot_reg(d, SLOT_ADDR_HI), msg->address_hi);
	ik_os_mmio_write32(slot_reg(d, SLOT_DATA), msg->data);
	if (!(ctrl & CTRL_MASK))
		ik_os_mmio_write32(slot_reg(d, SLOT_CTRL), 0);
}

static int store_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	uint32_t ctrl = ik_os_mmio_read32(slot_reg(d, SLOT_CTRL));

	if (which == IK_IRQCHIP_STATE_PENDING)
		*state = ctrl & CTRL_PENDING;
	else if (which == IK_IRQCHIP_STATE_MASKED)
		*state = ctrl & CTRL_MASK;
	else
		return -IK_EINVAL;
	return 0;
}

static unsigned int prepared, released;
static bool store_has_mask = true;

static int store_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
			      struct ik_msi_desc *desc)
{
	/* The slot comes out of reset unmasked: mask it before anything else. */
	desc->data.dcookie = STORE_BASE + desc->index * 16;
	ik_os_mmio_write32(desc->data.dcookie + SLOT_CTRL, store_has_mask ? CTRL_MASK : 0);
	prepared++;
	return 0;
}

static void store_release_desc(struct ik_irq_domain *domain, struct ik_msi_desc *desc)
{
	released++;
}

static struct ik_msi_domain_template store_tmpl(uint32_t flags)
{
	struct ik_msi_domain_template t = {
		.name = "TMSI",
		.chip = {
			.name = "TMSI",
			.irq_mask = store_mask,
			.irq_unmask = store_unmask,
			.irq_write_msi_msg = store_write,
			.irq_get_irqchip_state = store_state,
		},
		.ops = {
			.prepare_desc = store_prepare_desc,
			.release_desc = store_release_desc,
		},
		.info = {
			.flags = flags,
			.bus_token = IK_MSI_BUS_DEVICE,
			.hwsize = STORE_SLOTS,
		},
	};
	return t;
}

#define STORE_FLAGS (IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS | \
		     IK_MSI_FLAG_ACTIVATE_EARLY | IK_MSI_FLAG_MASK_SOURCE)

/* ---- An intermediate MSI parent that masks at the destination ----------- */

static unsigned int parent_masks, parent_unmasks;
static struct ik_irq_domain *shim;

static void shim_mask(struct ik_irq_data *d)
{
	parent_masks++;
}

static void shim_unmask(struct ik_irq_data *d)
{
	parent_unmasks++;
}

static const struct ik_irq_chip shim_chip = {
	.name = "SHIM",
	.irq_mask = shim_mask,
	.irq_unmask = shim_unmask,
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
};

static int shim_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &shim_chip, NULL);
	return 0;
}

static void shim_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops shim_ops = {
	.alloc = shim_alloc,
	.free = shim_free,
};

/* Extends the root (multi-MSI), requires masking at the destination. */
static const struct ik_msi_parent_ops shim_parent_ops = {
	.supported_flags = IK_MSI_FLAG_DEVICE_MSI | IK_MSI_FLAG_MULTI_PCI_MSI,
	.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS |
			  IK_MSI_FLAG_MASK_PARENT,
	.bus_select_mask = IK_BIT(IK_MSI_BUS_DEVICE),
	.prefix = "SHIM-",
	.init_dev_msi_info = ik_msi_parent_init_dev_msi_info,
};

/* ---- Fixture -------------------------------------------------------------- */

static int64_t alloc_base;
static unsigned int vec_maps_base;

static int setup(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = 3 };

	testbed_init(&tb, &o);
	store = sim_testdev_create(tb.m, STORE_BASE, STORE_SLOTS, 0x0410);
	assert_non_null(store);
	shim = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0, 0, "SHIM", &shim_ops,
					      NULL);
	assert_non_null(shim);
	assert_int_equal(ik_msi_parent_set_ops(shim, &shim_parent_ops), 0);
	assert_true(ik_irq_domain_flags(shim) & IK_IRQ_DOMAIN_FLAG_MSI_PARENT);
	alloc_base = sim_alloc_outstanding();
	vec_maps_base = ik_irq_domain_mapcount(ik_x86_vector_domain());
	assert_int_equal(ik_device_create(NULL, "tdev", &dev), 0);
	ik_device_set_requester_id(dev, 0, 0x0410);
	ik_device_set_msi_parent(dev, ik_x86_vector_domain());
	source_masks = source_unmasks = writes = prepared = released = 0;
	store_has_mask = true;
	parent_masks = parent_unmasks = 0;
	return 0;
}

static int teardown(void **state)
{
	ik_device_destroy(dev);
	/*
	 * Memory is checked by testbed_fini() after the core is gone (the
	 * interrupt-number table grows in chunks that stay until then).
	 */
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_int_equal(ik_irq_domain_remove(shim), 0);
	assert_int_equal(testbed_fini(&tb), 0);
	return 0;
}

/* ---- Helpers ---------------------------------------------------------- */

struct line {
	unsigned int irq;
	int ret;
	uint64_t runs;
	unsigned int last_cpu;
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	l->last_cpu = ik_os_cpu_id();
	return IK_IRQ_HANDLED;
}

static void request_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_request_irq(l->irq, line_handler, 0, "tmsi", l);
}

static void free_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_free_irq(l->irq, l);
}

static void disable_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_disable_irq(l->irq);
}

static void enable_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_enable_irq(l->irq);
}

static uint32_t slot_read(unsigned int slot, unsigned int reg)
{
	return (uint32_t)sim_cpu_read(tb.m, 0, STORE_BASE + slot * 16 + reg, 4);
}

static void fire(unsigned int slot)
{
	sim_testdev_fire(store, slot);
	sim_run_until_idle(tb.m);
}

static void bind_driver(void);

/*
 * Allocate and free interrupts once so the interrupt-number table has its
 * chunks: later allocation counts then measure only what an operation keeps.
 */
static void warm_up(void)
{
	struct ik_irq_affinity_desc aff[64];
	int virq;

	memset(aff, 0, sizeof(aff));
	virq = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 64, NULL, NULL);
	assert_true(virq > 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 64), 0);
}

/* ---- Domain creation ------------------------------------------------------ */

static void test_create_domain_shaped_by_parent(void **state)
{
	struct ik_msi_domain_template t = store_tmpl(STORE_FLAGS | IK_MSI_FLAG_MULTI_PCI_MSI |
						     IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
	const struct ik_msi_domain_info *info;
	struct ik_irq_domain *d;

	bind_driver();
	assert_int_equal(ik_msi_create_device_domain(dev, 1, &t, 0, NULL, NULL), 0);
	d = ik_msi_get_device_domain(dev, 1);
	assert_non_null(d);
	assert_string_equal(ik_irq_domain_name(d), "TMSI-tdev");
	assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_vector_domain());
	assert_true(ik_irq_domain_flags(d) & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE);
	info = ik_msi_get_domain_info(d);
	assert_non_null(info);
	/* The vector domain cannot do multi-MSI; it keeps dynamic allocation. */
	assert_false(info->flags & IK_MSI_FLAG_MULTI_PCI_MSI);
	assert_true(info->flags & IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
	assert_true(info->flags & IK_MSI_FLAG_USE_DEF_DOM_OPS);
	assert_int_equal(info->hwsize, STORE_SLOTS);
	/* The parent completed the chip. */
	assert_ptr_equal(info->chip->irq_ack, ik_irq_chip_ack_parent);
	/* Directly below the vector domain a maskable store is rewritten masked (x86-msi). */
	assert_int_equal(ik_x86_msi_domain_protocol(d), IK_X86_MSI_MASKED);
	assert_ptr_equal(info->chip->irq_mask, store_mask);
	assert_ptr_equal(info->handler, ik_handle_edge_irq);
	/* Not a device domain: no info. */
	assert_null(ik_msi_get_domain_info(ik_x86_vector_domain()));

	/* The id is taken. */
	assert_int_equal(ik_msi_create_device_domain(dev, 1, &t, 0, NULL, NULL), -IK_EEXIST);

	/* Behind the shim: the shim's prefix, multi-MSI kept, masking at the parent too. */
	ik_device_set_msi_parent(dev, shim);
	assert_int_equal(ik_msi_create_device_domain(dev, 2, &t, 8, NULL, NULL), 0);
	d = ik_msi_get_device_domain(dev, 2);
	assert_string_equal(ik_irq_domain_name(d), "SHIM-TMSI-tdev");
	info = ik_msi_get_domain_info(d);
	assert_true(info->flags & IK_MSI_FLAG_MULTI_PCI_MSI);
	assert_false(info->flags & IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
	assert_true(info->flags & IK_MSI_FLAG_MASK_PARENT);
	assert_int_equal(info->hwsize, 8);
	/* The root still completed the chip through the forwarding. */
	assert_ptr_equal(info->chip->irq_set_affinity, ik_msi_domain_set_affinity);
	assert_ptr_equal(info->source_mask, store_mask);

	ik_msi_remove_device_domain(dev, 1);
	assert_null(ik_msi_get_device_domain(dev, 1));
	ik_msi_remove_device_domain(dev, 1);    /* no-op */
}

static void test_create_domain_refusals(void **state)
{
	struct ik_msi_domain_template t = store_tmpl(STORE_FLAGS);
	struct ik_device *orphan;
	int64_t before;

	bind_driver();
	before = sim_alloc_outstanding();
	assert_int_equal(ik_msi_create_device_domain(NULL, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	assert_int_equal(ik_msi_create_device_domain(dev, IK_MSI_MAX_DEVICE_DOMAINS, &t, 0, NULL,
						     NULL), -IK_EINVAL);
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, IK_MSI_MAX_INDEX + 2, NULL,
						     NULL), -IK_EINVAL);
	/* A store that cannot write messages. */
	t.chip.irq_write_msi_msg = NULL;
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	/* Claims to mask at the source without mask callbacks. */
	t = store_tmpl(STORE_FLAGS);
	t.chip.irq_unmask = NULL;
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	/* A storage kind the parent does not accept (the shim takes DEVICE only). */
	t = store_tmpl(STORE_FLAGS);
	t.info.bus_token = IK_MSI_BUS_IMS;
	ik_device_set_msi_parent(dev, shim);
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	/* No bus token at all. */
	t.info.bus_token = IK_MSI_BUS_NONE;
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	/* A device without an MSI parent. */
	t = store_tmpl(STORE_FLAGS);
	assert_int_equal(ik_device_create(NULL, "orphan", &orphan), 0);
	assert_int_equal(ik_msi_create_device_domain(orphan, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	ik_device_destroy(orphan);
	/* A domain that is not an MSI parent. */
	ik_device_set_msi_parent(dev, tb.devdom);
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), -IK_EINVAL);
	assert_null(ik_msi_get_device_domain(dev, 0));
	/* Only the MSI data (set up by the first valid-looking call) remains. */
	assert_true(sim_alloc_outstanding() - before <= 2);
}

/* ---- Allocation engine ----------------------------------------------- */

static int good_probe(struct ik_device *d)
{
	return 0;
}

static const struct ik_driver tdrv = { .name = "tmsi-driver", .probe = good_probe };

static void bind_driver(void)
{
	assert_int_equal(ik_device_bind(dev, &tdrv), 0);
}

static void create_store_domain(uint32_t flags)
{
	struct ik_msi_domain_template t = store_tmpl(flags);

	bind_driver();
	assert_int_equal(ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &t, 0, NULL,
						     NULL), 0);
}

static void test_range_alloc_request_fire(void **state)
{
	struct line l = { 0 };
	struct ik_msi_desc *desc;
	unsigned int n = 0;
	int virq;

	create_store_domain(STORE_FLAGS);
	assert_int_equal(ik_msi_domain_alloc_irqs_range(dev, 0, 4, 7, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(prepared, 4);
	virq = ik_msi_get_virq(dev, 0, 5);
	assert_true(virq > 0);
	assert_int_equal(ik_msi_get_virq(dev, 0, 3), -IK_ENOENT);
	desc = ik_irq_get_msi_desc((unsigned int)virq);
	assert_non_null(desc);
	assert_int_equal(desc->index, 5);
	assert_ptr_equal(desc->dev, dev);
	assert_int_equal(desc->data.dcookie, STORE_BASE + 5 * 16);
	assert_int_equal(ik_irq_get_irq_data((unsigned int)virq)->hwirq, 5);

	/* Activated early: a real message is in the slot, and the slot is masked. */
	assert_int_equal(slot_read(5, SLOT_ADDR_LO) & 0xFFF00000u, 0xFEE00000u);
	assert_int_equal(slot_read(5, SLOT_CTRL) & CTRL_MASK, CTRL_MASK);
	assert_int_equal(slot_read(5, SLOT_DATA), desc->msg.data);
	assert_true(desc->msg.data != 0);

	/* Firing while masked: held pending by the device, no interrupt. */
	l.irq = (unsigned int)virq;
	fire(5);
	assert_true(slot_read(5, SLOT_CTRL) & CTRL_PENDING);
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	sim_run_until_idle(tb.m);
	/* The pending message went out on unmask, exactly once. */
	assert_int_equal(l.runs, 1);
	assert_false(slot_read(5, SLOT_CTRL) & CTRL_MASK);
	fire(5);
	assert_int_equal(l.runs, 2);
	testbed_on_cpu(&tb, 0, free_fn, &l);
	assert_int_equal(l.ret, 0);

	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 4, 7), 4);
	/* FREE_DESCS: the descriptors went with the interrupts. */
	ik_msi_lock_descs(dev);
	assert_null(ik_msi_first_desc(dev, 0, IK_MSI_DESC_ALL));
	ik_msi_unlock_descs(dev);
	assert_int_equal(released, 4);
	/* Deactivated: the slot carries no message any more. */
	assert_int_equal(slot_read(5, SLOT_ADDR_LO), 0);
	/* Idempotent. */
	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 4, 7), 0);
	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 7, 4), -IK_EINVAL);
	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 0, STORE_SLOTS), -IK_ERANGE);
	assert_int_equal(ik_msi_domain_alloc_irqs_range(dev, 0, 30, STORE_SLOTS, NULL),
			 -IK_ERANGE);
	assert_int_equal(ik_msi_domain_alloc_irqs_range(dev, 3, 0, 0, NULL), -IK_EINVAL);
}

static void test_alloc_at_index_edge_cases(void **state)
{
	struct ik_msi_map a, b, c;
	int64_t before;
	unsigned int i;

	create_store_domain(STORE_FLAGS);
	warm_up();
	before = sim_alloc_outstanding();
	a = ik_msi_domain_alloc_irq_at(dev, 0, 3, NULL, 0);
	assert_int_equal(a.index, 3);
	assert_true(a.virq > 0);
	b = ik_msi_domain_alloc_irq_at(dev, 0, IK_MSI_ANY_INDEX, NULL, 77);
	assert_int_equal(b.index, 0);                   /* lowest free */
	assert_int_equal(ik_irq_get_msi_desc(b.virq)->data.icookie, 77);

	c = ik_msi_domain_alloc_irq_at(dev, 0, 3, NULL, 0);
	assert_int_equal(c.index, -IK_EBUSY);
	assert_int_equal(c.virq, 0);
	c = ik_msi_domain_alloc_irq_at(dev, 0, STORE_SLOTS, NULL, 0);
	assert_int_equal(c.index, -IK_ERANGE);
	c = ik_msi_domain_alloc_irq_at(dev, 3, 0, NULL, 0);
	assert_int_equal(c.index, -IK_ENODEV);
	/* Fill the store, then ANY finds nothing. */
	for (i = 0; i < STORE_SLOTS - 2; i++)
		assert_true(ik_msi_domain_alloc_irq_at(dev, 0, IK_MSI_ANY_INDEX, NULL, 0).index > 0);
	c = ik_msi_domain_alloc_irq_at(dev, 0, IK_MSI_ANY_INDEX, NULL, 0);
	assert_int_equal(c.index, -IK_ENOSPC);
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), (int)STORE_SLOTS);
	assert_int_equal(sim_alloc_outstanding(), before);
}

static void test_free_refused_while_handler_installed(void **state)
{
	struct line l = { 0 };
	struct ik_msi_map m;

	create_store_domain(STORE_FLAGS);
	m = ik_msi_domain_alloc_irq_at(dev, 0, 9, NULL, 0);
	assert_int_equal(m.index, 9);
	l.irq = m.virq;
	testbed_on_cpu(&tb, 1, request_fn, &l);
	assert_int_equal(l.ret, 0);
	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 9, 9), -IK_EBUSY);
	/* Nothing changed: the interrupt still works. */
	fire(9);
	assert_int_equal(l.runs, 1);
	assert_int_equal(ik_msi_get_virq(dev, 0, 9), (int)m.virq);
	testbed_on_cpu(&tb, 1, free_fn, &l);
	assert_int_equal(ik_msi_domain_free_irqs_range(dev, 0, 9, 9), 1);
}

static void test_iterators_and_cursor(void **state)
{
	struct ik_msi_desc init, *desc;
	uint32_t seen[8];
	unsigned int n = 0;
	struct ik_msi_domain_template t = store_tmpl(IK_MSI_FLAG_ACTIVATE_EARLY |
						     IK_MSI_FLAG_MASK_SOURCE);

	/* A bus-layer domain: descriptors come from ik_msi_insert_desc(). */
	bind_driver();
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), 0);
	memset(&init, 0, sizeof(init));
	ik_msi_lock_descs(dev);
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, 2), 2);
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, 6), 6);
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, IK_MSI_ANY_INDEX), 0);
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, 6), -IK_EBUSY);
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, STORE_SLOTS), -IK_ERANGE);
	init.irq = 5;
	assert_int_equal(ik_msi_insert_desc(dev, 0, &init, 9), -IK_EINVAL);
	ik_msi_unlock_descs(dev);

	/* Allocate only index 6. */
	assert_int_equal(ik_msi_domain_alloc_irqs_range(dev, 0, 6, 6, NULL), 0);

	ik_msi_lock_descs(dev);
	ik_msi_for_each_desc(desc, dev, 0, IK_MSI_DESC_ALL)
		seen[n++] = desc->index;
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 6);
	n = 0;
	ik_msi_for_each_desc(desc, dev, 0, IK_MSI_DESC_ASSOCIATED)
		seen[n++] = desc->index;
	assert_int_equal(n, 1);
	assert_int_equal(seen[0], 6);
	n = 0;
	ik_msi_for_each_desc(desc, dev, 0, IK_MSI_DESC_NOTASSOCIATED)
		n++;
	assert_int_equal(n, 2);
	/* The cursor does not survive the lock. */
	desc = ik_msi_first_desc(dev, 0, IK_MSI_DESC_ALL);
	assert_non_null(desc);
	ik_msi_unlock_descs(dev);
	ik_msi_lock_descs(dev);
	assert_null(ik_msi_next_desc(dev, 0, IK_MSI_DESC_ALL));
	ik_msi_unlock_descs(dev);

	/* Without FREE_DESCS, freeing the interrupts keeps the descriptors. */
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), 1);
	ik_msi_lock_descs(dev);
	desc = ik_msi_find_desc(dev, 0, 6);
	assert_non_null(desc);
	assert_int_equal(desc->irq, 0);
	ik_msi_free_descs_range(dev, 0, 0, IK_MSI_MAX_INDEX);
	assert_null(ik_msi_first_desc(dev, 0, IK_MSI_DESC_ALL));
	ik_msi_unlock_descs(dev);
}

/* ---- Masking models -------------------------------------------------------- */

static void fire_while_disabled(struct line *l, unsigned int slot)
{
	testbed_on_cpu(&tb, 0, disable_fn, l);
	assert_int_equal(l->ret, 0);
	fire(slot);
	assert_int_equal(l->runs, 0);
	testbed_on_cpu(&tb, 0, enable_fn, l);
	assert_int_equal(l->ret, 0);
	sim_run_until_idle(tb.m);
	/* The edge that came in while disabled is replayed exactly once. */
	assert_int_equal(l->runs, 1);
}

/*
 * @source: runtime masking at the store; @parent: at the parent (the shim).
 * @store_mask: the store has mask callbacks at all (with !@source they are
 * only used at startup and shutdown).
 */
static void masking_case(bool source, bool parent, bool store_mask,
			 unsigned int want_src_masks, unsigned int want_parent_masks)
{
	uint32_t flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_ACTIVATE_EARLY | (source ? IK_MSI_FLAG_MASK_SOURCE : 0);
	struct ik_msi_domain_template t = store_tmpl(flags);
	struct line l = { 0 };
	struct ik_msi_map m;

	store_has_mask = store_mask;
	if (!store_mask) {
		t.chip.irq_mask = NULL;
		t.chip.irq_unmask = NULL;
	}
	bind_driver();
	if (parent)
		ik_device_set_msi_parent(dev, shim);
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), 0);
	m = ik_msi_domain_alloc_irq_at(dev, 0, 1, NULL, 0);
	assert_int_equal(m.index, 1);
	l.irq = m.virq;
	assert_int_equal(slot_read(1, SLOT_CTRL) & CTRL_MASK, store_mask ? CTRL_MASK : 0);
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	/* Started: whatever masks the store has are open. */
	assert_int_equal(slot_read(1, SLOT_CTRL) & CTRL_MASK, 0);
	source_masks = source_unmasks = parent_masks = parent_unmasks = 0;
	fire_while_disabled(&l, 1);
	/* Lazy disable: the interrupt that arrived is what masked the line. */
	assert_int_equal(source_masks, want_src_masks);
	assert_int_equal(parent_masks, want_parent_masks);
	assert_int_equal(source_unmasks, want_src_masks);
	assert_int_equal(parent_unmasks, want_parent_masks);
	testbed_on_cpu(&tb, 0, free_fn, &l);
	/* Shut down: a store that can mask is closed again. */
	assert_int_equal(slot_read(1, SLOT_CTRL) & CTRL_MASK, store_mask ? CTRL_MASK : 0);
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), 1);
}

static void test_mask_at_source(void **state)
{
	masking_case(true, false, true, 1, 0);
}

static void test_mask_at_parent(void **state)
{
	/* The store's mask is toggled only at startup and shutdown. */
	masking_case(false, true, true, 0, 1);
}

static void test_mask_at_parent_store_cannot_mask(void **state)
{
	masking_case(false, true, false, 0, 1);
}

static void test_mask_at_both(void **state)
{
	masking_case(true, true, true, 1, 1);
}

static void test_mask_nowhere(void **state)
{
	/* Neither can mask: PENDING carries the edge to enable. */
	masking_case(false, false, false, 0, 0);
}

/* ---- Affinity ---------------------------------------------------------------- */

static void test_affinity_rewrites_store(void **state)
{
	struct line l = { 0 };
	struct ik_msi_map m;
	ik_cpumask_t mask;
	unsigned int cpu;

	create_store_domain(STORE_FLAGS);
	m = ik_msi_domain_alloc_irq_at(dev, 0, 4, NULL, 0);
	l.irq = m.virq;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	for (cpu = 0; cpu < 4; cpu++) {
		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(cpu, &mask);
		assert_int_equal(ik_irq_set_affinity(m.virq, &mask), 0);
		/* The message follows (the move completes on the next interrupt). */
		assert_int_equal((slot_read(4, SLOT_ADDR_LO) >> 12) & 0xFF,
				 ik_x86_cpu_apic_id(cpu));
		assert_int_equal(ik_irq_get_msi_desc(m.virq)->msg.address_lo,
				 slot_read(4, SLOT_ADDR_LO));
		fire(4);
		assert_int_equal(l.last_cpu, cpu);
	}
	assert_int_equal(l.runs, 4);
	assert_false(slot_read(4, SLOT_CTRL) & CTRL_MASK);  /* left unmasked */
	testbed_on_cpu(&tb, 0, free_fn, &l);
}

/* ---- Lifetime ---------------------------------------------------------------- */

static void test_unbind_releases_everything(void **state)
{
	struct ik_irq_domain *d;
	unsigned int vec_maps = ik_irq_domain_mapcount(ik_x86_vector_domain());
	struct ik_msi_domain_template t = store_tmpl(STORE_FLAGS);
	int64_t before;

	bind_driver();
	warm_up();
	before = sim_alloc_outstanding();
	assert_int_equal(ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL), 0);
	assert_int_equal(ik_msi_domain_alloc_irqs_range(dev, 0, 0, 9, NULL), 0);
	assert_true(ik_msi_domain_alloc_irq_at(dev, 0, 20, NULL, 0).index == 20);
	d = ik_msi_get_device_domain(dev, 0);
	assert_int_equal(ik_irq_domain_mapcount(d), 11);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps + 11);
	assert_int_equal(ik_device_unbind(dev), 0);
	assert_null(ik_msi_get_device_domain(dev, 0));
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps);
	assert_int_equal(released, 11);
	assert_int_equal(sim_alloc_outstanding(), before);
	/* Bindable again: nothing was left behind. */
	bind_driver();
}

static int collect(const struct ik_msi_irq_info *info, void *arg)
{
	struct ik_msi_irq_info *out = arg;
	unsigned int i = 0;

	while (out[i].mode)
		i++;
	out[i] = *info;
	return 0;
}

static void test_introspection(void **state)
{
	struct ik_msi_irq_info got[4];
	struct line l = { 0 };
	struct ik_msi_map a, b;

	memset(got, 0, sizeof(got));
	create_store_domain(STORE_FLAGS);
	a = ik_msi_domain_alloc_irq_at(dev, 0, 2, NULL, 0);
	b = ik_msi_domain_alloc_irq_at(dev, 0, 12, NULL, 0);
	l.irq = b.virq;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	sim_testdev_fire(store, 2);       /* masked: stays pending in the device */
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_msi_device_for_each_irq(dev, collect, got), 0);
	assert_string_equal(got[0].mode, "device");
	assert_string_equal(got[0].domain, "TMSI-tdev");
	assert_int_equal(got[0].index, 2);
	assert_int_equal(got[0].irq, a.virq);
	assert_true(got[0].masked);
	assert_true(got[0].pending);
	assert_false(got[0].started);
	assert_int_equal(got[1].index, 12);
	assert_int_equal(got[1].irq, b.virq);
	assert_false(got[1].masked);
	assert_false(got[1].pending);
	assert_true(got[1].started);
	assert_null(got[2].mode);
	testbed_on_cpu(&tb, 0, free_fn, &l);
}

/* ---- Failure injection --------------------------------------------------- */

/*
 * Fail each allocation of: domain creation, a range allocation, a
 * single-slot allocation, in turn.  Every failure must leave the device as
 * it was (no domain, no descriptor, no interrupt, no memory), and the same
 * call must succeed once nothing is injected.
 */
static void test_failure_injection_no_leak(void **state)
{
	struct ik_msi_domain_template t = store_tmpl(STORE_FLAGS);
	unsigned int vec_maps = ik_irq_domain_mapcount(ik_x86_vector_domain());
	unsigned int reserved = ik_x86_matrix_reserved();
	unsigned int nth, failures = 0, nr_done;
	int64_t before;
	int ret;

	bind_driver();
	warm_up();
	for (nth = 1;; nth++) {
		before = sim_alloc_outstanding();
		sim_alloc_fail_nth(nth);
		ret = ik_msi_create_device_domain(dev, 0, &t, 0, NULL, NULL);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		failures++;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_null(ik_msi_get_device_domain(dev, 0));
		/* The MSI data, once set up, legitimately stays. */
		assert_true(sim_alloc_outstanding() - before <= 2);
	}
	assert_true(failures >= 2);

	for (nth = 1, failures = 0;; nth++) {
		before = sim_alloc_outstanding();
		sim_alloc_fail_nth(nth);
		ret = ik_msi_domain_alloc_irqs_range(dev, 0, 3, 6, &nr_done);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		failures++;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_true(nr_done < 4);
		assert_int_equal(sim_alloc_outstanding(), before);
		assert_int_equal(ik_irq_domain_mapcount(ik_msi_get_device_domain(dev, 0)), 0);
		assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps);
		assert_int_equal(ik_x86_matrix_reserved(), reserved);
		ik_msi_lock_descs(dev);
		assert_null(ik_msi_first_desc(dev, 0, IK_MSI_DESC_ALL));
		ik_msi_unlock_descs(dev);
	}
	assert_true(failures >= 8);
	/* Some failures hit after earlier descriptors succeeded. */
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), 4);

	for (nth = 1, failures = 0;; nth++) {
		struct ik_msi_map m;

		before = sim_alloc_outstanding();
		sim_alloc_fail_nth(nth);
		m = ik_msi_domain_alloc_irq_at(dev, 0, IK_MSI_ANY_INDEX, NULL, 0);
		sim_alloc_fail_nth(0);
		if (m.index >= 0)
			break;
		failures++;
		assert_int_equal(m.index, -IK_ENOMEM);
		assert_int_equal(m.virq, 0);
		assert_int_equal(sim_alloc_outstanding(), before);
		assert_int_equal(ik_x86_matrix_reserved(), reserved);
	}
	assert_true(failures >= 3);
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), 1);
}

/* A failure in the middle of a range reports what had succeeded. */
static void test_partial_result(void **state)
{
	unsigned int nr_done = 99, best = 0;
	int ret;

	create_store_domain(STORE_FLAGS);
	for (unsigned int nth = 1; nth < 200; nth++) {
		sim_alloc_fail_nth(nth);
		ret = ik_msi_domain_alloc_irqs_range(dev, 0, 0, 7, &nr_done);
		sim_alloc_fail_nth(0);
		if (!ret) {
			assert_int_equal(nr_done, 8);
			break;
		}
		if (nr_done > best)
			best = nr_done;
		/* Rolled back regardless of how far it got. */
		assert_int_equal(ik_msi_get_virq(dev, 0, 0), -IK_ENOENT);
	}
	assert_int_equal(best, 7);
	assert_int_equal(ik_msi_domain_free_irqs_all(dev, 0), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_domain_shaped_by_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_domain_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_alloc_request_fire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_at_index_edge_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_refused_while_handler_installed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_iterators_and_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_at_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_at_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_at_parent_store_cannot_mask, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mask_at_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_nowhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_rewrites_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind_releases_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_introspection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_injection_no_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_result, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
