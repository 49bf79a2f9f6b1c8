// SPDX-License-Identifier: BSD-2-Clause
/*
 * Bytes per requested PCI MSI-X vector, across all levels, from the
 * counting allocator of the host port (sim_alloc_bytes_outstanding():
 * requested bytes, no allocator overhead).
 *
 * On a fresh machine: one function gets 1 vector, another N = 2048; the
 * difference gives the marginal bytes per vector and the fixed bytes per
 * device (MSI data, the per-device domain with its template copies).  Then
 * handlers are requested on R of the N vectors (activation for real: a
 * vector on a CPU, the action).  The breakdown by level comes from the same
 * allocator: N interrupts of a bare root domain (the descriptor with its
 * outermost irq_data and per-CPU counts), of the vector domain alone (+ its
 * chip data), and through a pass-through level over the vector domain (+
 * one allocated irq_data: the vector level's, in the MSI-X hierarchy); what
 * the MSI-X device level adds beyond that is the MSI descriptor (its size
 * from the public header) plus the device's index store nodes and anything
 * else.  Interrupt-number leaves (8 bytes per number) are included where
 * first touched (the first leaf is warmed, so the per-device figure has
 * none).  Transient allocations (xarray preloads) are not counted: only
 * what stays allocated.  Measured for 4, 16 and 64 CPUs (the per-CPU counts of a
 * descriptor grow with the CPUs; cpumasks are sized by IK_CPUS_MAX).
 * Reference (Linux 6.18 x86-64): about 0.8-1 KiB per MSI-X vector.
 */
#include "bench_msix_machine.h"

#include <irqkit/irqdomain.h>
#include <irqkit/msi.h>

#define N 2048u
#define TARGET 256.0

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

/* A root level with no chip data: what a descriptor costs by itself. */
static int bare_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &pass_chip, NULL);
	return 0;
}

static void bare_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
}

static const struct ik_irq_domain_ops bare_ops = { .alloc = bare_alloc, .free = bare_free };

struct result {
	unsigned int ncpus, requested;
	double dev_create;      /* ik_pci_device_create + bind, per device */
	double fixed;           /* MSI-X enable, per device, beyond its vectors */
	double marginal;        /* per allocated vector */
	double request;         /* per requested vector: action, vector, ... */
	double level0;          /* a root level without chip data: the descriptor */
	double level1;          /* vector domain alone, per interrupt */
	double level2;          /* pass-through + vector, per interrupt */
};

/* Bytes per interrupt of @n single-interrupt allocations in @d; frees them. */
static double level_bytes(struct ik_irq_domain *d, unsigned int n)
{
	static int virqs[N];
	int64_t before = sim_alloc_bytes_outstanding();
	double per;

	for (unsigned int i = 0; i < n; i++) {
		virqs[i] = ik_irq_domain_alloc_irqs(d, 1, NULL, NULL);
		if (virqs[i] < 0)
			bm_die("ik_irq_domain_alloc_irqs", virqs[i]);
	}
	per = (double)(sim_alloc_bytes_outstanding() - before) / n;
	for (unsigned int i = 0; i < n; i++)
		ik_irq_domain_free_irqs((unsigned int)virqs[i], 1);
	return per;
}

/* Interrupts held (not measured) so the next measurement uses new numbers. */
static int held[2 * N];
static unsigned int nr_held;

static void hold(struct ik_irq_domain *d, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		held[nr_held] = ik_irq_domain_alloc_irqs(d, 1, NULL, NULL);
		if (held[nr_held] < 0)
			bm_die("ik_irq_domain_alloc_irqs", held[nr_held]);
		nr_held++;
	}
}

static void unhold(void)
{
	while (nr_held)
		ik_irq_domain_free_irqs((unsigned int)held[--nr_held], 1);
}

