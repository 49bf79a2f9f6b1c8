// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI-X allocate + activate + free cost per vector, against a floor
 * measured in the same run.  Timing is reported, never asserted.
 *
 * Per device: a function whose table has n = 1, 16, 128, 512, 2048
 * entries; one round is ik_pci_alloc_irq_vectors(n..n, MSI-X) -- which
 * enables MSI-X, allocates n interrupts through the per-device domain and
 * the vector domain and activates them in reservation mode (the message
 * written, the entry masked, no CPU vector consumed yet) -- then
 * ik_pci_free_irq_vectors().  The same with a handler requested on every
 * vector (activation for real: a CPU vector assigned, the entry unmasked)
 * and freed again.  And one vector from a 2048-entry table, to show what
 * enable costs per table entry.
 *
 * System-wide: devices with 2048-entry tables are added until 1k, 10k,
 * 100k and 1M interrupts are allocated (reservation mode: an x86 machine
 * has about 200 vectors per CPU, so only reservations can go that far);
 * at each level a 128-vector probe device is allocated and freed, and the
 * cost of the fill itself is reported per vector.
 *
 * Floor, per vector: what any implementation must do at least -- allocate
 * and free one descriptor (ik_os_alloc of sizeof(struct ik_msi_desc)), and
 * program a masked table entry and clear it again through the same
 * simulated bus (5 MMIO writes and 1 read-back).
 *
 * Times are the thread's CPU time (the machine runs on this one host
 * thread), so other load on the host does not count; cost per vector is
 * the best of RUNS timed runs.  The ratio max/min across
 * sizes (target: flat within 1.5x) is printed for each series.
 */
#include "bench_msix_machine.h"

#include <irqkit/matrix.h>
#include <irqkit/msi.h>

#define NCPUS 16u
#define RUNS 31
#define VECS_PER_RUN 256u       /* vectors per timed run, at least one round */
#define PROBE 128u
#define PROBE_ROUNDS 2u
#define PROBE_RUNS 31
#define FILL_TABLE 2048u
#define RSS_LIMIT (6ull << 30)  /* stop filling if the library holds more */

static const unsigned int dev_sizes[] = { 1, 16, 128, 512, 2048 };
#define NR_DEV_SIZES (sizeof(dev_sizes) / sizeof(dev_sizes[0]))
static const unsigned int levels[] = { 1000, 10000, 100000, 1000000 };
#define NR_LEVELS (sizeof(levels) / sizeof(levels[0]))

static double best(double a, double b)
{
	return a < b ? a : b;
}

/* ns per vector of @rounds rounds of alloc(n) [+ request/free each] + free. */
static double time_rounds(struct ik_device *dev, unsigned int n, unsigned int rounds,
			  bool request)
{
	double t0 = bm_cpu_ns();

	for (unsigned int r = 0; r < rounds; r++) {
		bm_alloc(dev, n);
		if (request) {
			for (unsigned int i = 0; i < n; i++) {
				int ret = ik_request_irq((unsigned int)ik_pci_irq_vector(dev, i),
							 bm_handler, 0, "bench", dev);

				if (ret)
					bm_die("ik_request_irq", ret);
			}
			for (unsigned int i = 0; i < n; i++)
				ik_free_irq((unsigned int)ik_pci_irq_vector(dev, i), dev);
		}
		ik_pci_free_irq_vectors(dev);
	}
	return (bm_cpu_ns() - t0) / ((double)rounds * n);
}

/* One timed run of the floor (see above), ns per vector. */
static double floor_run(uint64_t entry)
{
	double t0 = bm_cpu_ns();

	for (unsigned int i = 0; i < VECS_PER_RUN; i++) {
		void *desc = ik_os_alloc(sizeof(struct ik_msi_desc));

		if (!desc)
			bm_die("ik_os_alloc", -IK_ENOMEM);
		ik_os_mmio_write32(entry + 0xC, 1);             /* mask */
		ik_os_mmio_write32(entry + 0x0, 0xFEE00000u);   /* message */
		ik_os_mmio_write32(entry + 0x4, 0);
		ik_os_mmio_write32(entry + 0x8, 0x30 + (i & 0x7F));
		(void)ik_os_mmio_read32(entry + 0x8);           /* flush */
		ik_os_mmio_write32(entry + 0xC, 1);             /* at free: masked */
		ik_os_free(desc);
	}
	return (bm_cpu_ns() - t0) / VECS_PER_RUN;
}

