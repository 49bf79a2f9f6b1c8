// SPDX-License-Identifier: BSD-2-Clause
/*
 * The ITS-style platform over an interrupt's life, in the deterministic
 * simulator:
 *
 *  - reference scenario 2: an LPI moved while its handler runs on CPU A,
 *    the next event taken on CPU B while A is still in the handler.  LPIs
 *    take the fasteoi flow with IK_IRQD_RESEND_WHEN_IN_PROGRESS: B keeps
 *    the event (PENDING), A resends it (INT) when done, the handler runs
 *    exactly once more, on B.  With the flag cleared (the test's switch)
 *    the same interleaving loses the event, which shows the flag is what
 *    saves it;
 *  - managed LPIs whose affinity goes fully offline are shut down, not
 *    moved, and restarted when a CPU of their mask returns (disable depth
 *    kept);
 *  - a device's event table grows when a later allocation needs more
 *    events than it holds (remap: MAPD with the larger table, MAPTI of
 *    every live event, SYNC, in one published batch), with no event lost
 *    or misrouted while devices fire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/drivers/ims_slots.h>
#include <irqkit/ims.h>
#include <irqkit/its.h>

#include "host_port.h"
#include "pcibed.h"
#include "sim_ims.h"
#include "sim_its.h"

#define RAM_SIZE (4ull << 20)
#define ITS_MEM 0x100000ull
#define ITS_MEM_SIZE 0x40000ull
#define MAX_DEVS 4

struct fx {
	struct pcibed pb;
	struct sim_its *its;
	struct sim_pci_dev *sd[MAX_DEVS];
	struct ik_device *dev[MAX_DEVS];
	uint16_t bdf[MAX_DEVS];
	unsigned int nr_devs;
};

static void fx_up(struct fx *f, uint64_t seed, unsigned int interleave)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE,
				  .interleave_permille = interleave };
	struct ik_its_config c = { .its_base = SIM_ITS_DEFAULT_BASE, .mem_phys = ITS_MEM,
				   .mem_size = ITS_MEM_SIZE, .id_bits = 14 };

	memset(f, 0, sizeof(*f));
	pcibed_init(&f->pb, &o);
	f->its = sim_its_create(f->pb.tb.m, NULL);
	assert_non_null(f->its);
	assert_int_equal(ik_its_init(&c), 0);
}

static unsigned int plug_cfg(struct fx *f, uint16_t bdf, const struct sim_pci_dev_config *cfg)
{
	struct sim_pci_dev_config c = *cfg;
	unsigned int i = f->nr_devs++;

	c.bars[0].addr = PB_BAR0 + 0x10000ull * i;
	c.bars[2].addr = PB_BAR2 + 0x100000ull * i;
	f->bdf[i] = bdf;
	f->sd[i] = pcibed_plug(&f->pb, bdf, &c);
	f->dev[i] = pcibed_device(&f->pb, bdf);
	ik_device_set_msi_parent(f->dev[i], ik_its_domain());
	return i;
}

static unsigned int plug(struct fx *f, uint16_t bdf)
{
	struct sim_pci_dev_config c = pcibed_std_config();

	c.msix = true;
	c.msi = false;
	return plug_cfg(f, bdf, &c);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->pb.tb.m);
	for (unsigned int i = 0; i < f->nr_devs; i++) {
		ik_pci_free_irq_vectors(f->dev[i]);
		ik_pci_device_destroy(f->dev[i]);
	}
	assert_int_equal(ik_its_exit(), 0);
	assert_int_equal(pcibed_fini(&f->pb), 0);
}

static struct sim_its_stats sstats(struct fx *f)
{
	struct sim_its_stats st;

	sim_its_get_stats(f->its, &st);
	return st;
}

static struct ik_its_stats lstats(void)
{
	struct ik_its_stats st;

	assert_int_equal(ik_its_get_stats(&st), 0);
	return st;
}

static struct ik_its_irq_info info_of(unsigned int irq)
{
	struct ik_its_irq_info info;

	assert_int_equal(ik_its_irq_info(irq, &info), 0);
	return info;
}

static struct ik_irq_info core_info(unsigned int irq)
{
	struct ik_irq_info info;

	assert_int_equal(ik_irq_get_info(irq, &info), 0);
	return info;
}

static ik_cpumask_t one_cpu(unsigned int cpu)
{
	ik_cpumask_t m;

	ik_cpumask_clear(&m);
	ik_cpumask_set_cpu(cpu, &m);
	return m;
}

/* ---- Scenario 2: the next event on the new CPU while the old one still runs ------------ */

