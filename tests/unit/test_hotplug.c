// SPDX-License-Identifier: BSD-2-Clause
/*
 * CPU hotplug and vector-space scenarios of the x86 vector domain:
 * managed interrupts shut down and restarted, a driver's disable kept
 * across hotplug, offline refused when the vectors cannot move, vector
 * exhaustion on one CPU, and the old CPU of an unfinished move going
 * offline (the CVE-2024-31076 class of vector leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <irqkit/irqchip.h>
#include <irqkit/matrix.h>

#include "testbed.h"

static uint64_t runs[512];

static ik_irqreturn_t count_handler(unsigned int irq, void *dev_id)
{
	runs[(uintptr_t)dev_id]++;
	return IK_IRQ_HANDLED;
}

struct call {
	unsigned int irq;
	uintptr_t id;
	unsigned int flags;
	int ret;
};

static void request_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_request_irq(c->irq, count_handler, c->flags, "hp", (void *)c->id);
}

static void free_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_free_irq(c->irq, (void *)c->id);
}

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

static int request_on(struct testbed *tb, unsigned int cpu, unsigned int irq, uintptr_t id)
{
	struct call c = { .irq = irq, .id = id };

	testbed_on_cpu(tb, cpu, request_fn, &c);
	return c.ret;
}

static void free_on(struct testbed *tb, unsigned int irq, uintptr_t id)
{
	struct call c = { .irq = irq, .id = id };

	testbed_on_cpu(tb, 0, free_fn, &c);
	assert_int_equal(c.ret, 0);
}

static unsigned int allocated_on(unsigned int cpu)
{
	struct ik_irq_matrix_cpu_stats st;

	assert_int_equal(ik_x86_matrix_cpu_stats(cpu, &st), 0);
	return st.allocated;
}

static struct ik_irq_affinity_desc one_cpu(unsigned int cpu, bool managed)
{
	struct ik_irq_affinity_desc a = { .is_managed = managed };

	ik_cpumask_clear(&a.mask);
	ik_cpumask_set_cpu(cpu, &a.mask);
	return a;
}

/* Managed interrupt whose only CPU goes away: shut down, restarted on return. */
static void test_managed_shutdown_and_restart(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 5 };
	struct ik_irq_affinity_desc aff = one_cpu(2, true);
	struct ik_x86_irq_target t;
	struct ik_irq_info info;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, 1, &aff);
	assert_true(virq > 0);
	assert_int_equal(request_on(&tb, 0, (unsigned int)virq, 1), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_true(t.is_managed);
	assert_int_equal(t.cpu, 2);
	/* Drivers may not move managed interrupts. */
	{
		ik_cpumask_t m;

		ik_cpumask_setall(&m, 4);
		assert_int_equal(ik_irq_set_affinity((unsigned int)virq, &m), -IK_EPERM);
	}

	assert_int_equal(testbed_cpu_offline(&tb, 2), 0);
	assert_int_equal(ik_irq_get_info((unsigned int)virq, &info), 0);
	assert_true(info.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_false(info.state & IK_IRQD_STARTED);
	assert_false(info.state & IK_IRQD_ACTIVATED);
	assert_int_equal(ik_x86_matrix_check(), 0);

	assert_int_equal(testbed_cpu_online(&tb, 2), 0);
	assert_int_equal(ik_irq_get_info((unsigned int)virq, &info), 0);
	assert_false(info.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_true(info.state & IK_IRQD_STARTED);
	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(runs[1], 1);
	assert_int_equal(ik_irq_count_cpu((unsigned int)virq, 2), 1);

	free_on(&tb, (unsigned int)virq, 1);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_fini(&tb), 0);
	runs[1] = 0;
}

/* A driver's disable survives the managed shutdown/restart cycle. */
static void test_managed_disabled_across_hotplug(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 6 };
	struct ik_irq_affinity_desc aff = one_cpu(3, true);
	struct ik_irq_info info;
	struct call c;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, 1, &aff);
	assert_true(virq > 0);
	assert_int_equal(request_on(&tb, 0, (unsigned int)virq, 2), 0);
	c = (struct call){ .irq = (unsigned int)virq };
	testbed_on_cpu(&tb, 0, disable_fn, &c);
	assert_int_equal(c.ret, 0);

	assert_int_equal(testbed_cpu_offline(&tb, 3), 0);
	assert_int_equal(testbed_cpu_online(&tb, 3), 0);
	assert_int_equal(ik_irq_get_info((unsigned int)virq, &info), 0);
	assert_int_equal(info.depth, 1);
	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(runs[2], 0);

	testbed_on_cpu(&tb, 0, enable_fn, &c);
	assert_int_equal(c.ret, 0);
	sim_run_until_idle(tb.m);
	/* The event that arrived while disabled is delivered after enable. */
	assert_int_equal(runs[2], 1);
	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(runs[2], 2);

	free_on(&tb, (unsigned int)virq, 2);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
	runs[2] = 0;
}

