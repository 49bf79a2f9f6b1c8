// SPDX-License-Identifier: BSD-2-Clause
/* The simulated xAPIC: register formats, priorities, EOI order, IPIs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <irqkit/osl.h>

#include "sim_test.h"

static struct sim_test_idt idt;

static struct sim_machine *machine(unsigned int nr_cpus, const uint32_t *ids)
{
	struct sim_machine *m = sim_test_machine(nr_cpus, ids, 1, false, 0);

	assert_non_null(m);
	memset(&idt, 0, sizeof(idt));
	sim_test_idt_install(m, &idt);
	sim_test_enable_lapics(m);
	return m;
}

static void test_id_and_version(void **state)
{
	static const uint32_t ids[] = { 2, 5, 9, 14 };
	struct sim_machine *m = machine(4, ids);

	for (unsigned int cpu = 0; cpu < 4; cpu++) {
		/* The same address reaches the accessing CPU's own LAPIC. */
		assert_int_equal(sim_test_lapic_read(m, cpu, T_LAPIC_ID), ids[cpu] << 24);
		/* Bit 24: EOI-broadcast suppression (directed EOI) supported. */
		assert_int_equal(sim_test_lapic_read(m, cpu, T_LAPIC_VERSION), 0x01050014);
		assert_int_equal(sim_cpu_apic_id(m, cpu), ids[cpu]);
	}
	/* ID and version are read-only here. */
	sim_test_lapic_write(m, 1, T_LAPIC_ID, 0x33u << 24);
	assert_int_equal(sim_test_lapic_read(m, 1, T_LAPIC_ID), 5u << 24);
	/* DFR: only bits 31:28 are writable, the rest read as ones. */
	sim_test_lapic_write(m, 0, T_LAPIC_DFR, 0x0);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_DFR), 0x0FFFFFFF);
	sim_destroy(m);
}

static void test_reset_state_disabled(void **state)
{
	struct sim_machine *m = sim_test_machine(2, NULL, 1, false, 0);

	assert_non_null(m);
	/* Out of reset the APIC is software-disabled with spurious vector 0xFF. */
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_SVR), 0xFF);
	sim_test_msi(m, 0, false, 0x40);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 1);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 0);
	assert_false(sim_lapic_irr_test(m, 0, 0x40));
	/* Enabling one CPU makes it a destination; the other stays deaf. */
	sim_test_lapic_write(m, 0, T_LAPIC_SVR, 0x1FF);
	sim_test_msi(m, 0, false, 0x40);
	sim_test_msi(m, 1, false, 0x40);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_ACCEPTED), 1);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 2);
	assert_true(sim_lapic_irr_test(m, 0, 0x40));
	/* Disabling again: new messages are refused, the pending one is held. */
	sim_test_lapic_write(m, 0, T_LAPIC_SVR, 0xFF);
	sim_test_msi(m, 0, false, 0x41);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 3);
	assert_int_equal(sim_run_until_idle(m), 0);
	assert_true(sim_lapic_irr_test(m, 0, 0x40));
	sim_destroy(m);
}

static void test_tpr_ppr(void **state)
{
	struct sim_machine *m = machine(1, NULL);

	idt.no_eoi = true;
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x31);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_TPR), 0x31);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_PPR), 0x31);
	/* TPR is 8 bits wide. */
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x1231);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_TPR), 0x31);

	sim_test_msi(m, 0, false, 0x52);
	sim_run_until_idle(m);
	assert_true(sim_lapic_isr_test(m, 0, 0x52));
	assert_true(sim_test_lapic_bank_test(m, 0, T_LAPIC_ISR, 0x52));
	/* ISR class 5 above TPR class 3: PPR = ISRV[7:4] << 4. */
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_PPR), 0x50);
	/* TPR class equal to the ISR class: PPR = TPR. */
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x5F);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_PPR), 0x5F);
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x70);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_PPR), 0x70);
	/* PPR is read-only. */
	sim_test_lapic_write(m, 0, T_LAPIC_PPR, 0);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_PPR), 0x70);

	/* TPR above a pending vector's class holds it back. */
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0);
	sim_test_msi(m, 0, false, 0x65);
	sim_run_until_idle(m);
	assert_true(sim_lapic_irr_test(m, 0, 0x65));
	assert_int_equal(sim_cpu_vector_count(m, 0, 0x65), 0);
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x60);	/* same class: still held */
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 0, 0x65), 0);
	sim_test_lapic_write(m, 0, T_LAPIC_TPR, 0x50);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 0, 0x65), 1);
	assert_false(sim_lapic_irr_test(m, 0, 0x65));
	sim_destroy(m);
}

