// SPDX-License-Identifier: BSD-2-Clause
/*
 * Flow handlers (src/core/chip.c) and the driver API (src/core/manage.c)
 * on the test machine: lazy disable and replay, disable nesting,
 * IK_IRQF_NO_AUTOEN, an edge arriving while the handler runs on another
 * CPU, shared and threaded handlers, per-CPU counters, ik_irq_get_info
 * and argument checking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <irqkit/irqchip.h>

#include "testbed.h"

#define CTRL_MASK 0x1u
#define CTRL_PENDING 0x2u

struct line {
	struct testbed *tb;
	unsigned int irq, slot;
	uint64_t runs;                  /* primary handler runs (__atomic in threaded mode) */
	uint64_t thread_runs;
	ik_irqreturn_t ret;             /* what the primary handler returns */
	unsigned int last_cpu;
	bool thread_saw_irqs_off;
	/* Optional hook run inside the primary handler. */
	void (*hook)(struct line *l);
	/* Threaded-mode gate for the free-waits-for-thread test. */
	int thread_started, thread_done; /* __atomic */
	unsigned int thread_sleep_ms;
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	assert_int_equal(irq, l->irq);
	assert_true(ik_os_irqs_disabled());
	__atomic_add_fetch(&l->runs, 1, __ATOMIC_RELAXED);
	l->last_cpu = ik_os_cpu_id();
	if (l->hook)
		l->hook(l);
	return l->ret;
}

static ik_irqreturn_t line_thread(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	assert_int_equal(irq, l->irq);
	if (ik_os_irqs_disabled())
		l->thread_saw_irqs_off = true;
	__atomic_store_n(&l->thread_started, 1, __ATOMIC_RELEASE);
	if (l->thread_sleep_ms) {
		struct timespec ts = { 0, (long)l->thread_sleep_ms * 1000000L };

		nanosleep(&ts, NULL);
	}
	__atomic_add_fetch(&l->thread_runs, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->thread_done, 1, __ATOMIC_RELEASE);
	return IK_IRQ_HANDLED;
}

/* ---- Process-context calls ---------------------------------------------------- */

enum op { OP_REQUEST, OP_REQUEST_THREADED, OP_FREE, OP_DISABLE, OP_ENABLE, OP_AFFINITY };

struct call {
	enum op op;
	struct line *l;
	ik_irq_handler_t handler, thread_fn;
	unsigned int flags;
	const char *name;
	void *dev_id;
	ik_cpumask_t mask;
	int ret;
	int thread_done_at_return;
};

static void call_fn(void *arg)
{
	struct call *c = arg;
	unsigned int irq = c->l->irq;

	switch (c->op) {
	case OP_REQUEST:
		c->ret = ik_request_irq(irq, c->handler ? c->handler : line_handler, c->flags,
					c->name ? c->name : "line", c->dev_id ? c->dev_id : c->l);
		break;
	case OP_REQUEST_THREADED:
		c->ret = ik_request_threaded_irq(irq, c->handler, c->thread_fn, c->flags,
						 c->name ? c->name : "line",
						 c->dev_id ? c->dev_id : c->l);
		break;
	case OP_FREE:
		c->ret = ik_free_irq(irq, c->dev_id ? c->dev_id : c->l);
		c->thread_done_at_return = __atomic_load_n(&c->l->thread_done, __ATOMIC_ACQUIRE);
		break;
	case OP_DISABLE:
		c->ret = ik_disable_irq(irq);
		break;
	case OP_ENABLE:
		c->ret = ik_enable_irq(irq);
		break;
	case OP_AFFINITY:
		c->ret = ik_irq_set_affinity(irq, &c->mask);
		break;
	}
}

static int do_call(struct line *l, struct call c)
{
	c.l = l;
	testbed_on_cpu(l->tb, 0, call_fn, &c);
	return c.ret;
}

static int do_request(struct line *l, unsigned int flags)
{
	return do_call(l, (struct call){ .op = OP_REQUEST, .flags = flags });
}

static int do_free(struct line *l)
{
	return do_call(l, (struct call){ .op = OP_FREE });
}

