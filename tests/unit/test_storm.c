// SPDX-License-Identifier: BSD-2-Clause
/*
 * Handled-storm policy (src/core/storm.c) on the deterministic test
 * machine: off by default, REPORT counts and reports without masking,
 * MASK_BACKOFF masks at once and re-enables after the back-off with the
 * latched interrupt replayed, free and policy removal during a back-off,
 * driver disable/enable nesting with the back-off's depth level, bad
 * policies refused, allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqkit/irqchip.h>

#include "testbed.h"

#define CTRL_MASK 0x1u
#define CTRL_PENDING 0x2u

/* Far longer than any storm run takes in virtual time (10 ns per tick). */
#define LONG_BACKOFF_NS 100000000ull   /* 1e7 ticks */
#define LONG_WINDOW_NS 10000000000ull  /* 1e9 ticks */

struct line {
	struct testbed *tb;
	unsigned int irq, slot;
	uint64_t runs;
	uint64_t reports;
	uint64_t last_report_count;
	unsigned int last_report_irq;
};

static ik_irqreturn_t always_handled(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	return IK_IRQ_HANDLED;
}

static void report_fn(unsigned int irq, uint64_t count, void *ctx)
{
	struct line *l = ctx;

	l->reports++;
	l->last_report_count = count;
	l->last_report_irq = irq;
}

static void setup(struct testbed *tb, uint64_t seed, struct line *l)
{
	/* Every point delivers: process context can wait for its interrupts. */
	struct testbed_opts o = { .nr_cpus = 2, .seed = seed, .interleave_permille = 1000 };
	int virq;

	testbed_init(tb, &o);
	virq = testbed_alloc(tb, 0, 1, NULL);
	assert_true(virq > 0);
	*l = (struct line){ .tb = tb, .irq = (unsigned int)virq, .slot = 0 };
}

static void teardown(struct testbed *tb, struct line *l)
{
	sim_run_until_idle(tb->m);
	assert_int_equal(ik_irq_domain_free_irqs(l->irq, 1), 0);
	assert_int_equal(testbed_fini(tb), 0);
}

static struct ik_irq_info info_of(struct line *l)
{
	struct ik_irq_info info;

	assert_int_equal(ik_irq_get_info(l->irq, &info), 0);
	return info;
}

static uint32_t dev_ctrl(struct line *l)
{
	return (uint32_t)sim_cpu_read(l->tb->m, 0, TB_DEV_BASE + l->slot * 16 + 0xC, 4);
}

/* ---- Process-context steps on CPU 0 ------------------------------------------ */

enum op { OP_REQUEST, OP_FREE, OP_ENABLE, OP_DISABLE, OP_POLICY, OP_STORM, OP_FIRE };

struct call {
	struct line *l;
	enum op op;
	const struct ik_storm_policy *policy;
	unsigned int n;
	int ret;
};

/* Fire @n times, waiting for each to be handled, as long as the line takes them. */
static void storm(struct line *l, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t before = l->runs;
		unsigned int spins = 0;

		sim_testdev_fire(l->tb->dev, l->slot);
		while (l->runs == before && ++spins < 2000)
			ik_os_cpu_relax();
	}
}

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
	case OP_ENABLE:
		c->ret = ik_enable_irq(c->l->irq);
		break;
	case OP_DISABLE:
		c->ret = ik_disable_irq(c->l->irq);
		break;
	case OP_POLICY:
		c->ret = ik_irq_set_storm_policy(c->l->irq, c->policy);
		break;
	case OP_STORM:
		storm(c->l, c->n);
		c->ret = 0;
		break;
	case OP_FIRE:
		for (unsigned int i = 0; i < c->n; i++)
			sim_testdev_fire(c->l->tb->dev, c->l->slot);
		c->ret = 0;
		break;
	}
}

static int do_op_on(struct line *l, unsigned int cpu, enum op op,
		    const struct ik_storm_policy *p, unsigned int n)
{
	struct call c = { .l = l, .op = op, .policy = p, .n = n };

	testbed_on_cpu(l->tb, cpu, call_fn, &c);
	return c.ret;
}

static int do_op(struct line *l, enum op op, const struct ik_storm_policy *p, unsigned int n)
{
	return do_op_on(l, 0, op, p, n);
}

static struct ik_storm_policy backoff_policy(struct line *l)
{
	return (struct ik_storm_policy){
		.max_per_window = 100, .window_ns = LONG_WINDOW_NS,
		.action = IK_STORM_MASK_BACKOFF, .backoff_ns = LONG_BACKOFF_NS,
		.report = report_fn, .ctx = l,
	};
}

