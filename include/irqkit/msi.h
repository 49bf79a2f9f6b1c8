/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The MSI core: per-device message-signalled interrupt data, descriptors,
 * per-device MSI domains built from templates, and the allocation engine.
 *
 * Model.  A device owns its MSI data: one sleepable lock and, per device
 * domain id (IK_MSI_DEFAULT_DOMAIN for PCI MSI/MSI-X, IK_MSI_SECONDARY_DOMAIN
 * for IMS, more for NTB windows or other stores), one sparse index store of
 * descriptors and one per-device domain.  The index is the hardware slot
 * (the MSI-X table entry, the IMS slot, the NTB window slot) and is also the
 * domain's hwirq.  Everything specific to a storage lives in the domain's
 * template: its chip (write message, mask, unmask, optional bus lock and
 * sync unlock) and its ops (prepare a descriptor, ...).  Shared code never
 * asks what kind of storage it is talking to.
 *
 * Templates are const; creating a device domain copies the template, and
 * the MSI parent (the platform: vector domain, interrupt remapping, an
 * ITS-like translator) restricts and extends the copy: it ANDs the flags
 * with what it supports, ORs in what it requires, and fills in the chip
 * callbacks that belong to it (ack, affinity, retrigger, masking at the
 * destination).
 *
 * Masking is declared, not coded: IK_MSI_FLAG_MASK_SOURCE says the storage
 * can mask (the chip's irq_mask/irq_unmask act on the device),
 * IK_MSI_FLAG_MASK_PARENT says masking must (also) happen at the parent.
 * The core composes the domain's mask callbacks once, at creation: source,
 * parent, both, or none.  A store that has mask callbacks but does not
 * declare IK_MSI_FLAG_MASK_SOURCE (runtime masking happens at the parent)
 * has its own mask opened at startup and closed at shutdown only.
 *
 * Locking.  ik_msi_lock_descs() takes the device's MSI lock (a sleepable
 * mutex).  Every descriptor operation and every iterator needs it; the
 * iterator cursor is invalidated on unlock, so an iteration cannot be
 * resumed outside the locked region.  The *_locked functions assert it.
 * Chip callbacks run in atomic context and must not take it.
 */
#ifndef IRQKIT_MSI_H
#define IRQKIT_MSI_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

/* Device domain ids. */
#define IK_MSI_DEFAULT_DOMAIN       0u /* PCI MSI / MSI-X, platform device MSI */
#define IK_MSI_SECONDARY_DOMAIN     1u /* IMS */
#define IK_MSI_MAX_DEVICE_DOMAINS   4u /* further ids for NTB windows and others */

#define IK_MSI_MAX_INDEX 65535u         /* indices are 0..IK_MSI_MAX_INDEX */
#define IK_MSI_ANY_INDEX 0xFFFFFFFFu    /* allocate at the lowest free index */

/* ---- Flags (ik_msi_domain_info.flags) ---------------------------------- */

/* Generic, bits 0-15: any parent keeps them. */
#define IK_MSI_FLAG_USE_DEF_DOM_OPS   IK_BIT(0)  /* fill unset ops with defaults */
#define IK_MSI_FLAG_USE_DEF_CHIP_OPS  IK_BIT(1)  /* chip needs write_msi_msg; defaults for the rest */
#define IK_MSI_FLAG_ACTIVATE_EARLY    IK_BIT(2)  /* write the message at allocation */
#define IK_MSI_FLAG_MUST_REACTIVATE   IK_BIT(3)  /* reservation mode: activate for real at request */
#define IK_MSI_FLAG_ALLOC_SIMPLE_DESCS IK_BIT(4) /* the core creates descriptors for a range */
#define IK_MSI_FLAG_FREE_DESCS        IK_BIT(5)  /* the core frees descriptors with the irqs */
#define IK_MSI_FLAG_MASK_SOURCE       IK_BIT(6)  /* the storage masks (chip irq_mask/unmask) */
#define IK_MSI_FLAG_MASK_PARENT       IK_BIT(7)  /* mask at the parent (destination) */
#define IK_MSI_FLAG_NOREQUEST_UNTIL_ENABLE IK_BIT(8) /* reserved */
#define IK_MSI_GENERIC_FLAGS_MASK     0x0000FFFFu

