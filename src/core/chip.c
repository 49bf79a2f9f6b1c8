// SPDX-License-Identifier: BSD-2-Clause
/*
 * Chip state machine (startup, shutdown, enable, disable, mask) and the
 * flow handlers.
 *
 * Flow handlers run in hard interrupt context with local interrupts off;
 * they take the descriptor lock and drop it only around the actions.  The
 * rule that makes edges lossless: whenever an interrupt arrives that
 * cannot be handled now (disabled, no action, or running on another CPU),
 * it is marked IK_IRQS_PENDING and the line is masked; whoever makes the
 * line runnable again (the CPU running the handler, enable, startup)
 * replays it.
 */
#include "internals.h"

static const struct ik_irq_chip *desc_chip(struct ik_irq_desc *desc)
{
	return desc->irq_data.chip;
}

void ik_mask_irq(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	if (ik_irqd_test(&desc->irq_data, IK_IRQD_MASKED))
		return;
	if (chip && chip->irq_mask) {
		chip->irq_mask(&desc->irq_data);
		ik_irqd_set(&desc->irq_data, IK_IRQD_MASKED);
	}
}

void ik_unmask_irq(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	if (!ik_irqd_test(&desc->irq_data, IK_IRQD_MASKED))
		return;
	if (chip && chip->irq_unmask)
		chip->irq_unmask(&desc->irq_data);
	ik_irqd_clear(&desc->irq_data, IK_IRQD_MASKED);
}

static void mask_ack_irq(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_mask_irq(desc);
	if (chip->irq_ack)
		chip->irq_ack(&desc->irq_data);
}

void ik_irq_enable(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_lockdep_assert_held(&desc->lock);
	ik_irqd_clear(&desc->irq_data, IK_IRQD_DISABLED);
	if (chip && chip->irq_enable) {
		chip->irq_enable(&desc->irq_data);
		ik_irqd_clear(&desc->irq_data, IK_IRQD_MASKED);
	} else {
		ik_unmask_irq(desc);
	}
}

/*
 * Disable is lazy unless the chip has its own irq_disable or the line asked
 * for an immediate mask: the line is only marked, and the first interrupt
 * that arrives masks it and is kept PENDING for enable.  That saves a
 * (possibly slow) mask for the common case where nothing arrives.
 */
void ik_irq_disable(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_lockdep_assert_held(&desc->lock);
	ik_irqd_set(&desc->irq_data, IK_IRQD_DISABLED);
	if (chip && chip->irq_disable) {
		chip->irq_disable(&desc->irq_data);
		ik_irqd_set(&desc->irq_data, IK_IRQD_MASKED);
	} else if (desc->istate & IK_IRQS_DISABLE_UNLAZY) {
		ik_mask_irq(desc);
	}
}

int ik_irq_activate(struct ik_irq_desc *desc)
{
	return ik_irq_domain_activate_irq(&desc->irq_data, false);
}

static void setup_affinity(struct ik_irq_desc *desc)
{
	ik_cpumask_t mask;

	if (!ik_cpumask_and(&mask, &desc->common.affinity, ik_cpu_online_mask()))
		ik_cpumask_copy(&mask, ik_cpu_online_mask());
	/* A failure keeps the target chosen at activation, which is online. */
	ik_irq_do_set_affinity(&desc->irq_data, &mask, false);
}

static void startup_chip(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	desc->depth = 0;
	ik_irqd_set(&desc->irq_data, IK_IRQD_STARTED);
	if (chip && chip->irq_startup) {
		chip->irq_startup(&desc->irq_data);
		ik_irqd_clear(&desc->irq_data, IK_IRQD_DISABLED | IK_IRQD_MASKED);
	} else {
		ik_irq_enable(desc);
	}
}

/**
 * ik_irq_startup - start an interrupt (first request, managed CPU online)
 * @resend: replay an edge latched while the line was down
 *
 * Context: descriptor lock held.  Return: 0 or an activation error.
 */
