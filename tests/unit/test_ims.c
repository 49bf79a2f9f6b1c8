// SPDX-License-Identifier: BSD-2-Clause
/*
 * IMS: the generic API (include/irqkit/ims.h) and the driver of the MMIO
 * slot-array device (include/irqkit/drivers/ims_slots.h) on the simulated
 * sim_ims_slots function.
 *
 * Covered: the IMS template contract (each violation refused, nothing
 * created); allocation at the lowest free slot, exhaustion, reuse after
 * free; free errors (failed map, double free, wrong irq, handler still
 * installed); what the slot holds at each step (masked with its PASID at
 * allocation, message and unmask at request, zero and mask at free);
 * delivery on the target CPU with the PASID; lazy disable with the device
 * holding the fire pending and the replay on enable; affinity moves while
 * the slot fires (no interrupt lost over seeds); per-sub-device domains
 * (slices) with their own index spaces and lifetimes; removal on unbind;
 * introspection of MSI-X and IMS interrupts of one function; allocation
 * failure injection with no leak.
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
#include <irqkit/ims.h>
#include <irqkit/pci.h>

#include "host_port.h"
#include "imsbed.h"
#include "pcibed.h"
#include "sim_ims.h"

#define S_BDF SIM_PCI_BDF(0, 4, 0)
#define S_BAR0 0xC0100000ull
#define S_BAR2 0xC0200000ull
#define NR_SLOTS 16u
#define NR_FIRES 300u

static struct pcibed pb;
static struct sim_ims_slots *sdev;
static struct ik_device *fn;
static unsigned int vec_maps_base;

static struct sim_machine *M(void)
{
	return pb.tb.m;
}

static void plug(unsigned int nr_slots)
{
	struct sim_ims_slots_config c = {
		.nr_slots = nr_slots, .nr_msix = 4, .bar0_addr = S_BAR0, .bar2_addr = S_BAR2,
	};

	sdev = sim_ims_slots_create(pb.bus, S_BDF, &c);
	assert_non_null(sdev);
	assert_int_equal(ik_pci_device_create(NULL, 0, S_BDF, &fn), 0);
	ik_device_set_msi_parent(fn, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ims_slots_driver), 0);
	assert_int_equal(ik_ims_slots_nr_slots(fn), nr_slots);
}

/*
 * Allocate and free interrupts once so the interrupt-number table has its
 * chunks: later allocation counts then measure only what an operation keeps.
 */
static void warm_up(void)
{
	int virq = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 64, NULL, NULL);

	assert_true(virq > 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 64), 0);
}

static int setup(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = 11 };

	pcibed_init(&pb, &o);
	warm_up();
	vec_maps_base = ik_irq_domain_mapcount(ik_x86_vector_domain());
	plug(NR_SLOTS);
	return 0;
}

