// SPDX-License-Identifier: BSD-2-Clause
/*
 * Domain hierarchies (src/core/irqdomain.c with the x86 vector domain as
 * root): per-level data of a 3-level allocation, reverse maps and
 * mapcounts at every level, activation order and its unwinding, failure
 * injection at every allocation of a 3-level allocation, and refused
 * frees and removals that must change nothing.
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

#include "testbed.h"

/* ---- Helpers ------------------------------------------------------------ */

struct line {
	struct testbed *tb;
	unsigned int irq;
	int ret;
	uint64_t runs;
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	return IK_IRQ_HANDLED;
}

static void request_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_request_irq(l->irq, line_handler, 0, "line", l);
}

static void free_fn(void *arg)
{
	struct line *l = arg;

	l->ret = ik_free_irq(l->irq, l);
}

/* Request, fire slot @slot once, check the handler ran once, free. */
static void check_line_works(struct testbed *tb, unsigned int irq, unsigned int slot)
{
	struct line l = { .tb = tb, .irq = irq };

	testbed_on_cpu(tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	sim_testdev_fire(tb->dev, slot);
	sim_run_until_idle(tb->m);
	assert_int_equal(l.runs, 1);
	testbed_on_cpu(tb, 0, free_fn, &l);
	assert_int_equal(l.ret, 0);
}

/* What the vector matrix looks like: per-CPU counters and global reservations. */
struct matrix_snap {
	struct ik_irq_matrix_cpu_stats cpu[8];
	unsigned int reserved;
};

static void matrix_snap(struct testbed *tb, struct matrix_snap *s)
{
	memset(s, 0, sizeof(*s));
	assert_true(tb->nr_cpus <= IK_ARRAY_SIZE(s->cpu));
	for (unsigned int cpu = 0; cpu < tb->nr_cpus; cpu++)
		assert_int_equal(ik_x86_matrix_cpu_stats(cpu, &s->cpu[cpu]), 0);
	s->reserved = ik_x86_matrix_reserved();
}

static void assert_matrix_same(struct testbed *tb, const struct matrix_snap *want)
{
	struct matrix_snap now;

	assert_int_equal(ik_x86_matrix_check(), 0);
	matrix_snap(tb, &now);
	for (unsigned int cpu = 0; cpu < tb->nr_cpus; cpu++) {
		assert_int_equal(now.cpu[cpu].available, want->cpu[cpu].available);
		assert_int_equal(now.cpu[cpu].allocated, want->cpu[cpu].allocated);
		assert_int_equal(now.cpu[cpu].managed, want->cpu[cpu].managed);
		assert_int_equal(now.cpu[cpu].managed_allocated, want->cpu[cpu].managed_allocated);
	}
	assert_int_equal(now.reserved, want->reserved);
}

/* ---- Structure of a 3-level allocation ------------------------------------ */

/*
 * device -> shim -> vector: every interrupt has one irq_data per level,
 * outermost first, with that level's domain, chip and hwirq, all sharing
 * the descriptor's common data; each level's reverse map finds it; the
 * mapcounts count it once per level; the vector level holds a global
 * reservation until the interrupt is requested.
 */
static void test_three_level_structure(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 11, .with_shim = true };
	struct ik_irq_domain *vecdom;
	unsigned int reserved0;
	int virq;

	testbed_init(&tb, &o);
	vecdom = ik_x86_vector_domain();
	assert_ptr_equal(ik_irq_domain_parent(tb.devdom), tb.shim);
	assert_ptr_equal(ik_irq_domain_parent(tb.shim), vecdom);
	assert_null(ik_irq_domain_parent(vecdom));
	reserved0 = ik_x86_matrix_reserved();

	virq = testbed_alloc(&tb, 8, 4, NULL);
	assert_true(virq > 0);
	assert_int_equal(ik_irq_domain_mapcount(tb.devdom), 4);
	assert_int_equal(ik_irq_domain_mapcount(tb.shim), 4);
	assert_int_equal(ik_irq_domain_mapcount(vecdom), 4);
	assert_int_equal(ik_x86_matrix_reserved(), reserved0 + 4);

	for (unsigned int i = 0; i < 4; i++) {
		unsigned int irq = (unsigned int)virq + i;
		struct ik_irq_data *outer = ik_irq_get_irq_data(irq);
		struct ik_irq_data *mid, *root;
		struct ik_x86_irq_target t;

		assert_non_null(outer);
		mid = outer->parent_data;
		assert_non_null(mid);
		root = mid->parent_data;
		assert_non_null(root);
		assert_null(root->parent_data);

		assert_ptr_equal(outer->domain, tb.devdom);
		assert_ptr_equal(mid->domain, tb.shim);
		assert_ptr_equal(root->domain, vecdom);
		assert_string_equal(outer->chip->name, "TESTDEV");
		assert_string_equal(mid->chip->name, "SHIM");
		assert_string_equal(root->chip->name, "APIC");
		assert_int_equal(outer->hwirq, 8 + i);
		assert_int_equal(mid->hwirq, irq);
		assert_int_equal(root->hwirq, irq);
		assert_int_equal(outer->irq, irq);
		assert_int_equal(mid->irq, irq);
		assert_int_equal(root->irq, irq);
		assert_ptr_equal(mid->common, outer->common);
		assert_ptr_equal(root->common, outer->common);
		assert_ptr_equal(ik_irq_data_to_desc(root), ik_irq_to_desc(irq));

		assert_ptr_equal(ik_irq_domain_get_irq_data(tb.devdom, irq), outer);
		assert_ptr_equal(ik_irq_domain_get_irq_data(tb.shim, irq), mid);
		assert_ptr_equal(ik_irq_domain_get_irq_data(vecdom, irq), root);

		assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 8 + i), (int)irq);
		assert_int_equal(ik_irq_domain_find_mapping(tb.shim, irq), (int)irq);
		assert_int_equal(ik_irq_domain_find_mapping(vecdom, irq), (int)irq);
		assert_int_equal(testbed_slot_of(&tb, irq), 8 + i);

		/* Allocated, not activated: a reservation and the placeholder vector. */
		assert_int_equal(ik_x86_irq_target(irq, &t), 0);
		assert_true(t.has_reserved);
		assert_int_equal(t.vector, IK_X86_SHUTDOWN_VECTOR);
		assert_false(ik_irqd_test(outer, IK_IRQD_ACTIVATED));
	}
	assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 7), -IK_ENOENT);
	assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 12), -IK_ENOENT);

	/* Requesting activates: the reservation becomes a real vector. */
	{
		struct line l = { .tb = &tb, .irq = (unsigned int)virq + 1 };
		struct ik_x86_irq_target t;

		testbed_on_cpu(&tb, 0, request_fn, &l);
		assert_int_equal(l.ret, 0);
		assert_true(ik_irqd_test(ik_irq_get_irq_data(l.irq), IK_IRQD_ACTIVATED));
		assert_int_equal(ik_x86_irq_target(l.irq, &t), 0);
		assert_false(t.has_reserved);
		assert_int_not_equal(t.vector, IK_X86_SHUTDOWN_VECTOR);
		assert_int_equal(ik_x86_matrix_reserved(), reserved0 + 3);
		sim_testdev_fire(tb.dev, 9);
		sim_run_until_idle(tb.m);
		assert_int_equal(l.runs, 1);
		assert_int_equal(ik_irq_count_cpu(l.irq, t.cpu), 1);
		testbed_on_cpu(&tb, 0, free_fn, &l);
		assert_int_equal(l.ret, 0);
		assert_false(ik_irqd_test(ik_irq_get_irq_data(l.irq), IK_IRQD_ACTIVATED));
		assert_int_equal(ik_x86_irq_target(l.irq, &t), 0);
		assert_true(t.has_reserved);
		assert_int_equal(ik_x86_matrix_reserved(), reserved0 + 4);
	}

	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 4), 0);
	assert_int_equal(ik_irq_domain_mapcount(tb.devdom), 0);
	assert_int_equal(ik_irq_domain_mapcount(tb.shim), 0);
	assert_int_equal(ik_irq_domain_mapcount(vecdom), 0);
	assert_int_equal(ik_x86_matrix_reserved(), reserved0);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 8 + i), -IK_ENOENT);
		assert_int_equal(ik_irq_domain_find_mapping(tb.shim, (unsigned int)virq + i),
				 -IK_ENOENT);
		assert_int_equal(ik_irq_domain_find_mapping(vecdom, (unsigned int)virq + i),
				 -IK_ENOENT);
		assert_null(ik_irq_to_desc((unsigned int)virq + i));
	}
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* ---- A recording 3-level stack ---------------------------------------------- */

