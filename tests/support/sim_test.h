/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers for tests that drive the simulated machine directly: machine
 * construction, LAPIC register access by offset, MSI address/data
 * composition (Intel SDM compatibility format) and a recording IDT.
 */
#ifndef IK_TESTS_SIM_TEST_H
#define IK_TESTS_SIM_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/* xAPIC register offsets (Intel SDM Vol. 3A, table 11-1). */
#define T_LAPIC_ID 0x020
#define T_LAPIC_VERSION 0x030
#define T_LAPIC_TPR 0x080
#define T_LAPIC_APR 0x090
#define T_LAPIC_PPR 0x0A0
#define T_LAPIC_EOI 0x0B0
#define T_LAPIC_LDR 0x0D0
#define T_LAPIC_DFR 0x0E0
#define T_LAPIC_SVR 0x0F0
#define T_LAPIC_ISR 0x100
#define T_LAPIC_TMR 0x180
#define T_LAPIC_IRR 0x200
#define T_LAPIC_ESR 0x280
#define T_LAPIC_ICR_LO 0x300
#define T_LAPIC_ICR_HI 0x310

#define T_ICR_SELF (1u << 18)
#define T_ICR_ALL (2u << 18)
#define T_ICR_OTHERS (3u << 18)
#define T_ICR_LOGICAL (1u << 11)
#define T_ICR_LOWEST (1u << 8)
#define T_ICR_NMI (4u << 8)

#define T_ESR_SEND_ILLEGAL (1u << 5)
#define T_ESR_RECV_ILLEGAL (1u << 6)

/* A machine with @nr_cpus CPUs, APIC ID = index unless @apic_ids is given. */
struct sim_machine *sim_test_machine(unsigned int nr_cpus, const uint32_t *apic_ids,
				     uint64_t seed, bool threaded, unsigned int permille);

/* Software-enable every LAPIC (SVR), flat logical model, LDR bit = cpu for cpu < 8. */
void sim_test_enable_lapics(struct sim_machine *m);

uint32_t sim_test_lapic_read(struct sim_machine *m, unsigned int cpu, uint32_t offset);
void sim_test_lapic_write(struct sim_machine *m, unsigned int cpu, uint32_t offset,
			  uint32_t value);
/* Latch a 16-byte stride IRR/ISR/TMR bank into a 256-bit answer. */
bool sim_test_lapic_bank_test(struct sim_machine *m, unsigned int cpu, uint32_t bank,
			      unsigned int vector);

/* Compatibility-format MSI address and data. */
uint64_t sim_test_msi_addr(uint32_t dest, bool logical);
uint32_t sim_test_msi_data(unsigned int vector, bool lowest_priority, bool level);
/* A device write of a message (requester 0x0100). */
void sim_test_msi(struct sim_machine *m, uint32_t dest, bool logical, unsigned int vector);

/* A recording IDT for machines without the host port. */
#define SIM_TEST_LOG_MAX 4096
struct sim_test_idt {
	struct sim_machine *m;
	bool no_eoi;		/* leave vectors in service */
	bool no_log;		/* set for threaded machines */
	uint64_t count[SIM_MAX_CPUS][256];	/* __atomic */
	uint64_t total;				/* __atomic */
	/* Deterministic mode only: (cpu << 16 | 1 << 8 | vector) on entry, bit 8 clear on exit. */
	uint32_t log[SIM_TEST_LOG_MAX];
	unsigned int nr_log;
	void (*hook)(struct sim_test_idt *idt, unsigned int cpu, unsigned int vector);
	void *hook_arg;
};
void sim_test_idt_install(struct sim_machine *m, struct sim_test_idt *idt);
#define SIM_TEST_ENTER(cpu, vector) ((uint32_t)(cpu) << 16 | 1u << 8 | (vector))
#define SIM_TEST_EXIT(cpu, vector) ((uint32_t)(cpu) << 16 | (vector))

#endif /* IK_TESTS_SIM_TEST_H */
