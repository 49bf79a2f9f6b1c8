// SPDX-License-Identifier: BSD-2-Clause
/*
 * Detection of unhandled-interrupt floods (src/core/spurious.c) on the test
 * machine: a flood disables and masks the line with a report, a mostly
 * handled line stays on, isolated unhandled interrupts age out, a new
 * shared handler or an enable re-enables the line, IK_IRQF_NO_DEBUG lines
 * are exempt, and bogus handler return values are reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testbed.h"

#define CTRL_MASK 0x1u
#define CTRL_PENDING 0x2u

static const struct ik_spurious_config defaults = {
	.window = 100000, .threshold = 99900, .aging_ns = 100000000ull,
};

struct line {
	struct testbed *tb;
	unsigned int irq, slot;
	uint64_t runs;
	unsigned int handle_every;      /* 0: never handled; n: every n-th run is handled */
	ik_irqreturn_t fixed_ret;       /* if non-zero, returned as is */
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	if (l->fixed_ret)
		return l->fixed_ret;
	if (l->handle_every && l->runs % l->handle_every == 0)
		return IK_IRQ_HANDLED;
	return IK_IRQ_NONE;
}

struct call {
	struct line *l;
	unsigned int flags;
	int ret;
	enum { C_REQUEST, C_FREE, C_ENABLE } op;
};

static void call_fn(void *arg)
{
	struct call *c = arg;

	switch (c->op) {
	case C_REQUEST:
		c->ret = ik_request_irq(c->l->irq, line_handler, c->flags, "spur", c->l);
		break;
	case C_FREE:
		c->ret = ik_free_irq(c->l->irq, c->l);
		break;
	case C_ENABLE:
		c->ret = ik_enable_irq(c->l->irq);
		break;
	}
}

static int do_op(struct line *l, int op, unsigned int flags)
{
	struct call c = { .l = l, .op = op, .flags = flags };

	testbed_on_cpu(l->tb, 0, call_fn, &c);
	return c.ret;
}

static void fire(struct line *l)
{
	sim_testdev_fire(l->tb->dev, l->slot);
	sim_run_until_idle(l->tb->m);
}

static void fire_n(struct line *l, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		fire(l);
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

static void setup(struct testbed *tb, uint64_t seed, struct line *lines, unsigned int n,
		  const struct ik_spurious_config *cfg)
{
	struct testbed_opts o = { .nr_cpus = 2, .seed = seed };
	int virq;

	testbed_init(tb, &o);
	virq = testbed_alloc(tb, 0, n, NULL);
	assert_true(virq > 0);
	for (unsigned int i = 0; i < n; i++)
		lines[i] = (struct line){ .tb = tb, .irq = (unsigned int)virq + i, .slot = i };
	ik_spurious_set_config(cfg);
}

static void teardown(struct testbed *tb, struct line *lines, unsigned int n)
{
	ik_spurious_set_config(&defaults);
	sim_run_until_idle(tb->m);
	assert_int_equal(ik_irq_domain_free_irqs(lines[0].irq, n), 0);
	assert_int_equal(testbed_spurious(tb), 0);
	assert_int_equal(testbed_fini(tb), 0);
}

/*
 * A flood of unhandled interrupts: after `window` interrupts of which more
 * than `threshold` were unhandled, the line is disabled (depth 1,
 * IK_IRQS_SPURIOUS_DISABLED, counted) with a report, and masked in the
 * device at once; further fires stay in the device and never reach the
 * handler; ik_enable_irq() brings the line back.
 */
static void test_flood_disables(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 1000, .threshold = 999, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;
	uint64_t warns;

	setup(&tb, 1, &l, 1, &cfg);
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	fire_n(&l, 999);
	info = info_of(&l);
	assert_int_equal(info.unhandled, 999);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.depth, 0);

	warns = sim_port_warnings();
	fire(&l);
	assert_int_equal(l.runs, 1000);
	assert_true(sim_port_warnings() > warns);
	info = info_of(&l);
	assert_true(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 1);
	assert_int_equal(info.depth, 1);
	assert_true(info.state & IK_IRQD_DISABLED);
	assert_true(info.state & IK_IRQD_MASKED);
	assert_int_equal(info.unhandled, 0);
	assert_int_equal(dev_ctrl(&l) & CTRL_MASK, CTRL_MASK);

	fire_n(&l, 50);
	assert_int_equal(l.runs, 1000);
	assert_int_equal(dev_ctrl(&l) & CTRL_PENDING, CTRL_PENDING);
	assert_int_equal(sim_testdev_sent(tb.dev, 0), 1000);

	/* The driver knows better: enable.  The latched edge goes out once. */
	assert_int_equal(do_op(&l, C_ENABLE, 0), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 1001);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.depth, 0);
	assert_int_equal(info.spurious_disables, 1);
	assert_int_equal(dev_ctrl(&l), 0);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