static void test_priority_order_and_eoi(void **state)
{
	struct sim_machine *m = machine(1, NULL);

	idt.no_eoi = true;
	sim_test_msi(m, 0, false, 0x41);
	sim_test_msi(m, 0, false, 0x80);
	sim_test_msi(m, 0, false, 0x85);
	assert_true(sim_test_lapic_bank_test(m, 0, T_LAPIC_IRR, 0x41));
	assert_true(sim_test_lapic_bank_test(m, 0, T_LAPIC_IRR, 0x80));
	sim_run_until_idle(m);
	/* Highest first; 0x80 is the same class as 0x85 in service: held. */
	assert_int_equal(idt.nr_log, 2);
	assert_int_equal(idt.log[0], SIM_TEST_ENTER(0, 0x85));
	assert_true(sim_lapic_isr_test(m, 0, 0x85));
	assert_true(sim_lapic_irr_test(m, 0, 0x80));
	assert_true(sim_lapic_irr_test(m, 0, 0x41));

	/* EOI retires the highest ISR bit, which unblocks the next one. */
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0);
	assert_false(sim_lapic_isr_test(m, 0, 0x85));
	sim_run_until_idle(m);
	assert_int_equal(idt.log[2], SIM_TEST_ENTER(0, 0x80));
	assert_true(sim_lapic_irr_test(m, 0, 0x41));
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0);
	sim_run_until_idle(m);
	assert_int_equal(idt.log[4], SIM_TEST_ENTER(0, 0x41));
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0);
	assert_int_equal(sim_stat(m, SIM_STAT_EOIS), 3);
	assert_int_equal(sim_stat(m, SIM_STAT_INTERRUPTS_TAKEN), 3);
	/* An EOI with nothing in service retires nothing. */
	sim_test_lapic_write(m, 0, T_LAPIC_EOI, 0);
	assert_int_equal(sim_stat(m, SIM_STAT_EOIS), 3);
	sim_destroy(m);
}

/* The handler of 0x40 re-enables interrupts; the higher 0x90 preempts it. */
static void nesting_hook(struct sim_test_idt *t, unsigned int cpu, unsigned int vector)
{
	if (vector != 0x40)
		return;
	sim_test_msi(t->m, 0, false, 0x90);
	sim_test_msi(t->m, 0, false, 0x42);	/* lower than in service: must wait */
	assert_true(ik_os_irqs_disabled());
	ik_os_irq_restore(1);			/* like a handler doing sti */
	assert_true(sim_lapic_isr_test(t->m, 0, 0x40));
	assert_true(sim_lapic_irr_test(t->m, 0, 0x42));
	ik_os_irq_save();
}

static void test_nested_priorities(void **state)
{
	struct sim_machine *m = machine(1, NULL);
	static const uint32_t expect[] = {
		SIM_TEST_ENTER(0, 0x40), SIM_TEST_ENTER(0, 0x90), SIM_TEST_EXIT(0, 0x90),
		SIM_TEST_EXIT(0, 0x40), SIM_TEST_ENTER(0, 0x42), SIM_TEST_EXIT(0, 0x42),
	};

	idt.hook = nesting_hook;
	sim_test_msi(m, 0, false, 0x40);
	sim_run_until_idle(m);
	assert_int_equal(idt.nr_log, IK_ARRAY_SIZE(expect));
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(expect); i++)
		assert_int_equal(idt.log[i], expect[i]);
	assert_int_equal(sim_stat(m, SIM_STAT_EOIS), 3);
	sim_destroy(m);
}

static void send_ipi(struct sim_machine *m, unsigned int from, uint32_t dest, uint32_t lo)
{
	sim_test_lapic_write(m, from, T_LAPIC_ICR_HI, dest << 24);
	sim_test_lapic_write(m, from, T_LAPIC_ICR_LO, lo);
}

static void test_icr_ipis(void **state)
{
	static const uint32_t ids[] = { 3, 7, 1, 12 };
	struct sim_machine *m = machine(4, ids);

	/* Fixed, physical destination: APIC ID 12 is CPU 3. */
	send_ipi(m, 0, 12, 0x61);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ICR_HI), 12u << 24);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ICR_LO) & 0xFF, 0x61);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ICR_LO) & (1u << 12), 0);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 3, 0x61), 1);
	assert_int_equal(sim_cpu_vector_count(m, 0, 0x61), 0);

	/* Self: the destination field is ignored. */
	send_ipi(m, 2, 12, T_ICR_SELF | 0x62);
	sim_run_until_idle(m);
	assert_int_equal(sim_cpu_vector_count(m, 2, 0x62), 1);
	assert_int_equal(sim_cpu_vector_count(m, 3, 0x62), 0);

	/* All excluding self. */
	send_ipi(m, 1, 0, T_ICR_OTHERS | 0x63);
	sim_run_until_idle(m);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_int_equal(sim_cpu_vector_count(m, cpu, 0x63), cpu == 1 ? 0 : 1);

	/* All including self. */
	send_ipi(m, 1, 0, T_ICR_ALL | 0x64);
	sim_run_until_idle(m);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_int_equal(sim_cpu_vector_count(m, cpu, 0x64), 1);

	/* Logical flat: LDR bits 0 and 2 are CPUs 0 and 2. */
	send_ipi(m, 3, 0x05, T_ICR_LOGICAL | 0x65);
	sim_run_until_idle(m);
	for (unsigned int cpu = 0; cpu < 4; cpu++)
		assert_int_equal(sim_cpu_vector_count(m, cpu, 0x65), cpu == 0 || cpu == 2);
	assert_int_equal(sim_stat(m, SIM_STAT_IPIS_SENT), 5);

	/* NMI: counted, never through the IDT. */
	send_ipi(m, 0, 7, T_ICR_NMI);
	assert_int_equal(sim_stat(m, SIM_STAT_NMIS), 1);
	assert_int_equal(sim_run_until_idle(m), 0);
	sim_destroy(m);
}

