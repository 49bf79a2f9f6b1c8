// SPDX-License-Identifier: BSD-2-Clause
/*
 * Dispatch cost per interrupt against a floor loop, measured in one run.
 *
 * Library path: ik_x86_common_interrupt() as the CPU's entry for a device
 * vector -> per-CPU vector table -> edge flow handler (descriptor lock,
 * ack with EOI, spurious accounting) -> driver handler.
 * Floor: the least any dispatcher must do: read the current CPU, look the
 * vector up in a per-CPU table, follow the entry to its action, make the
 * indirect call, write EOI.
 * Both write EOI through the same OS services call into the simulated
 * LAPIC, and both run on the same CPU with interrupts off.  Timing is
 * reported, never asserted.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <irqkit/drivers/testdev.h>
#include <irqkit/irq.h>
#include <irqkit/osl.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim.h"

#define ITERS 100000
#define RUNS 21

struct floor_action {
	ik_irq_handler_t handler;
	void *dev_id;
};

struct floor_entry {
	struct floor_action *action;
	unsigned int irq;
};

static struct floor_entry *floor_table[4][256];
static uint64_t handled;

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	handled++;
	return IK_IRQ_HANDLED;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct bench {
	unsigned int vector;
	double lib_ns, floor_ns;
};

static void __attribute__((noinline)) floor_dispatch(unsigned int vector)
{
	struct floor_entry *e = floor_table[ik_os_cpu_id()][vector];

	if (e)
		e->action->handler(e->irq, e->action->dev_id);
	ik_os_mmio_write32(IK_X86_LAPIC_BASE + 0xB0, 0);
}

static void bench_fn(void *arg)
{
	struct bench *b = arg;
	ik_irqflags_t flags = ik_os_irq_save();

	b->lib_ns = b->floor_ns = 1e30;
	for (int run = 0; run < RUNS; run++) {
		double t0 = now_ns(), t1, t2;

		for (int i = 0; i < ITERS; i++)
			ik_x86_common_interrupt(b->vector);
		t1 = now_ns();
		for (int i = 0; i < ITERS; i++)
			floor_dispatch(b->vector);
		t2 = now_ns();
		if ((t1 - t0) / ITERS < b->lib_ns)
			b->lib_ns = (t1 - t0) / ITERS;
		if ((t2 - t1) / ITERS < b->floor_ns)
			b->floor_ns = (t2 - t1) / ITERS;
	}
	ik_os_irq_restore(flags);
}

static int call_ret;
static void online_fn(void *arg)
{
	call_ret = ik_x86_cpu_online();
}
static void request_fn(void *arg)
{
	call_ret = ik_request_irq(*(unsigned int *)arg, handler, 0, "bench", &handled);
}

int main(void)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	/* Rare interleaving: nothing else is scheduled, keep the points cheap. */
	struct sim_config cfg = { .nr_cpus = 2, .seed = 1, .interleave_permille = 1 };
	struct sim_machine *m = sim_create(&cfg);
	struct ik_irq_domain *dom;
	struct ik_x86_irq_target t;
	struct floor_entry fe;
	struct floor_action fa;
	struct bench b;
	unsigned int irq;
	int virq;

	if (!m)
		return 2;
	sim_port_install(m, ik_x86_common_interrupt);
	sim_testdev_create(m, 0xF0000000ull, 1, 0x100);
	if (ik_core_init() || ik_x86_vector_init(port_vectors, 2))
		return 2;
	for (unsigned int cpu = 0; cpu < 2; cpu++)
		sim_run_on_cpu(m, cpu, online_fn, NULL);
	dom = ik_testdev_domain_create(ik_x86_vector_domain(), 0xF0000000ull, 1, "BENCH");
	virq = ik_testdev_alloc_irqs(dom, 0, 1, NULL);
	if (virq < 0)
		return 2;
	irq = (unsigned int)virq;
	sim_run_on_cpu(m, 0, request_fn, &irq);
	if (call_ret || ik_x86_irq_target(irq, &t))
		return 2;

	fa = (struct floor_action){ .handler = handler, .dev_id = &handled };
	fe = (struct floor_entry){ .action = &fa, .irq = irq };
	floor_table[t.cpu][t.vector] = &fe;
	b.vector = t.vector;
	sim_run_on_cpu(m, t.cpu, bench_fn, &b);

	if (handled != 2ull * RUNS * ITERS || ik_irq_count(irq) != (uint64_t)RUNS * ITERS) {
		fprintf(stderr, "bench_dispatch: handler count mismatch (%llu)\n",
			(unsigned long long)handled);
		return 1;
	}
	printf("dispatch: library %.1f ns/interrupt, floor %.1f ns/interrupt (best of %d x %d)\n",
	       b.lib_ns, b.floor_ns, RUNS, ITERS);
	printf("BENCH dispatch_vs_floor %.2f x target 2.0\n", b.lib_ns / b.floor_ns);
	return 0;
}