/*
 * A line whose handler claims only one interrupt in 50 stays well under
 * the threshold: never disabled over several windows.
 */
static void test_mostly_unhandled_but_alive(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 1000, .threshold = 999, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;

	setup(&tb, 2, &l, 1, &cfg);
	l.handle_every = 50;
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	fire_n(&l, 3500);
	assert_int_equal(l.runs, 3500);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 0);
	assert_int_equal(info.depth, 0);
	assert_true(info.unhandled < 999);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

/* Mostly handled: a handler that misses one in ten is never disabled. */
static void test_mostly_handled(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 100, .threshold = 90, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;

	setup(&tb, 3, &l, 1, &cfg);
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	for (unsigned int i = 1; i <= 1000; i++) {
		l.fixed_ret = i % 10 ? IK_IRQ_HANDLED : 0;
		fire(&l);
	}
	info = info_of(&l);
	assert_int_equal(l.runs, 1000);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 0);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

static void noop_event(void *arg)
{
}

/* Let more than @ns of virtual time pass (10 ns per tick in deterministic mode). */
static void advance_ns(struct testbed *tb, uint64_t ns)
{
	uint64_t before = ik_os_time_ns();

	sim_schedule(tb->m, ns / 10 + 1, noop_event, NULL);
	sim_run_until_idle(tb->m);
	assert_true(ik_os_time_ns() - before > ns);
}

/*
 * Aging: an unhandled interrupt that comes more than aging_ns after the
 * previous one restarts the count at 1, so isolated unhandled interrupts
 * never add up to a disable; the same number in a burst does disable.
 */
static void test_aging(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 10, .threshold = 9, .aging_ns = 20000,
	};
	struct testbed tb;
	struct line l[3];
	struct ik_irq_info info;

	setup(&tb, 4, l, 3, &cfg);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(do_op(&l[i], C_REQUEST, 0), 0);

	/* Isolated: the count restarts each time. */
	for (unsigned int i = 0; i < 35; i++) {
		advance_ns(&tb, cfg.aging_ns);
		fire(&l[0]);
		info = info_of(&l[0]);
		assert_true(info.unhandled <= 1);
		assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	}
	assert_int_equal(l[0].runs, 35);
	assert_int_equal(info_of(&l[0]).spurious_disables, 0);

	/* Within the aging period they accumulate ... */
	fire_n(&l[1], 3);
	assert_int_equal(info_of(&l[1]).unhandled, 3);
	/* ... until a quiet period restarts the count. */
	advance_ns(&tb, cfg.aging_ns);
	fire(&l[1]);
	assert_int_equal(info_of(&l[1]).unhandled, 1);
	/* The window still closes after 10 interrupts: 7 unhandled are not enough. */
	fire_n(&l[1], 6);
	info = info_of(&l[1]);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.unhandled, 0);

	/* The same interrupts in one burst: disabled at the end of the window. */
	fire_n(&l[2], 9);
	assert_false(info_of(&l[2]).istate & IK_IRQS_SPURIOUS_DISABLED);
	fire(&l[2]);
	info = info_of(&l[2]);
	assert_true(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 1);

	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(do_op(&l[i], C_FREE, 0), 0);
	teardown(&tb, l, 3);
}