/*
 * Fill a CPU with interrupts pinned to it so that the remaining CPU cannot
 * absorb them: offline is refused and nothing changes.
 */
static void test_offline_refused_when_vectors_do_not_fit(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 7 };
	struct ik_irq_domain *vd;
	enum { PER_CPU = 150 };
	int first[2];

	testbed_init(&tb, &o);
	vd = ik_x86_vector_domain();
	for (unsigned int cpu = 0; cpu < 2; cpu++) {
		struct ik_irq_affinity_desc aff[PER_CPU];

		for (unsigned int i = 0; i < PER_CPU; i++)
			aff[i] = one_cpu(cpu, false);
		first[cpu] = ik_irq_domain_alloc_irqs(vd, PER_CPU, aff, NULL);
		assert_true(first[cpu] > 0);
		for (unsigned int i = 0; i < PER_CPU; i++)
			assert_int_equal(request_on(&tb, cpu, (unsigned int)first[cpu] + i, 100), 0);
		assert_int_equal(allocated_on(cpu), PER_CPU);
	}
	assert_int_equal(testbed_cpu_offline(&tb, 1), -IK_ENOSPC);
	assert_true(sim_cpu_is_online(tb.m, 1));
	assert_true(ik_cpu_is_online(1));
	assert_int_equal(allocated_on(1), PER_CPU);
	assert_int_equal(ik_x86_matrix_check(), 0);

	/* Free half of CPU 0's: now CPU 1's interrupts fit and it can go. */
	for (unsigned int i = 0; i < 100; i++)
		free_on(&tb, (unsigned int)first[0] + i, 100);
	assert_int_equal(testbed_cpu_offline(&tb, 1), 0);
	assert_int_equal(allocated_on(0), PER_CPU - 100 + PER_CPU);
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_cpu_online(&tb, 1), 0);

	for (unsigned int i = 100; i < PER_CPU; i++)
		free_on(&tb, (unsigned int)first[0] + i, 100);
	for (unsigned int i = 0; i < PER_CPU; i++)
		free_on(&tb, (unsigned int)first[1] + i, 100);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first[0], PER_CPU), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first[1], PER_CPU), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* CPU 1 full: an interrupt that wants CPU 1 is served elsewhere, with a warning. */