/* Storm into a back-off: 101 handled, then the line is masked. */
static void enter_backoff(struct line *l)
{
	struct ik_irq_info info;

	assert_int_equal(do_op(l, OP_STORM, NULL, 101), 0);
	assert_int_equal(l->runs, 101);
	info = info_of(l);
	assert_true(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 1);
	assert_true(info.state & IK_IRQD_DISABLED);
	assert_true(info.state & IK_IRQD_MASKED);
	assert_int_equal(info.storms, 1);
	assert_int_equal(dev_ctrl(l) & CTRL_MASK, CTRL_MASK);
	/* More fires stay latched in the device. */
	assert_int_equal(do_op(l, OP_FIRE, NULL, 5), 0);
	assert_int_equal(l->runs, 101);
	assert_int_equal(dev_ctrl(l) & CTRL_PENDING, CTRL_PENDING);
}

/* ---- Tests ----------------------------------------------------------------------- */

/*
 * Off by default: a handled flood of 100000 interrupts in a short virtual
 * time changes nothing (no storm counted, never masked, all handled).
 */
static void test_off_by_default(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;

	setup(&tb, 1, &l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 100000), 0);
	assert_int_equal(l.runs, 100000);
	info = info_of(&l);
	assert_int_equal(info.storms, 0);
	assert_int_equal(info.depth, 0);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_false(info.state & IK_IRQD_MASKED);
	assert_int_equal(info.spurious_disables, 0);
	assert_int_equal(sim_testdev_sent(tb.dev, 0), 100000);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * REPORT: every window with more than max_per_window handled interrupts is
 * one storm, reported with its count; the line is never masked.  Counting
 * restarts after a storm, so 300 interrupts are two storms, not 200.
 */
static void test_report(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;

	setup(&tb, 2, &l);
	p = (struct ik_storm_policy){
		.max_per_window = 100, .window_ns = LONG_WINDOW_NS, .action = IK_STORM_REPORT,
		.report = report_fn, .ctx = &l,
	};
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 100), 0);
	assert_int_equal(l.reports, 0);
	assert_int_equal(info_of(&l).storms, 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 1), 0);
	assert_int_equal(l.reports, 1);
	assert_int_equal(l.last_report_count, 101);
	assert_int_equal(l.last_report_irq, l.irq);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 199), 0);
	assert_int_equal(l.runs, 300);
	assert_int_equal(l.reports, 2);
	info = info_of(&l);
	assert_int_equal(info.storms, 2);
	assert_int_equal(info.depth, 0);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_false(info.state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&l), 0);

	/* Removing the policy stops counting; the counter stays. */
	assert_int_equal(do_op(&l, OP_POLICY, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 300), 0);
	assert_int_equal(l.reports, 2);
	assert_int_equal(info_of(&l).storms, 2);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * The window is time, not a count: interrupts spread so that fewer than
 * max_per_window fall in any window are no storm, however many there are.
 */
static void test_report_window_expires(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_storm_policy p;

	setup(&tb, 3, &l);
	/* One virtual nanosecond window: every interrupt starts a new one. */
	p = (struct ik_storm_policy){
		.max_per_window = 1, .window_ns = 1, .action = IK_STORM_REPORT,
		.report = report_fn, .ctx = &l,
	};
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 500), 0);
	assert_int_equal(l.runs, 500);
	assert_int_equal(l.reports, 0);
	assert_int_equal(info_of(&l).storms, 0);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * MASK_BACKOFF: the storm masks the line at once (depth 1, visible as
 * IK_IRQS_STORM_BACKOFF); after backoff_ns the line comes back by itself
 * and the interrupt the device latched meanwhile is delivered once.
 */