/* Parent-restricted, bits 16-31: kept only if the parent supports them. */
#define IK_MSI_FLAG_MULTI_PCI_MSI     IK_BIT(16) /* multi-vector MSI (aligned block) */
#define IK_MSI_FLAG_PCI_MSIX          IK_BIT(17)
#define IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN IK_BIT(18) /* MSI-X allocation after enable */
#define IK_MSI_FLAG_NO_AFFINITY       IK_BIT(19) /* the store cannot be steered per vector */
#define IK_MSI_FLAG_MSIX_CONTIGUOUS   IK_BIT(20) /* MSI-X entries must be 0..n-1 */
#define IK_MSI_FLAG_DEVICE_MSI        IK_BIT(21) /* device-specific store (IMS, NTB, HPET) */

/* Kinds of storage (ik_msi_domain_info.bus_token); a parent selects them. */
enum ik_msi_bus_token {
	IK_MSI_BUS_NONE = 0,
	IK_MSI_BUS_PCI_MSI,
	IK_MSI_BUS_PCI_MSIX,
	IK_MSI_BUS_IMS,
	IK_MSI_BUS_NTB,
	IK_MSI_BUS_DEVICE,      /* platform device MSI (HPET, DMAR, ...) */
	IK_MSI_BUS_NR
};

/* ---- Descriptors --------------------------------------------------------- */

struct ik_irq_affinity_desc;

/* PCI MSI / MSI-X state the PCI layer caches in a descriptor. */
struct ik_pci_msi_desc {
	uint32_t mask_cache;    /* MSI: mask bits register; MSI-X: vector control word */
	uint16_t mask_pos;      /* MSI: config offset of the mask bits register */
	uint8_t is_64;          /* MSI: 64-bit address capable */
	uint8_t can_mask;       /* per-vector masking available */
	uint8_t multiple;       /* MSI: log2 of the vectors enabled */
	uint8_t multi_cap;      /* MSI: log2 of the vectors capable */
	uint64_t entry;         /* MSI-X: physical address of the table entry */
};

struct ik_msi_desc {
	unsigned int irq;       /* first interrupt; 0 = not associated */
	unsigned int nvec_used; /* > 1 only for multi-vector PCI MSI */
	uint32_t index;         /* slot in the storage; the device domain's hwirq */
	unsigned int domid;
	bool prepared;          /* core-private: prepare_desc ran */
	struct ik_device *dev;
	struct ik_msi_msg msg;  /* last message written (restore after reset) */
	struct ik_irq_affinity_desc *affinity; /* nvec_used entries or NULL; core-owned */
	union {
		struct ik_pci_msi_desc pci;
		struct {
			uint64_t dcookie; /* private to the domain (slot address, ...) */
			uint64_t icookie; /* from the allocation call (a PASID, ...) */
		} data;
	};
};

/* Result of a single-slot allocation: index < 0 is the error, virq 0. */
struct ik_msi_map {
	int index;
	unsigned int virq;
};

enum ik_msi_desc_filter {
	IK_MSI_DESC_ALL,
	IK_MSI_DESC_NOTASSOCIATED,
	IK_MSI_DESC_ASSOCIATED,
};

/* Argument passed down the hierarchy by the engine (domain alloc arg). */
struct ik_msi_alloc_info {
	struct ik_msi_desc *desc;
	struct ik_device *dev;   /* its requester id / aliases select IR source ids */
	uint64_t hwirq;
	uint32_t flags;          /* IK_MSI_ALLOC_* */
	uint64_t scratch[2];     /* for parent levels (e.g. an IRTE base) */
};
#define IK_MSI_ALLOC_CONTIGUOUS IK_BIT(0) /* nvec_used > 1: one aligned block */

/* ---- Domains: info, ops, templates, parents ---------------------------- */

