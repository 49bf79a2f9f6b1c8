// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86 HPET (src/arch/x86/hpet.c) on the simulated HPET (sim/hpet.c), with
 * and without interrupt remapping: the domain's place in the tree (name,
 * parent, chip), the FSB route as the message store (compatibility format
 * without remapping, remappable with the HPET's source id under it),
 * comparator matches delivered end to end through both trees (armed
 * comparators and forced matches), lazy disable keeping a match pending
 * and replaying it, affinity moves under fire with delivered == fired, a
 * spoofed requester id blocked, a timer without FSB capability refused,
 * the start parking the comparator far ahead before opening the interrupt
 * (register trace; no interrupt before the first arm with a previous
 * owner's comparator about to match), and allocation failure injection
 * with nothing leaked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/msi.h>
#include <irqkit/x86_hpet.h>
#include <irqkit/x86_ir.h>

#include "sim_hpet.h"
#include "sim_vtd.h"
#include "testbed.h"

#define RAM_SIZE (4ull << 20)
#define IR_MEM 0x100000ull
#define IR_ENTRIES 256u

struct fx {
	struct testbed tb;
	struct sim_hpet *sh;
	struct sim_vtd *u;
	struct ik_x86_hpet *h;
	bool ir;
};

static void fx_up_cfg(struct fx *f, bool ir, uint64_t seed, const struct sim_hpet_config *hc)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE };
	struct ik_x86_hpet_config c = { .requester_id = SIM_HPET_DEFAULT_RID };

	memset(f, 0, sizeof(*f));
	f->ir = ir;
	testbed_init(&f->tb, &o);
	f->sh = sim_hpet_create(f->tb.m, hc);
	assert_non_null(f->sh);
	if (ir) {
		struct ik_x86_ir_config rc = { .unit_base = SIM_VTD_DEFAULT_BASE, .mem_phys = IR_MEM,
					       .mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
					       .nr_entries = IR_ENTRIES };

		f->u = sim_vtd_create(f->tb.m, NULL);
		assert_non_null(f->u);
		assert_int_equal(ik_x86_ir_init(&rc), 0);
	}
	assert_int_equal(ik_x86_hpet_create(&c, &f->h), 0);
}

static void fx_up(struct fx *f, bool ir, uint64_t seed)
{
	fx_up_cfg(f, ir, seed, NULL);
}

static void fx_down(struct fx *f)
{
	sim_run_until_idle(f->tb.m);
	ik_x86_hpet_destroy(f->h);
	assert_int_equal(ik_x86_ir_exit(), 0);
	assert_int_equal(testbed_fini(&f->tb), 0);
}

static uint64_t handled[IK_X86_HPET_MAX_TIMERS];

static ik_irqreturn_t timer_handler(unsigned int irq, void *dev_id)
{
	handled[(uintptr_t)dev_id]++;
	return IK_IRQ_HANDLED;
}

static unsigned int request(struct fx *f, unsigned int timer)
{
	int irq = ik_x86_hpet_timer_alloc_irq(f->h, timer);

	assert_true(irq > 0);
	handled[timer] = 0;
	assert_int_equal(ik_request_irq((unsigned int)irq, timer_handler, 0, "hpet",
					(void *)(uintptr_t)timer), 0);
	return (unsigned int)irq;
}

static void release(struct fx *f, unsigned int timer, unsigned int irq)
{
	assert_int_equal(ik_free_irq(irq, (void *)(uintptr_t)timer), 0);
	assert_int_equal(ik_x86_hpet_timer_free_irq(f->h, timer), 0);
	assert_int_equal(ik_x86_hpet_timer_free_irq(f->h, timer), -IK_ENOENT);
}

static uint64_t reg(struct fx *f, uint32_t off)
{
	return sim_cpu_read(f->tb.m, 0, SIM_HPET_DEFAULT_BASE + off, 8);
}

static void fire(struct fx *f, unsigned int timer)
{
	sim_hpet_fire(f->sh, timer);
	sim_run_until_idle(f->tb.m);
}

/* ---- The two trees ------------------------------------------------------------ */

