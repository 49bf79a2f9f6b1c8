// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt messages: MSI writes decoded per the Intel SDM compatibility
 * format (Vol. 3A, 11.11) and IPIs sent through the ICR.  Both resolve a
 * destination to a set of local APICs and latch a vector into their IRRs.
 *
 * Every MSI ends in exactly one of SIM_STAT_MSI_ACCEPTED, _NO_DEST,
 * _ILLEGAL_VECTOR or _BAD_FORMAT; _COALESCED additionally marks accepted
 * messages that merged with a vector already pending in an IRR.
 */
#include "sim_internal.h"

typedef uint64_t cpu_set64_t;

static cpu_set64_t all_cpus(const struct sim_machine *m)
{
	return m->nr_cpus == 64 ? ~0ull : (1ull << m->nr_cpus) - 1;
}

static cpu_set64_t physical_dest(const struct sim_machine *m, uint32_t dest)
{
	if (dest == 0xFF)
		return all_cpus(m);
	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		if (sim_cpu_apic_id(m, cpu) == dest)
			return 1ull << cpu;
	return 0;
}

static cpu_set64_t logical_dest(struct sim_machine *m, uint32_t dest)
{
	cpu_set64_t set = 0;

	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		if (sim_lapic_logical_match(m, cpu, dest))
			set |= 1ull << cpu;
	return set;
}

/* CPUs that can accept a fixed interrupt: online and APIC software-enabled. */
static cpu_set64_t accepting(struct sim_machine *m, cpu_set64_t set)
{
	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		if ((set >> cpu & 1) &&
		    (!sim_cpu_is_online(m, cpu) || !sim_lapic_sw_enabled(m, cpu)))
			set &= ~(1ull << cpu);
	return set;
}

/* Lowest-priority arbitration: lowest PPR wins, the lowest CPU index on ties. */
static cpu_set64_t lowest_priority(struct sim_machine *m, cpu_set64_t set)
{
	unsigned int best = 0;
	uint32_t best_ppr = UINT32_MAX;

	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
		uint32_t ppr;

		if (!(set >> cpu & 1))
			continue;
		ppr = sim_lapic_ppr(m, cpu);
		if (ppr < best_ppr) {
			best_ppr = ppr;
			best = cpu;
		}
	}
	return set ? 1ull << best : 0;
}

/* Returns true if the vector merged with a pending one on any target. */
static bool latch(struct sim_machine *m, cpu_set64_t set, unsigned int vector, bool level)
{
	bool merged = false;

	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		if (set >> cpu & 1)
			merged |= sim_lapic_accept(m, cpu, vector, level);
	return merged;
}

static void flag_error(struct sim_machine *m, cpu_set64_t set, uint32_t esr_bits)
{
	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		if (set >> cpu & 1)
			sim_lapic_flag_error(m, cpu, esr_bits);
}

void sim_msi_deliver(struct sim_machine *m, uint64_t addr, uint32_t data)
{
	uint32_t dest = (uint32_t)(addr >> MSI_ADDR_DEST_SHIFT) & 0xFF;
	unsigned int vector = data & 0xFF;
	unsigned int mode = (data >> MSI_DATA_MODE_SHIFT) & 7;
	bool level = data & MSI_DATA_LEVEL_TRIGGER;
	cpu_set64_t set;

	/* Remappable format needs an IOMMU; SMI/NMI/INIT/ExtINT are not modelled. */
	if ((addr & MSI_ADDR_REMAPPABLE) || (mode != APIC_DM_FIXED && mode != APIC_DM_LOWEST)) {
		sim_stat_inc(m, SIM_STAT_MSI_BAD_FORMAT);
		return;
	}
	set = (addr & MSI_ADDR_LOGICAL) ? logical_dest(m, dest) : physical_dest(m, dest);
	set = accepting(m, set);
	if (!set) {
		sim_stat_inc(m, SIM_STAT_MSI_NO_DEST);
		return;
	}
	/* The receivers flag the illegal vector, so it is checked after routing. */
	if (vector < SIM_FIRST_LEGAL_VECTOR) {
		flag_error(m, set, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
		sim_stat_inc(m, SIM_STAT_MSI_ILLEGAL_VECTOR);
		return;
	}
	if (mode == APIC_DM_LOWEST)
		set = lowest_priority(m, set);
	if (latch(m, set, vector, level))
		sim_stat_inc(m, SIM_STAT_MSI_COALESCED);
	sim_stat_inc(m, SIM_STAT_MSI_ACCEPTED);
	sim_trace(m, SIM_TRACE_MSI, (unsigned int)__builtin_ctzll(set), vector, addr);
}

void sim_ipi_send(struct sim_machine *m, unsigned int from, uint32_t icr_lo, uint32_t icr_hi)
{
	unsigned int vector = icr_lo & LAPIC_ICR_VECTOR_MASK;
	unsigned int mode = (icr_lo >> LAPIC_ICR_MODE_SHIFT) & 7;
	unsigned int shorthand = (icr_lo >> LAPIC_ICR_SHORTHAND_SHIFT) & 3;
	uint32_t dest = icr_hi >> 24;
	cpu_set64_t set;

	sim_stat_inc(m, SIM_STAT_IPIS_SENT);
	sim_trace(m, SIM_TRACE_IPI, from, vector, (uint64_t)icr_hi << 32 | icr_lo);
	switch (shorthand) {
	case APIC_SHORTHAND_SELF:
		set = 1ull << from;
		break;
	case APIC_SHORTHAND_ALL:
		set = all_cpus(m);
		break;
	case APIC_SHORTHAND_OTHERS:
		set = all_cpus(m) & ~(1ull << from);
		break;
	default:
		set = (icr_lo & LAPIC_ICR_LOGICAL) ? logical_dest(m, dest) : physical_dest(m, dest);
		break;
	}
	set = accepting(m, set);

	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (vector < SIM_FIRST_LEGAL_VECTOR) {
			sim_lapic_flag_error(m, from, LAPIC_ESR_SEND_ILLEGAL_VECTOR);
			flag_error(m, set, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
			return;
		}
		if (mode == APIC_DM_LOWEST && shorthand == APIC_SHORTHAND_NONE)
			set = lowest_priority(m, set);
		latch(m, set, vector, false);
		break;
	case APIC_DM_NMI:
		for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
			if (set >> cpu & 1) {
				struct sim_lapic *l = &m->cpus[cpu].lapic;

				pthread_mutex_lock(&l->lock);
				l->nmis++;
				pthread_mutex_unlock(&l->lock);
				sim_stat_inc(m, SIM_STAT_NMIS);
			}
		}
		break;
	default:
		break;		/* SMI, INIT, STARTUP: CPUs are always running here */
	}
}