static int teardown(void **state)
{
	if (fn)
		ik_pci_device_destroy(fn);
	fn = NULL;
	sim_run_until_idle(M());
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_int_equal(pcibed_fini(&pb), 0);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------------------ */

static struct sim_ims_slot slot(unsigned int n)
{
	struct sim_ims_slot s;

	memset(&s, 0, sizeof(s));
	assert_true(sim_ims_slots_slot(sdev, n, &s));
	return s;
}

struct fire_ctx {
	unsigned int slot;
};

static void fire_slot(void *ctx)
{
	sim_ims_slots_fire(sdev, ((struct fire_ctx *)ctx)->slot);
}

static uint64_t fired_slot(void *ctx)
{
	return slot(((struct fire_ctx *)ctx)->slot).stats.fired;
}

static void line_init(struct ib_line *l, struct fire_ctx *ctx, unsigned int irq,
		      unsigned int hw_slot)
{
	memset(l, 0, sizeof(*l));
	ctx->slot = hw_slot;
	l->m = M();
	l->irq = irq;
	l->fire = fire_slot;
	l->fired = fired_slot;
	l->ctx = ctx;
}

static void fire_and_run(unsigned int n)
{
	sim_ims_slots_fire(sdev, n);
	sim_run_until_idle(M());
}

/* A template that satisfies the IMS contract, for the refusal tests to break. */
static void t_mask(struct ik_irq_data *d)
{
}

static void t_write(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
}

static int t_affinity(struct ik_irq_data *d, const ik_cpumask_t *m, bool f)
{
	return 0;
}

static struct ik_msi_domain_template good_template(void)
{
	struct ik_msi_domain_template t = {
		.name = "TIMS",
		.chip = {
			.name = "TIMS",
			.irq_mask = t_mask,
			.irq_unmask = t_mask,
			.irq_write_msi_msg = t_write,
		},
		.info = {
			.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
				 IK_MSI_FLAG_MASK_SOURCE,
			.bus_token = IK_MSI_BUS_IMS,
			.hwsize = 8,
		},
	};
	return t;
}

/* ---- Tests ----------------------------------------------------------------------- */

/* Each violation of the IMS contract is refused and leaves nothing behind. */
static void test_template_contract(void **state)
{
	struct ik_msi_domain_template t;
	unsigned int devm = ik_devm_count(fn);
	struct ik_device *orphan;

	t = good_template();
	t.info.bus_token = IK_MSI_BUS_DEVICE;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.info.flags &= ~IK_MSI_FLAG_FREE_DESCS;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.info.flags &= ~IK_MSI_FLAG_ALLOC_SIMPLE_DESCS;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.info.flags &= ~IK_MSI_FLAG_MASK_SOURCE;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.chip.irq_unmask = NULL;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.chip.irq_write_msi_msg = NULL;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	t = good_template();
	t.chip.irq_set_affinity = t_affinity;
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EINVAL);
	assert_non_null(strstr(sim_port_last_log(), "affinity"));
	assert_int_equal(ik_ims_create_domain(NULL, &t, 0, NULL), -IK_EINVAL);
	assert_int_equal(ik_ims_create_domain(fn, NULL, 0, NULL), -IK_EINVAL);
	assert_null(ik_ims_domain(fn));
	assert_int_equal(ik_devm_count(fn), devm);

	/* No MSI parent: nothing to build on. */
	assert_int_equal(ik_device_create(NULL, "orphan", &orphan), 0);
	t = good_template();
	assert_int_equal(ik_ims_create_domain(orphan, &t, 0, NULL), -IK_EINVAL);
	assert_null(ik_ims_domain(orphan));
	ik_device_destroy(orphan);

	/* The good one works once; a second domain on the same device does not. */
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), 0);
	assert_non_null(ik_ims_domain(fn));
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(fn)), "TIMS-0000:00:04.0");
	assert_ptr_equal(ik_ims_domain(fn), ik_msi_get_device_domain(fn, IK_MSI_SECONDARY_DOMAIN));
	assert_int_equal(ik_ims_create_domain(fn, &t, 0, NULL), -IK_EEXIST);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 4), -IK_EEXIST);
	ik_ims_remove_domain(fn);
	assert_null(ik_ims_domain(fn));
	/* Only the device's MSI data (device-managed, shared by its domains) stays. */
	assert_int_equal(ik_devm_count(fn), devm + 1);
	/* Removing again is a no-op. */
	ik_ims_remove_domain(fn);
}

/* One at a time at the lowest free slot; exhaustion; a freed slot is reused. */
static void test_alloc_lowest_free_and_reuse(void **state)
{
	struct ik_msi_map maps[4], map;

	assert_int_equal(ik_ims_slots_create_domain(fn, 2, 4), 0);
	for (unsigned int i = 0; i < 4; i++) {
		maps[i] = ik_ims_alloc_irq(fn, NULL, 0);
		assert_int_equal(maps[i].index, (int)i);
		assert_true(maps[i].virq > 0);
		assert_int_equal(ik_msi_get_virq(fn, IK_MSI_SECONDARY_DOMAIN, i), (int)maps[i].virq);
		/* Index i of a domain over slots 2..5 is slot 2 + i, masked. */
		assert_true(slot(2 + i).ctrl & SIM_IMS_CTRL_MASK);
	}
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(map.index, -IK_ENOSPC);
	assert_int_equal(map.virq, 0);

	assert_int_equal(ik_ims_free_irq(fn, maps[1]), 0);
	assert_int_equal(ik_msi_get_virq(fn, IK_MSI_SECONDARY_DOMAIN, 1), -IK_ENOENT);
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(map.index, 1);
	maps[1] = map;

	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(ik_ims_free_irq(fn, maps[i]), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(fn)), 0);
}

