// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86 I/O APIC (src/arch/x86/ioapic.c) on the simulated I/O APIC
 * (sim/ioapic.c), with and without interrupt remapping: the domain's
 * place in the tree (names, parents, chips), the redirection entries
 * (compatibility format; remappable format with the IRTE index, the pin
 * in the vector field and the I/O APIC's source id in the IRTE), edge
 * delivery and lazy masking (an edge while masked is dropped by the
 * hardware, the one that arrived is replayed), level delivery with Remote
 * IRR set while the handler runs and cleared by the directed EOI, a line
 * still asserted after EOI delivering again, assertions coalesced while
 * Remote IRR is set, a disabled level line delivering exactly once on
 * enable, affinity moves under load with delivered == fired (edge and
 * level pins in both trees; without remapping the edge pins take the
 * two-step update, a masked rewrite loses edges here), refusals, and
 * allocation failure injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/x86_ioapic.h>
#include <irqkit/x86_ir.h>

#include "sim_ioapic.h"
#include "sim_vtd.h"
#include "testbed.h"

#define RAM_SIZE (4ull << 20)
#define IR_MEM 0x100000ull
#define IR_ENTRIES 256u

struct fx {
	struct testbed tb;
	struct sim_ioapic *sio;
	struct sim_vtd *u;
	struct ik_x86_ioapic *io;
	bool ir;
};

static void fx_up(struct fx *f, bool ir, uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE };
	struct ik_x86_ioapic_config c = { .requester_id = SIM_IOAPIC_DEFAULT_RID };

	memset(f, 0, sizeof(*f));
	f->ir = ir;
	testbed_init(&f->tb, &o);
	f->sio = sim_ioapic_create(f->tb.m, NULL);
	assert_non_null(f->sio);
	if (ir) {
		struct ik_x86_ir_config rc = { .unit_base = SIM_VTD_DEFAULT_BASE, .mem_phys = IR_MEM,
					       .mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
					       .nr_entries = IR_ENTRIES };

		f->u = sim_vtd_create(f->tb.m, NULL);
		assert_non_null(f->u);
		assert_int_equal(ik_x86_ir_init(&rc), 0);
	}
	assert_int_equal(ik_x86_ioapic_create(&c, &f->io), 0);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->tb.m);
	assert_int_equal(ik_x86_ioapic_destroy(f->io), 0);
	assert_int_equal(ik_x86_ir_exit(), 0);
	assert_int_equal(testbed_fini(&f->tb), 0);
}

/* Handler state per pin. */
struct line {
	struct fx *f;
	unsigned int pin, irq;
	uint64_t handled;
	uint64_t deassert_at;   /* level: deassert on this call (0: at once) */
	uint64_t calls_since_assert;
	bool saw_remote_irr;
	bool pulse_in_handler;  /* level: deassert + assert inside the handler, once */
	bool high;              /* level: what the test last drove the line to */
	uint64_t not_mine;      /* level: calls with the line already low (IK_IRQ_NONE) */
};

static ik_irqreturn_t line_handler(unsigned int irq, void *dev_id)
{
	struct line *l = dev_id;
	uint64_t rte = sim_ioapic_rte(l->f->sio, l->pin);

	if ((rte & SIM_IOAPIC_RTE_LEVEL) && !l->high) {
		/* A level handler checks its device: nothing pending, not ours. */
		l->not_mine++;
		return IK_IRQ_NONE;
	}
	l->handled++;
	if (rte & SIM_IOAPIC_RTE_LEVEL) {
		if (rte & SIM_IOAPIC_RTE_REMOTE_IRR)
			l->saw_remote_irr = true;
		if (l->pulse_in_handler) {
			l->pulse_in_handler = false;
			sim_ioapic_set_line(l->f->sio, l->pin, false);
			sim_ioapic_set_line(l->f->sio, l->pin, true);
			return IK_IRQ_HANDLED;
		}
		if (++l->calls_since_assert > l->deassert_at) {
			l->high = false;
			sim_ioapic_set_line(l->f->sio, l->pin, false);
			l->calls_since_assert = 0;
		}
	}
	return IK_IRQ_HANDLED;
}

