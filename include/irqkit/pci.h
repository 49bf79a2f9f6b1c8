/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PCI functions: configuration space, BARs, MSI and MSI-X (incl. dynamic
 * MSI-X), power/disconnect state, restore after reset, and the sub-device
 * helper for drivers that add vectors on their parent function's MSI-X.
 *
 * A PCI function is an ik_device (named "SSSS:BB:DD.F", requester id =
 * bdf) whose bus data is the PCI layer's state.  Everything is done through
 * configuration and BAR accesses (ik_os_pci_cfg_read/write,
 * ik_os_mmio_*): the library programs the function exactly as it would
 * program real hardware.
 *
 * MSI and MSI-X each get a per-device MSI domain at IK_MSI_DEFAULT_DOMAIN,
 * created from a const template (PCI-MSI, PCI-MSIX) below the device's MSI
 * parent (ik_device_msi_parent(): the vector domain or remapping).  One of
 * the two is active at a time; switching replaces the domain.
 *
 * Lifetimes.  Interrupt vectors belong to the driver bound to the function:
 * ik_pci_alloc_irq_vectors() registers a device-managed action that frees
 * them when the driver unbinds (after the handlers, which the driver freed
 * or which its own, newer, device-managed actions free first).  Vectors
 * allocated on an unbound function make ik_device_bind() refuse it
 * (-IK_EEXIST): nobody would ever release them.  Sub-devices (port
 * services, CXL PMU, NTB ports, ...) use ik_devm_pci_msix_alloc_irq_at(),
 * which ties one dynamically allocated vector of the parent function to the
 * child's driver.
 *
 * Locking.  All functions are sleepable (they take the device's MSI lock
 * and sleep in the hierarchy) unless documented otherwise.  Chip callbacks
 * (mask, unmask, message writes) run in atomic context and update the
 * shared MSI mask register under a per-function spinlock.
 *
 * Errors are negative IK_E* values.  Every failure leaves the function and
 * the library as they were.
 */
#ifndef IRQKIT_PCI_H
#define IRQKIT_PCI_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>
#include <irqkit/msi.h>

#define IK_PCI_BDF(bus, dev, fn)                                                 \
	((uint16_t)((((unsigned int)(bus) & 0xFFu) << 8) | (((unsigned int)(dev) & 0x1Fu) << 3) | \
		    ((unsigned int)(fn) & 7u)))
#define IK_PCI_NUM_BARS 6u

/* Standard configuration registers drivers may need (PCI Local Bus 3.0). */
#define IK_PCI_VENDOR_ID      0x00
#define IK_PCI_DEVICE_ID      0x02
#define IK_PCI_COMMAND        0x04
#define  IK_PCI_COMMAND_MEMORY       0x0002u
#define  IK_PCI_COMMAND_MASTER       0x0004u
#define  IK_PCI_COMMAND_INTX_DISABLE 0x0400u
#define IK_PCI_STATUS         0x06
#define  IK_PCI_STATUS_CAP_LIST      0x0010u
#define IK_PCI_HEADER_TYPE    0x0E
#define IK_PCI_BAR0           0x10
#define IK_PCI_CAP_PTR        0x34
#define IK_PCI_CAP_ID_PM      0x01
#define IK_PCI_CAP_ID_MSI     0x05
#define IK_PCI_CAP_ID_MSIX    0x11

/* ---- Functions ------------------------------------------------------------ */

/**
 * ik_pci_device_create - probe a function and create its device
 * @parent:  parent device (a bridge, a host) or NULL; the new device
 *           inherits its MSI parent domain (see ik_device_set_msi_parent())
 * @segment: PCI segment (domain)
 * @bdf:     bus << 8 | device << 3 | function (IK_PCI_BDF())
 * @out:     the new device, named "SSSS:BB:DD.F"
 *
 * Reads the header, sizes the BARs (with memory decode off for the
 * duration, as firmware does) and walks the capability list.  The walk is
 * defensive: a pointer into the header, a loop, a capability running past
 * the 256-byte header, a second MSI or MSI-X capability, or known
 * capabilities overlapping reject the function (bits 1:0 of pointers are
 * reserved and ignored, as the specification says).  The MSI-X table/PBA
 * layout is checked when MSI-X is enabled (ik_pci_check_msix()).
 * No device-managed resource is created: a driver can bind afterwards.
 *
 * Context: sleepable.
 * Return: 0; -IK_ENODEV (no function responds at @bdf); -IK_EINVAL (bad
 * argument, malformed header or capability list; logged); -IK_ENOMEM.
 */