int ik_irq_startup(struct ik_irq_desc *desc, bool resend)
{
	struct ik_irq_data *d = &desc->irq_data;
	const struct ik_irq_chip *chip = desc_chip(desc);
	int ret = 0;

	ik_lockdep_assert_held(&desc->lock);
	if (ik_irqd_test(d, IK_IRQD_STARTED)) {
		ik_irq_enable(desc);
	} else {
		if (ik_irqd_test(d, IK_IRQD_AFFINITY_MANAGED) &&
		    !ik_cpumask_intersects(&desc->common.affinity, ik_cpu_online_mask())) {
			/* Started when a CPU of its mask comes online. */
			ik_irqd_set(d, IK_IRQD_MANAGED_SHUTDOWN);
			return 0;
		}
		ik_irqd_clear(d, IK_IRQD_MANAGED_SHUTDOWN);
		ret = ik_irq_activate(desc);
		if (ret)
			return ret;
		if (chip && (chip->flags & IK_IRQCHIP_AFFINITY_PRE_STARTUP)) {
			setup_affinity(desc);
			startup_chip(desc);
		} else {
			startup_chip(desc);
			setup_affinity(desc);
		}
	}
	if (resend)
		ik_check_irq_resend(desc, false);
	return ret;
}

/**
 * ik_irq_shutdown - stop an interrupt (last free, managed CPU offline)
 * The hardware stays activated; deactivation is the caller's next step
 * once no handler can run.  Context: descriptor lock held.
 */
void ik_irq_shutdown(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_lockdep_assert_held(&desc->lock);
	if (ik_irqd_test(&desc->irq_data, IK_IRQD_STARTED)) {
		desc->depth = 1;
		if (chip && chip->irq_shutdown) {
			chip->irq_shutdown(&desc->irq_data);
			ik_irqd_set(&desc->irq_data, IK_IRQD_DISABLED | IK_IRQD_MASKED);
		} else {
			ik_irq_disable(desc);
			ik_mask_irq(desc);
		}
		ik_irqd_clear(&desc->irq_data, IK_IRQD_STARTED);
	}
	desc->istate &= ~(IK_IRQS_PENDING | IK_IRQS_REPLAY);
}

/* ---- Running the actions -------------------------------------------------- */

ik_irqreturn_t ik_handle_irq_event(struct ik_irq_desc *desc)
{
	unsigned int retval = IK_IRQ_NONE;
	struct ik_irqaction *action;

	desc->istate &= ~IK_IRQS_PENDING;
	ik_irqd_set(&desc->irq_data, IK_IRQD_INPROGRESS);
	ik_os_spin_unlock(&desc->lock);

	/*
	 * The action list cannot change under us: free takes the descriptor
	 * lock to unlink and then waits for IK_IRQD_INPROGRESS to clear.
	 * The links are still read with acquire: a request or free may
	 * publish or unlink concurrently, outside our lock hold.
	 */
	for (action = IK_READ_ONCE(desc->action); action; action = IK_READ_ONCE(action->next)) {
		ik_irqreturn_t res = action->handler(desc->irq_data.irq, action->dev_id);

		if (res == IK_IRQ_WAKE_THREAD) {
			if (!action->thread_fn) {
				ik_warn("irqkit: irq %u handler %s woke a thread it does not have",
					desc->irq_data.irq, action->name);
				res = IK_IRQ_HANDLED;
			} else {
				ik_os_spin_lock(&desc->lock);
				ik_irq_wake_thread(desc, action);
				ik_os_spin_unlock(&desc->lock);
			}
		}
		retval |= (unsigned int)res;
	}

	ik_os_spin_lock(&desc->lock);
	/* Fast path: a handled interrupt on a line with no unhandled history. */
	if (retval != IK_IRQ_HANDLED || desc->irqs_unhandled || desc->storm)
		ik_note_interrupt(desc, (ik_irqreturn_t)retval);
	ik_irqd_clear(&desc->irq_data, IK_IRQD_INPROGRESS);
	return (ik_irqreturn_t)retval;
}

