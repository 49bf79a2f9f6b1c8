// SPDX-License-Identifier: BSD-2-Clause
/*
 * Driver-facing management: request/free, enable/disable, affinity,
 * synchronisation and threaded handlers.
 *
 * Lock order: desc->request_mutex, then the chip bus lock (sleepable),
 * then desc->lock (spinlock, interrupts off).  Affinity changes take only
 * desc->lock: they may come from atomic context, so a chip whose store is
 * updated through a slow bus must handle them without the bus lock.
 */
#include "internals.h"

/* ik_irqaction keeps the flags in 16 bits. */
_Static_assert((IK_IRQF_SHARED | IK_IRQF_ONESHOT | IK_IRQF_NO_AUTOEN | IK_IRQF_NO_DEBUG |
		IK_IRQF_PROBE_SHARED) <= 0xFFFFu,
	       "IK_IRQF_* no longer fit struct ik_irqaction.flags");

/* ---- Threaded handlers ------------------------------------------------- */

/* Context: desc->lock held. */
void ik_irq_wake_thread(struct ik_irq_desc *desc, struct ik_irqaction *action)
{
	ik_lockdep_assert_held(&desc->lock);
	if (action->thread_queued)
		return;
	action->thread_queued = true;
	desc->threads_active++;
	desc->threads_oneshot |= action->thread_mask;
	ik_os_work_queue(&action->thread_work);
}

static void irq_thread_fn(struct ik_os_work *work)
{
	struct ik_irqaction *action = ik_container_of(work, struct ik_irqaction, thread_work);
	struct ik_irq_desc *desc = action->desc;
	ik_irqreturn_t ret;
	ik_irqflags_t flags;

	/*
	 * Clear "queued" before running: a wake-up that arrives while the
	 * thread runs queues it again, so no event is left unserviced.
	 */
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	action->thread_queued = false;
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);

	ret = action->thread_fn(desc->irq_data.irq, action->dev_id);

	flags = ik_os_spin_lock_irqsave(&desc->lock);
	if (ret == IK_IRQ_HANDLED)
		desc->threads_handled++;
	if (action->thread_mask && !action->thread_queued) {
		desc->threads_oneshot &= ~action->thread_mask;
		/* The oneshot line stayed masked for this thread: release it. */
		if (!desc->threads_oneshot && !ik_irqd_test(&desc->irq_data, IK_IRQD_DISABLED) &&
		    !ik_irqd_test(&desc->irq_data, IK_IRQD_INPROGRESS))
			ik_unmask_irq(desc);
	}
	desc->threads_active--;
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
}

static ik_irqreturn_t default_primary_handler(unsigned int irq, void *dev_id)
{
	return IK_IRQ_WAKE_THREAD;
}

/* ---- Synchronisation ----------------------------------------------------- */

static void wait_for_handlers(struct ik_irq_desc *desc)
{
	for (;;) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&desc->lock);
		bool busy = ik_irqd_test(&desc->irq_data, IK_IRQD_INPROGRESS) ||
			    desc->threads_active;

		ik_os_spin_unlock_irqrestore(&desc->lock, flags);
		if (!busy)
			return;
		ik_os_cpu_relax();
	}
}

int ik_synchronize_irq(unsigned int irq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	if (!desc)
		return -IK_ENOENT;
	wait_for_handlers(desc);
	return 0;
}

/* ---- Request / free ---------------------------------------------------- */

static bool chip_oneshot_safe(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc->irq_data.chip;

	return chip && (chip->flags & IK_IRQCHIP_ONESHOT_SAFE);
}

/* Share compatibility with the installed actions; desc->lock held. */
static int check_share(struct ik_irq_desc *desc, const struct ik_irqaction *new)
{
	const struct ik_irqaction *old = desc->action;
	const unsigned int must_match = IK_IRQF_ONESHOT;

	if (!old)
		return 0;
	if (!(old->flags & new->flags & IK_IRQF_SHARED) ||
	    ((old->flags ^ new->flags) & must_match)) {
		if (!((old->flags | new->flags) & IK_IRQF_PROBE_SHARED))
			ik_warn("irqkit: irq %u: %s cannot share with %s", desc->irq_data.irq,
				new->name ? new->name : "?", old->name ? old->name : "?");
		return -IK_EBUSY;
	}
	for (; old; old = old->next)
		if (old->dev_id == new->dev_id)
			return -IK_EBUSY;
	return 0;
}

