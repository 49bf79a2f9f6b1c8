// SPDX-License-Identifier: BSD-2-Clause
/*
 * The switchtec-like NTB function and its port (include/irqkit/drivers/ntb.h)
 * on the simulated sim_ntb with its peer.
 *
 * Covered: the function's own four MSI-X vectors (link event, DMA RPC,
 * inbound message, doorbell) and the outbound doorbell and message; the
 * port's memory-window domain (its place in the hierarchy, its x86-msi
 * protocol); peer triggers delivered and counted on the CPU each interrupt
 * targets, tagged with the function's requester id (or the proxy id, which
 * becomes the port's DMA alias); peer writes that must not reach a handler
 * (unpublished, never allocated, freed, outside the window, misaligned, a
 * forged vector); affinity changes republishing one word at a time, done at
 * once on the target CPU or from the next interrupt otherwise, the peer's
 * next write landing on the new CPU; random moves while the peer fires,
 * over seeds, with nothing lost and the slot never seen torn or invalid,
 * also when the parent rewrites both words at once; nothing republished
 * under a remapping-like parent;
 * NTB interrupts never in the MSI-X domain; lazy disable without a mask;
 * port and function unplug / re-plug (also surprise removal); allocation
 * failure injection with no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/drivers/ntb.h>
#include <irqkit/irqchip.h>
#include <irqkit/pci.h>

#include "host_port.h"
#include "imsbed.h"
#include "pcibed.h"
#include "sim_ntb.h"

#define N_BDF SIM_PCI_BDF(0, 6, 0)
#define N_BAR0 0xC0800000ull
#define N_BAR2 0xC1000000ull
#define PROXY_RID SIM_PCI_BDF(0x20, 1, 0)

static struct pcibed pb;
static struct sim_ntb *sntb;
static struct ik_device *fn;
static unsigned int vec_maps_base;

static struct sim_machine *M(void)
{
	return pb.tb.m;
}

static void warm_up(void)
{
	int virq = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 64, NULL, NULL);

	assert_true(virq > 0);
	assert_int_equal(ik_irq_domain_free_irqs((unsigned int)virq, 64), 0);
}

static void plug(bool proxy)
{
	struct sim_ntb_config c = {
		.bar0_addr = N_BAR0, .bar2_addr = N_BAR2, .link_up = true,
	};

	sntb = sim_ntb_create(pb.bus, N_BDF, &c);
	assert_non_null(sntb);
	if (proxy)
		sim_ntb_set_proxy_rid(sntb, true, PROXY_RID);
	assert_int_equal(ik_pci_device_create(NULL, 0, N_BDF, &fn), 0);
	ik_device_set_msi_parent(fn, ik_x86_vector_domain());
	assert_int_equal(ik_device_bind(fn, &ik_ntb_pci_driver), 0);
	assert_non_null(ik_ntb_port(fn));
}

static void bed_up(uint64_t seed)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = seed };

	pcibed_init(&pb, &o);
	warm_up();
	vec_maps_base = ik_irq_domain_mapcount(ik_x86_vector_domain());
	plug(false);
}

static void bed_down(void)
{
	if (fn)
		ik_pci_device_destroy(fn);
	fn = NULL;
	sim_run_until_idle(M());
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_int_equal(pcibed_fini(&pb), 0);
}

static int setup(void **state)
{
	bed_up(23);
	return 0;
}

static int teardown(void **state)
{
	bed_down();
	return 0;
}

/* ---- Helpers ---------------------------------------------------------------------- */

static struct ik_device *port(void)
{
	return ik_ntb_port(fn);
}

struct pub {
	uint32_t offset, data, ctrl;
};

/* What the peer reads in PUBLISH[slot] (a CPU read of the register, as a test probe). */
static struct pub published(unsigned int slot)
{
	uint64_t base = N_BAR0 + SIM_NTB_PUBLISH(slot);
	struct pub p = {
		(uint32_t)sim_cpu_read(M(), 0, base + SIM_NTB_PUB_OFFSET, 4),
		(uint32_t)sim_cpu_read(M(), 0, base + SIM_NTB_PUB_DATA, 4),
		(uint32_t)sim_cpu_read(M(), 0, base + SIM_NTB_PUB_CTRL, 4),
	};
	return p;
}

