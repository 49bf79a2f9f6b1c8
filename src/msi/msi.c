// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-device MSI data, descriptors and the allocation engine.
 *
 * The descriptor store of a device domain is keyed by the hardware index.
 * Descriptors are created and freed only here: by ik_msi_insert_desc() for
 * bus layers that describe their storage themselves (PCI MSI and MSI-X read
 * the capability), or by the engine for domains with
 * IK_MSI_FLAG_ALLOC_SIMPLE_DESCS (IMS, NTB windows).
 *
 * Everything below runs under the device's MSI lock, a sleepable mutex:
 * allocation reaches ik_irq_domain_alloc_irqs(), which sleeps.  Chip
 * callbacks never take it, so the lock order is
 *   MSI lock -> hierarchy mutex -> descriptor lock.
 */
#include "msi_internal.h"

static void msi_device_data_release(void *data);

struct msi_device_data *msi_dev_data(struct ik_device *dev)
{
	return dev ? *ik_device_msi_data_slot(dev) : NULL;
}

int ik_msi_setup_device_data(struct ik_device *dev)
{
	struct msi_device_data *md;
	int ret;

	if (!dev)
		return -IK_EINVAL;
	if (msi_dev_data(dev))
		return 0;
	md = ik_os_alloc(sizeof(*md));
	if (!md)
		return -IK_ENOMEM;
	ik_os_mutex_init(&md->lock);
	md->dev = dev;
	md->iter_idx = MSI_ITER_INVALID;
	for (unsigned int i = 0; i < IK_MSI_MAX_DEVICE_DOMAINS; i++)
		ik_xa_init(&md->domains[i].store);
	ret = ik_devm_add_action(dev, msi_device_data_release, dev);
	if (ret) {
		ik_os_mutex_destroy(&md->lock);
		ik_os_free(md);
		return ret;
	}
	*ik_device_msi_data_slot(dev) = md;
	return 0;
}

/*
 * Unbind (or a failed probe): the device's interrupts go with its driver.
 * Removing a domain frees whatever the driver left allocated; a descriptor
 * that is still associated after that (a handler still installed) is
 * leaked on purpose rather than freed under its handler.
 */
static void msi_device_data_release(void *data)
{
	struct ik_device *dev = data;
	struct msi_device_data *md = msi_dev_data(dev);

	for (unsigned int i = 0; i < IK_MSI_MAX_DEVICE_DOMAINS; i++)
		ik_msi_remove_device_domain(dev, i);
	for (unsigned int i = 0; i < IK_MSI_MAX_DEVICE_DOMAINS; i++) {
		if (md->domains[i].store.nr_entries) {
			ik_err("irqkit: %s: %llu MSI descriptors left in domain %u at release\n",
			       ik_device_name(dev),
			       (unsigned long long)md->domains[i].store.nr_entries, i);
			continue;
		}
		ik_xa_destroy(&md->domains[i].store);
	}
	*ik_device_msi_data_slot(dev) = NULL;
	ik_os_mutex_destroy(&md->lock);
	ik_os_free(md);
}

void ik_msi_release_device_data(struct ik_device *dev)
{
	if (msi_dev_data(dev))
		ik_devm_release_action(dev, msi_device_data_release, dev);
}

void ik_msi_lock_descs(struct ik_device *dev)
{
	struct msi_device_data *md = msi_dev_data(dev);

	if (md)
		ik_os_mutex_lock(&md->lock);
}

void ik_msi_unlock_descs(struct ik_device *dev)
{
	struct msi_device_data *md = msi_dev_data(dev);

	if (!md)
		return;
	/* An iteration cannot survive the lock: invalidate the cursor. */
	md->iter_idx = MSI_ITER_INVALID;
	ik_os_mutex_unlock(&md->lock);
}

bool ik_msi_descs_locked(struct ik_device *dev)
{
	struct msi_device_data *md = msi_dev_data(dev);

	return md && ik_os_mutex_held(&md->lock);
}