/* Can this CPU run the handler now?  In progress elsewhere means no. */
static bool irq_may_run(struct ik_irq_desc *desc)
{
	return !ik_irqd_test(&desc->irq_data, IK_IRQD_INPROGRESS);
}

static bool irq_runnable(struct ik_irq_desc *desc)
{
	return desc->action && !ik_irqd_test(&desc->irq_data, IK_IRQD_DISABLED);
}

void ik_handle_edge_irq(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_os_spin_lock(&desc->lock);
	desc->istate &= ~IK_IRQS_REPLAY;
	if (!irq_may_run(desc) || !irq_runnable(desc)) {
		/* Keep the edge; the running CPU or the next enable replays it. */
		desc->istate |= IK_IRQS_PENDING;
		mask_ack_irq(desc);
		goto out_unlock;
	}
	ik_kstat_incr(desc);
	if (chip->irq_ack)
		chip->irq_ack(&desc->irq_data);
	do {
		if (ik_unlikely(!desc->action)) {
			ik_mask_irq(desc);
			goto out_unlock;
		}
		/*
		 * An edge arrived while we ran and masked the line: unmask so
		 * the next one is not lost, then run the handlers again.
		 */
		if (ik_unlikely(desc->istate & IK_IRQS_PENDING) &&
		    !ik_irqd_test(&desc->irq_data, IK_IRQD_DISABLED) &&
		    ik_irqd_test(&desc->irq_data, IK_IRQD_MASKED))
			ik_unmask_irq(desc);
		ik_handle_irq_event(desc);
	} while ((desc->istate & IK_IRQS_PENDING) &&
		 !ik_irqd_test(&desc->irq_data, IK_IRQD_DISABLED));
out_unlock:
	ik_os_spin_unlock(&desc->lock);
}

/* Unmask after handling unless a oneshot thread still has to run. */
static void cond_unmask(struct ik_irq_desc *desc)
{
	if (!ik_irqd_test(&desc->irq_data, IK_IRQD_DISABLED) &&
	    ik_irqd_test(&desc->irq_data, IK_IRQD_MASKED) && !desc->threads_oneshot)
		ik_unmask_irq(desc);
}

void ik_handle_level_irq(struct ik_irq_desc *desc)
{
	ik_os_spin_lock(&desc->lock);
	mask_ack_irq(desc);
	if (!irq_may_run(desc))
		goto out_unlock;
	desc->istate &= ~IK_IRQS_REPLAY;
	if (!irq_runnable(desc)) {
		desc->istate |= IK_IRQS_PENDING;
		goto out_unlock;
	}
	ik_kstat_incr(desc);
	ik_handle_irq_event(desc);
	cond_unmask(desc);
out_unlock:
	ik_os_spin_unlock(&desc->lock);
}

void ik_handle_fasteoi_irq(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc_chip(desc);

	ik_os_spin_lock(&desc->lock);
	if (!irq_may_run(desc)) {
		/*
		 * Running elsewhere: a controller without an active state will
		 * not send it again, so remember it for a resend afterwards.
		 */
		if (ik_irqd_test(&desc->irq_data, IK_IRQD_RESEND_WHEN_IN_PROGRESS))
			desc->istate |= IK_IRQS_PENDING;
		goto out_eoi;
	}
	desc->istate &= ~IK_IRQS_REPLAY;
	if (!irq_runnable(desc)) {
		desc->istate |= IK_IRQS_PENDING;
		ik_mask_irq(desc);
		goto out_eoi;
	}
	ik_kstat_incr(desc);
	if (desc->istate & IK_IRQS_ONESHOT)
		ik_mask_irq(desc);
	ik_handle_irq_event(desc);
	cond_unmask(desc);
	if (chip->irq_eoi)
		chip->irq_eoi(&desc->irq_data);
	if (desc->istate & IK_IRQS_PENDING)
		ik_check_irq_resend(desc, false);
	ik_os_spin_unlock(&desc->lock);
	return;
out_eoi:
	if (chip->irq_eoi && !(chip->flags & IK_IRQCHIP_EOI_IF_HANDLED))
		chip->irq_eoi(&desc->irq_data);
	ik_os_spin_unlock(&desc->lock);
}