struct ik_msi_domain_info;

struct ik_msi_domain_ops {
	/* hwirq of an allocation; default: the descriptor's index. */
	uint64_t (*get_hwirq)(struct ik_msi_domain_info *info, struct ik_msi_alloc_info *arg);
	/*
	 * Set up one interrupt at this level; default: hwirq, chip, chip_data,
	 * flow handler.  Sleepable, under the hierarchy's mutex.
	 */
	int (*msi_init)(struct ik_irq_domain *domain, struct ik_msi_domain_info *info,
			unsigned int virq, uint64_t hwirq, struct ik_msi_alloc_info *arg);
	void (*msi_free)(struct ik_irq_domain *domain, struct ik_msi_domain_info *info,
			 unsigned int virq);
	/*
	 * Complete a descriptor before its interrupts are allocated (compute a
	 * slot address into dcookie, read the current mask state, ...) and undo
	 * that before the descriptor is freed.  Sleepable, MSI lock held.
	 */
	int (*prepare_desc)(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
			    struct ik_msi_desc *desc);
	void (*release_desc)(struct ik_irq_domain *domain, struct ik_msi_desc *desc);
	/* Load the descriptor into the allocation argument; default: arg->desc = desc. */
	void (*set_desc)(struct ik_msi_alloc_info *arg, struct ik_msi_desc *desc);
};

struct ik_msi_domain_info {
	uint32_t flags;                 /* IK_MSI_FLAG_* */
	enum ik_msi_bus_token bus_token;
	uint32_t hwsize;                /* indices 0..hwsize-1; 0 = IK_MSI_MAX_INDEX + 1 */
	struct ik_msi_domain_ops *ops;  /* the domain's own copy */
	struct ik_irq_chip *chip;       /* the domain's own copy */
	void *chip_data;
	ik_irq_flow_handler_t handler;  /* set by the parent if NULL */
	void *handler_data;
	void *data;                     /* the store's private data (slot base, ...) */
	struct ik_device *dev;
	/* The store's own mask callbacks, kept by the core when it composes. */
	void (*source_mask)(struct ik_irq_data *data);
	void (*source_unmask)(struct ik_irq_data *data);
};

struct ik_msi_domain_template {
	char name[24];                  /* e.g. "PCI-MSIX", "IMS", "NTB" */
	struct ik_irq_chip chip;
	struct ik_msi_domain_ops ops;
	struct ik_msi_domain_info info; /* flags, bus_token, hwsize */
};

/* The platform side: attached to a domain flagged IK_IRQ_DOMAIN_FLAG_MSI_PARENT. */
struct ik_msi_parent_ops {
	uint32_t supported_flags;       /* parent-restricted bits it allows */
	uint32_t required_flags;        /* bits it forces on */
	uint32_t bus_select_mask;       /* IK_BIT(IK_MSI_BUS_*) it accepts as children */
	const char *prefix;             /* domain name prefix, e.g. "IR-" */
	/*
	 * Restrict and extend @info for a device domain being created under
	 * @domain; @real_parent is the domain that will be the device domain's
	 * parent (differs from @domain when an intermediate level forwards the
	 * call to its own parent).  Sleepable.  Return 0 or a negative error
	 * (the device domain is not created).
	 */
	int (*init_dev_msi_info)(struct ik_device *dev, struct ik_irq_domain *domain,
				 struct ik_irq_domain *real_parent,
				 struct ik_msi_domain_info *info);
};

/**
 * ik_msi_parent_set_ops - make @domain an MSI parent with @ops
 * Sets IK_IRQ_DOMAIN_FLAG_MSI_PARENT semantics for ik_msi_create_device_domain().
 * Context: sleepable, before any device domain is created under @domain.
 * Return: 0; -IK_EINVAL.
 */
int ik_msi_parent_set_ops(struct ik_irq_domain *domain, const struct ik_msi_parent_ops *ops);
/** The MSI parent ops of @domain, or NULL. */
const struct ik_msi_parent_ops *ik_msi_parent_get_ops(const struct ik_irq_domain *domain);