static void check_tree(struct fx *f)
{
	struct ik_irq_domain *d = ik_x86_hpet_domain(f->h);
	unsigned int irq = request(f, 0);
	struct ik_irq_info info;

	assert_non_null(d);
	if (f->ir) {
		assert_string_equal(ik_irq_domain_name(d), "IR-HPET-hpet0");
		assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_ir_domain());
		assert_string_equal(ik_irq_domain_name(ik_irq_domain_parent(d)), "INTEL-IR");
		assert_ptr_equal(ik_irq_domain_parent(ik_irq_domain_parent(d)),
				 ik_x86_vector_domain());
		assert_int_equal(ik_x86_msi_domain_protocol(d), IK_X86_MSI_NONE);
		assert_true(ik_x86_ir_device_isolated(ik_x86_hpet_device(f->h)));
	} else {
		assert_string_equal(ik_irq_domain_name(d), "HPET-hpet0");
		assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_vector_domain());
		/* Not declared maskable (matches are lost while disabled): two-step moves. */
		assert_int_equal(ik_x86_msi_domain_protocol(d), IK_X86_MSI_TWO_STEP);
		assert_false(ik_x86_ir_device_isolated(ik_x86_hpet_device(f->h)));
	}
	assert_true(ik_irq_domain_flags(d) & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE);
	assert_ptr_equal(ik_irq_get_irq_data(irq)->domain, d);
	assert_int_equal(ik_irq_get_info(irq, &info), 0);
	assert_string_equal(info.chip_name, f->ir ? "HPET-MSI" : IK_X86_MSI_CHIP_TWO_STEP);
	assert_string_equal(ik_irq_get_irq_data(irq)->parent_data->chip->name,
			    f->ir ? "INTEL-IR" : "APIC");
	release(f, 0, irq);
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

/* ---- The store and delivery ------------------------------------------------------ */

static void check_delivery(struct fx *f)
{
	unsigned int irq = request(f, 1);
	struct ik_x86_irq_target t;
	uint64_t conf = reg(f, SIM_HPET_TN_CONF(1)), route = reg(f, SIM_HPET_TN_FSB(1));
	struct sim_hpet_timer_stats st;

	assert_true(conf & SIM_HPET_TN_FSB_EN);
	assert_true(conf & SIM_HPET_TN_INT_ENB);
	assert_false(conf & SIM_HPET_TN_INT_TYPE_LEVEL);
	assert_true(reg(f, SIM_HPET_GEN_CONF) & SIM_HPET_GEN_ENABLE);
	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	if (f->ir) {
		struct ik_x86_ir_irq_info ii;
		uint64_t lo, hi;

		assert_int_equal(ik_x86_ir_irq_info(irq, &ii), 0);
		assert_int_equal(route >> 32, sim_vtd_msi_addr(ii.handle, true));
		assert_int_equal((uint32_t)route, ii.sub_handle);
		assert_true(sim_vtd_irte(f->u, ii.index, &lo, &hi));
		assert_true(lo & SIM_VTD_IRTE_P);
		assert_int_equal(hi & SIM_VTD_IRTE_SID_MASK, SIM_HPET_DEFAULT_RID);
		assert_int_equal((hi >> SIM_VTD_IRTE_SVT_SHIFT) & 3, SIM_VTD_SVT_SID);
		assert_int_equal((hi >> SIM_VTD_IRTE_SQ_SHIFT) & 3, 0);
	} else {
		assert_int_equal(route >> 32, 0xFEE00000u | ik_x86_cpu_apic_id(t.cpu) << 12);
		assert_int_equal((uint32_t)route & 0xFF, t.vector);
	}

	/* Armed comparators: the counter reaches them. */
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(ik_x86_hpet_timer_arm(f->h, 1, 3 + i), 0);
		sim_run_until_idle(f->tb.m);
		assert_int_equal(handled[1], i + 1);
	}
	/* Forced matches. */
	for (unsigned int i = 0; i < 20; i++)
		fire(f, 1);
	assert_int_equal(handled[1], 25);
	assert_int_equal(ik_irq_count(irq), 25);
	sim_hpet_timer_stats(f->sh, 1, &st);
	assert_int_equal(st.sent, 25);
	assert_int_equal(st.suppressed, 0);
	assert_int_equal(testbed_spurious(&f->tb), 0);

	release(f, 1, irq);
	/* Shut down: INT_ENB closed, route cleared; a match sends nothing. */
	assert_false(reg(f, SIM_HPET_TN_CONF(1)) & SIM_HPET_TN_INT_ENB);
	assert_int_equal(reg(f, SIM_HPET_TN_FSB(1)), 0);
	fire(f, 1);
	sim_hpet_timer_stats(f->sh, 1, &st);
	assert_int_equal(st.sent, 25);
	assert_int_equal(st.suppressed, 1);
	assert_int_equal(handled[1], 25);
}

