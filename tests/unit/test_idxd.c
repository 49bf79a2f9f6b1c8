// SPDX-License-Identifier: BSD-2-Clause
/*
 * The IDXD-like queue-updated IMS store (include/irqkit/drivers/idxd.h) on
 * the simulated sim_ims_queue function.
 *
 * Covered: a change recorded inside a bus-lock bracket reaches the device
 * only when the bracket's sync unlock runs (and not before, even with the
 * device idle and the scheduler drained); disable masks on the device
 * inside the call (unlazy), enable delivers what the device held; free
 * while an affinity update is still queued (slot masked and zeroed before
 * it returns to the pool, nothing sent afterwards, the slot reused clean);
 * a stalled device: bounded wait, -IK_EIO, logged, nothing left allocated,
 * and recovery; affinity moves from any CPU while queues fire, over seeds
 * and command latencies, with every fire handled and the device finally
 * holding the message of the interrupt's current target; work queues as
 * sub-devices with their own domains over a shared pool and their queue
 * association; CPU offline: lossless after moving away and flushing, and
 * the documented loss without that; under a remapping-like parent a move
 * never touches the store; a thousand interrupts on one queue;
 * allocation failure injection with no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/drivers/idxd.h>
#include <irqkit/irqchip.h>
#include <irqkit/pci.h>

#include "host_port.h"
#include "imsbed.h"
#include "pcibed.h"
#include "sim_ims.h"

#define Q_BDF SIM_PCI_BDF(0, 5, 0)
#define Q_BAR0 0xC0400000ull
#define Q_BAR2 0xC0500000ull
#define NR_QUEUES 4u

static struct pcibed pb;
static struct sim_ims_queue *qdev;
static struct ik_device *fn;
static unsigned int vec_maps_base;

static struct sim_machine *M(void)
{
	return pb.tb.m;
}

static void warm_up(void)
{
	int virq = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 64, NULL, NULL);

	assert_true(virq > 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 64), 0);
}

static void bed_up(uint64_t seed, uint64_t cmd_delay, unsigned int nr_slots)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed };
	struct sim_ims_queue_config c = {
		.nr_slots = nr_slots, .nr_queues = NR_QUEUES, .cmd_delay = cmd_delay,
		.bar0_addr = Q_BAR0, .bar2_addr = Q_BAR2,
	};

	pcibed_init(&pb, &o);
	warm_up();
	vec_maps_base = ik_irq_domain_mapcount(ik_x86_vector_domain());
	qdev = sim_ims_queue_create(pb.bus, Q_BDF, &c);
	assert_non_null(qdev);
	assert_int_equal(ik_pci_device_create(NULL, 0, Q_BDF, &fn), 0);
	ik_device_set_msi_parent(fn, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(fn, &ik_idxd_driver), 0);
	assert_int_equal(ik_idxd_nr_queues(fn), NR_QUEUES);
}

static void bed_down(void)
{
	if (fn)
		ik_pci_device_destroy(fn);
	fn = NULL;
	sim_run_until_idle(M());
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_int_equal(pcibed_fini(&pb), 0);
}

static int setup(void **state)
{
	bed_up(17, 20, 0);
	return 0;
}

static int teardown(void **state)
{
	bed_down();
	return 0;
}

/* ---- Helpers ------------------------------------------------------------------------ */

static struct sim_ims_slot qslot(unsigned int n)
{
	struct sim_ims_slot s;

	memset(&s, 0, sizeof(s));
	assert_true(sim_ims_queue_slot(qdev, n, &s));
	return s;
}

struct qfire {
	unsigned int queue;
	unsigned int slot;
};

static void fire_queue(void *ctx)
{
	sim_ims_queue_fire_queue(qdev, ((struct qfire *)ctx)->queue);
}

static uint64_t fired_slot(void *ctx)
{
	return qslot(((struct qfire *)ctx)->slot).stats.fired;
}

static void line_init(struct ib_line *l, struct qfire *ctx, struct ik_device *wq,
		      struct ik_msi_map map, unsigned int queue)
{
	memset(l, 0, sizeof(*l));
	ctx->queue = queue;
	ctx->slot = (unsigned int)ik_idxd_wq_slot(wq, map.index);
	l->m = M();
	l->irq = map.virq;
	l->fire = fire_queue;
	l->fired = fired_slot;
	l->ctx = ctx;
}

static struct ik_idxd_stats stats(void)
{
	struct ik_idxd_stats st;