static void request(struct fx *f, struct line *l, unsigned int pin, bool level)
{
	int irq = ik_x86_ioapic_alloc_irq(f->io, pin, level ? IK_IRQ_TYPE_LEVEL_HIGH :
					  IK_IRQ_TYPE_EDGE_RISING, false);

	assert_true(irq > 0);
	memset(l, 0, sizeof(*l));
	l->f = f;
	l->pin = pin;
	l->irq = (unsigned int)irq;
	assert_int_equal(ik_request_irq(l->irq, line_handler, 0, "ioapic", l), 0);
}

static void release(struct fx *f, struct line *l)
{
	assert_int_equal(ik_free_irq(l->irq, l), 0);
	assert_int_equal(ik_x86_ioapic_free_irq(f->io, l->pin), 0);
	assert_int_equal(ik_x86_ioapic_free_irq(f->io, l->pin), -IK_ENOENT);
	assert_true(sim_ioapic_rte(f->sio, l->pin) & SIM_IOAPIC_RTE_MASK);
}

static void drive_high(struct line *l)
{
	l->high = true;
	sim_ioapic_set_line(l->f->sio, l->pin, true);
}

static void idle(struct fx *f)
{
	sim_run_until_idle(f->tb.m);
}

/* ---- Trees and entries ------------------------------------------------------------ */

static void check_entry(struct fx *f, struct line *l, bool level)
{
	uint64_t rte = sim_ioapic_rte(f->sio, l->pin);
	struct ik_x86_irq_target t;

	assert_int_equal(rte, ik_x86_ioapic_rte(f->io, l->pin));
	assert_false(rte & SIM_IOAPIC_RTE_MASK);
	assert_int_equal(!!(rte & SIM_IOAPIC_RTE_LEVEL), level);
	assert_false(rte & SIM_IOAPIC_RTE_POLARITY_LOW);
	assert_int_equal(ik_x86_irq_target(l->irq, &t), 0);
	if (f->ir) {
		struct ik_x86_ir_irq_info ii;
		uint64_t lo, hi;
		unsigned int index;

		assert_int_equal(ik_x86_ir_irq_info(l->irq, &ii), 0);
		assert_true((rte >> 32) & SIM_IOAPIC_RTE_HI_REMAP);
		index = (unsigned int)(rte >> 49) | (rte & SIM_IOAPIC_RTE_LO_INDEX15 ? 1u << 15 : 0);
		assert_int_equal(index, ii.index);
		assert_int_equal(rte & 0xFF, l->pin);
		assert_true(sim_vtd_irte(f->u, ii.index, &lo, &hi));
		assert_true(lo & SIM_VTD_IRTE_P);
		assert_int_equal((lo >> SIM_VTD_IRTE_VECTOR_SHIFT) & 0xFF, t.vector);
		assert_int_equal(hi & SIM_VTD_IRTE_SID_MASK, SIM_IOAPIC_DEFAULT_RID);
		assert_int_equal((hi >> SIM_VTD_IRTE_SVT_SHIFT) & 3, SIM_VTD_SVT_SID);
	} else {
		assert_false((rte >> 32) & SIM_IOAPIC_RTE_HI_REMAP);
		assert_int_equal(rte & 0xFF, t.vector);
		assert_int_equal(rte >> 56, ik_x86_cpu_apic_id(t.cpu));
		assert_int_equal((rte >> 8) & 7, 0);
		assert_false(rte & SIM_IOAPIC_RTE_DM_LOGICAL);
	}
}