static struct msi_dev_domain *msi_domain_slot(struct msi_device_data *md, unsigned int domid)
{
	if (!md || domid >= IK_MSI_MAX_DEVICE_DOMAINS)
		return NULL;
	return &md->domains[domid];
}

static bool desc_matches(const struct ik_msi_desc *desc, enum ik_msi_desc_filter filter)
{
	switch (filter) {
	case IK_MSI_DESC_ALL:
		return true;
	case IK_MSI_DESC_NOTASSOCIATED:
		return desc->irq == 0;
	case IK_MSI_DESC_ASSOCIATED:
		return desc->irq != 0;
	}
	return false;
}

static struct ik_msi_desc *msi_find_from(struct msi_device_data *md, unsigned int domid,
					 enum ik_msi_desc_filter filter)
{
	struct ik_xa *store = &md->domains[domid].store;
	struct ik_msi_desc *desc;

	for (;;) {
		desc = ik_xa_find(store, &md->iter_idx, IK_MSI_MAX_INDEX);
		if (!desc) {
			md->iter_idx = MSI_ITER_INVALID;
			return NULL;
		}
		if (desc_matches(desc, filter))
			return desc;
		md->iter_idx++;
	}
}

struct ik_msi_desc *ik_msi_first_desc(struct ik_device *dev, unsigned int domid,
				      enum ik_msi_desc_filter filter)
{
	struct msi_device_data *md = msi_dev_data(dev);

	if (!msi_domain_slot(md, domid))
		return NULL;
	if (msi_assert_locked(md))
		return NULL;
	md->iter_idx = 0;
	md->iter_domid = domid;
	return msi_find_from(md, domid, filter);
}

struct ik_msi_desc *ik_msi_next_desc(struct ik_device *dev, unsigned int domid,
				     enum ik_msi_desc_filter filter)
{
	struct msi_device_data *md = msi_dev_data(dev);

	if (!msi_domain_slot(md, domid))
		return NULL;
	if (msi_assert_locked(md))
		return NULL;
	if (md->iter_idx == MSI_ITER_INVALID || md->iter_domid != domid)
		return NULL;
	md->iter_idx++;
	return msi_find_from(md, domid, filter);
}

struct ik_msi_desc *ik_msi_find_desc(struct ik_device *dev, unsigned int domid, uint32_t index)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);

	if (!slot || msi_assert_locked(md))
		return NULL;
	return ik_xa_load(&slot->store, index);
}

/* Number of indices of the domain (65536 when it has none yet). */
static uint32_t msi_domain_hwsize(struct msi_dev_domain *slot)
{
	const struct ik_msi_domain_info *info;

	if (!slot->domain)
		return IK_MSI_MAX_INDEX + 1;
	info = ik_msi_get_domain_info(slot->domain);
	return info->hwsize ? info->hwsize : IK_MSI_MAX_INDEX + 1;
}

void msi_desc_free(struct ik_msi_desc *desc)
{
	ik_os_free(desc->affinity);
	ik_os_free(desc);
}

/* Allocate a descriptor with a private copy of @nvec affinity entries. */
static struct ik_msi_desc *msi_desc_alloc(struct ik_device *dev, unsigned int nvec,
					  const struct ik_irq_affinity_desc *affinity)
{
	struct ik_msi_desc *desc = ik_os_alloc(sizeof(*desc));

	if (!desc)
		return NULL;
	desc->dev = dev;
	desc->nvec_used = nvec;
	if (affinity) {
		desc->affinity = ik_os_alloc(sizeof(*affinity) * nvec);
		if (!desc->affinity) {
			ik_os_free(desc);
			return NULL;
		}
		ik_memcpy(desc->affinity, affinity, sizeof(*affinity) * nvec);
	}
	return desc;
}

