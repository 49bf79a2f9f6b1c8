// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt numbering and descriptors (src/core/irqdesc.c), driven through
 * a trivial root domain of our own: more than a million interrupts
 * allocated and looked up, number reuse after free, number 0 never handed
 * out, ik_irq_for_each order and early stop, exhaustion and counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqkit/irq.h>
#include <irqkit/irqdomain.h>

#include "host_port.h"
#include "sim.h"

/* A chip that does nothing and a root domain with hwirq == virq. */
static const struct ik_irq_chip nop_chip = { .name = "NOP" };

static int nop_alloc(struct ik_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	for (unsigned int i = 0; i < nr; i++) {
		int ret = ik_irq_domain_set_info(d, virq + i, virq + i, &nop_chip, NULL,
						 ik_handle_simple_irq, NULL);

		if (ret)
			return ret;
	}
	return 0;
}

static void nop_free(struct ik_irq_domain *d, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(d, virq + i));
}

static const struct ik_irq_domain_ops nop_ops = {
	.alloc = nop_alloc,
	.free = nop_free,
};

struct fixture {
	struct sim_machine *m;
	struct ik_irq_domain *dom;
	int64_t baseline;
};

static int setup(void **state)
{
	static struct fixture f;
	struct sim_config cfg = { .nr_cpus = 2, .seed = 1 };

	f.m = sim_create(&cfg);
	if (!f.m)
		return -1;
	sim_port_install(f.m, NULL);
	f.baseline = sim_alloc_outstanding();
	if (ik_core_init())
		return -1;
	f.dom = ik_irq_domain_create_hierarchy(NULL, 0, 0, "NOP", &nop_ops, NULL);
	if (!f.dom)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int ret = 0;

	if (ik_irq_domain_remove(f->dom) || ik_core_exit())
		ret = -1;
	if (sim_alloc_outstanding() != f->baseline) {
		fprintf(stderr, "%lld allocations leaked\n",
			(long long)(sim_alloc_outstanding() - f->baseline));
		ret = -1;
	}
	sim_destroy(f->m);
	return ret;
}

struct walk {
	unsigned int count;
	unsigned int last;
	bool ordered;
	unsigned int stop_at;   /* return 7 at this irq; 0 = never */
};

static int walk_fn(unsigned int irq, void *arg)
{
	struct walk *w = arg;

	if (w->count && irq <= w->last)
		w->ordered = false;
	if (irq == 0)
		w->ordered = false;
	w->last = irq;
	w->count++;
	return irq == w->stop_at ? 7 : 0;
}

static unsigned int count_irqs(void)
{
	struct walk w = { .ordered = true };

	assert_int_equal(ik_irq_for_each(walk_fn, &w), 0);
	assert_true(w.ordered);
	return w.count;
}

/*
 * Small allocations: number 0 is never handed out, numbers are
 * consecutive, a freed number is reused first, and a block that does not
 * fit in the hole goes after the allocated numbers.
 */
static void test_numbering_basic(void **state)
{
	struct fixture *f = *state;
	int a, b, c, d, e;

	assert_null(ik_irq_to_desc(0));
	a = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_int_equal(a, 1);
	b = ik_irq_domain_alloc_irqs(f->dom, 4, NULL, NULL);
	assert_int_equal(b, 2);
	c = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_int_equal(c, 6);
	assert_null(ik_irq_to_desc(0));
	assert_null(ik_irq_to_desc(7));
	assert_int_equal(count_irqs(), 6);
	assert_int_equal(ik_irq_domain_mapcount(f->dom), 6);

	/* Free the block of four: a single number reuses its start. */
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)b, 4), 0);
	assert_null(ik_irq_to_desc(3));
	assert_int_equal(count_irqs(), 2);
	d = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_int_equal(d, 2);
	/* Four do not fit in the remaining hole of three: they go after 6. */
	e = ik_irq_domain_alloc_irqs(f->dom, 4, NULL, NULL);
	assert_int_equal(e, 7);
	assert_int_equal(ik_irq_domain_find_mapping(f->dom, 10), 10);
	assert_int_equal(ik_irq_domain_find_mapping(f->dom, 3), -IK_ENOENT);

	/* The number-0 slot stays reserved even when everything is free. */
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)a, 1), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)c, 1), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)d, 1), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)e, 4), 0);
	assert_int_equal(count_irqs(), 0);
	a = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_int_equal(a, 1);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)a, 1), 0);
	assert_int_equal(ik_irq_domain_mapcount(f->dom), 0);
}

