// SPDX-License-Identifier: BSD-2-Clause
/*
 * Handled-storm policy with real concurrency (threaded machine; CI runs it
 * under ThreadSanitizer): back-off timers run on the host worker thread
 * while a device thread keeps firing, and free / policy removal race with
 * pending and running back-off callbacks.  Timing decides how many storms
 * happen; the assertions are only the invariants: the line ends enabled
 * and unmasked with nothing latched, the depth is balanced, nothing leaks.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqkit/irqchip.h>

#include "testbed.h"

struct line {
	struct testbed *tb;
	unsigned int irq, slot;
	uint64_t runs;          /* __atomic */
};

static ik_irqreturn_t always_handled(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	__atomic_add_fetch(&l->runs, 1, __ATOMIC_RELAXED);
	return IK_IRQ_HANDLED;
}

enum op { OP_REQUEST, OP_FREE, OP_POLICY };

struct call {
	struct line *l;
	enum op op;
	const struct ik_storm_policy *policy;
	int ret;
};

static void call_fn(void *arg)
{
	struct call *c = arg;

	switch (c->op) {
	case OP_REQUEST:
		c->ret = ik_request_irq(c->l->irq, always_handled, 0, "storm", c->l);
		break;
	case OP_FREE:
		c->ret = ik_free_irq(c->l->irq, c->l);
		break;
	case OP_POLICY:
		c->ret = ik_irq_set_storm_policy(c->l->irq, c->policy);
		break;
	}
}

static int do_op(struct line *l, unsigned int cpu, enum op op, const struct ik_storm_policy *p)
{
	struct call c = { .l = l, .op = op, .policy = p };

	testbed_on_cpu(l->tb, cpu, call_fn, &c);
	return c.ret;
}

struct firer {
	struct line *l;
	int stop;               /* __atomic */
};

static void *firer_thread(void *arg)
{
	struct firer *fr = arg;

	while (!__atomic_load_n(&fr->stop, __ATOMIC_ACQUIRE)) {
		sim_testdev_fire(fr->l->tb->dev, fr->l->slot);
		sched_yield();
	}
	return NULL;
}

static uint32_t dev_ctrl(struct line *l)
{
	return (uint32_t)sim_cpu_read(l->tb->m, 0, TB_DEV_BASE + l->slot * 16 + 0xC, 4);
}

static void setup(struct testbed *tb, uint64_t seed, struct line *l)
{
	struct testbed_opts o = { .nr_cpus = 2, .seed = seed, .threaded = true };
	int virq;

	testbed_init(tb, &o);
	virq = testbed_alloc(tb, 0, 1, NULL);
	assert_true(virq > 0);
	*l = (struct line){ .tb = tb, .irq = (unsigned int)virq, .slot = 0 };
}

/*
 * A device thread floods the line; with a small per-window budget it goes
 * through many back-offs, each ended by the worker's timer callback.  After
 * the flood stops and the timers ran, the line is enabled at depth 0 and
 * the device holds nothing latched.
 */
static void test_backoff_cycles_threaded(void **state)
{
	static const struct ik_storm_policy p = {
		.max_per_window = 20, .window_ns = 10000000000ull,
		.action = IK_STORM_MASK_BACKOFF, .backoff_ns = 200000,
	};
	struct testbed tb;
	struct line l;
	struct firer fr;
	struct ik_irq_info info;
	pthread_t th;

	setup(&tb, 1, &l);
	assert_int_equal(do_op(&l, 0, OP_REQUEST, NULL), 0);
	assert_int_equal(do_op(&l, 0, OP_POLICY, &p), 0);
	fr = (struct firer){ .l = &l };
	assert_int_equal(pthread_create(&th, NULL, firer_thread, &fr), 0);
	for (unsigned int i = 0; i < 1000000; i++) {
		assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
		if (info.storms >= 3 && __atomic_load_n(&l.runs, __ATOMIC_RELAXED) >= 100)
			break;
		sched_yield();
	}
	__atomic_store_n(&fr.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
	assert_true(info.storms >= 3);
	assert_int_equal(info.depth, 0);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_false(info.state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&l), 0);
	assert_int_equal(do_op(&l, 0, OP_FREE, NULL), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_irq_domain_free_irqs(l.irq, 1), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * Free, re-request and policy removal while back-offs are pending or their
 * callbacks run (a back-off of a few microseconds ends while the free is in
 * progress); finally the descriptor is freed with a policy installed.
 */
static void test_free_races_backoff_threaded(void **state)
{
	static const struct ik_storm_policy p = {
		.max_per_window = 5, .window_ns = 10000000000ull,
		.action = IK_STORM_MASK_BACKOFF, .backoff_ns = 5000,
	};
	struct testbed tb;
	struct line l;
	struct firer fr;
	struct ik_irq_info info;
	pthread_t th;

	setup(&tb, 2, &l);
	fr = (struct firer){ .l = &l };
	assert_int_equal(pthread_create(&th, NULL, firer_thread, &fr), 0);
	for (unsigned int round = 0; round < 200; round++) {
		unsigned int cpu = round & 1;

		assert_int_equal(do_op(&l, cpu, OP_REQUEST, NULL), 0);
		assert_int_equal(do_op(&l, cpu, OP_POLICY, &p), 0);
		for (unsigned int i = 0; i < 20; i++)
			sched_yield();
		if (round % 3 == 0)
			assert_int_equal(do_op(&l, cpu, OP_POLICY, NULL), 0);
		assert_int_equal(do_op(&l, cpu ^ 1, OP_FREE, NULL), 0);
		assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
		assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
		assert_false(info.state & IK_IRQD_STARTED);
	}
	/* A last one with the line up, so the descriptor goes with a policy set. */
	assert_int_equal(do_op(&l, 0, OP_REQUEST, NULL), 0);
	assert_int_equal(do_op(&l, 0, OP_POLICY, &p), 0);
	__atomic_store_n(&fr.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, NULL), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
	assert_int_equal(info.depth, 0);
	assert_int_equal(do_op(&l, 1, OP_FREE, NULL), 0);
	assert_int_equal(ik_irq_domain_free_irqs(l.irq, 1), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_cycles_threaded),
		cmocka_unit_test(test_free_races_backoff_threaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