/*
 * A new handler on a shared line that was disabled as spurious may be the
 * one that was missing: the request re-enables the line, and with it
 * installed the line keeps running.
 */
static void test_shared_handler_reenables(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 100, .threshold = 99, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line a, b;
	struct ik_irq_info info;

	setup(&tb, 5, &a, 1, &cfg);
	b = a;
	b.fixed_ret = IK_IRQ_HANDLED;
	assert_int_equal(do_op(&a, C_REQUEST, IK_IRQF_SHARED), 0);
	fire_n(&a, 100);
	info = info_of(&a);
	assert_true(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.depth, 1);
	fire(&a);
	assert_int_equal(a.runs, 100);
	assert_int_equal(dev_ctrl(&a) & CTRL_PENDING, CTRL_PENDING);

	assert_int_equal(do_op(&b, C_REQUEST, IK_IRQF_SHARED), 0);
	sim_run_until_idle(tb.m);
	info = info_of(&a);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.depth, 0);
	assert_int_equal(info.state & (IK_IRQD_DISABLED | IK_IRQD_MASKED), 0);
	assert_int_equal(info.unhandled, 0);
	assert_int_equal(info.nr_actions, 2);
	assert_int_equal(dev_ctrl(&a), 0);
	/* The edge latched while masked was delivered to both handlers. */
	assert_int_equal(a.runs, 101);
	assert_int_equal(b.runs, 1);

	fire_n(&a, 300);
	info = info_of(&a);
	assert_int_equal(a.runs, 401);
	assert_int_equal(b.runs, 301);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.spurious_disables, 1);

	assert_int_equal(do_op(&a, C_FREE, 0), 0);
	assert_int_equal(do_op(&b, C_FREE, 0), 0);
	teardown(&tb, &a, 1);
}

/*
 * A line whose only handler is freed while spurious-disabled starts clean
 * with the next request.
 */
