// SPDX-License-Identifier: BSD-2-Clause
/*
 * Platform benchmarks (issue 4 item 9), every ratio measured in this run:
 *
 *  (a) CPU offline with N unmanaged vectors to migrate.  N vectors are
 *      pinned round-robin to CPUs 1..k (k = ceil(N / 160)), then CPUs 1..k
 *      go offline one after another; the cost is the thread CPU time of
 *      all the offlines divided by the vectors they migrated (the sum of
 *      each CPU's allocated vectors just before it goes).  The simulator
 *      has at most SIM_MAX_CPUS = 64 CPUs of about 200 device vectors
 *      each, half of which must absorb the other half's: N stops at 5000
 *      (10k and 100k do not fit such a machine).  A second series keeps
 *      the migrated vectors at 100 and grows the other interrupts of the
 *      system: the slope is what an offline pays per interrupt it does not
 *      move.
 *  (b) affinity change cost, ns per ik_irq_set_affinity() between two
 *      CPUs, called on the CPU currently serving the interrupt (where the
 *      non-remapped two-step update runs at once): non-remapped
 *      non-maskable MSI (two-step), non-remapped MSI-X (masked rewrite),
 *      remapped MSI-X (IRTE update + invalidation wait).  Each move is
 *      completed (an interrupt on the new vector, untimed) before the next.
 *  (c) dispatch: device raise -> simulated delivery -> flow handler ->
 *      driver handler -> EOI, with and without remapping (same MSI-X
 *      function layout), ns per interrupt.
 *  (d) CPU offline on the ITS platform, N = 100, 1000, 10k, 100k LPIs
 *      (MSI-X, 2048 per function, 17 LPI id bits) moved to CPU 1, which
 *      goes offline (x86 offline + ik_its_cpu_offline(): MOVI + SYNC per
 *      LPI); ns per migrated LPI and the ratios to N = 100.  LPIs are not
 *      bounded by per-CPU vectors, so N reaches 100k here.  A second
 *      series moves 100 LPIs while 0 .. 99,900 others sit on CPU 2: the
 *      slope is the per-interrupt walk cost (the offline walks its CPU's
 *      list of mapped LPIs only).
 *
 * Timing is reported, never asserted.  Machines are built twice (without
 * and with the remapping unit) in the same process.
 */
#include "bench_msix_machine.h"

#include <irqkit/its.h>
#include <irqkit/matrix.h>
#include <irqkit/x86_ir.h>

#include "sim_its.h"
#include "sim_vtd.h"

#define RAM_SIZE (4ull << 20)
#define IR_MEM 0x100000ull
#define IR_ENTRIES 1024u
#define PER_CPU 160u
#define MOVES 2000u
#define DISPATCH 20000u
#define REPS 3

static uint64_t handled;

static ik_irqreturn_t count_handler(unsigned int irq, void *dev_id)
{
	(void)irq;
	(void)dev_id;
	handled++;
	return IK_IRQ_HANDLED;
}

static void up(struct bm_machine *bm, unsigned int ncpus, bool ir)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	struct sim_config cfg = { .nr_cpus = ncpus, .seed = 1, .interleave_permille = 1,
				  .ram_size = RAM_SIZE };
	int ret;

	memset(bm, 0, sizeof(*bm));
	bm->ncpus = ncpus;
	bm->m = sim_create(&cfg);
	if (!bm->m)
		bm_die("sim_create", -IK_EINVAL);
	sim_port_install(bm->m, ik_x86_common_interrupt);
	sim_port_set_log_level(IK_LOG_ERR);
	bm->bus = sim_pci_bus_create(bm->m, 0, 0, BM_NR_BUSES);
	if (!bm->bus)
		bm_die("sim_pci_bus_create", -IK_EINVAL);
	if ((ret = ik_core_init()))
		bm_die("ik_core_init", ret);
	if ((ret = ik_x86_vector_init(port_vectors, 2)))
		bm_die("ik_x86_vector_init", ret);
	for (unsigned int cpu = 0; cpu < ncpus; cpu++) {
		sim_run_on_cpu(bm->m, cpu, bm_online_fn, NULL);
		if (bm_call_ret)
			bm_die("ik_x86_cpu_online", bm_call_ret);
	}
	if (ir) {
		struct sim_vtd_config vc = { 0 };
		struct ik_x86_ir_config c = { .unit_base = SIM_VTD_DEFAULT_BASE, .mem_phys = IR_MEM,
					      .mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
					      .nr_entries = IR_ENTRIES };

		if (!sim_vtd_create(bm->m, &vc))
			bm_die("sim_vtd_create", -IK_EINVAL);
		if ((ret = ik_x86_ir_init(&c)))
			bm_die("ik_x86_ir_init", ret);
	}
}