/**
 * ik_msi_lib_init_dev_msi_info - the generic parent behaviour
 * For a root parent's init_dev_msi_info.  (The core has already checked the
 * storage kind against the real parent's bus_select_mask and applied its
 * supported/required flags: the real parent, not the root, decides what is
 * offered, so an intermediate level such as remapping can extend the root.)
 * Checks that the chip can write messages and installs what is missing:
 * ack and retrigger through the parent, the affinity callback (unless
 * IK_MSI_FLAG_NO_AFFINITY), IK_IRQCHIP_AFFINITY_PRE_STARTUP, and the edge
 * flow handler.
 * Return: 0; -IK_EINVAL (the chip cannot write messages).
 */
int ik_msi_lib_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
				 struct ik_irq_domain *real_parent,
				 struct ik_msi_domain_info *info);

/**
 * ik_msi_parent_init_dev_msi_info - for an intermediate parent (remapping):
 * forward to its own parent's init_dev_msi_info with @real_parent unchanged,
 * then let the intermediate's supported/required flags apply.
 */
int ik_msi_parent_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
				    struct ik_irq_domain *real_parent,
				    struct ik_msi_domain_info *info);

/**
 * ik_msi_domain_set_affinity - the default affinity callback of device domains
 * Sets the affinity at the parent; unless the parent reports
 * IK_IRQ_SET_MASK_OK_DONE (the message did not change), composes the new
 * message and writes it through the chip.  Context: atomic, descriptor lock.
 */
int ik_msi_domain_set_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask, bool force);

/**
 * ik_msi_domain_write_msg - compose @data's message from the parent levels,
 * write it through the chip and cache it in the descriptor.
 * Context: atomic, descriptor lock held.
 */
void ik_msi_domain_write_msg(struct ik_irq_data *data);

/* ---- Per-device MSI data -------------------------------------------- */

/**
 * ik_msi_setup_device_data - give @dev its MSI data (idempotent)
 * The data is a device-managed resource: unbinding the driver removes the
 * device domains and frees what is left.
 * Context: sleepable.  Return: 0; -IK_EINVAL; -IK_ENOMEM.
 */
int ik_msi_setup_device_data(struct ik_device *dev);

/**
 * ik_msi_release_device_data - release @dev's MSI data now, as an unbind
 * would: every device domain is removed (with what is left in it) and the
 * device-managed resource goes.  For bus layers that had to set the data
 * up on a device without a driver and must not leave it behind (a device
 * with device-managed resources cannot be bound).  No-op without data.
 * Context: sleepable, MSI lock not held.
 */
void ik_msi_release_device_data(struct ik_device *dev);

/** Take / drop the device's MSI lock (sleepable mutex). */
void ik_msi_lock_descs(struct ik_device *dev);
void ik_msi_unlock_descs(struct ik_device *dev);
/** True if the caller may rely on the MSI lock being held (lockdep builds). */
bool ik_msi_descs_locked(struct ik_device *dev);

/**
 * ik_msi_first_desc / ik_msi_next_desc - iterate one domain's descriptors in
 * index order.  MSI lock held; the cursor is reset by ik_msi_unlock_descs(),
 * after which ik_msi_next_desc() returns NULL.  Freeing the current
 * descriptor during the walk is allowed.
 */
struct ik_msi_desc *ik_msi_first_desc(struct ik_device *dev, unsigned int domid,
				      enum ik_msi_desc_filter filter);
struct ik_msi_desc *ik_msi_next_desc(struct ik_device *dev, unsigned int domid,
				     enum ik_msi_desc_filter filter);
#define ik_msi_for_each_desc(desc, dev, domid, filter)                          \
	for ((desc) = ik_msi_first_desc((dev), (domid), (filter)); (desc);        \
	     (desc) = ik_msi_next_desc((dev), (domid), (filter)))

/** ik_msi_find_desc - the descriptor at @index or NULL.  MSI lock held. */
struct ik_msi_desc *ik_msi_find_desc(struct ik_device *dev, unsigned int domid, uint32_t index);