static void test_delivery_plain(void **state)
{
	struct fx f;

	fx_up(&f, false, 2);
	check_delivery(&f);
	fx_down(&f);
}

static void test_delivery_remapped(void **state)
{
	struct fx f;
	struct sim_vtd_stats vs;

	fx_up(&f, true, 2);
	check_delivery(&f);
	sim_vtd_get_stats(f.u, &vs);
	assert_int_equal(vs.remapped, 25);
	assert_int_equal(vs.blocked, 0);
	fx_down(&f);
}

/* A disabled line keeps the match pending in the core and replays it on enable. */
static void check_disable(struct fx *f)
{
	unsigned int irq = request(f, 0);

	assert_int_equal(ik_disable_irq(irq), 0);
	fire(f, 0);
	assert_int_equal(handled[0], 0);
	fire(f, 0);     /* several matches while disabled: one interrupt replayed */
	assert_int_equal(ik_enable_irq(irq), 0);
	sim_run_until_idle(f->tb.m);
	assert_int_equal(handled[0], 1);
	fire(f, 0);
	assert_int_equal(handled[0], 2);
	release(f, 0, irq);
}

static void test_disable_replay(void **state)
{
	struct fx f;

	fx_up(&f, false, 3);
	check_disable(&f);
	fx_down(&f);
	fx_up(&f, true, 3);
	check_disable(&f);
	fx_down(&f);
}

