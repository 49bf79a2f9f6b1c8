// SPDX-License-Identifier: BSD-2-Clause
/*
 * Bytes per allocated interrupt, per hierarchy level, from the counting
 * allocator of the host port (sim_alloc_bytes_outstanding(): requested
 * bytes, no allocator overhead).  Hierarchies of 1, 2 and 3 levels
 * (vector; pass-through + vector; pass-through + pass-through + vector),
 * allocated but not requested, then the cost of requesting a handler.
 * Reference (Linux 6.18 x86-64, section 8.1 of the architecture notes):
 * about 0.8-1 KiB per MSI-X vector with remapping, 3 levels.
 */
#include <stdio.h>

#include <irqkit/irq.h>
#include <irqkit/irqdomain.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim.h"

#define N 4096
#define N_REQ 512

static const struct ik_irq_chip pass_chip = {
	.name = "PASS",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
};

static int pass_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	for (unsigned int i = 0; !ret && i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &pass_chip, NULL);
	return ret;
}

static void pass_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops pass_ops = { .alloc = pass_alloc, .free = pass_free };

static ik_irqreturn_t handler(unsigned int irq, void *dev_id)
{
	return IK_IRQ_HANDLED;
}

static int call_ret;
static void online_fn(void *arg)
{
	call_ret = ik_x86_cpu_online();
}

/* Average bytes per interrupt for N single-interrupt allocations in @d. */
static double measure(struct ik_irq_domain *d, int *first)
{
	int64_t before = sim_alloc_bytes_outstanding();

	for (unsigned int i = 0; i < N; i++) {
		int virq = ik_irq_domain_alloc_irqs(d, 1, NULL, NULL);

		if (virq < 0)
			return -1;
		if (i == 0)
			*first = virq;
	}
	return (double)(sim_alloc_bytes_outstanding() - before) / N;
}

static void release(int first)
{
	for (unsigned int i = 0; i < N; i++)
		ik_irq_domain_free_irqs((unsigned int)first + i, 1);
}

int main(void)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	struct sim_config cfg = { .nr_cpus = 4, .seed = 1 };
	struct sim_machine *m = sim_create(&cfg);
	struct ik_irq_domain *vector, *pass1, *pass2;
	double b1, b2, b3, act;
	int64_t before;
	int first;

	if (!m)
		return 2;
	sim_port_install(m, ik_x86_common_interrupt);
	if (ik_core_init() || ik_x86_vector_init(port_vectors, 2)) {
		fprintf(stderr, "init failed\n");
		return 2;
	}
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		sim_run_on_cpu(m, cpu, online_fn, NULL);
	vector = ik_x86_vector_domain();
	pass1 = ik_irq_domain_create_hierarchy(vector, 0, 0, "PASS1", &pass_ops, NULL);
	pass2 = ik_irq_domain_create_hierarchy(pass1, 0, 0, "PASS2", &pass_ops, NULL);

	/* Warm up the lazily allocated descriptor-table leaves. */
	b1 = measure(vector, &first);
	release(first);

	b1 = measure(vector, &first);
	release(first);
	b2 = measure(pass1, &first);
	release(first);
	b3 = measure(pass2, &first);

	/*
	 * A requested handler on some of the 3-level interrupts (requesting
	 * activates, and 4 CPUs have about 800 vectors between them).
	 */
	before = sim_alloc_bytes_outstanding();
	for (unsigned int i = 0; i < N_REQ; i++)
		if ((call_ret = ik_request_irq((unsigned int)first + i, handler, IK_IRQF_NO_AUTOEN,
					       "m", m))) {
			fprintf(stderr, "request: %s\n", ik_strerror(call_ret));
			return 2;
		}
	act = (double)(sim_alloc_bytes_outstanding() - before) / N_REQ;
	for (unsigned int i = 0; i < N_REQ; i++)
		ik_free_irq((unsigned int)first + i, m);
	release(first);

	printf("bytes per interrupt (%d interrupts, %u CPUs, IK_CPUS_MAX %u):\n", N, 4u,
	       (unsigned int)IK_CPUS_MAX);
	printf("  1 level  (vector)                 %7.1f\n", b1);
	printf("  2 levels (pass + vector)          %7.1f  (+%.1f for the level)\n", b2, b2 - b1);
	printf("  3 levels (pass + pass + vector)   %7.1f  (+%.1f for the level)\n", b3, b3 - b2);
	printf("  requested handler (action)        %7.1f\n", act);
	printf("BENCH irq_bytes_1level %.0f bytes target 1024\n", b1);
	printf("BENCH irq_bytes_per_extra_level %.0f bytes target 112\n", b3 - b2);
	printf("BENCH irq_bytes_3levels %.0f bytes target 1024\n", b3);

	ik_irq_domain_remove(pass2);
	ik_irq_domain_remove(pass1);
	ik_x86_vector_exit();
	ik_core_exit();
	sim_destroy(m);
	return 0;
}
