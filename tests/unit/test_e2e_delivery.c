// SPDX-License-Identifier: BSD-2-Clause
/*
 * End-to-end delivery through the whole vertical slice: test device ->
 * MSI write -> simulated LAPIC IRR -> CPU takes the vector -> vector
 * domain -> flow handler -> driver handler -> EOI.  Then random affinity
 * moves and CPU hotplug over a fixed list of seeds, asserting that every
 * fired event is seen by a handler run that happened after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testbed.h"

#define NR_IRQS 4

struct line {
	struct testbed *tb;
	unsigned int irq;
	unsigned int slot;
	uint64_t runs;
	uint64_t seen;          /* device fire count observed by the last run */
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	l->runs++;
	if (getenv("IK_TEST_VERBOSE"))
		printf("handler irq%u slot %u on cpu%u\n", irq, l->slot, sim_cpu_current(l->tb->m));
	/* A driver reads its device's event count; the test device's counter plays that role. */
	l->seen = sim_testdev_fired(l->tb->dev, l->slot);
	return IK_IRQ_HANDLED;
}

struct req {
	struct line *l;
	int ret;
};

static void request_fn(void *arg)
{
	struct req *r = arg;

	r->ret = ik_request_irq(r->l->irq, line_handler, 0, "line", r->l);
}

static void free_fn(void *arg)
{
	struct req *r = arg;

	r->ret = ik_free_irq(r->l->irq, r->l);
}

static void setup_lines(struct testbed *tb, struct line *lines, unsigned int n)
{
	int virq = testbed_alloc(tb, 0, n, NULL);

	assert_true(virq > 0);
	for (unsigned int i = 0; i < n; i++) {
		struct req r = { .l = &lines[i] };

		lines[i] = (struct line){ .tb = tb, .irq = (unsigned int)virq + i, .slot = i };
		testbed_on_cpu(tb, i % tb->nr_cpus, request_fn, &r);
		assert_int_equal(r.ret, 0);
	}
}

static void teardown_lines(struct testbed *tb, struct line *lines, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct req r = { .l = &lines[i] };

		testbed_on_cpu(tb, 0, free_fn, &r);
		assert_int_equal(r.ret, 0);
	}
	assert_int_equal(ik_irq_domain_free_irqs(lines[0].irq, n), 0);
}

static void test_single_delivery(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 7 };
	struct line lines[1];
	struct ik_x86_irq_target t;

	testbed_init(&tb, &o);
	setup_lines(&tb, lines, 1);
	assert_int_equal(ik_x86_irq_target(lines[0].irq, &t), 0);
	assert_false(t.has_reserved);
	assert_int_not_equal(t.vector, IK_X86_SHUTDOWN_VECTOR);

	sim_testdev_fire(tb.dev, 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(lines[0].runs, 1);
	assert_int_equal(lines[0].seen, 1);
	assert_int_equal(ik_irq_count_cpu(lines[0].irq, t.cpu), 1);
	assert_int_equal(ik_irq_count(lines[0].irq), 1);
	assert_int_equal(sim_cpu_vector_count(tb.m, t.cpu, t.vector), 1);
	/* The handler path wrote EOI: nothing left in service. */
	assert_false(sim_lapic_isr_test(tb.m, t.cpu, t.vector));
	assert_int_equal(testbed_spurious(&tb), 0);

	teardown_lines(&tb, lines, 1);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* A machine with sparse APIC IDs and no APIC ID 0. */
static void test_sparse_apic_ids(void **state)
{
	static const uint32_t ids[4] = { 2, 5, 9, 14 };
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .apic_ids = ids, .seed = 3 };
	struct line lines[NR_IRQS];

	testbed_init(&tb, &o);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_int_equal(ik_x86_cpu_apic_id(cpu), ids[cpu]);
	setup_lines(&tb, lines, NR_IRQS);
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		ik_cpumask_t mask;
		struct ik_x86_irq_target t;

		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(cpu, &mask);
		assert_int_equal(ik_irq_set_affinity(lines[0].irq, &mask), 0);
		sim_testdev_fire(tb.dev, 0);
		sim_run_until_idle(tb.m);
		assert_int_equal(ik_x86_irq_target(lines[0].irq, &t), 0);
		assert_int_equal(t.cpu, cpu);
		assert_true(ik_irq_count_cpu(lines[0].irq, cpu) >= 1);
	}
	assert_int_equal(lines[0].seen, sim_testdev_fired(tb.dev, 0));
	assert_int_equal(sim_stat(tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&tb), 0);
	teardown_lines(&tb, lines, NR_IRQS);
	assert_int_equal(testbed_fini(&tb), 0);
}

