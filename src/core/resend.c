// SPDX-License-Identifier: BSD-2-Clause
/*
 * Replaying an edge that arrived while the line could not run it.
 *
 * Hardware retrigger first (the first level toward the root that can; on
 * x86 an IPI of the vector to the target CPU).  Without one, the flow
 * handler is run from a cross-CPU call on the current CPU, which is
 * interrupt context; levels that require a real hardware vector
 * (IK_IRQD_HANDLE_ENFORCE_IRQCTX) refuse that.
 */
#include "internals.h"

static void software_resend(void *arg)
{
	unsigned int irq = (unsigned int)(uintptr_t)arg;
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	/* Shutdown clears REPLAY: then the line is gone or restarted, skip. */
	if (!desc || !(IK_READ_ONCE(desc->istate) & IK_IRQS_REPLAY))
		return;
	ik_generic_handle_irq_desc(desc);
}

/**
 * ik_check_irq_resend - replay a pending edge
 * @inject: replay even if nothing is pending (debug injection)
 *
 * Context: descriptor lock held.
 * Return: 0 (replayed or nothing to do), -IK_EBUSY (a replay is already in
 * flight), -IK_EINVAL (level line, or no way to replay).
 */
int ik_check_irq_resend(struct ik_irq_desc *desc, bool inject)
{
	struct ik_irq_data *d = &desc->irq_data;

	ik_lockdep_assert_held(&desc->lock);
	if (ik_irqd_test(d, IK_IRQD_LEVEL)) {
		/* A level line re-asserts by itself. */
		desc->istate &= ~IK_IRQS_PENDING;
		return -IK_EINVAL;
	}
	if (desc->istate & IK_IRQS_REPLAY)
		return -IK_EBUSY;
	if (!(desc->istate & IK_IRQS_PENDING) && !inject)
		return 0;
	desc->istate &= ~IK_IRQS_PENDING;

	if (ik_irq_chip_retrigger_hierarchy(d) > 0) {
		desc->istate |= IK_IRQS_REPLAY;
		return 0;
	}
	if (ik_irqd_test(d, IK_IRQD_HANDLE_ENFORCE_IRQCTX)) {
		ik_warn("irqkit: irq %u: no hardware retrigger, cannot replay", d->irq);
		return -IK_EINVAL;
	}
	desc->istate |= IK_IRQS_REPLAY;
	if (ik_os_cpu_call(ik_os_cpu_id(), software_resend, (void *)(uintptr_t)d->irq, false)) {
		desc->istate &= ~IK_IRQS_REPLAY;
		desc->istate |= IK_IRQS_PENDING;
		return -IK_EINVAL;
	}
	return 0;
}
