// SPDX-License-Identifier: BSD-2-Clause
/*
 * The queue-updated IMS store with real concurrency (threaded machine: one
 * host thread per CPU, the work item on a worker thread, the device's
 * commands run by whoever rings the doorbell; ThreadSanitizer in CI).
 *
 * Four work-queue interrupts fire in lossless chains driven by host
 * threads while every CPU moves them around and disables/enables them, so
 * records outside a bracket (affinity), the worker's deferred flush and the
 * brackets' flushes race for the command ring; a fifth queue meanwhile
 * allocates, requests, moves and frees an interrupt over and over, so frees
 * race with queued updates.  At the end every fire was seen by a handler
 * that ran after it, and the device holds each interrupt's current message.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <irqkit/drivers/idxd.h>
#include <irqkit/pci.h>

#include "host_port.h"
#include "imsbed.h"
#include "pcibed.h"
#include "sim_ims.h"

#define Q_BDF SIM_PCI_BDF(0, 5, 0)
#define Q_BAR0 0xC0400000ull
#define Q_BAR2 0xC0500000ull
#define NL 4u
#define FIRES 400u

static struct pcibed pb;
static struct sim_ims_queue *qdev;
static struct ik_device *fn;

struct qline {
	struct ib_line l;
	unsigned int queue;
	unsigned int slot;
	uint64_t fires;         /* firer thread only */
};