	assert_int_equal(ik_idxd_get_stats(fn, &st), 0);
	return st;
}

/* The message the interrupt's current vector-domain target implies. */
static void assert_device_targets(unsigned int slot, unsigned int irq)
{
	struct ik_x86_irq_target t;
	struct sim_ims_slot s = qslot(slot);

	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	assert_int_equal(s.addr_lo, 0xFEE00000u | (ik_x86_cpu_apic_id(t.cpu) << 12));
	assert_int_equal(s.data & 0xFF, t.vector);
}

static struct ik_device *wq_add(unsigned int q)
{
	struct ik_device *wq;

	assert_int_equal(ik_idxd_wq_add(fn, q, &wq), 0);
	return wq;
}

/* ---- Tests ----------------------------------------------------------------------------- */

/*
 * The chip only records; the bracket's sync unlock writes.  Driven through
 * the chip's own callbacks, the way the core brackets a configuration
 * change, with the scheduler drained in the middle.
 */
static void test_update_visible_only_after_sync_unlock(void **state)
{
	struct ik_device *wq = wq_add(0);
	struct ik_msi_map map = ik_idxd_wq_alloc_irq(wq, NULL, IK_IDXD_PASID(0x42));
	const struct ik_msi_msg other = { 0xFEE00000u, 0, 0x4077 };
	struct ik_irq_data *d;
	struct ik_irq_desc *desc;
	struct sim_ims_slot before, s;
	struct ib_line l;
	struct qfire ctx;
	ik_irqflags_t flags;
	unsigned int slot;

	assert_int_equal(map.index, 0);
	slot = (unsigned int)ik_idxd_wq_slot(wq, 0);
	/* Allocation returned with the slot set up on the device. */
	s = qslot(slot);
	assert_int_equal(s.ctrl, SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PASID_EN |
				 (0x42u << SIM_IMS_CTRL_PASID_SHIFT));
	line_init(&l, &ctx, wq, map, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	/* request_irq's bracket wrote the message and unmasked, before returning. */
	assert_device_targets(slot, map.virq);
	assert_false(qslot(slot).ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(sim_ims_queue_outstanding(qdev), 0);

	d = ik_irq_get_irq_data(map.virq);
	desc = ik_irq_to_desc(map.virq);
	before = qslot(slot);
	d->chip->irq_bus_lock(d);
	flags = ik_irq_desc_lock(desc);
	d->chip->irq_write_msi_msg(d, &other);
	d->chip->irq_mask(d);
	ik_irq_desc_unlock(desc, flags);
	sim_run_until_idle(M());
	/* Recorded, not written: the device is idle and holds the old state. */
	s = qslot(slot);
	assert_int_equal(s.addr_lo, before.addr_lo);
	assert_int_equal(s.data, before.data);
	assert_false(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(sim_ims_queue_outstanding(qdev), 0);
	d->chip->irq_bus_sync_unlock(d);
	/* Written and completed when sync unlock returns. */
	s = qslot(slot);
	assert_int_equal(s.data, 0x4077);
	assert_true(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(sim_ims_queue_outstanding(qdev), 0);

	/* Put the real message back the same way. */
	d->chip->irq_bus_lock(d);
	flags = ik_irq_desc_lock(desc);
	ik_msi_domain_write_msg(d);
	d->chip->irq_unmask(d);
	ik_irq_desc_unlock(desc, flags);
	d->chip->irq_bus_sync_unlock(d);
	assert_device_targets(slot, map.virq);
	ib_chain_start(&l, 5, 1);
	sim_run_until_idle(M());
	assert_true(ib_chain_done(&l));
	assert_int_equal(l.runs, 5);
	assert_int_equal(stats().records_outside, 0);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
}

/* Unlazy disable: the slot is masked on the device when ik_disable_irq() returns. */
static void test_disable_masks_on_device(void **state)
{
	struct ib_irq_list list;
	struct ik_device *wq = wq_add(1);
	struct ik_msi_map map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	struct ib_line l;
	struct qfire ctx;
	unsigned int slot;

	assert_true(map.index >= 0);
	line_init(&l, &ctx, wq, map, 1);
	slot = ctx.slot;
	assert_int_equal(ib_request_on(M(), 2, &l), 0);
	assert_int_equal(ib_disable_on(M(), 2, map.virq), 0);
	assert_true(qslot(slot).ctrl & SIM_IMS_CTRL_MASK);
	/* The device holds the fire; nothing reaches the CPU. */
	sim_ims_queue_fire_queue(qdev, 1);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 0);
	assert_true(qslot(slot).ctrl & SIM_IMS_CTRL_PENDING);
	assert_int_equal(qslot(slot).stats.sent, 0);
	/* Introspection reads the committed state back through the query window. */
	assert_int_equal(ib_list_irqs(wq, &list), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.info[0].mode, "ims");
	assert_string_equal(list.info[0].domain, "IMS-0000:00:05.0.wq1");
	assert_true(list.info[0].masked);
	assert_true(list.info[0].pending);
	assert_int_equal(ib_enable_on(M(), 2, map.virq), 0);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 1);
	assert_int_equal(l.seen, 1);
	assert_false(qslot(slot).ctrl & (SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PENDING));
	assert_int_equal(stats().records_outside, 0);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
}

struct free_call {
	struct ib_line *l;
	ik_cpumask_t mask;
	int set_ret;
	int free_ret;
};

/* Affinity change (recorded, deferred to the work item), then free at once. */
static void move_then_free_fn(void *arg)
{
	struct free_call *c = arg;

	c->set_ret = ik_irq_set_affinity(c->l->irq, &c->mask);
	c->free_ret = ik_free_irq(c->l->irq, c->l);
}

/*
 * Scenario 21: free while an update for the slot is queued.  The free's
 * brackets write the masked, zero state; the late work item finds nothing;
 * the slot is back in the pool only then, and comes back clean.
 */
static void run_free_pending(uint64_t seed, uint64_t cmd_delay)
{
	struct ik_device *wq;
	struct ik_msi_map map, again;
	struct ib_line l;
	struct qfire ctx;
	struct free_call call;
	struct ik_x86_irq_target t;
	struct ik_idxd_stats st0, st1;
	struct sim_ims_slot s;
	unsigned int slot;

	bed_up(seed, cmd_delay, 0);
	wq = wq_add(0);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	line_init(&l, &ctx, wq, map, 0);
	slot = ctx.slot;
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(ik_x86_irq_target(map.virq, &t), 0);
	ib_chain_start(&l, 20, 1);
	sim_run_until_idle(M());
	assert_true(ib_chain_done(&l));

	st0 = stats();
	memset(&call, 0, sizeof(call));
	call.l = &l;
	ib_cpu_mask(&call.mask, (t.cpu + 1) % 4);
	/* The device keeps firing meanwhile. */
	for (unsigned int i = 0; i < 3; i++)
		sim_schedule(M(), 1 + sim_rand(M()) % 40, fire_queue, &ctx);
	/* On the interrupt's own CPU, so the move itself is not deferred. */
	sim_run_on_cpu(M(), t.cpu, move_then_free_fn, &call);
	assert_int_equal(call.set_ret, 0);
	assert_int_equal(call.free_ret, 0);
	st1 = stats();
	assert_true(st1.records_outside > st0.records_outside);
	/* The free's brackets left the slot masked with the zero message. */
	s = qslot(slot);
	assert_true(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(s.addr_lo, 0);
	assert_int_equal(s.data, 0);
	assert_int_equal(sim_ims_queue_outstanding(qdev), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);

	/* Late work and late fires change nothing: no message is sent any more. */
	sim_run_until_idle(M());
	s = qslot(slot);
	assert_true(s.ctrl & SIM_IMS_CTRL_MASK);
	assert_int_equal(s.addr_lo, 0);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);

	/* The slot is reused, zeroed: no pending fire of the old owner survives. */
	again = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(ik_idxd_wq_slot(wq, again.index), (int)slot);
	s = qslot(slot);
	assert_int_equal(s.ctrl, SIM_IMS_CTRL_MASK);
	assert_int_equal(ik_idxd_wq_free_irq(wq, again), 0);
	bed_down();
}

static void test_free_while_update_pending(void **state)
{
	static const uint64_t delays[] = { 0, 3, 50, 400 };

	bed_down();
	for (uint64_t seed = 1; seed <= 16; seed++)
		if (ib_seed_selected(seed))
			run_free_pending(seed, delays[seed % 4]);
	bed_up(17, 20, 0);
}

/* A stalled device: bounded waits, -IK_EIO, nothing allocated, and recovery. */
static void test_stalled_device_times_out(void **state)
{
	struct ik_device *wq = wq_add(0);
	struct ik_msi_map map;
	int64_t base;

	/* One allocation first: the MSI data and number table exist. */
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
	base = sim_alloc_outstanding();

	assert_int_equal(ik_idxd_set_timeout_ns(fn, 20000), 0);
	sim_ims_queue_pause(qdev, true);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(map.index, -IK_EIO);
	assert_int_equal(map.virq, 0);
	assert_non_null(strstr(sim_port_last_log(), "not completed"));
	assert_int_equal(stats().timeouts, 1);
	assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(wq)), 0);
	assert_int_equal(sim_alloc_outstanding(), base);
	/* The commands are still queued in the device. */
	assert_true(sim_ims_queue_outstanding(qdev) > 0);

	sim_ims_queue_pause(qdev, false);
	sim_run_until_idle(M());
	assert_int_equal(sim_ims_queue_outstanding(qdev), 0);
	assert_int_equal(ik_idxd_set_timeout_ns(fn, 0), 0);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(map.index, 0);
	assert_int_equal(ik_idxd_wq_slot(wq, 0), 0);
	assert_int_equal(ik_idxd_flush(fn), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
}

/*
 * Affinity moves from any CPU while the queues fire.  Nothing is lost, the
 * deferred path is taken, and once idle the device holds the message of
 * each interrupt's current target.
 */
static void run_moves(uint64_t seed, uint64_t cmd_delay)
{
	struct ik_device *wq[NR_QUEUES];
	struct ik_msi_map maps[NR_QUEUES];
	struct ib_line lines[NR_QUEUES];
	struct qfire ctx[NR_QUEUES];
	struct ik_idxd_stats st;
	unsigned int i;

	bed_up(seed, cmd_delay, 256);
	for (i = 0; i < NR_QUEUES; i++) {
		wq[i] = wq_add(i);
		maps[i] = ik_idxd_wq_alloc_irq(wq[i], NULL, IK_IDXD_PASID(i + 1));
		assert_int_equal(maps[i].index, 0);
		line_init(&lines[i], &ctx[i], wq[i], maps[i], i);
		assert_int_equal(ib_request_on(M(), i, &lines[i]), 0);
		ib_chain_start(&lines[i], 150, 1 + i);
	}
	for (unsigned int step = 0; step < 100; step++) {
		ik_cpumask_t mask;
		unsigned int which = (unsigned int)(sim_rand(M()) % NR_QUEUES);

		ib_random_mask(M(), &mask);
		assert_int_equal(ib_set_affinity_on(M(), (unsigned int)(sim_rand(M()) % 4),
						    maps[which].virq, &mask), 0);
		if (sim_rand(M()) % 8 == 0)
			sim_run_until_idle(M());
	}
	sim_run_until_idle(M());
	st = stats();
	assert_true(st.records_outside > 0);
	assert_true(st.work_flushes > 0);
	for (i = 0; i < NR_QUEUES; i++) {
		if (!ib_chain_done(&lines[i]))
			fail_msg("seed %llu queue %u: fired %llu, seen %llu, %u left (lost interrupt)",
				 (unsigned long long)seed, i,
				 (unsigned long long)fired_slot(&ctx[i]),
				 (unsigned long long)lines[i].seen, lines[i].left);
		assert_int_equal(lines[i].runs, 150);
		assert_device_targets(ctx[i].slot, maps[i].virq);
		assert_true(qslot(ctx[i].slot).last_pasid == i + 1);
	}
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	for (i = 0; i < NR_QUEUES; i++) {
		assert_int_equal(ib_free_on(M(), 0, &lines[i]), 0);
		assert_int_equal(ik_idxd_wq_free_irq(wq[i], maps[i]), 0);
	}
	bed_down();
}

static void test_affinity_moves_lossless(void **state)
{
	static const uint64_t delays[] = { 0, 1, 7, 60, 300 };

	bed_down();
	for (uint64_t seed = 1; seed <= 30; seed++)
		if (ib_seed_selected(seed))
			run_moves(seed, delays[seed % 5]);
	bed_up(17, 20, 0);
}

/*
 * CPU offline without remapping releases the dying CPU's vectors before a
 * deferred store update could land (docs/architecture.md).  The procedure
 * the driver documents -- move the interrupts away, ik_idxd_flush(), then
 * offline -- loses nothing while the queues keep firing.
 */
static void run_offline(uint64_t seed, bool flush)
{
	unsigned int stalled = 0;
	struct ik_device *wq[NR_QUEUES];
	struct ik_msi_map maps[NR_QUEUES];
	struct ib_line lines[NR_QUEUES];
	struct qfire ctx[NR_QUEUES];
	struct ik_irq_affinity_desc aff = { .is_managed = false };
	ik_cpumask_t away;
	unsigned int i;

	bed_up(seed, seed % 3 ? 5 : 0, 64);
	ib_cpu_mask(&aff.mask, 1);
	for (i = 0; i < NR_QUEUES; i++) {
		wq[i] = wq_add(i);
		maps[i] = ik_idxd_wq_alloc_irq(wq[i], &aff, 0);
		line_init(&lines[i], &ctx[i], wq[i], maps[i], i);
		assert_int_equal(ib_request_on(M(), 0, &lines[i]), 0);
		ib_chain_start(&lines[i], 120, 1 + i);
	}
	for (unsigned int round = 0; round < 3; round++) {
		for (unsigned int k = 0; k < 10; k++)
			sim_point(M());
		ik_cpumask_clear(&away);
		ik_cpumask_set_cpu(2, &away);
		ik_cpumask_set_cpu(3, &away);
		if (flush) {
			for (i = 0; i < NR_QUEUES; i++)
				assert_int_equal(ib_set_affinity_on(M(), 1, maps[i].virq, &away), 0);
			assert_int_equal(ik_idxd_flush(fn), 0);
			for (i = 0; i < NR_QUEUES; i++)
				assert_device_targets(ctx[i].slot, maps[i].virq);
		}
		assert_int_equal(testbed_cpu_offline(&pb.tb, 1), 0);
		for (unsigned int k = 0; k < 30; k++)
			sim_point(M());
		assert_int_equal(testbed_cpu_online(&pb.tb, 1), 0);
		for (i = 0; i < NR_QUEUES; i++)
			assert_int_equal(ib_set_affinity_on(M(), 0, maps[i].virq, &aff.mask), 0);
	}
	sim_run_until_idle(M());
	for (i = 0; i < NR_QUEUES; i++) {
		if (!ib_chain_done(&lines[i])) {
			if (flush)
				fail_msg("seed %llu queue %u: fired %llu, seen %llu, %u left (lost)",
					 (unsigned long long)seed, i,
					 (unsigned long long)fired_slot(&ctx[i]),
					 (unsigned long long)lines[i].seen, lines[i].left);
			stalled++;
		}
		assert_int_equal(ib_free_on(M(), 0, &lines[i]), 0);
		assert_int_equal(ik_idxd_wq_free_irq(wq[i], maps[i]), 0);
	}
	if (flush) {
		assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
		assert_int_equal(sim_stat(M(), SIM_STAT_OFFLINE_DISCARDED), 0);
	} else {
		/*
		 * The known limitation, kept visible: the offline path released
		 * the dying CPU's vectors while the device's update was still
		 * queued, and a message went to the dead CPU.
		 */
		assert_true(stalled > 0);
		assert_true(sim_stat(M(), SIM_STAT_MSI_NO_DEST) +
			    sim_stat(M(), SIM_STAT_OFFLINE_DISCARDED) > 0);
	}
	assert_int_equal(ik_x86_matrix_check(), 0);
	bed_down();
}

static void test_cpu_offline_after_move_and_flush(void **state)
{
	bed_down();
	for (uint64_t seed = 1; seed <= 12; seed++)
		if (ib_seed_selected(seed))
			run_offline(seed, true);
	bed_up(17, 20, 0);
}

/*
 * Without that procedure the documented limitation shows: the update
 * deferred to the work item lands after the dying CPU's vectors were
 * released.  (If this starts passing, the limitation is gone: update
 * docs/architecture.md and turn this into a lossless test.)
 */
static void test_cpu_offline_unflushed_loses_known_limitation(void **state)
{
	bed_down();
	for (uint64_t seed = 1; seed <= 4; seed++)
		if (ib_seed_selected(seed))
			run_offline(seed, false);
	bed_up(17, 20, 0);
}

/*
 * Under a remapping-like parent (moves answer IK_IRQ_SET_MASK_OK_DONE) an
 * affinity change never rewrites the store's message.
 */
static void test_remapped_parent_never_rewrites(void **state)
{
	struct ik_irq_domain *remap = ib_remap_parent_create();
	struct ik_idxd_stats st0, st1;
	struct ik_device *wq;
	struct ik_msi_map map;
	struct sim_ims_slot before, after;
	struct ib_line l;
	struct qfire ctx;

	assert_non_null(remap);
	assert_int_equal(ik_device_unbind(fn), 0);
	ik_device_set_msi_parent(fn, remap);
	assert_int_equal(ik_device_bind(fn, &ik_idxd_driver), 0);
	wq = wq_add(0);
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(wq)), "FIR-IMS-0000:00:05.0.wq0");
	assert_int_equal(ik_x86_msi_domain_protocol(ik_ims_domain(wq)), IK_X86_MSI_NONE);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	line_init(&l, &ctx, wq, map, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	before = qslot(ctx.slot);
	st0 = stats();
	for (unsigned int i = 0; i < 20; i++) {
		ik_cpumask_t mask;

		ib_random_mask(M(), &mask);
		assert_int_equal(ib_set_affinity_on(M(), i % 4, map.virq, &mask), 0);
		sim_ims_queue_fire_queue(qdev, 0);
		sim_run_until_idle(M());
	}
	st1 = stats();
	after = qslot(ctx.slot);
	/*
	 * The message was never written again.  (A move that had to wait for
	 * the next interrupt is done there with the line masked around it:
	 * those masks are recorded and flushed like any other.)
	 */
	assert_true(st1.records - st0.records <= 2 * (st1.records_outside - st0.records_outside));
	assert_int_equal(after.addr_lo, before.addr_lo);
	assert_int_equal(after.data, before.data);
	assert_int_equal(l.seen, 20);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
	ik_pci_device_destroy(fn);
	fn = NULL;
	assert_int_equal(ik_irq_domain_remove(remap), 0);
}

