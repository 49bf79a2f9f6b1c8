// SPDX-License-Identifier: BSD-2-Clause
/*
 * The x86-msi two-step update with real concurrency (threaded machine: one
 * host thread per CPU, a device thread raising; CI runs this under
 * ThreadSanitizer).  Three PCI MSI functions without per-vector masking are
 * moved between CPUs, mostly from the CPU each targets (the update runs at
 * once there), sometimes from another CPU (it runs from the next ack),
 * while the device thread raises them.  Raises are paced (the next once a
 * handler saw the previous), so a lost interrupt stalls its line.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "pcibed.h"

#define NR_LINES 3
#define EVENTS 2000

struct line {
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	unsigned int irq;
	uint64_t raised;        /* __atomic */
	uint64_t seen;          /* __atomic */
	uint64_t runs;          /* __atomic */
	uint64_t moved_at;      /* raises when last moved (main thread only) */
};

static struct pcibed pb;
static struct line lines[NR_LINES];
static int stop_device;         /* __atomic */

/*
 * Configuration accesses straight to ECAM: pcibed's tracer keeps an
 * unlocked log, and here several CPU threads write configuration space at
 * once (two functions moving on two CPUs).
 */
static int ecam_read(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		     unsigned int size, uint32_t *value)
{
	struct sim_machine *m = opaque;

	*value = segment ? 0xFFFFFFFFu : (uint32_t)sim_cpu_read(m, sim_cpu_current(m),
			PB_ECAM + ((uint64_t)bdf << 12) + offset, size);
	return 0;
}

static int ecam_write(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		      unsigned int size, uint32_t value)
{
	struct sim_machine *m = opaque;

	if (!segment)
		sim_cpu_write(m, sim_cpu_current(m), PB_ECAM + ((uint64_t)bdf << 12) + offset,
			      value, size);
	return 0;
}

static const struct sim_pci_cfg_ops ecam_ops = { .read = ecam_read, .write = ecam_write };

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;

	__atomic_add_fetch(&l->runs, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&l->seen, __atomic_load_n(&l->raised, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	return IK_IRQ_HANDLED;
}

static void *device_thread(void *arg)
{
	while (!__atomic_load_n(&stop_device, __ATOMIC_ACQUIRE)) {
		bool all_done = true;

		for (unsigned int i = 0; i < NR_LINES; i++) {
			struct line *l = &lines[i];
			uint64_t raised = __atomic_load_n(&l->raised, __ATOMIC_ACQUIRE);

			if (raised < EVENTS)
				all_done = false;
			if (raised < EVENTS && __atomic_load_n(&l->seen, __ATOMIC_ACQUIRE) == raised) {
				__atomic_store_n(&l->raised, raised + 1, __ATOMIC_RELEASE);
				sim_pci_dev_raise(l->sd, 0);
			}
		}
		if (all_done)
			break;
		sched_yield();
	}
	return NULL;
}

struct call {
	struct line *l;
	ik_cpumask_t mask;
	int ret;
};

static void request_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_request_irq(c->l->irq, handler, 0, "x86msi", c->l);
}

static void free_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_free_irq(c->l->irq, c->l);
}