static int do_disable(struct line *l)
{
	return do_call(l, (struct call){ .op = OP_DISABLE });
}

static int do_enable(struct line *l)
{
	return do_call(l, (struct call){ .op = OP_ENABLE });
}

static int do_affinity_cpu(struct line *l, unsigned int cpu)
{
	struct call c = { .op = OP_AFFINITY };

	ik_cpumask_clear(&c.mask);
	ik_cpumask_set_cpu(cpu, &c.mask);
	return do_call(l, c);
}

static uint32_t dev_ctrl(struct testbed *tb, unsigned int slot)
{
	return (uint32_t)sim_cpu_read(tb->m, 0, TB_DEV_BASE + slot * 16 + 0xC, 4);
}

static struct ik_irq_info info_of(struct line *l)
{
	struct ik_irq_info info;

	assert_int_equal(ik_irq_get_info(l->irq, &info), 0);
	return info;
}

static void fire(struct line *l)
{
	sim_testdev_fire(l->tb->dev, l->slot);
	sim_run_until_idle(l->tb->m);
}

/* A testbed with @n lines on slots 0..n-1 (not requested). */
static void setup_lines(struct testbed *tb, const struct testbed_opts *o, struct line *lines,
			unsigned int n)
{
	int virq;

	testbed_init(tb, o);
	virq = testbed_alloc(tb, 0, n, NULL);
	assert_true(virq > 0);
	for (unsigned int i = 0; i < n; i++)
		lines[i] = (struct line){ .tb = tb, .irq = (unsigned int)virq + i, .slot = i,
					  .ret = IK_IRQ_HANDLED };
}

static void teardown_lines(struct testbed *tb, struct line *lines, unsigned int n)
{
	sim_run_until_idle(tb->m);
	assert_int_equal(ik_irq_domain_free_irqs(lines[0].irq, n), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_spurious(tb), 0);
	assert_int_equal(testbed_fini(tb), 0);
}

/* ---- Disable / enable ------------------------------------------------------------ */

/*
 * Lazy disable: ik_disable_irq() only marks the line; the device is not
 * masked until an interrupt actually arrives, which masks the line, is kept
 * PENDING instead of being handled, and is replayed exactly once by
 * ik_enable_irq().
 */
static void test_lazy_disable_replay(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 3 };
	struct line l;
	struct ik_irq_info info;

	setup_lines(&tb, &o, &l, 1);
	assert_int_equal(do_request(&l, 0), 0);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, 0);
	fire(&l);
	assert_int_equal(l.runs, 1);

	assert_int_equal(do_disable(&l), 0);
	info = info_of(&l);
	assert_int_equal(info.depth, 1);
	assert_true(info.state & IK_IRQD_DISABLED);
	assert_false(info.state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, 0);  /* not masked yet */

	fire(&l);
	assert_int_equal(l.runs, 1);                        /* not handled ... */
	info = info_of(&l);
	assert_true(info.istate & IK_IRQS_PENDING);         /* ... but kept */
	assert_true(info.state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, CTRL_MASK);
	assert_int_equal(ik_irq_count(l.irq), 0 + 1);       /* only the handled one counts */

	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 2);                        /* replayed once */
	info = info_of(&l);
	assert_int_equal(info.depth, 0);
	assert_int_equal(info.istate & (IK_IRQS_PENDING | IK_IRQS_REPLAY), 0);
	assert_int_equal(info.state & (IK_IRQD_DISABLED | IK_IRQD_MASKED), 0);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 2);                        /* and only once */

	fire(&l);
	assert_int_equal(l.runs, 3);
	assert_int_equal(sim_testdev_fired(tb.dev, 0), 3);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/*
 * A device that keeps firing while its line is disabled: the first edge
 * masks the line and is kept PENDING, the rest are latched by the masked
 * device; the enable replays them as one interrupt, no storm.
 */
