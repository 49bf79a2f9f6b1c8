// SPDX-License-Identifier: BSD-2-Clause
/*
 * Handled-storm policy.
 *
 * The spurious detector only sees handlers that say "not mine".  A device
 * stuck asserting while its handler keeps returning HANDLED floods a CPU
 * just as well.  With a policy set, every handled pass is counted in a
 * fixed window of window_ns that starts with the first interrupt after the
 * previous window ended; more than max_per_window in one window is a storm.
 * It is counted, reported, and with IK_STORM_MASK_BACKOFF the line is
 * masked for backoff_ns.
 *
 * The back-off holds one level of desc->depth, marked by
 * IK_IRQS_STORM_BACKOFF, so driver disable/enable nest around it and a
 * driver enable can never take the policy's level (manage.c refuses it).
 * The level is dropped by the timer callback, by removing the policy, or
 * forgotten when the last handler goes (shutdown resets the depth); across
 * a managed shutdown it is dropped from the nesting the shutdown keeps.
 *
 * Without a policy the only cost is the desc->storm test in the flow
 * handler's fast path.
 */
#include "internals.h"

struct ik_storm {
	struct ik_storm_policy policy;  /* under desc->lock */
	struct ik_irq_desc *desc;
	uint64_t window_start_ns;
	uint64_t count;
	struct ik_os_timer timer;
};

/* Drop the back-off's depth level; descriptor lock (and bus lock) held. */
static void storm_end_backoff(struct ik_irq_desc *desc)
{
	if (!(desc->istate & IK_IRQS_STORM_BACKOFF))
		return;
	desc->istate &= ~IK_IRQS_STORM_BACKOFF;
	if (!ik_irqd_test(&desc->irq_data, IK_IRQD_STARTED)) {
		/*
		 * Shut down meanwhile.  A free reset the depth: nothing to
		 * drop.  A managed shutdown kept the whole nesting on top of
		 * its own level (cpuhotplug.c): drop ours from it, or the
		 * restart would find the line still disabled.
		 */
		if (ik_irqd_test(&desc->irq_data, IK_IRQD_MANAGED_SHUTDOWN) && desc->depth > 1)
			desc->depth--;
		return;
	}
	if (IK_WARN_ON(!desc->depth))
		return;
	if (--desc->depth)
		return;		/* the driver disabled it too: it stays off */
	ik_irq_enable(desc);
	/* An interrupt that arrived lazily while disabled is replayed. */
	ik_check_irq_resend(desc, false);
}

static void storm_backoff_expired(struct ik_os_timer *timer)
{
	struct ik_storm *s = ik_container_of(timer, struct ik_storm, timer);
	struct ik_irq_desc *desc = s->desc;
	ik_irqflags_t flags;

	ik_chip_bus_lock(desc);
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	storm_end_backoff(desc);
	s->count = 0;
	s->window_start_ns = ik_os_time_ns();
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_chip_bus_sync_unlock(desc);
}

/**
 * ik_storm_note - count one handled pass on a line with a storm policy
 * Context: hard interrupt, descriptor lock held.
 */
void ik_storm_note(struct ik_irq_desc *desc)
{
	struct ik_storm *s = desc->storm;
	uint64_t now = ik_os_time_ns();
	uint64_t count;

	ik_lockdep_assert_held(&desc->lock);
	if (!s->count || now - s->window_start_ns >= s->policy.window_ns) {
		s->window_start_ns = now;
		s->count = 0;
	}
	if (++s->count <= s->policy.max_per_window)
		return;
	count = s->count;
	s->count = 0;
	desc->storms++;
	if (s->policy.report)
		s->policy.report(desc->irq_data.irq, count, s->policy.ctx);
	if (s->policy.action != IK_STORM_MASK_BACKOFF ||
	    (desc->istate & IK_IRQS_STORM_BACKOFF))
		return;
	ik_warn("irqkit: irq %u: handled storm (%llu in a %llu ns window), masked for %llu ns",
		desc->irq_data.irq, (unsigned long long)count,
		(unsigned long long)s->policy.window_ns, (unsigned long long)s->policy.backoff_ns);
	desc->istate |= IK_IRQS_STORM_BACKOFF;
	if (!desc->depth++)
		ik_irq_disable(desc);
	/* Lazy disable would let the storm in once more: mask now. */
	ik_mask_irq(desc);
	ik_os_timer_arm(&s->timer, s->policy.backoff_ns);
}

/**
 * ik_storm_stop - end a back-off when the last handler is freed
 * The line is already shut down.  Context: sleepable, request_mutex held.
 */
void ik_storm_stop(struct ik_irq_desc *desc)
{
	ik_irqflags_t flags;

	if (!desc->storm)
		return;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	storm_end_backoff(desc);
	desc->storm->count = 0;
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_os_timer_cancel_sync(&desc->storm->timer);
}

/**
 * ik_storm_free - free the policy of a descriptor that is being freed
 * Context: sleepable; no handler is installed any more.
 */
void ik_storm_free(struct ik_irq_desc *desc)
{
	struct ik_storm *s = desc->storm;

	if (!s)
		return;
	ik_os_timer_cancel_sync(&s->timer);
	desc->storm = NULL;
	ik_os_free(s);
}

static bool policy_valid(const struct ik_storm_policy *p)
{
	if (!p->max_per_window || !p->window_ns)
		return false;
	switch (p->action) {
	case IK_STORM_REPORT:
		return true;
	case IK_STORM_MASK_BACKOFF:
		return p->backoff_ns != 0;
	default:
		return false;
	}
}

int ik_irq_set_storm_policy(unsigned int irq, const struct ik_storm_policy *policy)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	struct ik_storm *s, *old = NULL;
	ik_irqflags_t flags;

	if (!desc)
		return -IK_ENOENT;
	if (policy && !policy_valid(policy)) {
		ik_warn("irqkit: irq %u: invalid storm policy", irq);
		return -IK_EINVAL;
	}
	ik_os_mutex_lock(&desc->request_mutex);
	s = desc->storm;
	if (policy && !s) {
		s = ik_os_alloc(sizeof(*s));
		if (!s) {
			ik_os_mutex_unlock(&desc->request_mutex);
			return -IK_ENOMEM;
		}
		s->desc = desc;
		s->timer.fn = storm_backoff_expired;
	}
	ik_chip_bus_lock(desc);
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	if (policy) {
		s->policy = *policy;
		s->count = 0;
		desc->storm = s;
	} else if (s) {
		storm_end_backoff(desc);
		desc->storm = NULL;
		old = s;
	}
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_chip_bus_sync_unlock(desc);
	ik_os_mutex_unlock(&desc->request_mutex);
	if (old) {
		/*
		 * A callback already running finds the back-off ended; wait for
		 * it before the memory goes.  desc->storm is NULL, so no new
		 * arm can happen: a flow handler that still saw the old pointer
		 * did so under desc->lock, before we cleared it.
		 */
		ik_os_timer_cancel_sync(&old->timer);
		ik_os_free(old);
	}
	return 0;
}