/* Work queues: own domains over one pool, queue association, replug. */
static void test_work_queue_devices(void **state)
{
	struct ik_device *w0 = wq_add(0), *w1 = wq_add(2), *dup;
	struct ik_msi_map a0, a1, b0;
	struct ib_line la, lb;
	struct qfire ca, cb;
	int sa0, sa1, sb0;

	assert_int_equal(ik_idxd_wq_add(fn, 2, &dup), -IK_EBUSY);
	assert_int_equal(ik_idxd_wq_add(fn, NR_QUEUES, &dup), -IK_ERANGE);
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(w0)), "IMS-0000:00:05.0.wq0");
	assert_string_equal(ik_irq_domain_name(ik_ims_domain(w1)), "IMS-0000:00:05.0.wq2");

	a0 = ik_idxd_wq_alloc_irq(w0, NULL, 0);
	b0 = ik_idxd_wq_alloc_irq(w1, NULL, 0);
	a1 = ik_idxd_wq_alloc_irq(w0, NULL, 0);
	assert_int_equal(a0.index, 0);
	assert_int_equal(b0.index, 0);
	assert_int_equal(a1.index, 1);
	sa0 = ik_idxd_wq_slot(w0, 0);
	sb0 = ik_idxd_wq_slot(w1, 0);
	sa1 = ik_idxd_wq_slot(w0, 1);
	/* One pool: distinct slots. */
	assert_true(sa0 >= 0 && sb0 >= 0 && sa1 >= 0);
	assert_true(sa0 != sb0 && sa0 != sa1 && sb0 != sa1);
	/* A queue signals through its first interrupt. */
	line_init(&la, &ca, w0, a0, 0);
	line_init(&lb, &cb, w1, b0, 2);
	assert_int_equal(ib_request_on(M(), 1, &la), 0);
	assert_int_equal(ib_request_on(M(), 1, &lb), 0);
	/* (Idle in between: two messages to one vector may coalesce in the IRR.) */
	sim_ims_queue_fire_queue(qdev, 0);
	sim_ims_queue_fire_queue(qdev, 2);
	sim_run_until_idle(M());
	sim_ims_queue_fire_queue(qdev, 2);
	sim_run_until_idle(M());
	assert_int_equal(la.runs, 1);
	assert_int_equal(lb.runs, 2);
	/* Freeing the associated interrupt with its handler still installed changes nothing. */
	assert_int_equal(ik_idxd_wq_free_irq(w0, a0), -IK_EBUSY);
	sim_ims_queue_fire_queue(qdev, 0);
	sim_run_until_idle(M());
	assert_int_equal(la.runs, 2);

	/* Unplug wq0: its two interrupts go; wq2 keeps working; wq0 can come back. */
	assert_int_equal(ib_free_on(M(), 1, &la), 0);
	ik_device_destroy(w0);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 1);
	sim_ims_queue_fire_queue(qdev, 0);      /* queue 0 signals nobody now */
	sim_ims_queue_fire_queue(qdev, 2);
	sim_run_until_idle(M());
	assert_int_equal(lb.runs, 3);
	w0 = wq_add(0);
	a0 = ik_idxd_wq_alloc_irq(w0, NULL, 0);
	assert_int_equal(a0.index, 0);
	assert_int_equal(ib_free_on(M(), 1, &lb), 0);
	/* Unbinding the function takes the work queues and their interrupts. */
	assert_int_equal(ik_device_unbind(fn), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
}