struct rec_level {
	char tag;
	uint64_t hwirq_base;
	bool hwirq_from_arg;    /* hwirq = *(uint64_t *)arg + i instead */
	int fail_activate;      /* returned by activate when non-zero */
};

static char rec_log[128];

static void rec_note(char tag, char what)
{
	size_t n = strlen(rec_log);

	assert_true(n + 2 < sizeof(rec_log));
	rec_log[n] = tag;
	rec_log[n + 1] = what;
	rec_log[n + 2] = '\0';
}

static const struct ik_irq_chip rec_chip = { .name = "REC" };

static int rec_alloc(struct ik_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct rec_level *lv = ik_irq_domain_host_data(d);
	int ret;

	if (ik_irq_domain_parent(d)) {
		ret = ik_irq_domain_alloc_irqs_parent(d, virq, nr, arg);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t hwirq = lv->hwirq_from_arg && arg ? *(const uint64_t *)arg + i :
							     lv->hwirq_base + virq + i;

		ret = ik_irq_domain_set_info(d, virq + i, hwirq, &rec_chip, lv,
					     ik_handle_simple_irq, NULL);
		if (ret) {
			ik_irq_domain_free_irqs_parent(d, virq, nr);
			return ret;
		}
	}
	return 0;
}

static void rec_free(struct ik_irq_domain *d, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(d, virq + i));
	ik_irq_domain_free_irqs_parent(d, virq, nr);
}

