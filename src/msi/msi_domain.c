// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-device MSI domains: built from a const template, shaped by the MSI
 * parent, with the core's domain ops and default chip behaviour.
 */
#include "msi_internal.h"

static const struct ik_irq_domain_ops msi_device_domain_ops;

bool msi_is_device_domain(const struct ik_irq_domain *domain)
{
	return domain && ik_irq_domain_get_ops(domain) == &msi_device_domain_ops;
}

const struct ik_msi_domain_info *ik_msi_get_domain_info(const struct ik_irq_domain *domain)
{
	return msi_is_device_domain(domain) ? ik_irq_domain_host_data(domain) : NULL;
}

int ik_msi_parent_set_ops(struct ik_irq_domain *domain, const struct ik_msi_parent_ops *ops)
{
	if (!domain || !ops || !ops->init_dev_msi_info)
		return -IK_EINVAL;
	ik_irq_domain_set_msi_parent_ops(domain, ops);
	return 0;
}

const struct ik_msi_parent_ops *ik_msi_parent_get_ops(const struct ik_irq_domain *domain)
{
	return domain ? ik_irq_domain_get_msi_parent_ops(domain) : NULL;
}

/* ---- Messages and affinity --------------------------------------------- */

static void msi_write_and_cache(struct ik_irq_data *data, const struct ik_msi_msg *msg)
{
	struct ik_msi_desc *desc = data->common->msi_desc;

	data->chip->irq_write_msi_msg(data, msg);
	/* Multi-vector MSI: the descriptor caches the message of its first vector. */
	if (desc && desc->irq == data->irq)
		desc->msg = *msg;
}

void ik_msi_domain_write_msg(struct ik_irq_data *data)
{
	struct ik_msi_msg msg = { 0, 0, 0 };

	if (ik_irq_chip_compose_msi_msg(data->parent_data, &msg))
		return;
	msi_write_and_cache(data, &msg);
}

int ik_msi_domain_set_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask, bool force)
{
	int ret = ik_irq_chip_set_affinity_parent(data, mask, force);

	/*
	 * OK_DONE: a level below (remapping) retargeted without changing the
	 * message, so the store is left alone -- which is what makes affinity
	 * changes on slow or peer-held stores free under remapping.
	 */
	if (ret == IK_IRQ_SET_MASK_OK || ret == IK_IRQ_SET_MASK_OK_NOCOPY)
		ik_msi_domain_write_msg(data);
	return ret;
}

/* ---- Composed masking -------------------------------------------------- */

static const struct ik_msi_domain_info *data_info(const struct ik_irq_data *data)
{
	return ik_irq_domain_host_data(data->domain);
}

static void msi_mask_both(struct ik_irq_data *data)
{
	data_info(data)->source_mask(data);
	ik_irq_chip_mask_parent(data);
}

static void msi_unmask_both(struct ik_irq_data *data)
{
	ik_irq_chip_unmask_parent(data);
	data_info(data)->source_unmask(data);
}

/*
 * The four masking models, indexed by [MASK_SOURCE][MASK_PARENT].  NULL for
 * the source model means "keep the store's own callbacks".  Without any
 * masking the core cannot mask: a disabled line stays lazily disabled and
 * an interrupt that arrives meanwhile is kept PENDING and replayed.
 */
static const struct {
	void (*mask)(struct ik_irq_data *data);
	void (*unmask)(struct ik_irq_data *data);
	bool keep_source;
} msi_mask_models[2][2] = {
	[0][0] = { NULL, NULL, false },
	[0][1] = { ik_irq_chip_mask_parent, ik_irq_chip_unmask_parent, false },
	[1][0] = { NULL, NULL, true },
	[1][1] = { msi_mask_both, msi_unmask_both, false },
};

/*
 * A store that can mask but whose runtime masking happens at the parent
 * (an ITS-like platform masks at the destination): the store's own mask is
 * opened at startup and closed at shutdown, so it never hides an interrupt
 * the parent has unmasked.
 */
static unsigned int msi_startup_open_source(struct ik_irq_data *data)
{
	data_info(data)->source_unmask(data);
	if (data->chip->irq_unmask)
		data->chip->irq_unmask(data);
	return 0;
}

static void msi_shutdown_close_source(struct ik_irq_data *data)
{
	if (data->chip->irq_mask)
		data->chip->irq_mask(data);
	data_info(data)->source_mask(data);
}