/* Store @desc at @index (or the lowest free index); frees nothing on failure. */
static int msi_store_desc(struct msi_dev_domain *slot, struct ik_msi_desc *desc, uint32_t index)
{
	uint32_t hwsize = msi_domain_hwsize(slot);
	uint64_t idx = index;
	int ret;

	if (index == IK_MSI_ANY_INDEX) {
		if (ik_xa_find_free(&slot->store, 0, hwsize - 1, &idx))
			return -IK_ENOSPC;
	} else if (index >= hwsize) {
		return -IK_ERANGE;
	}
	ret = ik_xa_insert(&slot->store, idx, desc);
	if (ret == -IK_EEXIST)
		return -IK_EBUSY;
	if (ret)
		return ret;
	desc->index = (uint32_t)idx;
	return (int)idx;
}

int ik_msi_insert_desc(struct ik_device *dev, unsigned int domid, const struct ik_msi_desc *init,
		       uint32_t index)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);
	struct ik_msi_desc *desc;
	unsigned int nvec;
	int ret;

	if (!slot || !init || init->irq)
		return -IK_EINVAL;
	if (msi_assert_locked(md))
		return -IK_EINVAL;
	nvec = init->nvec_used ? init->nvec_used : 1;
	desc = msi_desc_alloc(dev, nvec, init->affinity);
	if (!desc)
		return -IK_ENOMEM;
	desc->msg = init->msg;
	desc->pci = init->pci;  /* the whole bus/cookie union */
	desc->domid = domid;
	ret = msi_store_desc(slot, desc, index);
	if (ret < 0)
		msi_desc_free(desc);
	return ret;
}

static void msi_release_desc(struct msi_dev_domain *slot, struct ik_msi_desc *desc)
{
	const struct ik_msi_domain_info *info;

	ik_xa_erase(&slot->store, desc->index);
	if (desc->prepared && slot->domain) {
		info = ik_msi_get_domain_info(slot->domain);
		if (info->ops->release_desc)
			info->ops->release_desc(slot->domain, desc);
	}
	msi_desc_free(desc);
}

void ik_msi_free_descs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
			     uint32_t last)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);
	struct ik_msi_desc *desc;
	uint64_t idx = first;

	if (!slot || msi_assert_locked(md) || first > last)
		return;
	while ((desc = ik_xa_find(&slot->store, &idx, last))) {
		if (desc->irq)
			ik_warn("irqkit: %s: MSI descriptor %u still has irq %u: not freed\n",
				ik_device_name(dev), desc->index, desc->irq);
		else
			msi_release_desc(slot, desc);
		if (idx == last)
			break;
		idx++;
	}
}

/* ---- Engine ------------------------------------------------------------- */

/*
 * Reservation mode: a masked store can be given a placeholder target at
 * allocation and the real vector only at request time, so allocated but
 * unused interrupts cost no vector.  A store that cannot mask must get a
 * real vector at once: a stray message would otherwise hit the placeholder.
 */
static bool msi_can_reserve(const struct ik_msi_domain_info *info)
{
	return (info->flags & IK_MSI_FLAG_MUST_REACTIVATE) &&
	       (info->flags & IK_MSI_FLAG_MASK_SOURCE);
}

static int msi_init_virq(const struct ik_msi_domain_info *info, unsigned int virq,
			 bool can_reserve)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(virq);
	struct ik_irq_data *data = ik_irq_get_irq_data(virq);
	ik_cpumask_t online;
	ik_irqflags_t flags;
	bool reserve;
	int ret = 0;

	if (!(info->flags & IK_MSI_FLAG_ACTIVATE_EARLY))
		return 0;
	flags = ik_irq_desc_lock(desc);
	if (ik_irqd_test(data, IK_IRQD_AFFINITY_MANAGED) &&
	    !ik_cpumask_and(&online, &data->common->affinity, ik_cpu_online_mask())) {
		/* Started when a CPU of its mask comes online. */
		ik_irqd_set(data, IK_IRQD_MANAGED_SHUTDOWN);
		goto out_unlock;
	}
	reserve = can_reserve && ik_irqd_test(data, IK_IRQD_CAN_RESERVE);
	ret = ik_irq_domain_activate_irq(data, reserve);
	/* Reserved: the real activation happens at request time. */
	if (!ret && reserve)
		ik_irqd_clear(data, IK_IRQD_ACTIVATED);