/* The slot holds the message of the interrupt's current vector-domain target. */
static void assert_published_target(unsigned int slot, unsigned int irq)
{
	struct ik_x86_irq_target t;
	struct pub p = published(slot);

	assert_int_equal(ik_x86_irq_target(irq, &t), 0);
	assert_true(p.ctrl & SIM_NTB_PUB_VALID);
	assert_int_equal(p.offset, ik_x86_cpu_apic_id(t.cpu) << 12);
	assert_int_equal(p.data & 0xFF, t.vector);
}

struct peer {
	unsigned int slot;
	uint64_t delivered;     /* triggers that wrote */
	uint64_t invalid;       /* triggers that found the slot invalid (retried) */
	uint64_t other;
};

/* The peer triggers; a slot found invalid is tried again later (a peer's retry). */
static void peer_fire(void *ctx);

static void peer_retry(void *ctx)
{
	peer_fire(ctx);
}

static void peer_fire(void *ctx)
{
	struct peer *p = ctx;
	enum sim_ntb_result r = sim_ntb_peer_trigger(sntb, p->slot);

	if (r == SIM_NTB_DELIVERED) {
		p->delivered++;
	} else if (r == SIM_NTB_INVALID_SLOT) {
		p->invalid++;
		sim_schedule(M(), 1 + sim_rand(M()) % 4, peer_retry, p);
	} else {
		p->other++;
	}
}

static uint64_t peer_delivered(void *ctx)
{
	return ((struct peer *)ctx)->delivered;
}

static void line_init(struct ib_line *l, struct peer *p, unsigned int irq, unsigned int slot)
{
	memset(l, 0, sizeof(*l));
	memset(p, 0, sizeof(*p));
	p->slot = slot;
	l->m = M();
	l->irq = irq;
	l->fire = peer_fire;
	l->fired = peer_delivered;
	l->ctx = p;
}

static enum sim_ntb_result trigger(unsigned int slot)
{
	enum sim_ntb_result r = sim_ntb_peer_trigger(sntb, slot);

	sim_run_until_idle(M());
	return r;
}

static struct ik_ntb_stats nstats(void)
{
	struct ik_ntb_stats st;

	assert_int_equal(ik_ntb_get_stats(fn, &st), 0);
	return st;
}

static struct ik_msi_map alloc_on(unsigned int cpu)
{
	struct ik_irq_affinity_desc aff = { .is_managed = false };

	ib_cpu_mask(&aff.mask, cpu);
	return ik_ntb_msi_alloc_irq(port(), &aff);
}

/* ---- Tests -------------------------------------------------------------------------- */