static void test_free_errors(void **state)
{
	struct ik_msi_map map, bad;
	struct ib_line l;
	struct fire_ctx ctx;

	assert_int_equal(ik_ims_free_irq(fn, (struct ik_msi_map){ 0, 1 }), -IK_ENODEV);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 4), 0);
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_true(map.index >= 0);

	bad = (struct ik_msi_map){ .index = -IK_ENOSPC, .virq = 0 };
	assert_int_equal(ik_ims_free_irq(fn, bad), -IK_EINVAL);
	bad = (struct ik_msi_map){ .index = map.index, .virq = map.virq + 1 };
	assert_int_equal(ik_ims_free_irq(fn, bad), -IK_EINVAL);
	bad = (struct ik_msi_map){ .index = 3, .virq = map.virq };
	assert_int_equal(ik_ims_free_irq(fn, bad), -IK_ENOENT);

	/* A handler is installed: nothing is freed. */
	line_init(&l, &ctx, map.virq, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(ik_ims_free_irq(fn, map), -IK_EBUSY);
	assert_int_equal(ik_msi_get_virq(fn, IK_MSI_SECONDARY_DOMAIN, 0), (int)map.virq);
	fire_and_run(0);
	assert_int_equal(l.runs, 1);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);

	assert_int_equal(ik_ims_free_irq(fn, map), 0);
	/* Double free: warned about, nothing changes. */
	assert_int_equal(ik_ims_free_irq(fn, map), -IK_ENOENT);
}

/*
 * What the slot holds at each step, and delivery with the PASID on the
 * CPU the affinity asked for.
 */
