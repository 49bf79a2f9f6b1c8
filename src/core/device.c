// SPDX-License-Identifier: BSD-2-Clause
/*
 * Devices, driver binding and device-managed resources.
 */
#include "internals.h"

#include <irqkit/device.h>

struct devres {
	void (*action)(void *data);
	void *data;
	struct devres *prev;            /* older */
};

struct ik_device {
	char name[IK_DEVICE_NAME_MAX];
	struct ik_device *parent;
	struct ik_device *first_child;  /* oldest */
	struct ik_device *last_child;
	struct ik_device *next_sibling; /* newer */
	struct ik_device *prev_sibling;
	ik_mutex_t lock;                /* bind/unbind */
	const struct ik_driver *driver;
	void *drvdata;
	void *bus_data;
	void (*bus_release)(struct ik_device *dev, void *data);
	bool has_rid;
	uint16_t segment;
	uint16_t rid;
	unsigned int nr_aliases;
	uint16_t aliases[IK_DEVICE_MAX_DMA_ALIASES];
	struct ik_irq_domain *msi_parent;
	ik_spinlock_t devres_lock;
	struct devres *devres;          /* newest */
	unsigned int nr_devres;
	void *msi_data;                 /* src/msi/msi.c */
};

/* Guards every device's child list. */
static ik_spinlock_t tree_lock;
static bool tree_lock_ready;

static void tree_lock_init_once(void)
{
	/* Devices are created after ik_core_init(), single-threaded at first. */
	if (!tree_lock_ready) {
		ik_os_spin_init(&tree_lock);
		tree_lock_ready = true;
	}
}

int ik_device_create(struct ik_device *parent, const char *name, struct ik_device **out)
{
	struct ik_device *dev;
	ik_irqflags_t flags;
	size_t i;

	if (!name || !out)
		return -IK_EINVAL;
	dev = ik_os_alloc(sizeof(*dev));
	if (!dev)
		return -IK_ENOMEM;
	for (i = 0; i < sizeof(dev->name) - 1 && name[i]; i++)
		dev->name[i] = name[i];
	ik_os_mutex_init(&dev->lock);
	ik_os_spin_init(&dev->devres_lock);
	tree_lock_init_once();
	if (parent) {
		dev->has_rid = parent->has_rid;
		dev->segment = parent->segment;
		dev->rid = parent->rid;
		dev->nr_aliases = parent->nr_aliases;
		for (i = 0; i < parent->nr_aliases; i++)
			dev->aliases[i] = parent->aliases[i];
		dev->msi_parent = parent->msi_parent;
		dev->parent = parent;
		flags = ik_os_spin_lock_irqsave(&tree_lock);
		dev->prev_sibling = parent->last_child;
		if (parent->last_child)
			parent->last_child->next_sibling = dev;
		else
			parent->first_child = dev;
		parent->last_child = dev;
		ik_os_spin_unlock_irqrestore(&tree_lock, flags);
	}
	*out = dev;
	return 0;
}

/* Pop the newest device-managed resource, or NULL. */
static struct devres *devres_pop(struct ik_device *dev)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&dev->devres_lock);
	struct devres *dr = dev->devres;

	if (dr) {
		dev->devres = dr->prev;
		dev->nr_devres--;
	}
	ik_os_spin_unlock_irqrestore(&dev->devres_lock, flags);
	return dr;
}

/*
 * Actions run without the devres lock: an action may free interrupts,
 * which sleeps, or add and remove other actions of the same device.
 */
static void devres_release_all(struct ik_device *dev)
{
	struct devres *dr;

	while ((dr = devres_pop(dev))) {
		dr->action(dr->data);
		ik_os_free(dr);
	}
}

static void device_unbind_locked(struct ik_device *dev)
{
	IK_WARN_ON(!ik_os_mutex_held(&dev->lock));
	if (dev->driver && dev->driver->remove)
		dev->driver->remove(dev);
	devres_release_all(dev);
	dev->driver = NULL;
	dev->drvdata = NULL;
}

void ik_device_destroy(struct ik_device *dev)
{
	struct ik_device *child;
	ik_irqflags_t flags;

	if (!dev)
		return;
	for (;;) {
		flags = ik_os_spin_lock_irqsave(&tree_lock);
		child = dev->last_child;
		ik_os_spin_unlock_irqrestore(&tree_lock, flags);
		if (!child)
			break;
		ik_device_destroy(child);
	}
	ik_os_mutex_lock(&dev->lock);
	if (dev->driver)
		device_unbind_locked(dev);
	/* Resources acquired while unbound (a refused bind left them). */
	devres_release_all(dev);
	ik_os_mutex_unlock(&dev->lock);
	IK_WARN_ON(dev->msi_data != NULL);
	if (dev->bus_release)
		dev->bus_release(dev, dev->bus_data);

	if (dev->parent) {
		flags = ik_os_spin_lock_irqsave(&tree_lock);
		if (dev->prev_sibling)
			dev->prev_sibling->next_sibling = dev->next_sibling;
		else
			dev->parent->first_child = dev->next_sibling;
		if (dev->next_sibling)
			dev->next_sibling->prev_sibling = dev->prev_sibling;
		else
			dev->parent->last_child = dev->prev_sibling;
		ik_os_spin_unlock_irqrestore(&tree_lock, flags);
	}
	ik_os_mutex_destroy(&dev->lock);
	ik_os_free(dev);
}