/**
 * ik_msi_insert_desc - insert a descriptor built by a bus layer
 * Copies @init (its irq must be 0) to a new core-owned descriptor at
 * @index (or the lowest free index for IK_MSI_ANY_INDEX).  Context:
 * sleepable, MSI lock held.
 * Return: the index; -IK_EINVAL; -IK_ERANGE (beyond the domain's hwsize);
 * -IK_EBUSY (index in use); -IK_ENOSPC (no free index); -IK_ENOMEM.
 */
int ik_msi_insert_desc(struct ik_device *dev, unsigned int domid, const struct ik_msi_desc *init,
		       uint32_t index);

/**
 * ik_msi_free_descs_range - free the unassociated descriptors in [first, last]
 * Associated ones are left alone (with a warning).  MSI lock held.
 */
void ik_msi_free_descs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
			     uint32_t last);

/* ---- Device domains ---------------------------------------------------- */

/**
 * ik_msi_create_device_domain - create the per-device domain @domid of @dev
 * @tmpl:       const template, copied
 * @hwsize:     number of indices (0 = the template's; then 0 = 65536)
 * @domain_data: stored in info.data
 * @chip_data:  stored in info.chip_data
 *
 * The parent is ik_device_msi_parent(@dev), which must have MSI parent ops;
 * its init_dev_msi_info shapes the copy.  The name is the parent's prefix,
 * the template name, '-', the device name.
 *
 * Context: sleepable; takes the MSI lock.
 * Return: 0; -IK_EINVAL (bad id or template, no MSI parent, the parent
 * refuses this storage); -IK_EEXIST (the id already has a domain);
 * -IK_ENOMEM.  Sets up the device's MSI data if needed.
 */
int ik_msi_create_device_domain(struct ik_device *dev, unsigned int domid,
				const struct ik_msi_domain_template *tmpl, uint32_t hwsize,
				void *domain_data, void *chip_data);

/**
 * ik_msi_remove_device_domain - free all interrupts and descriptors of the
 * domain, then remove it.  No-op if there is none.  Handlers must be freed.
 * Context: sleepable; takes the MSI lock.
 */
void ik_msi_remove_device_domain(struct ik_device *dev, unsigned int domid);

/** The device domain @domid of @dev, or NULL.  Context: any (stable while bound). */
struct ik_irq_domain *ik_msi_get_device_domain(struct ik_device *dev, unsigned int domid);
/** The shaped info of a device domain (flags after the parent's say). */
const struct ik_msi_domain_info *ik_msi_get_domain_info(const struct ik_irq_domain *domain);

/* ---- Allocation engine ----------------------------------------------- */

/**
 * ik_msi_domain_alloc_irqs_range_locked - allocate interrupts for the
 * descriptors in [first, last] of domain @domid
 *
 * With IK_MSI_FLAG_ALLOC_SIMPLE_DESCS the core first creates descriptors for
 * every index of the range that has none; otherwise the bus layer has
 * inserted them.  Each descriptor not yet associated gets its nvec_used
 * interrupts, activated at once with IK_MSI_FLAG_ACTIVATE_EARLY (reservation
 * mode where the hierarchy allows it), or left for request time.  Managed
 * interrupts whose mask has no online CPU are shut down, not activated.
 *
 * Any failure frees everything the call allocated (and the descriptors it
 * created); @nr_done, if not NULL, receives the number of descriptors that
 * had succeeded before the failure (a bus layer may retry with that many).
 *
 * Context: sleepable, MSI lock held.
 * Return: 0; -IK_EINVAL (bad id/range, no domain); -IK_ERANGE (beyond
 * hwsize); -IK_ENOMEM; -IK_ENOSPC; a level's error.
 */
int ik_msi_domain_alloc_irqs_range_locked(struct ik_device *dev, unsigned int domid,
					  uint32_t first, uint32_t last, unsigned int *nr_done);
int ik_msi_domain_alloc_irqs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
				   uint32_t last, unsigned int *nr_done);