static int msi_compose_masking(struct ik_msi_domain_info *info)
{
	struct ik_irq_chip *chip = info->chip;
	bool source = (info->flags & IK_MSI_FLAG_MASK_SOURCE) != 0;
	bool parent = (info->flags & IK_MSI_FLAG_MASK_PARENT) != 0;
	bool store_can_mask = chip->irq_mask && chip->irq_unmask;

	if (source && !store_can_mask)
		return -IK_EINVAL;
	info->source_mask = store_can_mask ? chip->irq_mask : NULL;
	info->source_unmask = store_can_mask ? chip->irq_unmask : NULL;
	if (!msi_mask_models[source][parent].keep_source) {
		chip->irq_mask = msi_mask_models[source][parent].mask;
		chip->irq_unmask = msi_mask_models[source][parent].unmask;
	}
	if (!source && store_can_mask) {
		if (!chip->irq_startup)
			chip->irq_startup = msi_startup_open_source;
		if (!chip->irq_shutdown)
			chip->irq_shutdown = msi_shutdown_close_source;
	}
	return 0;
}

/* ---- Parents ---------------------------------------------------------- */

int ik_msi_lib_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
				 struct ik_irq_domain *real_parent,
				 struct ik_msi_domain_info *info)
{
	struct ik_irq_chip *chip = info->chip;

	if (!chip->irq_write_msi_msg)
		return -IK_EINVAL;
	if (!chip->irq_ack)
		chip->irq_ack = ik_irq_chip_ack_parent;
	if (!chip->irq_retrigger)
		chip->irq_retrigger = ik_irq_chip_retrigger_hierarchy;
	if (!chip->irq_set_affinity && !(info->flags & IK_MSI_FLAG_NO_AFFINITY))
		chip->irq_set_affinity = ik_msi_domain_set_affinity;
	/* The message must be right before the store is unmasked. */
	chip->flags |= IK_IRQCHIP_AFFINITY_PRE_STARTUP;
	if (!info->handler)
		info->handler = ik_handle_edge_irq;
	return 0;
}

int ik_msi_parent_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
				    struct ik_irq_domain *real_parent,
				    struct ik_msi_domain_info *info)
{
	struct ik_irq_domain *parent = ik_irq_domain_parent(domain);
	const struct ik_msi_parent_ops *pops = ik_msi_parent_get_ops(parent);

	if (!pops)
		return -IK_EINVAL;
	return pops->init_dev_msi_info(dev, parent, real_parent, info);
}

/* ---- Default domain ops ------------------------------------------------ */

static uint64_t msi_default_get_hwirq(struct ik_msi_domain_info *info,
				      struct ik_msi_alloc_info *arg)
{
	return arg->hwirq;
}

static int msi_default_init(struct ik_irq_domain *domain, struct ik_msi_domain_info *info,
			    unsigned int virq, uint64_t hwirq, struct ik_msi_alloc_info *arg)
{
	int ret = ik_irq_domain_set_info(domain, virq, hwirq, info->chip, info->chip_data,
					 info->handler, info->handler_data);

	/*
	 * Stores come out of allocation masked (the store's contract), so the
	 * core's view starts masked and the first unmask is the startup.
	 */
	if (!ret && info->chip->irq_mask)
		ik_irqd_set(ik_irq_domain_get_irq_data(domain, virq), IK_IRQD_MASKED);
	return ret;
}

static void msi_default_free(struct ik_irq_domain *domain, struct ik_msi_domain_info *info,
			     unsigned int virq)
{
	ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq));
}

static void msi_default_set_desc(struct ik_msi_alloc_info *arg, struct ik_msi_desc *desc)
{
	arg->desc = desc;
	arg->hwirq = desc->index;
}

static void msi_fill_default_ops(struct ik_msi_domain_ops *ops)
{
	if (!ops->get_hwirq)
		ops->get_hwirq = msi_default_get_hwirq;
	if (!ops->msi_init)
		ops->msi_init = msi_default_init;
	if (!ops->msi_free)
		ops->msi_free = msi_default_free;
	if (!ops->set_desc)
		ops->set_desc = msi_default_set_desc;
}

/* ---- The device domain's irq domain ops --------------------------------- */

static int msi_domain_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr,
			    void *arg)
{
	struct ik_msi_domain_info *info = ik_irq_domain_host_data(domain);
	struct ik_msi_alloc_info *ai = arg;
	uint64_t hwirq = info->ops->get_hwirq(info, ai);
	unsigned int i;
	int ret;

	ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		ret = info->ops->msi_init(domain, info, virq + i, hwirq + i, ai);
		if (ret)
			goto err_free_inited;
	}
	return 0;

err_free_inited:
	/* Every element initialised so far, element 0 included. */
	while (i--)
		info->ops->msi_free(domain, info, virq + i);
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
	return ret;
}