static void check_tree(struct fx *f)
{
	struct ik_irq_domain *d = ik_x86_ioapic_domain(f->io);
	struct line e, l;
	struct ik_irq_info info;

	assert_int_equal(ik_x86_ioapic_nr_pins(f->io), 24);
	request(f, &e, 2, false);
	request(f, &l, 9, true);
	if (f->ir) {
		assert_string_equal(ik_irq_domain_name(d), "IR-IO-APIC-ioapic0");
		assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_ir_domain());
		assert_ptr_equal(ik_irq_domain_parent(ik_irq_domain_parent(d)), ik_x86_vector_domain());
	} else {
		assert_string_equal(ik_irq_domain_name(d), "IO-APIC-ioapic0");
		assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_vector_domain());
	}
	assert_int_equal(ik_irq_get_info(e.irq, &info), 0);
	assert_string_equal(info.chip_name, "IO-APIC-edge");
	assert_int_equal(ik_irq_get_info(l.irq, &info), 0);
	assert_string_equal(info.chip_name, "IO-APIC-fasteoi");
	assert_true(info.state & IK_IRQD_LEVEL);
	assert_string_equal(ik_irq_get_irq_data(l.irq)->parent_data->chip->name,
			    f->ir ? "INTEL-IR" : "APIC");
	assert_int_equal(ik_irq_get_irq_data(l.irq)->hwirq, 9);
	check_entry(f, &e, false);
	check_entry(f, &l, true);
	release(f, &e);
	release(f, &l);
}

static void test_tree_plain(void **state)
{
	struct fx f;

	fx_up(&f, false, 1);
	check_tree(&f);
	fx_down(&f);
}

static void test_tree_remapped(void **state)
{
	struct fx f;

	fx_up(&f, true, 1);
	check_tree(&f);
	fx_down(&f);
}

/* ---- Edge ---------------------------------------------------------------------------- */

static void check_edge(struct fx *f)
{
	struct sim_ioapic_pin_stats st;
	struct line e;

	request(f, &e, 4, false);
	for (unsigned int i = 0; i < 10; i++) {
		sim_ioapic_pulse(f->sio, 4);
		idle(f);
	}
	assert_int_equal(e.handled, 10);
	/* Lazy disable: the first edge masks the entry and stays pending in the core. */
	assert_int_equal(ik_disable_irq(e.irq), 0);
	assert_false(sim_ioapic_rte(f->sio, 4) & SIM_IOAPIC_RTE_MASK);
	sim_ioapic_pulse(f->sio, 4);
	idle(f);
	assert_true(sim_ioapic_rte(f->sio, 4) & SIM_IOAPIC_RTE_MASK);
	sim_ioapic_pulse(f->sio, 4);    /* dropped by the hardware */
	idle(f);
	assert_int_equal(e.handled, 10);
	assert_int_equal(ik_enable_irq(e.irq), 0);
	idle(f);
	assert_int_equal(e.handled, 11);
	assert_false(sim_ioapic_rte(f->sio, 4) & SIM_IOAPIC_RTE_MASK);
	sim_ioapic_pin_stats(f->sio, 4, &st);
	assert_int_equal(st.sent, 11);
	assert_int_equal(st.masked_drops, 1);
	assert_int_equal(sim_stat(f->tb.m, SIM_STAT_LEVEL_EOIS), 0);
	assert_int_equal(testbed_spurious(&f->tb), 0);
	release(f, &e);
}

static void test_edge(void **state)
{
	struct fx f;

	fx_up(&f, false, 2);
	check_edge(&f);
	fx_down(&f);
	fx_up(&f, true, 2);
	check_edge(&f);
	fx_down(&f);
}

/* ---- Level ---------------------------------------------------------------------------- */