/* Thousands of slots: a thousand interrupts on one queue, on demand, then freed. */
static void test_thousand_interrupts(void **state)
{
	enum { N = 1000 };
	static struct ik_msi_map maps[N];
	struct ik_device *wq = wq_add(3);
	struct ik_idxd_stats st0 = stats(), st1;

	for (unsigned int i = 0; i < N; i++) {
		maps[i] = ik_idxd_wq_alloc_irq(wq, NULL, IK_IDXD_PASID(i));
		assert_int_equal(maps[i].index, (int)i);
	}
	st1 = stats();
	/* Each slot is set up with one batch: ZERO, MASK-free WRITE of the PASID. */
	assert_int_equal(st1.batches - st0.batches, N);
	assert_true(st1.commands - st0.commands <= 2 * N);
	for (unsigned int i = 0; i < N; i += 97)
		assert_int_equal(qslot((unsigned int)ik_idxd_wq_slot(wq, (int)i)).ctrl,
				 SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PASID_EN |
					 (i << SIM_IMS_CTRL_PASID_SHIFT));
	for (unsigned int i = 0; i < N; i++)
		assert_int_equal(ik_idxd_wq_free_irq(wq, maps[i]), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(wq)), 0);
}

static void test_alloc_failure_injection(void **state)
{
	struct ik_device *wq = wq_add(0);
	struct ik_msi_map map;
	unsigned int failures = 0;

	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();

		sim_alloc_fail_nth(nth);
		map = ik_idxd_wq_alloc_irq(wq, NULL, IK_IDXD_PASID(9));
		sim_alloc_fail_nth(0);
		if (map.index >= 0)
			break;
		assert_int_equal(map.index, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(ik_irq_domain_mapcount(ik_ims_domain(wq)), 0);
		assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
		failures++;
	}
	assert_true(failures >= 3);
	/* The slot pool lost nothing: the lowest slot is handed out again. */
	assert_int_equal(ik_idxd_wq_slot(wq, map.index), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);

	/* Work queue creation. */
	ik_device_destroy(wq);
	failures = 0;
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_idxd_wq_add(fn, 1, &wq);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), base);
		failures++;
	}
	assert_true(failures >= 3);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_true(map.index >= 0);
}

