// SPDX-License-Identifier: BSD-2-Clause
/*
 * Directed vs broadcast EOI (SDM 11.8.5; 82093AA / I/O APIC 0x20 EOI
 * register), in the simulator and as the library uses it:
 *
 *  - the simulated LAPIC reports EOI-broadcast suppression (version bit
 *    24); with SVR bit 12 clear, an EOI that retires a level-triggered
 *    vector (TMR set) is broadcast to every I/O APIC, which clears Remote
 *    IRR of every level entry with that vector -- whatever CPU it targets,
 *    as on the hardware; an edge vector's EOI is not broadcast; with SVR
 *    bit 12 set nothing is broadcast and only the I/O APIC's EOI register
 *    (directed EOI) clears Remote IRR;
 *  - the library turns suppression on at CPU bring-up (it EOIs level
 *    entries at the I/O APIC, which remapping needs anyway), so a level
 *    line asserted across three handler runs gets exactly one Remote IRR
 *    clear per message: with a broadcast on top, the broadcast would clear
 *    Remote IRR, the entry (still asserted) would send again, and the
 *    directed EOI would clear the Remote IRR of that new message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <irqkit/x86_ioapic.h>

#include "sim_ioapic.h"
#include "sim_test.h"
#include "testbed.h"

#define IOAPIC1_BASE (SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_SIZE)
#define SVR_SUPPRESS (1u << 12)

static struct sim_test_idt idt;

static void rte_write(struct sim_machine *m, uint64_t base, unsigned int pin, uint32_t lo,
		      uint32_t hi)
{
	sim_cpu_write(m, 0, base + SIM_IOAPIC_IOREGSEL, SIM_IOAPIC_REG_RTE(pin) + 1, 4);
	sim_cpu_write(m, 0, base + SIM_IOAPIC_IOWIN, hi, 4);
	sim_cpu_write(m, 0, base + SIM_IOAPIC_IOREGSEL, SIM_IOAPIC_REG_RTE(pin), 4);
	sim_cpu_write(m, 0, base + SIM_IOAPIC_IOWIN, lo, 4);
}

static bool remote_irr(struct sim_ioapic *io, unsigned int pin)
{
	return sim_ioapic_rte(io, pin) & SIM_IOAPIC_RTE_REMOTE_IRR;
}

static uint64_t eois(struct sim_ioapic *io, unsigned int pin)
{
	struct sim_ioapic_pin_stats st;

	sim_ioapic_pin_stats(io, pin, &st);
	return st.eois;
}

/*
 * Two I/O APICs; level pins with the same vector 0x51 on both (one to CPU
 * 0, one to CPU 1), an edge pin with vector 0x45.  Vectors stay in service
 * (the test EOIs by hand).  Catches: no broadcast at all, a broadcast for
 * edge vectors, a broadcast that ignores SVR bit 12, one that reaches only
 * the first I/O APIC or only entries targeting the EOIing CPU, the
 * capability bit missing.
 */