/* Moves between every pair of CPUs, matches before and after each: none lost. */
static void check_moves(struct fx *f, uint64_t seed)
{
	unsigned int irq = request(f, 2);
	uint64_t fired = 0, r = seed;

	for (unsigned int i = 0; i < 64; i++) {
		ik_cpumask_t m;

		r = r * 6364136223846793005ull + 1442695040888963407ull;
		ik_cpumask_clear(&m);
		ik_cpumask_set_cpu((unsigned int)(r >> 33) % f->tb.nr_cpus, &m);
		assert_int_equal(ik_irq_set_affinity(irq, &m), 0);
		/* Matches scheduled to land in the middle of later register writes. */
		assert_int_equal(ik_x86_hpet_timer_arm(f->h, 2, (r >> 40) % 7), 0);
		fired++;
		sim_run_until_idle(f->tb.m);
		fire(f, 2);
		fired++;
	}
	assert_int_equal(handled[2], fired);
	assert_int_equal(testbed_spurious(&f->tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	release(f, 2, irq);
}

static void test_affinity_moves(void **state)
{
	static const uint64_t seeds[] = { 1, 7, 42, 1234 };
	struct ik_x86_msi_stats ms;

	for (unsigned int s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		struct fx f;
		struct ik_x86_ir_stats is;

		fx_up(&f, false, seeds[s]);
		check_moves(&f, seeds[s]);
		ik_x86_msi_get_stats(&ms);
		assert_true(ms.two_step + ms.direct + ms.deferred > 0);
		fx_down(&f);

		fx_up(&f, true, seeds[s]);
		check_moves(&f, seeds[s]);
		assert_int_equal(ik_x86_ir_get_stats(&is), 0);
		assert_true(is.retargets > 0);
		fx_down(&f);
	}
}

/*
 * CPU hotplug: the timer's CPU goes offline with a match scheduled into
 * the offline sequence; nothing is lost.
 */
struct hfire {
	struct fx *f;
	unsigned int timer;
};

static void hfire_event(void *arg)
{
	struct hfire *h = arg;

	sim_hpet_fire(h->f->sh, h->timer);
}

static void check_hotplug(struct fx *f, uint64_t seed)
{
	unsigned int irq = request(f, 1);
	struct hfire hf = { f, 1 };
	uint64_t r = seed, fired = 0;

	for (unsigned int round = 0; round < 12; round++) {
		unsigned int cpu = 1 + round % (f->tb.nr_cpus - 1);
		ik_cpumask_t m;

		r = r * 6364136223846793005ull + 1442695040888963407ull;
		ik_cpumask_clear(&m);
		ik_cpumask_set_cpu(cpu, &m);
		assert_int_equal(ik_irq_set_affinity(irq, &m), 0);
		fire(f, 1);
		fired++;
		sim_schedule(f->tb.m, (r >> 40) % 9, hfire_event, &hf);
		fired++;
		assert_int_equal(testbed_cpu_offline(&f->tb, cpu), 0);
		sim_run_until_idle(f->tb.m);
		fire(f, 1);
		fired++;
		assert_true(handled[1] >= fired);
		assert_true(handled[1] <= fired + round + 1);
		assert_int_equal(testbed_cpu_online(&f->tb, cpu), 0);
	}
	if (handled[1] != fired)
		print_message("hpet hotplug seed %llu (%s): %llu fired, %llu handled\n",
			      (unsigned long long)seed, f->ir ? "remapped" : "plain",
			      (unsigned long long)fired, (unsigned long long)handled[1]);
	assert_int_equal(sim_stat(f->tb.m, SIM_STAT_OFFLINE_DISCARDED), 0);
	release(f, 1, irq);
}

static void test_hotplug(void **state)
{
	static const uint64_t seeds[] = { 3, 17, 256, 4096 };

	for (unsigned int s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		struct fx f;

		fx_up(&f, false, seeds[s]);
		check_hotplug(&f, seeds[s]);
		fx_down(&f);
		fx_up(&f, true, seeds[s]);
		check_hotplug(&f, seeds[s]);
		fx_down(&f);
	}
}

/* Another requester writing the HPET's remappable message is blocked. */
static void test_spoofed_requester(void **state)
{
	struct fx f;
	struct sim_vtd_stats vs;
	unsigned int irq;
	uint64_t route;

	fx_up(&f, true, 5);
	irq = request(&f, 0);
	route = reg(&f, SIM_HPET_TN_FSB(0));
	sim_dma_write32(f.tb.m, 0x0100, route >> 32, (uint32_t)route);
	sim_run_until_idle(f.tb.m);
	assert_int_equal(handled[0], 0);
	sim_vtd_get_stats(f.u, &vs);
	assert_int_equal(vs.blocked_by_reason[SIM_VTD_FR_SOURCE_ID - SIM_VTD_FR_FIRST], 1);
	fire(&f, 0);
	assert_int_equal(handled[0], 1);
	release(&f, 0, irq);
	fx_down(&f);
}

/* ---- Start: the comparator is parked before the interrupt is opened ------------------ */

/*
 * A spy in front of the simulated HPET (which sits 4 KiB higher): every
 * access of the library is forwarded and recorded, and at the write that
 * opens a timer's interrupt (INT_ENB 0 -> 1) the comparator and the main
 * counter are sampled as the hardware sees them at that instant.
 */
#define SPY_REAL_BASE (SIM_HPET_DEFAULT_BASE + 0x1000ull)
#define SPY_MAX 4096u

struct spy_rec {
	bool write;
	uint32_t off;
	uint64_t val;
};

static struct spy {
	struct sim_machine *m;
	bool on;
	unsigned int n;
	struct spy_rec rec[SPY_MAX];
	bool opened;            /* an INT_ENB 0 -> 1 write of timer 0 was seen */
	unsigned int open_at;   /* its record index */
	uint64_t cmp_at_open, cnt_at_open;
} spy;

static void spy_log(bool write, uint64_t off, uint64_t val)
{
	if (spy.on && spy.n < SPY_MAX)
		spy.rec[spy.n++] = (struct spy_rec){ write, (uint32_t)off, val };
}

static uint64_t spy_read(void *opaque, uint64_t off, unsigned int size)
{
	uint64_t v = sim_cpu_read(spy.m, 0, SPY_REAL_BASE + off, size);

	spy_log(false, off, v);
	return v;
}

static void spy_write(void *opaque, uint64_t off, uint64_t v, unsigned int size)
{
	if (spy.on && !spy.opened && off == SIM_HPET_TN_CONF(0) && (v & SIM_HPET_TN_INT_ENB) &&
	    !(sim_cpu_read(spy.m, 0, SPY_REAL_BASE + off, 4) & SIM_HPET_TN_INT_ENB)) {
		spy.opened = true;
		spy.open_at = spy.n;
		spy.cmp_at_open = sim_cpu_read(spy.m, 0, SPY_REAL_BASE + SIM_HPET_TN_CMP(0), 8);
		spy.cnt_at_open = sim_cpu_read(spy.m, 0, SPY_REAL_BASE + SIM_HPET_MAIN_CNT, 8);
	}
	spy_log(true, off, v);
	sim_cpu_write(spy.m, 0, SPY_REAL_BASE + off, v, size);
}

static const struct sim_region_ops spy_ops = { .read = spy_read, .write = spy_write };

/*
 * @mode32: a previous owner left timer 0 in 32-bit mode (the library keeps
 * Tn_32MODE_CNF), so only the comparator's low 32 bits count.
 * @stale: ticks ahead of the counter at which the previous owner left the
 * comparator (0: left alone, i.e. 0, behind the running counter).
 */
static void check_start_parks(uint64_t seed, bool mode32, uint64_t stale)
{
	struct sim_hpet_config hc = { .base = SPY_REAL_BASE };
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed, .ram_size = RAM_SIZE };
	struct ik_x86_hpet_config c = { .requester_id = SIM_HPET_DEFAULT_RID };
	struct sim_hpet_timer_stats st;
	struct ik_x86_hpet *h;
	struct sim_hpet *sh;
	struct testbed tb;
	unsigned int saved, cnt_read = SPY_MAX, cmp_write = SPY_MAX;
	uint64_t dist;
	int irq;

	testbed_init(&tb, &o);
	sh = sim_hpet_create(tb.m, &hc);
	assert_non_null(sh);
	memset(&spy, 0, sizeof(spy));
	spy.m = tb.m;
	assert_int_equal(sim_map_region(tb.m, SIM_HPET_DEFAULT_BASE, SIM_HPET_SIZE, &spy_ops, NULL,
					"hpet-spy"), 0);
	assert_int_equal(ik_x86_hpet_create(&c, &h), 0);
	/* The previous owner's leftovers (INT_ENB clear: the library's start opens it). */
	if (mode32)
		sim_cpu_write(tb.m, 0, SPY_REAL_BASE + SIM_HPET_TN_CONF(0),
			      sim_cpu_read(tb.m, 0, SPY_REAL_BASE + SIM_HPET_TN_CONF(0), 8) |
			      SIM_HPET_TN_32MODE, 8);
	if (stale)
		sim_cpu_write(tb.m, 0, SPY_REAL_BASE + SIM_HPET_TN_CMP(0),
			      sim_cpu_read(tb.m, 0, SPY_REAL_BASE + SIM_HPET_MAIN_CNT, 8) + stale, 8);

	/* Few interleavings: the stale match stays due after the start, not before it. */
	saved = sim_set_interleave(tb.m, 1);
	spy.on = true;
	irq = ik_x86_hpet_timer_alloc_irq(h, 0);
	assert_true(irq > 0);
	handled[0] = 0;
	assert_int_equal(ik_request_irq((unsigned int)irq, timer_handler, 0, "hpet",
					(void *)(uintptr_t)0), 0);
	spy.on = false;
	sim_set_interleave(tb.m, saved);

	/* The trace: counter read, then comparator written, then INT_ENB opened. */
	assert_true(spy.opened);
	for (unsigned int i = 0; i < spy.open_at; i++) {
		if (!spy.rec[i].write && spy.rec[i].off == SIM_HPET_MAIN_CNT)
			cnt_read = i;
		if (spy.rec[i].write && spy.rec[i].off == SIM_HPET_TN_CMP(0) && cnt_read < i)
			cmp_write = i;
	}
	assert_true(cnt_read < cmp_write && cmp_write < spy.open_at);
	/* ... far ahead at the instant of the enable, within the comparator's width. */
	if (mode32) {
		dist = (uint32_t)(spy.cmp_at_open - spy.cnt_at_open);
		assert_true(dist >= (1ull << 30) && dist < (1ull << 31));
	} else {
		dist = spy.cmp_at_open - spy.cnt_at_open;
		assert_true(dist >= (1ull << 48) && dist < (1ull << 62));
	}

	if (!mode32) {
		/* Nothing before the first arm, however long it takes. */
		sim_run_until_idle(tb.m);
		assert_int_equal(handled[0], 0);
		sim_hpet_timer_stats(sh, 0, &st);
		assert_int_equal(st.sent, 0);
	}
	assert_int_equal(ik_x86_hpet_timer_arm(h, 0, 5), 0);
	sim_run_until_idle(tb.m);
	assert_int_equal(handled[0], 1);
	assert_int_equal(testbed_spurious(&tb), 0);

	assert_int_equal(ik_free_irq((unsigned int)irq, (void *)(uintptr_t)0), 0);
	assert_int_equal(ik_x86_hpet_timer_free_irq(h, 0), 0);
	sim_run_until_idle(tb.m);
	ik_x86_hpet_destroy(h);
	assert_int_equal(testbed_fini(&tb), 0);
}

static void test_start_parks_comparator(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 3, 11, 29 };

	for (unsigned int s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		check_start_parks(seeds[s], false, 100000);
		check_start_parks(seeds[s], false, 0);
		check_start_parks(seeds[s], true, 100000);
	}
}