/*
 * Each line fires again only once its previous event was seen by a handler,
 * so every fire sends exactly one message that cannot coalesce with another
 * and a lost interrupt stalls its line for good (detected at the end).
 */
struct chain {
	struct line *l;
	unsigned int left;
	unsigned int patience;
};

static void fire_event(void *arg)
{
	struct chain *c = arg;
	struct testbed *tb = c->l->tb;

	if (c->l->seen != sim_testdev_fired(tb->dev, c->l->slot)) {
		/* Outstanding: check again later, give up on a stalled line. */
		if (++c->patience < 20000)
			sim_schedule(tb->m, 1 + sim_rand(tb->m) % 16, fire_event, c);
		return;
	}
	c->patience = 0;
	if (!c->left)
		return;
	c->left--;
	if (getenv("IK_TEST_VERBOSE"))
		printf("fire slot %u\n", c->l->slot);
	sim_testdev_fire(tb->dev, c->l->slot);
	sim_schedule(tb->m, 1 + sim_rand(tb->m) % 8, fire_event, c);
}

struct move {
	unsigned int irq;
	ik_cpumask_t mask;
	int ret;
};

static void move_fn(void *arg)
{
	struct move *mv = arg;

	mv->ret = ik_irq_set_affinity(mv->irq, &mv->mask);
}

static void random_mask(struct testbed *tb, ik_cpumask_t *mask)
{
	ik_cpumask_clear(mask);
	while (ik_cpumask_empty(mask)) {
		uint64_t r = sim_rand(tb->m);

		for (unsigned int cpu = 0; cpu < tb->nr_cpus; cpu++)
			if (r & (1ull << cpu))
				ik_cpumask_set_cpu(cpu, mask);
	}
}

static bool verbose(void)
{
	return getenv("IK_TEST_VERBOSE") != NULL;
}

static void trace_fn(void *ctx, enum sim_trace_type type, uint64_t now, unsigned int cpu,
		     unsigned int vector, uint64_t value)
{
	static const char *names[] = { "event", "msi", "ipi", "enter", "exit", "eoi", "work" };

	printf("  t=%llu %s cpu%u vec 0x%x val 0x%llx\n", (unsigned long long)now, names[type], cpu,
	       vector, (unsigned long long)value);
}

