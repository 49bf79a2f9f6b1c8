/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Driver for the simulator's test device: a bus-master with message slots
 * in an MMIO window, 16 bytes per slot:
 *   +0x0 ADDR_LO  +0x4 ADDR_HI  +0x8 DATA  +0xC CTRL (bit 0 mask)
 * The device does not latch a slot atomically, so the driver masks a slot
 * while rewriting it; a fire while masked is kept pending by the device.
 * Each device gets its own domain (a per-device domain in the sense of the
 * MSI design) whose parent is the platform's MSI parent.
 */
#ifndef IRQKIT_DRIVERS_TESTDEV_H
#define IRQKIT_DRIVERS_TESTDEV_H

#include <irqkit/irqdomain.h>

/**
 * ik_testdev_domain_create - create the per-device domain of a test device
 * @parent:   the MSI parent (the vector domain, or a level above it)
 * @mmio:     physical base of the slot window
 * @nr_slots: number of slots (hwirq range)
 * @name:     domain name (not copied)
 *
 * Context: sleepable.  Return: the domain or NULL (bad arguments, no memory).
 */
struct ik_irq_domain *ik_testdev_domain_create(struct ik_irq_domain *parent, uint64_t mmio,
					       unsigned int nr_slots, const char *name);

/**
 * ik_testdev_domain_remove - remove a domain created above
 * Return: 0, -IK_EBUSY (interrupts still allocated).
 */
int ik_testdev_domain_remove(struct ik_irq_domain *domain);

/**
 * ik_testdev_alloc_irqs - allocate interrupts for slots [slot, slot + nr)
 * Return: the first interrupt number; -IK_ERANGE (slots beyond the
 * device); -IK_EEXIST (a slot already has an interrupt); errors of
 * ik_irq_domain_alloc_irqs().
 */
int ik_testdev_alloc_irqs(struct ik_irq_domain *domain, unsigned int slot, unsigned int nr,
			  const struct ik_irq_affinity_desc *affinity);

#endif /* IRQKIT_DRIVERS_TESTDEV_H */