static void down(struct bm_machine *bm)
{
	int ret;

	sim_run_until_idle(bm->m);
	if ((ret = ik_x86_ir_exit()))
		bm_die("ik_x86_ir_exit", ret);
	bm_down(bm);
}

/* ---- (a) CPU offline ---------------------------------------------------- */

static void offline_fn(void *arg)
{
	*(int *)arg = ik_x86_cpu_offline();
}

static unsigned int allocated_on(unsigned int cpu)
{
	struct ik_irq_matrix_cpu_stats st;

	if (ik_x86_matrix_cpu_stats(cpu, &st))
		bm_die("ik_x86_matrix_cpu_stats", -IK_EINVAL);
	return st.allocated;
}

/*
 * @n vectors on CPUs 1..k and @parked more on CPUs 33..63 (which stay);
 * CPUs 1..k go offline.  Returns the total ns of the offlines; *migrated
 * gets the vectors they moved.
 */
static double offline_run(unsigned int n, unsigned int parked, unsigned int *migrated)
{
	struct ik_irq_affinity_desc *aff = calloc(n + parked, sizeof(*aff));
	unsigned int k = (n + PER_CPU - 1) / PER_CPU;
	struct bm_machine bm;
	double t = 0;
	int first, ret;

	if (!aff)
		bm_die("calloc", -IK_ENOMEM);
	up(&bm, SIM_MAX_CPUS, false);
	for (unsigned int i = 0; i < n; i++) {
		ik_cpumask_clear(&aff[i].mask);
		ik_cpumask_set_cpu(1 + i % k, &aff[i].mask);
	}
	for (unsigned int i = n; i < n + parked; i++) {
		ik_cpumask_clear(&aff[i].mask);
		ik_cpumask_set_cpu(33 + i % 31, &aff[i].mask);
	}
	n += parked;
	first = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), n, aff, NULL);
	if (first < 0)
		bm_die("ik_irq_domain_alloc_irqs", first);
	for (unsigned int i = 0; i < n; i++)
		if ((ret = ik_request_irq((unsigned int)first + i, count_handler, 0, "bench", &bm)))
			bm_die("ik_request_irq", ret);
	*migrated = 0;
	for (unsigned int cpu = 1; cpu <= k; cpu++) {
		double t0;

		*migrated += allocated_on(cpu);
		t0 = bm_cpu_ns();
		sim_run_on_cpu(bm.m, cpu, offline_fn, &ret);
		t += bm_cpu_ns() - t0;
		if (ret)
			bm_die("ik_x86_cpu_offline", ret);
		sim_cpu_set_online(bm.m, cpu, false);
	}
	if ((ret = ik_x86_matrix_check()))
		bm_die("ik_x86_matrix_check", ret);
	for (unsigned int i = 0; i < n; i++)
		ik_free_irq((unsigned int)first + i, &bm);
	if ((ret = ik_irq_domain_free_irqs((unsigned int)first, n)))
		bm_die("ik_irq_domain_free_irqs", ret);
	for (unsigned int cpu = 1; cpu <= k; cpu++) {
		sim_cpu_set_online(bm.m, cpu, true);
		sim_run_on_cpu(bm.m, cpu, bm_online_fn, NULL);
	}
	down(&bm);
	free(aff);
	return t;
}

/* ---- (b) affinity moves and (c) dispatch --------------------------------- */

struct moving {
	struct bm_machine *bm;
	struct sim_pci_dev *sd;
	struct ik_device *dev;
	unsigned int irq;
	double ns;              /* accumulated time inside ik_irq_set_affinity() */
	int ret;
};

