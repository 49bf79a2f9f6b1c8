// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated HPET (sim/hpet.c): capability and configuration formats,
 * the main counter, comparator matches (armed and forced), FSB delivery
 * with the HPET's requester id, INT_ENB gating (a match while disabled is
 * lost), level status, torn route updates, and bad accesses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_hpet.h"
#include "sim_test.h"

static struct sim_test_idt idt;

static struct sim_machine *machine(void)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 1, false, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	return m;
}

static uint64_t rd(struct sim_machine *m, uint32_t off)
{
	return sim_cpu_read(m, 0, SIM_HPET_DEFAULT_BASE + off, 8);
}

static void wr(struct sim_machine *m, uint32_t off, uint64_t v)
{
	sim_cpu_write(m, 0, SIM_HPET_DEFAULT_BASE + off, v, 8);
}

static void wr32(struct sim_machine *m, uint32_t off, uint32_t v)
{
	sim_cpu_write(m, 0, SIM_HPET_DEFAULT_BASE + off, v, 4);
}

/* FSB route to CPU @cpu's APIC ID, @vector. */
static uint64_t route(struct sim_machine *m, unsigned int cpu, unsigned int vector)
{
	return (uint64_t)(0xFEE00000u | sim_cpu_apic_id(m, cpu) << 12) << 32 | vector;
}

static void test_registers(void **state)
{
	struct sim_hpet_config c = { .nr_timers = 4, .fsb_mask_given = true, .fsb_mask = 0x9 };
	struct sim_machine *m = machine();
	struct sim_hpet *h = sim_hpet_create(m, &c);
	uint64_t gcap;

	assert_non_null(h);
	gcap = rd(m, SIM_HPET_GCAP_ID);
	assert_int_equal(gcap & 0xFF, 1);
	assert_int_equal((gcap >> 8) & 0x1F, 3);
	assert_true(gcap & SIM_HPET_GCAP_COUNT_SIZE);
	assert_int_equal((gcap >> 16) & 0xFFFF, 0x8086);
	assert_int_equal(gcap >> 32, SIM_HPET_PERIOD_FS);
	assert_int_equal((uint32_t)sim_cpu_read(m, 0, SIM_HPET_DEFAULT_BASE + 4, 4), SIM_HPET_PERIOD_FS);
	/* Capabilities per timer; FSB_EN writable only with the capability. */
	assert_true(rd(m, SIM_HPET_TN_CONF(0)) & SIM_HPET_TN_FSB_DEL_CAP);
	assert_false(rd(m, SIM_HPET_TN_CONF(1)) & SIM_HPET_TN_FSB_DEL_CAP);
	wr(m, SIM_HPET_TN_CONF(1), SIM_HPET_TN_FSB_EN | SIM_HPET_TN_INT_ENB);
	assert_int_equal(rd(m, SIM_HPET_TN_CONF(1)) & (SIM_HPET_TN_FSB_EN | SIM_HPET_TN_INT_ENB),
			 SIM_HPET_TN_INT_ENB);
	wr(m, SIM_HPET_TN_CONF(0), SIM_HPET_TN_FSB_EN | SIM_HPET_TN_TYPE_PERIODIC);
	assert_int_equal(rd(m, SIM_HPET_TN_CONF(0)) & (SIM_HPET_TN_FSB_EN | SIM_HPET_TN_TYPE_PERIODIC),
			 SIM_HPET_TN_FSB_EN);
	assert_true(rd(m, SIM_HPET_TN_CONF(0)) & SIM_HPET_TN_SIZE_CAP);
	assert_false(rd(m, SIM_HPET_TN_CONF(0)) & SIM_HPET_TN_PER_INT_CAP);
	/* Beyond the timers and odd accesses read 0. */
	assert_int_equal(rd(m, SIM_HPET_TN_CONF(4)), 0);
	assert_int_equal(sim_cpu_read(m, 0, SIM_HPET_DEFAULT_BASE + 2, 2), 0);
	/* Route halves. */
	wr32(m, SIM_HPET_TN_FSB(0), 0x41);
	wr32(m, SIM_HPET_TN_FSB(0) + 4, 0xFEE00000u);
	assert_int_equal(rd(m, SIM_HPET_TN_FSB(0)), 0xFEE0000000000041ull);
	/* Counter halted, then running. */
	assert_int_equal(rd(m, SIM_HPET_MAIN_CNT), 0);
	wr(m, SIM_HPET_MAIN_CNT, 1000);
	assert_int_equal(rd(m, SIM_HPET_MAIN_CNT), 1000);
	wr(m, SIM_HPET_GEN_CONF, SIM_HPET_GEN_ENABLE);
	for (unsigned int i = 0; i < 10; i++)
		sim_point(m);
	assert_true(rd(m, SIM_HPET_MAIN_CNT) >= 1010);
	assert_int_equal(sim_hpet_requester_id(h), SIM_HPET_DEFAULT_RID);
	/* Overlap and bad config. */
	assert_null(sim_hpet_create(m, NULL));
	c.base = 0xFED10010ull;
	assert_null(sim_hpet_create(m, &c));
	sim_destroy(m);
}