static void test_vector_exhaustion_breaks_affinity(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 8 };
	struct ik_irq_domain *vd;
	struct ik_irq_affinity_desc aff[256];
	struct ik_x86_irq_target t;
	uint64_t warnings;
	unsigned int n = 0;
	int first, extra;

	testbed_init(&tb, &o);
	vd = ik_x86_vector_domain();
	for (unsigned int i = 0; i < 256; i++)
		aff[i] = one_cpu(1, false);
	first = ik_irq_domain_alloc_irqs(vd, 256, aff, NULL);
	assert_true(first > 0);
	/* Request until CPU 1 is full; the next one spills over. */
	while (n < 256) {
		warnings = sim_port_warnings();
		assert_int_equal(request_on(&tb, 0, (unsigned int)first + n, 200), 0);
		assert_int_equal(ik_x86_irq_target((unsigned int)first + n, &t), 0);
		n++;
		if (t.cpu != 1)
			break;
	}
	assert_true(n < 256);
	assert_int_equal(t.cpu, 0);
	assert_true(sim_port_warnings() > warnings);
	extra = (int)n;
	assert_int_equal(ik_x86_matrix_check(), 0);

	for (unsigned int i = 0; i < (unsigned int)extra; i++)
		free_on(&tb, (unsigned int)first + i, 200);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first, 256), 0);
	assert_int_equal(allocated_on(1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * The old CPU of a move that never completed (no interrupt arrived on the
 * new target) goes offline: its vector must not leak, and the interrupt
 * still works on the new target.
 */
static void test_old_cpu_of_pending_move_goes_offline(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 9 };
	struct ik_irq_affinity_desc aff = one_cpu(1, false);
	struct ik_x86_irq_target t;
	ik_cpumask_t to2;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, 1, &aff);
	assert_true(virq > 0);
	assert_int_equal(request_on(&tb, 0, (unsigned int)virq, 3), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_int_equal(t.cpu, 1);
	assert_int_equal(allocated_on(1), 1);

	ik_cpumask_clear(&to2);
	ik_cpumask_set_cpu(2, &to2);
	assert_int_equal(ik_irq_set_affinity((unsigned int)virq, &to2), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_true(t.move_in_progress);
	assert_int_equal(t.prev_cpu, 1);
	assert_int_equal(allocated_on(1), 1);   /* old vector kept until first arrival */

	assert_int_equal(testbed_cpu_offline(&tb, 1), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_false(t.move_in_progress);
	assert_int_equal(t.cpu, 2);
	assert_int_equal(allocated_on(1), 0);   /* no leak */
	assert_int_equal(ik_x86_matrix_check(), 0);

	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_true(runs[3] >= 1);
	assert_true(ik_irq_count_cpu((unsigned int)virq, 2) >= 1);
	assert_int_equal(testbed_cpu_online(&tb, 1), 0);
	assert_int_equal(testbed_spurious(&tb), 0);

	free_on(&tb, (unsigned int)virq, 3);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
	runs[3] = 0;
}

/* A move completes: first arrival on the new CPU releases the old vector there. */
static void test_move_cleanup_after_first_arrival(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 10 };
	struct ik_irq_affinity_desc aff = one_cpu(0, false);
	struct ik_x86_irq_target t;
	struct ik_x86_vector_stats st;
	ik_cpumask_t to3;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, 1, &aff);
	assert_int_equal(request_on(&tb, 0, (unsigned int)virq, 4), 0);
	ik_cpumask_clear(&to3);
	ik_cpumask_set_cpu(3, &to3);
	assert_int_equal(ik_irq_set_affinity((unsigned int)virq, &to3), 0);
	assert_int_equal(allocated_on(0), 1);
	assert_int_equal(allocated_on(3), 1);

	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(runs[4], 1);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_false(t.move_in_progress);
	assert_int_equal(allocated_on(0), 0);
	assert_int_equal(ik_x86_vector_stats(0, &st), 0);
	assert_int_equal(st.cleanups, 1);

	/* A second move while the first is pending is deferred, not lost. */
	ik_cpumask_clear(&to3);
	ik_cpumask_set_cpu(1, &to3);
	assert_int_equal(ik_irq_set_affinity((unsigned int)virq, &to3), 0);
	ik_cpumask_clear(&to3);
	ik_cpumask_set_cpu(2, &to3);
	assert_int_equal(ik_irq_set_affinity((unsigned int)virq, &to3), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_int_equal(t.cpu, 1);     /* second move waits for the first */
	for (int i = 0; i < 3; i++) {
		sim_testdev_fire(tb.dev, 0);
		sim_run_until_idle(tb.m);
	}
	assert_int_equal(runs[4], 4);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	assert_int_equal(t.cpu, 2);
	assert_int_equal(ik_x86_matrix_check(), 0);

	free_on(&tb, (unsigned int)virq, 4);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
	runs[4] = 0;
}

/*
 * A message already on its way when the interrupt was freed is absorbed
 * once (counted as a shutdown hit); a later one to the same slot is a
 * spurious vector and reported.
 */
static void test_stray_message_after_free(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 11 };
	struct ik_x86_irq_target t;
	struct ik_x86_vector_stats before, after;
	uint32_t addr;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, 1, NULL);
	assert_int_equal(request_on(&tb, 0, (unsigned int)virq, 5), 0);
	assert_int_equal(ik_x86_irq_target((unsigned int)virq, &t), 0);
	free_on(&tb, (unsigned int)virq, 5);
	assert_int_equal(ik_x86_vector_stats(t.cpu, &before), 0);

	addr = 0xFEE00000u | (ik_x86_cpu_apic_id(t.cpu) << 12);
	sim_dma_write32(tb.m, 0x0100, addr, t.vector);
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_x86_vector_stats(t.cpu, &after), 0);
	assert_int_equal(after.shutdown_hits, before.shutdown_hits + 1);
	assert_int_equal(after.spurious, before.spurious);

	sim_dma_write32(tb.m, 0x0100, addr, t.vector);
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_x86_vector_stats(t.cpu, &after), 0);
	assert_int_equal(after.spurious, before.spurious + 1);
	assert_int_equal(runs[5], 0);

	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_managed_shutdown_and_restart),
		cmocka_unit_test(test_managed_disabled_across_hotplug),
		cmocka_unit_test(test_offline_refused_when_vectors_do_not_fit),
		cmocka_unit_test(test_vector_exhaustion_breaks_affinity),
		cmocka_unit_test(test_old_cpu_of_pending_move_goes_offline),
		cmocka_unit_test(test_move_cleanup_after_first_arrival),
		cmocka_unit_test(test_stray_message_after_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
