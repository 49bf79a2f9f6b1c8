/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Provider-facing interrupt chip API: per-level interrupt data, chip
 * callbacks, flow handlers and parent-delegation helpers.
 *
 * Calling context of chip callbacks (the core guarantees it):
 *  - irq_bus_lock / irq_bus_sync_unlock: sleepable; bracket configuration
 *    (request, free, enable, disable) outside the descriptor lock.
 *    sync_unlock must push the recorded state to the hardware before it
 *    returns.  Affinity changes and flow-handler masking are NOT bracketed.
 *  - every other callback: atomic, descriptor lock held, local interrupts
 *    disabled; mask/unmask/ack/eoi may run in hard interrupt context.
 */
#ifndef IRQKIT_IRQCHIP_H
#define IRQKIT_IRQCHIP_H

#include <irqkit/cpumask.h>
#include <irqkit/irq.h>
#include <irqkit/msi_msg.h>
#include <irqkit/osl.h>

struct ik_irq_desc;
struct ik_irq_domain;
struct ik_irq_chip;

/* State bits shared by all levels of one interrupt (ik_irq_common_data.state). */
#define IK_IRQD_ACTIVATED            IK_BIT(0)  /* hardware programmed (outermost level) */
#define IK_IRQD_STARTED              IK_BIT(1)
#define IK_IRQD_DISABLED             IK_BIT(2)
#define IK_IRQD_MASKED               IK_BIT(3)
#define IK_IRQD_INPROGRESS           IK_BIT(4)  /* a flow handler runs the actions */
#define IK_IRQD_LEVEL                IK_BIT(5)
#define IK_IRQD_AFFINITY_MANAGED     IK_BIT(6)
#define IK_IRQD_MANAGED_SHUTDOWN     IK_BIT(7)
#define IK_IRQD_CAN_RESERVE          IK_BIT(8)
#define IK_IRQD_SINGLE_TARGET        IK_BIT(9)
#define IK_IRQD_AFFINITY_ON_ACTIVATE IK_BIT(10)
#define IK_IRQD_AFFINITY_SET         IK_BIT(11)
#define IK_IRQD_SETAFFINITY_PENDING  IK_BIT(12)
#define IK_IRQD_HANDLE_ENFORCE_IRQCTX IK_BIT(13)
#define IK_IRQD_RESEND_WHEN_IN_PROGRESS IK_BIT(14)
#define IK_IRQD_PER_CPU              IK_BIT(15)
#define IK_IRQD_NO_BALANCING         IK_BIT(16)

/* Core-private per-descriptor state (reported by ik_irq_get_info()). */
#define IK_IRQS_PENDING           IK_BIT(0) /* an edge arrived that was not handled yet */
#define IK_IRQS_REPLAY            IK_BIT(1) /* a retrigger is in flight */
#define IK_IRQS_ONESHOT           IK_BIT(2) /* masked until threads complete */
#define IK_IRQS_SPURIOUS_DISABLED IK_BIT(3)
#define IK_IRQS_NOREQUEST         IK_BIT(4) /* allocation not complete */
#define IK_IRQS_NOAUTOEN          IK_BIT(5)
#define IK_IRQS_DISABLE_UNLAZY    IK_BIT(6) /* mask at disable time, not lazily */
#define IK_IRQS_STORM_BACKOFF     IK_BIT(7) /* masked by the storm policy; holds one depth */

/* Common data: one per interrupt, shared by all hierarchy levels. */
struct ik_irq_common_data {
	uint32_t state;                 /* IK_IRQD_*, under the descriptor lock */
	void *handler_data;
	void *msi_desc;
	ik_cpumask_t affinity;          /* requested */
	ik_cpumask_t effective_affinity;/* what the hardware targets */
};

/* One per interrupt per hierarchy level. */
struct ik_irq_data {
	unsigned int irq;
	uint64_t hwirq;                 /* local to @domain */
	struct ik_irq_common_data *common;
	const struct ik_irq_chip *chip;
	struct ik_irq_domain *domain;
	struct ik_irq_data *parent_data;/* next level toward the root */
	void *chip_data;
};

/* Return values of irq_set_affinity. */
#define IK_IRQ_SET_MASK_OK        0 /* core copies the mask */
#define IK_IRQ_SET_MASK_OK_NOCOPY 1 /* chip updated the masks itself */
#define IK_IRQ_SET_MASK_OK_DONE   2 /* like OK, but levels above must not rewrite their message */