static void test_refusals(void **state)
{
	struct sim_hpet_config hc = { .nr_timers = 4, .fsb_mask_given = true, .fsb_mask = 0x5 };
	struct ik_x86_hpet_config bad = { .base = 0xFED10000ull };
	struct ik_x86_hpet *h2;
	int64_t before;
	unsigned int irq;
	struct fx f;

	fx_up_cfg(&f, false, 6, &hc);
	assert_int_equal(ik_x86_hpet_nr_timers(f.h), 4);
	irq = request(&f, 2);
	assert_int_equal(ik_x86_hpet_timer_alloc_irq(f.h, 2), -IK_EBUSY);
	assert_int_equal(ik_x86_hpet_timer_free_irq(f.h, 2), -IK_EBUSY);
	release(&f, 2, irq);
	/* (after a first allocation: the core keeps its number-space nodes) */
	before = sim_alloc_outstanding();
	assert_int_equal(ik_x86_hpet_timer_alloc_irq(f.h, 1), -IK_ENOTSUPP);
	assert_int_equal(ik_x86_hpet_timer_alloc_irq(f.h, 4), -IK_ERANGE);
	assert_int_equal(sim_alloc_outstanding(), before);
	assert_int_equal(ik_x86_hpet_create(&bad, &h2), -IK_ENODEV);
	assert_int_equal(ik_x86_hpet_create(NULL, &h2), -IK_EINVAL);
	assert_int_equal(sim_alloc_outstanding(), before);
	fx_down(&f);
}