struct s2 {
	struct fx *f;
	unsigned int irq, cpu_a, cpu_b;
	unsigned int runs;
	unsigned int run_cpu[4];
	bool b_took_it;          /* B acknowledged the second event while A was in the handler */
	bool pending_seen;       /* ... and the flow marked it PENDING */
	uint64_t acks_before;
};

/*
 * First run, on CPU A: move the LPI to B (MOVI + SYNC), raise the device's
 * next event, and stay in the handler until B has acknowledged it (the
 * simulator enters B from A's relax points) -- B's flow finds the
 * interrupt in progress.
 */
static ik_irqreturn_t s2_handler(unsigned int irq, void *dev_id)
{
	struct s2 *s = dev_id;
	ik_cpumask_t mask = one_cpu(s->cpu_b);

	(void)irq;
	if (s->runs < 4)
		s->run_cpu[s->runs] = ik_os_cpu_id();
	if (s->runs++)
		return IK_IRQ_HANDLED;
	assert_int_equal(ik_os_cpu_id(), s->cpu_a);
	assert_int_equal(ik_irq_set_affinity(s->irq, &mask), 0);
	assert_int_equal(info_of(s->irq).cpu, s->cpu_b);
	s->acks_before = sstats(s->f).acks;
	sim_pci_dev_raise(s->f->sd[0], 0);
	for (unsigned int i = 0; i < 100000 && !s->b_took_it; i++) {
		ik_os_cpu_relax();
		s->b_took_it = sstats(s->f).acks > s->acks_before;
	}
	s->pending_seen = (core_info(s->irq).istate & IK_IRQS_PENDING) != 0;
	/* B's flow left without running the handler. */
	assert_int_equal(s->runs, 1);
	return IK_IRQ_HANDLED;
}

static void run_scenario2(uint64_t seed, bool with_flag, struct s2 *s)
{
	struct ik_irq_data *d;
	struct fx f;
	int irq;

	fx_up(&f, seed, 1000);
	plug(&f, SIM_PCI_BDF(0, 3, 0));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 1, 1, IK_PCI_IRQ_MSIX, NULL), 1);
	irq = ik_pci_irq_vector(f.dev[0], 0);
	assert_true(irq > 0);
	memset(s, 0, sizeof(*s));
	s->f = &f;
	s->irq = (unsigned int)irq;
	d = ik_irq_get_irq_data(s->irq);
	/* The platform's choice: fasteoi flow, resend when in progress. */
	assert_true(ik_irqd_test(d, IK_IRQD_RESEND_WHEN_IN_PROGRESS));
	if (!with_flag)
		ik_irqd_clear(d, IK_IRQD_RESEND_WHEN_IN_PROGRESS);     /* the test's switch */
	assert_int_equal(ik_request_irq(s->irq, s2_handler, 0, "s2", s), 0);
	s->cpu_a = info_of(s->irq).cpu;
	s->cpu_b = (s->cpu_a + 1) % 4;

	sim_pci_dev_raise(f.sd[0], 0);
	sim_run_until_idle(f.pb.tb.m);

	assert_true(s->b_took_it);
	/* The resend is an INT, issued only with the flag. */
	assert_int_equal(lstats().retriggers, with_flag ? 1 : 0);
	assert_int_equal(sstats(&f).translations, 2);
	assert_int_equal(sstats(&f).coalesced, 0);
	assert_int_equal(sstats(&f).dropped_unmapped_event, 0);
	assert_int_equal(core_info(s->irq).istate & (IK_IRQS_PENDING | IK_IRQS_REPLAY), 0);
	assert_int_equal(info_of(s->irq).cpu, s->cpu_b);

	/* Either way the line keeps working on B afterwards. */
	{
		unsigned int before = s->runs;

		sim_pci_dev_raise(f.sd[0], 0);
		sim_run_until_idle(f.pb.tb.m);
		assert_int_equal(s->runs, before + 1);
	}
	assert_int_equal(ik_free_irq(s->irq, s), 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	fx_down(&f);
}