int ik_pci_device_create(struct ik_device *parent, uint16_t segment, uint16_t bdf,
			 struct ik_device **out);

/**
 * ik_pci_device_destroy - unplug the device of a function
 * Destroys the children, unbinds the driver (releasing its vectors), then
 * frees the device and its PCI state (the same as ik_device_destroy(),
 * which also frees the PCI state of every function in a destroyed
 * subtree).  A
 * surprise-removed function should be marked with ik_pci_set_disconnected()
 * first, so teardown does not touch it.
 * Context: sleepable.
 */
void ik_pci_device_destroy(struct ik_device *dev);

/** ik_dev_is_pci - true if @dev was created by ik_pci_device_create(). Any context. */
bool ik_dev_is_pci(const struct ik_device *dev);
/** Segment and bdf of a PCI device.  Any context. */
uint16_t ik_pci_segment(const struct ik_device *dev);
uint16_t ik_pci_bdf(const struct ik_device *dev);
uint16_t ik_pci_vendor_id(const struct ik_device *dev);
uint16_t ik_pci_device_id(const struct ik_device *dev);

/**
 * ik_pci_read_config / ik_pci_write_config - configuration access
 * @size: 1, 2 or 4; @offset aligned to it, < 4096.
 * A disconnected function is not accessed: reads return all-ones and
 * -IK_ENODEV, writes are dropped with -IK_ENODEV.
 * Context: any.  Return: 0; -IK_EINVAL; -IK_ENODEV.
 */
int ik_pci_read_config(struct ik_device *dev, uint16_t offset, unsigned int size,
		       uint32_t *value);
int ik_pci_write_config(struct ik_device *dev, uint16_t offset, unsigned int size,
			uint32_t value);

/** ik_pci_find_capability - offset of capability @cap_id (found at create), or 0. */
uint8_t ik_pci_find_capability(const struct ik_device *dev, uint8_t cap_id);

/**
 * ik_pci_enable_device - turn on memory decode (the BARs become reachable)
 * ik_pci_disable_device - turn memory decode and bus mastering off
 * Context: sleepable.  Return: 0; -IK_ENODEV (disconnected).
 */
int ik_pci_enable_device(struct ik_device *dev);
void ik_pci_disable_device(struct ik_device *dev);

/**
 * ik_pcim_enable_device - ik_pci_enable_device(), undone when the driver
 * unbinds (device-managed: the disable runs after everything the driver
 * acquired later, so the BARs stay reachable for their teardown).
 * Context: sleepable, from a probe.
 * Return: 0; -IK_EINVAL (not a PCI device); -IK_ENODEV (disconnected);
 * -IK_ENOMEM (decode is turned off again).
 */
int ik_pcim_enable_device(struct ik_device *dev);

/** ik_pci_set_master / ik_pci_clear_master - Bus Master Enable (messages need it). */
void ik_pci_set_master(struct ik_device *dev);
void ik_pci_clear_master(struct ik_device *dev);

/* BAR resources, sized at create.  Flags: */
#define IK_PCI_RES_MEM      IK_BIT(0) /* an implemented memory BAR */
#define IK_PCI_RES_MEM64    IK_BIT(1) /* 64-bit BAR (occupies @bar and @bar + 1) */
#define IK_PCI_RES_PREFETCH IK_BIT(2)
#define IK_PCI_RES_UPPER    IK_BIT(3) /* the upper half of the 64-bit BAR below */

/**
 * ik_pci_resource_start - physical base of BAR @bar (0 if unimplemented,
 * the upper half of a 64-bit BAR, or out of range)
 * ik_pci_resource_len   - its size in bytes (0 likewise)
 * ik_pci_resource_flags - IK_PCI_RES_* (0 for unimplemented)
 * Any context.
 */
