/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Provider-facing interrupt domains.
 *
 * A domain translates its own hardware numbers (hwirq) into interrupts.
 * Domains form a hierarchy; an interrupt allocated in a domain gets one
 * ik_irq_data per level from that domain down to the root.  Allocation
 * (sleepable, reversible) reserves resources; activation (atomic) programs
 * hardware, root first; deactivation runs outermost first.
 */
#ifndef IRQKIT_IRQDOMAIN_H
#define IRQKIT_IRQDOMAIN_H

#include <irqkit/irqchip.h>

struct ik_irq_domain;

/* Affinity of one interrupt of an allocation. */
struct ik_irq_affinity_desc {
	ik_cpumask_t mask;
	bool is_managed;
};

struct ik_irq_domain_ops {
	/*
	 * Allocate this level for [virq, virq + nr_irqs).  Usually calls
	 * ik_irq_domain_alloc_irqs_parent() first, then sets its own level.
	 * Sleepable; the hierarchy's mutex is held.  On failure the level must
	 * undo everything it did, including a successful parent allocation.
	 */
	int (*alloc)(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr_irqs,
		     void *arg);
	/* Release this level, then call ik_irq_domain_free_irqs_parent(). */
	void (*free)(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr_irqs);
	/* Program the hardware of this level (atomic, descriptor lock held). */
	int (*activate)(struct ik_irq_domain *domain, struct ik_irq_data *data, bool reserve);
	void (*deactivate)(struct ik_irq_domain *domain, struct ik_irq_data *data);
	/* Translate a firmware specifier (@param[0..count)) to hwirq and type. */
	int (*translate)(struct ik_irq_domain *domain, const uint32_t *param,
			 unsigned int count, uint64_t *hwirq, unsigned int *type);
};

#define IK_IRQ_DOMAIN_FLAG_MSI_PARENT IK_BIT(0) /* parent of per-device MSI domains */
#define IK_IRQ_DOMAIN_FLAG_MSI_DEVICE IK_BIT(1) /* a per-device MSI domain */
#define IK_IRQ_DOMAIN_FLAG_MSI_REMAP  IK_BIT(2) /* isolates MSIs (remapping) */
/*
 * Not a per-device MSI domain, but passes a struct ik_msi_alloc_info (with
 * .dev naming the requester whose source id applies) to its parent's alloc:
 * lets a message-sending interrupt controller (the IO-APIC) sit below an
 * MSI parent such as interrupt remapping.
 */
#define IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO IK_BIT(3)

/**
 * ik_irq_domain_create_hierarchy - create a domain
 * @parent:    parent domain, NULL for a root
 * @flags:     IK_IRQ_DOMAIN_FLAG_*
 * @hwirq_max: exclusive upper bound for hwirq numbers (0 = no bound)
 * @name:      for views (not copied; must outlive the domain)
 * @ops:       domain operations (alloc is required)
 * @host_data: provider private data
 *
 * Context: sleepable.
 * Return: the domain, or NULL (bad arguments: -IK_EINVAL; no memory).
 */
struct ik_irq_domain *ik_irq_domain_create_hierarchy(struct ik_irq_domain *parent,
						     uint32_t flags, uint64_t hwirq_max,
						     const char *name,
						     const struct ik_irq_domain_ops *ops,
						     void *host_data);

/**
 * ik_irq_domain_remove - remove a domain without interrupts or children
 * Context: sleepable.  Return: 0, -IK_EBUSY (still mapped or has children).
 */
int ik_irq_domain_remove(struct ik_irq_domain *domain);

/* Accessors. */
void *ik_irq_domain_host_data(const struct ik_irq_domain *domain);
struct ik_irq_domain *ik_irq_domain_parent(const struct ik_irq_domain *domain);
const char *ik_irq_domain_name(const struct ik_irq_domain *domain);
uint32_t ik_irq_domain_flags(const struct ik_irq_domain *domain);
unsigned int ik_irq_domain_mapcount(const struct ik_irq_domain *domain);