static void test_scenario2_resend_when_in_progress(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 3, 17, 42 };

	(void)state;
	for (unsigned int i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct s2 s;

		run_scenario2(seeds[i], true, &s);
		assert_true(s.pending_seen);
		/*
		 * Runs: the first on A, the resent one on B -- exactly once more.
		 * (The edge flow would have replayed it on A instead.)
		 */
		assert_int_equal(s.runs, 2 + 1);   /* + the check that the line still works */
		assert_int_equal(s.run_cpu[0], s.cpu_a);
		assert_int_equal(s.run_cpu[1], s.cpu_b);
		assert_int_equal(s.run_cpu[2], s.cpu_b);
	}
}

/* The same interleaving without the flag: B drops the event, nobody replays it. */
static void test_scenario2_lost_without_flag(void **state)
{
	struct s2 s;

	(void)state;
	run_scenario2(1, false, &s);
	assert_false(s.pending_seen);
	assert_int_equal(s.runs, 1 + 1);           /* the second event never ran */
	assert_int_equal(s.run_cpu[1], s.cpu_b);    /* ... the run after it is the check's */
}

/* ---- Managed LPIs and CPU hotplug -------------------------------------------------------- */

static void cpu_down(struct fx *f, unsigned int cpu)
{
	assert_int_equal(testbed_cpu_offline(&f->pb.tb, cpu), 0);
	assert_int_equal(ik_its_cpu_offline(cpu), 0);
}

static void cpu_up(struct fx *f, unsigned int cpu)
{
	assert_int_equal(testbed_cpu_online(&f->pb.tb, cpu), 0);
	assert_int_equal(ik_its_cpu_online(cpu), 0);
}

static ik_cpumask_t requested(unsigned int irq)
{
	ik_cpumask_t m;

	assert_int_equal(ik_irq_get_affinity(irq, &m), 0);
	return m;
}

static void raise_idle(struct fx *f, unsigned int i, unsigned int entry)
{
	sim_pci_dev_raise(f->sd[i], entry);
	sim_run_until_idle(f->pb.tb.m);
}

/*
 * Five MSI-X vectors, one pre vector (unmanaged, all CPUs), four managed
 * ones spread one per CPU.  CPU 3 goes offline: its managed LPI is shut
 * down (not moved: no MOVI, event unmapped in the service, requested mask
 * still {3}); a driver's two disables survive (depth 1 + 2); an event raised
 * meanwhile waits in the closed MSI-X entry.  The unmanaged vector, asked
 * for {2,3} and on 2, moves to 3 when 2 goes and keeps {2,3} as requested.  CPU 3 returns: the
 * managed LPI is not started before the driver's last enable, then the
 * held event is delivered once, on CPU 3.  A second managed LPI (CPU 2,
 * not disabled) is shut down and restarted by itself.
 * Catches: managed LPIs moved instead of shut down, the depth reset by the
 * restart, the restart skipped, an offline narrowing the requested mask.
 */
