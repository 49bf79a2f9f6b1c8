// SPDX-License-Identifier: BSD-2-Clause
/*
 * NTB memory-window interrupts with real concurrency (threaded machine;
 * ThreadSanitizer in CI): host threads play the peer, triggering publish
 * slots in lossless chains, while every CPU moves the interrupts.  Moves
 * asked on the target CPU run the two-step republish at once, others are
 * carried out from the next interrupt; the peer reads the slot while the
 * host rewrites it.  At the end every trigger was seen by a handler that
 * ran after it, no trigger ever found a slot invalid, and every slot holds
 * its interrupt's current target.
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

#include <irqkit/drivers/ntb.h>
#include <irqkit/pci.h>

#include "host_port.h"
#include "imsbed.h"
#include "pcibed.h"
#include "sim_ntb.h"

#define N_BDF SIM_PCI_BDF(0, 6, 0)
#define N_BAR0 0xC0800000ull
#define N_BAR2 0xC1000000ull
#define NL 4u
#define FIRES 400u

static struct pcibed pb;
static struct sim_ntb *sntb;

struct pline {
	struct ib_line l;
	unsigned int slot;
	uint64_t delivered;     /* __atomic: triggers that wrote */
	uint64_t invalid;       /* firer thread only */
	uint64_t other;
};