/* The function's own vectors, the outbound side, and where the port's domain sits. */
static void test_function_vectors_and_port_domain(void **state)
{
	struct ik_irq_domain *d = ik_msi_get_device_domain(port(), IK_MSI_DEFAULT_DOMAIN);
	const struct ik_msi_domain_info *info = ik_msi_get_domain_info(d);
	struct ik_ntb_stats st;

	assert_true(ik_pci_msix_enabled(fn));
	for (unsigned int v = 0; v < IK_NTB_NR_VECTORS; v++)
		assert_true(ik_pci_irq_vector(fn, v) > 0);
	assert_true(nstats().link_up);

	sim_ntb_set_link(sntb, false);
	sim_ntb_dma_rpc_done(sntb);
	sim_ntb_peer_doorbell(sntb, 0x5);
	sim_ntb_peer_message(sntb, 2, 0xCAFE);
	sim_run_until_idle(M());
	sim_ntb_peer_doorbell(sntb, 0x100);
	sim_run_until_idle(M());
	st = nstats();
	assert_int_equal(st.link_events, 1);
	assert_false(st.link_up);
	assert_int_equal(st.dma_rpcs, 1);
	assert_int_equal(st.doorbells, 2);
	assert_int_equal(st.doorbell_bits, 0x105);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.last_msg[2], 0xCAFE);

	assert_int_equal(ik_ntb_peer_db_set(port(), 0x30), 0);
	assert_int_equal(sim_ntb_peer_take_doorbells(sntb), 0x30);
	assert_int_equal(ik_ntb_peer_msg_write(port(), 1, 0xBEEF), 0);
	assert_int_equal(sim_ntb_peer_msg(sntb, 1), 0xBEEF);
	assert_int_equal(ik_ntb_peer_msg_write(port(), IK_NTB_NR_MSGS, 1), -IK_EINVAL);
	assert_int_equal(ik_ntb_peer_db_set(fn, 1), -IK_EINVAL);

	/* The window domain: the port's own, below the platform, not below MSI-X. */
	assert_non_null(d);
	assert_string_equal(ik_irq_domain_name(d), "NTB-0000:00:06.0.ntb");
	assert_int_equal(info->bus_token, IK_MSI_BUS_NTB);
	assert_int_equal(info->hwsize, SIM_NTB_NR_PUBLISH);
	assert_false(info->flags & (IK_MSI_FLAG_MASK_SOURCE | IK_MSI_FLAG_MASK_PARENT));
	assert_ptr_equal(ik_irq_domain_parent(d), ik_x86_vector_domain());
	/* Cannot mask: the non-remapped update goes in two one-field steps. */
	assert_int_equal(ik_x86_msi_domain_protocol(d), IK_X86_MSI_TWO_STEP);
	assert_int_equal(ik_ntb_msi_alloc_irq(fn, NULL).index, -IK_EINVAL);
}

/* Peer triggers reach the handler on the CPU of each interrupt, tagged with the function's id. */
static void test_peer_trigger_delivered_per_cpu(void **state)
{
	struct ik_ntb_msi_desc desc[4];
	struct ib_line l[4];
	struct peer p[4];
	struct sim_ntb_stats ss;

	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		struct ik_irq_affinity_desc aff = { .is_managed = false };

		ib_cpu_mask(&aff.mask, cpu);
		line_init(&l[cpu], &p[cpu], 0, 0);
		assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l[cpu], &aff,
							 &desc[cpu]), 0);
		assert_int_equal(desc[cpu].slot, cpu);
		l[cpu].irq = desc[cpu].irq;
		p[cpu].slot = desc[cpu].slot;
		assert_published_target(desc[cpu].slot, desc[cpu].irq);
	}
	for (unsigned int round = 0; round < 5; round++) {
		for (unsigned int cpu = 0; cpu < 4; cpu++) {
			peer_fire(&p[cpu]);
			sim_run_until_idle(M());
		}
	}
	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		assert_int_equal(p[cpu].delivered, 5);
		assert_int_equal(l[cpu].runs, 5);
		assert_int_equal(l[cpu].per_cpu[cpu], 5);
		assert_int_equal(ik_irq_count_cpu(desc[cpu].irq, cpu), 5);
		assert_int_equal(ik_irq_count(desc[cpu].irq), 5);
	}
	sim_ntb_stats(sntb, &ss);
	assert_int_equal(ss.last_rid, N_BDF);
	assert_int_equal(ss.delivered, 20);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	/* Managed release: an early free of one, the rest at unbind. */
	assert_int_equal(ik_ntbm_msi_free_irq(port(), desc[1].irq, &l[1]), 0);
	assert_int_equal(ik_ntbm_msi_free_irq(port(), desc[1].irq, &l[1]), -IK_ENOENT);
	assert_int_equal(trigger(desc[1].slot), SIM_NTB_INVALID_SLOT);
}