static uint64_t slot_fired(void *ctx)
{
	struct sim_ims_slot s;

	sim_ims_queue_slot(qdev, ((struct qline *)ctx)->slot, &s);
	return s.stats.fired;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Threads ------------------------------------------------------------------------ */

struct firer {
	struct qline *lines;
	unsigned int first, nr;
	bool stalled;
};

/* Fires a line again only once its previous fire was seen: a loss stalls it. */
static void *firer_thread(void *arg)
{
	struct firer *f = arg;
	uint64_t last_progress = now_ms();

	for (;;) {
		bool done = true;

		for (unsigned int i = f->first; i < f->first + f->nr; i++) {
			struct qline *q = &f->lines[i];

			if (q->fires < FIRES)
				done = false;
			if (q->fires < FIRES &&
			    __atomic_load_n(&q->l.seen, __ATOMIC_ACQUIRE) == q->fires) {
				sim_ims_queue_fire_queue(qdev, q->queue);
				q->fires++;
				last_progress = now_ms();
			}
		}
		if (done)
			return NULL;
		if (now_ms() - last_progress > 20000) {
			f->stalled = true;
			return NULL;
		}
		sched_yield();
	}
}

struct mover {
	unsigned int cpu;
	struct qline *lines;
	unsigned int rounds;
	uint64_t rand;
	bool failed;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void mover_fn(void *arg)
{
	struct mover *mv = arg;

	for (unsigned int r = 0; r < mv->rounds; r++) {
		uint64_t x = next_rand(&mv->rand);
		unsigned int irq = mv->lines[x % NL].l.irq;
		ik_cpumask_t mask;

		ik_cpumask_clear(&mask);
		for (unsigned int cpu = 0; cpu < 4; cpu++)
			if ((x >> (8 + cpu)) & 1)
				ik_cpumask_set_cpu(cpu, &mask);
		if (ik_cpumask_empty(&mask))
			ik_cpumask_set_cpu(mv->cpu, &mask);
		if (ik_irq_set_affinity(irq, &mask))
			mv->failed = true;
		if (x % 16 == 0) {
			/* Sleepable brackets racing the deferred flushes. */
			if (ik_disable_irq(irq) || ik_enable_irq(irq))
				mv->failed = true;
		}
		sched_yield();
	}
}

static void *mover_thread(void *arg)
{
	struct mover *mv = arg;

	sim_run_on_cpu(pb.tb.m, mv->cpu, mover_fn, mv);
	return NULL;
}

struct churn {
	struct ik_device *wq;
	unsigned int rounds;
	bool failed;
};

static ik_irqreturn_t churn_handler(unsigned int irq, void *dev_id)
{
	return IK_IRQ_HANDLED;
}

/* Allocate, request, move (a record the worker will flush), free, on CPU 3. */
static void churn_fn(void *arg)
{
	struct churn *c = arg;

	for (unsigned int r = 0; r < c->rounds; r++) {
		struct ik_msi_map map = ik_idxd_wq_alloc_irq(c->wq, NULL, IK_IDXD_PASID(r));
		ik_cpumask_t mask;

		if (map.index < 0) {
			c->failed = true;
			return;
		}
		if (ik_request_irq(map.virq, churn_handler, 0, "churn", c))
			c->failed = true;
		ik_cpumask_clear(&mask);
		ik_cpumask_set_cpu(r % 4, &mask);
		if (ik_irq_set_affinity(map.virq, &mask))
			c->failed = true;
		if (ik_free_irq(map.virq, c))
			c->failed = true;
		if (ik_idxd_wq_free_irq(c->wq, map))
			c->failed = true;
	}
}

static void *churn_thread(void *arg)
{
	sim_run_on_cpu(pb.tb.m, 3, churn_fn, arg);
	return NULL;
}

/* ---- The test ------------------------------------------------------------------------- */

static void test_moves_and_frees_race_the_worker(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .threaded = true, .seed = 31 };
	struct sim_ims_queue_config c = {
		.nr_slots = 512, .nr_queues = NL + 1, .cmd_delay = 2,
		.bar0_addr = Q_BAR0, .bar2_addr = Q_BAR2,
	};
	static struct qline lines[NL];
	struct ik_device *wq[NL + 1];
	struct ik_msi_map maps[NL];
	struct mover mv[4];
	struct firer fr[2];
	struct churn ch;
	pthread_t mth[4], fth[2], cth;
	struct ik_idxd_stats st;

	pcibed_init(&pb, &o);
	qdev = sim_ims_queue_create(pb.bus, Q_BDF, &c);
	assert_non_null(qdev);
	assert_int_equal(ik_pci_device_create(NULL, 0, Q_BDF, &fn), 0);
	ik_device_set_msi_parent(fn, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(fn, &ik_idxd_driver), 0);
	for (unsigned int i = 0; i <= NL; i++)
		assert_int_equal(ik_idxd_wq_add(fn, i, &wq[i]), 0);

	memset(lines, 0, sizeof(lines));
	for (unsigned int i = 0; i < NL; i++) {
		maps[i] = ik_idxd_wq_alloc_irq(wq[i], NULL, 0);
		assert_int_equal(maps[i].index, 0);
		lines[i].queue = i;
		lines[i].slot = (unsigned int)ik_idxd_wq_slot(wq[i], 0);
		lines[i].l.m = pb.tb.m;
		lines[i].l.irq = maps[i].virq;
		lines[i].l.fired = slot_fired;
		lines[i].l.ctx = &lines[i];
		assert_int_equal(ik_request_irq(maps[i].virq, ib_handler, 0, "wq", &lines[i].l), 0);
	}

	ch = (struct churn){ .wq = wq[NL], .rounds = 150 };
	assert_int_equal(pthread_create(&cth, NULL, churn_thread, &ch), 0);
	for (unsigned int t = 0; t < 2; t++) {
		fr[t] = (struct firer){ .lines = lines, .first = 2 * t, .nr = 2 };
		assert_int_equal(pthread_create(&fth[t], NULL, firer_thread, &fr[t]), 0);
	}
	for (unsigned int t = 0; t < 3; t++) {
		mv[t] = (struct mover){ .cpu = t, .lines = lines, .rounds = 300,
					.rand = 0x9E3779B97F4A7C15ull * (t + 1) };
		assert_int_equal(pthread_create(&mth[t], NULL, mover_thread, &mv[t]), 0);
	}
	for (unsigned int t = 0; t < 3; t++) {
		assert_int_equal(pthread_join(mth[t], NULL), 0);
		assert_false(mv[t].failed);
	}
	assert_int_equal(pthread_join(cth, NULL), 0);
	assert_false(ch.failed);
	for (unsigned int t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(fth[t], NULL), 0);
		assert_false(fr[t].stalled);
	}
	sim_run_until_idle(pb.tb.m);
	assert_int_equal(ik_idxd_flush(fn), 0);

	for (unsigned int i = 0; i < NL; i++) {
		struct ik_x86_irq_target t;
		struct sim_ims_slot s;

		assert_int_equal(slot_fired(&lines[i]), FIRES);
		assert_int_equal(__atomic_load_n(&lines[i].l.seen, __ATOMIC_ACQUIRE), FIRES);
		assert_true(__atomic_load_n(&lines[i].l.runs, __ATOMIC_RELAXED) >= FIRES);
		assert_int_equal(ik_x86_irq_target(maps[i].virq, &t), 0);
		sim_ims_queue_slot(qdev, lines[i].slot, &s);
		assert_int_equal(s.addr_lo, 0xFEE00000u | (ik_x86_cpu_apic_id(t.cpu) << 12));
		assert_int_equal(s.data & 0xFF, t.vector);
		assert_false(s.ctrl & SIM_IMS_CTRL_MASK);
	}
	assert_int_equal(ik_idxd_get_stats(fn, &st), 0);
	if (getenv("IK_TEST_VERBOSE"))
		printf("commands %llu batches %llu records %llu outside %llu work %llu skipped %llu\n",
		       (unsigned long long)st.commands, (unsigned long long)st.batches,
		       (unsigned long long)st.records, (unsigned long long)st.records_outside,
		       (unsigned long long)st.work_flushes, (unsigned long long)st.work_skipped);
	assert_true(st.records_outside > 0);
	assert_true(st.work_flushes > 0);
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(sim_stat(pb.tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);

	for (unsigned int i = 0; i < NL; i++)
		assert_int_equal(ik_free_irq(maps[i].virq, &lines[i].l), 0);
	ik_pci_device_destroy(fn);
	sim_run_until_idle(pb.tb.m);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_moves_and_frees_race_the_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