/**
 * ik_irq_domain_alloc_irqs - allocate interrupts in a hierarchy
 * @domain:   the outermost domain
 * @nr_irqs:  number of consecutive interrupt numbers
 * @affinity: NULL, or one entry per interrupt
 * @arg:      passed to every level's alloc
 *
 * Allocates descriptors, builds the per-level chain, calls the levels'
 * alloc (outermost first, recursing to the root) and inserts the reverse
 * maps.  Any failure unwinds every level and every descriptor.
 *
 * Context: sleepable.
 * Return: the first interrupt number; -IK_EINVAL; -IK_ENOMEM; -IK_ENOSPC
 * (numbers or level resources exhausted); a level's error.
 */
int ik_irq_domain_alloc_irqs(struct ik_irq_domain *domain, unsigned int nr_irqs,
			     const struct ik_irq_affinity_desc *affinity, void *arg);

/**
 * ik_irq_domain_free_irqs - free interrupts allocated together
 * Handlers must have been freed.  After deactivation it waits until every
 * running CPU has taken a cross-CPU call (ik_os_cpu_call), so that no CPU
 * that looked one of them up just before is still on its way to the flow
 * handler when the levels and descriptors go.  Context: sleepable (local
 * interrupts enabled).
 * Return: 0; -IK_ENOENT (not allocated); -IK_EBUSY (a handler is installed).
 */
int ik_irq_domain_free_irqs(unsigned int virq, unsigned int nr_irqs);

/* For a level's alloc/free: run the parent's. */
int ik_irq_domain_alloc_irqs_parent(struct ik_irq_domain *domain, unsigned int virq,
				    unsigned int nr_irqs, void *arg);
void ik_irq_domain_free_irqs_parent(struct ik_irq_domain *domain, unsigned int virq,
				    unsigned int nr_irqs);

/**
 * ik_irq_domain_get_irq_data - the level of @virq that belongs to @domain
 * Return: it, or NULL.
 */
struct ik_irq_data *ik_irq_domain_get_irq_data(struct ik_irq_domain *domain, unsigned int virq);

/**
 * ik_irq_domain_set_hwirq_and_chip - fill this domain's level of @virq
 * Return: 0, -IK_EINVAL (no level for this domain).
 */
int ik_irq_domain_set_hwirq_and_chip(struct ik_irq_domain *domain, unsigned int virq,
				     uint64_t hwirq, const struct ik_irq_chip *chip,
				     void *chip_data);

/**
 * ik_irq_domain_set_info - ik_irq_domain_set_hwirq_and_chip() plus the flow
 * handler and handler data of the interrupt.
 */
int ik_irq_domain_set_info(struct ik_irq_domain *domain, unsigned int virq, uint64_t hwirq,
			   const struct ik_irq_chip *chip, void *chip_data,
			   ik_irq_flow_handler_t handler, void *handler_data);

/**
 * ik_irq_domain_reset_irq_data - clear one level (chip, chip_data, hwirq)
 */
void ik_irq_domain_reset_irq_data(struct ik_irq_data *data);

/**
 * ik_irq_domain_find_mapping - interrupt number of @hwirq in @domain
 * Return: the irq, or -IK_ENOENT.
 */
int ik_irq_domain_find_mapping(struct ik_irq_domain *domain, uint64_t hwirq);

/**
 * ik_irq_domain_activate_irq - activate every level, root first
 * Idempotent: an activated interrupt is left alone.  If a level fails, the
 * levels already activated are deactivated again.
 * Context: atomic, descriptor lock held.  Return: 0 or the level's error.
 */
int ik_irq_domain_activate_irq(struct ik_irq_data *data, bool reserve);
/** ik_irq_domain_deactivate_irq - deactivate every level, outermost first. */
void ik_irq_domain_deactivate_irq(struct ik_irq_data *data);

/**
 * ik_irq_domain_for_each - walk all domains (creation order)
 * Stops when @fn returns non-zero and returns that.
 */
int ik_irq_domain_for_each(int (*fn)(struct ik_irq_domain *domain, void *arg), void *arg);

#endif /* IRQKIT_IRQDOMAIN_H */