#define BIG_TOTAL (1u << 20)
#define BIG_CHUNK 4096u

/*
 * 2^20 interrupts in blocks of 4096: every block is consecutive and
 * disjoint, every number resolves to its descriptor, its level data and
 * its reverse mapping, ik_irq_for_each walks them in order, and a freed
 * block in the middle is reused by the next allocation of that size.
 */
static void test_million(void **state)
{
	struct fixture *f = *state;
	static int starts[BIG_TOTAL / BIG_CHUNK];
	unsigned int nr_chunks = BIG_TOTAL / BIG_CHUNK;
	struct walk w = { .ordered = true };
	int again;

	for (unsigned int c = 0; c < nr_chunks; c++) {
		starts[c] = ik_irq_domain_alloc_irqs(f->dom, BIG_CHUNK, NULL, NULL);
		assert_true(starts[c] > 0);
		if (c)
			assert_int_equal(starts[c], starts[c - 1] + (int)BIG_CHUNK);
	}
	assert_int_equal(starts[0], 1);
	assert_int_equal(ik_irq_domain_mapcount(f->dom), BIG_TOTAL);

	for (unsigned int irq = 1; irq <= BIG_TOTAL; irq++) {
		struct ik_irq_data *d = ik_irq_get_irq_data(irq);

		if (!d || d->irq != irq || d->hwirq != irq || d->domain != f->dom ||
		    d->chip != &nop_chip)
			fail_msg("irq %u: bad descriptor", irq);
		if (ik_irq_domain_find_mapping(f->dom, irq) != (int)irq)
			fail_msg("irq %u: bad reverse mapping", irq);
	}
	assert_null(ik_irq_to_desc(BIG_TOTAL + 1));
	assert_null(ik_irq_to_desc(0));

	assert_int_equal(ik_irq_for_each(walk_fn, &w), 0);
	assert_true(w.ordered);
	assert_int_equal(w.count, BIG_TOTAL);
	assert_int_equal(w.last, BIG_TOTAL);

	/* Early stop: the callback's value comes back, nothing after it is visited. */
	w = (struct walk){ .ordered = true, .stop_at = 5000 };
	assert_int_equal(ik_irq_for_each(walk_fn, &w), 7);
	assert_int_equal(w.count, 5000);

	/* Free a block in the middle; the next block of that size takes its place. */
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)starts[100], BIG_CHUNK), 0);
	assert_null(ik_irq_to_desc((unsigned int)starts[100] + 17));
	assert_int_equal(ik_irq_domain_find_mapping(f->dom, (uint64_t)starts[100] + 17), -IK_ENOENT);
	assert_int_equal(count_irqs(), BIG_TOTAL - BIG_CHUNK);
	again = ik_irq_domain_alloc_irqs(f->dom, BIG_CHUNK, NULL, NULL);
	assert_int_equal(again, starts[100]);
	/* A larger block does not fit there and goes after the end. */
	again = ik_irq_domain_alloc_irqs(f->dom, BIG_CHUNK + 1, NULL, NULL);
	assert_int_equal(again, (int)BIG_TOTAL + 1);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)again, BIG_CHUNK + 1), 0);

	for (unsigned int c = 0; c < nr_chunks; c++)
		assert_int_equal(ik_irq_domain_free_irqs((unsigned int)starts[c], BIG_CHUNK), 0);
	assert_int_equal(count_irqs(), 0);
	assert_int_equal(ik_irq_domain_mapcount(f->dom), 0);
}

/*
 * Exhaustion and bad sizes: a request that cannot fit returns -IK_ENOSPC
 * and leaves nothing behind; 0 and more than the number space are -IK_EINVAL.
 */