static int rec_activate(struct ik_irq_domain *d, struct ik_irq_data *data, bool reserve)
{
	struct rec_level *lv = ik_irq_domain_host_data(d);

	assert_ptr_equal(data->domain, d);
	if (lv->fail_activate) {
		rec_note(lv->tag, '!');
		return lv->fail_activate;
	}
	rec_note(lv->tag, '+');
	return 0;
}

static void rec_deactivate(struct ik_irq_domain *d, struct ik_irq_data *data)
{
	struct rec_level *lv = ik_irq_domain_host_data(d);

	assert_ptr_equal(data->domain, d);
	rec_note(lv->tag, '-');
}

static const struct ik_irq_domain_ops rec_ops = {
	.alloc = rec_alloc,
	.free = rec_free,
	.activate = rec_activate,
	.deactivate = rec_deactivate,
};

struct rec_stack {
	struct rec_level lv[3];         /* root, middle, leaf */
	struct ik_irq_domain *dom[3];
};

static void rec_stack_create(struct rec_stack *s)
{
	static const char tags[3] = { 'R', 'M', 'L' };

	for (unsigned int i = 0; i < 3; i++) {
		s->lv[i] = (struct rec_level){ .tag = tags[i], .hwirq_base = 1000 * (i + 1) };
		s->dom[i] = ik_irq_domain_create_hierarchy(i ? s->dom[i - 1] : NULL, 0, 0,
							   i == 0 ? "REC-R" : i == 1 ? "REC-M" : "REC-L",
							   &rec_ops, &s->lv[i]);
		assert_non_null(s->dom[i]);
	}
}

static void rec_stack_destroy(struct rec_stack *s)
{
	/* A parent with children cannot go first. */
	assert_int_equal(ik_irq_domain_remove(s->dom[0]), -IK_EBUSY);
	assert_int_equal(ik_irq_domain_remove(s->dom[1]), -IK_EBUSY);
	for (unsigned int i = 3; i-- > 0;)
		assert_int_equal(ik_irq_domain_remove(s->dom[i]), 0);
}

static int activate_locked(unsigned int irq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags = ik_irq_desc_lock(desc);
	int ret = ik_irq_domain_activate_irq(ik_irq_desc_get_irq_data(desc), false);

	ik_irq_desc_unlock(desc, flags);
	return ret;
}

