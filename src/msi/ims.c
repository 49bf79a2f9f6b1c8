// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt Message Store domains (include/irqkit/ims.h): a thin layer over
 * the MSI core that checks a store's template against the IMS contract,
 * places the domain at IK_MSI_SECONDARY_DOMAIN of its device, ties it to
 * the device's driver and allocates one interrupt at a time.
 */
#include "msi_internal.h"

#include <irqkit/ims.h>

#define IMS_DOMID IK_MSI_SECONDARY_DOMAIN

/*
 * The IMS contract.  Core-managed descriptors, because the index space is
 * the store's and nobody else describes it.  A store that can mask, because
 * a slot whose message is being changed or whose interrupt is shut down
 * must be silenced at the source.  No affinity callback in the store: the
 * parent owns the target and reaches the store only through
 * irq_write_msi_msg, so a store cannot retarget behind the parent's back
 * (and under remapping is never written at all).
 */
static int ims_check_template(const struct ik_device *dev,
			      const struct ik_msi_domain_template *tmpl)
{
	const uint32_t need = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			      IK_MSI_FLAG_MASK_SOURCE;
	const char *why = NULL;

	if (tmpl->info.bus_token != IK_MSI_BUS_IMS)
		why = "bus token is not IK_MSI_BUS_IMS";
	else if ((tmpl->info.flags & need) != need)
		why = "flags lack ALLOC_SIMPLE_DESCS, FREE_DESCS or MASK_SOURCE";
	else if (!tmpl->chip.irq_mask || !tmpl->chip.irq_unmask ||
		 !tmpl->chip.irq_write_msi_msg)
		why = "chip lacks irq_mask, irq_unmask or irq_write_msi_msg";
	else if (tmpl->chip.irq_set_affinity)
		why = "chip sets affinity itself (that is the MSI parent's job)";
	if (why) {
		ik_err("irqkit: %s: IMS template \"%s\" refused: %s\n", ik_device_name(dev),
		       tmpl->name, why);
		return -IK_EINVAL;
	}
	return 0;
}

static void ims_domain_release(void *data)
{
	ik_msi_remove_device_domain(data, IMS_DOMID);
}

int ik_ims_create_domain(struct ik_device *dev, const struct ik_msi_domain_template *tmpl,
			 uint32_t hwsize, void *data)
{
	int ret;

	if (!dev || !tmpl)
		return -IK_EINVAL;
	ret = ims_check_template(dev, tmpl);
	if (ret)
		return ret;
	ret = ik_msi_create_device_domain(dev, IMS_DOMID, tmpl, hwsize, data, NULL);
	if (ret) {
		ik_err("irqkit: %s: cannot create IMS domain: %s\n", ik_device_name(dev),
		       ik_strerror(ret));
		return ret;
	}
	/*
	 * Registered after whatever the driver set up before creating the
	 * domain, so unbind removes the domain (and frees its interrupts
	 * through the store's callbacks) while the store's data still exists.
	 */
	ret = ik_devm_add_action(dev, ims_domain_release, dev);
	if (ret) {
		ik_msi_remove_device_domain(dev, IMS_DOMID);
		return ret;
	}
	return 0;
}

void ik_ims_remove_domain(struct ik_device *dev)
{
	if (!dev || ik_devm_release_action(dev, ims_domain_release, dev))
		return;
	/*
	 * A handler still installed kept the domain: keep it device-managed
	 * so that unbind tries again (the MSI data release would otherwise
	 * be the only one left to try).
	 */
	if (ik_msi_get_device_domain(dev, IMS_DOMID) &&
	    ik_devm_add_action(dev, ims_domain_release, dev))
		ik_warn("irqkit: %s: IMS domain left without a release action\n",
			ik_device_name(dev));
}

struct ik_irq_domain *ik_ims_domain(struct ik_device *dev)
{
	return dev ? ik_msi_get_device_domain(dev, IMS_DOMID) : NULL;
}

struct ik_msi_map ik_ims_alloc_irq(struct ik_device *dev, const struct ik_irq_affinity_desc *affinity,
				   uint64_t icookie)
{
	struct ik_msi_map map = { .index = -IK_ENODEV, .virq = 0 };

	if (!ik_ims_domain(dev))
		return map;
	return ik_msi_domain_alloc_irq_at(dev, IMS_DOMID, IK_MSI_ANY_INDEX, affinity, icookie);
}

int ik_ims_free_irq(struct ik_device *dev, struct ik_msi_map map)
{
	struct ik_msi_desc *desc;
	int ret;

	if (!ik_ims_domain(dev))
		return -IK_ENODEV;
	if (map.index < 0 || !map.virq) {
		ik_warn("irqkit: %s: IMS free of a failed map (index %d, irq %u)\n",
			ik_device_name(dev), map.index, map.virq);
		return -IK_EINVAL;
	}
	ik_msi_lock_descs(dev);
	desc = ik_msi_find_desc(dev, IMS_DOMID, (uint32_t)map.index);
	if (!desc || !desc->irq) {
		ik_warn("irqkit: %s: IMS slot %d freed twice or never allocated\n",
			ik_device_name(dev), map.index);
		ret = -IK_ENOENT;
	} else if (desc->irq != map.virq) {
		ik_warn("irqkit: %s: IMS slot %d holds irq %u, not %u\n", ik_device_name(dev),
			map.index, desc->irq, map.virq);
		ret = -IK_EINVAL;
	} else {
		ret = ik_msi_domain_free_irqs_range_locked(dev, IMS_DOMID, (uint32_t)map.index,
							   (uint32_t)map.index);
		if (ret > 0)
			ret = 0;
	}
	ik_msi_unlock_descs(dev);
	return ret;
}