static void test_disabled_device_keeps_firing(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 15 };
	struct line l;

	setup_lines(&tb, &o, &l, 1);
	assert_int_equal(do_request(&l, 0), 0);
	assert_int_equal(do_disable(&l), 0);
	for (unsigned int i = 0; i < 20; i++)
		fire(&l);
	assert_int_equal(l.runs, 0);
	assert_int_equal(sim_testdev_sent(tb.dev, 0), 1);     /* only the first got out */
	assert_int_equal(dev_ctrl(&tb, 0), CTRL_MASK | CTRL_PENDING);
	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 1);
	assert_int_equal(info_of(&l).istate & (IK_IRQS_PENDING | IK_IRQS_REPLAY), 0);
	assert_int_equal(dev_ctrl(&tb, 0), 0);
	fire(&l);
	assert_int_equal(l.runs, 2);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/* A line disabled from its own handler (nosync, atomic context) replays the next edge on enable. */
static void disable_self_hook(struct line *l)
{
	if (l->runs == 1)
		assert_int_equal(ik_disable_irq_nosync(l->irq), 0);
}

static void test_disable_from_handler(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 4 };
	struct line l;

	setup_lines(&tb, &o, &l, 1);
	l.hook = disable_self_hook;
	assert_int_equal(do_request(&l, 0), 0);
	fire(&l);
	assert_int_equal(l.runs, 1);
	assert_int_equal(info_of(&l).depth, 1);
	fire(&l);
	fire(&l);
	assert_int_equal(l.runs, 1);
	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	/* Two edges while disabled: the first was kept pending, the second latched
	 * by the masked device; both are delivered (they may merge into one). */
	assert_true(l.runs == 2 || l.runs == 3);
	fire(&l);
	assert_true(l.runs >= 3);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/*
 * Disables nest: two disables need two enables before the line runs
 * again; an unbalanced enable is refused with -IK_EINVAL, reported, and
 * changes nothing.
 */
static void test_disable_depth(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 5 };
	struct line l;
	struct ik_irq_info before, after;
	uint64_t warns;

	setup_lines(&tb, &o, &l, 1);
	assert_int_equal(do_request(&l, 0), 0);
	assert_int_equal(do_disable(&l), 0);
	assert_int_equal(do_disable(&l), 0);
	assert_int_equal(info_of(&l).depth, 2);
	fire(&l);
	assert_int_equal(l.runs, 0);
	assert_int_equal(do_enable(&l), 0);
	assert_int_equal(info_of(&l).depth, 1);
	assert_true(info_of(&l).state & IK_IRQD_DISABLED);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 0);                    /* still disabled */
	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 1);                    /* the pending edge, once */

	before = info_of(&l);
	warns = sim_port_warnings();
	assert_int_equal(do_enable(&l), -IK_EINVAL);
	assert_true(sim_port_warnings() > warns);
	after = info_of(&l);
	assert_int_equal(after.depth, 0);
	assert_int_equal(after.state, before.state);
	assert_int_equal(after.istate, before.istate);
	fire(&l);
	assert_int_equal(l.runs, 2);
	/* A disable after the refused enable still takes one enable. */
	assert_int_equal(do_disable(&l), 0);
	fire(&l);
	assert_int_equal(l.runs, 2);
	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 3);

	assert_int_equal(ik_enable_irq(l.irq + 1), -IK_ENOENT);
	assert_int_equal(ik_disable_irq_nosync(l.irq + 1), -IK_ENOENT);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/*
 * IK_IRQF_NO_AUTOEN: the request activates but does not start the line
 * (depth 1); an edge meanwhile is held by the masked device and delivered
 * by the first ik_enable_irq(), which starts the line.
 */
static void test_no_autoen(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 6 };
	struct line l;
	struct ik_irq_info info;

	setup_lines(&tb, &o, &l, 1);
	assert_int_equal(do_request(&l, IK_IRQF_NO_AUTOEN), 0);
	info = info_of(&l);
	assert_int_equal(info.depth, 1);
	assert_true(info.state & IK_IRQD_ACTIVATED);
	assert_false(info.state & IK_IRQD_STARTED);
	assert_true(info.state & IK_IRQD_DISABLED);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, CTRL_MASK);

	fire(&l);
	assert_int_equal(l.runs, 0);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_PENDING, CTRL_PENDING);
	assert_int_equal(do_enable(&l), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 1);
	info = info_of(&l);
	assert_int_equal(info.depth, 0);
	assert_true(info.state & IK_IRQD_STARTED);
	assert_int_equal(dev_ctrl(&tb, 0), 0);
	fire(&l);
	assert_int_equal(l.runs, 2);
	assert_int_equal(do_enable(&l), -IK_EINVAL);
	assert_int_equal(do_free(&l), 0);

	/* Shared lines cannot be requested without auto-enable. */
	assert_int_equal(do_request(&l, IK_IRQF_NO_AUTOEN | IK_IRQF_SHARED), -IK_EINVAL);
	teardown_lines(&tb, &l, 1);
}