out_unlock:
	ik_irq_desc_unlock(desc, flags);
	return ret;
}

static void msi_deactivate_virq(unsigned int virq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(virq);
	ik_irqflags_t flags = ik_irq_desc_lock(desc);

	ik_irq_domain_deactivate_irq(ik_irq_get_irq_data(virq));
	ik_irq_desc_unlock(desc, flags);
}

/* Free the interrupts of one associated descriptor.  -IK_EBUSY: a handler is installed. */
static int msi_free_desc_irqs(struct ik_msi_desc *desc)
{
	unsigned int i;
	int ret;

	for (i = 0; i < desc->nvec_used; i++) {
		if (ik_irq_desc_has_action(ik_irq_to_desc(desc->irq + i))) {
			ik_warn("irqkit: %s: irq %u still has a handler: MSI %u not freed\n",
				ik_device_name(desc->dev), desc->irq + i, desc->index);
			return -IK_EBUSY;
		}
	}
	for (i = 0; i < desc->nvec_used; i++)
		msi_deactivate_virq(desc->irq + i);
	ret = ik_irq_domain_free_irqs(desc->irq, desc->nvec_used);
	if (IK_WARN_ON(ret))
		return ret;
	/* The irq numbers are gone: only the descriptor's own field remains. */
	desc->irq = 0;
	return 0;
}

static int msi_alloc_desc_irqs(struct ik_irq_domain *domain, struct ik_msi_domain_info *info,
			       struct ik_msi_desc *desc, bool can_reserve)
{
	struct ik_msi_alloc_info arg;
	unsigned int i;
	int virq, ret;

	ik_memset(&arg, 0, sizeof(arg));
	arg.dev = desc->dev;
	if (!desc->prepared && info->ops->prepare_desc) {
		ret = info->ops->prepare_desc(domain, &arg, desc);
		if (ret)
			return ret;
		desc->prepared = true;
	}
	info->ops->set_desc(&arg, desc);
	if (desc->nvec_used > 1)
		arg.flags |= IK_MSI_ALLOC_CONTIGUOUS;
	virq = ik_irq_domain_alloc_irqs(domain, desc->nvec_used, desc->affinity, &arg);
	if (virq < 0)
		return virq;
	desc->irq = (unsigned int)virq;
	for (i = 0; i < desc->nvec_used; i++)
		ik_irq_get_irq_data(desc->irq + i)->common->msi_desc = desc;
	for (i = 0; i < desc->nvec_used; i++) {
		ret = msi_init_virq(info, desc->irq + i, can_reserve);
		if (ret)
			goto err_free;
	}
	return 0;

err_free:
	/* The levels already activated are deactivated by the free. */
	for (i = 0; i < desc->nvec_used; i++)
		ik_irq_get_irq_data(desc->irq + i)->common->msi_desc = NULL;
	msi_free_desc_irqs(desc);
	return ret;
}

static int msi_check_range(struct msi_device_data *md, unsigned int domid, uint32_t first,
			   uint32_t last, struct msi_dev_domain **slotp)
{
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);

	if (!slot || !slot->domain || first > last)
		return -IK_EINVAL;
	if (msi_assert_locked(md))
		return -IK_EINVAL;
	if (last >= msi_domain_hwsize(slot))
		return -IK_ERANGE;
	*slotp = slot;
	return 0;
}

/*
 * Free what an allocation call did: the interrupts of the descriptors it
 * associated and, for core-created descriptors, the descriptors it made.
 */
static void msi_unwind_range(struct msi_dev_domain *slot, const struct ik_msi_domain_info *info,
			     uint32_t first, uint32_t last, const uint8_t *created,
			     const uint8_t *associated)
{
	struct ik_msi_desc *desc;
	uint64_t idx = first;

	while ((desc = ik_xa_find(&slot->store, &idx, last))) {
		uint32_t off = (uint32_t)idx - first;

		if (associated[off / 8] & (1u << (off % 8)))
			msi_free_desc_irqs(desc);
		if (created[off / 8] & (1u << (off % 8)))
			msi_release_desc(slot, desc);
		if (idx == last)
			break;
		idx++;
	}
	(void)info;
}

