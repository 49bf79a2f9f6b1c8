// SPDX-License-Identifier: BSD-2-Clause
/*
 * Managed interrupts and CPU hotplug on PCI functions (issue 4 item 6),
 * each test run twice: with the remapping unit (device -> IR -> vector)
 * and without it (device -> vector, x86-msi shim):
 *  - ik_pci_alloc_irq_vectors(IK_PCI_IRQ_AFFINITY) with pre/post vectors:
 *    those stay unmanaged with the default affinity, the rest are spread
 *    over every CPU, managed, with a reservation on every CPU of their
 *    mask and delivery on a CPU of it;
 *  - the offline admission check counts unmanaged vectors only: refused
 *    with -IK_ENOSPC (nothing changed) when the other CPUs cannot absorb
 *    them, allowed when they can even though managed vectors would not fit;
 *  - a managed interrupt whose mask loses its last online CPU is shut
 *    down and restarted when the CPU returns, its disable depth kept
 *    (it is started for real by the last enable) and the event that
 *    arrived while disabled delivered after enable, on its CPU;
 *  - requested (ik_irq_get_affinity) and effective affinity are reported
 *    separately and stay so across a migration;
 *  - the old CPU of a move in progress going offline leaks no vector.
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
#include <irqkit/x86_ir.h>

#include "host_port.h"
#include "pcibed.h"
#include "sim_vtd.h"

#define RAM_SIZE (4ull << 20)
#define IR_MEM 0x100000ull
#define IR_ENTRIES 1024u
#define NCPUS 4u
#define NVEC 10u

struct fx {
	struct pcibed pb;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	struct pb_vec v[NVEC];
	unsigned int nvec;
	bool ir;
};

static void fx_up(struct fx *f, bool ir, unsigned int ncpus, uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = ncpus, .seed = seed, .ram_size = RAM_SIZE };

	memset(f, 0, sizeof(*f));
	f->ir = ir;
	pcibed_init(&f->pb, &o);
	if (ir) {
		struct sim_vtd_config vc = { .qi_delay = 2 };
		struct ik_x86_ir_config c = { .unit_base = SIM_VTD_DEFAULT_BASE, .mem_phys = IR_MEM,
					      .mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
					      .nr_entries = IR_ENTRIES };

		assert_non_null(sim_vtd_create(f->pb.tb.m, &vc));
		assert_int_equal(ik_x86_ir_init(&c), 0);
	}
	{
		struct sim_pci_dev_config c = pcibed_std_config();

		f->sd = pcibed_plug(&f->pb, PB_BDF, &c);
	}
	f->dev = pcibed_device(&f->pb, PB_BDF);
	ik_device_set_msi_parent(f->dev, ik_x86_default_msi_parent());
	assert_true(ik_x86_ir_device_isolated(f->dev) == ir);
}

/* MSI-X with spreading; every vector requested (activated, counted). */
static void fx_alloc(struct fx *f, unsigned int n, unsigned int pre, unsigned int post)
{
	struct ik_irq_affinity_spread sp = { .pre_vectors = pre, .post_vectors = post };

	assert_int_equal(ik_pci_alloc_irq_vectors(f->dev, n, n, IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY,
						  &sp), (int)n);
	f->nvec = n;
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(pb_request(&f->v[i], (unsigned int)ik_pci_irq_vector(f->dev, i)), 0);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	for (unsigned int i = 0; i < f->nvec; i++)
		assert_int_equal(pb_free(&f->v[i]), 0);
	ik_pci_free_irq_vectors(f->dev);
	ik_pci_device_destroy(f->dev);
	assert_int_equal(ik_x86_matrix_check(), 0);
	if (f->ir)
		assert_int_equal(ik_x86_ir_exit(), 0);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static struct ik_irq_matrix_cpu_stats cpu_stats(unsigned int cpu)
{
	struct ik_irq_matrix_cpu_stats st;

	assert_int_equal(ik_x86_matrix_cpu_stats(cpu, &st), 0);
	return st;
}

static ik_cpumask_t requested(unsigned int irq)
{
	ik_cpumask_t m;

	assert_int_equal(ik_irq_get_affinity(irq, &m), 0);
	return m;
}

static ik_cpumask_t effective(unsigned int irq)
{
	ik_cpumask_t m;

	assert_int_equal(ik_irq_get_effective_affinity(irq, &m), 0);
	return m;
}

/* Raise entry @i and check where (and whether) its handler ran. */
static void fire_expect(struct fx *f, unsigned int i, uint64_t count)
{
	sim_pci_dev_raise(f->sd, i);
	sim_run_until_idle(f->pb.tb.m);
	assert_int_equal(f->v[i].count, count);
}

struct call {
	unsigned int irq;
	int ret;
};

static void disable_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_disable_irq(c->irq);
}