/* What must not reach any handler. */
static void test_peer_writes_not_delivered(void **state)
{
	struct ib_line l;
	struct peer p;
	struct ik_msi_map map;
	struct ik_x86_irq_target t;
	struct pub pubd;
	uint64_t spurious;

	/* Never allocated. */
	assert_int_equal(trigger(5), SIM_NTB_INVALID_SLOT);
	assert_int_equal(trigger(SIM_NTB_NR_PUBLISH + 3), SIM_NTB_INVALID_SLOT);
	/* Allocated but not requested: not activated, nothing published. */
	map = alloc_on(1);
	assert_int_equal(map.index, 0);
	assert_int_equal(trigger(0), SIM_NTB_INVALID_SLOT);
	line_init(&l, &p, map.virq, 0);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(trigger(0), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 1);
	pubd = published(0);

	/* Outside the window, misaligned: the bridge drops them. */
	assert_int_equal(sim_ntb_peer_write(sntb, IK_NTB_MSI_WINDOW_SIZE, pubd.data),
			 SIM_NTB_DROPPED_OUTSIDE);
	assert_int_equal(sim_ntb_peer_write(sntb, pubd.offset + 2, pubd.data),
			 SIM_NTB_DROPPED_OUTSIDE);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 1);

	/*
	 * Inside the window with a vector nobody owns: without remapping the
	 * bridge cannot tell, the CPU gets a vector with no interrupt behind
	 * it -- counted as spurious, no handler runs.
	 */
	assert_int_equal(ik_x86_irq_target(map.virq, &t), 0);
	spurious = testbed_spurious(&pb.tb);
	assert_int_equal(sim_ntb_peer_write(sntb, pubd.offset, (pubd.data & ~0xFFu) | 0xE0),
			 SIM_NTB_DELIVERED);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 1);
	assert_int_equal(testbed_spurious(&pb.tb), spurious + 1);

	/* Freed: unpublished at once. */
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_false(published(0).ctrl & SIM_NTB_PUB_VALID);
	assert_int_equal(trigger(0), SIM_NTB_INVALID_SLOT);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), -IK_ENOENT);
	assert_int_equal(l.runs, 1);
}

struct move_call {
	unsigned int irq;
	ik_cpumask_t mask;
	int ret;
};

static void move_fn(void *arg)
{
	struct move_call *c = arg;

	c->ret = ik_irq_set_affinity(c->irq, &c->mask);
}

/*
 * A change on the interrupt's own CPU republishes at once, one word per
 * step; from another CPU it waits for the next interrupt, which carries it
 * out on the right CPU.  Either way the peer's next write lands on the new
 * CPU and nothing is lost.
 */
static void test_affinity_change_republishes(void **state)
{
	struct ik_msi_map map = alloc_on(0);
	struct ik_ntb_stats st0, st1;
	struct move_call mv;
	struct ib_line l;
	struct peer p;
	struct pub before;

	line_init(&l, &p, map.virq, (unsigned int)map.index);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	peer_fire(&p);
	sim_run_until_idle(M());
	assert_int_equal(l.per_cpu[0], 1);

	/* On CPU 0, the target: done now. */
	st0 = nstats();
	before = published(p.slot);
	mv = (struct move_call){ .irq = map.virq };
	ib_cpu_mask(&mv.mask, 2);
	sim_run_on_cpu(M(), 0, move_fn, &mv);
	assert_int_equal(mv.ret, 0);
	st1 = nstats();
	/*
	 * Vector first (on the old CPU), then the destination: one-word updates
	 * (one if the new CPU happens to give the same vector number).
	 */
	assert_true(st1.republished - st0.republished >= 1);
	assert_true(st1.republished - st0.republished <= 2);
	assert_int_equal(st1.invalidated, st0.invalidated);
	assert_int_not_equal(published(p.slot).offset, before.offset);
	assert_published_target(p.slot, map.virq);
	peer_fire(&p);
	sim_run_until_idle(M());
	assert_int_equal(l.per_cpu[2], 1);

	/* From CPU 3, not the target (2): deferred to the next interrupt. */
	before = published(p.slot);
	ib_cpu_mask(&mv.mask, 1);
	sim_run_on_cpu(M(), 3, move_fn, &mv);
	assert_int_equal(mv.ret, 0);
	assert_int_equal(published(p.slot).offset, before.offset);
	assert_int_equal(published(p.slot).data, before.data);
	peer_fire(&p);             /* lands on CPU 2, whose ack moves the interrupt */
	sim_run_until_idle(M());
	assert_int_equal(l.per_cpu[2], 2);
	assert_published_target(p.slot, map.virq);
	assert_int_equal(published(p.slot).offset, ik_x86_cpu_apic_id(1) << 12);
	peer_fire(&p);
	sim_run_until_idle(M());
	assert_int_equal(l.per_cpu[1], 1);
	assert_int_equal(l.runs, 4);
	assert_int_equal(p.delivered, 4);
	assert_int_equal(p.invalid, 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);
}