/* Chip flags. */
#define IK_IRQCHIP_ONESHOT_SAFE        IK_BIT(0) /* oneshot needs no mask/unmask */
#define IK_IRQCHIP_AFFINITY_PRE_STARTUP IK_BIT(1) /* set affinity before startup */
#define IK_IRQCHIP_MOVE_DEFERRED       IK_BIT(2) /* affinity moves only from the next interrupt */
#define IK_IRQCHIP_EOI_IF_HANDLED      IK_BIT(3)

struct ik_irq_chip {
	const char *name;
	unsigned int (*irq_startup)(struct ik_irq_data *data);
	void (*irq_shutdown)(struct ik_irq_data *data);
	void (*irq_enable)(struct ik_irq_data *data);
	void (*irq_disable)(struct ik_irq_data *data);
	void (*irq_ack)(struct ik_irq_data *data);
	void (*irq_mask)(struct ik_irq_data *data);
	void (*irq_unmask)(struct ik_irq_data *data);
	void (*irq_eoi)(struct ik_irq_data *data);
	int (*irq_set_affinity)(struct ik_irq_data *data, const ik_cpumask_t *dest, bool force);
	int (*irq_retrigger)(struct ik_irq_data *data);
	int (*irq_set_type)(struct ik_irq_data *data, unsigned int type);
	void (*irq_compose_msi_msg)(struct ik_irq_data *data, struct ik_msi_msg *msg);
	void (*irq_write_msi_msg)(struct ik_irq_data *data, const struct ik_msi_msg *msg);
	void (*irq_bus_lock)(struct ik_irq_data *data);
	void (*irq_bus_sync_unlock)(struct ik_irq_data *data);
	/* Read hardware state (IK_IRQCHIP_STATE_*); optional, atomic. */
	int (*irq_get_irqchip_state)(struct ik_irq_data *data, unsigned int which, bool *state);
	uint32_t flags;                 /* IK_IRQCHIP_* */
};

/* States for irq_get_irqchip_state. */
#define IK_IRQCHIP_STATE_PENDING 0u /* the source holds a message it could not send */
#define IK_IRQCHIP_STATE_MASKED  1u /* the source is masked */

/* Trigger types for irq_set_type. */
#define IK_IRQ_TYPE_NONE        0u
#define IK_IRQ_TYPE_EDGE_RISING 1u
#define IK_IRQ_TYPE_LEVEL_HIGH  4u

typedef void (*ik_irq_flow_handler_t)(struct ik_irq_desc *desc);

/* ---- Flow handlers: run from the entry path, descriptor not locked ------ */

/** ik_handle_edge_irq - edge flow: ack first, replay edges that arrive meanwhile. */
void ik_handle_edge_irq(struct ik_irq_desc *desc);
/** ik_handle_level_irq - level flow: mask+ack, handle, unmask. */
void ik_handle_level_irq(struct ik_irq_desc *desc);
/** ik_handle_fasteoi_irq - one EOI after handling (controllers with an active state). */
void ik_handle_fasteoi_irq(struct ik_irq_desc *desc);
/** ik_handle_simple_irq - no chip calls at all (demultiplexed children). */
void ik_handle_simple_irq(struct ik_irq_desc *desc);

/**
 * ik_generic_handle_irq_desc - run the flow handler of @desc
 * Context: hard interrupt context, local interrupts disabled.
 * Return: 0, or -IK_ENOENT if @desc has no flow handler (nothing was
 * acknowledged: the caller must end the interrupt itself).
 */
int ik_generic_handle_irq_desc(struct ik_irq_desc *desc);

/**
 * ik_generic_handle_irq - look up @irq and run its flow handler
 * Context: hard interrupt.  Return: 0, -IK_EINVAL for an unknown irq.
 */
int ik_generic_handle_irq(unsigned int irq);

/* ---- Accessors ---------------------------------------------------------- */

/** ik_irq_to_desc - descriptor of @irq or NULL. Context: any. */
struct ik_irq_desc *ik_irq_to_desc(unsigned int irq);
/** ik_irq_desc_get_irq_data - outermost level of @desc. */
struct ik_irq_data *ik_irq_desc_get_irq_data(struct ik_irq_desc *desc);
/** ik_irq_get_irq_data - outermost level of @irq, or NULL. */
struct ik_irq_data *ik_irq_get_irq_data(unsigned int irq);
/** ik_irq_data_to_desc - descriptor owning @data. */
struct ik_irq_desc *ik_irq_data_to_desc(const struct ik_irq_data *data);