/* A free oneshot bit among the installed actions; desc->lock held. */
static uint32_t pick_thread_mask(struct ik_irq_desc *desc)
{
	uint32_t used = 0;

	for (struct ik_irqaction *a = desc->action; a; a = a->next)
		used |= a->thread_mask;
	return used == UINT32_MAX ? 0 : (~used & (used + 1));
}

int ik_request_threaded_irq(unsigned int irq, ik_irq_handler_t handler,
			    ik_irq_handler_t thread_fn, unsigned int flags, const char *name,
			    void *dev_id)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	struct ik_irqaction *action, **pp;
	ik_irqflags_t lflags;
	bool first;
	int ret;

	if (!handler && !thread_fn)
		return -IK_EINVAL;
	if ((flags & IK_IRQF_SHARED) && !dev_id)
		return -IK_EINVAL;
	if ((flags & IK_IRQF_SHARED) && (flags & IK_IRQF_NO_AUTOEN))
		return -IK_EINVAL;
	if (!desc)
		return -IK_ENOENT;
	if (!desc->irq_data.chip || !desc->handle_irq)
		return -IK_EPERM;
	if (!handler) {
		handler = default_primary_handler;
		if (!chip_oneshot_safe(desc))
			flags |= IK_IRQF_ONESHOT;
	}
	if (!thread_fn || chip_oneshot_safe(desc))
		flags &= ~IK_IRQF_ONESHOT;

	action = ik_os_alloc(sizeof(*action));
	if (!action)
		return -IK_ENOMEM;
	action->handler = handler;
	action->thread_fn = thread_fn;
	action->flags = (uint16_t)flags;
	action->name = name;
	action->dev_id = dev_id;
	action->desc = desc;
	action->thread_work.fn = irq_thread_fn;

	ik_os_mutex_lock(&desc->request_mutex);
	ik_chip_bus_lock(desc);
	lflags = ik_os_spin_lock_irqsave(&desc->lock);

	/* istate is shared with flow handlers running on other CPUs: test it locked. */
	if (desc->istate & IK_IRQS_NOREQUEST) {
		ret = -IK_EPERM;
		goto err_unlock;
	}
	ret = check_share(desc, action);
	if (ret)
		goto err_unlock;
	if (flags & IK_IRQF_ONESHOT) {
		action->thread_mask = pick_thread_mask(desc);
		if (!action->thread_mask) {
			ret = -IK_EBUSY;
			goto err_unlock;
		}
	}
	first = desc->action == NULL;
	if (first) {
		ret = ik_irq_activate(desc);
		if (ret)
			goto err_unlock;
		desc->istate &= ~(IK_IRQS_ONESHOT | IK_IRQS_SPURIOUS_DISABLED | IK_IRQS_REPLAY);
		if (flags & IK_IRQF_ONESHOT)
			desc->istate |= IK_IRQS_ONESHOT;
		ik_spurious_reset(desc);
	} else if (desc->istate & IK_IRQS_SPURIOUS_DISABLED) {
		/* A new handler may be the one that was missing: try again. */
		desc->istate &= ~IK_IRQS_SPURIOUS_DISABLED;
		ik_spurious_reset(desc);
		if (desc->depth && !--desc->depth)
			ik_irq_enable(desc);
	}
	/* Install before startup: an interrupt at startup must find its action. */
	for (pp = &desc->action; *pp; pp = &(*pp)->next)
		;
	/* Release: a flow handler walking the list locklessly sees it initialised. */
	IK_WRITE_ONCE(*pp, action);
	desc->nr_actions++;
	if (first) {
		if (flags & IK_IRQF_NO_AUTOEN) {
			desc->depth = 1;
			ik_irqd_set(&desc->irq_data, IK_IRQD_DISABLED);
		} else {
			ret = ik_irq_startup(desc, true);
			if (ret)
				goto err_uninstall;
		}
	}
	ik_os_spin_unlock_irqrestore(&desc->lock, lflags);
	ik_chip_bus_sync_unlock(desc);
	ik_os_mutex_unlock(&desc->request_mutex);
	return 0;

err_uninstall:
	IK_WRITE_ONCE(*pp, NULL);
	desc->nr_actions--;
	ik_irq_shutdown(desc);
	ik_irq_domain_deactivate_irq(&desc->irq_data);
err_unlock:
	ik_os_spin_unlock_irqrestore(&desc->lock, lflags);
	ik_chip_bus_sync_unlock(desc);
	ik_os_mutex_unlock(&desc->request_mutex);
	ik_os_free(action);
	return ret;
}