static struct moving *cur_mv;
static unsigned int cur_target;

static void move_fn(void *arg)
{
	struct moving *mv = arg;
	ik_cpumask_t m;
	double t0;

	ik_cpumask_clear(&m);
	ik_cpumask_set_cpu(cur_target, &m);
	t0 = bm_cpu_ns();
	mv->ret = ik_irq_set_affinity(mv->irq, &m);
	mv->ns += bm_cpu_ns() - t0;
}

/* A function with MSI (non-maskable, 1 vector) or MSI-X, 1 vector enabled. */
static void make_dev(struct moving *mv, struct bm_machine *bm, bool msix, bool ir)
{
	struct sim_pci_dev_config c;
	unsigned int i = bm->nr_funcs++;
	uint16_t bdf = (uint16_t)(8 + i * 8);
	int ret;

	memset(mv, 0, sizeof(*mv));
	memset(&c, 0, sizeof(c));
	c.vendor_id = 0x1AF4;
	c.device_id = 0x1041;
	c.class_code = 0x020000;
	c.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, BM_BAR_SIZE,
						 BM_BAR_BASE + (uint64_t)i * BM_BAR_SIZE };
	if (msix) {
		c.msix = true;
		c.msix_table_size = 4;
		c.msix_pba_offset = 0x8000;
	} else {
		c.msi = true;
		c.msi_64bit = true;
		c.msi_maskable = false;
	}
	mv->bm = bm;
	mv->sd = sim_pci_dev_create(bm->bus, bdf, &c);
	if (!mv->sd)
		bm_die("sim_pci_dev_create", -IK_EINVAL);
	if ((ret = ik_pci_device_create(NULL, 0, bdf, &mv->dev)))
		bm_die("ik_pci_device_create", ret);
	ik_device_set_msi_parent(mv->dev, ir ? ik_x86_ir_domain() : ik_x86_vector_domain());
	if ((ret = ik_pci_enable_device(mv->dev)))
		bm_die("ik_pci_enable_device", ret);
	ik_pci_set_master(mv->dev);
	if ((ret = ik_device_bind(mv->dev, &bm_driver)))
		bm_die("ik_device_bind", ret);
	ret = ik_pci_alloc_irq_vectors(mv->dev, 1, 1, msix ? IK_PCI_IRQ_MSIX : IK_PCI_IRQ_MSI, NULL);
	if (ret != 1)
		bm_die("ik_pci_alloc_irq_vectors", ret < 0 ? ret : -IK_ENOSPC);
	mv->irq = (unsigned int)ik_pci_irq_vector(mv->dev, 0);
	if ((ret = ik_request_irq(mv->irq, count_handler, 0, "bench", mv)))
		bm_die("ik_request_irq", ret);
}

static void free_dev(struct moving *mv)
{
	ik_free_irq(mv->irq, mv);
	ik_pci_free_irq_vectors(mv->dev);
	ik_device_unbind(mv->dev);
	ik_pci_device_destroy(mv->dev);
}

/* One interrupt through the device, delivered and handled. */
static void fire(struct moving *mv)
{
	uint64_t before = handled;

	sim_pci_dev_raise(mv->sd, 0);
	sim_run_until_idle(mv->bm->m);
	if (handled != before + 1)
		bm_die("delivery (interrupt lost)", -IK_EIO);
}

/* ns per move, alternating CPUs 1 and 2, each move completed by an interrupt. */
static double moves(struct moving *mv)
{
	struct ik_x86_irq_target t;

	mv->ns = 0;
	for (unsigned int i = 0; i < MOVES; i++) {
		if (ik_x86_irq_target(mv->irq, &t))
			bm_die("ik_x86_irq_target", -IK_ENOENT);
		cur_mv = mv;
		cur_target = t.cpu == 1 ? 2 : 1;
		sim_run_on_cpu(mv->bm->m, t.cpu, move_fn, mv);
		if (mv->ret)
			bm_die("ik_irq_set_affinity", mv->ret);
		fire(mv);
		if (ik_x86_irq_target(mv->irq, &t) || t.cpu != cur_target)
			bm_die("move not done", -IK_EIO);
	}
	return mv->ns / MOVES;
}

