// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated I/O APIC (sim/ioapic.c): indirect registers (ID, VER, ARB,
 * redirection entries with their read-only bits), edge delivery and edges
 * dropped while masked, level delivery with Remote IRR blocking
 * redelivery until an EOI for the entry's vector, re-assertion after EOI,
 * unmask of an asserted line, the message formats (compatibility with the
 * level bits, remappable with the index) and the requester id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim_ioapic.h"
#include "sim_test.h"

static struct sim_test_idt idt;

static struct sim_machine *machine(void)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 1, false, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	idt.no_eoi = false;
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	/*
	 * The test IDT EOIs every vector at the LAPIC: suppress the EOI
	 * broadcast (SVR bit 12), so Remote IRR moves only with the EOIs these
	 * tests send (directed, or sim_ioapic_eoi()).  Broadcasts are tested in
	 * tests/unit/test_ioapic_eoi_broadcast.c.
	 */
	for (unsigned int cpu = 0; cpu < sim_nr_cpus(m); cpu++)
		sim_test_lapic_write(m, cpu, T_LAPIC_SVR, 0x1FF | 1u << 12);
	return m;
}

static uint32_t ind_read(struct sim_machine *m, uint32_t reg)
{
	sim_cpu_write(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_IOREGSEL, reg, 4);
	return (uint32_t)sim_cpu_read(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_IOWIN, 4);
}

static void ind_write(struct sim_machine *m, uint32_t reg, uint32_t v)
{
	sim_cpu_write(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_IOREGSEL, reg, 4);
	sim_cpu_write(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_IOWIN, v, 4);
}

static void eoi(struct sim_machine *m, uint32_t vector)
{
	sim_cpu_write(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_EOI, vector, 4);
}

static void test_registers(void **state)
{
	struct sim_ioapic_config c = { .id = 5 };
	struct sim_machine *m = machine();
	struct sim_ioapic *io = sim_ioapic_create(m, &c);

	assert_non_null(io);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_ID), 5u << 24);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_VER), 0x20 | 23u << 16);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_ARB), 5u << 24);
	ind_write(m, SIM_IOAPIC_REG_ID, 9u << 24);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_ID), 9u << 24);
	/* Out of reset masked; Remote IRR and delivery status are read-only. */
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_RTE(0)), SIM_IOAPIC_RTE_MASK);
	ind_write(m, SIM_IOAPIC_REG_RTE(0), 0xFFFFFFFFu);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_RTE(0)) &
			 (SIM_IOAPIC_RTE_REMOTE_IRR | SIM_IOAPIC_RTE_DELIVS), 0);
	ind_write(m, SIM_IOAPIC_REG_RTE(0) + 1, 0x12000000u);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_RTE(0) + 1), 0x12000000u);
	assert_int_equal(sim_ioapic_rte(io, 0) >> 32, 0x12000000u);
	assert_int_equal(ind_read(m, SIM_IOAPIC_REG_RTE(24)), 0);
	assert_null(sim_ioapic_create(m, NULL));        /* overlap */
	sim_destroy(m);
}

static void test_edge(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ioapic *io = sim_ioapic_create(m, NULL);
	struct sim_ioapic_pin_stats st;

	ind_write(m, SIM_IOAPIC_REG_RTE(3) + 1, sim_cpu_apic_id(m, 1) << 24);
	ind_write(m, SIM_IOAPIC_REG_RTE(3), 0x45);
	sim_ioapic_pulse(io, 3);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x45], 1);
	assert_false(sim_lapic_tmr_test(m, 1, 0x45));
	/* Held high: one edge only. */
	sim_ioapic_set_line(io, 3, true);
	sim_ioapic_set_line(io, 3, true);
	sim_ioapic_set_line(io, 3, false);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x45], 2);
	/* Masked: dropped, not delivered on unmask. */
	ind_write(m, SIM_IOAPIC_REG_RTE(3), 0x45 | SIM_IOAPIC_RTE_MASK);
	sim_ioapic_pulse(io, 3);
	ind_write(m, SIM_IOAPIC_REG_RTE(3), 0x45);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[1][0x45], 2);
	sim_ioapic_pin_stats(io, 3, &st);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.masked_drops, 1);
	sim_destroy(m);
}

