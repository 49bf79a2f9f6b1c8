// SPDX-License-Identifier: BSD-2-Clause
/*
 * Detection of unhandled-interrupt floods.
 *
 * Counting starts with the first unhandled interrupt.  An unhandled
 * interrupt after a quiet period (aging) restarts the count at 1, so
 * isolated spurious interrupts never add up.  In every window of `window`
 * interrupts, more than `threshold` unhandled ones disable the line, which
 * is reported with its handlers.  A new handler on a shared line re-enables
 * it (see manage.c).
 *
 * An interrupt whose primary handler only woke a thread is judged by that
 * thread, which has not run yet.  Its accounting is deferred to the next
 * hard interrupt: if no thread reported HANDLED since, the previous one
 * counts as unhandled.
 */
#include "internals.h"

static struct ik_spurious_config spurious_cfg = {
	.window = 100000,
	.threshold = 99900,
	.aging_ns = 100000000ull,
};

void ik_spurious_set_config(const struct ik_spurious_config *cfg)
{
	if (cfg && cfg->window && cfg->threshold <= cfg->window)
		spurious_cfg = *cfg;
}

#define THREADS_DEFERRED IK_BIT(31)

void ik_spurious_reset(struct ik_irq_desc *desc)
{
	desc->threads_handled_last = 0;
	desc->irq_count = 0;
	desc->irqs_unhandled = 0;
	desc->last_unhandled_ns = 0;
}

static void report_bad_irq(struct ik_irq_desc *desc)
{
	struct ik_irqaction *action;

	ik_err("irqkit: irq %u: nobody cared (%u of the last %u unhandled), disabling it",
	       desc->irq_data.irq, desc->irqs_unhandled, spurious_cfg.window);
	for (action = desc->action; action; action = action->next)
		ik_err("irqkit: irq %u: handler %s", desc->irq_data.irq,
		       action->name ? action->name : "?");
}

/**
 * ik_note_interrupt - account one pass through the handlers
 * Context: hard interrupt, descriptor lock held.
 */
void ik_note_interrupt(struct ik_irq_desc *desc, ik_irqreturn_t ret)
{
	unsigned int bits = (unsigned int)ret;

	ik_lockdep_assert_held(&desc->lock);
	/* An explicit storm policy applies even to IK_IRQF_NO_DEBUG lines. */
	if (ik_unlikely(desc->storm) && (bits & IK_IRQ_HANDLED))
		ik_storm_note(desc);
	if (desc->action && (desc->action->flags & IK_IRQF_NO_DEBUG))
		return;
	if (bits & ~(unsigned int)(IK_IRQ_HANDLED | IK_IRQ_WAKE_THREAD))
		ik_warn("irqkit: irq %u: handler returned bogus value %u", desc->irq_data.irq,
			bits);
	if (bits == IK_IRQ_WAKE_THREAD) {
		uint32_t handled = desc->threads_handled | THREADS_DEFERRED;

		if (!(desc->threads_handled_last & THREADS_DEFERRED)) {
			/* First one: judge it at the next interrupt. */
			desc->threads_handled_last = handled;
			return;
		}
		/* Judge the previous interrupt by what its thread did. */
		bits = handled != desc->threads_handled_last ? IK_IRQ_HANDLED : IK_IRQ_NONE;
		desc->threads_handled_last = handled;
	} else {
		/* A primary handler answered: nothing is left deferred. */
		desc->threads_handled_last &= ~THREADS_DEFERRED;
	}
	if (bits == IK_IRQ_NONE) {
		uint64_t now = ik_os_time_ns();

		if (desc->irqs_unhandled && now - desc->last_unhandled_ns > spurious_cfg.aging_ns)
			desc->irqs_unhandled = 1;
		else
			desc->irqs_unhandled++;
		desc->last_unhandled_ns = now;
	}
	if (ik_likely(!desc->irqs_unhandled))
		return;
	if (++desc->irq_count < spurious_cfg.window)
		return;
	desc->irq_count = 0;
	if (desc->irqs_unhandled > spurious_cfg.threshold) {
		report_bad_irq(desc);
		desc->istate |= IK_IRQS_SPURIOUS_DISABLED;
		/*
		 * 32 bits: each disable takes a full window of unhandled
		 * interrupts and a new handler to re-enable, so this never
		 * saturates in practice; it must not wrap to 0 if it did.
		 */
		if (desc->spurious_disables != UINT32_MAX)
			desc->spurious_disables++;
		desc->depth++;
		ik_irq_disable(desc);
		/* Lazy disable would let the flood in once more: mask now. */
		ik_mask_irq(desc);
	}
	desc->irqs_unhandled = 0;
}