static double ratio(const double *v, unsigned int n)
{
	double lo = 1e30, hi = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (v[i] <= 0)
			continue;
		lo = best(lo, v[i]);
		hi = v[i] > hi ? v[i] : hi;
	}
	return hi > 0 ? hi / lo : 0;
}

static unsigned int available_vectors(unsigned int ncpus)
{
	unsigned int sum = 0;

	for (unsigned int cpu = 0; cpu < ncpus; cpu++) {
		struct ik_irq_matrix_cpu_stats st;

		if (!ik_x86_matrix_cpu_stats(cpu, &st))
			sum += st.available;
	}
	return sum;
}

int main(void)
{
	double per_dev[NR_DEV_SIZES], per_dev_req[NR_DEV_SIZES], allocs[NR_DEV_SIZES], fl, one_of_2048;
	struct ik_device *devs[NR_DEV_SIZES];
	double probe[NR_LEVELS], fill[NR_LEVELS], mbytes[NR_LEVELS], teardown;
	unsigned int reached = 0, nr_fill = 0, allocated = 0, avail;
	static struct ik_device *fill_devs[BM_MAX_FUNCS];
	struct ik_device *probe_dev, *big, *floor_dev;
	const char *stop = NULL;
	struct bm_machine bm;
	double t0, t_start = bm_now_ns();

	/* ---- Per device (sizes interleaved run by run: load bursts hit them all) ---- */
	bm_up(&bm, NCPUS);
	avail = available_vectors(NCPUS);
	for (unsigned int s = 0; s < NR_DEV_SIZES; s++) {
		uint64_t a0;

		devs[s] = bm_new_device(&bm, dev_sizes[s]);
		time_rounds(devs[s], dev_sizes[s], 1, false);   /* warm: domain, leaves */
		a0 = sim_alloc_count();
		time_rounds(devs[s], dev_sizes[s], 1, false);
		allocs[s] = (double)(sim_alloc_count() - a0) / dev_sizes[s];
		per_dev[s] = per_dev_req[s] = 1e30;
	}
	big = bm_new_device(&bm, 2048);
	time_rounds(big, 1, 1, false);
	one_of_2048 = fl = 1e30;
	/* The floor programs entry 0 of a table that is not in use (never enabled). */
	floor_dev = bm_new_device(&bm, 1);
	for (int run = 0; run < RUNS; run++) {
		fl = best(fl, floor_run(ik_pci_resource_start(floor_dev, 0)));
		for (unsigned int s = 0; s < NR_DEV_SIZES; s++) {
			unsigned int n = dev_sizes[s];
			unsigned int rounds = VECS_PER_RUN / n ? VECS_PER_RUN / n : 1;

			per_dev[s] = best(per_dev[s], time_rounds(devs[s], n, rounds, false));
			if (n <= avail)
				per_dev_req[s] = best(per_dev_req[s],
						      time_rounds(devs[s], n, rounds, true));
		}
		one_of_2048 = best(one_of_2048, time_rounds(big, 1, 4, false));
	}
	for (unsigned int s = 0; s < NR_DEV_SIZES; s++) {
		if (per_dev_req[s] >= 1e30)
			per_dev_req[s] = 0;
		ik_pci_device_destroy(devs[s]);
	}
	ik_pci_device_destroy(floor_dev);
	ik_pci_device_destroy(big);
	bm_down(&bm);

	/* ---- System-wide --------------------------------------------------------- */
	bm_up(&bm, NCPUS);
	probe_dev = bm_new_device(&bm, PROBE);
	time_rounds(probe_dev, PROBE, 1, false);        /* warm: domain */
	for (unsigned int l = 0; l < NR_LEVELS && !stop; l++) {
		unsigned int before = allocated;

		t0 = bm_cpu_ns();
		while (allocated < levels[l]) {
			unsigned int n = levels[l] - allocated;
			struct ik_device *dev;

			if (n > FILL_TABLE)
				n = FILL_TABLE;
			if (bm.nr_funcs >= BM_MAX_FUNCS) {
				stop = "out of PCI functions on the simulated segment";
				break;
			}
			if ((uint64_t)sim_alloc_bytes_outstanding() > RSS_LIMIT) {
				stop = "library memory above the benchmark's limit";
				break;
			}
			dev = bm_new_device(&bm, FILL_TABLE);
			fill_devs[nr_fill++] = dev;
			if (ik_pci_alloc_irq_vectors(dev, n, n, IK_PCI_IRQ_MSIX, NULL) != (int)n) {
				stop = "MSI-X allocation failed";
				break;
			}
			allocated += n;
		}
		if (stop)
			break;
		fill[l] = (bm_cpu_ns() - t0) / (allocated - before);
		mbytes[l] = (double)sim_alloc_bytes_outstanding() / (1 << 20);
		probe[l] = 1e30;
		for (int run = 0; run < PROBE_RUNS; run++)
			probe[l] = best(probe[l], time_rounds(probe_dev, PROBE, PROBE_ROUNDS, false));
		reached = l + 1;
	}
	t0 = bm_cpu_ns();
	for (unsigned int i = 0; i < nr_fill; i++)
		ik_pci_device_destroy(fill_devs[i]);
	teardown = allocated ? (bm_cpu_ns() - t0) / allocated : 0;
	ik_pci_device_destroy(probe_dev);
	bm_down(&bm);

	/* ---- Report ----------------------------------------------------------------- */
	printf("MSI-X allocate + activate + free, CPU ns per vector (best of %d runs, %u CPUs, "
	       "x86 vector domain, no remapping)\n", RUNS, NCPUS);
	printf("  floor (descriptor alloc/free + 5 MMIO writes + 1 read)   %8.1f\n", fl);
	printf("  per device, vectors = table size:  reservation mode  x floor  allocs   with handlers   x floor\n");
	for (unsigned int s = 0; s < NR_DEV_SIZES; s++) {
		printf("    %4u                               %8.1f  %7.2f  %6.2f", dev_sizes[s],
		       per_dev[s], per_dev[s] / fl, allocs[s]);
		if (per_dev_req[s] > 0)
			printf("        %8.1f  %8.2f\n", per_dev_req[s], per_dev_req[s] / fl);
		else
			printf("        (more vectors than %u CPUs have)\n", NCPUS);
	}
	printf("    1 vector of a 2048-entry table     %8.1f  (enable masks every table entry)\n",
	       one_of_2048);
	printf("  (allocs: ik_os_alloc calls per vector, transient ones included)\n");
	printf("  system-wide (%u-vector probe device allocated + freed at each level; fill = "
	       "cost of reaching the level)\n", PROBE);
	for (unsigned int l = 0; l < reached; l++)
		printf("    %8u interrupts allocated       probe %8.1f  %8.2f x floor   fill %8.1f"
		       "   (library holds %.1f MiB)\n",
		       levels[l], probe[l], probe[l] / fl, fill[l], mbytes[l]);
	if (stop)
		printf("    stopped at %u interrupts (%u devices): %s\n", allocated, nr_fill, stop);
	printf("    teardown of %u interrupts: %.1f ns per vector\n", allocated, teardown);
	printf("  vectors available on %u CPUs: %u; beyond that MSI-X interrupts exist as "
	       "reservations only (activated when requested)\n", NCPUS, avail);
	printf("  total bench time %.1f s\n", (bm_now_ns() - t_start) / 1e9);
	{
		double r_dev = ratio(per_dev, NR_DEV_SIZES);
		double r_req = ratio(per_dev_req, NR_DEV_SIZES);
		double r_sys = ratio(probe, reached);
		double r_fill = ratio(fill, reached);
		double worst = r_dev > r_sys ? r_dev : r_sys;
		double lo = 1e30, hi = 0, slo = 1e30, shi = 0;

		for (unsigned int i = 0; i < NR_DEV_SIZES; i++) {
			lo = best(lo, per_dev[i]);
			hi = per_dev[i] > hi ? per_dev[i] : hi;
		}
		for (unsigned int i = 0; i < reached; i++) {
			slo = best(slo, probe[i]);
			shi = probe[i] > shi ? probe[i] : shi;
		}
		printf("  max/min: per device %.2f, with handlers %.2f, system-wide probe %.2f, "
		       "fill %.2f (one run each: indicative)\n", r_dev, r_req, r_sys, r_fill);
		printf("BENCH msix_alloc_per_vector_ratio %.2f x target 1.5 (per device 1..2048: "
		       "%.0f-%.0f ns, %.2fx; system 1k..%s: %.0f-%.0f ns, %.2fx; floor %.0f ns)\n",
		       worst, lo, hi, r_dev, reached == NR_LEVELS ? "1M" : "partial", slo, shi, r_sys,
		       fl);
	}
	return 0;
}