static void test_exhaustion(void **state)
{
	struct fixture *f = *state;
	int64_t outstanding;
	int one;

	assert_int_equal(ik_irq_domain_alloc_irqs(f->dom, 0, NULL, NULL), -IK_EINVAL);
	assert_int_equal(ik_irq_domain_alloc_irqs(f->dom, IK_NR_IRQS_MAX, NULL, NULL),
			 -IK_EINVAL);
	one = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_int_equal(one, 1);
	outstanding = sim_alloc_outstanding();
	/* Everything but 0 and 1 is free: IK_NR_IRQS_MAX - 1 numbers do not fit. */
	assert_int_equal(ik_irq_domain_alloc_irqs(f->dom, IK_NR_IRQS_MAX - 1, NULL, NULL),
			 -IK_ENOSPC);
	assert_int_equal(sim_alloc_outstanding(), outstanding);
	assert_int_equal(count_irqs(), 1);
	assert_int_equal(ik_irq_domain_mapcount(f->dom), 1);
	/* The failed search moved nothing: the next block starts right after 1. */
	{
		int top = ik_irq_domain_alloc_irqs(f->dom, 3, NULL, NULL);

		assert_int_equal(top, 2);
		assert_int_equal(ik_irq_domain_free_irqs((unsigned int)top, 3), 0);
	}
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)one, 1), 0);
}

/*
 * A descriptor allocation that fails anywhere (descriptor, counters, level
 * chain, reverse map) takes no number: the next allocation gets the same
 * first number and nothing leaks.
 */
static void test_alloc_failure_numbers(void **state)
{
	struct fixture *f = *state;
	int64_t base;
	int virq, keep;
	unsigned int n;

	keep = ik_irq_domain_alloc_irqs(f->dom, 2, NULL, NULL);    /* warms the first leaf */
	assert_int_equal(keep, 1);
	base = sim_alloc_outstanding();
	for (n = 1;; n++) {
		sim_alloc_fail_nth(n);
		virq = ik_irq_domain_alloc_irqs(f->dom, 8, NULL, NULL);
		sim_alloc_fail_nth(0);
		if (virq > 0)
			break;
		assert_int_equal(virq, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(count_irqs(), 2);
		assert_int_equal(ik_irq_domain_mapcount(f->dom), 2);
		assert_null(ik_irq_to_desc(3));
		assert_true(n < 200);
	}
	assert_true(n > 8);     /* 8 descriptors (counters included) at least */
	assert_int_equal(virq, 3);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 8), 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)keep, 2), 0);
}

/* Queries on numbers that are not allocated answer "nothing" and lifecycle misuse is refused. */
static void test_queries_and_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct ik_irq_info info;
	int virq;

	assert_int_equal(ik_irq_get_info(5, &info), -IK_ENOENT);
	assert_int_equal(ik_irq_count(5), 0);
	assert_int_equal(ik_irq_count_cpu(5, 0), 0);
	assert_null(ik_irq_get_irq_data(IK_NR_IRQS_MAX));
	assert_null(ik_irq_to_desc(UINT32_MAX));
	assert_int_equal(ik_generic_handle_irq(5), -IK_EINVAL);
	assert_int_equal(ik_core_init(), -IK_EBUSY);

	virq = ik_irq_domain_alloc_irqs(f->dom, 1, NULL, NULL);
	assert_true(virq > 0);
	assert_int_equal(ik_irq_get_info((unsigned int)virq, &info), 0);
	assert_int_equal(info.irq, (unsigned int)virq);
	assert_string_equal(info.chip_name, "NOP");
	assert_int_equal(info.nr_actions, 0);
	assert_null(info.action_name);
	assert_int_equal(info.depth, 1);        /* not started */
	assert_int_equal(info.istate & IK_IRQS_NOREQUEST, 0);
	assert_int_equal(ik_irq_count_cpu((unsigned int)virq, 1), 0);
	assert_int_equal(ik_irq_count_cpu((unsigned int)virq, 999), 0);
	/* Interrupts or domains left: exit refuses and frees nothing. */
	assert_int_equal(ik_core_exit(), -IK_EBUSY);
	assert_non_null(ik_irq_to_desc((unsigned int)virq));
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 1), 0);
	assert_int_equal(ik_core_exit(), -IK_EBUSY);    /* the domain is still there */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_numbering_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_million, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exhaustion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queries_and_lifecycle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
