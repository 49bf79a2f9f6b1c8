/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An HPET block (IA-PC HPET Specification 1.0a, chapter 2 "Register
 * Descriptions"): main counter and N comparators, each able to deliver
 * its interrupt as an FSB message (a bus-master write, i.e. an MSI).
 *
 * ---- Register file (1 KiB at the block's base, default 0xFED00000) --------
 *
 * 64-bit registers; 8-byte accesses or aligned 4-byte halves.  Other sizes
 * or misaligned accesses read 0 and are dropped.  Unlisted offsets read 0.
 *
 *   0x000 GCAP_ID   (ro)  7:0 REV_ID = 1, 12:8 NUM_TIM_CAP = timers - 1,
 *                          13 COUNT_SIZE_CAP = 1 (64-bit), 15 LEG_RT_CAP = 0,
 *                          31:16 VENDOR_ID = 0x8086, 63:32 COUNTER_CLK_PERIOD
 *                          = 100000000 fs (one simulator tick = 100 ns)
 *   0x010 GEN_CONF  (rw)  0 ENABLE_CNF (the main counter runs, comparators
 *                          match), 1 LEG_RT_CNF (stored, not modelled)
 *   0x020 GINTR_STA (rw1c) bit n: Tn_INT_STS, set on a level-triggered
 *                          match (Tn_INT_TYPE_CNF = 1) while enabled
 *   0x0F0 MAIN_CNT  (rw)  counts one per tick while ENABLE_CNF is set;
 *                          software writes it only while halted
 *   0x100 + 0x20*n Tn_CONF_CAP
 *                    1 Tn_INT_TYPE_CNF (0 edge, 1 level), 2 Tn_INT_ENB_CNF,
 *                    3 Tn_TYPE_CNF (periodic: reads 0, no timer is periodic
 *                    capable), 4 Tn_PER_INT_CAP = 0, 5 Tn_SIZE_CAP = 1,
 *                    6 Tn_VAL_SET_CNF (ignored), 8 Tn_32MODE_CNF (stored),
 *                    13:9 Tn_INT_ROUTE_CNF (stored), 14 Tn_FSB_EN_CNF
 *                    (writable only with the capability), 15
 *                    Tn_FSB_INT_DEL_CAP (ro), 63:32 Tn_INT_ROUTE_CAP (ro,
 *                    0x00F00000: IO-APIC inputs 20..23)
 *   0x108 + 0x20*n Tn_COMPARATOR (rw)
 *   0x110 + 0x20*n Tn_FSB_ROUTE  (rw) 31:0 FSB_INT_VAL, 63:32 FSB_INT_ADDR
 *
 * ---- Matches and delivery -----------------------------------------------
 *
 * A comparator is armed by a write of Tn_COMPARATOR and matches once when
 * the main counter reaches it (one-shot; the block schedules a simulator
 * event for that tick).  sim_hpet_fire() makes timer n match now, whatever
 * the counter (a test's "the comparator fired").  A comparator more than
 * 2^40 ticks (about 30 hours) ahead is never reached in a simulation and
 * is not scheduled (a driver parks unarmed comparators far ahead).  A match while
 * ENABLE_CNF is clear does nothing.  Otherwise:
 *  - level-triggered: Tn_INT_STS is set;
 *  - Tn_INT_ENB_CNF clear: nothing is sent and nothing is latched: the
 *    specification gives FSB (edge) delivery no pending state, so a match
 *    while the interrupt is disabled is lost (counted as suppressed);
 *  - Tn_FSB_EN_CNF set: FSB_INT_VAL is written to FSB_INT_ADDR as a 32-bit
 *    bus-master write carrying the block's requester id (sim_dma_write32),
 *    read from the register at that moment -- a match between the two
 *    halves of a route update sends the half-updated message;
 *  - else the interrupt would go to the IO-APIC input Tn_INT_ROUTE_CNF,
 *    which is not wired in this model (counted as unrouted).
 *
 * The requester id is what the DMAR table's device scope gives for the
 * HPET (default 0x00F0 = 00:1e.0); interrupt remapping checks it.
 *
 * Locking: one mutex, never held while a message is written or an event
 * is scheduled.  The block is freed with the machine.
 */
#ifndef IKSIM_SIM_HPET_H
#define IKSIM_SIM_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define SIM_HPET_DEFAULT_BASE 0xFED00000ull
#define SIM_HPET_SIZE 0x400ull
#define SIM_HPET_DEFAULT_RID 0x00F0u
#define SIM_HPET_MAX_TIMERS 32u

#define SIM_HPET_GCAP_ID	0x000
#define SIM_HPET_GEN_CONF	0x010
#define SIM_HPET_GINTR_STA	0x020
#define SIM_HPET_MAIN_CNT	0x0F0
#define SIM_HPET_TN_CONF(n)	(0x100 + 0x20 * (n))
#define SIM_HPET_TN_CMP(n)	(0x108 + 0x20 * (n))
#define SIM_HPET_TN_FSB(n)	(0x110 + 0x20 * (n))

#define SIM_HPET_GCAP_NUM_TIM_SHIFT	8
#define SIM_HPET_GCAP_COUNT_SIZE	(1ull << 13)
#define SIM_HPET_GCAP_PERIOD_SHIFT	32
#define SIM_HPET_PERIOD_FS		100000000ull
#define SIM_HPET_GEN_ENABLE		(1ull << 0)
#define SIM_HPET_GEN_LEG_RT		(1ull << 1)
#define SIM_HPET_TN_INT_TYPE_LEVEL	(1ull << 1)
#define SIM_HPET_TN_INT_ENB		(1ull << 2)
#define SIM_HPET_TN_TYPE_PERIODIC	(1ull << 3)
#define SIM_HPET_TN_PER_INT_CAP		(1ull << 4)
#define SIM_HPET_TN_SIZE_CAP		(1ull << 5)
#define SIM_HPET_TN_VAL_SET		(1ull << 6)
#define SIM_HPET_TN_32MODE		(1ull << 8)
#define SIM_HPET_TN_ROUTE_SHIFT		9
#define SIM_HPET_TN_FSB_EN		(1ull << 14)
#define SIM_HPET_TN_FSB_DEL_CAP		(1ull << 15)
#define SIM_HPET_TN_ROUTE_CAP		(0x00F00000ull << 32)

struct sim_hpet_config {
	uint64_t base;			/* 1 KiB aligned; 0 = SIM_HPET_DEFAULT_BASE */
	unsigned int nr_timers;		/* 1..32; 0 = 3 */
	bool fsb_mask_given;		/* else every timer can deliver through FSB */
	uint32_t fsb_mask;		/* bit n: timer n has Tn_FSB_INT_DEL_CAP */
	bool rid_given;			/* else SIM_HPET_DEFAULT_RID */
	uint16_t requester_id;
};

struct sim_hpet;

/* Create the block and map its registers.  NULL on bad config or overlap.  Freed with the machine. */
struct sim_hpet *sim_hpet_create(struct sim_machine *m, const struct sim_hpet_config *cfg);

/* Timer @n matches now (see above).  Any thread. */
void sim_hpet_fire(struct sim_hpet *h, unsigned int n);

struct sim_hpet_timer_stats {
	uint64_t matches;	/* comparator matches while enabled (fires included) */
	uint64_t sent;		/* FSB messages written */
	uint64_t suppressed;	/* matches with Tn_INT_ENB_CNF clear: lost */
	uint64_t unrouted;	/* enabled, not FSB: IO-APIC routing not modelled */
};
void sim_hpet_timer_stats(struct sim_hpet *h, unsigned int n, struct sim_hpet_timer_stats *out);
uint16_t sim_hpet_requester_id(const struct sim_hpet *h);

#endif /* IKSIM_SIM_HPET_H */