static void deactivate_locked(unsigned int irq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags = ik_irq_desc_lock(desc);

	ik_irq_domain_deactivate_irq(ik_irq_desc_get_irq_data(desc));
	ik_irq_desc_unlock(desc, flags);
}

/*
 * Activation programs the root first and deactivation the outermost level
 * first; activating twice is a no-op; request and free do the same walk.
 */
static void test_activation_order(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 5 };
	struct rec_stack s;
	struct line l = { .tb = &tb };
	int virq;

	testbed_init(&tb, &o);
	rec_stack_create(&s);
	virq = ik_irq_domain_alloc_irqs(s.dom[2], 2, NULL, NULL);
	assert_true(virq > 0);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(ik_irq_domain_mapcount(s.dom[i]), 2);
		assert_int_equal(ik_irq_domain_find_mapping(s.dom[i], s.lv[i].hwirq_base + virq + 1),
				 virq + 1);
	}
	assert_string_equal(rec_log, "");

	assert_int_equal(activate_locked((unsigned int)virq), 0);
	assert_string_equal(rec_log, "R+M+L+");
	assert_true(ik_irqd_test(ik_irq_get_irq_data((unsigned int)virq), IK_IRQD_ACTIVATED));
	assert_int_equal(activate_locked((unsigned int)virq), 0);
	assert_string_equal(rec_log, "R+M+L+");
	rec_log[0] = '\0';
	deactivate_locked((unsigned int)virq);
	assert_string_equal(rec_log, "L-M-R-");
	assert_false(ik_irqd_test(ik_irq_get_irq_data((unsigned int)virq), IK_IRQD_ACTIVATED));
	deactivate_locked((unsigned int)virq);
	assert_string_equal(rec_log, "L-M-R-");

	/* Through the driver API. */
	rec_log[0] = '\0';
	l.irq = (unsigned int)virq + 1;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	assert_string_equal(rec_log, "R+M+L+");
	rec_log[0] = '\0';
	testbed_on_cpu(&tb, 0, free_fn, &l);
	assert_int_equal(l.ret, 0);
	assert_string_equal(rec_log, "L-M-R-");

	/* Freeing an activated allocation deactivates it first. */
	assert_int_equal(activate_locked((unsigned int)virq), 0);
	rec_log[0] = '\0';
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 2), 0);
	assert_string_equal(rec_log, "L-M-R-");
	rec_log[0] = '\0';
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(ik_irq_domain_mapcount(s.dom[i]), 0);
	rec_stack_destroy(&s);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * A level whose activation fails leaves nothing programmed: the levels
 * already activated below it are deactivated again (innermost-but-one
 * first), the interrupt is not marked activated, and a request reports
 * the error with no handler installed.
 */
static void test_activation_failure_unwinds(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 6 };
	struct rec_stack s;
	struct line l = { .tb = &tb };
	struct ik_irq_info info;
	int virq;

	testbed_init(&tb, &o);
	rec_stack_create(&s);
	virq = ik_irq_domain_alloc_irqs(s.dom[2], 1, NULL, NULL);
	assert_true(virq > 0);
	l.irq = (unsigned int)virq;

	rec_log[0] = '\0';
	s.lv[1].fail_activate = -IK_EIO;
	assert_int_equal(activate_locked(l.irq), -IK_EIO);
	assert_string_equal(rec_log, "R+M!R-");
	assert_false(ik_irqd_test(ik_irq_get_irq_data(l.irq), IK_IRQD_ACTIVATED));
	/* Nothing to deactivate. */
	rec_log[0] = '\0';
	deactivate_locked(l.irq);
	assert_string_equal(rec_log, "");

	s.lv[1].fail_activate = 0;
	s.lv[2].fail_activate = -IK_ENOSPC;
	assert_int_equal(activate_locked(l.irq), -IK_ENOSPC);
	assert_string_equal(rec_log, "R+M+L!M-R-");

	/* The root failing needs no undo. */
	rec_log[0] = '\0';
	s.lv[2].fail_activate = 0;
	s.lv[0].fail_activate = -IK_ENOSPC;
	assert_int_equal(activate_locked(l.irq), -IK_ENOSPC);
	assert_string_equal(rec_log, "R!");

	/* Request: the error comes back, nothing is installed. */
	rec_log[0] = '\0';
	s.lv[0].fail_activate = 0;
	s.lv[1].fail_activate = -IK_EIO;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, -IK_EIO);
	assert_string_equal(rec_log, "R+M!R-");
	assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
	assert_int_equal(info.nr_actions, 0);
	assert_int_equal(info.state & (IK_IRQD_ACTIVATED | IK_IRQD_STARTED), 0);
	assert_int_equal(ik_free_irq(l.irq, &l), -IK_ENOENT);

	/* Once the level works again the same request succeeds. */
	rec_log[0] = '\0';
	s.lv[1].fail_activate = 0;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	assert_string_equal(rec_log, "R+M+L+");
	testbed_on_cpu(&tb, 0, free_fn, &l);
	assert_int_equal(l.ret, 0);
	rec_log[0] = '\0';
	assert_int_equal(ik_irq_domain_free_irqs(l.irq, 1), 0);
	rec_stack_destroy(&s);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* ---- Failure injection at every allocation point --------------------------- */

