// SPDX-License-Identifier: BSD-2-Clause
/*
 * Threaded stress: one host thread per simulated CPU, two device threads
 * firing, and the main thread moving the interrupts between CPUs through
 * process-context calls on random CPUs.  The core's locks are real here;
 * CI runs this under ThreadSanitizer.  Each line fires again only once its
 * previous event was seen by a handler, so a lost interrupt stalls its
 * line and is detected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "testbed.h"

#define NR_LINES 4
#define EVENTS 3000

struct line {
	struct testbed *tb;
	unsigned int irq, slot;
	uint64_t runs;  /* __atomic */
	uint64_t seen;  /* __atomic */
};

static struct line lines[NR_LINES];
static int stop_devices; /* __atomic */

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	__atomic_add_fetch(&l->runs, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->seen, sim_testdev_fired(l->tb->dev, l->slot), __ATOMIC_RELEASE);
	return IK_IRQ_HANDLED;
}

static void *device_thread(void *arg)
{
	unsigned int first = (unsigned int)(uintptr_t)arg;

	while (!__atomic_load_n(&stop_devices, __ATOMIC_ACQUIRE)) {
		bool all_done = true;

		for (unsigned int i = first; i < NR_LINES; i += 2) {
			struct line *l = &lines[i];
			uint64_t fired = sim_testdev_fired(l->tb->dev, l->slot);

			if (fired < EVENTS)
				all_done = false;
			if (fired < EVENTS && __atomic_load_n(&l->seen, __ATOMIC_ACQUIRE) == fired)
				sim_testdev_fire(l->tb->dev, l->slot);
		}
		if (all_done)
			break;
		sched_yield();
	}
	return NULL;
}

struct call {
	unsigned int irq;
	ik_cpumask_t mask;
	int ret;
	void *dev_id;
};

static void request_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_request_irq(c->irq, handler, 0, "stress", c->dev_id);
}

static void free_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_free_irq(c->irq, c->dev_id);
}

static void move_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_irq_set_affinity(c->irq, &c->mask);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_threaded_moves(void **state)
{
	struct testbed tb;
	struct testbed_opts o = { .nr_cpus = 4, .seed = 99, .threaded = true };
	pthread_t dev_threads[2];
	uint64_t rng = 0x9E3779B97F4A7C15ull, deadline;
	unsigned int moves = 0;
	int virq;

	testbed_init(&tb, &o);
	virq = testbed_alloc(&tb, 0, NR_LINES, NULL);
	assert_true(virq > 0);
	for (unsigned int i = 0; i < NR_LINES; i++) {
		struct call c = { .irq = (unsigned int)virq + i, .dev_id = &lines[i] };

		lines[i] = (struct line){ .tb = &tb, .irq = (unsigned int)virq + i, .slot = i };
		testbed_on_cpu(&tb, i % 4, request_fn, &c);
		assert_int_equal(c.ret, 0);
	}
	__atomic_store_n(&stop_devices, 0, __ATOMIC_RELEASE);
	for (unsigned int t = 0; t < 2; t++)
		assert_int_equal(pthread_create(&dev_threads[t], NULL, device_thread,
						(void *)(uintptr_t)t), 0);

	/* Move interrupts while the devices fire, until every event was sent. */
	deadline = now_ms() + 60000;
	for (;;) {
		bool done = true;
		struct call c;

		for (unsigned int i = 0; i < NR_LINES; i++)
			if (sim_testdev_fired(tb.dev, i) < EVENTS)
				done = false;
		if (done || now_ms() > deadline)
			break;
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		c.irq = lines[rng % NR_LINES].irq;
		ik_cpumask_clear(&c.mask);
		ik_cpumask_set_cpu((unsigned int)((rng >> 8) % 4), &c.mask);
		ik_cpumask_set_cpu((unsigned int)((rng >> 16) % 4), &c.mask);
		testbed_on_cpu(&tb, (unsigned int)((rng >> 24) % 4), move_fn, &c);
		assert_int_equal(c.ret, 0);
		moves++;
	}
	__atomic_store_n(&stop_devices, 1, __ATOMIC_RELEASE);
	for (unsigned int t = 0; t < 2; t++)
		pthread_join(dev_threads[t], NULL);

	/* Let the last events land. */
	deadline = now_ms() + 10000;
	for (;;) {
		bool settled = true;

		for (unsigned int i = 0; i < NR_LINES; i++)
			if (__atomic_load_n(&lines[i].seen, __ATOMIC_ACQUIRE) !=
			    sim_testdev_fired(tb.dev, i))
				settled = false;
		if (settled || now_ms() > deadline)
			break;
		sim_run_until_idle(tb.m);
	}
	for (unsigned int i = 0; i < NR_LINES; i++) {
		uint64_t fired = sim_testdev_fired(tb.dev, i);

		if (__atomic_load_n(&lines[i].seen, __ATOMIC_ACQUIRE) != fired)
			fail_msg("line %u: fired %llu, seen %llu: lost interrupt", i,
				 (unsigned long long)fired,
				 (unsigned long long)__atomic_load_n(&lines[i].seen, __ATOMIC_ACQUIRE));
		assert_int_equal(fired, EVENTS);
		assert_int_equal(__atomic_load_n(&lines[i].runs, __ATOMIC_RELAXED), fired);
	}
	assert_true(moves > 0);
	assert_int_equal(sim_stat(tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	printf("threaded: %u affinity changes under %u events per line\n", moves, EVENTS);

	for (unsigned int i = 0; i < NR_LINES; i++) {
		struct call c = { .irq = lines[i].irq, .dev_id = &lines[i] };

		testbed_on_cpu(&tb, 0, free_fn, &c);
		assert_int_equal(c.ret, 0);
	}
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, NR_LINES), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threaded_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