static void enable_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_enable_irq(c->irq);
}

static void set_affinity_fn(void *arg)
{
	struct call *c = arg;
	ik_cpumask_t m;

	ik_cpumask_clear(&m);
	ik_cpumask_set_cpu(2, &m);
	ik_cpumask_set_cpu(3, &m);
	c->ret = ik_irq_set_affinity(c->irq, &m);
}

/*
 * 10 vectors, 1 pre and 1 post: vectors 0 and 9 unmanaged with the default
 * (all CPUs) affinity, 1..8 managed, 2 per CPU, each with a one-CPU mask,
 * a managed reservation on that CPU, effective = requested, delivered
 * there.  Catches: pre/post spread or managed, a CPU left out of the
 * spread, reservations missing or on the wrong CPU, delivery elsewhere.
 */
static void test_spread_pre_post(void **state)
{
	bool ir = *(bool *)*state;
	unsigned int managed_before[NCPUS], per_cpu[NCPUS] = { 0 };
	struct fx f;

	fx_up(&f, ir, NCPUS, 11);
	for (unsigned int cpu = 0; cpu < NCPUS; cpu++)
		managed_before[cpu] = cpu_stats(cpu).managed;
	fx_alloc(&f, NVEC, 1, 1);
	for (unsigned int i = 0; i < NVEC; i++) {
		unsigned int irq = f.v[i].irq;
		struct ik_x86_irq_target t;
		ik_cpumask_t req = requested(irq), eff = effective(irq);

		assert_int_equal(ik_x86_irq_target(irq, &t), 0);
		assert_int_equal(ik_cpumask_weight(&eff), 1);
		assert_true(ik_cpumask_test_cpu(t.cpu, &eff));
		assert_true(ik_cpumask_test_cpu(t.cpu, &req));
		if (i == 0 || i == NVEC - 1) {
			ik_cpumask_t all;

			ik_cpumask_setall(&all, NCPUS);
			assert_false(t.is_managed);
			assert_true(ik_cpumask_equal(&req, &all));
		} else {
			unsigned int cpu;

			assert_true(t.is_managed);
			assert_int_equal(ik_cpumask_weight(&req), 1);
			ik_for_each_cpu(cpu, &req)
				per_cpu[cpu]++;
			/* Drivers cannot move them. */
			assert_int_equal(ik_irq_set_affinity(irq, &req), -IK_EPERM);
		}
		fire_expect(&f, i, 1);
		assert_int_equal(f.v[i].last_cpu, t.cpu);
	}
	for (unsigned int cpu = 0; cpu < NCPUS; cpu++) {
		struct ik_irq_matrix_cpu_stats st = cpu_stats(cpu);

		assert_int_equal(per_cpu[cpu], (NVEC - 2) / NCPUS);
		assert_int_equal(st.managed - managed_before[cpu], per_cpu[cpu]);
		assert_int_equal(st.managed_allocated, per_cpu[cpu]);
	}
	fx_down(&f);
}

/*
 * Two CPUs.  CPU 1 holds managed vectors (spread, mask {1}) and unmanaged
 * ones pinned to it; CPU 0 is filled until exactly `room` vectors are
 * left.  One unmanaged vector too many: offline refused with -IK_ENOSPC,
 * CPU 1 still online with everything in place.  One fewer: allowed -- the
 * managed vectors, which would not fit, do not count: they are shut down.
 */