static void check_level(struct fx *f)
{
	struct sim_ioapic_pin_stats st;
	struct line l;

	request(f, &l, 7, true);
	/* Serviced by the handler: one delivery, Remote IRR seen set, then cleared by EOI. */
	drive_high(&l);
	idle(f);
	assert_int_equal(l.handled, 1);
	assert_true(l.saw_remote_irr);
	assert_false(sim_ioapic_rte(f->sio, 7) & SIM_IOAPIC_RTE_REMOTE_IRR);
	sim_ioapic_pin_stats(f->sio, 7, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.eois, 1);

	/* Still asserted after the first two handler runs: re-delivered after each EOI. */
	l.deassert_at = 2;
	drive_high(&l);
	idle(f);
	assert_int_equal(l.handled, 4);
	sim_ioapic_pin_stats(f->sio, 7, &st);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.eois, 4);
	assert_false(sim_ioapic_rte(f->sio, 7) & SIM_IOAPIC_RTE_REMOTE_IRR);

	/* A new assertion while Remote IRR is set is held until the EOI. */
	l.deassert_at = 0;
	l.pulse_in_handler = true;
	drive_high(&l);
	idle(f);
	assert_int_equal(l.handled, 6);
	sim_ioapic_pin_stats(f->sio, 7, &st);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(st.sent, 6);

	/* Disabled: masked at the first delivery, delivered exactly once on enable. */
	assert_int_equal(ik_disable_irq(l.irq), 0);
	drive_high(&l);
	idle(f);
	assert_int_equal(l.handled, 6);
	assert_true(sim_ioapic_rte(f->sio, 7) & SIM_IOAPIC_RTE_MASK);
	assert_false(sim_ioapic_rte(f->sio, 7) & SIM_IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(ik_enable_irq(l.irq), 0);
	idle(f);
	assert_int_equal(l.handled, 7);
	assert_false(sim_ioapic_rte(f->sio, 7) & (SIM_IOAPIC_RTE_MASK | SIM_IOAPIC_RTE_REMOTE_IRR));
	assert_int_equal(testbed_spurious(&f->tb), 0);
	release(f, &l);
}

static void test_level(void **state)
{
	struct fx f;

	fx_up(&f, false, 3);
	check_level(&f);
	fx_down(&f);
	fx_up(&f, true, 3);
	check_level(&f);
	fx_down(&f);
}

/* ---- Affinity under load ------------------------------------------------------------- */

struct fire_ev {
	struct fx *f;
	unsigned int pin;
	bool level;
	struct line *l;
};

static void fire_event(void *arg)
{
	struct fire_ev *ev = arg;

	if (ev->level) {
		ev->l->high = true;
		sim_ioapic_set_line(ev->f->sio, ev->pin, true);
	} else
		sim_ioapic_pulse(ev->f->sio, ev->pin);
}