/* ---- Edge while the handler runs elsewhere -------------------------------------- */

static unsigned int other_cpu;
static bool saw_pending_elsewhere;

/*
 * First run, on CPU A: move the line to CPU B and fire the device again.
 * The message goes to B, whose flow handler finds the line in progress,
 * marks it PENDING and masks it; A's flow handler then runs the handler
 * again.
 */
static void move_and_refire_hook(struct line *l)
{
	ik_cpumask_t mask;

	if (l->runs != 1)
		return;
	ik_cpumask_clear(&mask);
	ik_cpumask_set_cpu(other_cpu, &mask);
	assert_int_equal(ik_irq_set_affinity(l->irq, &mask), 0);
	sim_testdev_fire(l->tb->dev, l->slot);
	for (unsigned int i = 0; i < 10000 && !saw_pending_elsewhere; i++) {
		struct ik_irq_info info;

		ik_os_cpu_relax();
		assert_int_equal(ik_irq_get_info(l->irq, &info), 0);
		saw_pending_elsewhere = (info.istate & IK_IRQS_PENDING) != 0;
	}
}

static void test_edge_while_in_progress(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 7, .interleave_permille = 1000 };
	struct line l;
	struct ik_x86_irq_target t;
	unsigned int cpu_a;

	setup_lines(&tb, &o, &l, 1);
	assert_int_equal(do_request(&l, 0), 0);
	assert_int_equal(ik_x86_irq_target(l.irq, &t), 0);
	cpu_a = t.cpu;
	other_cpu = (cpu_a + 1) % 4;
	saw_pending_elsewhere = false;
	l.hook = move_and_refire_hook;

	fire(&l);
	assert_true(saw_pending_elsewhere);
	assert_int_equal(sim_testdev_fired(tb.dev, 0), 2);
	assert_int_equal(l.runs, 2);            /* runs == fires */
	assert_int_equal(l.last_cpu, cpu_a);    /* both on A: B only kept the edge */
	assert_int_equal(ik_irq_count_cpu(l.irq, cpu_a), 1);
	assert_int_equal(ik_irq_count_cpu(l.irq, other_cpu), 0);
	assert_int_equal(info_of(&l).istate & IK_IRQS_PENDING, 0);
	assert_false(info_of(&l).state & IK_IRQD_MASKED);
	assert_int_equal(dev_ctrl(&tb, 0) & CTRL_MASK, 0);

	/* The line now lives on B and keeps working. */
	fire(&l);
	assert_int_equal(l.runs, 3);
	assert_int_equal(l.last_cpu, other_cpu);
	assert_int_equal(ik_irq_count_cpu(l.irq, other_cpu), 1);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/* An edge raised by the handler on its own CPU is taken after it returns: two runs. */
static void refire_same_cpu_hook(struct line *l)
{
	if (l->runs == 1)
		sim_testdev_fire(l->tb->dev, l->slot);
}

static void test_edge_from_own_handler(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 8 };
	struct line l;

	setup_lines(&tb, &o, &l, 1);
	l.hook = refire_same_cpu_hook;
	assert_int_equal(do_request(&l, 0), 0);
	fire(&l);
	assert_int_equal(l.runs, 2);
	assert_int_equal(ik_irq_count(l.irq), 2);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/* ---- Shared handlers ------------------------------------------------------------- */

/*
 * Shared lines: every action runs on each interrupt (an action returning
 * IK_IRQ_NONE does not make the line unhandled when another handled it);
 * sharing needs IK_IRQF_SHARED on both sides, a distinct non-NULL dev_id;
 * a mismatch is reported unless IK_IRQF_PROBE_SHARED; freeing one action
 * keeps the other.
 */