static void assert_nothing_mapped(struct testbed *tb, unsigned int first_slot, unsigned int nr)
{
	assert_int_equal(ik_irq_domain_mapcount(tb->devdom), 0);
	assert_int_equal(ik_irq_domain_mapcount(tb->shim), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), 0);
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(ik_irq_domain_find_mapping(tb->devdom, first_slot + i), -IK_ENOENT);
}

static int count_fn(unsigned int irq, void *arg)
{
	(*(unsigned int *)arg)++;
	return 0;
}

static unsigned int nr_irqs_allocated(void)
{
	unsigned int n = 0;

	ik_irq_for_each(count_fn, &n);
	return n;
}

/*
 * Fail allocation 1, 2, 3, ... of a 3-level allocation of @nr interrupts
 * until it succeeds.  After every failure: no memory outstanding beyond
 * the baseline, no mapping at any level, no descriptor, the vector matrix
 * consistent and exactly as before (per-CPU counters, managed
 * reservations, global reservations).  The allocation that finally
 * succeeds is complete and its interrupts deliver.
 */
static void inject_every_failure(bool managed)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 21, .with_shim = true };
	struct ik_irq_affinity_desc aff[4];
	struct matrix_snap before;
	int64_t baseline;
	unsigned int n, fails = 0;
	int virq, first;

	testbed_init(&tb, &o);
	for (unsigned int i = 0; i < 4; i++) {
		ik_cpumask_clear(&aff[i].mask);
		ik_cpumask_set_cpu(i, &aff[i].mask);
		ik_cpumask_set_cpu((i + 1) % 4, &aff[i].mask);
		aff[i].is_managed = managed;
	}
	/* Warm up: the descriptor table keeps its first leaf until exit. */
	first = testbed_alloc(&tb, 0, 4, managed ? aff : NULL);
	assert_true(first > 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)first, 4), 0);

	baseline = sim_alloc_outstanding();
	matrix_snap(&tb, &before);
	assert_int_equal(nr_irqs_allocated(), 0);
	for (n = 1;; n++) {
		sim_alloc_fail_nth(n);
		virq = testbed_alloc(&tb, 0, 4, managed ? aff : NULL);
		sim_alloc_fail_nth(0);
		if (virq > 0)
			break;
		fails++;
		assert_int_equal(virq, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), baseline);
		assert_nothing_mapped(&tb, 0, 4);
		assert_int_equal(nr_irqs_allocated(), 0);
		assert_matrix_same(&tb, &before);
		assert_true(n < 500);
	}
	/* Descriptors (counters included), two chain levels and one vector level per irq at least. */
	assert_true(fails >= 4 * 4);
	assert_int_equal(virq, first);
	assert_int_equal(ik_irq_domain_mapcount(tb.devdom), 4);
	assert_int_equal(ik_irq_domain_mapcount(tb.shim), 4);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), 4);
	for (unsigned int i = 0; i < 4; i++) {
		struct ik_x86_irq_target t;

		assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, i), virq + (int)i);
		assert_int_equal(ik_x86_irq_target((unsigned int)virq + i, &t), 0);
		assert_int_equal(t.is_managed, managed);
		assert_int_equal(t.has_reserved, !managed);
	}
	for (unsigned int i = 0; i < 4; i++)
		check_line_works(&tb, (unsigned int)virq + i, i);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 4), 0);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	assert_matrix_same(&tb, &before);
	assert_int_equal(testbed_fini(&tb), 0);
}

