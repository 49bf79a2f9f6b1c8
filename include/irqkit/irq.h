/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Driver-facing interrupt API: request and free handlers, enable and
 * disable lines, set affinity, read counters.
 *
 * Contexts used in the documentation:
 *  - sleepable: process context, no spinlock held, interrupts enabled;
 *  - atomic:    may be called with interrupts disabled or from a handler.
 */
#ifndef IRQKIT_IRQ_H
#define IRQKIT_IRQ_H

#include <irqkit/cpumask.h>
#include <irqkit/env.h>

/* Return values of handlers. */
typedef enum ik_irqreturn {
	IK_IRQ_NONE = 0,        /* not our interrupt */
	IK_IRQ_HANDLED = 1,     /* handled */
	IK_IRQ_WAKE_THREAD = 2, /* handled in part, run the threaded handler */
} ik_irqreturn_t;

typedef ik_irqreturn_t (*ik_irq_handler_t)(unsigned int irq, void *dev_id);

/* Flags for ik_request_threaded_irq(). */
#define IK_IRQF_SHARED     0x0001u /* the line may have several handlers */
#define IK_IRQF_ONESHOT    0x0002u /* keep the line masked until the thread ran */
#define IK_IRQF_NO_AUTOEN  0x0004u /* do not enable on request; ik_enable_irq() later */
#define IK_IRQF_NO_DEBUG   0x0008u /* exclude from spurious detection */
#define IK_IRQF_PROBE_SHARED 0x0010u /* a share mismatch is expected, do not log */

/**
 * ik_request_threaded_irq - install a handler on an allocated interrupt
 * @irq:       interrupt number from a domain allocation
 * @handler:   primary handler, runs in hard interrupt context; NULL means
 *             "wake the thread" (then @thread_fn is required and
 *             IK_IRQF_ONESHOT is implied unless the chip is oneshot-safe)
 * @thread_fn: optional handler run in sleepable context when @handler
 *             returns IK_IRQ_WAKE_THREAD
 * @flags:     IK_IRQF_*
 * @name:      for views and logs
 * @dev_id:    cookie passed to the handlers; required and unique per line
 *             when IK_IRQF_SHARED
 *
 * The first handler activates the interrupt (programs the hardware through
 * every hierarchy level) and starts it unless IK_IRQF_NO_AUTOEN.  An edge
 * that was latched while the line was down is replayed.
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (no handler, shared without dev_id, bad irq);
 * -IK_ENOENT (irq not allocated); -IK_EPERM (irq not requestable: no chip
 * or per-level setup incomplete); -IK_EBUSY (not shared, or flags
 * mismatch with the existing handlers); -IK_ENOMEM; -IK_ENOSPC or other
 * errors from activation (nothing is left installed).
 */
int ik_request_threaded_irq(unsigned int irq, ik_irq_handler_t handler,
			    ik_irq_handler_t thread_fn, unsigned int flags, const char *name,
			    void *dev_id);

/** ik_request_irq - ik_request_threaded_irq() without a thread. */
int ik_request_irq(unsigned int irq, ik_irq_handler_t handler, unsigned int flags,
		   const char *name, void *dev_id);

/**
 * ik_free_irq - remove a handler
 * @irq:    interrupt number
 * @dev_id: the cookie given at request
 *
 * Waits for running handlers and threads.  When the last handler goes, the
 * interrupt is shut down and deactivated (after no handler can still run).
 *
 * Context: sleepable.
 * Return: 0; -IK_ENOENT if no such interrupt or no handler with @dev_id.
 */
int ik_free_irq(unsigned int irq, void *dev_id);

/**
 * ik_disable_irq - disable an interrupt, nesting, and wait for handlers
 * Disable is lazy: the line is only marked disabled; it is masked when an
 * interrupt actually arrives (and that interrupt is replayed on enable),
 * unless the chip or the line asks for an immediate mask.
 *
 * Context: sleepable (it waits); use ik_disable_irq_nosync() in atomic context.
 * Return: 0, -IK_ENOENT.
 */
int ik_disable_irq(unsigned int irq);
/** ik_disable_irq_nosync - as ik_disable_irq() without waiting. Context: atomic. */
int ik_disable_irq_nosync(unsigned int irq);

/**
 * ik_irq_set_disable_unlazy - make ik_disable_irq() mask at once
 * By default disable is lazy (the first interrupt that arrives masks).
 * Stores whose mask only takes effect at the bus sync (queue-updated IMS)
 * want the mask inside the disable call's bus-lock bracket instead.
 * Context: any.  Return: 0, -IK_ENOENT.
 */
int ik_irq_set_disable_unlazy(unsigned int irq, bool unlazy);

/**
 * ik_enable_irq - undo one ik_disable_irq()
 * At depth zero the line is unmasked and an interrupt that arrived while
 * disabled is replayed.
 *
 * Context: atomic (but not for lines behind a sleeping bus lock).
 * Return: 0; -IK_ENOENT; -IK_EINVAL if the line is not disabled, or only
 * by a storm back-off (unbalanced enable, nothing changes).
 */
int ik_enable_irq(unsigned int irq);

/**
 * ik_synchronize_irq - wait until no handler or thread of @irq is running
 * Context: sleepable.  Return: 0, -IK_ENOENT.
 */
int ik_synchronize_irq(unsigned int irq);

/**
 * ik_irq_set_affinity - set the CPUs an interrupt may be delivered to
 * @irq:  interrupt number
 * @mask: logical CPUs; intersected with the online CPUs
 *
 * Not activated interrupts only remember the mask.  Managed interrupts may
 * not be changed by drivers.  A chip that can only move in interrupt
 * context gets the move deferred to the next interrupt.
 *
 * Context: atomic-safe (takes the descriptor lock with interrupts off).
 * Return: 0; -IK_ENOENT; -IK_EINVAL (no online CPU in @mask); -IK_EPERM
 * (managed or per-CPU); -IK_ENOSYS (no chip level can set affinity);
 * -IK_ENOSPC (no vector on any CPU of @mask; the old setting stays).
 */