/* Random moves from random CPUs while the peer fires: nothing lost, never torn. */
static void run_moves(uint64_t seed, bool naive)
{
	enum { NL = 4, FIRES = 150 };
	struct ik_msi_map maps[NL];
	struct ib_line lines[NL];
	struct peer peers[NL];
	struct ik_x86_msi_stats xs;
	struct ik_ntb_stats st;
	struct sim_ntb_stats ss;
	uint64_t coalesced;
	int64_t extra = 0;
	unsigned int i;

	bed_up(seed);
	coalesced = sim_stat(M(), SIM_STAT_MSI_COALESCED);
	ik_x86_msi_set_naive_update(naive);
	for (i = 0; i < NL; i++) {
		maps[i] = alloc_on(i);
		assert_int_equal(maps[i].index, (int)i);
		line_init(&lines[i], &peers[i], maps[i].virq, i);
		assert_int_equal(ib_request_on(M(), i, &lines[i]), 0);
		ib_chain_start(&lines[i], FIRES, 1 + i);
	}
	for (unsigned int step = 0; step < 100; step++) {
		ik_cpumask_t mask;
		unsigned int which = (unsigned int)(sim_rand(M()) % NL);

		ib_random_mask(M(), &mask);
		assert_int_equal(ib_set_affinity_on(M(), (unsigned int)(sim_rand(M()) % 4),
						    maps[which].virq, &mask), 0);
		if (sim_rand(M()) % 8 == 0)
			sim_run_until_idle(M());
	}
	sim_run_until_idle(M());
	ik_x86_msi_get_stats(&xs);
	for (i = 0; i < NL; i++) {
		if (!ib_chain_done(&lines[i]))
			fail_msg("seed %llu slot %u: delivered %llu, seen %llu, %u left (lost interrupt)",
				 (unsigned long long)seed, i,
				 (unsigned long long)peers[i].delivered,
				 (unsigned long long)lines[i].seen, lines[i].left);
		assert_int_equal(peers[i].delivered, FIRES);
		/*
		 * A write caught at the two-step update's intermediate target is
		 * retriggered on the new one: at most one extra run per race.
		 * Fewer runs than writes only where a write merged with one
		 * already pending in the same IRR bit (the handler then saw
		 * both: seen == fired above).
		 */
		extra += (int64_t)lines[i].runs - FIRES;
		assert_true(lines[i].runs + (sim_stat(M(), SIM_STAT_MSI_COALESCED) - coalesced) >=
			    FIRES);
		/* One word per republish: the peer never found a slot being rewritten. */
		if (!naive)
			assert_int_equal(peers[i].invalid, 0);
		assert_int_equal(peers[i].other, 0);
		assert_published_target(i, maps[i].virq);
	}
	assert_true(extra <= (int64_t)xs.raced);
	if (getenv("IK_TEST_VERBOSE"))
		printf("seed %llu: two-step %llu raced %llu deferred %llu direct %llu extra %lld\n",
		       (unsigned long long)seed, (unsigned long long)xs.two_step,
		       (unsigned long long)xs.raced, (unsigned long long)xs.deferred,
		       (unsigned long long)xs.direct, (long long)extra);
	st = nstats();
	if (naive) {
		/* Both words at once: the slot was invalid meanwhile, never torn. */
		assert_true(st.invalidated > 0);
		assert_int_equal(xs.two_step, 0);
	} else {
		assert_true(st.republished > 0);
		assert_int_equal(st.invalidated, 0);
		sim_ntb_stats(sntb, &ss);
		assert_int_equal(ss.invalid_triggers, 0);
	}
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
	assert_int_equal(testbed_spurious(&pb.tb), 0);
	assert_int_equal(ik_x86_matrix_check(), 0);
	for (i = 0; i < NL; i++) {
		assert_int_equal(ib_free_on(M(), 0, &lines[i]), 0);
		assert_int_equal(ik_ntb_msi_free_irq(port(), maps[i]), 0);
	}
	bed_down();
}