uint64_t ik_pci_resource_start(const struct ik_device *dev, unsigned int bar);
uint64_t ik_pci_resource_len(const struct ik_device *dev, unsigned int bar);
uint32_t ik_pci_resource_flags(const struct ik_device *dev, unsigned int bar);

/* ---- Power, presence, quirks ------------------------------------------- */

enum ik_pci_power_state {
	IK_PCI_D0 = 0,
	IK_PCI_D3HOT = 3,
};

/**
 * ik_pci_set_power_state - move the function to D0 or D3hot
 * In D3hot the MSI layer does not touch the function: message writes
 * (affinity changes) and mask changes are only cached, and are written by
 * ik_pci_restore_msi_state() after the return to D0 (a function may lose
 * its state in D3; the caller restores it, as after a reset).  Writes the
 * PM capability's PMCSR if the function has one.
 * Context: sleepable.  Return: 0; -IK_EINVAL; -IK_ENODEV (disconnected).
 */
int ik_pci_set_power_state(struct ik_device *dev, enum ik_pci_power_state state);
enum ik_pci_power_state ik_pci_power_state(const struct ik_device *dev);

/**
 * ik_pci_set_disconnected - the function was surprise-removed
 * From now on no configuration or BAR access is made for @dev: message and
 * mask updates are cached only, teardown skips the hardware.  Irreversible
 * (a re-plugged function gets a new device).  Context: any.
 */
void ik_pci_set_disconnected(struct ik_device *dev);
bool ik_pci_is_disconnected(const struct ik_device *dev);

/* Quirks (set before enabling MSI/MSI-X). */
#define IK_PCI_QUIRK_NO_64BIT_MSI IK_BIT(0) /* MSI/MSI-X address must be below 4 GiB */
#define IK_PCI_QUIRK_NO_MSI       IK_BIT(1) /* MSI is broken: never use it */
#define IK_PCI_QUIRK_NO_MSIX      IK_BIT(2) /* MSI-X is broken: never use it */
void ik_pci_set_quirks(struct ik_device *dev, uint32_t quirks);
uint32_t ik_pci_quirks(const struct ik_device *dev);

/* ---- Interrupt vectors --------------------------------------------------- */

#define IK_PCI_IRQ_MSI      IK_BIT(1)
#define IK_PCI_IRQ_MSIX     IK_BIT(2)
#define IK_PCI_IRQ_AFFINITY IK_BIT(3) /* spread vectors over the CPUs as managed interrupts */
#define IK_PCI_IRQ_ALL_TYPES (IK_PCI_IRQ_MSI | IK_PCI_IRQ_MSIX)

/*
 * With IK_PCI_IRQ_AFFINITY: the first @pre_vectors and the last
 * @post_vectors vectors are not spread (not managed, default affinity);
 * the others are spread evenly over the possible CPUs and managed.
 */
struct ik_irq_affinity_spread {
	unsigned int pre_vectors;
	unsigned int post_vectors;
};

/**
 * ik_pci_alloc_irq_vectors - enable MSI-X or MSI with @min..@max vectors
 * @flags:  IK_PCI_IRQ_MSIX and/or IK_PCI_IRQ_MSI (MSI-X tried first),
 *          optionally IK_PCI_IRQ_AFFINITY
 * @spread: NULL or the vectors to leave out of spreading
 *
 * MSI-X is tried first (if asked for); MSI if the function has no MSI-X or
 * MSI-X cannot be had (malformed capability, too few vectors, ...), as
 * Linux does.
 * MSI-X: vectors 0..n-1 of the table (n <= table size); the function is
 * enabled with Function Mask set, every table entry is masked before the
 * Function Mask is cleared, and each entry stays masked until its
 * interrupt is requested.  Fewer vectors than asked are taken if that is
 * all the platform can give (at least @min): an allocation that runs out
 * of vectors (-IK_ENOSPC) is rolled back and retried with what it got.
 * Memory decode must be on (ik_pci_enable_device()).
 * MSI: a power of two of vectors (rounded down from what can be had, at
 * most the capability's maximum), one block, falling back to 1 vector when
 * the MSI parent cannot do multi-vector MSI.  Address and data are
 * programmed before MSI Enable.  Non-maskable MSI functions work; a flood
 * is then handled by lazy disable and spurious detection.
 *
 * The vectors are a device-managed resource of @dev (freed at unbind).
 * A refused request leaves nothing behind (on an unbound function, not
 * even the MSI data that would make ik_device_bind() refuse it).
 *
 * Context: sleepable.
 * Return: the number of vectors (>= @min); -IK_EINVAL (bad arguments,
 * vectors already enabled -- MSI cannot be resized, call
 * ik_pci_free_irq_vectors() first -- a malformed MSI-X capability or
 * memory decode off; logged with the device and the defect); -IK_ENODEV
 * (disconnected, no MSI parent); -IK_EIO (not in D0; or a 32-bit-only
 * function -- 32-bit MSI capability or IK_PCI_QUIRK_NO_64BIT_MSI -- was
 * given an address above 4 GiB; logged); -IK_ENOSPC (fewer than @min
 * vectors available, or @min > 1 MSI vectors on a parent without
 * multi-MSI); -IK_ENOTSUPP (neither MSI-X nor MSI usable); -IK_ENOMEM.
 */