static void test_slot_lifecycle_and_delivery(void **state)
{
	struct ik_irq_affinity_desc aff = { .is_managed = false };
	struct ik_x86_irq_target t;
	struct ik_msi_map map;
	struct sim_ims_slot s;
	struct ib_line l;
	struct fire_ctx ctx;

	assert_int_equal(ik_ims_slots_create_domain(fn, 0, NR_SLOTS), 0);
	/* A bad PASID cookie is refused by the store and leaves nothing. */
	map = ik_ims_alloc_irq(fn, NULL, IK_IMS_PASID(IK_IMS_PASID_MAX) + 1);
	assert_int_equal(map.index, -IK_EINVAL);
	assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(fn)), 0);

	ib_cpu_mask(&aff.mask, 2);
	map = ik_ims_alloc_irq(fn, &aff, IK_IMS_PASID(0x1234));
	assert_int_equal(map.index, 0);
	s = slot(0);
	assert_int_equal(s.ctrl, SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PASID_EN |
				 (0x1234u << SIM_IMS_CTRL_PASID_SHIFT));

	line_init(&l, &ctx, map.virq, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(ik_x86_irq_target(map.virq, &t), 0);
	assert_int_equal(t.cpu, 2);
	s = slot(0);
	assert_false(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(s.addr_lo, 0xFEE00000u | (ik_x86_cpu_apic_id(2) << 12));
	assert_int_equal(s.data & 0xFF, t.vector);

	for (unsigned int i = 0; i < 3; i++)
		fire_and_run(0);
	assert_int_equal(l.runs, 3);
	assert_int_equal(l.per_cpu[2], 3);
	assert_int_equal(ik_irq_count_cpu(map.virq, 2), 3);
	s = slot(0);
	assert_true(s.last_pasid_en);
	assert_int_equal(s.last_pasid, 0x1234);

	/* Free: shut down (zero and mask), then deactivated; the slot stays masked. */
	assert_int_equal(ib_free_on(M(), 1, &l), 0);
	s = slot(0);
	assert_true(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(s.addr_lo, 0);
	assert_int_equal(s.data, 0);
	/* A fire now is held by the device and reaches nobody. */
	fire_and_run(0);
	assert_int_equal(l.runs, 3);
	assert_true(slot(0).ctrl & SIM_IMS_CTRL_PENDING);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(ik_ims_free_irq(fn, map), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
}

/*
 * Lazy disable: the first fire masks the slot, the second is held pending
 * by the device (visible through introspection); enable replays both.
 */
static void test_lazy_disable_pending_replay(void **state)
{
	const struct ik_msi_irq_info *info;
	struct ib_irq_list list;
	struct ik_msi_map map;
	struct ib_line l;
	struct fire_ctx ctx;

	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 4), 0);
	map = ik_ims_alloc_irq(fn, NULL, 0);
	line_init(&l, &ctx, map.virq, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(ib_disable_on(M(), 0, map.virq), 0);
	/* Lazy: nothing touched the slot yet. */
	assert_false(slot(0).ctrl & SIM_IMS_CTRL_MASK);
	fire_and_run(0);
	assert_int_equal(l.runs, 0);
	assert_true(slot(0).ctrl & SIM_IMS_CTRL_MASK);
	fire_and_run(0);
	assert_true(slot(0).ctrl & SIM_IMS_CTRL_PENDING);
	assert_int_equal(ib_list_irqs(fn, &list), 0);
	info = ib_find_irq(&list, map.virq);
	assert_non_null(info);
	assert_true(info->masked);
	assert_true(info->pending);
	assert_string_equal(info->mode, "ims");

	assert_int_equal(ib_enable_on(M(), 0, map.virq), 0);
	sim_run_until_idle(M());
	/*
	 * The device's held message and the core's replay of the first fire
	 * target the same vector and may coalesce in the IRR; either way a
	 * handler ran after both fires.
	 */
	assert_true(l.runs >= 1 && l.runs <= 2);
	assert_int_equal(l.seen, 2);
	assert_false(slot(0).ctrl & (SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING));
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_ims_free_irq(fn, map), 0);
}

/* Affinity moves while slots fire: the slot is rewritten masked, nothing is lost. */
static void run_moves(uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .interleave_permille = 1000 };
	struct ib_line lines[4];
	struct fire_ctx ctx[4];
	struct ik_msi_map maps[4], fillers[12];
	struct ib_line idle[12];
	struct fire_ctx idle_ctx[12];
	unsigned int i;

	ik_pci_device_destroy(fn);
	fn = NULL;
	assert_int_equal(pcibed_fini(&pb), 0);
	pcibed_init(&pb, &o);
	warm_up();
	plug(NR_SLOTS);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, NR_SLOTS), 0);

	for (i = 0; i < 4; i++) {
		maps[i] = ik_ims_alloc_irq(fn, NULL, IK_IMS_PASID(i));
		assert_int_equal(maps[i].index, (int)i);
	}
	/*
	 * Skew the vector spaces: 2 * cpu idle interrupts on each CPU, so a
	 * line that moves gets a different vector number on each CPU and a
	 * torn message (new destination, old vector) hits the wrong vector.
	 */
	for (unsigned int cpu = 1, k = 0; cpu < 4; cpu++) {
		for (unsigned int j = 0; j < 2 * cpu; j++, k++) {
			struct ik_irq_affinity_desc aff = { .is_managed = false };

			ib_cpu_mask(&aff.mask, cpu);
			fillers[k] = ik_ims_alloc_irq(fn, &aff, 0);
			assert_true(fillers[k].index >= 4);
			line_init(&idle[k], &idle_ctx[k], fillers[k].virq, (unsigned int)fillers[k].index);
			assert_int_equal(ib_request_on(M(), cpu, &idle[k]), 0);
		}
	}
	for (i = 0; i < 4; i++) {
		line_init(&lines[i], &ctx[i], maps[i].virq, i);
		assert_int_equal(ib_request_on(M(), i, &lines[i]), 0);
		ib_chain_start(&lines[i], NR_FIRES, 1 + i);
	}
	for (unsigned int step = 0; step < 200; step++) {
		ik_cpumask_t mask;
		unsigned int which = (unsigned int)(sim_rand(M()) % 4);

		ib_random_mask(M(), &mask);
		assert_int_equal(ib_set_affinity_on(M(), (unsigned int)(sim_rand(M()) % 4),
						    maps[which].virq, &mask), 0);
		if (sim_rand(M()) % 32 == 0)
			sim_run_until_idle(M());
	}
	sim_run_until_idle(M());
	for (i = 0; i < 4; i++) {
		if (!ib_chain_done(&lines[i]))
			fail_msg("seed %llu slot %u: fired %llu, seen %llu, %u left (lost interrupt)",
				 (unsigned long long)seed, i,
				 (unsigned long long)fired_slot(&ctx[i]),
				 (unsigned long long)lines[i].seen, lines[i].left);
		assert_int_equal(fired_slot(&ctx[i]), NR_FIRES);
		assert_int_equal(lines[i].runs, NR_FIRES);
		assert_int_equal(ib_free_on(M(), 0, &lines[i]), 0);
		assert_int_equal(ik_ims_free_irq(fn, maps[i]), 0);
	}
	for (i = 0; i < 12; i++) {
		assert_int_equal(idle[i].runs, 0);
		assert_int_equal(ib_free_on(M(), 0, &idle[i]), 0);
		assert_int_equal(ik_ims_free_irq(fn, fillers[i]), 0);
	}
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
}