static void test_moves_while_peer_fires(void **state)
{
	bed_down();
	for (uint64_t seed = 1; seed <= 24; seed++)
		if (ib_seed_selected(seed))
			run_moves(seed, false);
	bed_up(23);
}

/*
 * The parent writes destination and vector at once (the x86-msi naive
 * update, a test hook): the publish protocol alone must keep the peer from
 * ever using a torn pair -- it finds the slot invalid and retries.
 */
static void test_moves_naive_parent_publish_protected(void **state)
{
	bed_down();
	for (uint64_t seed = 1; seed <= 12; seed++)
		if (ib_seed_selected(seed))
			run_moves(seed, true);
	bed_up(23);
}

/* Under a remapping-like parent the message never changes: nothing is republished. */
static void test_remapped_parent_never_republishes(void **state)
{
	struct ik_irq_domain *remap = ib_remap_parent_create();
	struct ik_ntb_stats st0, st1;
	struct ik_msi_map map;
	struct pub before, after;
	struct ib_line l;
	struct peer p;

	assert_non_null(remap);
	assert_int_equal(ik_device_unbind(fn), 0);
	ik_device_set_msi_parent(fn, remap);
	assert_int_equal(ik_device_bind(fn, &ik_ntb_pci_driver), 0);
	assert_string_equal(ik_irq_domain_name(ik_msi_get_device_domain(port(),
								       IK_MSI_DEFAULT_DOMAIN)),
			    "FIR-NTB-0000:00:06.0.ntb");
	map = ik_ntb_msi_alloc_irq(port(), NULL);
	line_init(&l, &p, map.virq, (unsigned int)map.index);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	before = published(p.slot);
	st0 = nstats();
	for (unsigned int i = 0; i < 20; i++) {
		ik_cpumask_t mask;

		ib_random_mask(M(), &mask);
		assert_int_equal(ib_set_affinity_on(M(), i % 4, map.virq, &mask), 0);
		peer_fire(&p);
		sim_run_until_idle(M());
	}
	st1 = nstats();
	after = published(p.slot);
	assert_int_equal(st1.republished, st0.republished);
	assert_int_equal(st1.invalidated, st0.invalidated);
	assert_int_equal(after.offset, before.offset);
	assert_int_equal(after.data, before.data);
	assert_int_equal(l.seen, 20);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);
	ik_pci_device_destroy(fn);
	fn = NULL;
	assert_int_equal(ik_irq_domain_remove(remap), 0);
}