static void test_level_remote_irr(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ioapic *io = sim_ioapic_create(m, NULL);
	struct sim_ioapic_pin_stats st;

	ind_write(m, SIM_IOAPIC_REG_RTE(6) + 1, sim_cpu_apic_id(m, 0) << 24);
	ind_write(m, SIM_IOAPIC_REG_RTE(6), 0x51 | SIM_IOAPIC_RTE_LEVEL);
	sim_ioapic_set_line(io, 6, true);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 1);
	assert_true(sim_lapic_tmr_test(m, 0, 0x51));     /* level message */
	assert_true(ind_read(m, SIM_IOAPIC_REG_RTE(6)) & SIM_IOAPIC_RTE_REMOTE_IRR);
	/* Still asserted, Remote IRR set: nothing more; a new edge of the line neither. */
	sim_ioapic_set_line(io, 6, false);
	sim_ioapic_set_line(io, 6, true);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 1);
	/* An EOI for another vector does nothing; for this one: redelivered. */
	eoi(m, 0x52);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 1);
	eoi(m, 0x51);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 2);
	/* Deasserted, then EOI: Remote IRR clear, no delivery. */
	sim_ioapic_set_line(io, 6, false);
	eoi(m, 0x51);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 2);
	assert_false(ind_read(m, SIM_IOAPIC_REG_RTE(6)) & SIM_IOAPIC_RTE_REMOTE_IRR);
	/* Masked while asserted: held, delivered on unmask. */
	ind_write(m, SIM_IOAPIC_REG_RTE(6), 0x51 | SIM_IOAPIC_RTE_LEVEL | SIM_IOAPIC_RTE_MASK);
	sim_ioapic_set_line(io, 6, true);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 2);
	ind_write(m, SIM_IOAPIC_REG_RTE(6), 0x51 | SIM_IOAPIC_RTE_LEVEL);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 3);
	sim_ioapic_eoi(io, 0x51);       /* the broadcast entry point */
	sim_ioapic_pin_stats(io, 6, &st);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.eois, 3);
	assert_int_equal(st.coalesced, 1);
	sim_destroy(m);
}

/* Messages: what the bus sees (a recording interposer stands in for remapping). */
static uint64_t seen_addr;
static uint32_t seen_data;
static uint16_t seen_rid;

static void record(void *opaque, uint16_t rid, uint64_t addr, uint32_t data)
{
	seen_rid = rid;
	seen_addr = addr;
	seen_data = data;
}

static void test_formats(void **state)
{
	struct sim_machine *m = machine();
	struct sim_ioapic_config c = { .rid_given = true, .requester_id = 0xF0F9 };
	struct sim_ioapic *io = sim_ioapic_create(m, &c);

	assert_int_equal(sim_set_msi_interposer(m, record, NULL), 0);
	ind_write(m, SIM_IOAPIC_REG_RTE(1) + 1, 0x03000000u);
	ind_write(m, SIM_IOAPIC_REG_RTE(1), 0x66 | SIM_IOAPIC_RTE_LEVEL | SIM_IOAPIC_RTE_DM_LOGICAL);
	sim_ioapic_set_line(io, 1, true);
	assert_int_equal(seen_rid, 0xF0F9);
	assert_int_equal(seen_addr, 0xFEE03004u);
	assert_int_equal(seen_data, 0x66 | 3u << 14);
	/* Remappable: index 0x8123 (bit 15 in RTE bit 11), vector field = pin. */
	ind_write(m, SIM_IOAPIC_REG_RTE(2) + 1, SIM_IOAPIC_RTE_HI_REMAP |
		  0x0123u << SIM_IOAPIC_RTE_HI_INDEX_SHIFT);
	ind_write(m, SIM_IOAPIC_REG_RTE(2), 2 | SIM_IOAPIC_RTE_LO_INDEX15);
	sim_ioapic_pulse(io, 2);
	assert_int_equal(seen_addr, 0xFEE00000u | 0x0123u << 5 | 1u << 4 | 1u << 2);
	assert_int_equal(seen_data & 0xFF, 2);
	assert_int_equal(sim_set_msi_interposer(m, NULL, NULL), 0);
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers),
		cmocka_unit_test(test_edge),
		cmocka_unit_test(test_level_remote_irr),
		cmocka_unit_test(test_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