int ik_pci_alloc_irq_vectors(struct ik_device *dev, unsigned int min, unsigned int max,
			     unsigned int flags, const struct ik_irq_affinity_spread *spread);

/**
 * ik_pci_free_irq_vectors - disable MSI-X / MSI and free every vector
 * (including dynamically allocated ones).  Handlers must have been freed;
 * if any vector still has one, nothing is freed (warning).  No-op if
 * nothing is enabled.  Removes the device-managed action; on a function
 * without a driver also the MSI data, so that it can be bound again.
 * Context: sleepable.
 */
void ik_pci_free_irq_vectors(struct ik_device *dev);

/**
 * ik_pci_irq_vector - interrupt number of vector @nr
 * MSI: @nr < the vectors enabled; MSI-X: the table entry @nr.
 * Return: the irq; -IK_EINVAL (nothing enabled, @nr out of range or not
 * allocated).
 */
int ik_pci_irq_vector(struct ik_device *dev, unsigned int nr);

/** True if MSI / MSI-X is enabled by the library on @dev. */
bool ik_pci_msi_enabled(const struct ik_device *dev);
bool ik_pci_msix_enabled(const struct ik_device *dev);
/** Vectors the capability offers (MSI: 1..32; MSI-X: table size), or -IK_EINVAL if none. */
int ik_pci_msi_vec_count(struct ik_device *dev);
int ik_pci_msix_vec_count(struct ik_device *dev);

/* ---- Dynamic MSI-X ---------------------------------------------------------- */

/**
 * ik_pci_msix_can_alloc_dyn - true if @dev has MSI-X and its MSI parent
 * supports allocating MSI-X vectors after enable (remapping and the x86
 * vector domain do; an ITS-like translator does not).
 */
bool ik_pci_msix_can_alloc_dyn(struct ik_device *dev);

/**
 * ik_pci_msix_alloc_irq_at - allocate one MSI-X vector while MSI-X is enabled
 * @index:    table entry, or IK_MSI_ANY_INDEX for the lowest free one
 * @affinity: NULL or the vector's affinity (copied)
 *
 * The entry is written masked and stays masked until its interrupt is
 * requested; no other entry is touched.  Belongs to the function's driver
 * (freed with the other vectors); see ik_devm_pci_msix_alloc_irq_at() for
 * sub-devices.
 *
 * Context: sleepable.
 * Return: {index, irq}; or {-error, 0}: -IK_ENOTSUPP (MSI-X not enabled,
 * or the parent cannot allocate dynamically); -IK_ERANGE (@index beyond
 * the table); -IK_EBUSY (@index in use); -IK_ENOSPC (table full, no
 * vector); -IK_ENOMEM.
 */
struct ik_msi_map ik_pci_msix_alloc_irq_at(struct ik_device *dev, uint32_t index,
					   const struct ik_irq_affinity_desc *affinity);

/**
 * ik_pci_msix_free_irq - free one MSI-X vector allocated with the call above
 * (or at enable).  The entry is deactivated (zero message) and left masked.
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (invalid map, or not allocated: a double free is
 * warned about and changes nothing); -IK_EBUSY (a handler is still
 * installed: nothing freed); -IK_ENOTSUPP (MSI-X not enabled).
 */