static void test_affinity_moves_lossless(void **state)
{
	for (uint64_t seed = 1; seed <= 24; seed++)
		if (ib_seed_selected(seed))
			run_moves(seed);
}

/* Slices: each sub-device has its own domain and index space over its own slots. */
static void test_sub_devices(void **state)
{
	struct ik_device *a, *b, *c;
	struct ik_msi_map ma, mb;
	struct ib_line la, lb;
	struct fire_ctx ca, cb;

	assert_int_equal(ik_ims_slots_add_subdev(fn, "slice-a", 0, 4, &a), 0);
	assert_int_equal(ik_ims_slots_add_subdev(fn, "slice-b", 4, 4, &b), 0);
	/* Overlapping or out-of-range slices are refused, and no child remains. */
	assert_int_equal(ik_ims_slots_add_subdev(fn, "slice-c", 3, 2, &c), -IK_EBUSY);
	assert_int_equal(ik_ims_slots_add_subdev(fn, "slice-c", 12, 8, &c), -IK_ERANGE);
	assert_int_equal(ik_ims_slots_create_domain(fn, 6, 1), -IK_EBUSY);
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(a)), "IMS-slice-a");
	assert_null(ik_ims_domain(fn));

	ma = ik_ims_alloc_irq(a, NULL, 0);
	mb = ik_ims_alloc_irq(b, NULL, 0);
	assert_int_equal(ma.index, 0);
	assert_int_equal(mb.index, 0);
	/* The index spaces are separate: the other device's index 0 is not ours. */
	assert_int_equal(ik_ims_free_irq(a, mb), -IK_EINVAL);

	line_init(&la, &ca, ma.virq, 0);
	line_init(&lb, &cb, mb.virq, 4);
	assert_int_equal(ib_request_on(M(), 0, &la), 0);
	assert_int_equal(ib_request_on(M(), 0, &lb), 0);
	fire_and_run(0);
	fire_and_run(4);
	fire_and_run(4);
	assert_int_equal(la.runs, 1);
	assert_int_equal(lb.runs, 2);

	/* Unplugging slice a frees exactly its interrupt; b keeps working. */
	assert_int_equal(ib_free_on(M(), 0, &la), 0);
	ik_device_destroy(a);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 1);
	fire_and_run(4);
	assert_int_equal(lb.runs, 3);
	/* Its slots are free again: the function itself may take them. */
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 4), 0);
	assert_int_equal(ib_free_on(M(), 0, &lb), 0);
	/* Unbinding the function takes slice b (and its interrupt) with it. */
	assert_int_equal(ik_device_unbind(fn), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
}