static void test_ipi_to_disabled_apic(void **state)
{
	struct sim_machine *m = machine(2, NULL);

	sim_test_lapic_write(m, 1, T_LAPIC_SVR, 0xFF);
	send_ipi(m, 0, 1, 0x70);
	sim_run_until_idle(m);
	assert_false(sim_lapic_irr_test(m, 1, 0x70));
	assert_int_equal(sim_cpu_vector_count(m, 1, 0x70), 0);
	/* And messages: counted as "no destination", not dropped silently. */
	sim_test_msi(m, 1, false, 0x70);
	assert_int_equal(sim_stat(m, SIM_STAT_MSI_NO_DEST), 1);
	sim_destroy(m);
}

static void test_esr_illegal_vector(void **state)
{
	struct sim_machine *m = machine(2, NULL);

	send_ipi(m, 0, 1, 0x05);
	/* SDM: ESR shows errors only after a write latches them. */
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ESR), 0);
	sim_test_lapic_write(m, 0, T_LAPIC_ESR, 0);
	sim_test_lapic_write(m, 1, T_LAPIC_ESR, 0);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ESR), T_ESR_SEND_ILLEGAL);
	assert_int_equal(sim_test_lapic_read(m, 1, T_LAPIC_ESR), T_ESR_RECV_ILLEGAL);
	assert_false(sim_lapic_irr_test(m, 1, 0x05));
	/* The next write clears it again. */
	sim_test_lapic_write(m, 0, T_LAPIC_ESR, 0);
	assert_int_equal(sim_test_lapic_read(m, 0, T_LAPIC_ESR), 0);
	sim_destroy(m);
}

static void test_level_triggered_eoi(void **state)
{
	struct sim_machine *m = machine(1, NULL);

	sim_dma_write32(m, 0x100, sim_test_msi_addr(0, false), sim_test_msi_data(0x55, false, true));
	assert_true(sim_lapic_tmr_test(m, 0, 0x55));
	assert_true(sim_test_lapic_bank_test(m, 0, T_LAPIC_TMR, 0x55));
	sim_run_until_idle(m);
	assert_int_equal(sim_stat(m, SIM_STAT_LEVEL_EOIS), 1);
	/* An edge message on the same vector clears the TMR bit. */
	sim_test_msi(m, 0, false, 0x55);
	assert_false(sim_lapic_tmr_test(m, 0, 0x55));
	sim_run_until_idle(m);
	assert_int_equal(sim_stat(m, SIM_STAT_LEVEL_EOIS), 1);
	assert_int_equal(sim_stat(m, SIM_STAT_EOIS), 2);
	sim_destroy(m);
}

static void test_no_idt(void **state)
{
	struct sim_machine *m = sim_test_machine(1, NULL, 1, false, 0);

	sim_test_enable_lapics(m);
	sim_test_msi(m, 0, false, 0x30);
	sim_test_msi(m, 0, false, 0x31);
	sim_run_until_idle(m);
	/* No OS: counted and retired so the CPU is not blocked forever. */
	assert_int_equal(sim_stat(m, SIM_STAT_NO_IDT), 2);
	assert_false(sim_lapic_isr_test(m, 0, 0x30));
	sim_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_and_version),
		cmocka_unit_test(test_reset_state_disabled),
		cmocka_unit_test(test_tpr_ppr),
		cmocka_unit_test(test_priority_order_and_eoi),
		cmocka_unit_test(test_nested_priorities),
		cmocka_unit_test(test_icr_ipis),
		cmocka_unit_test(test_ipi_to_disabled_apic),
		cmocka_unit_test(test_esr_illegal_vector),
		cmocka_unit_test(test_level_triggered_eoi),
		cmocka_unit_test(test_no_idt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
