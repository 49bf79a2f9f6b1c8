/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small machine for library tests: the simulated machine, the host port,
 * the interrupt core, the x86 vector domain, every CPU brought up, and a
 * test device whose message slots are served by a per-device domain
 * (optionally behind a pass-through middle level, for 3-level hierarchies).
 *
 * The device domain is a test driver: it programs the simulated test
 * device through MMIO only, like any driver would.
 */
#ifndef IK_TESTBED_H
#define IK_TESTBED_H

#include <irqkit/irq.h>
#include <irqkit/irqdomain.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim.h"

#define TB_DEV_BASE 0xF0000000ull
#define TB_DEV_SLOTS 64

struct testbed {
	struct sim_machine *m;
	struct sim_testdev *dev;
	struct ik_irq_domain *shim;     /* middle level, or NULL */
	struct ik_irq_domain *devdom;   /* the device's domain */
	unsigned int nr_cpus;
	int64_t alloc_baseline;         /* outstanding allocations after setup */
};

struct testbed_opts {
	unsigned int nr_cpus;           /* default 4 */
	const uint32_t *apic_ids;       /* optional, nr_cpus entries */
	uint64_t seed;
	bool threaded;
	bool with_shim;                 /* device -> shim -> vector */
	unsigned int interleave_permille;
	uint64_t ram_size;              /* RAM at physical 0 (default none) */
};

/* Build everything; aborts the test on failure. */
void testbed_init(struct testbed *tb, const struct testbed_opts *opts);
/* Tear down; returns the number of leaked allocations (0 expected). */
int64_t testbed_fini(struct testbed *tb);

/* Allocate @nr interrupts for consecutive device slots starting at @slot. */
int testbed_alloc(struct testbed *tb, unsigned int slot, unsigned int nr,
		  const struct ik_irq_affinity_desc *affinity);

/* Run @fn(@arg) as process context on @cpu. */
void testbed_on_cpu(struct testbed *tb, unsigned int cpu, void (*fn)(void *), void *arg);

/* Take @cpu offline / online the way an OS does (on the CPU itself). */
int testbed_cpu_offline(struct testbed *tb, unsigned int cpu);
int testbed_cpu_online(struct testbed *tb, unsigned int cpu);

/* Sum of the library's spurious-vector counts over all CPUs. */
uint64_t testbed_spurious(struct testbed *tb);

/* Device slot of an interrupt allocated with testbed_alloc(). */
unsigned int testbed_slot_of(struct testbed *tb, unsigned int irq);

#endif /* IK_TESTBED_H */