static inline bool ik_irqd_test(const struct ik_irq_data *d, uint32_t bit)
{
	return (d->common->state & bit) != 0;
}
static inline void ik_irqd_set(struct ik_irq_data *d, uint32_t bit)
{
	d->common->state |= bit;
}
static inline void ik_irqd_clear(struct ik_irq_data *d, uint32_t bit)
{
	d->common->state &= ~bit;
}

/** ik_irq_data_update_effective_affinity - record the CPUs the hardware targets. */
void ik_irq_data_update_effective_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask);

/**
 * ik_irq_set_handler_locked - change the flow handler from a chip callback
 * Context: atomic, descriptor lock held.
 */
void ik_irq_set_handler_locked(struct ik_irq_data *data, ik_irq_flow_handler_t handler);

/* ---- CPUs as the core sees them (maintained by the arch layer) ---------- */

/** ik_cpu_set_online - mark a logical CPU online/offline. Context: any. */
void ik_cpu_set_online(unsigned int cpu, bool online);
/** ik_cpu_is_online - Context: any. */
bool ik_cpu_is_online(unsigned int cpu);
/** ik_cpu_online_mask - the online CPUs (read-only). */
const ik_cpumask_t *ik_cpu_online_mask(void);

/**
 * ik_irq_startup_managed_cpu - restart managed interrupts of a CPU that came
 * online (their mask includes @cpu and they were shut down for lack of an
 * online CPU).  A driver's disable is respected.  Context: sleepable.
 */
void ik_irq_affinity_online_cpu(unsigned int cpu);

/**
 * ik_irq_move_pending - complete a deferred affinity move (see
 * IK_IRQCHIP_MOVE_DEFERRED); called by the arch from the ack path.
 * Context: hard interrupt, descriptor lock held.
 */
void ik_irq_move_pending(struct ik_irq_desc *desc);

/**
 * ik_irq_do_set_affinity - program a new target through the chip, taking
 * the online mask into account unless @force.  Context: descriptor lock held.
 * Return: 0 or the chip's error.
 */
int ik_irq_do_set_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask, bool force);

/** ik_irq_desc_lock / unlock - the descriptor lock, for the arch layer. */
ik_irqflags_t ik_irq_desc_lock(struct ik_irq_desc *desc);
void ik_irq_desc_unlock(struct ik_irq_desc *desc, ik_irqflags_t flags);

/** ik_irq_desc_has_action - true if a handler is installed (lock held). */
bool ik_irq_desc_has_action(const struct ik_irq_desc *desc);

/**
 * ik_irq_shutdown_managed - shut a managed interrupt down and deactivate it
 * because no CPU of its mask is online.  Context: descriptor lock held.
 */
void ik_irq_shutdown_managed(struct ik_irq_desc *desc);

/* ---- Parent-delegation helpers: call the same method one level down ---- */

void ik_irq_chip_enable_parent(struct ik_irq_data *data);
void ik_irq_chip_disable_parent(struct ik_irq_data *data);
void ik_irq_chip_ack_parent(struct ik_irq_data *data);
void ik_irq_chip_mask_parent(struct ik_irq_data *data);
void ik_irq_chip_unmask_parent(struct ik_irq_data *data);
void ik_irq_chip_eoi_parent(struct ik_irq_data *data);
/** Return: the parent's answer, or -IK_ENOSYS if it has no irq_set_affinity. */
int ik_irq_chip_set_affinity_parent(struct ik_irq_data *data, const ik_cpumask_t *dest,
				    bool force);
/** Return: the parent's answer, or -IK_ENOSYS if it has no irq_set_type. */
int ik_irq_chip_set_type_parent(struct ik_irq_data *data, unsigned int type);

/**
 * ik_irq_chip_retrigger_hierarchy - retrigger through the first level,
 * from @data toward the root, whose chip has irq_retrigger.  A chip may
 * use this helper as its own irq_retrigger (to delegate); such levels are
 * skipped.
 * Return: that chip's answer (non-zero = retriggered in hardware), or 0.
 */
int ik_irq_chip_retrigger_hierarchy(struct ik_irq_data *data);

/**
 * ik_irq_chip_compose_msi_msg - compose the message of @data using the
 * first level, from @data toward the root, whose chip composes messages.
 * Return: 0, -IK_ENOSYS if no level composes.
 */
int ik_irq_chip_compose_msi_msg(struct ik_irq_data *data, struct ik_msi_msg *msg);

#endif /* IRQKIT_IRQCHIP_H */