static void test_mask_backoff(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;
	uint64_t t0;

	setup(&tb, 4, &l);
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	t0 = sim_now(tb.m);
	enter_backoff(&l);
	assert_int_equal(l.reports, 1);

	sim_run_until_idle(tb.m);
	/* Not before the back-off was over. */
	assert_true((sim_now(tb.m) - t0) * 10 >= LONG_BACKOFF_NS);
	assert_int_equal(l.runs, 102);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 0);
	assert_false(info.state & IK_IRQD_DISABLED);
	assert_false(info.state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&l), 0);
	assert_int_equal(sim_testdev_sent(tb.dev, 0), 102);

	/* A fresh window: the line handles the next 100 normally, then storms again. */
	assert_int_equal(do_op(&l, OP_STORM, NULL, 99), 0);
	assert_int_equal(info_of(&l).storms, 1);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 2), 0);
	assert_int_equal(info_of(&l).storms, 2);
	assert_int_equal(l.runs, 202);
	assert_true(info_of(&l).istate & IK_IRQS_STORM_BACKOFF);
	sim_run_until_idle(tb.m);
	assert_int_equal(info_of(&l).depth, 0);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * The driver during a back-off: an enable that would take the policy's
 * level is unbalanced (EINVAL, line stays masked); a disable nests on top,
 * so the back-off's end leaves the line disabled until the driver's enable,
 * which then replays the latched interrupt.
 */
static void test_driver_enable_disable_during_backoff(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;

	setup(&tb, 5, &l);
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	enter_backoff(&l);

	assert_int_equal(do_op(&l, OP_ENABLE, NULL, 0), -IK_EINVAL);
	info = info_of(&l);
	assert_int_equal(info.depth, 1);
	assert_true(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(dev_ctrl(&l) & CTRL_MASK, CTRL_MASK);

	assert_int_equal(do_op(&l, OP_DISABLE, NULL, 0), 0);
	assert_int_equal(info_of(&l).depth, 2);
	sim_run_until_idle(tb.m);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 1);
	assert_true(info.state & IK_IRQD_DISABLED);
	assert_int_equal(l.runs, 101);
	assert_int_equal(dev_ctrl(&l) & CTRL_MASK, CTRL_MASK);

	assert_int_equal(do_op(&l, OP_ENABLE, NULL, 0), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 102);
	info = info_of(&l);
	assert_int_equal(info.depth, 0);
	assert_int_equal(dev_ctrl(&l), 0);
	assert_int_equal(do_op(&l, OP_ENABLE, NULL, 0), -IK_EINVAL);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * Freeing the handler during a back-off ends it (the timer never runs on
 * the shut-down line); a new request finds a normal line.  Then a second
 * back-off is left pending when the descriptor itself is freed (ASan would
 * catch a callback on the freed descriptor).
 */
static void test_free_during_backoff(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;

	setup(&tb, 6, &l);
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	enter_backoff(&l);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_false(info.state & IK_IRQD_STARTED);
	sim_run_until_idle(tb.m);
	info = info_of(&l);
	assert_int_equal(info.depth, 1);       /* shut down, not enabled by a stale timer */
	assert_false(info.state & IK_IRQD_STARTED);

	/* The policy stays with the interrupt; the line works again. */
	l.runs = 0;
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	sim_run_until_idle(tb.m);
	l.runs = 0;
	assert_int_equal(do_op(&l, OP_STORM, NULL, 50), 0);
	assert_int_equal(l.runs, 50);
	assert_int_equal(info_of(&l).depth, 0);

	/* Back-off pending while the handler and then the descriptor go. */
	assert_int_equal(do_op(&l, OP_STORM, NULL, 51), 0);
	assert_true(info_of(&l).istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	assert_int_equal(ik_irq_domain_free_irqs(l.irq, 1), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* Removing the policy during a back-off re-enables the line at once. */
static void test_remove_policy_during_backoff(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;
	uint64_t t0;

	setup(&tb, 7, &l);
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	enter_backoff(&l);
	t0 = sim_now(tb.m);
	assert_int_equal(do_op(&l, OP_POLICY, NULL, 0), 0);
	assert_true((sim_now(tb.m) - t0) * 10 < LONG_BACKOFF_NS);
	assert_int_equal(l.runs, 102);          /* the latched one, replayed */
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 0);
	assert_int_equal(dev_ctrl(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(info_of(&l).depth, 0);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/*
 * A managed line whose CPU goes offline during a back-off: the shutdown
 * keeps the nesting (back-off level included); the back-off's end drops its
 * level from it, so the CPU's return restarts the line instead of leaving
 * it disabled at depth 1.
 */
static void test_managed_shutdown_during_backoff(void **state)
{
	struct testbed_opts o = { .nr_cpus = 2, .seed = 10, .interleave_permille = 1000 };
	struct ik_irq_affinity_desc aff = { .is_managed = true };
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	struct ik_storm_policy p;
	int virq;

	testbed_init(&tb, &o);
	ik_cpumask_clear(&aff.mask);
	ik_cpumask_set_cpu(1, &aff.mask);
	virq = testbed_alloc(&tb, 0, 1, &aff);
	assert_true(virq > 0);
	l = (struct line){ .tb = &tb, .irq = (unsigned int)virq, .slot = 0 };
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	assert_int_equal(do_op_on(&l, 1, OP_STORM, NULL, 101), 0);
	assert_int_equal(l.runs, 101);
	info = info_of(&l);
	assert_true(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 1);

	assert_int_equal(testbed_cpu_offline(&tb, 1), 0);
	info = info_of(&l);
	assert_true(info.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_int_equal(info.depth, 2);
	sim_run_until_idle(tb.m);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_STORM_BACKOFF);
	assert_int_equal(info.depth, 1);

	assert_int_equal(testbed_cpu_online(&tb, 1), 0);
	sim_run_until_idle(tb.m);
	info = info_of(&l);
	assert_true(info.state & IK_IRQD_STARTED);
	assert_int_equal(info.depth, 0);
	assert_false(info.state & IK_IRQD_MASKED);
	l.runs = 0;
	assert_int_equal(do_op_on(&l, 1, OP_STORM, NULL, 50), 0);
	assert_int_equal(l.runs, 50);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/* Bad policies are refused and change nothing (no allocation, no counting). */
static void test_bad_policies(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_storm_policy good, p;
	int64_t outstanding;

	setup(&tb, 8, &l);
	good = (struct ik_storm_policy){
		.max_per_window = 10, .window_ns = LONG_WINDOW_NS, .action = IK_STORM_MASK_BACKOFF,
		.backoff_ns = 1000,
	};
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	outstanding = sim_alloc_outstanding();

	p = good;
	p.max_per_window = 0;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_EINVAL);
	p = good;
	p.window_ns = 0;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_EINVAL);
	p = good;
	p.backoff_ns = 0;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_EINVAL);
	p = good;
	p.action = (enum ik_storm_action)7;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_EINVAL);
	assert_int_equal(ik_irq_set_storm_policy(l.irq + 1000, &good), -IK_ENOENT);
	assert_int_equal(sim_alloc_outstanding(), outstanding);

	/* A REPORT policy needs no back-off. */
	p = good;
	p.action = IK_STORM_REPORT;
	p.backoff_ns = 0;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 11), 0);
	assert_int_equal(info_of(&l).storms, 1);
	assert_int_equal(info_of(&l).depth, 0);
	/* A refused replacement keeps the old policy. */
	p.window_ns = 0;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_EINVAL);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 11), 0);
	assert_int_equal(info_of(&l).storms, 2);
	/* Removing twice is fine. */
	assert_int_equal(do_op(&l, OP_POLICY, NULL, 0), 0);
	assert_int_equal(do_op(&l, OP_POLICY, NULL, 0), 0);
	assert_int_equal(sim_alloc_outstanding(), outstanding);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