static void test_rerequest_after_spurious(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 50, .threshold = 49, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;

	setup(&tb, 6, &l, 1, &cfg);
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	fire_n(&l, 50);
	assert_true(info_of(&l).istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	l.fixed_ret = IK_IRQ_HANDLED;
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	info = info_of(&l);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.depth, 0);
	assert_int_equal(info.unhandled, 0);
	fire(&l);
	assert_int_equal(l.runs, 51);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

/* IK_IRQF_NO_DEBUG lines are not watched: a flood does not disable them. */
static void test_no_debug_exempt(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 10, .threshold = 9, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct ik_irq_info info;

	setup(&tb, 7, &l, 1, &cfg);
	assert_int_equal(do_op(&l, C_REQUEST, IK_IRQF_NO_DEBUG), 0);
	fire_n(&l, 40);
	info = info_of(&l);
	assert_int_equal(l.runs, 40);
	assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info.unhandled, 0);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

/*
 * A handler returning a value that is not an ik_irqreturn_t is reported
 * (a warning per interrupt) and does not count as unhandled.
 */
static void test_bogus_return(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 10, .threshold = 9, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	uint64_t warns;

	setup(&tb, 8, &l, 1, &cfg);
	l.fixed_ret = (ik_irqreturn_t)0x40;
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	warns = sim_port_warnings();
	fire(&l);
	assert_int_equal(sim_port_warnings(), warns + 1);
	fire_n(&l, 20);
	assert_int_equal(sim_port_warnings(), warns + 21);
	assert_int_equal(l.runs, 21);
	assert_false(info_of(&l).istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(info_of(&l).unhandled, 0);
	/* A proper value stops the reports. */
	l.fixed_ret = IK_IRQ_HANDLED;
	fire(&l);
	assert_int_equal(sim_port_warnings(), warns + 21);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

/* Invalid configurations are ignored: the previous one stays in force. */
static void test_bad_config_ignored(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 10, .threshold = 9, .aging_ns = 100000000ull,
	};
	static const struct ik_spurious_config zero_window = { .window = 0, .threshold = 0 };
	static const struct ik_spurious_config above = { .window = 5, .threshold = 6 };
	struct testbed tb;
	struct line l;

	setup(&tb, 9, &l, 1, &cfg);
	ik_spurious_set_config(&zero_window);
	ik_spurious_set_config(&above);
	ik_spurious_set_config(NULL);
	assert_int_equal(do_op(&l, C_REQUEST, 0), 0);
	fire_n(&l, 9);
	assert_false(info_of(&l).istate & IK_IRQS_SPURIOUS_DISABLED);
	fire(&l);
	assert_true(info_of(&l).istate & IK_IRQS_SPURIOUS_DISABLED);
	assert_int_equal(do_op(&l, C_FREE, 0), 0);
	teardown(&tb, &l, 1);
}

static uint64_t thread_runs;
static ik_irqreturn_t thread_ret;

static ik_irqreturn_t thread_fn(unsigned int irq, void *dev_id)
{
	thread_runs++;
	return thread_ret;
}

static void request_threaded_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_request_threaded_irq(c->l->irq, NULL, thread_fn, 0, "spur-thread", c->l);
}

/*
 * A threaded handler is judged by what its thread returned: the primary
 * only wakes it, so each interrupt is accounted at the next one.  A thread
 * that never handles its interrupts gets the line disabled; one that
 * handles them keeps it alive.
 */
static void test_threaded_unhandled_flood(void **state)
{
	static const struct ik_spurious_config cfg = {
		.window = 1000, .threshold = 999, .aging_ns = 100000000ull,
	};
	struct testbed tb;
	struct line l;
	struct call c;
	struct ik_irq_info info;

	for (int handled = 0; handled < 2; handled++) {
		setup(&tb, 3, &l, 1, &cfg);
		c = (struct call){ .l = &l };
		testbed_on_cpu(&tb, 0, request_threaded_fn, &c);
		assert_int_equal(c.ret, 0);
		thread_ret = handled ? IK_IRQ_HANDLED : IK_IRQ_NONE;
		thread_runs = 0;
		for (unsigned int i = 0; i < 1200; i++) {
			fire(&l);
			sim_run_until_idle(tb.m);
		}
		info = info_of(&l);
		if (handled) {
			assert_int_equal(thread_runs, 1200);
			assert_false(info.istate & IK_IRQS_SPURIOUS_DISABLED);
			assert_int_equal(info.spurious_disables, 0);
		} else {
			/* 1000 judged interrupts need 1001 hard ones; then the line is off. */
			assert_int_equal(thread_runs, 1001);
			assert_true(info.istate & IK_IRQS_SPURIOUS_DISABLED);
			assert_int_equal(info.spurious_disables, 1);
		}
		assert_int_equal(do_op(&l, C_FREE, 0), 0);
		teardown(&tb, &l, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_disables),
		cmocka_unit_test(test_mostly_unhandled_but_alive),
		cmocka_unit_test(test_mostly_handled),
		cmocka_unit_test(test_aging),
		cmocka_unit_test(test_shared_handler_reenables),
		cmocka_unit_test(test_rerequest_after_spurious),
		cmocka_unit_test(test_no_debug_exempt),
		cmocka_unit_test(test_bogus_return),
		cmocka_unit_test(test_bad_config_ignored),
		cmocka_unit_test(test_threaded_unhandled_flood),
	};

	/* The reports are expected; keep the output readable. */
	sim_port_set_log_level(IK_LOG_ERR - 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