static void test_shared(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 9 };
	struct line a, b;
	struct ik_irq_info info;
	uint64_t warns;

	setup_lines(&tb, &o, &a, 1);
	b = a;
	a.ret = IK_IRQ_NONE;
	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST, .flags = IK_IRQF_SHARED,
						    .name = "a" }), 0);
	assert_int_equal(do_call(&b, (struct call){ .op = OP_REQUEST, .flags = IK_IRQF_SHARED,
						    .name = "b" }), 0);
	info = info_of(&a);
	assert_int_equal(info.nr_actions, 2);
	assert_string_equal(info.action_name, "a");
	fire(&a);
	assert_int_equal(a.runs, 1);
	assert_int_equal(b.runs, 1);
	assert_int_equal(info_of(&a).unhandled, 0);

	/* Same dev_id twice, a non-shared newcomer, NULL dev_id. */
	warns = sim_port_warnings();
	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST, .flags = IK_IRQF_SHARED }),
			 -IK_EBUSY);
	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST, .dev_id = &warns }),
			 -IK_EBUSY);
	assert_true(sim_port_warnings() > warns);
	warns = sim_port_warnings();
	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST, .dev_id = &warns,
						    .flags = IK_IRQF_PROBE_SHARED }),
			 -IK_EBUSY);
	assert_int_equal(sim_port_warnings(), warns);
	assert_int_equal(ik_request_irq(a.irq, line_handler, IK_IRQF_SHARED, "null", NULL),
			 -IK_EINVAL);
	assert_int_equal(info_of(&a).nr_actions, 2);

	assert_int_equal(do_call(&a, (struct call){ .op = OP_FREE }), 0);
	assert_int_equal(do_call(&a, (struct call){ .op = OP_FREE }), -IK_ENOENT);
	info = info_of(&b);
	assert_int_equal(info.nr_actions, 1);
	assert_string_equal(info.action_name, "b");
	assert_true(info.state & IK_IRQD_STARTED);
	fire(&b);
	assert_int_equal(a.runs, 1);
	assert_int_equal(b.runs, 2);
	assert_int_equal(do_free(&b), 0);

	/* A non-shared owner refuses a shared newcomer. */
	assert_int_equal(do_request(&a, 0), 0);
	assert_int_equal(do_call(&b, (struct call){ .op = OP_REQUEST, .flags = IK_IRQF_SHARED,
						    .dev_id = &b.runs }),
			 -IK_EBUSY);
	assert_int_equal(info_of(&a).nr_actions, 1);
	assert_int_equal(do_free(&a), 0);
	teardown_lines(&tb, &a, 1);
}

/* ---- A plain chip that is not oneshot-safe, driven by software ------------------- */

struct plain_state {
	unsigned int masks, unmasks, eois;
	bool masked;
};

static struct plain_state plain;

static void plain_mask(struct ik_irq_data *d)
{
	plain.masks++;
	plain.masked = true;
}

static void plain_unmask(struct ik_irq_data *d)
{
	plain.unmasks++;
	plain.masked = false;
}

static void plain_eoi(struct ik_irq_data *d)
{
	plain.eois++;
}

static const struct ik_irq_chip plain_chip = {
	.name = "PLAIN",
	.irq_mask = plain_mask,
	.irq_unmask = plain_unmask,
	.irq_eoi = plain_eoi,
};

static int plain_alloc(struct ik_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_info(d, virq + i, i, &plain_chip, NULL, ik_handle_fasteoi_irq,
				       NULL);
	return 0;
}

static void plain_free(struct ik_irq_domain *d, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(d, virq + i));
}

static const struct ik_irq_domain_ops plain_ops = { .alloc = plain_alloc, .free = plain_free };

struct plain_fire {
	unsigned int irq;
	bool masked_after;
	uint64_t thread_runs_after;
	struct line *l;
};