static void test_fsb_delivery(void **state)
{
	struct sim_machine *m = machine();
	struct sim_hpet *h = sim_hpet_create(m, NULL);
	struct sim_hpet_timer_stats st;

	wr(m, SIM_HPET_TN_FSB(2), route(m, 1, 0x51));
	wr(m, SIM_HPET_TN_CONF(2), SIM_HPET_TN_FSB_EN | SIM_HPET_TN_INT_ENB);
	/* Halted: a match does nothing. */
	sim_hpet_fire(h, 2);
	sim_run_until_idle(m);
	assert_int_equal(idt.total, 0);
	wr(m, SIM_HPET_GEN_CONF, SIM_HPET_GEN_ENABLE);
	sim_hpet_fire(h, 2);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x51], 1);
	/* Armed comparator: the counter gets there. */
	wr(m, SIM_HPET_TN_CMP(2), rd(m, SIM_HPET_MAIN_CNT) + 20);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x51], 2);
	assert_true(rd(m, SIM_HPET_MAIN_CNT) >= rd(m, SIM_HPET_TN_CMP(2)));
	/* One-shot: nothing more without a new comparator write. */
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x51], 2);
	/* Rewritten before it matched: only the new one fires. */
	wr(m, SIM_HPET_TN_CMP(2), rd(m, SIM_HPET_MAIN_CNT) + 50);
	wr(m, SIM_HPET_TN_CMP(2), rd(m, SIM_HPET_MAIN_CNT) + 5);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x51], 3);
	/* INT_ENB clear: lost, not latched. */
	wr(m, SIM_HPET_TN_CONF(2), SIM_HPET_TN_FSB_EN);
	sim_hpet_fire(h, 2);
	wr(m, SIM_HPET_TN_CONF(2), SIM_HPET_TN_FSB_EN | SIM_HPET_TN_INT_ENB);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x51], 3);
	/* Not FSB: unrouted. Level: status bit, rw1c. */
	wr(m, SIM_HPET_TN_CONF(2), SIM_HPET_TN_INT_ENB | SIM_HPET_TN_INT_TYPE_LEVEL);
	sim_hpet_fire(h, 2);
	assert_int_equal(rd(m, SIM_HPET_GINTR_STA), 1u << 2);
	wr(m, SIM_HPET_GINTR_STA, 1u << 2);
	assert_int_equal(rd(m, SIM_HPET_GINTR_STA), 0);
	sim_hpet_timer_stats(h, 2, &st);
	assert_int_equal(st.matches, 5);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.suppressed, 1);
	assert_int_equal(st.unrouted, 1);
	sim_destroy(m);
}

/* A match between the two halves of a route update sends the half-updated message. */
static void test_torn_route(void **state)
{
	struct sim_machine *m = machine();
	struct sim_hpet *h = sim_hpet_create(m, NULL);

	wr(m, SIM_HPET_GEN_CONF, SIM_HPET_GEN_ENABLE);
	wr(m, SIM_HPET_TN_FSB(0), route(m, 0, 0x41));
	wr(m, SIM_HPET_TN_CONF(0), SIM_HPET_TN_FSB_EN | SIM_HPET_TN_INT_ENB);
	wr32(m, SIM_HPET_TN_FSB(0), 0x61);
	sim_hpet_fire(h, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x61], 1);    /* new vector, old CPU */
	wr32(m, SIM_HPET_TN_FSB(0) + 4, (uint32_t)(route(m, 1, 0) >> 32));
	sim_hpet_fire(h, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x61], 1);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers),
		cmocka_unit_test(test_fsb_delivery),
		cmocka_unit_test(test_torn_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