/* Interrupts left allocated go with the driver. */
static void test_unbind_releases(void **state)
{
	struct ik_msi_map map;
	int64_t base = sim_alloc_outstanding();

	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 8), 0);
	for (unsigned int i = 0; i < 5; i++) {
		map = ik_ims_alloc_irq(fn, NULL, 0);
		assert_int_equal(map.index, (int)i);
	}
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 5);
	assert_int_equal(ik_device_unbind(fn), 0);
	assert_null(ik_ims_domain(fn));
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_true(sim_alloc_outstanding() < base);
	assert_int_equal(ik_devm_count(fn), 0);
	/* Re-bind and use again. */
	assert_int_equal(ik_device_bind(fn, &ik_ims_slots_driver), 0);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 8), 0);
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(map.index, 0);
}

/* MSI-X vectors and IMS interrupts of one function, side by side, by mode. */
static void test_introspection_msix_and_ims(void **state)
{
	struct ib_irq_list list;
	struct ik_msi_map m0, m1;
	unsigned int nr_msix = 0, nr_ims = 0;
	int n;

	n = ik_pci_alloc_irq_vectors(fn, 2, 2, IK_PCI_IRQ_MSIX, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, NR_SLOTS), 0);
	m0 = ik_ims_alloc_irq(fn, NULL, 0);
	m1 = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(ib_list_irqs(fn, &list), 0);
	assert_int_equal(list.n, 4);
	for (unsigned int i = 0; i < list.n; i++) {
		const struct ik_msi_irq_info *info = &list.info[i];

		if (!strcmp(info->mode, "msix")) {
			assert_int_equal(info->domid, IK_MSI_DEFAULT_DOMAIN);
			assert_int_equal(info->irq, ik_pci_irq_vector(fn, info->index));
			assert_non_null(strstr(info->domain, "MSIX"));
			nr_msix++;
		} else {
			assert_string_equal(info->mode, "ims");
			assert_int_equal(info->domid, IK_MSI_SECONDARY_DOMAIN);
			assert_string_equal(info->domain, "IMS-0000:00:04.0");
			assert_int_equal(info->irq, info->index ? m1.virq : m0.virq);
			assert_true(info->masked);
			assert_false(info->pending);
			assert_false(info->started);
			nr_ims++;
		}
	}
	assert_int_equal(nr_msix, 2);
	assert_int_equal(nr_ims, 2);
	/* Domain order: MSI-X (0) before IMS (1). */
	assert_string_equal(list.info[0].mode, "msix");
	assert_string_equal(list.info[3].mode, "ims");
}

/* Every allocation of the IMS path fails once in turn: nothing is left behind. */
static void test_alloc_failure_injection(void **state)
{
	struct ik_msi_map map;
	unsigned int failures = 0;
	int ret;

	/*
	 * Domain creation.  The device's MSI data (device-managed, shared by
	 * all its domains) is set up first, so that a failure must leave
	 * exactly nothing.
	 */
	unsigned int devm;

	assert_int_equal(ik_msi_setup_device_data(fn), 0);
	devm = ik_devm_count(fn);

	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();

		sim_alloc_fail_nth(nth);
		ret = ik_ims_slots_create_domain(fn, 0, NR_SLOTS);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_null(ik_ims_domain(fn));
		assert_int_equal(ik_devm_count(fn), devm);
		assert_int_equal(sim_alloc_outstanding(), base);
		failures++;
	}
	assert_true(failures >= 3);

	/* One interrupt, warm: the MSI data exists, the number table has chunks. */
	map = ik_ims_alloc_irq(fn, NULL, 0);
	assert_int_equal(ik_ims_free_irq(fn, map), 0);
	failures = 0;
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();

		sim_alloc_fail_nth(nth);
		map = ik_ims_alloc_irq(fn, NULL, IK_IMS_PASID(7));
		sim_alloc_fail_nth(0);
		if (map.index >= 0)
			break;
		assert_int_equal(map.index, -IK_ENOMEM);
		assert_int_equal(map.virq, 0);
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(fn)), 0);
		assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
		failures++;
	}
	assert_true(failures >= 3);
	assert_int_equal(map.index, 0);
	assert_int_equal(ik_ims_free_irq(fn, map), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_template_contract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_lowest_free_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_lifecycle_and_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_disable_pending_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_moves_lossless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sub_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_introspection_msix_and_ims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure_injection, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
