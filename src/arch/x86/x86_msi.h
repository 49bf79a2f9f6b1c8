/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Between the vector domain (vector.c) and the x86-msi protocol
 * (x86_msi.c).  Not a public interface.
 */
#ifndef IK_X86_MSI_INTERNAL_H
#define IK_X86_MSI_INTERNAL_H

#include <irqkit/msi.h>
#include <irqkit/x86.h>

/*
 * The vector domain's init_dev_msi_info: the generic parent behaviour plus,
 * for a device domain whose real parent is the vector domain itself, the
 * affinity callback of the x86-msi protocol (see x86_msi.c).
 */
int x86_msi_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
			      struct ik_irq_domain *real_parent, struct ik_msi_domain_info *info);

/*
 * Current (CPU, vector) of @vd, an interrupt's vector-domain level.
 * Takes vector_lock; call with the descriptor lock held for a stable answer.
 */
void x86_vector_get_target(const struct ik_irq_data *vd, unsigned int *cpu, unsigned int *vector);

/*
 * Slot (@cpu, @vector) is about to receive, possibly, one stray message
 * meant for an interrupt that is moving: if no interrupt owns it, mark it
 * so that the stray is absorbed silently instead of being reported as "no
 * irq handler".  An owned slot is left alone (its handler sees one
 * spurious call).  Takes vector_lock.
 */
void x86_vector_mark_stray_slot(unsigned int cpu, unsigned int vector);

/* Clear the counters and the naive-update switch (vector domain init). */
void x86_msi_reset(void);

#endif /* IK_X86_MSI_INTERNAL_H */