static void test_alloc_failure_every_point(void **state)
{
	inject_every_failure(false);
}

static void test_alloc_failure_every_point_managed(void **state)
{
	inject_every_failure(true);
}

/* ---- Refused operations change nothing ------------------------------------ */

struct refusal_snap {
	int64_t outstanding;
	unsigned int mapcount[3];
	unsigned int nr_irqs;
	struct matrix_snap matrix;
};

static void refusal_snap(struct testbed *tb, struct refusal_snap *s)
{
	s->outstanding = sim_alloc_outstanding();
	s->mapcount[0] = ik_irq_domain_mapcount(tb->devdom);
	s->mapcount[1] = ik_irq_domain_mapcount(tb->shim);
	s->mapcount[2] = ik_irq_domain_mapcount(ik_x86_vector_domain());
	s->nr_irqs = nr_irqs_allocated();
	matrix_snap(tb, &s->matrix);
}

static void assert_refusal_same(struct testbed *tb, const struct refusal_snap *s)
{
	struct refusal_snap now;

	refusal_snap(tb, &now);
	assert_int_equal(now.outstanding, s->outstanding);
	assert_int_equal(now.mapcount[0], s->mapcount[0]);
	assert_int_equal(now.mapcount[1], s->mapcount[1]);
	assert_int_equal(now.mapcount[2], s->mapcount[2]);
	assert_int_equal(now.nr_irqs, s->nr_irqs);
	assert_matrix_same(tb, &s->matrix);
}

/*
 * Frees with a wrong count (also 0, and from the middle of a block), of a
 * number never allocated, or while a handler is installed, and removal of
 * a domain that still maps interrupts or has children: each is refused
 * with its error and leaves every level, the matrix and memory as they were.
 */
static void test_refusals(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 31, .with_shim = true };
	struct refusal_snap s;
	struct line l = { .tb = &tb };
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 4, 4, NULL);
	assert_true(virq > 0);
	refusal_snap(&tb, &s);

	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 3), -IK_EINVAL);
	assert_refusal_same(&tb, &s);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 5), -IK_EINVAL);
	assert_refusal_same(&tb, &s);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 0), -IK_EINVAL);
	assert_refusal_same(&tb, &s);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq + 1, 3), -IK_EINVAL);
	assert_refusal_same(&tb, &s);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq + 1, 0), -IK_EINVAL);
	assert_refusal_same(&tb, &s);

	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq + 4, 1), -IK_ENOENT);
	assert_int_equal(ik_irq_domain_free_irqs(0, 1), -IK_ENOENT);
	assert_int_equal(ik_irq_domain_free_irqs(123456, 1), -IK_ENOENT);
	assert_refusal_same(&tb, &s);

	/* A handler on any interrupt of the block keeps the whole block. */
	l.irq = (unsigned int)virq + 2;
	testbed_on_cpu(&tb, 0, request_fn, &l);
	assert_int_equal(l.ret, 0);
	refusal_snap(&tb, &s);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 4), -IK_EBUSY);
	assert_refusal_same(&tb, &s);
	assert_true(ik_irqd_test(ik_irq_get_irq_data(l.irq), IK_IRQD_ACTIVATED));
	sim_testdev_fire(tb.dev, 6);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 1);
	testbed_on_cpu(&tb, 0, free_fn, &l);
	assert_int_equal(l.ret, 0);

	/* Domains in use stay. */
	refusal_snap(&tb, &s);
	assert_int_equal(ik_irq_domain_remove(tb.devdom), -IK_EBUSY);
	assert_int_equal(ik_irq_domain_remove(tb.shim), -IK_EBUSY);
	assert_int_equal(ik_x86_vector_exit(), -IK_EBUSY);
	assert_refusal_same(&tb, &s);
	assert_ptr_equal(ik_irq_domain_parent(tb.devdom), tb.shim);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 4 + i), virq + (int)i);

	/* Everything still works after all the refusals. */
	check_line_works(&tb, (unsigned int)virq, 4);
	check_line_works(&tb, (unsigned int)virq + 3, 7);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 4), 0);
	/* The shim still has a child. */
	assert_int_equal(ik_irq_domain_remove(tb.shim), -IK_EBUSY);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * Two allocations in one hierarchy get separate levels and mappings; the
 * test driver refuses a slot that is already mapped without touching the
 * hierarchy.
 */
