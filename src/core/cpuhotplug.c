// SPDX-License-Identifier: BSD-2-Clause
/* Generic parts of CPU hotplug for interrupts: managed shutdown and restart. */
#include "internals.h"

ik_irqflags_t ik_irq_desc_lock(struct ik_irq_desc *desc)
{
	return ik_os_spin_lock_irqsave(&desc->lock);
}

void ik_irq_desc_unlock(struct ik_irq_desc *desc, ik_irqflags_t flags)
{
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
}

bool ik_irq_desc_has_action(const struct ik_irq_desc *desc)
{
	return desc->action != NULL;
}

void ik_irq_shutdown_managed(struct ik_irq_desc *desc)
{
	struct ik_irq_data *d = &desc->irq_data;
	unsigned int depth = desc->depth;

	ik_lockdep_assert_held(&desc->lock);
	ik_irq_shutdown(desc);
	ik_irq_domain_deactivate_irq(d);
	ik_irqd_set(d, IK_IRQD_MANAGED_SHUTDOWN);
	/*
	 * Remember a driver's disables across the shutdown: depth is 1 while
	 * shut down, plus the driver's whole nesting (ik_irq_shutdown() set
	 * it to 1; restart takes the 1 away again).
	 */
	desc->depth = 1 + depth;
}

static int restart_managed(unsigned int irq, void *arg)
{
	unsigned int cpu = *(unsigned int *)arg;
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	struct ik_irq_data *d;
	ik_irqflags_t flags;

	if (!desc)
		return 0;
	d = &desc->irq_data;
	ik_chip_bus_lock(desc);
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	if (ik_irqd_test(d, IK_IRQD_AFFINITY_MANAGED) &&
	    ik_irqd_test(d, IK_IRQD_MANAGED_SHUTDOWN) && desc->action &&
	    ik_cpumask_test_cpu(cpu, &desc->common.affinity)) {
		if (desc->depth > 1) {
			/* The driver disabled it: start it on its enable. */
			desc->depth--;
			ik_irqd_clear(d, IK_IRQD_MANAGED_SHUTDOWN);
		} else {
			ik_irq_startup(desc, true);
		}
	}
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_chip_bus_sync_unlock(desc);
	return 0;
}

void ik_irq_affinity_online_cpu(unsigned int cpu)
{
	ik_irq_for_each(restart_managed, &cpu);
}