/* The first policy allocates: its failure installs nothing. */
static void test_alloc_failure(void **state)
{
	struct testbed tb;
	struct line l;
	struct ik_storm_policy p;
	int64_t outstanding;

	setup(&tb, 9, &l);
	p = backoff_policy(&l);
	assert_int_equal(do_op(&l, OP_REQUEST, NULL, 0), 0);
	outstanding = sim_alloc_outstanding();
	sim_alloc_fail_nth(1);
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), -IK_ENOMEM);
	sim_alloc_fail_nth(0);
	assert_int_equal(sim_alloc_outstanding(), outstanding);
	assert_int_equal(do_op(&l, OP_STORM, NULL, 300), 0);
	assert_int_equal(l.runs, 300);
	assert_int_equal(info_of(&l).storms, 0);
	assert_int_equal(l.reports, 0);

	/* Replacing an installed policy does not allocate. */
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	sim_alloc_fail_nth(1);
	p.max_per_window = 1000;
	assert_int_equal(do_op(&l, OP_POLICY, &p, 0), 0);
	sim_alloc_fail_nth(0);
	assert_int_equal(do_op(&l, OP_FREE, NULL, 0), 0);
	teardown(&tb, &l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_report_window_expires),
		cmocka_unit_test(test_mask_backoff),
		cmocka_unit_test(test_driver_enable_disable_during_backoff),
		cmocka_unit_test(test_free_during_backoff),
		cmocka_unit_test(test_remove_policy_during_backoff),
		cmocka_unit_test(test_managed_shutdown_during_backoff),
		cmocka_unit_test(test_bad_policies),
		cmocka_unit_test(test_alloc_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