static void check_moves(struct fx *f, bool level, bool concurrent, uint64_t seed)
{
	struct fire_ev ev = { f, 11, level, NULL };
	uint64_t r = seed, fired = 0;
	struct line l;

	request(f, &l, 11, level);
	ev.l = &l;
	for (unsigned int i = 0; i < 100; i++) {
		ik_cpumask_t m;

		r = r * 6364136223846793005ull + 1442695040888963407ull;
		ik_cpumask_clear(&m);
		ik_cpumask_set_cpu((unsigned int)(r >> 33) % f->tb.nr_cpus, &m);
		if (concurrent) {
			/* Lands somewhere among the move's register writes. */
			sim_schedule(f->tb.m, (r >> 40) % 6, fire_event, &ev);
			fired++;
		}
		assert_int_equal(ik_irq_set_affinity(l.irq, &m), 0);
		idle(f);
		fire_event(&ev);
		fired++;
		idle(f);
	}
	assert_int_equal(l.handled, fired);
	assert_int_equal(ik_irq_count(l.irq), fired);
	assert_int_equal(testbed_spurious(&f->tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	release(f, &l);
}

static void test_affinity_moves(void **state)
{
	static const uint64_t seeds[] = { 1, 5, 99, 2024 };

	for (unsigned int s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		struct fx f;

		fx_up(&f, false, seeds[s]);
		check_moves(&f, true, true, seeds[s]);
		check_moves(&f, false, true, seeds[s]);
		fx_down(&f);
		fx_up(&f, true, seeds[s]);
		check_moves(&f, true, true, seeds[s]);
		check_moves(&f, false, true, seeds[s]);
		fx_down(&f);
	}
}

/*
 * CPU hotplug: pins targeting a CPU that goes offline (with an edge or an
 * assertion scheduled to land during the offline sequence) move and lose
 * nothing; they follow the CPU back when it returns.
 *
 * Edges are exact except for one deliberate replay.  Without remapping the
 * edge pin moves off the dying CPU A with the two-step update: new vector
 * V on A first, then the new CPU B, then a look at A's IRR bit V, and a
 * retrigger on B if it is set (an edge that hit the intermediate target
 * (A, V) would otherwise be lost).  V is allocated on B; on A the same
 * vector number may belong to another interrupt -- here the level pin, on
 * A with vector V, whose assertion scheduled into the offline is latched in
 * A's IRR.  The IRR bit cannot say whose message set it (both would
 * coalesce into the one bit), so the edge is replayed: one extra handler
 * run, never a lost edge.  Linux's msi_set_affinity() does the same and
 * says handlers must cope with it.  So a round may have one extra edge
 * only if the pins were "ambiguous": no remapping, the level pin on A
 * with the vector the edge pin got on B.  (Vectors are handed out lowest
 * first, so about 4 rounds in 12 are ambiguous; whether the level
 * assertion is still latched in A's IRR at the look depends on the seed:
 * over seeds 1..80 the plain tree had an extra run at 6, 15, ... and never
 * in a round that was not ambiguous; the remapped tree never.  Before this
 * test read the targets, seed 17 showed it: edge 1:0x21 -> 2:0x20, level
 * pin on 1:0x20.)  Returns the extra runs.
 */
static uint64_t check_hotplug(struct fx *f, uint64_t seed)
{
	struct fire_ev eev = { f, 12, false, NULL }, lev = { f, 13, true, NULL };
	uint64_t r = seed, fired = 0, extras = 0;
	unsigned int ambiguous_rounds = 0;
	struct line e, l;

	request(f, &e, 12, false);
	request(f, &l, 13, true);
	eev.l = &e;
	lev.l = &l;
	for (unsigned int round = 0; round < 12; round++) {
		unsigned int cpu = 1 + round % (f->tb.nr_cpus - 1);
		struct ik_x86_irq_target lt, et;
		uint64_t h0, f0, extra;
		bool ambiguous;
		ik_cpumask_t m;

		r = r * 6364136223846793005ull + 1442695040888963407ull;
		ik_cpumask_clear(&m);
		ik_cpumask_set_cpu(cpu, &m);
		assert_int_equal(ik_irq_set_affinity(e.irq, &m), 0);
		assert_int_equal(ik_irq_set_affinity(l.irq, &m), 0);
		/* Let the deferred edge move complete on its CPU. */
		fire_event(&eev);
		fire_event(&lev);
		idle(f);
		fired++;
		h0 = e.handled;
		f0 = fired;
		assert_int_equal(ik_x86_irq_target(l.irq, &lt), 0);
		sim_schedule(f->tb.m, (r >> 40) % 9, fire_event, &eev);
		sim_schedule(f->tb.m, (r >> 44) % 9, fire_event, &lev);
		fired++;
		assert_int_equal(testbed_cpu_offline(&f->tb, cpu), 0);
		idle(f);
		assert_int_equal(ik_x86_irq_target(e.irq, &et), 0);
		ambiguous = !f->ir && lt.cpu == cpu && et.vector == lt.vector;
		fire_event(&eev);
		fire_event(&lev);
		idle(f);
		fired++;
		/* Nothing lost; one extra edge only in an ambiguous round (above). */
		assert_true(e.handled - h0 >= fired - f0);
		extra = (e.handled - h0) - (fired - f0);
		assert_true(extra == 0 || (ambiguous && extra == 1));
		extras += extra;
		ambiguous_rounds += ambiguous;
		assert_int_equal(l.handled, fired);
		assert_int_equal(testbed_cpu_online(&f->tb, cpu), 0);
	}
	assert_int_equal(e.handled, fired + extras);
	if (extras)
		print_message("ioapic hotplug seed %llu (%s): %llu edges fired, %llu handled "
			      "(%u ambiguous rounds)\n", (unsigned long long)seed,
			      f->ir ? "remapped" : "plain", (unsigned long long)fired,
			      (unsigned long long)e.handled, ambiguous_rounds);
	assert_int_equal(sim_stat(f->tb.m, SIM_STAT_OFFLINE_DISCARDED), 0);
	assert_int_equal(testbed_spurious(&f->tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	release(f, &e);
	release(f, &l);
	return extras;
}

static void test_hotplug(void **state)
{
	static const uint64_t seeds[] = { 3, 6, 15, 17, 256 };
	uint64_t plain = 0;

	for (unsigned int s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		struct fx f;

		fx_up(&f, false, seeds[s]);
		plain += check_hotplug(&f, seeds[s]);
		fx_down(&f);
		fx_up(&f, true, seeds[s]);
		assert_int_equal(check_hotplug(&f, seeds[s]), 0);      /* IRTE moves: no look */
		fx_down(&f);
	}
	/* The ambiguous replay is reached (seeds 6 and 15), so the bound above is tested. */
	assert_true(plain >= 1);
}

/* ---- Refusals and failures ------------------------------------------------------------- */

static void test_refusals(void **state)
{
	struct ik_x86_ioapic_config bad = { .base = 0xFEC10000ull };
	struct ik_x86_ioapic *io2;
	struct line l;
	struct fx f;

	fx_up(&f, false, 6);
	assert_int_equal(ik_x86_ioapic_alloc_irq(f.io, 24, IK_IRQ_TYPE_EDGE_RISING, false),
			 -IK_ERANGE);
	assert_int_equal(ik_x86_ioapic_alloc_irq(f.io, 1, IK_IRQ_TYPE_NONE, false), -IK_EINVAL);
	request(&f, &l, 1, true);
	assert_int_equal(ik_x86_ioapic_alloc_irq(f.io, 1, IK_IRQ_TYPE_EDGE_RISING, false),
			 -IK_EBUSY);
	assert_int_equal(ik_x86_ioapic_free_irq(f.io, 1), -IK_EBUSY);
	assert_int_equal(ik_x86_ioapic_destroy(f.io), -IK_EBUSY);
	release(&f, &l);
	assert_int_equal(ik_x86_ioapic_create(&bad, &io2), -IK_ENODEV);
	assert_int_equal(ik_x86_ioapic_create(NULL, &io2), -IK_EINVAL);
	/* Active low is carried into the entry. */
	assert_true(ik_x86_ioapic_alloc_irq(f.io, 3, IK_IRQ_TYPE_LEVEL_HIGH, true) > 0);
	assert_true(ik_x86_ioapic_rte(f.io, 3) & SIM_IOAPIC_RTE_POLARITY_LOW);
	assert_int_equal(ik_x86_ioapic_free_irq(f.io, 3), 0);
	fx_down(&f);
}

static void check_failures(bool ir)
{
	struct ik_x86_ioapic_config c = { .requester_id = SIM_IOAPIC_DEFAULT_RID, .name = "ioapic1" };
	unsigned int failures = 0;
	int64_t baseline;
	struct fx f;

	fx_up(&f, ir, 9);
	assert_true(ik_x86_ioapic_alloc_irq(f.io, 0, IK_IRQ_TYPE_EDGE_RISING, false) > 0);
	assert_int_equal(ik_x86_ioapic_free_irq(f.io, 0), 0);
	baseline = sim_alloc_outstanding();
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		struct ik_x86_ioapic *io = NULL;
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_x86_ioapic_create(&c, &io);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
			assert_int_equal(sim_alloc_outstanding(), baseline);
			continue;
		}
		assert_int_equal(ik_x86_ioapic_destroy(io), 0);
		assert_int_equal(sim_alloc_outstanding(), baseline);
		if (sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 3);
	failures = 0;
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_x86_ioapic_alloc_irq(f.io, 5, IK_IRQ_TYPE_LEVEL_HIGH, false);
		sim_alloc_fail_nth(0);
		if (ret < 0) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
		} else {
			assert_int_equal(ik_x86_ioapic_free_irq(f.io, 5), 0);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		if (ir) {
			struct ik_x86_ir_stats is;

			assert_int_equal(ik_x86_ir_get_stats(&is), 0);
			assert_int_equal(is.used, 0);
		}
		if (ret >= 0 && sim_alloc_count() - start < nth)
			break;
	}
	assert_true(failures >= 2);
	fx_down(&f);
}

static void test_failure_injection(void **state)
{
	check_failures(false);
	check_failures(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_plain),
		cmocka_unit_test(test_tree_remapped),
		cmocka_unit_test(test_edge),
		cmocka_unit_test(test_level),
		cmocka_unit_test(test_affinity_moves),
		cmocka_unit_test(test_hotplug),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_failure_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