int ik_irq_set_affinity(unsigned int irq, const ik_cpumask_t *mask);

/**
 * ik_irq_get_effective_affinity - the CPUs the hardware currently targets
 * Return: 0, -IK_ENOENT.
 */
int ik_irq_get_effective_affinity(unsigned int irq, ik_cpumask_t *mask);

/**
 * ik_irq_get_affinity - the CPUs requested for @irq (by the driver, the
 * spreading of managed interrupts, or ik_irq_set_affinity()); reported
 * separately from the effective affinity, which is where the hardware
 * actually delivers (one CPU of this mask on x86).
 * Context: atomic-safe (takes the descriptor lock with interrupts off).
 * Return: 0, -IK_ENOENT.
 */
int ik_irq_get_affinity(unsigned int irq, ik_cpumask_t *mask);

/**
 * ik_irq_count_cpu - interrupts handled by @irq on @cpu (flow handler entries)
 * Context: any.  Return: the count, 0 for unknown irq or cpu.
 */
uint64_t ik_irq_count_cpu(unsigned int irq, unsigned int cpu);
/** ik_irq_count - sum of ik_irq_count_cpu() over all CPUs. */
uint64_t ik_irq_count(unsigned int irq);

/* Read-only state queries for views and tests. */
#define IK_IRQ_INFO_NAME_LEN 32
struct ik_irq_info {
	unsigned int irq;
	uint32_t state;       /* IK_IRQD_* */
	uint32_t istate;      /* IK_IRQS_* */
	unsigned int depth;
	unsigned int nr_actions;
	uint64_t unhandled;   /* current unhandled count of the spurious detector */
	uint64_t spurious_disables;
	uint64_t storms;      /* handled storms detected by the storm policy */
	const char *chip_name;
	const char *action_name;
};
/** ik_irq_get_info - snapshot of an interrupt's state. Return: 0, -IK_ENOENT. */
int ik_irq_get_info(unsigned int irq, struct ik_irq_info *info);

/**
 * ik_irq_for_each - call @fn for every allocated interrupt, in number order
 * Stops early if @fn returns non-zero and returns that value.  Context: sleepable.
 */
int ik_irq_for_each(int (*fn)(unsigned int irq, void *arg), void *arg);

/**
 * ik_core_init - initialise the interrupt core
 * Context: sleepable, once, before anything else.
 * Return: 0, -IK_ENOMEM, -IK_EBUSY if already initialised.
 */
int ik_core_init(void);
/**
 * ik_core_exit - free the core; every interrupt and domain must be gone
 * Return: 0, -IK_EBUSY if interrupts or domains remain (nothing freed).
 */
int ik_core_exit(void);

/*
 * Handled storms: a device stuck asserting while its handler keeps saying
 * IK_IRQ_HANDLED is invisible to the spurious detector.  A storm policy
 * (off by default) counts handled interrupts per window; more than
 * @max_per_window in @window_ns is a storm.
 */
enum ik_storm_action {
	IK_STORM_REPORT,        /* call @report and count, nothing else */
	IK_STORM_MASK_BACKOFF,  /* also mask the line for @backoff_ns */
};

struct ik_storm_policy {
	uint32_t max_per_window;        /* > 0 */
	uint64_t window_ns;             /* > 0 */
	enum ik_storm_action action;
	uint64_t backoff_ns;            /* > 0 for IK_STORM_MASK_BACKOFF */
	/*
	 * Optional; runs in hard interrupt context with the descriptor lock
	 * held: must not sleep nor call ik_* functions on @irq.  @count is
	 * the number of handled interrupts in the window that overflowed.
	 */
	void (*report)(unsigned int irq, uint64_t count, void *ctx);
	void *ctx;
};

/**
 * ik_irq_set_storm_policy - set, replace or remove the handled-storm policy
 * @irq:    interrupt number
 * @policy: copied; NULL removes the policy
 *
 * IK_STORM_MASK_BACKOFF: on a storm the line is disabled and masked at
 * once, IK_IRQS_STORM_BACKOFF is set and the policy holds one level of the
 * disable depth.  After @backoff_ns (sleepable context) that level is
 * dropped: at depth zero the line is unmasked and an interrupt latched in
 * the meantime is replayed.  Driver disables during a back-off nest on top
 * of it; a driver enable that would take the policy's level is unbalanced
 * (-IK_EINVAL from ik_enable_irq(), nothing changes).  Removing the policy
 * or freeing the last handler ends a back-off at once (the timer is
 * cancelled and waited for); the descriptor's free does the same.
 * Replacing a policy keeps a back-off in progress.
 *
 * Context: sleepable.
 * Return: 0; -IK_ENOENT (no such irq); -IK_EINVAL (zero max_per_window or
 * window_ns, unknown action, zero backoff_ns for MASK_BACKOFF);
 * -IK_ENOMEM (first policy of the line; nothing changes).
 */
int ik_irq_set_storm_policy(unsigned int irq, const struct ik_storm_policy *policy);

/* Spurious-detection thresholds (Linux's defaults); tests may tune them. */
struct ik_spurious_config {
	uint32_t window;         /* interrupts per evaluation window (100000) */
	uint32_t threshold;      /* unhandled in a window that disables (99900) */
	uint64_t aging_ns;       /* an unhandled interrupt after this long restarts the count (100 ms) */
};
void ik_spurious_set_config(const struct ik_spurious_config *cfg);

#endif /* IRQKIT_IRQ_H */