static double dispatch(struct moving *mv)
{
	double t0 = bm_cpu_ns();

	for (unsigned int i = 0; i < DISPATCH; i++)
		fire(mv);
	return (bm_cpu_ns() - t0) / DISPATCH;
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

/* ---- (d) CPU offline on the ITS platform ---------------------------------- */

#define ITS_CPUS 4u
#define ITS_MEM_PHYS 0x100000ull
#define ITS_MEM_BYTES (3ull << 20)
#define ITS_PER_DEV 2048u               /* MSI-X entries per function */

static void its_up(struct bm_machine *bm)
{
	struct ik_its_config c = { .its_base = SIM_ITS_DEFAULT_BASE, .mem_phys = ITS_MEM_PHYS,
				   .mem_size = ITS_MEM_BYTES, .id_bits = IK_ITS_MAX_ID_BITS };
	int ret;

	up(bm, ITS_CPUS, false);
	if (!sim_its_create(bm->m, NULL))
		bm_die("sim_its_create", -IK_EINVAL);
	if ((ret = ik_its_init(&c)))
		bm_die("ik_its_init", ret);
}

struct its_set {
	struct ik_device *dev[64];
	unsigned int nr_dev;
	unsigned int *irq;
	unsigned int n;
};

/* @n MSI-X interrupts (2048 per function), requested and moved to @cpu. */
static void its_populate(struct its_set *s, struct bm_machine *bm, unsigned int n,
			 unsigned int cpu)
{
	ik_cpumask_t mask;
	int ret;

	ik_cpumask_clear(&mask);
	ik_cpumask_set_cpu(cpu, &mask);
	for (unsigned int done = 0; done < n;) {
		unsigned int k = IK_MIN(ITS_PER_DEV, n - done);
		struct ik_device *dev = bm_new_device(bm, ITS_PER_DEV);

		ik_device_set_msi_parent(dev, ik_its_domain());
		bm_alloc(dev, k);
		s->dev[s->nr_dev++] = dev;
		for (unsigned int i = 0; i < k; i++, done++) {
			unsigned int irq = (unsigned int)ik_pci_irq_vector(dev, i);

			s->irq[s->n++] = irq;
			if ((ret = ik_request_irq(irq, count_handler, 0, "bench", s)))
				bm_die("ik_request_irq", ret);
			if ((ret = ik_irq_set_affinity(irq, &mask)))
				bm_die("ik_irq_set_affinity", ret);
		}
	}
}

static void its_depopulate(struct its_set *s)
{
	for (unsigned int i = 0; i < s->n; i++)
		ik_free_irq(s->irq[i], s);
	for (unsigned int d = 0; d < s->nr_dev; d++) {
		ik_pci_free_irq_vectors(s->dev[d]);
		ik_pci_device_destroy(s->dev[d]);
	}
}

/*
 * @n LPIs on CPU 1 and @others more on CPU 2; CPU 1 goes offline (x86
 * first, then the ITS: one MOVI + SYNC per LPI).  Returns the ns of the
 * offline; *migrated gets the LPIs that left CPU 1.
 */
static double its_offline_run(unsigned int n, unsigned int others, unsigned int *migrated)
{
	struct its_set a = { 0 }, b = { 0 };
	struct ik_its_stats st0, st1;
	struct bm_machine bm;
	double t0, t;
	int ret;

	a.irq = calloc(n, sizeof(*a.irq));
	b.irq = calloc(others + 1, sizeof(*b.irq));
	if (!a.irq || !b.irq)
		bm_die("calloc", -IK_ENOMEM);
	its_up(&bm);
	its_populate(&a, &bm, n, 1);
	its_populate(&b, &bm, others, 2);
	ik_its_get_stats(&st0);
	t0 = bm_cpu_ns();
	sim_run_on_cpu(bm.m, 1, offline_fn, &ret);
	if (ret)
		bm_die("ik_x86_cpu_offline", ret);
	sim_cpu_set_online(bm.m, 1, false);
	if ((ret = ik_its_cpu_offline(1)))
		bm_die("ik_its_cpu_offline", ret);
	t = bm_cpu_ns() - t0;
	ik_its_get_stats(&st1);
	*migrated = (unsigned int)(st1.movis - st0.movis);
	if (*migrated != n)
		bm_die("ITS offline: not every LPI moved", -IK_EINVAL);
	sim_cpu_set_online(bm.m, 1, true);
	sim_run_on_cpu(bm.m, 1, bm_online_fn, NULL);
	if ((ret = ik_its_cpu_online(1)))
		bm_die("ik_its_cpu_online", ret);
	its_depopulate(&a);
	its_depopulate(&b);
	if ((ret = ik_its_exit()))
		bm_die("ik_its_exit", ret);
	down(&bm);
	free(a.irq);
	free(b.irq);
	return t;
}

int main(void)
{
	static const unsigned int ns_[] = { 100, 1000, 5000 };
	enum { NN = sizeof(ns_) / sizeof(ns_[0]) };
	static const unsigned int its_n[] = { 100, 1000, 10000, 100000 };
	enum { NI = sizeof(its_n) / sizeof(its_n[0]) };
	double off[NN], scan[NN], its_off[NI], its_scan[NI];
	double two_step = 1e30, masked = 1e30, remap = 1e30, remap_msi = 1e30;
	double disp = 1e30, disp_ir = 1e30;
	struct ik_x86_msi_stats ms;
	struct ik_x86_ir_stats is;

	/* (a) */
	for (unsigned int j = 0; j < NN; j++) {
		unsigned int migrated = 0;

		off[j] = 1e30;
		/* Small N is one short offline: more runs to get a stable best. */
		for (unsigned int r = 0; r < REPS + 3000 / ns_[j]; r++)
			off[j] = best(off[j], offline_run(ns_[j], 0, &migrated) / migrated);
		printf("cpu offline: N=%5u migrated %5u vectors over %u CPUs: %.0f ns/vector\n",
		       ns_[j], migrated, (ns_[j] + PER_CPU - 1) / PER_CPU, off[j]);
	}
	printf("cpu offline: per-vector cost largest N / smallest N = %.2f "
	       "(10k, 100k: not reachable, %u simulated CPUs at most)\n",
	       off[NN - 1] / off[0], SIM_MAX_CPUS);

	/*
	 * The rest of the system should not matter: one CPU with 100 vectors
	 * goes offline while 0, 900 or 4900 other interrupts exist elsewhere.
	 * (An offline walks only the dying CPU's vector table; when it walked
	 * every interrupt, twice, this slope was ~115 ns per interrupt and the
	 * per-vector ratio above ~6.)
	 */
	for (unsigned int j = 0; j < NN; j++) {
		unsigned int migrated = 0;
		double t = 1e30;

		for (int r = 0; r < 3 * REPS; r++)
			t = best(t, offline_run(100, ns_[j] - 100, &migrated));
		scan[j] = t;
		printf("cpu offline: one CPU, %u vectors migrated, %5u interrupts in all: %.0f ns "
		       "(%.0f ns/migrated vector)\n", migrated, ns_[j], t, t / migrated);
	}
	printf("cpu offline: per-interrupt walk cost %.0f ns (slope over the %u..%u range)\n",
	       (scan[NN - 1] - scan[0]) / (ns_[NN - 1] - ns_[0]), ns_[0], ns_[NN - 1]);

	/*
	 * (d) The same offline on the ITS platform, where N is not bounded by
	 * per-CPU vectors (LPIs: up to 122,880 with 17 id bits): N = 100 ..
	 * 100k LPIs leave CPU 1, then 100 LPIs leave it while 0 .. 99,900
	 * others exist on CPU 2 (what the offline pays per LPI it does not
	 * move: it walks every interrupt of the system).
	 */
	for (unsigned int j = 0; j < NI; j++) {
		unsigned int migrated = 0;

		its_off[j] = 1e30;
		for (unsigned int r = 0; r < (its_n[j] >= 10000 ? 1u : REPS + 3000 / its_n[j]); r++)
			its_off[j] = best(its_off[j], its_offline_run(its_n[j], 0, &migrated) / migrated);
		printf("its cpu offline: N=%6u LPIs migrated: %.0f ns/LPI\n", migrated, its_off[j]);
	}
	printf("its cpu offline: per-LPI cost 100k / 100 = %.2f, 10k / 100 = %.2f, "
	       "1000 / 100 = %.2f\n", its_off[NI - 1] / its_off[0], its_off[2] / its_off[0],
	       its_off[1] / its_off[0]);
	for (unsigned int j = 0; j < NI; j++) {
		unsigned int migrated = 0;
		double t = 1e30;

		for (unsigned int r = 0; r < (its_n[j] >= 10000 ? 1u : (unsigned int)REPS); r++)
			t = best(t, its_offline_run(100, its_n[j] - 100, &migrated));
		its_scan[j] = t;
		printf("its cpu offline: 100 LPIs migrated, %6u interrupts in all: %.0f ns "
		       "(%.0f ns/migrated LPI)\n", its_n[j], t, t / migrated);
	}
	printf("its cpu offline: per-interrupt walk cost %.0f ns (slope over the %u..%u range)\n",
	       (its_scan[NI - 1] - its_scan[0]) / (its_n[NI - 1] - its_n[0]), its_n[0],
	       its_n[NI - 1]);

	/* (b), (c): without remapping, then with it. */
	for (int r = 0; r < REPS; r++) {
		struct bm_machine bm;
		struct moving a, b;

		up(&bm, 4, false);
		make_dev(&a, &bm, false, false);
		make_dev(&b, &bm, true, false);
		if (ik_irq_get_info(a.irq, &(struct ik_irq_info){ 0 }))
			bm_die("ik_irq_get_info", -IK_ENOENT);
		two_step = best(two_step, moves(&a));
		masked = best(masked, moves(&b));
		disp = best(disp, dispatch(&b));
		ik_x86_msi_get_stats(&ms);
		free_dev(&a);
		free_dev(&b);
		down(&bm);

		up(&bm, 4, true);
		make_dev(&a, &bm, false, true);
		make_dev(&b, &bm, true, true);
		remap_msi = best(remap_msi, moves(&a));
		remap = best(remap, moves(&b));
		disp_ir = best(disp_ir, dispatch(&b));
		if (ik_x86_ir_get_stats(&is))
			bm_die("ik_x86_ir_get_stats", -IK_ENODEV);
		free_dev(&a);
		free_dev(&b);
		down(&bm);
	}
	printf("affinity: non-remapped MSI two-step %.0f ns/move, non-remapped MSI-X masked %.0f "
	       "ns/move (last run: %llu two-step, %llu masked updates)\n", two_step, masked,
	       (unsigned long long)ms.two_step, (unsigned long long)ms.masked);
	printf("affinity: remapped MSI-X %.0f ns/move, remapped MSI %.0f ns/move "
	       "(last run: %llu retargets, %llu invalidations)\n", remap, remap_msi,
	       (unsigned long long)is.retargets, (unsigned long long)is.invalidations);
	printf("affinity: IRTE / two-step = %.2f, IRTE / masked = %.2f (best of %d x %u moves)\n",
	       remap / two_step, remap / masked, REPS, MOVES);
	printf("dispatch (raise -> handler -> EOI, incl. simulated delivery): %.0f ns without IR, "
	       "%.0f ns with IR, IR / no IR = %.2f (best of %d x %u)\n", disp, disp_ir,
	       disp_ir / disp, REPS, DISPATCH);
	printf("BENCH cpu_offline_per_vector_ratio %.2f x target 2.0\n", off[NN - 1] / off[0]);
	printf("BENCH its_cpu_offline_per_lpi_ratio_100k %.2f x target 2.0\n",
	       its_off[NI - 1] / its_off[0]);
	printf("BENCH affinity_irte_vs_twostep %.2f x target 1.0\n", remap / two_step);
	printf("BENCH dispatch_ir_vs_noir %.2f x target 1.5\n", disp_ir / disp);
	return 0;
}