int ik_msi_domain_alloc_irqs_range_locked(struct ik_device *dev, unsigned int domid,
					  uint32_t first, uint32_t last, unsigned int *nr_done)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot;
	struct ik_msi_domain_info *info;
	struct ik_msi_desc *desc;
	uint8_t *created, *associated;
	unsigned int done = 0;
	uint32_t span, i;
	uint64_t idx;
	bool can_reserve;
	int ret;

	if (nr_done)
		*nr_done = 0;
	ret = msi_check_range(md, domid, first, last, &slot);
	if (ret)
		return ret;
	info = (struct ik_msi_domain_info *)ik_msi_get_domain_info(slot->domain);
	span = last - first + 1;
	/* Two bitmaps: which descriptors this call created, which it associated. */
	created = ik_os_alloc(2 * ((span + 7) / 8));
	if (!created)
		return -IK_ENOMEM;
	associated = created + (span + 7) / 8;

	if (info->flags & IK_MSI_FLAG_ALLOC_SIMPLE_DESCS) {
		for (i = 0; i < span; i++) {
			if (ik_xa_load(&slot->store, first + i))
				continue;
			desc = msi_desc_alloc(dev, 1, NULL);
			if (!desc) {
				ret = -IK_ENOMEM;
				goto err_unwind;
			}
			desc->domid = domid;
			ret = msi_store_desc(slot, desc, first + i);
			if (ret < 0) {
				msi_desc_free(desc);
				goto err_unwind;
			}
			created[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}

	can_reserve = msi_can_reserve(info);
	idx = first;
	while ((desc = ik_xa_find(&slot->store, &idx, last))) {
		if (!desc->irq) {
			ret = msi_alloc_desc_irqs(slot->domain, info, desc, can_reserve);
			if (ret)
				goto err_unwind;
			i = (uint32_t)idx - first;
			associated[i / 8] |= (uint8_t)(1u << (i % 8));
			done++;
		}
		if (idx == last)
			break;
		idx++;
	}
	ik_os_free(created);
	if (nr_done)
		*nr_done = done;
	return 0;

err_unwind:
	msi_unwind_range(slot, info, first, last, created, associated);
	ik_os_free(created);
	if (nr_done)
		*nr_done = done;
	return ret;
}

int ik_msi_domain_alloc_irqs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
				   uint32_t last, unsigned int *nr_done)
{
	int ret;

	if (!msi_dev_data(dev))
		return -IK_EINVAL;
	ik_msi_lock_descs(dev);
	ret = ik_msi_domain_alloc_irqs_range_locked(dev, domid, first, last, nr_done);
	ik_msi_unlock_descs(dev);
	return ret;
}

struct ik_msi_map ik_msi_domain_alloc_irq_at_locked(struct ik_device *dev, unsigned int domid,
						    uint32_t index,
						    const struct ik_irq_affinity_desc *affinity,
						    uint64_t icookie)
{
	struct ik_msi_map map = { .index = -IK_ENODEV, .virq = 0 };
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);
	struct ik_msi_domain_info *info;
	struct ik_msi_desc *desc;
	int ret;

	if (!slot || !slot->domain)
		return map;
	if (msi_assert_locked(md)) {
		map.index = -IK_EINVAL;
		return map;
	}
	info = (struct ik_msi_domain_info *)ik_msi_get_domain_info(slot->domain);
	desc = msi_desc_alloc(dev, 1, affinity);
	if (!desc) {
		map.index = -IK_ENOMEM;
		return map;
	}
	desc->domid = domid;
	desc->data.icookie = icookie;
	ret = msi_store_desc(slot, desc, index);
	if (ret < 0) {
		msi_desc_free(desc);
		map.index = ret;
		return map;
	}
	ret = msi_alloc_desc_irqs(slot->domain, info, desc, msi_can_reserve(info));
	if (ret) {
		msi_release_desc(slot, desc);
		map.index = ret;
		return map;
	}
	map.index = (int)desc->index;
	map.virq = desc->irq;
	return map;
}