static void test_sim_broadcast_and_directed(void **state)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 1, false, 0);
	struct sim_ioapic_config c1 = { .base = IOAPIC1_BASE, .id = 1 };
	struct sim_ioapic *io0, *io1;

	(void)state;
	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	idt.no_eoi = true;
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	io0 = sim_ioapic_create(m, NULL);
	io1 = sim_ioapic_create(m, &c1);
	assert_non_null(io0);
	assert_non_null(io1);
	assert_true(sim_test_lapic_read(m, 0, T_LAPIC_VERSION) & 1u << 24);
	assert_false(sim_test_lapic_read(m, 0, T_LAPIC_SVR) & SVR_SUPPRESS);

	rte_write(m, SIM_IOAPIC_DEFAULT_BASE, 6, 0x51 | SIM_IOAPIC_RTE_LEVEL,
		  sim_cpu_apic_id(m, 0) << 24);
	rte_write(m, SIM_IOAPIC_DEFAULT_BASE, 3, 0x45, sim_cpu_apic_id(m, 0) << 24);
	rte_write(m, IOAPIC1_BASE, 2, 0x51 | SIM_IOAPIC_RTE_LEVEL, sim_cpu_apic_id(m, 1) << 24);
	sim_ioapic_set_line(io0, 6, true);
	sim_ioapic_set_line(io1, 2, true);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 1);
	assert_int_equal(idt.count[1][0x51], 1);
	assert_true(remote_irr(io0, 6));
	assert_true(remote_irr(io1, 2));

	/* An edge vector's EOI is not broadcast. */
	sim_ioapic_pulse(io0, 3);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x45], 0);   /* 0x45 is below 0x51 in service: waits */
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0); /* retires 0x51 (level): broadcast */
	sim_run_until_idle(m);
	/*
	 * The broadcast reached both I/O APICs: pin 6 (still asserted) sent
	 * again -- now 0x51 is in service again on CPU 0 -- and the other
	 * I/O APIC's pin 2, targeting CPU 1, lost its Remote IRR too and sent
	 * again to CPU 1 (the hardware's vector-only match), where it waits in
	 * the IRR behind the 0x51 still in service.
	 */
	assert_int_equal(eois(io0, 6), 1);
	assert_int_equal(eois(io1, 2), 1);
	assert_int_equal(idt.count[0][0x51], 2);
	assert_int_equal(idt.count[1][0x51], 1);
	assert_true(sim_test_lapic_read(m, 1, T_LAPIC_IRR + 0x10 * (0x51 / 32)) &
		    1u << (0x51 % 32));
	assert_true(remote_irr(io0, 6));
	assert_true(remote_irr(io1, 2));
	sim_ioapic_set_line(io0, 6, false);
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0); /* 0x51 again: broadcast, no resend */
	sim_run_until_idle(m);
	assert_int_equal(eois(io0, 6), 2);
	assert_int_equal(eois(io1, 2), 2);
	assert_false(remote_irr(io0, 6));
	assert_int_equal(idt.count[0][0x51], 2);
	assert_int_equal(idt.count[0][0x45], 1);   /* the edge got its turn */
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0); /* the edge's: no broadcast */
	sim_run_until_idle(m);
	assert_int_equal(eois(io0, 6), 2);
	assert_int_equal(eois(io1, 2), 2);

	/* Suppressed on CPU 0: a level EOI there clears nothing; the EOI register does. */
	sim_test_lapic_write(m, 0, T_LAPIC_SVR, 0x1FF | SVR_SUPPRESS);
	assert_true(sim_test_lapic_read(m, 0, T_LAPIC_SVR) & SVR_SUPPRESS);
	sim_ioapic_set_line(io0, 6, true);
	sim_run_until_idle(m);
	assert_int_equal(idt.count[0][0x51], 3);
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0); /* retires 0x51: not broadcast */
	sim_run_until_idle(m);
	assert_int_equal(eois(io0, 6), 2);
	assert_int_equal(eois(io1, 2), 2);
	assert_true(remote_irr(io0, 6));
	assert_int_equal(idt.count[0][0x51], 3);
	sim_ioapic_set_line(io0, 6, false);
	sim_cpu_write(m, 0, SIM_IOAPIC_DEFAULT_BASE + SIM_IOAPIC_EOI, 0x51, 4);
	sim_run_until_idle(m);
	assert_false(remote_irr(io0, 6));
	assert_int_equal(eois(io0, 6), 3);
	/* The directed EOI went to one I/O APIC: the other one keeps its Remote IRR. */
	assert_true(remote_irr(io1, 2));
	assert_int_equal(eois(io1, 2), 2);
	sim_destroy(m);
}

/* ---- The library ------------------------------------------------------------------ */

struct lvl {
	struct sim_ioapic *sio;
	unsigned int pin;
	unsigned int runs, deassert_at;
};

static ik_irqreturn_t lvl_handler(unsigned int irq, void *dev_id)
{
	struct lvl *l = dev_id;

	(void)irq;
	if (++l->runs == l->deassert_at)
		sim_ioapic_set_line(l->sio, l->pin, false);
	return IK_IRQ_HANDLED;
}

/*
 * Every CPU the library brings up has EOI-broadcast suppression on; a
 * level line held for three handler runs is delivered three times with one
 * Remote IRR clear per message (sent == eois == runs, nothing coalesced).
 * Catches: suppression not enabled (a broadcast plus the directed EOI clear
 * Remote IRR twice per run: extra messages, sent > runs).
 */
static void test_library_directed_eoi(void **state)
{
	struct testbed_opts o = { .nr_cpus = 4, .seed = 3 };
	struct ik_x86_ioapic_config c = { .requester_id = SIM_IOAPIC_DEFAULT_RID };
	struct sim_ioapic_pin_stats st;
	struct ik_x86_ioapic *io;
	struct sim_ioapic *sio;
	struct testbed tb;
	struct lvl l = { .pin = 9, .deassert_at = 3 };
	int irq;

	(void)state;
	testbed_init(&tb, &o);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_true(sim_test_lapic_read(tb.m, cpu, T_LAPIC_SVR) & SVR_SUPPRESS);
	sio = sim_ioapic_create(tb.m, NULL);
	assert_non_null(sio);
	l.sio = sio;
	assert_int_equal(ik_x86_ioapic_create(&c, &io), 0);
	irq = ik_x86_ioapic_alloc_irq(io, l.pin, IK_IRQ_TYPE_LEVEL_HIGH, false);
	assert_true(irq > 0);
	assert_int_equal(ik_request_irq((unsigned int)irq, lvl_handler, 0, "lvl", &l), 0);
	sim_ioapic_set_line(sio, l.pin, true);
	sim_run_until_idle(tb.m);
	assert_int_equal(l.runs, 3);
	sim_ioapic_pin_stats(sio, l.pin, &st);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.eois, 3);
	assert_int_equal(st.coalesced, 0);
	assert_false(sim_ioapic_rte(sio, l.pin) & SIM_IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(ik_free_irq((unsigned int)irq, &l), 0);
	assert_int_equal(ik_x86_ioapic_free_irq(io, l.pin), 0);
	assert_int_equal(ik_x86_ioapic_destroy(io), 0);
	assert_int_equal(testbed_fini(&tb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_broadcast_and_directed),
		cmocka_unit_test(test_library_directed_eoi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