static void check_failures(bool ir)
{
	struct ik_x86_hpet_config c = { .requester_id = SIM_HPET_DEFAULT_RID, .name = "hpet1" };
	unsigned int failures = 0;
	int64_t baseline;
	struct fx f;

	fx_up(&f, ir, 9);
	assert_int_equal(ik_x86_hpet_timer_alloc_irq(f.h, 0) > 0, true);
	assert_int_equal(ik_x86_hpet_timer_free_irq(f.h, 0), 0);
	baseline = sim_alloc_outstanding();
	for (uint64_t nth = 1;; nth++) {
		uint64_t start = sim_alloc_count();
		struct ik_x86_hpet *h = NULL;
		int ret;

		sim_alloc_fail_nth(nth);
		ret = ik_x86_hpet_create(&c, &h);
		sim_alloc_fail_nth(0);
		if (ret) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
			assert_int_equal(sim_alloc_outstanding(), baseline);
			continue;
		}
		ik_x86_hpet_destroy(h);
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
		ret = ik_x86_hpet_timer_alloc_irq(f.h, 0);
		sim_alloc_fail_nth(0);
		if (ret < 0) {
			failures++;
			assert_int_equal(ret, -IK_ENOMEM);
		} else {
			assert_int_equal(ik_x86_hpet_timer_free_irq(f.h, 0), 0);
		}
		assert_int_equal(sim_alloc_outstanding(), baseline);
		if (f.ir) {
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
		cmocka_unit_test(test_delivery_plain),
		cmocka_unit_test(test_delivery_remapped),
		cmocka_unit_test(test_disable_replay),
		cmocka_unit_test(test_affinity_moves),
		cmocka_unit_test(test_hotplug),
		cmocka_unit_test(test_spoofed_requester),
		cmocka_unit_test(test_start_parks_comparator),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_failure_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