static void run_moves(uint64_t seed, bool hotplug)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed };
	struct line lines[NR_IRQS];
	struct chain chains[NR_IRQS];
	unsigned int offline_cpu = ~0u;

	testbed_init(&tb, &o);
	setup_lines(&tb, lines, NR_IRQS);
	if (getenv("IK_TEST_TRACE"))
		sim_set_trace(tb.m, trace_fn, NULL);
	for (unsigned int i = 0; i < NR_IRQS; i++) {
		chains[i] = (struct chain){ .l = &lines[i], .left = 150 };
		sim_schedule(tb.m, 1 + i, fire_event, &chains[i]);
	}

	for (unsigned int step = 0; step < 120; step++) {
		uint64_t r = sim_rand(tb.m);

		if (hotplug && r % 7 == 0) {
			if (offline_cpu == ~0u) {
				unsigned int cpu = (unsigned int)(sim_rand(tb.m) % tb.nr_cpus);

				int ret = testbed_cpu_offline(&tb, cpu);

				if (ret == 0)
					offline_cpu = cpu;
				if (verbose())
					printf("offline cpu%u: %d\n", cpu, ret);
			} else {
				assert_int_equal(testbed_cpu_online(&tb, offline_cpu), 0);
				if (verbose())
					printf("online cpu%u\n", offline_cpu);
				offline_cpu = ~0u;
			}
		} else {
			struct move mv = { .irq = lines[r % NR_IRQS].irq };
			unsigned int cpu;

			random_mask(&tb, &mv.mask);
			do {
				cpu = (unsigned int)(sim_rand(tb.m) % tb.nr_cpus);
			} while (cpu == offline_cpu);
			testbed_on_cpu(&tb, cpu, move_fn, &mv);
			if (verbose())
				printf("move irq%u mask %llx on cpu%u: %d\n", mv.irq,
				       (unsigned long long)mv.mask.bits[0], cpu, mv.ret);
			if (offline_cpu != ~0u && ik_cpumask_weight(&mv.mask) == 1 &&
			    ik_cpumask_test_cpu(offline_cpu, &mv.mask))
				assert_int_equal(mv.ret, -IK_EINVAL);
			else
				assert_int_equal(mv.ret, 0);
		}
		if (r % 5 == 0)
			sim_run_until_idle(tb.m);
	}
	sim_run_until_idle(tb.m);
	if (offline_cpu != ~0u)
		assert_int_equal(testbed_cpu_online(&tb, offline_cpu), 0);
	sim_run_until_idle(tb.m);

	for (unsigned int i = 0; i < NR_IRQS; i++) {
		uint64_t fired = sim_testdev_fired(tb.dev, i);

		if (lines[i].seen != fired && verbose()) {
			struct ik_irq_info info;
			struct ik_x86_irq_target t;

			ik_irq_get_info(lines[i].irq, &info);
			ik_x86_irq_target(lines[i].irq, &t);
			printf("irq%u state %x istate %x depth %u actions %u; cpu%u vec 0x%x prev cpu%u 0x%x mip %d\n",
			       lines[i].irq, info.state, info.istate, info.depth, info.nr_actions, t.cpu,
			       t.vector, t.prev_cpu, t.prev_vector, t.move_in_progress);
		}
		if (lines[i].seen != fired)
			fail_msg("seed %llu irq %u: fired %llu, last seen %llu (lost interrupt)",
				 (unsigned long long)seed, i, (unsigned long long)fired,
				 (unsigned long long)lines[i].seen);
		assert_int_equal(fired, 150);
		/*
		 * One run per fire; the hotplug path may replay an interrupt it
		 * cannot prove was delivered (an extra run, never a lost one).
		 */
		if (hotplug)
			assert_true(lines[i].runs >= fired && lines[i].runs <= fired + 40);
		else
			assert_int_equal(lines[i].runs, fired);
	}
	assert_int_equal(sim_stat(tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(sim_stat(tb.m, SIM_STAT_MSI_ILLEGAL_VECTOR), 0);
	assert_int_equal(testbed_spurious(&tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	teardown_lines(&tb, lines, NR_IRQS);
	assert_int_equal(ik_x86_matrix_check(), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

/* IK_TEST_SEED=n runs only seed n (to reproduce a failure). */
static bool seed_selected(uint64_t seed)
{
	const char *only = getenv("IK_TEST_SEED");

	return !only || strtoull(only, NULL, 0) == seed;
}

static void test_random_moves(void **state)
{
	for (uint64_t seed = 1; seed <= 128; seed++)
		if (seed_selected(seed))
			run_moves(seed, false);
}

static void test_random_moves_hotplug(void **state)
{
	for (uint64_t seed = 1001; seed <= 1128; seed++)
		if (seed_selected(seed))
			run_moves(seed, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_delivery),
		cmocka_unit_test(test_sparse_apic_ids),
		cmocka_unit_test(test_random_moves),
		cmocka_unit_test(test_random_moves_hotplug),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
