/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Devices, drivers and device-managed resources.
 *
 * A device is whatever owns interrupt resources: a PCI function, a
 * sub-device of one (an NTB port, a CXL PMU, a work queue), a platform
 * block.  Devices form a tree.  A driver binds to a device; what the
 * driver acquires through the device-managed API is released in reverse
 * order when it unbinds, so a probe that fails halfway or a driver that
 * forgets a free cannot leak interrupts.
 *
 * Resources must not exist on a device before a driver binds to it: the
 * resources would have no owner to release them (the seed 003 problem).
 * ik_device_bind() refuses such a device.  Core services that need
 * interrupts before a child driver binds work the other way round: the
 * service binds to the parent function and creates child devices, whose
 * drivers then add interrupts on the parent's MSI-X through the dynamic
 * allocation API (include/irqkit/pci.h).
 *
 * Locking: each device has a sleepable lock serialising bind and unbind;
 * the device-managed list has its own spinlock.  None of these functions
 * may be called in atomic context.
 */
#ifndef IRQKIT_DEVICE_H
#define IRQKIT_DEVICE_H

#include <irqkit/env.h>

struct ik_device;
struct ik_irq_domain;

/* Maximum DMA aliases (extra requester ids) per device. */
#define IK_DEVICE_MAX_DMA_ALIASES 8
/* Maximum length of a device name, including the terminator. */
#define IK_DEVICE_NAME_MAX 32

struct ik_driver {
	const char *name;
	/*
	 * Bind to @dev.  Sleepable.  On failure everything acquired through the
	 * device-managed API is released in reverse order.
	 */
	int (*probe)(struct ik_device *dev);
	/* Optional; runs before the device-managed resources are released. */
	void (*remove)(struct ik_device *dev);
};

/**
 * ik_device_create - create a device
 * @parent: parent device or NULL.  A child inherits the parent's requester
 *          id, DMA aliases and MSI parent domain (each may be changed).
 * @name:   copied (truncated to IK_DEVICE_NAME_MAX - 1 characters)
 * @out:    the new device
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (NULL name or @out); -IK_ENOMEM.
 */
int ik_device_create(struct ik_device *parent, const char *name, struct ik_device **out);

/**
 * ik_device_destroy - unplug a device
 * Destroys the children first (depth first, newest first), unbinds the
 * driver if one is bound, releases what is left on the device-managed list
 * and frees the device.  @dev must not be used afterwards.
 *
 * Context: sleepable, not from the device's own probe or remove.
 */
void ik_device_destroy(struct ik_device *dev);

/**
 * ik_device_bind - bind @drv to @dev and run its probe
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (NULL argument or no probe); -IK_EBUSY (a driver is
 * already bound); -IK_EEXIST (device-managed resources already exist on
 * the device: they were acquired without a driver and nothing would ever
 * release them); the probe's error (the device is left unbound with its
 * device-managed resources released).
 */
int ik_device_bind(struct ik_device *dev, const struct ik_driver *drv);

/**
 * ik_device_unbind - run remove and release device-managed resources
 * Children are not touched: their drivers own their resources.
 * Context: sleepable.  Return: 0; -IK_ENODEV (no driver bound).
 */
int ik_device_unbind(struct ik_device *dev);

/* Accessors (any context; the device must stay alive). */
const char *ik_device_name(const struct ik_device *dev);
struct ik_device *ik_device_parent(const struct ik_device *dev);
const struct ik_driver *ik_device_driver(const struct ik_device *dev);
void *ik_device_get_drvdata(const struct ik_device *dev);
void ik_device_set_drvdata(struct ik_device *dev, void *data);

/*
 * Bus data: the bus layer (PCI) keeps its per-device state here.  One bus
 * layer per device; set once before a driver binds.  @release, if not
 * NULL, runs when the device is destroyed (after its driver unbound and
 * its children are gone), so unplugging a subtree frees every level's bus
 * state.
 */
void *ik_device_bus_data(const struct ik_device *dev);
void ik_device_set_bus_data(struct ik_device *dev, void *data,
			    void (*release)(struct ik_device *dev, void *data));

/**
 * ik_device_set_requester_id - the id the device's bus-master writes carry
 * @segment: PCI segment (domain)
 * @rid:     bus << 8 | device << 3 | function
 */
void ik_device_set_requester_id(struct ik_device *dev, uint16_t segment, uint16_t rid);
/** Return: true and the id if the device has one. */
bool ik_device_requester_id(const struct ik_device *dev, uint16_t *segment, uint16_t *rid);

/**
 * ik_device_add_dma_alias - another requester id the device's writes may carry
 * (a bridge taking ownership, an NTB proxy id).  Adding one twice is a no-op.
 * Return: 0; -IK_ENOSPC (IK_DEVICE_MAX_DMA_ALIASES reached).
 */
int ik_device_add_dma_alias(struct ik_device *dev, uint16_t rid);
/** Return: the number of aliases, copying up to @max of them to @rids. */
unsigned int ik_device_dma_aliases(const struct ik_device *dev, uint16_t *rids, unsigned int max);

/**
 * ik_device_set_msi_parent - the MSI parent domain of the platform for @dev
 * (the vector domain, or interrupt remapping).  Per-device MSI domains of
 * @dev are created below it.  Children created later inherit it.
 */
void ik_device_set_msi_parent(struct ik_device *dev, struct ik_irq_domain *domain);
struct ik_irq_domain *ik_device_msi_parent(const struct ik_device *dev);

/**
 * ik_device_for_each_child - call @fn for each child, oldest first
 * Stops at the first non-zero return and returns it.  @fn must not create or
 * destroy children of @dev.
 */
int ik_device_for_each_child(struct ik_device *dev, int (*fn)(struct ik_device *child, void *arg),
			     void *arg);

/* ---- Device-managed resources ---------------------------------------- */

/**
 * ik_devm_add_action - run @action(@data) when the driver unbinds
 * Actions run newest first.  May be called on an unbound device, which then
 * cannot be bound until the action is removed (see ik_device_bind()).
 *
 * Context: sleepable.  Return: 0; -IK_EINVAL; -IK_ENOMEM (@action is not
 * run).
 */
int ik_devm_add_action(struct ik_device *dev, void (*action)(void *data), void *data);

/**
 * ik_devm_release_action - remove the newest matching action and run it
 * Return: 0; -IK_ENOENT (no such action; nothing run).
 */
int ik_devm_release_action(struct ik_device *dev, void (*action)(void *data), void *data);

/**
 * ik_devm_remove_action - remove the newest matching action without running it
 * Return: 0; -IK_ENOENT.
 */
int ik_devm_remove_action(struct ik_device *dev, void (*action)(void *data), void *data);

/** Number of device-managed resources held by @dev. */
unsigned int ik_devm_count(struct ik_device *dev);

#endif /* IRQKIT_DEVICE_H */