static void test_offline_admission(void **state)
{
	bool ir = *(bool *)*state;
	struct ik_irq_domain *vd;
	struct ik_irq_affinity_desc aff[256];
	struct ik_irq_info info;
	struct fx f;
	unsigned int room, fill, on1, before1;
	int first0, first1, extra;

	fx_up(&f, ir, 2, 12);
	vd = ik_x86_vector_domain();
	fx_alloc(&f, 6, 1, 1);                  /* 4 managed: 2 on each CPU */
	for (unsigned int i = 0; i < 256; i++) {
		aff[i].is_managed = false;
		ik_cpumask_clear(&aff[i].mask);
	}
	/* Leave 20 free on CPU 0. */
	fill = cpu_stats(0).available - 20;
	for (unsigned int i = 0; i < fill; i++)
		ik_cpumask_set_cpu(0, &aff[i].mask);
	first0 = ik_irq_domain_alloc_irqs(vd, fill, aff, NULL);
	assert_true(first0 > 0);
	for (unsigned int i = 0; i < fill; i++)
		assert_int_equal(ik_request_irq((unsigned int)first0 + i, pb_handler, 0, "fill",
						&f.v[0]), 0);
	room = cpu_stats(0).available;
	assert_int_equal(room, 20);
	/* CPU 1: its unmanaged vectors from the device (pre/post, maybe) + pinned ones. */
	before1 = cpu_stats(1).allocated;
	assert_true(before1 <= room);
	on1 = room - before1 + 1;
	for (unsigned int i = 0; i < on1; i++) {
		ik_cpumask_clear(&aff[i].mask);
		ik_cpumask_set_cpu(1, &aff[i].mask);
	}
	first1 = ik_irq_domain_alloc_irqs(vd, on1 - 1, aff, NULL);
	assert_true(first1 > 0);
	for (unsigned int i = 0; i < on1 - 1; i++)
		assert_int_equal(ik_request_irq((unsigned int)first1 + i, pb_handler, 0, "pinned",
						&f.v[0]), 0);
	extra = ik_irq_domain_alloc_irqs(vd, 1, aff, NULL);
	assert_true(extra > 0);
	assert_int_equal(ik_request_irq((unsigned int)extra, pb_handler, 0, "pinned", &f.v[0]), 0);
	assert_int_equal(cpu_stats(1).allocated, room + 1);
	assert_int_equal(cpu_stats(1).managed_allocated, 2);

	assert_int_equal(testbed_cpu_offline(&f.pb.tb, 1), -IK_ENOSPC);
	assert_true(ik_cpu_is_online(1));
	assert_int_equal(cpu_stats(1).allocated, room + 1);
	assert_int_equal(cpu_stats(1).managed_allocated, 2);
	assert_int_equal(cpu_stats(0).available, room);
	assert_int_equal(ik_x86_matrix_check(), 0);
	for (unsigned int i = 1; i < 5; i++)
		fire_expect(&f, i, 1);

	/* One fewer: exactly fits; the 2 managed vectors of CPU 1 do not count. */
	assert_int_equal(ik_free_irq((unsigned int)extra, &f.v[0]), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)extra, 1), 0);
	assert_int_equal(testbed_cpu_offline(&f.pb.tb, 1), 0);
	assert_false(ik_cpu_is_online(1));
	assert_int_equal(cpu_stats(0).available, 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	for (unsigned int i = 0; i < f.nvec; i++) {
		struct ik_x86_irq_target t;
		ik_cpumask_t req = requested(f.v[i].irq);

		assert_int_equal(ik_x86_irq_target(f.v[i].irq, &t), 0);
		assert_int_equal(ik_irq_get_info(f.v[i].irq, &info), 0);
		if (t.is_managed && ik_cpumask_test_cpu(1, &req)) {
			assert_true(info.state & IK_IRQD_MANAGED_SHUTDOWN);
			continue;
		}
		assert_false(info.state & IK_IRQD_MANAGED_SHUTDOWN);
		assert_int_equal(t.cpu, 0);
	}
	assert_int_equal(testbed_cpu_online(&f.pb.tb, 1), 0);
	for (unsigned int i = 0; i < f.nvec; i++) {
		assert_int_equal(ik_irq_get_info(f.v[i].irq, &info), 0);
		assert_false(info.state & IK_IRQD_MANAGED_SHUTDOWN);
		assert_true(info.state & IK_IRQD_STARTED);
		fire_expect(&f, i, i >= 1 && i < 5 ? 2 : 1);
	}
	for (unsigned int i = 0; i < on1 - 1; i++)
		assert_int_equal(ik_free_irq((unsigned int)first1 + i, &f.v[0]), 0);
	for (unsigned int i = 0; i < fill; i++)
		assert_int_equal(ik_free_irq((unsigned int)first0 + i, &f.v[0]), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first1, on1 - 1), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first0, fill), 0);
	fx_down(&f);
}