int ik_device_bind(struct ik_device *dev, const struct ik_driver *drv)
{
	int ret;

	if (!dev || !drv || !drv->probe)
		return -IK_EINVAL;
	ik_os_mutex_lock(&dev->lock);
	if (dev->driver) {
		ret = -IK_EBUSY;
		goto out_unlock;
	}
	if (ik_devm_count(dev)) {
		ik_err("%s: resources present before binding %s: refusing to bind\n", dev->name,
		       drv->name ? drv->name : "driver");
		ret = -IK_EEXIST;
		goto out_unlock;
	}
	dev->driver = drv;
	ret = drv->probe(dev);
	if (ret) {
		/* A failed probe gets no remove call, only its resources released. */
		devres_release_all(dev);
		dev->driver = NULL;
		dev->drvdata = NULL;
	}
out_unlock:
	ik_os_mutex_unlock(&dev->lock);
	return ret;
}

int ik_device_unbind(struct ik_device *dev)
{
	int ret = 0;

	if (!dev)
		return -IK_EINVAL;
	ik_os_mutex_lock(&dev->lock);
	if (dev->driver)
		device_unbind_locked(dev);
	else
		ret = -IK_ENODEV;
	ik_os_mutex_unlock(&dev->lock);
	return ret;
}

const char *ik_device_name(const struct ik_device *dev)
{
	return dev->name;
}

struct ik_device *ik_device_parent(const struct ik_device *dev)
{
	return dev->parent;
}

const struct ik_driver *ik_device_driver(const struct ik_device *dev)
{
	return IK_READ_ONCE(dev->driver);
}

void *ik_device_get_drvdata(const struct ik_device *dev)
{
	return dev->drvdata;
}

void ik_device_set_drvdata(struct ik_device *dev, void *data)
{
	dev->drvdata = data;
}

void *ik_device_bus_data(const struct ik_device *dev)
{
	return dev->bus_data;
}

void ik_device_set_bus_data(struct ik_device *dev, void *data,
			    void (*release)(struct ik_device *dev, void *data))
{
	dev->bus_data = data;
	dev->bus_release = release;
}

void ik_device_set_requester_id(struct ik_device *dev, uint16_t segment, uint16_t rid)
{
	dev->segment = segment;
	dev->rid = rid;
	dev->has_rid = true;
}

bool ik_device_requester_id(const struct ik_device *dev, uint16_t *segment, uint16_t *rid)
{
	if (!dev->has_rid)
		return false;
	if (segment)
		*segment = dev->segment;
	if (rid)
		*rid = dev->rid;
	return true;
}

int ik_device_add_dma_alias(struct ik_device *dev, uint16_t rid)
{
	for (unsigned int i = 0; i < dev->nr_aliases; i++)
		if (dev->aliases[i] == rid)
			return 0;
	if (dev->nr_aliases == IK_DEVICE_MAX_DMA_ALIASES)
		return -IK_ENOSPC;
	dev->aliases[dev->nr_aliases++] = rid;
	return 0;
}

unsigned int ik_device_dma_aliases(const struct ik_device *dev, uint16_t *rids, unsigned int max)
{
	for (unsigned int i = 0; i < dev->nr_aliases && i < max; i++)
		rids[i] = dev->aliases[i];
	return dev->nr_aliases;
}

void ik_device_set_msi_parent(struct ik_device *dev, struct ik_irq_domain *domain)
{
	dev->msi_parent = domain;
}

struct ik_irq_domain *ik_device_msi_parent(const struct ik_device *dev)
{
	return dev->msi_parent;
}

int ik_device_for_each_child(struct ik_device *dev, int (*fn)(struct ik_device *child, void *arg),
			     void *arg)
{
	struct ik_device *child;
	int ret;

	/* The caller keeps the child list stable (see the header). */
	for (child = dev->first_child; child; child = child->next_sibling) {
		ret = fn(child, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int ik_devm_add_action(struct ik_device *dev, void (*action)(void *data), void *data)
{
	struct devres *dr;
	ik_irqflags_t flags;

	if (!dev || !action)
		return -IK_EINVAL;
	dr = ik_os_alloc(sizeof(*dr));
	if (!dr)
		return -IK_ENOMEM;
	dr->action = action;
	dr->data = data;
	flags = ik_os_spin_lock_irqsave(&dev->devres_lock);
	dr->prev = dev->devres;
	dev->devres = dr;
	dev->nr_devres++;
	ik_os_spin_unlock_irqrestore(&dev->devres_lock, flags);
	return 0;
}

static struct devres *devres_unlink(struct ik_device *dev, void (*action)(void *data), void *data)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&dev->devres_lock);
	struct devres **link = &dev->devres, *dr;

	for (dr = *link; dr; link = &dr->prev, dr = *link) {
		if (dr->action == action && dr->data == data) {
			*link = dr->prev;
			dev->nr_devres--;
			break;
		}
	}
	ik_os_spin_unlock_irqrestore(&dev->devres_lock, flags);
	return dr;
}

int ik_devm_release_action(struct ik_device *dev, void (*action)(void *data), void *data)
{
	struct devres *dr = devres_unlink(dev, action, data);

	if (!dr)
		return -IK_ENOENT;
	dr->action(dr->data);
	ik_os_free(dr);
	return 0;
}

int ik_devm_remove_action(struct ik_device *dev, void (*action)(void *data), void *data)
{
	struct devres *dr = devres_unlink(dev, action, data);

	if (!dr)
		return -IK_ENOENT;
	ik_os_free(dr);
	return 0;
}

unsigned int ik_devm_count(struct ik_device *dev)
{
	return IK_READ_ONCE(dev->nr_devres);
}

/* For the MSI core (internals.h). */
void **ik_device_msi_data_slot(struct ik_device *dev)
{
	return &dev->msi_data;
}