int ik_pci_msix_free_irq(struct ik_device *dev, struct ik_msi_map map);

/**
 * ik_devm_pci_msix_alloc_irq_at - a vector of @pci_dev's MSI-X for a sub-device
 * @owner:   the child device whose driver uses the vector; the vector is
 *           freed when that driver unbinds (a device-managed action on
 *           @owner), exactly that vector and nothing else
 * @pci_dev: the PCI function (its driver enabled MSI-X)
 *
 * If the function's MSI-X was disabled meanwhile (its driver unbound), the
 * action finds its vector gone and does nothing.
 * Context: sleepable.  Return: as ik_pci_msix_alloc_irq_at(); -IK_ENOMEM
 * if the action cannot be registered (nothing allocated).
 */
struct ik_msi_map ik_devm_pci_msix_alloc_irq_at(struct ik_device *owner,
						struct ik_device *pci_dev, uint32_t index,
						const struct ik_irq_affinity_desc *affinity);

/* ---- Reset and restore -------------------------------------------------- */

/**
 * ik_pci_restore_msi_state - reprogram MSI / MSI-X after a function-level
 * reset or a return from D3
 * MSI-X: Enable + Function Mask, every cached message and vector-control
 * word rewritten (sparse entries kept at their indices), Function Mask
 * cleared.  MSI: address, data, mask bits, multiple message enable, then
 * MSI Enable.  Also restores Memory Space and Bus Master Enable as the
 * library last set them.  No-op if nothing is enabled.
 * Context: sleepable.  Return: 0; -IK_ENODEV (disconnected); -IK_EIO (not
 * in D0).
 */
int ik_pci_restore_msi_state(struct ik_device *dev);

/* ---- Low level: configuration parsing (shared with the fuzzer) ------------- */

/* Configuration access for the parser: the real function, or a fuzzer's buffer. */
struct ik_pci_cfg_access {
	int (*read)(void *ctx, uint16_t offset, unsigned int size, uint32_t *value);
	int (*write)(void *ctx, uint16_t offset, unsigned int size, uint32_t value);
	void *ctx;
};

struct ik_pci_bar_info {
	uint64_t start;
	uint64_t len;
	uint32_t flags;         /* IK_PCI_RES_* */
};

struct ik_pci_msix_layout {
	uint8_t cap;            /* 0: no MSI-X capability */
	uint16_t table_size;    /* entries */
	uint8_t table_bir, pba_bir;
	uint32_t table_offset, pba_offset;
	uint64_t table_phys, pba_phys; /* valid only if ik_pci_check_msix() said so */
};

struct ik_pci_config {
	uint16_t vendor_id, device_id;
	uint8_t header_type;
	uint8_t pm_cap, msi_cap;
	uint16_t msi_flags;     /* MSI Message Control at create */
	struct ik_pci_msix_layout msix;
	struct ik_pci_bar_info bars[IK_PCI_NUM_BARS];
};

/**
 * ik_pci_parse_config - read a function's header, size its BARs and walk
 * its capability list
 * @acc:  configuration access (the BAR sizing writes go through @acc->write)
 * @name: for log lines (the device name)
 * @out:  the result
 *
 * Never trusts the content: any value of any register gives either a
 * result or an error, never an out-of-range access.
 * Context: sleepable.  Return: 0; -IK_ENODEV (vendor id all-ones or 0);
 * -IK_EINVAL (malformed header or capability list; logged).
 */
int ik_pci_parse_config(const struct ik_pci_cfg_access *acc, const char *name,
			struct ik_pci_config *out);

/**
 * ik_pci_check_msix - validate an MSI-X layout against the BARs
 * Rejects: BIR 6/7, a BIR naming an unimplemented BAR or the upper half of
 * a 64-bit BAR, a table or PBA beyond its BAR, a PBA too small for the
 * table, table and PBA overlapping.  Fills table_phys / pba_phys.
 * Return: 0; -IK_EINVAL (logged with @name and the defect); -IK_ENODEV
 * (no MSI-X capability).
 */
int ik_pci_check_msix(const struct ik_pci_config *cfg, const char *name,
		      struct ik_pci_msix_layout *layout);

#endif /* IRQKIT_PCI_H */