static void measure(unsigned int ncpus, struct result *r)
{
	struct bm_machine bm;
	struct ik_device *one, *all;
	struct ik_irq_domain *pass, *bare;
	int64_t b0, b1, b2;
	double d_one, d_all;
	uint16_t bdf;

	memset(r, 0, sizeof(*r));
	r->ncpus = ncpus;
	/* Leave room: about 200 vectors per CPU, a few taken by the system. */
	r->requested = ncpus * 150 < N ? ncpus * 150 : N;
	bm_up(&bm, ncpus);

	/* The first interrupt-number leaf is global, not the first device's. */
	ik_irq_domain_free_irqs((unsigned int)ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 1,
								       NULL, NULL), 1);
	bdf = bm_plug(&bm, N);
	b0 = sim_alloc_bytes_outstanding();
	one = bm_device(&bm, bdf);
	r->dev_create = (double)(sim_alloc_bytes_outstanding() - b0);
	b1 = sim_alloc_bytes_outstanding();
	bm_alloc(one, 1);
	d_one = (double)(sim_alloc_bytes_outstanding() - b1);

	all = bm_new_device(&bm, N);
	b1 = sim_alloc_bytes_outstanding();
	bm_alloc(all, N);
	d_all = (double)(sim_alloc_bytes_outstanding() - b1);
	r->marginal = (d_all - d_one) / (N - 1);
	r->fixed = d_one - r->marginal;

	b2 = sim_alloc_bytes_outstanding();
	for (unsigned int i = 0; i < r->requested; i++) {
		int ret = ik_request_irq((unsigned int)ik_pci_irq_vector(all, i), bm_handler, 0,
					 "bench", &bm);

		if (ret)
			bm_die("ik_request_irq", ret);
	}
	r->request = (double)(sim_alloc_bytes_outstanding() - b2) / r->requested;

	/*
	 * Levels, each on fresh numbers (a held block pushes the next
	 * allocation past the numbers used before), so each pays for its
	 * interrupt-number leaves as the vectors above did.
	 */
	bare = ik_irq_domain_create_hierarchy(NULL, 0, 0, "BARE", &bare_ops, NULL);
	pass = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0, 0, "PASS", &pass_ops,
					      NULL);
	if (!bare || !pass)
		bm_die("measurement domains", -IK_ENOMEM);
	r->level0 = level_bytes(bare, N);
	hold(ik_x86_vector_domain(), N);
	r->level1 = level_bytes(ik_x86_vector_domain(), N);
	hold(ik_x86_vector_domain(), N);
	r->level2 = level_bytes(pass, N);
	unhold();

	for (unsigned int i = 0; i < r->requested; i++)
		ik_free_irq((unsigned int)ik_pci_irq_vector(all, i), &bm);
	ik_pci_device_destroy(all);
	ik_pci_device_destroy(one);
	ik_irq_domain_remove(pass);
	ik_irq_domain_remove(bare);
	bm_down(&bm);
}

int main(void)
{
	static const unsigned int cpus[] = { 4, 16, 64 };
	struct result res[3];
	const struct result *h = &res[0];
	double total;

	for (unsigned int i = 0; i < 3; i++)
		measure(cpus[i], &res[i]);

	printf("bytes per PCI MSI-X vector (x86 vector domain, no remapping: 2 levels; "
	       "IK_CPUS_MAX %u, sizeof(struct ik_msi_desc) %zu)\n",
	       (unsigned int)IK_CPUS_MAX, sizeof(struct ik_msi_desc));
	for (unsigned int i = 0; i < 3; i++) {
		const struct result *r = &res[i];
		double msi = r->marginal - r->level2;

		printf("  -- %u CPUs --\n", r->ncpus);
		printf("    irq descriptor with the outermost (device) irq_data,\n"
		       "      per-CPU counts, number-leaf and reverse-map shares  %7.1f\n", r->level0);
		printf("    vector-domain chip data (apic)                        %7.1f\n",
		       r->level1 - r->level0);
		printf("    vector-level irq_data (+ its reverse-map share)       %7.1f\n",
		       r->level2 - r->level1);
		printf("    MSI descriptor (sizeof)                               %7.1f\n",
		       (double)sizeof(struct ik_msi_desc));
		printf("    index store nodes + other MSI-X level bytes           %7.1f\n",
		       msi - (double)sizeof(struct ik_msi_desc));
		printf("    = allocated vector (marginal, N=%u)                 %7.1f\n", N,
		       r->marginal);
		printf("    requested handler (action, vector, ...), R=%-4u        %7.1f\n",
		       r->requested, r->request);
		printf("    = requested vector                                    %7.1f\n",
		       r->marginal + r->request);
		printf("    per device: create+bind %.0f, MSI-X enable fixed %.0f "
		       "(amortized over 32 vectors: %.1f per vector)\n",
		       r->dev_create, r->fixed, (r->dev_create + r->fixed) / 32);
	}
	total = h->marginal + h->request;
	printf("BENCH msix_bytes_per_vector %.0f bytes target %.0f (4 CPUs, %+.0f bytes; %.0f at 16 "
	       "CPUs, %.0f at 64)\n",
	       total, TARGET, total - TARGET, res[1].marginal + res[1].request,
	       res[2].marginal + res[2].request);
	return 0;
}