static void test_managed_shutdown_restart(void **state)
{
	struct ik_irq_affinity_spread sp = { .pre_vectors = 1 };
	unsigned int irq[5], on[4] = { 0 }, k3 = 0, k2 = 0;
	struct pb_vec v[5];
	struct ik_its_irq_info in;
	struct ik_irq_info ci;
	ik_cpumask_t m23, req;
	uint64_t movis;
	struct fx f;

	(void)state;
	fx_up(&f, 5, 0);
	plug(&f, SIM_PCI_BDF(0, 3, 0));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[0], 5, 5,
						  IK_PCI_IRQ_MSIX | IK_PCI_IRQ_AFFINITY, &sp), 5);
	memset(v, 0, sizeof(v));
	for (unsigned int i = 0; i < 5; i++) {
		irq[i] = (unsigned int)ik_pci_irq_vector(f.dev[0], i);
		assert_int_equal(pb_request(&v[i], irq[i]), 0);
		ci = core_info(irq[i]);
		assert_true(!!(ci.state & IK_IRQD_AFFINITY_MANAGED) == (i > 0));
		if (i) {
			req = requested(irq[i]);
			assert_int_equal(ik_cpumask_weight(&req), 1);
			on[ik_cpumask_first(&req)]++;
			if (ik_cpumask_test_cpu(3, &req))
				k3 = i;
			if (ik_cpumask_test_cpu(2, &req))
				k2 = i;
			assert_int_equal(info_of(irq[i]).cpu, ik_cpumask_first(&req));
		}
	}
	for (unsigned int c = 0; c < 4; c++)
		assert_int_equal(on[c], 1);
	/* The unmanaged one on {2,3}: on 2. */
	m23 = one_cpu(3);
	ik_cpumask_set_cpu(2, &m23);
	assert_int_equal(ik_irq_set_affinity(irq[0], &m23), 0);
	assert_int_equal(info_of(irq[0]).cpu, 2);
	assert_int_equal(ik_disable_irq(irq[k3]), 0);
	assert_int_equal(ik_disable_irq(irq[k3]), 0);
	raise_idle(&f, 0, k2);
	assert_int_equal(v[k2].count, 1);

	in = info_of(irq[k3]);
	movis = sstats(&f).movis;
	cpu_down(&f, 2);
	/* The unmanaged one to 3, the rest of its request, which stays {2,3}. */
	assert_int_equal(info_of(irq[0]).cpu, 3);
	req = requested(irq[0]);
	assert_true(ik_cpumask_equal(&req, &m23));
	cpu_down(&f, 3);
	/* Only the unmanaged LPI moved: 2 -> 3 -> any online CPU. */
	ci = core_info(irq[k3]);
	assert_true(ci.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_false(ci.state & IK_IRQD_STARTED);
	assert_int_equal(ci.depth, 3);          /* the shutdown's 1 + the driver's 2 */
	assert_false(info_of(irq[k3]).mapped);
	assert_false(sim_its_event(f.its, f.bdf[0], in.event, NULL, NULL));
	req = requested(irq[k3]);
	assert_int_equal(ik_cpumask_weight(&req), 1);
	assert_true(ik_cpumask_test_cpu(3, &req));
	ci = core_info(irq[k2]);
	assert_true(ci.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_int_equal(ci.depth, 1);
	assert_false(info_of(irq[k2]).mapped);
	assert_true(info_of(irq[0]).cpu < 2);
	assert_int_equal(sstats(&f).movis, movis + 2);  /* irq 0 twice; no managed one */
	raise_idle(&f, 0, 0);
	assert_int_equal(v[0].count, 1);

	/* Events while shut down wait in the closed MSI-X entries. */
	raise_idle(&f, 0, k3);
	raise_idle(&f, 0, k2);
	assert_true(sim_pci_msix_pending(f.sd[0], k3));
	assert_true(sim_pci_msix_pending(f.sd[0], k2));
	assert_int_equal(v[k3].count, 0);
	assert_int_equal(v[k2].count, 1);

	/* CPU 2 back: its LPI restarts by itself and gets the held event, there. */
	cpu_up(&f, 2);
	sim_run_until_idle(f.pb.tb.m);
	ci = core_info(irq[k2]);
	assert_false(ci.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_true(ci.state & IK_IRQD_STARTED);
	assert_int_equal(ci.depth, 0);
	assert_int_equal(info_of(irq[k2]).cpu, 2);
	assert_int_equal(v[k2].count, 2);
	assert_int_equal(v[k2].last_cpu, 2);

	/* CPU 3 back: still disabled twice, not started before the last enable. */
	cpu_up(&f, 3);
	sim_run_until_idle(f.pb.tb.m);
	ci = core_info(irq[k3]);
	assert_false(ci.state & IK_IRQD_MANAGED_SHUTDOWN);
	assert_false(ci.state & IK_IRQD_STARTED);
	assert_int_equal(ci.depth, 2);
	assert_int_equal(ik_enable_irq(irq[k3]), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v[k3].count, 0);
	assert_int_equal(ik_enable_irq(irq[k3]), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(v[k3].count, 1);       /* the held event, once */
	assert_int_equal(v[k3].last_cpu, 3);
	assert_int_equal(info_of(irq[k3]).cpu, 3);
	assert_true(info_of(irq[k3]).mapped);
	raise_idle(&f, 0, k3);
	assert_int_equal(v[k3].count, 2);
	assert_int_equal(v[k3].last_cpu, 3);

	for (unsigned int i = 0; i < 5; i++)
		assert_int_equal(pb_free(&v[i]), 0);
	assert_int_equal(sstats(&f).cmd_errors, 0);
	assert_int_equal(testbed_spurious(&f.pb.tb), 0);
	fx_down(&f);
}

/* ---- Growing a device's event table while devices fire ------------------------------------- */

#define GROW_IMS 50u
#define GROW_SPAN 300u
#define GROW_LINES (15u + 4u + GROW_IMS)

struct gline {
	struct sim_machine *m;
	struct sim_pci_dev *pci;        /* MSI-X entry @entry, or */
	struct sim_ims_slots *ims;      /* IMS slot @entry */
	unsigned int entry, irq;
	unsigned int patience;
	uint64_t raised, runs, seen;
};

static ik_irqreturn_t gline_handler(unsigned int irq, void *dev_id)
{
	struct gline *l = dev_id;

	(void)irq;
	l->runs++;
	l->seen = l->raised;
	return IK_IRQ_HANDLED;
}

/* Raise again once the previous raise was handled: a lost one stalls the line. */
static void gline_fire(void *arg)
{
	struct gline *l = arg;

	if (l->seen != l->raised) {
		if (++l->patience < 20000)
			sim_schedule(l->m, 1 + sim_rand(l->m) % 8, gline_fire, l);
		return;
	}
	l->patience = 0;
	l->raised++;
	if (l->ims)
		sim_ims_slots_fire(l->ims, l->entry);
	else
		sim_pci_dev_raise(l->pci, l->entry);
}

/* One raise of every started line, at a random tick of the next @span. */
static void glines_arm(struct gline *lines, unsigned int n, unsigned int span)
{
	for (unsigned int i = 0; i < n; i++)
		sim_schedule(lines[i].m, 1 + sim_rand(lines[i].m) % span, gline_fire, &lines[i]);
}

static void gline_start(struct gline *l, struct sim_machine *m, unsigned int irq)
{
	l->m = m;
	l->irq = irq;
	assert_int_equal(ik_request_irq(irq, gline_handler, 0, "grow", l), 0);
}

/*
 * Device A (IMS-capable function, 16 MSI-X entries) gets a 16-event table
 * at its MSI-X allocation; device B's 64-event table is placed right after
 * it.  Then A's IMS domain is created and 50 IMS interrupts are allocated
 * one by one while every line of A and B fires: A's table grows to 32
 * events in place (same granule), to 64 by relocation (B sits after it:
 * MAPD + MAPTI of every live event + SYNC in one batch), to 128 in place
 * again.  One disabled LPI holds a pending event across the relocation.
 * Checks delivered == fired on every line, no translation dropped (an
 * event between a MAPD and the MAPTI of its entry would count as
 * dropped_unmapped_event), every live event mapped to its LPI on its
 * collection, the held event delivered once on enable.
 * Catches: a relocation published as several batches, a MAPTI missing or
 * with the wrong LPI or collection, the bitmap or the size not carried
 * over, a tail not zeroed, old granules leaked or freed twice.
 */
static void test_itt_grow_under_load(void **state)
{
	struct sim_ims_slots_config ic = { .nr_slots = 64, .nr_msix = 16,
					   .bar0_addr = 0xC0100000ull, .bar2_addr = 0xC0200000ull };
	const uint16_t abdf = SIM_PCI_BDF(0, 4, 0);
	static struct gline lines[GROW_LINES];
	struct ik_its_irq_info held;
	struct ik_its_stats ls;
	struct sim_ims_slots *sdev;
	struct ik_device *fn;
	struct pb_vec hv;
	uint64_t itt0, itt1;
	unsigned int bits, b, n = 0;
	struct fx f;
	int irq;

	(void)state;
	fx_up(&f, 23, 500);
	sdev = sim_ims_slots_create(f.pb.bus, abdf, &ic);
	assert_non_null(sdev);
	assert_int_equal(ik_pci_device_create(NULL, 0, abdf, &fn), 0);
	ik_device_set_msi_parent(fn, ik_its_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ims_slots_driver), 0);
	assert_int_equal(ik_pci_alloc_irq_vectors(fn, 16, 16, IK_PCI_IRQ_MSIX, NULL), 16);
	assert_true(sim_its_device(f.its, abdf, &itt0, &bits));
	assert_int_equal(bits, 4);
	b = plug(&f, SIM_PCI_BDF(0, 5, 0));
	assert_int_equal(ik_pci_alloc_irq_vectors(f.dev[b], 4, 4, IK_PCI_IRQ_MSIX, NULL), 4);
	{
		uint64_t bitt;

		assert_true(sim_its_device(f.its, f.bdf[b], &bitt, NULL));
		assert_int_equal(bitt, itt0 + 256);     /* right after A's granule */
	}

	/* A's MSI-X 0: disabled at the LPI with one event held in the service. */
	memset(&hv, 0, sizeof(hv));
	irq = ik_pci_irq_vector(fn, 0);
	assert_int_equal(pb_request(&hv, (unsigned int)irq), 0);
	assert_int_equal(ik_irq_set_disable_unlazy((unsigned int)irq, true), 0);
	assert_int_equal(ik_disable_irq((unsigned int)irq), 0);
	sim_pci_dev_raise(sim_ims_slots_pci(sdev), 0);
	sim_run_until_idle(f.pb.tb.m);
	held = info_of((unsigned int)irq);
	assert_true(sim_its_lpi_pending(f.its, held.lpi));
	assert_int_equal(hv.count, 0);

	memset(lines, 0, sizeof(lines));
	for (unsigned int k = 1; k < 16; k++, n++) {
		lines[n].pci = sim_ims_slots_pci(sdev);
		lines[n].entry = k;
		gline_start(&lines[n], f.pb.tb.m, (unsigned int)ik_pci_irq_vector(fn, k));
	}
	for (unsigned int k = 0; k < 4; k++, n++) {
		lines[n].pci = f.sd[b];
		lines[n].entry = k;
		gline_start(&lines[n], f.pb.tb.m, (unsigned int)ik_pci_irq_vector(f.dev[b], k));
	}
	assert_int_equal(ik_ims_slots_create_domain(fn, 0, 64), 0);
	for (unsigned int i = 0; i < GROW_IMS; i++, n++) {
		struct ik_msi_map map;

		/* Raises land anywhere in the allocation (a relocation takes ~270 ticks). */
		glines_arm(lines, n, GROW_SPAN);
		map = ik_ims_alloc_irq(fn, NULL, 0);

		assert_int_equal(map.index, (int)i);
		assert_int_equal(info_of(map.virq).event, 16 + i);
		lines[n].ims = sdev;
		lines[n].entry = i;
		gline_start(&lines[n], f.pb.tb.m, map.virq);
		sim_run_until_idle(f.pb.tb.m);
	}
	glines_arm(lines, n, GROW_SPAN);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(sstats(&f).dropped_unmapped_event, 0);
	ls = lstats();
	assert_int_equal(ls.itt_grows, 3);              /* 16 -> 32 -> 64 -> 128 */
	assert_int_equal(ls.itt_relocations, 1);        /* 32 -> 64: B was in the way */
	assert_true(sim_its_device(f.its, abdf, &itt1, &bits));
	assert_int_equal(bits, 7);
	assert_true(itt1 != itt0);
	assert_int_equal(info_of(lines[0].irq).itt_events, 128);

	/* The held event stayed pending through the relocation: delivered once on enable. */
	assert_true(sim_its_lpi_pending(f.its, held.lpi));
	assert_int_equal(ik_enable_irq((unsigned int)irq), 0);
	sim_run_until_idle(f.pb.tb.m);
	assert_int_equal(hv.count, 1);

	for (unsigned int i = 0; i < n; i++) {
		struct ik_its_irq_info in = info_of(lines[i].irq);
		uint32_t lpi;
		unsigned int icid;

		/* Every raise handled once (a lost one also stalls the line). */
		assert_int_equal(lines[i].runs, lines[i].raised);
		assert_int_equal(lines[i].raised, i < 19 ? GROW_IMS + 1 : GROW_IMS + 19 - i);
		assert_true(sim_its_event(f.its, in.devid, in.event, &lpi, &icid));
		assert_int_equal(lpi, in.lpi);
		assert_int_equal(sim_its_collection_cpu(f.its, icid), (int)in.cpu);
	}
	assert_int_equal(sstats(&f).dropped_unmapped_event, 0);
	assert_int_equal(sstats(&f).dropped_event_range, 0);
	assert_int_equal(sstats(&f).dropped_unmapped_device, 0);
	assert_int_equal(sstats(&f).cmd_errors, 0);
	assert_int_equal(sstats(&f).stale_hits, 0);

	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(ik_free_irq(lines[i].irq, &lines[i]), 0);
	assert_int_equal(pb_free(&hv), 0);
	for (unsigned int i = 15 + 4; i < n; i++) {
		struct ik_msi_map map = { .index = (int)(i - 19), .virq = lines[i].irq };

		assert_int_equal(ik_ims_free_irq(fn, map), 0);
	}
	ik_pci_free_irq_vectors(fn);
	assert_false(sim_its_device(f.its, abdf, NULL, NULL));
	ik_pci_device_destroy(fn);
	/* Only B's table is left in the pool. */
	assert_int_equal(lstats().itt_bytes_used, 512);
	fx_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenario2_resend_when_in_progress),
		cmocka_unit_test(test_scenario2_lost_without_flag),
		cmocka_unit_test(test_managed_shutdown_restart),
		cmocka_unit_test(test_itt_grow_under_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