static void msi_domain_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	struct ik_msi_domain_info *info = ik_irq_domain_host_data(domain);

	for (unsigned int i = 0; i < nr; i++)
		info->ops->msi_free(domain, info, virq + i);
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static int msi_domain_activate(struct ik_irq_domain *domain, struct ik_irq_data *data,
			       bool reserve)
{
	ik_msi_domain_write_msg(data);
	return 0;
}

static void msi_domain_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *data)
{
	static const struct ik_msi_msg zero;

	msi_write_and_cache(data, &zero);
}

static const struct ik_irq_domain_ops msi_device_domain_ops = {
	.alloc = msi_domain_alloc,
	.free = msi_domain_free,
	.activate = msi_domain_activate,
	.deactivate = msi_domain_deactivate,
};

/* ---- Creating and removing device domains ------------------------------- */

static size_t str_append(char *dst, size_t pos, size_t cap, const char *src)
{
	while (src && *src && pos + 1 < cap)
		dst[pos++] = *src++;
	dst[pos] = '\0';
	return pos;
}

static bool template_valid(const struct ik_msi_domain_template *tmpl)
{
	return tmpl->name[0] && tmpl->chip.irq_write_msi_msg &&
	       tmpl->info.bus_token > IK_MSI_BUS_NONE && tmpl->info.bus_token < IK_MSI_BUS_NR &&
	       tmpl->info.hwsize <= IK_MSI_MAX_INDEX + 1;
}

int ik_msi_create_device_domain(struct ik_device *dev, unsigned int domid,
				const struct ik_msi_domain_template *tmpl, uint32_t hwsize,
				void *domain_data, void *chip_data)
{
	struct ik_irq_domain *parent, *domain;
	const struct ik_msi_parent_ops *pops;
	struct msi_domain_bundle *bundle;
	struct ik_msi_domain_info *info;
	struct msi_device_data *md;
	size_t pos;
	int ret;

	if (!dev || !tmpl || domid >= IK_MSI_MAX_DEVICE_DOMAINS || !template_valid(tmpl) ||
	    hwsize > IK_MSI_MAX_INDEX + 1)
		return -IK_EINVAL;
	parent = ik_device_msi_parent(dev);
	pops = ik_msi_parent_get_ops(parent);
	if (!pops)
		return -IK_EINVAL;
	if (!(pops->bus_select_mask & IK_BIT(tmpl->info.bus_token)))
		return -IK_EINVAL;
	ret = ik_msi_setup_device_data(dev);
	if (ret)
		return ret;
	md = msi_dev_data(dev);

	bundle = ik_os_alloc(sizeof(*bundle));
	if (!bundle)
		return -IK_ENOMEM;
	bundle->tmpl = *tmpl;
	bundle->dev = dev;
	bundle->domid = domid;
	info = &bundle->tmpl.info;
	info->ops = &bundle->tmpl.ops;
	info->chip = &bundle->tmpl.chip;
	info->dev = dev;
	info->data = domain_data;
	info->chip_data = chip_data;
	if (hwsize)
		info->hwsize = hwsize;
	/* The real parent restricts the parent-specific bits and adds its requirements. */
	info->flags = (info->flags & (IK_MSI_GENERIC_FLAGS_MASK | pops->supported_flags)) |
		      pops->required_flags;
	ret = pops->init_dev_msi_info(dev, parent, parent, info);
	if (ret)
		goto err_free_bundle;
	if (info->flags & IK_MSI_FLAG_USE_DEF_DOM_OPS)
		msi_fill_default_ops(info->ops);
	if (!info->ops->get_hwirq || !info->ops->msi_init || !info->ops->msi_free ||
	    !info->ops->set_desc || !info->handler) {
		ret = -IK_EINVAL;
		goto err_free_bundle;
	}
	ret = msi_compose_masking(info);
	if (ret)
		goto err_free_bundle;

	pos = str_append(bundle->name, 0, sizeof(bundle->name), pops->prefix);
	pos = str_append(bundle->name, pos, sizeof(bundle->name), bundle->tmpl.name);
	pos = str_append(bundle->name, pos, sizeof(bundle->name), "-");
	str_append(bundle->name, pos, sizeof(bundle->name), ik_device_name(dev));

	ik_msi_lock_descs(dev);
	if (md->domains[domid].domain) {
		ret = -IK_EEXIST;
		goto err_unlock;
	}
	domain = ik_irq_domain_create_hierarchy(parent, IK_IRQ_DOMAIN_FLAG_MSI_DEVICE,
						info->hwsize ? info->hwsize : IK_MSI_MAX_INDEX + 1,
						bundle->name, &msi_device_domain_ops, info);
	if (!domain) {
		ret = -IK_ENOMEM;
		goto err_unlock;
	}
	md->domains[domid].domain = domain;
	ik_msi_unlock_descs(dev);
	return 0;

err_unlock:
	ik_msi_unlock_descs(dev);
err_free_bundle:
	ik_os_free(bundle);
	return ret;
}