void ik_handle_simple_irq(struct ik_irq_desc *desc)
{
	ik_os_spin_lock(&desc->lock);
	if (!irq_may_run(desc))
		goto out_unlock;
	desc->istate &= ~IK_IRQS_REPLAY;
	if (!irq_runnable(desc)) {
		desc->istate |= IK_IRQS_PENDING;
		goto out_unlock;
	}
	ik_kstat_incr(desc);
	ik_handle_irq_event(desc);
out_unlock:
	ik_os_spin_unlock(&desc->lock);
}

int ik_generic_handle_irq_desc(struct ik_irq_desc *desc)
{
	ik_irq_flow_handler_t handler = IK_READ_ONCE(desc->handle_irq);

	if (!handler)
		return -IK_ENOENT;
	handler(desc);
	return 0;
}

int ik_generic_handle_irq(unsigned int irq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	if (!desc)
		return -IK_EINVAL;
	return ik_generic_handle_irq_desc(desc);
}

/* ---- Parent delegation ------------------------------------------------- */

#define DEFINE_PARENT_VOID(name, method)                             \
	void name(struct ik_irq_data *data)                          \
	{                                                            \
		struct ik_irq_data *p = data->parent_data;           \
		if (p && p->chip && p->chip->method)                 \
			p->chip->method(p);                          \
	}

DEFINE_PARENT_VOID(ik_irq_chip_enable_parent, irq_enable)
DEFINE_PARENT_VOID(ik_irq_chip_disable_parent, irq_disable)
DEFINE_PARENT_VOID(ik_irq_chip_ack_parent, irq_ack)
DEFINE_PARENT_VOID(ik_irq_chip_mask_parent, irq_mask)
DEFINE_PARENT_VOID(ik_irq_chip_unmask_parent, irq_unmask)
DEFINE_PARENT_VOID(ik_irq_chip_eoi_parent, irq_eoi)

int ik_irq_chip_set_affinity_parent(struct ik_irq_data *data, const ik_cpumask_t *dest,
				    bool force)
{
	struct ik_irq_data *p = data->parent_data;

	if (p && p->chip && p->chip->irq_set_affinity)
		return p->chip->irq_set_affinity(p, dest, force);
	return -IK_ENOSYS;
}

int ik_irq_chip_set_type_parent(struct ik_irq_data *data, unsigned int type)
{
	struct ik_irq_data *p = data->parent_data;

	if (p && p->chip && p->chip->irq_set_type)
		return p->chip->irq_set_type(p, type);
	return -IK_ENOSYS;
}

int ik_irq_chip_retrigger_hierarchy(struct ik_irq_data *data)
{
	/*
	 * A level that installed this helper as its own irq_retrigger only
	 * delegates: skip it, or the walk would call itself forever.
	 */
	for (; data; data = data->parent_data)
		if (data->chip && data->chip->irq_retrigger &&
		    data->chip->irq_retrigger != ik_irq_chip_retrigger_hierarchy)
			return data->chip->irq_retrigger(data);
	return 0;
}

int ik_irq_chip_compose_msi_msg(struct ik_irq_data *data, struct ik_msi_msg *msg)
{
	for (; data; data = data->parent_data) {
		if (data->chip && data->chip->irq_compose_msi_msg) {
			data->chip->irq_compose_msi_msg(data, msg);
			return 0;
		}
	}
	return -IK_ENOSYS;
}