/* Runs as an interrupt on CPU 1 (a cross-CPU call is interrupt context). */
static void plain_irq_fn(void *arg)
{
	struct plain_fire *pf = arg;

	assert_int_equal(ik_generic_handle_irq(pf->irq), 0);
	pf->masked_after = plain.masked;
	pf->thread_runs_after = pf->l->thread_runs;
}

static void plain_fire_fn(void *arg)
{
	assert_int_equal(ik_os_cpu_call(1, plain_irq_fn, arg, true), 0);
}

/*
 * Flags that must match on a shared line (IK_IRQF_ONESHOT) do, on a chip
 * that is not oneshot-safe; a NULL primary handler means "wake the thread"
 * and implies IK_IRQF_ONESHOT there: the line stays masked after the hard
 * interrupt and is unmasked once the thread has run.
 */
static void test_oneshot_plain_chip(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 10 };
	struct ik_irq_domain *dom;
	struct line a = { .tb = &tb, .ret = IK_IRQ_WAKE_THREAD }, b;
	struct plain_fire pf;
	int virq;

	testbed_init(&tb, &o);
	dom = ik_irq_domain_create_hierarchy(NULL, 0, 0, "PLAIN", &plain_ops, NULL);
	assert_non_null(dom);
	virq = ik_irq_domain_alloc_irqs(dom, 1, NULL, NULL);
	assert_true(virq > 0);
	a.irq = (unsigned int)virq;
	b = a;
	memset(&plain, 0, sizeof(plain));

	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST_THREADED,
						    .handler = line_handler,
						    .thread_fn = line_thread,
						    .flags = IK_IRQF_SHARED | IK_IRQF_ONESHOT }),
			 0);
	/* Not oneshot: flags mismatch. */
	assert_int_equal(do_call(&b, (struct call){ .op = OP_REQUEST_THREADED,
						    .handler = line_handler,
						    .thread_fn = line_thread,
						    .dev_id = &b,
						    .flags = IK_IRQF_SHARED }),
			 -IK_EBUSY);
	assert_int_equal(info_of(&a).nr_actions, 1);
	assert_int_equal(do_call(&a, (struct call){ .op = OP_FREE }), 0);

	/* handler == NULL: the default primary wakes the thread, oneshot implied. */
	assert_int_equal(do_call(&a, (struct call){ .op = OP_REQUEST_THREADED,
						    .thread_fn = line_thread }),
			 0);
	assert_true(info_of(&a).istate & IK_IRQS_ONESHOT);
	pf = (struct plain_fire){ .irq = a.irq, .l = &a };
	testbed_on_cpu(&tb, 0, plain_fire_fn, &pf);
	assert_true(pf.masked_after);           /* masked until the thread ran */
	assert_int_equal(pf.thread_runs_after, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(a.thread_runs, 1);
	assert_false(a.thread_saw_irqs_off);
	assert_false(plain.masked);
	assert_int_equal(plain.eois, 1);
	assert_int_equal(a.runs, 0);            /* our primary was never installed */

	/* A oneshot line replays nothing and stays usable. */
	testbed_on_cpu(&tb, 0, plain_fire_fn, &pf);
	sim_run_until_idle(tb.m);
	assert_int_equal(a.thread_runs, 2);
	assert_false(plain.masked);
	assert_int_equal(do_call(&a, (struct call){ .op = OP_FREE }), 0);

	assert_int_equal(ik_irq_domain_free_irqs(a.irq, 1), 0);
	assert_int_equal(ik_irq_domain_remove(dom), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* ---- Threaded handlers ----------------------------------------------------------- */

/*
 * A primary handler returning IK_IRQ_WAKE_THREAD gets its thread run in
 * sleepable context (interrupts on) once per wake-up; handler == NULL
 * wakes the thread directly; waking a thread that does not exist is
 * reported and treated as handled.
 */
static void test_threaded(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 11 };
	struct line l;
	uint64_t warns;

	setup_lines(&tb, &o, &l, 1);
	l.ret = IK_IRQ_WAKE_THREAD;
	assert_int_equal(do_call(&l, (struct call){ .op = OP_REQUEST_THREADED,
						    .handler = line_handler,
						    .thread_fn = line_thread }),
			 0);
	/* The testbed chip is oneshot-safe: no oneshot masking. */
	assert_false(info_of(&l).istate & IK_IRQS_ONESHOT);
	for (unsigned int i = 1; i <= 3; i++) {
		fire(&l);
		assert_int_equal(l.runs, i);
		assert_int_equal(l.thread_runs, i);
	}
	assert_false(l.thread_saw_irqs_off);
	assert_int_equal(info_of(&l).unhandled, 0);
	assert_int_equal(do_free(&l), 0);

	l.runs = l.thread_runs = 0;
	assert_int_equal(do_call(&l, (struct call){ .op = OP_REQUEST_THREADED,
						    .thread_fn = line_thread }),
			 0);
	fire(&l);
	assert_int_equal(l.runs, 0);
	assert_int_equal(l.thread_runs, 1);
	assert_int_equal(ik_irq_count(l.irq), 4);       /* counts survive requests */
	assert_int_equal(do_free(&l), 0);

	assert_int_equal(ik_request_threaded_irq(l.irq, NULL, NULL, 0, "none", &l), -IK_EINVAL);

	/* No thread to wake. */
	l.runs = 0;
	assert_int_equal(do_request(&l, 0), 0);
	warns = sim_port_warnings();
	fire(&l);
	assert_int_equal(l.runs, 1);
	assert_true(sim_port_warnings() > warns);
	assert_int_equal(info_of(&l).unhandled, 0);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

/*
 * ik_free_irq() waits for a thread that is running: with real host threads,
 * the thread sleeps while the free is issued from another CPU, and the
 * free returns only after the thread finished.
 */
static void test_free_waits_for_thread(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 12, .threaded = true };
	struct line l;
	struct call c = { .op = OP_FREE };

	setup_lines(&tb, &o, &l, 1);
	l.ret = IK_IRQ_WAKE_THREAD;
	l.thread_sleep_ms = 50;
	assert_int_equal(do_call(&l, (struct call){ .op = OP_REQUEST_THREADED,
						    .handler = line_handler,
						    .thread_fn = line_thread }),
			 0);
	sim_testdev_fire(tb.dev, 0);
	for (unsigned int i = 0; i < 5000 && !__atomic_load_n(&l.thread_started, __ATOMIC_ACQUIRE);
	     i++) {
		struct timespec ts = { 0, 1000000L };

		nanosleep(&ts, NULL);
	}
	assert_true(__atomic_load_n(&l.thread_started, __ATOMIC_ACQUIRE));
	assert_false(__atomic_load_n(&l.thread_done, __ATOMIC_ACQUIRE));
	c.l = &l;
	testbed_on_cpu(&tb, 1, call_fn, &c);
	assert_int_equal(c.ret, 0);
	assert_true(c.thread_done_at_return);
	assert_int_equal(__atomic_load_n(&l.thread_runs, __ATOMIC_RELAXED), 1);
	assert_int_equal(__atomic_load_n(&l.runs, __ATOMIC_RELAXED), 1);
	teardown_lines(&tb, &l, 1);
}

/* ---- Counters, info, argument checks ---------------------------------------------- */

/*
 * ik_irq_count_cpu() counts on the CPU that handled the interrupt, and
 * ik_irq_get_info() reports the state, depth, actions and chip.
 */
static void test_counters_and_info(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 13 };
	struct line l;
	struct ik_irq_info info;

	setup_lines(&tb, &o, &l, 1);
	info = info_of(&l);
	assert_int_equal(info.irq, l.irq);
	assert_int_equal(info.depth, 1);
	assert_int_equal(info.nr_actions, 0);
	assert_null(info.action_name);
	assert_string_equal(info.chip_name, "TESTDEV");
	assert_false(info.state & IK_IRQD_ACTIVATED);
	assert_false(info.istate & IK_IRQS_NOREQUEST);

	assert_int_equal(do_call(&l, (struct call){ .op = OP_REQUEST, .name = "counted" }), 0);
	info = info_of(&l);
	assert_int_equal(info.depth, 0);
	assert_int_equal(info.nr_actions, 1);
	assert_string_equal(info.action_name, "counted");
	assert_true(info.state & IK_IRQD_ACTIVATED);
	assert_true(info.state & IK_IRQD_STARTED);
	assert_int_equal(info.state & (IK_IRQD_DISABLED | IK_IRQD_MASKED), 0);
	assert_int_equal(info.unhandled, 0);
	assert_int_equal(info.spurious_disables, 0);

	assert_int_equal(do_affinity_cpu(&l, 2), 0);
	for (unsigned int i = 0; i < 3; i++)
		fire(&l);
	assert_int_equal(do_affinity_cpu(&l, 3), 0);
	fire(&l);
	assert_int_equal(l.runs, 4);
	assert_int_equal(l.last_cpu, 3);
	assert_int_equal(ik_irq_count_cpu(l.irq, 0), 0);
	assert_int_equal(ik_irq_count_cpu(l.irq, 1), 0);
	assert_int_equal(ik_irq_count_cpu(l.irq, 2), 3);
	assert_int_equal(ik_irq_count_cpu(l.irq, 3), 1);
	assert_int_equal(ik_irq_count_cpu(l.irq, 4), 0);
	assert_int_equal(ik_irq_count(l.irq), 4);
	{
		ik_cpumask_t eff;

		assert_int_equal(ik_irq_get_effective_affinity(l.irq, &eff), 0);
		assert_true(ik_cpumask_test_cpu(3, &eff));
		assert_int_equal(ik_cpumask_weight(&eff), 1);
	}
	assert_int_equal(do_free(&l), 0);
	/* Counters survive a free/request cycle of the handler. */
	assert_int_equal(ik_irq_count(l.irq), 4);
	info = info_of(&l);
	assert_int_equal(info.nr_actions, 0);
	assert_false(info.state & IK_IRQD_ACTIVATED);
	assert_int_equal(info.depth, 1);
	teardown_lines(&tb, &l, 1);
}