void ik_msi_remove_device_domain(struct ik_device *dev, unsigned int domid)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct msi_domain_bundle *bundle;
	struct ik_irq_domain *domain;
	struct msi_dev_domain *slot;

	if (!md || domid >= IK_MSI_MAX_DEVICE_DOMAINS)
		return;
	ik_msi_lock_descs(dev);
	slot = &md->domains[domid];
	domain = slot->domain;
	if (!domain)
		goto out_unlock;
	ik_msi_domain_free_irqs_all_locked(dev, domid);
	ik_msi_free_descs_range(dev, domid, 0, IK_MSI_MAX_INDEX);
	if (slot->store.nr_entries) {
		ik_err("irqkit: %s: domain %s still has interrupts: not removed\n",
		       ik_device_name(dev), ik_irq_domain_name(domain));
		goto out_unlock;
	}
	bundle = ik_container_of((struct ik_msi_domain_info *)ik_irq_domain_host_data(domain),
				 struct msi_domain_bundle, tmpl.info);
	if (IK_WARN_ON(ik_irq_domain_remove(domain)))
		goto out_unlock;
	slot->domain = NULL;
	ik_os_free(bundle);
out_unlock:
	ik_msi_unlock_descs(dev);
}

struct ik_irq_domain *ik_msi_get_device_domain(struct ik_device *dev, unsigned int domid)
{
	struct msi_device_data *md = msi_dev_data(dev);

	if (!md || domid >= IK_MSI_MAX_DEVICE_DOMAINS)
		return NULL;
	return IK_READ_ONCE(md->domains[domid].domain);
}

/* ---- Introspection ------------------------------------------------------ */

static const char *const msi_mode_names[IK_MSI_BUS_NR] = {
	[IK_MSI_BUS_NONE] = "none",
	[IK_MSI_BUS_PCI_MSI] = "msi",
	[IK_MSI_BUS_PCI_MSIX] = "msix",
	[IK_MSI_BUS_IMS] = "ims",
	[IK_MSI_BUS_NTB] = "ntb",
	[IK_MSI_BUS_DEVICE] = "device",
};

static bool chip_state(struct ik_irq_data *data, unsigned int which)
{
	bool state = false;

	if (data->chip && data->chip->irq_get_irqchip_state &&
	    data->chip->irq_get_irqchip_state(data, which, &state))
		return false;
	return state;
}

int ik_msi_device_for_each_irq(struct ik_device *dev,
			       int (*fn)(const struct ik_msi_irq_info *info, void *arg),
			       void *arg)
{
	struct msi_device_data *md = msi_dev_data(dev);
	struct ik_msi_irq_info out;
	struct ik_msi_desc *desc;
	int ret = 0;

	if (!md || !fn)
		return md ? -IK_EINVAL : 0;
	ik_msi_lock_descs(dev);
	for (unsigned int domid = 0; domid < IK_MSI_MAX_DEVICE_DOMAINS && !ret; domid++) {
		const struct ik_msi_domain_info *info;

		if (!md->domains[domid].domain)
			continue;
		info = ik_msi_get_domain_info(md->domains[domid].domain);
		ik_msi_for_each_desc(desc, dev, domid, IK_MSI_DESC_ASSOCIATED) {
			for (unsigned int i = 0; i < desc->nvec_used && !ret; i++) {
				struct ik_irq_desc *idesc = ik_irq_to_desc(desc->irq + i);
				struct ik_irq_data *data = ik_irq_get_irq_data(desc->irq + i);
				ik_irqflags_t flags;

				out.domid = domid;
				out.mode = msi_mode_names[info->bus_token];
				out.domain = ik_irq_domain_name(md->domains[domid].domain);
				out.index = desc->index + i;
				out.irq = desc->irq + i;
				flags = ik_irq_desc_lock(idesc);
				out.masked = ik_irqd_test(data, IK_IRQD_MASKED) ||
					     chip_state(data, IK_IRQCHIP_STATE_MASKED);
				out.pending = chip_state(data, IK_IRQCHIP_STATE_PENDING);
				out.started = ik_irqd_test(data, IK_IRQD_STARTED);
				ik_irq_desc_unlock(idesc, flags);
				ret = fn(&out, arg);
			}
			if (ret)
				break;
		}
	}
	ik_msi_unlock_descs(dev);
	return ret;
}