/*
 * Spread 4 managed vectors over 4 CPUs (one each); vector k's CPU goes
 * offline after a driver disabled it twice: shut down, depth 2 kept,
 * requested affinity unchanged; back online: restarted, still disabled
 * (an event then is not handled), delivered after the two enables on its
 * own CPU.  Meanwhile an unmanaged vector (pre) asked for {2,3} moves to 2
 * when 3 goes: effective {2}, requested still {2,3}.
 */
static void test_managed_shutdown_restart_depth(void **state)
{
	bool ir = *(bool *)*state;
	struct ik_irq_info info;
	struct ik_x86_irq_target t;
	ik_cpumask_t req, eff, want;
	struct call c;
	unsigned int k = 0;
	struct fx f;

	fx_up(&f, ir, NCPUS, 13);
	fx_alloc(&f, 5, 1, 0);
	/* Vector 0 (unmanaged) to {2,3}: moved on the CPU serving it. */
	assert_int_equal(ik_x86_irq_target(f.v[0].irq, &t), 0);
	c = (struct call){ .irq = f.v[0].irq };
	testbed_on_cpu(&f.pb.tb, t.cpu, set_affinity_fn, &c);
	assert_int_equal(c.ret, 0);
	fire_expect(&f, 0, 1);
	ik_cpumask_clear(&want);
	ik_cpumask_set_cpu(2, &want);
	ik_cpumask_set_cpu(3, &want);
	req = requested(f.v[0].irq);
	assert_true(ik_cpumask_equal(&req, &want));
	/* Put it on 3 for sure: 2 first goes away and comes back. */
	assert_int_equal(ik_x86_irq_target(f.v[0].irq, &t), 0);
	if (t.cpu == 2) {
		assert_int_equal(testbed_cpu_offline(&f.pb.tb, 2), 0);
		assert_int_equal(testbed_cpu_online(&f.pb.tb, 2), 0);
	}
	fire_expect(&f, 0, 2);
	assert_int_equal(ik_x86_irq_target(f.v[0].irq, &t), 0);
	assert_int_equal(t.cpu, 3);

	/* The managed vector on CPU 3. */
	for (unsigned int i = 1; i < 5; i++) {
		req = requested(f.v[i].irq);
		if (ik_cpumask_test_cpu(3, &req))
			k = i;
	}
	assert_true(k >= 1);
	c = (struct call){ .irq = f.v[k].irq };
	testbed_on_cpu(&f.pb.tb, 0, disable_fn, &c);
	assert_int_equal(c.ret, 0);
	testbed_on_cpu(&f.pb.tb, 0, disable_fn, &c);
	assert_int_equal(c.ret, 0);

	assert_int_equal(testbed_cpu_offline(&f.pb.tb, 3), 0);
	assert_int_equal(ik_irq_get_info(f.v[k].irq, &info), 0);
	assert_true(info.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_false(info.state & IK_IRQD_STARTED);
	assert_int_equal(info.depth, 3);        /* the shutdown's own 1 + the driver's 2 */
	req = requested(f.v[k].irq);
	assert_int_equal(ik_cpumask_weight(&req), 1);
	assert_true(ik_cpumask_test_cpu(3, &req));
	/* The unmanaged one: effective {2}, requested {2,3}. */
	eff = effective(f.v[0].irq);
	req = requested(f.v[0].irq);
	assert_int_equal(ik_cpumask_weight(&eff), 1);
	assert_true(ik_cpumask_test_cpu(2, &eff));
	assert_true(ik_cpumask_equal(&req, &want));
	fire_expect(&f, 0, 3);
	assert_int_equal(f.v[0].last_cpu, 2);
	assert_int_equal(ik_x86_matrix_check(), 0);

	assert_int_equal(testbed_cpu_online(&f.pb.tb, 3), 0);
	assert_int_equal(ik_irq_get_info(f.v[k].irq, &info), 0);
	assert_false(info.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_int_equal(info.depth, 2);
	fire_expect(&f, k, 0);                  /* disabled: not handled */
	testbed_on_cpu(&f.pb.tb, 0, enable_fn, &c);
	assert_int_equal(c.ret, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(f.v[k].count, 0);      /* depth 1 still */
	testbed_on_cpu(&f.pb.tb, 0, enable_fn, &c);
	assert_int_equal(c.ret, 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(f.v[k].count, 1);      /* the held event, replayed */
	assert_int_equal(ik_irq_get_info(f.v[k].irq, &info), 0);
	assert_true(info.state & IK_IRQD_STARTED);
	assert_int_equal(info.depth, 0);
	eff = effective(f.v[k].irq);
	assert_int_equal(ik_cpumask_weight(&eff), 1);
	assert_true(ik_cpumask_test_cpu(3, &eff));
	fire_expect(&f, k, 2);
	assert_int_equal(f.v[k].last_cpu, 3);
	fx_down(&f);
}

static ik_cpumask_t call_mask;

static void set_mask_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_irq_set_affinity(c->irq, &call_mask);
}

/* Move @irq to @cpu, called on the CPU serving it. */
static void move_to(struct fx *f, unsigned int irq, unsigned int cpu)
{
	struct ik_x86_irq_target t;
	struct call c = { .irq = irq };

	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	ik_cpumask_clear(&call_mask);
	ik_cpumask_set_cpu(cpu, &call_mask);
	testbed_on_cpu(&f->pb.tb, t.cpu, set_mask_fn, &c);
	assert_int_equal(c.ret, 0);
}

/*
 * The old CPU of a move still in progress (no interrupt on the new vector
 * yet) goes offline: its vector is released with it (no leak, matrix
 * consistent), the interrupt is delivered on the new CPU, and the CPU
 * comes back with nothing of it allocated.  Catches an offline that only
 * looks at interrupts whose current target is the dying CPU.
 */
static void test_old_cpu_of_move_offline(void **state)
{
	bool ir = *(bool *)*state;
	struct ik_x86_irq_target t;
	struct fx f;
	unsigned int irq;

	fx_up(&f, ir, NCPUS, 14);
	fx_alloc(&f, 2, 1, 0);
	irq = f.v[0].irq;
	move_to(&f, irq, 1);
	fire_expect(&f, 0, 1);
	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	assert_int_equal(t.cpu, 1);
	assert_false(t.move_in_progress);
	assert_int_equal(cpu_stats(1).allocated, 1);

	move_to(&f, irq, 2);
	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	assert_int_equal(t.cpu, 2);
	assert_true(t.move_in_progress);
	assert_int_equal(t.prev_cpu, 1);
	assert_int_equal(testbed_cpu_offline(&f.pb.tb, 1), 0);
	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	assert_false(t.move_in_progress);
	assert_int_equal(t.cpu, 2);
	assert_int_equal(ik_x86_matrix_check(), 0);
	fire_expect(&f, 0, 2);
	assert_int_equal(f.v[0].last_cpu, 2);
	assert_int_equal(testbed_cpu_online(&f.pb.tb, 1), 0);
	assert_int_equal(cpu_stats(1).allocated, 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	fx_down(&f);
}

static bool with_ir = true, without_ir = false;

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_spread_pre_post, &without_ir),
		cmocka_unit_test_prestate(test_spread_pre_post, &with_ir),
		cmocka_unit_test_prestate(test_offline_admission, &without_ir),
		cmocka_unit_test_prestate(test_offline_admission, &with_ir),
		cmocka_unit_test_prestate(test_managed_shutdown_restart_depth, &without_ir),
		cmocka_unit_test_prestate(test_managed_shutdown_restart_depth, &with_ir),
		cmocka_unit_test_prestate(test_old_cpu_of_move_offline, &without_ir),
		cmocka_unit_test_prestate(test_old_cpu_of_move_offline, &with_ir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