static void test_two_allocations(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 41, .with_shim = true };
	int a, b;

	testbed_init(&tb, &o);
	a = testbed_alloc(&tb, 0, 2, NULL);
	b = testbed_alloc(&tb, 2, 3, NULL);
	assert_true(a > 0 && b > 0);
	assert_int_equal(b, a + 2);
	assert_int_equal(ik_irq_domain_mapcount(tb.shim), 5);
	{
		int64_t out = sim_alloc_outstanding();

		assert_int_equal(testbed_alloc(&tb, 1, 1, NULL), -IK_EEXIST);
		assert_int_equal(sim_alloc_outstanding(), out);
		assert_int_equal(ik_irq_domain_mapcount(tb.devdom), 5);
		assert_int_equal(ik_irq_domain_mapcount(tb.shim), 5);
		assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 1), a + 1);
	}
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)a, 2), 0);
	assert_int_equal(ik_irq_domain_find_mapping(tb.devdom, 3), b + 1);
	check_line_works(&tb, (unsigned int)b + 1, 3);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)b, 3), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * A hwirq mapped twice in an inner level is found only when the reverse
 * maps are filled, after every level's alloc succeeded: the allocation
 * fails with -IK_EEXIST (reported), and the mappings already inserted at
 * the outer levels and for the earlier interrupts of the block are removed.
 */
static void test_duplicate_mapping_unwinds(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 2, .seed = 42 };
	struct rec_stack s;
	uint64_t hw_a = 5, hw_b = 4;
	int64_t out;
	uint64_t warns;
	int a, b;

	testbed_init(&tb, &o);
	rec_stack_create(&s);
	s.lv[0].hwirq_from_arg = true;
	a = ik_irq_domain_alloc_irqs(s.dom[2], 1, NULL, &hw_a);
	assert_true(a > 0);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[0], 5), a);

	out = sim_alloc_outstanding();
	warns = sim_port_warnings();
	/* Root hwirqs 4 and 5: the second one is taken. */
	b = ik_irq_domain_alloc_irqs(s.dom[2], 2, NULL, &hw_b);
	assert_int_equal(b, -IK_EEXIST);
	assert_true(sim_port_warnings() > warns);
	assert_int_equal(sim_alloc_outstanding(), out);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(ik_irq_domain_mapcount(s.dom[i]), 1);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[0], 4), -IK_ENOENT);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[0], 5), a);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[1], s.lv[1].hwirq_base + a + 1),
			 -IK_ENOENT);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[2], s.lv[2].hwirq_base + a + 1),
			 -IK_ENOENT);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[2], s.lv[2].hwirq_base + a), a);
	assert_null(ik_irq_to_desc((unsigned int)a + 1));

	hw_b = 6;
	b = ik_irq_domain_alloc_irqs(s.dom[2], 2, NULL, &hw_b);
	assert_int_equal(b, a + 1);
	assert_int_equal(ik_irq_domain_find_mapping(s.dom[0], 7), b + 1);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)b, 2), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)a, 1), 0);
	rec_stack_destroy(&s);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_level_structure),
		cmocka_unit_test(test_activation_order),
		cmocka_unit_test(test_activation_failure_unwinds),
		cmocka_unit_test(test_alloc_failure_every_point),
		cmocka_unit_test(test_alloc_failure_every_point_managed),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_two_allocations),
		cmocka_unit_test(test_duplicate_mapping_unwinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