struct ik_msi_map ik_msi_domain_alloc_irq_at(struct ik_device *dev, unsigned int domid,
					     uint32_t index,
					     const struct ik_irq_affinity_desc *affinity,
					     uint64_t icookie)
{
	struct ik_msi_map map = { .index = -IK_ENODEV, .virq = 0 };

	if (!msi_dev_data(dev))
		return map;
	ik_msi_lock_descs(dev);
	map = ik_msi_domain_alloc_irq_at_locked(dev, domid, index, affinity, icookie);
	ik_msi_unlock_descs(dev);
	return map;
}

int ik_msi_domain_free_irqs_range_locked(struct ik_device *dev, unsigned int domid,
					 uint32_t first, uint32_t last)
{
	struct msi_device_data *md = msi_dev_data(dev);
	const struct ik_msi_domain_info *info;
	struct msi_dev_domain *slot;
	struct ik_msi_desc *desc;
	uint64_t idx = first;
	int freed = 0, busy = 0, ret;

	ret = msi_check_range(md, domid, first, last, &slot);
	if (ret)
		return ret;
	info = ik_msi_get_domain_info(slot->domain);
	while ((desc = ik_xa_find(&slot->store, &idx, last))) {
		if (desc->irq) {
			if (msi_free_desc_irqs(desc)) {
				busy = 1;
			} else {
				freed++;
				if (info->flags & IK_MSI_FLAG_FREE_DESCS)
					msi_release_desc(slot, desc);
			}
		}
		if (idx == last)
			break;
		idx++;
	}
	return busy ? -IK_EBUSY : freed;
}

int ik_msi_domain_free_irqs_range(struct ik_device *dev, unsigned int domid, uint32_t first,
				  uint32_t last)
{
	int ret;

	if (!msi_dev_data(dev))
		return -IK_EINVAL;
	ik_msi_lock_descs(dev);
	ret = ik_msi_domain_free_irqs_range_locked(dev, domid, first, last);
	ik_msi_unlock_descs(dev);
	return ret;
}

int ik_msi_domain_free_irqs_all_locked(struct ik_device *dev, unsigned int domid)
{
	struct msi_dev_domain *slot = msi_domain_slot(msi_dev_data(dev), domid);

	if (!slot || !slot->domain)
		return -IK_EINVAL;
	return ik_msi_domain_free_irqs_range_locked(dev, domid, 0, msi_domain_hwsize(slot) - 1);
}

int ik_msi_domain_free_irqs_all(struct ik_device *dev, unsigned int domid)
{
	int ret;

	if (!msi_dev_data(dev))
		return -IK_EINVAL;
	ik_msi_lock_descs(dev);
	ret = ik_msi_domain_free_irqs_all_locked(dev, domid);
	ik_msi_unlock_descs(dev);
	return ret;
}

int ik_msi_get_virq(struct ik_device *dev, unsigned int domid, uint32_t index)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_dev_domain *slot = msi_domain_slot(md, domid);
	struct ik_msi_desc *desc;
	int ret = -IK_ENOENT;

	if (!slot)
		return -IK_EINVAL;
	ik_msi_lock_descs(dev);
	desc = ik_xa_load(&slot->store, index);
	if (desc && desc->irq) {
		ret = (int)desc->irq;
	} else if (index > 0) {
		/* Multi-vector MSI: one descriptor at 0 covers nvec_used vectors. */
		desc = ik_xa_load(&slot->store, 0);
		if (desc && desc->irq && desc->nvec_used > 1 && index < desc->nvec_used)
			ret = (int)(desc->irq + index);
	}
	ik_msi_unlock_descs(dev);
	return ret;
}

struct ik_msi_desc *ik_irq_get_msi_desc(unsigned int irq)
{
	struct ik_irq_data *data = ik_irq_get_irq_data(irq);

	return data ? data->common->msi_desc : NULL;
}