/**
 * ik_msi_domain_alloc_irq_at - allocate one descriptor and its interrupt
 * @index:    the slot, or IK_MSI_ANY_INDEX for the lowest free one
 * @affinity: NULL or the interrupt's affinity (copied)
 * @icookie:  stored in desc->data.icookie for the store's prepare_desc
 *
 * The domain must create descriptors itself (ALLOC_SIMPLE_DESCS) or the bus
 * layer prepares them through prepare_desc.  On failure nothing remains.
 * Context: sleepable; takes the MSI lock.
 * Return: {index, virq}, or {-error, 0}: -IK_ENODEV (no such domain);
 * -IK_ERANGE (index beyond hwsize); -IK_EBUSY (index in use); -IK_ENOSPC
 * (no free index, no vector); -IK_ENOMEM; a level's error.
 */
struct ik_msi_map ik_msi_domain_alloc_irq_at(struct ik_device *dev, unsigned int domid,
					     uint32_t index,
					     const struct ik_irq_affinity_desc *affinity,
					     uint64_t icookie);
struct ik_msi_map ik_msi_domain_alloc_irq_at_locked(struct ik_device *dev, unsigned int domid,
						    uint32_t index,
						    const struct ik_irq_affinity_desc *affinity,
						    uint64_t icookie);

/**
 * ik_msi_domain_free_irqs_range_locked - free the interrupts of the
 * associated descriptors in [first, last]
 * Deactivates, frees the hierarchy, disassociates, and with
 * IK_MSI_FLAG_FREE_DESCS frees the descriptors.  Idempotent: unassociated
 * descriptors are skipped, so a second free is a no-op.  A descriptor whose
 * interrupt still has a handler is left allocated with a warning (freeing
 * it would pull the interrupt from under its handler).
 * Context: sleepable, MSI lock held.
 * Return: the number of descriptors freed; -IK_EINVAL (bad id/range);
 * -IK_EBUSY (a handler was still installed on one of them).
 */
int ik_msi_domain_free_irqs_range_locked(struct ik_device *dev, unsigned int domid,
					 uint32_t first, uint32_t last);
int ik_msi_domain_free_irqs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
				  uint32_t last);
/** Everything in the domain. */
int ik_msi_domain_free_irqs_all_locked(struct ik_device *dev, unsigned int domid);
int ik_msi_domain_free_irqs_all(struct ik_device *dev, unsigned int domid);

/**
 * ik_msi_get_virq - interrupt number of slot @index of domain @domid
 * For multi-vector MSI, index i < nvec_used of the descriptor at 0 maps to
 * its i-th interrupt.  Context: sleepable; takes the MSI lock.
 * Return: the irq; -IK_ENOENT (no interrupt there); -IK_EINVAL.
 */
int ik_msi_get_virq(struct ik_device *dev, unsigned int domid, uint32_t index);

/** ik_irq_get_msi_desc - the descriptor of an MSI interrupt, or NULL. Any context. */
struct ik_msi_desc *ik_irq_get_msi_desc(unsigned int irq);

/* ---- Introspection -------------------------------------------------- */

struct ik_msi_irq_info {
	unsigned int domid;
	const char *mode;       /* "msi", "msix", "ims", "ntb", "device" */
	const char *domain;     /* device domain name */
	uint32_t index;
	unsigned int irq;
	bool masked;            /* masked at the source or the parent (core's view) */
	bool pending;           /* the store reports a pending message */
	bool started;           /* a handler is requested and the interrupt runs */
};

/**
 * ik_msi_device_for_each_irq - report every interrupt of every device domain
 * of @dev (domain id order, then index order).  Stops at the first non-zero
 * return of @fn and returns it.  @fn runs under the MSI lock and must not
 * allocate or free MSI interrupts of @dev.
 * Context: sleepable.
 */
int ik_msi_device_for_each_irq(struct ik_device *dev,
			       int (*fn)(const struct ik_msi_irq_info *info, void *arg),
			       void *arg);

#endif /* IRQKIT_MSI_H */
