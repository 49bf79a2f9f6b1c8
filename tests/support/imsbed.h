/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Support for the IMS, IDXD and NTB tests: a loss oracle for interrupt
 * lines driven by a device, random affinity moves, and running library
 * calls as process context on a chosen CPU.
 *
 * The oracle: a line fires again only once its previous fire was seen by a
 * handler run that started after it, so every fire sends one message that
 * cannot coalesce with another, and a lost interrupt stalls its line for
 * good (detected at the end as fired != seen).
 */
#ifndef IK_IMSBED_H
#define IK_IMSBED_H

#include <irqkit/irq.h>
#include <irqkit/irqchip.h>
#include <irqkit/msi.h>
#include <irqkit/x86.h>

#include "sim.h"

struct ib_line {
	struct sim_machine *m;
	unsigned int irq;
	/* The device: fire once, and how many fires it has seen requested. */
	void (*fire)(void *ctx);
	uint64_t (*fired)(void *ctx);
	void *ctx;
	/* Handler bookkeeping. */
	uint64_t runs;
	uint64_t seen;                  /* fired() at the start of the last run */
	unsigned int last_cpu;
	uint64_t per_cpu[SIM_MAX_CPUS];
	/* Chain state. */
	unsigned int left;
	unsigned int patience;
	bool stalled;
};

/* The handler to request: counts, records the CPU and what the device had fired. */
ik_irqreturn_t ib_handler(unsigned int irq, void *dev_id);

/* ik_request_irq(l->irq, ib_handler, 0, name, l) as process context on @cpu. */
int ib_request_on(struct sim_machine *m, unsigned int cpu, struct ib_line *l);
/* ik_free_irq(l->irq, l) on @cpu. */
int ib_free_on(struct sim_machine *m, unsigned int cpu, struct ib_line *l);
/* ik_irq_set_affinity() on @cpu. */
int ib_set_affinity_on(struct sim_machine *m, unsigned int cpu, unsigned int irq,
		       const ik_cpumask_t *mask);
/* ik_disable_irq() / ik_enable_irq() on @cpu. */
int ib_disable_on(struct sim_machine *m, unsigned int cpu, unsigned int irq);
int ib_enable_on(struct sim_machine *m, unsigned int cpu, unsigned int irq);

/* Start a chain of @n fires on @l (first one after @delay ticks). */
void ib_chain_start(struct ib_line *l, unsigned int n, uint64_t delay);
/* True if every fire of the chain was seen (fired == seen and none left). */
bool ib_chain_done(const struct ib_line *l);

/* A random non-empty mask of the machine's CPUs. */
void ib_random_mask(struct sim_machine *m, ik_cpumask_t *mask);
/* A mask of one CPU. */
void ib_cpu_mask(ik_cpumask_t *mask, unsigned int cpu);

/* Introspection: collect what ik_msi_device_for_each_irq() reports. */
#define IB_MAX_INFO 64
struct ib_irq_list {
	unsigned int n;
	struct ik_msi_irq_info info[IB_MAX_INFO];
	char domain[IB_MAX_INFO][96];
};
int ib_list_irqs(struct ik_device *dev, struct ib_irq_list *out);
/* The entry for @irq, or NULL. */
const struct ik_msi_irq_info *ib_find_irq(const struct ib_irq_list *list, unsigned int irq);

/*
 * A remapping-like MSI parent over the vector domain (prefix "FIR-"): its
 * affinity callback answers IK_IRQ_SET_MASK_OK_DONE, so device stores above
 * it must never be rewritten by a move.  It remaps nothing.  Remove it with
 * ik_irq_domain_remove() after the devices.
 */
struct ik_irq_domain *ib_remap_parent_create(void);

/* IK_TEST_SEED=n runs only seed n. */
bool ib_seed_selected(uint64_t seed);

#endif /* IK_IMSBED_H */