static uint64_t delivered(void *ctx)
{
	return __atomic_load_n(&((struct pline *)ctx)->delivered, __ATOMIC_ACQUIRE);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct firer {
	struct pline *lines;
	unsigned int first, nr;
	bool stalled;
};

static void *firer_thread(void *arg)
{
	struct firer *f = arg;
	uint64_t last_progress = now_ms();

	for (;;) {
		bool done = true;

		for (unsigned int i = f->first; i < f->first + f->nr; i++) {
			struct pline *p = &f->lines[i];
			uint64_t d = delivered(p);
			enum sim_ntb_result r;

			if (d < FIRES)
				done = false;
			if (d >= FIRES || __atomic_load_n(&p->l.seen, __ATOMIC_ACQUIRE) != d)
				continue;
			/* Count before the write: the handler may run before the trigger returns. */
			__atomic_add_fetch(&p->delivered, 1, __ATOMIC_ACQ_REL);
			r = sim_ntb_peer_trigger(sntb, p->slot);
			if (r != SIM_NTB_DELIVERED) {
				__atomic_sub_fetch(&p->delivered, 1, __ATOMIC_ACQ_REL);
				if (r == SIM_NTB_INVALID_SLOT)
					p->invalid++;
				else
					p->other++;
			}
			last_progress = now_ms();
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
	struct pline *lines;
	unsigned int rounds;
	uint64_t rand;
	bool failed;
};

static void mover_fn(void *arg)
{
	struct mover *mv = arg;

	for (unsigned int r = 0; r < mv->rounds; r++) {
		uint64_t x;
		ik_cpumask_t mask;

		mv->rand ^= mv->rand << 13;
		mv->rand ^= mv->rand >> 7;
		mv->rand ^= mv->rand << 17;
		x = mv->rand;
		ik_cpumask_clear(&mask);
		for (unsigned int cpu = 0; cpu < 4; cpu++)
			if ((x >> (8 + cpu)) & 1)
				ik_cpumask_set_cpu(cpu, &mask);
		if (ik_cpumask_empty(&mask))
			ik_cpumask_set_cpu(mv->cpu, &mask);
		if (ik_irq_set_affinity(mv->lines[x % NL].l.irq, &mask))
			mv->failed = true;
		sched_yield();
	}
}

static void *mover_thread(void *arg)
{
	struct mover *mv = arg;

	sim_run_on_cpu(pb.tb.m, mv->cpu, mover_fn, mv);
	return NULL;
}

static void test_moves_while_peer_fires_threaded(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .threaded = true, .seed = 41 };
	struct sim_ntb_config c = { .bar0_addr = N_BAR0, .bar2_addr = N_BAR2, .link_up = true };
	static struct pline lines[NL];
	struct ik_msi_map maps[NL];
	struct ik_device *fn, *port;
	struct mover mv[4];
	struct firer fr[2];
	pthread_t mth[4], fth[2];
	struct ik_ntb_stats st;
	struct sim_ntb_stats ss;

	pcibed_init(&pb, &o);
	sntb = sim_ntb_create(pb.bus, N_BDF, &c);
	assert_non_null(sntb);
	assert_int_equal(ik_pci_device_create(NULL, 0, N_BDF, &fn), 0);
	ik_device_set_msi_parent(fn, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ntb_pci_driver), 0);
	port = ik_ntb_port(fn);
	assert_non_null(port);

	memset(lines, 0, sizeof(lines));
	for (unsigned int i = 0; i < NL; i++) {
		maps[i] = ik_ntb_msi_alloc_irq(port, NULL);
		assert_int_equal(maps[i].index, (int)i);
		lines[i].slot = i;
		lines[i].l.m = pb.tb.m;
		lines[i].l.irq = maps[i].virq;
		lines[i].l.fired = delivered;
		lines[i].l.ctx = &lines[i];
		assert_int_equal(ik_request_irq(maps[i].virq, ib_handler, 0, "peer", &lines[i].l), 0);
	}
	for (unsigned int t = 0; t < 2; t++) {
		fr[t] = (struct firer){ .lines = lines, .first = 2 * t, .nr = 2 };
		assert_int_equal(pthread_create(&fth[t], NULL, firer_thread, &fr[t]), 0);
	}
	for (unsigned int t = 0; t < 4; t++) {
		mv[t] = (struct mover){ .cpu = t, .lines = lines, .rounds = 300,
					.rand = 0xD1B54A32D192ED03ull * (t + 1) };
		assert_int_equal(pthread_create(&mth[t], NULL, mover_thread, &mv[t]), 0);
	}
	for (unsigned int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(mth[t], NULL), 0);
		assert_false(mv[t].failed);
	}
	for (unsigned int t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(fth[t], NULL), 0);
		assert_false(fr[t].stalled);
	}
	sim_run_until_idle(pb.tb.m);

	for (unsigned int i = 0; i < NL; i++) {
		assert_int_equal(delivered(&lines[i]), FIRES);
		assert_int_equal(__atomic_load_n(&lines[i].l.seen, __ATOMIC_ACQUIRE), FIRES);
		assert_true(__atomic_load_n(&lines[i].l.runs, __ATOMIC_RELAXED) >= FIRES);
		assert_int_equal(lines[i].invalid, 0);
		assert_int_equal(lines[i].other, 0);
	}
	/*
	 * Every slot ends on its interrupt's target (a move still pending from
	 * another CPU waits for an interrupt: fire each once more first).
	 */
	for (unsigned int i = 0; i < NL; i++) {
		__atomic_add_fetch(&lines[i].delivered, 1, __ATOMIC_ACQ_REL);
		assert_int_equal(sim_ntb_peer_trigger(sntb, i), SIM_NTB_DELIVERED);
	}
	sim_run_until_idle(pb.tb.m);
	for (unsigned int i = 0; i < NL; i++) {
		struct ik_x86_irq_target t;
		uint64_t base = N_BAR0 + SIM_NTB_PUBLISH(i);

		assert_int_equal(__atomic_load_n(&lines[i].l.seen, __ATOMIC_ACQUIRE), FIRES + 1);
		assert_int_equal(ik_x86_irq_target(maps[i].virq, &t), 0);
		assert_int_equal((uint32_t)sim_cpu_read(pb.tb.m, 0, base + SIM_NTB_PUB_OFFSET, 4),
				 ik_x86_cpu_apic_id(t.cpu) << 12);
		assert_int_equal(sim_cpu_read(pb.tb.m, 0, base + SIM_NTB_PUB_DATA, 4) & 0xFF,
				 t.vector);
	}
	assert_int_equal(ik_ntb_get_stats(fn, &st), 0);
	assert_true(st.republished > 0);
	assert_int_equal(st.invalidated, 0);
	sim_ntb_stats(sntb, &ss);
	assert_int_equal(ss.invalid_triggers, 0);
	assert_int_equal(sim_stat(pb.tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);

	for (unsigned int i = 0; i < NL; i++) {
		assert_int_equal(ik_free_irq(maps[i].virq, &lines[i].l), 0);
		assert_int_equal(ik_ntb_msi_free_irq(port, maps[i]), 0);
	}
	ik_pci_device_destroy(fn);
	sim_run_until_idle(pb.tb.m);
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_moves_while_peer_fires_threaded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