int ik_request_irq(unsigned int irq, ik_irq_handler_t handler, unsigned int flags,
		   const char *name, void *dev_id)
{
	return ik_request_threaded_irq(irq, handler, NULL, flags, name, dev_id);
}

int ik_free_irq(unsigned int irq, void *dev_id)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	struct ik_irqaction *action, **pp;
	ik_irqflags_t flags;
	bool last;

	if (!desc)
		return -IK_ENOENT;
	ik_os_mutex_lock(&desc->request_mutex);
	ik_chip_bus_lock(desc);
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	for (pp = &desc->action; *pp && (*pp)->dev_id != dev_id; pp = &(*pp)->next)
		;
	action = *pp;
	if (!action) {
		ik_os_spin_unlock_irqrestore(&desc->lock, flags);
		ik_chip_bus_sync_unlock(desc);
		ik_os_mutex_unlock(&desc->request_mutex);
		return -IK_ENOENT;
	}
	/*
	 * Unlinking under the lock is safe against a running flow handler on
	 * another CPU only because we wait for INPROGRESS below before the
	 * action is freed: the handler may still be walking the old list.
	 */
	IK_WRITE_ONCE(*pp, action->next);
	desc->nr_actions--;
	last = desc->action == NULL;
	if (last)
		ik_irq_shutdown(desc);
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_chip_bus_sync_unlock(desc);

	wait_for_handlers(desc);
	if (last)
		ik_storm_stop(desc);

	/* Deactivate only now: the hardware stays programmed until no handler runs. */
	if (last) {
		ik_chip_bus_lock(desc);
		flags = ik_os_spin_lock_irqsave(&desc->lock);
		if (!desc->action) {
			ik_irq_domain_deactivate_irq(&desc->irq_data);
			desc->threads_oneshot = 0;
			desc->istate &= ~(IK_IRQS_ONESHOT | IK_IRQS_PENDING);
		}
		ik_os_spin_unlock_irqrestore(&desc->lock, flags);
		ik_chip_bus_sync_unlock(desc);
	}
	ik_os_mutex_unlock(&desc->request_mutex);
	ik_os_free(action);
	return 0;
}

/* ---- Enable / disable -------------------------------------------------- */

int ik_irq_set_disable_unlazy(unsigned int irq, bool unlazy)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags;

	if (!desc)
		return -IK_ENOENT;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	if (unlazy)
		desc->istate |= IK_IRQS_DISABLE_UNLAZY;
	else
		desc->istate &= ~IK_IRQS_DISABLE_UNLAZY;
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	return 0;
}

int ik_disable_irq_nosync(unsigned int irq)
{
	ik_irqflags_t flags;
	struct ik_irq_desc *desc = ik_irq_get_desc_buslock(irq, &flags);

	if (!desc)
		return -IK_ENOENT;
	if (!desc->depth++)
		ik_irq_disable(desc);
	ik_irq_put_desc_busunlock(desc, flags);
	return 0;
}

int ik_disable_irq(unsigned int irq)
{
	int ret = ik_disable_irq_nosync(irq);

	if (!ret)
		ret = ik_synchronize_irq(irq);
	return ret;
}

int ik_enable_irq(unsigned int irq)
{
	ik_irqflags_t flags;
	struct ik_irq_desc *desc = ik_irq_get_desc_buslock(irq, &flags);
	int ret = 0;

	if (!desc)
		return -IK_ENOENT;
	if (desc->depth == 0 ||
	    (desc->depth == 1 && (desc->istate & IK_IRQS_STORM_BACKOFF))) {
		/* The storm back-off's level is not the driver's to drop. */
		ik_warn("irqkit: unbalanced enable for irq %u", irq);
		ret = -IK_EINVAL;
	} else if (desc->depth == 1) {
		if (ik_irqd_test(&desc->irq_data, IK_IRQD_STARTED)) {
			desc->depth = 0;
			ik_irq_enable(desc);
			ik_check_irq_resend(desc, false);
		} else if (desc->action) {
			/* Requested with IK_IRQF_NO_AUTOEN. */
			ret = ik_irq_startup(desc, true);
		} else {
			ret = -IK_EINVAL;
		}
		if (!ret)
			desc->istate &= ~IK_IRQS_SPURIOUS_DISABLED;
	} else {
		desc->depth--;
	}
	ik_irq_put_desc_busunlock(desc, flags);
	return ret;
}

/* ---- Affinity ------------------------------------------------------------- */

/**
 * ik_irq_do_set_affinity - program a new target through the chip
 * Context: descriptor lock held.
 */