static void test_bad_arguments(void **state)
{
	struct ik_device *wq = wq_add(0);
	struct ik_msi_map map;

	assert_int_equal(ik_idxd_wq_alloc_irq(fn, NULL, 0).index, -IK_EINVAL);
	assert_int_equal(ik_idxd_wq_alloc_irq(NULL, NULL, 0).index, -IK_EINVAL);
	map = ik_idxd_wq_alloc_irq(wq, NULL, IK_IDXD_PASID(IK_IDXD_PASID_MAX) + 1);
	assert_int_equal(map.index, -IK_EINVAL);
	assert_int_equal(ik_idxd_wq_free_irq(fn, map), -IK_EINVAL);
	assert_int_equal(ik_idxd_wq_add(wq, 0, &wq), -IK_EINVAL);
	assert_int_equal(ik_idxd_flush(wq), -IK_EINVAL);
	assert_int_equal(ik_idxd_get_stats(wq, NULL), -IK_EINVAL);
	assert_int_equal(ik_idxd_wq_slot(wq, 0), -IK_ENOENT);
	map = ik_idxd_wq_alloc_irq(wq, NULL, 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), 0);
	assert_int_equal(ik_idxd_wq_free_irq(wq, map), -IK_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_update_visible_only_after_sync_unlock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disable_masks_on_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_while_update_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_device_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_moves_lossless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_offline_after_move_and_flush, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cpu_offline_unflushed_loses_known_limitation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_remapped_parent_never_rewrites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_work_queue_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thousand_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