/* The MSI-X domain holds the four vectors and nothing else. */
static void test_never_in_msix_domain(void **state)
{
	struct ik_irq_domain *msix = ik_msi_get_device_domain(fn, IK_MSI_DEFAULT_DOMAIN);
	struct ik_irq_domain *win = ik_msi_get_device_domain(port(), IK_MSI_DEFAULT_DOMAIN);
	struct ik_msi_map maps[8];
	struct ib_irq_list list;

	for (unsigned int i = 0; i < 8; i++) {
		maps[i] = ik_ntb_msi_alloc_irq(port(), NULL);
		assert_int_equal(maps[i].index, (int)i);
	}
	assert_int_equal(ik_irq_domain_mapcount(msix), IK_NTB_NR_VECTORS);
	assert_int_equal(ik_irq_domain_mapcount(win), 8);
	assert_int_equal(ik_pci_msix_vec_count(fn), IK_NTB_NR_VECTORS);
	for (unsigned int d = 1; d < IK_MSI_MAX_DEVICE_DOMAINS; d++)
		assert_null(ik_msi_get_device_domain(fn, d));

	assert_int_equal(ib_list_irqs(fn, &list), 0);
	assert_int_equal(list.n, IK_NTB_NR_VECTORS);
	for (unsigned int i = 0; i < list.n; i++) {
		assert_string_equal(list.info[i].mode, "msix");
		assert_int_equal(list.info[i].index, i);
		/* The function's driver and the port requested all four. */
		assert_true(list.info[i].started);
	}
	assert_int_equal(ib_list_irqs(port(), &list), 0);
	assert_int_equal(list.n, 8);
	for (unsigned int i = 0; i < 8; i++) {
		struct ik_irq_data *d = ik_irq_get_irq_data(maps[i].virq);

		assert_string_equal(list.info[i].mode, "ntb");
		assert_string_equal(list.info[i].domain, "NTB-0000:00:06.0.ntb");
		assert_int_equal(list.info[i].irq, maps[i].virq);
		assert_false(list.info[i].masked);
		assert_ptr_equal(d->domain, win);
		assert_ptr_equal(d->parent_data->domain, ik_x86_vector_domain());
		assert_null(ik_irq_domain_get_irq_data(msix, maps[i].virq));
	}
	/* The table has four entries and stays that way. */
	assert_false(sim_pci_msix_entry(sim_ntb_pci(sntb), IK_NTB_NR_VECTORS,
					&(struct sim_pci_msix_entry){ 0 }));
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(ik_ntb_msi_free_irq(port(), maps[i]), 0);
}

/*
 * Nothing can mask a peer: disable stays lazy, the writes that arrive are
 * kept pending (coalesced) and enable runs the handler once.
 */
static void test_disable_without_mask(void **state)
{
	struct ik_msi_map map = alloc_on(2);
	struct ib_line l;
	struct peer p;

	line_init(&l, &p, map.virq, (unsigned int)map.index);
	assert_int_equal(ib_request_on(M(), 0, &l), 0);
	assert_int_equal(ib_disable_on(M(), 0, map.virq), 0);
	/* Still published: unpublishing would drop the peer's writes. */
	assert_true(published(p.slot).ctrl & SIM_NTB_PUB_VALID);
	for (unsigned int i = 0; i < 3; i++) {
		peer_fire(&p);
		sim_run_until_idle(M());
	}
	assert_int_equal(p.delivered, 3);
	assert_int_equal(l.runs, 0);
	assert_int_equal(ib_enable_on(M(), 0, map.virq), 0);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 1);
	assert_int_equal(l.seen, 3);
	peer_fire(&p);
	sim_run_until_idle(M());
	assert_int_equal(l.runs, 2);
	assert_int_equal(ib_free_on(M(), 0, &l), 0);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);
}

/* Port unplug / re-plug, function unbind / re-bind, surprise removal / re-plug. */
static void test_plug_unplug_replug(void **state)
{
	struct ik_ntb_msi_desc desc;
	struct ib_line l;
	struct peer p;

	line_init(&l, &p, 0, 0);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	l.irq = desc.irq;
	p.slot = desc.slot;
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 1);

	/* The port goes with its interrupt; the window closes. */
	ik_ntb_port_remove(fn);
	assert_null(port());
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 4);
	assert_int_equal(trigger(desc.slot), SIM_NTB_INVALID_SLOT);
	assert_int_equal(sim_ntb_peer_write(sntb, 0, 0x41), SIM_NTB_DROPPED_DISABLED);
	/* The function's own vectors still work without the port. */
	sim_ntb_dma_rpc_done(sntb);
	sim_run_until_idle(M());
	assert_int_equal(nstats().dma_rpcs, 1);

	assert_int_equal(ik_ntb_port_add(fn), 0);
	assert_int_equal(ik_ntb_port_add(fn), -IK_EBUSY);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	l.irq = desc.irq;
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 2);

	/* Unbind the function: port, interrupts, vectors, all gone; bind again. */
	assert_int_equal(ik_device_unbind(fn), 0);
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	assert_false(ik_pci_msix_enabled(fn));
	assert_int_equal(ik_device_bind(fn, &ik_ntb_pci_driver), 0);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	l.irq = desc.irq;
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 3);

	/* Surprise removal with everything live, then a new function at the same place. */
	sim_ntb_destroy(sntb);
	ik_pci_set_disconnected(fn);
	ik_pci_device_destroy(fn);
	fn = NULL;
	assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base);
	plug(true);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	l.irq = desc.irq;
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 4);
	assert_int_equal(sim_stat(M(), SIM_STAT_MSI_NO_DEST), 0);
}