static void move_fn(void *arg)
{
	struct call *c = arg;

	c->ret = ik_irq_set_affinity(c->l->irq, &c->mask);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool all_raised(void)
{
	for (unsigned int i = 0; i < NR_LINES; i++)
		if (__atomic_load_n(&lines[i].raised, __ATOMIC_ACQUIRE) < EVENTS)
			return false;
	return true;
}

static void test_threaded_two_step_moves(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = 5, .threaded = true };
	uint64_t rng = 0x2545F4914F6CDD1Dull, deadline;
	struct ik_x86_msi_stats st;
	unsigned int moves = 0;
	pthread_t dev;

	pcibed_init(&pb, &o);
	sim_set_pci_cfg_handler(pb.tb.m, &ecam_ops, pb.tb.m);
	for (unsigned int i = 0; i < NR_LINES; i++) {
		struct sim_pci_dev_config c = pcibed_std_config();
		uint16_t bdf = SIM_PCI_BDF(0, 3 + i, 0);
		struct call call = { .l = &lines[i] };

		memset(&lines[i], 0, sizeof(lines[i]));
		c.msix = false;
		c.msi_maskable = false;
		c.msi_mmc_log2 = 0;
		c.bars[0].addr = PB_BAR0 + 0x10000ull * i;
		c.bars[2].addr = PB_BAR2 + 0x1000000ull * i;
		lines[i].sd = pcibed_plug(&pb, bdf, &c);
		lines[i].dev = pcibed_device(&pb, bdf);
		assert_int_equal(ik_pci_alloc_irq_vectors(lines[i].dev, 1, 1, IK_PCI_IRQ_MSI, NULL), 1);
		lines[i].irq = (unsigned int)ik_pci_irq_vector(lines[i].dev, 0);
		testbed_on_cpu(&pb.tb, i, request_fn, &call);
		assert_int_equal(call.ret, 0);
	}
	__atomic_store_n(&stop_device, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&dev, NULL, device_thread, NULL), 0);

	deadline = now_ms() + 60000;
	while (!all_raised() && now_ms() < deadline) {
		struct ik_x86_irq_target t;
		struct call c;
		unsigned int to, from;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		c.l = &lines[rng % NR_LINES];
		/* Once per raise at most: let the previous move complete first. */
		if (__atomic_load_n(&c.l->raised, __ATOMIC_ACQUIRE) == c.l->moved_at) {
			sched_yield();
			continue;
		}
		c.l->moved_at = __atomic_load_n(&c.l->raised, __ATOMIC_ACQUIRE);
		assert_int_equal(ik_x86_irq_target(c.l->irq, &t), 0);
		to = (t.cpu + 1 + (unsigned int)((rng >> 8) % 3)) % 4;
		ik_cpumask_clear(&c.mask);
		ik_cpumask_set_cpu(to, &c.mask);
		/* Mostly where it points now (at once), else from elsewhere (next ack). */
		from = (rng >> 16) % 5 ? t.cpu : (t.cpu + 1) % 4;
		testbed_on_cpu(&pb.tb, from, move_fn, &c);
		assert_int_equal(c.ret, 0);
		moves++;
	}
	__atomic_store_n(&stop_device, 1, __ATOMIC_RELEASE);
	pthread_join(dev, NULL);

	deadline = now_ms() + 10000;
	for (;;) {
		bool settled = true;

		for (unsigned int i = 0; i < NR_LINES; i++)
			if (__atomic_load_n(&lines[i].seen, __ATOMIC_ACQUIRE) !=
			    __atomic_load_n(&lines[i].raised, __ATOMIC_ACQUIRE))
				settled = false;
		if (settled || now_ms() > deadline)
			break;
		sim_run_until_idle(pb.tb.m);
	}
	ik_x86_msi_get_stats(&st);
	printf("threaded: %u moves, %llu two-step updates (%llu raced), %llu deferred, %u x %u events\n",
	       moves, (unsigned long long)st.two_step, (unsigned long long)st.raced,
	       (unsigned long long)st.deferred, NR_LINES, EVENTS);
	for (unsigned int i = 0; i < NR_LINES; i++) {
		uint64_t raised = __atomic_load_n(&lines[i].raised, __ATOMIC_ACQUIRE);
		uint64_t seen = __atomic_load_n(&lines[i].seen, __ATOMIC_ACQUIRE);

		if (seen != raised)
			fail_msg("line %u: raised %llu, seen %llu: lost interrupt", i,
				 (unsigned long long)raised, (unsigned long long)seen);
		assert_int_equal(raised, EVENTS);
		/* Strays on a slot another line owns give that line an extra run. */
		assert_true(__atomic_load_n(&lines[i].runs, __ATOMIC_RELAXED) >= raised);
	}
	assert_true(st.two_step > 0);
	assert_int_equal(sim_stat(pb.tb.m, SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);

	for (unsigned int i = 0; i < NR_LINES; i++) {
		struct call c = { .l = &lines[i] };

		testbed_on_cpu(&pb.tb, 0, free_fn, &c);
		assert_int_equal(c.ret, 0);
		ik_pci_free_irq_vectors(lines[i].dev);
		ik_pci_device_destroy(lines[i].dev);
		sim_pci_dev_destroy(lines[i].sd);
	}
	assert_int_equal(pcibed_fini(&pb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threaded_two_step_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