/* Requests and frees on interrupts that are not allocated are refused. */
static void test_bad_arguments(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 14 };
	struct line l, ghost;

	setup_lines(&tb, &o, &l, 1);
	ghost = l;
	ghost.irq = l.irq + 7;
	assert_int_equal(do_request(&ghost, 0), -IK_ENOENT);
	assert_int_equal(do_free(&ghost), -IK_ENOENT);
	assert_int_equal(do_free(&l), -IK_ENOENT);              /* nothing requested */
	assert_int_equal(ik_request_irq(0, line_handler, 0, "zero", &l), -IK_ENOENT);
	assert_int_equal(ik_request_irq(IK_NR_IRQS_MAX + 5, line_handler, 0, "big", &l),
			 -IK_ENOENT);
	assert_int_equal(ik_synchronize_irq(ghost.irq), -IK_ENOENT);
	assert_int_equal(ik_irq_set_affinity(ghost.irq, ik_cpu_online_mask()), -IK_ENOENT);
	{
		ik_cpumask_t none;

		ik_cpumask_clear(&none);
		assert_int_equal(ik_irq_set_affinity(l.irq, &none), -IK_EINVAL);
	}
	assert_int_equal(do_request(&l, 0), 0);
	assert_int_equal(do_free(&ghost), -IK_ENOENT);
	assert_int_equal(do_call(&l, (struct call){ .op = OP_FREE, .dev_id = &ghost }),
			 -IK_ENOENT);
	assert_int_equal(info_of(&l).nr_actions, 1);
	fire(&l);
	assert_int_equal(l.runs, 1);
	assert_int_equal(do_free(&l), 0);
	teardown_lines(&tb, &l, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_disable_replay),
		cmocka_unit_test(test_disabled_device_keeps_firing),
		cmocka_unit_test(test_disable_from_handler),
		cmocka_unit_test(test_disable_depth),
		cmocka_unit_test(test_no_autoen),
		cmocka_unit_test(test_edge_while_in_progress),
		cmocka_unit_test(test_edge_from_own_handler),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_oneshot_plain_chip),
		cmocka_unit_test(test_threaded),
		cmocka_unit_test(test_free_waits_for_thread),
		cmocka_unit_test(test_counters_and_info),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