/* A proxy requester id: translated writes carry it and the port knows it as an alias. */
static void test_proxy_rid_is_alias(void **state)
{
	struct ik_ntb_msi_desc desc;
	struct sim_ntb_stats ss;
	uint16_t rids[IK_DEVICE_MAX_DMA_ALIASES];
	struct ib_line l;
	struct peer p;

	ik_pci_device_destroy(fn);
	sim_ntb_destroy(sntb);
	plug(true);
	assert_int_equal(ik_device_dma_aliases(port(), rids, IK_DEVICE_MAX_DMA_ALIASES), 1);
	assert_int_equal(rids[0], PROXY_RID);
	assert_int_equal(ik_device_dma_aliases(fn, rids, IK_DEVICE_MAX_DMA_ALIASES), 0);
	line_init(&l, &p, 0, 0);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 1);
	sim_ntb_stats(sntb, &ss);
	assert_int_equal(ss.last_rid, PROXY_RID);
}

static void test_alloc_failure_injection(void **state)
{
	struct ik_ntb_msi_desc desc;
	struct ik_msi_map map;
	struct ib_line l;
	struct peer p;
	unsigned int failures = 0;
	int ret;

	map = ik_ntb_msi_alloc_irq(port(), NULL);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();

		sim_alloc_fail_nth(nth);
		map = ik_ntb_msi_alloc_irq(port(), NULL);
		sim_alloc_fail_nth(0);
		if (map.index >= 0)
			break;
		assert_int_equal(map.index, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 4);
		failures++;
	}
	assert_true(failures >= 3);
	assert_int_equal(ik_ntb_msi_free_irq(port(), map), 0);

	line_init(&l, &p, 0, 0);
	failures = 0;
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();
		unsigned int devm = ik_devm_count(port());

		sim_alloc_fail_nth(nth);
		ret = ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(ik_devm_count(port()), devm);
		assert_false(published(0).ctrl & SIM_NTB_PUB_VALID);
		failures++;
	}
	assert_true(failures >= 4);
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
	assert_int_equal(l.runs, 1);

	/* The port itself. */
	ik_ntb_port_remove(fn);
	failures = 0;
	for (uint64_t nth = 1;; nth++) {
		int64_t base = sim_alloc_outstanding();

		sim_alloc_fail_nth(nth);
		ret = ik_ntb_port_add(fn);
		sim_alloc_fail_nth(0);
		if (!ret)
			break;
		assert_int_equal(ret, -IK_ENOMEM);
		assert_null(port());
		assert_int_equal(sim_alloc_outstanding(), base);
		assert_int_equal(ik_irq_domain_mapcount(ik_x86_vector_domain()), vec_maps_base + 4);
		failures++;
	}
	assert_true(failures >= 4);
	assert_int_equal(ik_ntbm_msi_request_irq(port(), ib_handler, "peer", &l, NULL, &desc), 0);
	assert_int_equal(trigger(desc.slot), SIM_NTB_DELIVERED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_function_vectors_and_port_domain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_peer_trigger_delivered_per_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_writes_not_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_change_republishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moves_while_peer_fires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moves_naive_parent_publish_protected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_never_in_msix_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remapped_parent_never_republishes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disable_without_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plug_unplug_replug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_rid_is_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure_injection, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