int ik_irq_do_set_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask, bool force)
{
	const struct ik_irq_chip *chip = data->chip;
	ik_cpumask_t tmp;
	int ret;

	if (!chip || !chip->irq_set_affinity)
		return -IK_ENOSYS;
	if (force)
		ik_cpumask_copy(&tmp, mask);
	else if (!ik_cpumask_and(&tmp, mask, ik_cpu_online_mask()))
		return -IK_EINVAL;
	ret = chip->irq_set_affinity(data, &tmp, force);
	switch (ret) {
	case IK_IRQ_SET_MASK_OK:
	case IK_IRQ_SET_MASK_OK_DONE:
		ik_cpumask_copy(&data->common->affinity, mask);
		/* fallthrough */
	case IK_IRQ_SET_MASK_OK_NOCOPY:
		return 0;
	default:
		return ret;
	}
}

static int set_affinity_locked(struct ik_irq_desc *desc, const ik_cpumask_t *mask)
{
	struct ik_irq_data *d = &desc->irq_data;
	const struct ik_irq_chip *chip = d->chip;
	int ret;

	if (!ik_cpumask_intersects(mask, ik_cpu_online_mask()))
		return -IK_EINVAL;
	if (!ik_irqd_test(d, IK_IRQD_ACTIVATED)) {
		/* Nothing programmed: remember it for activation. */
		ik_cpumask_copy(&desc->common.affinity, mask);
		ik_irqd_set(d, IK_IRQD_AFFINITY_SET);
		ik_irqd_clear(d, IK_IRQD_SETAFFINITY_PENDING);
		return 0;
	}
	if (chip && (chip->flags & IK_IRQCHIP_MOVE_DEFERRED)) {
		/* Moved from the next interrupt on the current target. */
		ik_cpumask_copy(&desc->pending_mask, mask);
		ik_irqd_set(d, IK_IRQD_SETAFFINITY_PENDING);
		return 0;
	}
	ret = ik_irq_do_set_affinity(d, mask, false);
	if (ret == -IK_EBUSY) {
		/* The previous move is not complete: finish it from the next interrupt. */
		ik_cpumask_copy(&desc->pending_mask, mask);
		ik_irqd_set(d, IK_IRQD_SETAFFINITY_PENDING);
		ret = 0;
	} else if (!ret) {
		/*
		 * Done at once: an older request still waiting for an interrupt
		 * must not be carried out later over this newer one.
		 */
		ik_irqd_clear(d, IK_IRQD_SETAFFINITY_PENDING);
	}
	return ret;
}

int ik_irq_set_affinity(unsigned int irq, const ik_cpumask_t *mask)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags;
	int ret;

	if (!desc)
		return -IK_ENOENT;
	if (!mask)
		return -IK_EINVAL;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	if (ik_irqd_test(&desc->irq_data, IK_IRQD_AFFINITY_MANAGED | IK_IRQD_PER_CPU |
						  IK_IRQD_NO_BALANCING))
		ret = -IK_EPERM;
	else
		ret = set_affinity_locked(desc, mask);
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	return ret;
}

/**
 * ik_irq_move_pending - carry out a deferred affinity move
 * Called by the arch from the interrupt's ack on its current target.
 * Context: hard interrupt, descriptor lock held.
 */
void ik_irq_move_pending(struct ik_irq_desc *desc)
{
	struct ik_irq_data *d = &desc->irq_data;
	bool masked;

	if (!ik_irqd_test(d, IK_IRQD_SETAFFINITY_PENDING))
		return;
	ik_irqd_clear(d, IK_IRQD_SETAFFINITY_PENDING);
	masked = ik_irqd_test(d, IK_IRQD_MASKED);
	if (!masked)
		ik_mask_irq(desc);
	if (ik_irq_do_set_affinity(d, &desc->pending_mask, false) == -IK_EBUSY)
		ik_irqd_set(d, IK_IRQD_SETAFFINITY_PENDING);
	if (!masked)
		ik_unmask_irq(desc);
}

int ik_irq_get_affinity(unsigned int irq, ik_cpumask_t *mask)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags;

	if (!desc || !mask)
		return -IK_ENOENT;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	ik_cpumask_copy(mask, &desc->common.affinity);
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	return 0;
}

int ik_irq_get_effective_affinity(unsigned int irq, ik_cpumask_t *mask)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags;

	if (!desc || !mask)
		return -IK_ENOENT;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	ik_cpumask_copy(mask, &desc->common.effective_affinity);
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	return 0;
}
