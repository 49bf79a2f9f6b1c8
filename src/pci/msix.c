// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI-X: the PCI-MSIX per-device domain template and its chip, enable
 * and disable, dynamic allocation, restore.
 *
 * Every table entry is an independent slot with its own mask bit, so an
 * entry is always written masked: at enable (under the Function Mask),
 * at dynamic allocation (the new entry is masked before its message is
 * written) and for later message changes (masked around the write, since
 * a write to an unmasked entry is not atomic in hardware).  Allocating or
 * freeing one entry touches no other entry: that is what makes dynamic
 * MSI-X safe while other vectors fire.
 *
 * The descriptor caches the entry's message (the core does) and its
 * vector-control word (pci.mask_cache), so a write while the function is
 * in D3 or gone is cached only, and restore can rewrite everything.
 */
#include "pci_internal.h"

static inline struct pci_state *data_ps(const struct ik_irq_data *d)
{
	return d->chip_data;
}

static inline struct ik_msi_desc *data_desc(const struct ik_irq_data *d)
{
	return d->common->msi_desc;
}

static uint64_t entry_reg(const struct ik_msi_desc *desc, unsigned int reg)
{
	return desc->pci.entry + reg;
}

/* ---- Chip ------------------------------------------------------------------ */

static void msix_write_ctrl(struct pci_state *ps, struct ik_msi_desc *desc, bool flush)
{
	if (!pci_accessible(ps))
		return;
	ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL), desc->pci.mask_cache);
	if (flush)
		(void)ik_os_mmio_read32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL));
}

static void pci_msix_mask(struct ik_irq_data *d)
{
	struct ik_msi_desc *desc = data_desc(d);

	desc->pci.mask_cache |= PCI_MSIX_ENTRY_CTRL_MASK;
	/* Read back: the mask must have reached the function when this returns. */
	msix_write_ctrl(data_ps(d), desc, true);
}

static void pci_msix_unmask(struct ik_irq_data *d)
{
	struct ik_msi_desc *desc = data_desc(d);

	desc->pci.mask_cache &= ~PCI_MSIX_ENTRY_CTRL_MASK;
	msix_write_ctrl(data_ps(d), desc, false);
}

static void msix_write_entry(struct ik_msi_desc *desc, const struct ik_msi_msg *msg)
{
	ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_ADDR_LO), msg->address_lo);
	ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_ADDR_HI), msg->address_hi);
	ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_DATA), msg->data);
}

static void pci_msix_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	struct pci_state *ps = data_ps(d);
	struct ik_msi_desc *desc = data_desc(d);
	bool unmasked = !(desc->pci.mask_cache & PCI_MSIX_ENTRY_CTRL_MASK);

	/* D3 or surprise-removed: the core caches the message for restore. */
	if (!pci_accessible(ps))
		return;
	/* The three dwords are not written atomically: never while the entry can fire. */
	if (unmasked)
		ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL),
				   desc->pci.mask_cache | PCI_MSIX_ENTRY_CTRL_MASK);
	msix_write_entry(desc, msg);
	if (unmasked)
		ik_os_mmio_write32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL), desc->pci.mask_cache);
	/* Flush the posted writes. */
	(void)ik_os_mmio_read32(entry_reg(desc, PCI_MSIX_ENTRY_DATA));
}

static int pci_msix_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	struct pci_state *ps = data_ps(d);
	struct ik_msi_desc *desc = data_desc(d);
	uint32_t v;

	switch (which) {
	case IK_IRQCHIP_STATE_PENDING:
		if (!pci_accessible(ps))
			return -IK_ENODEV;
		v = ik_os_mmio_read32(ps->msix.pba_phys + (desc->index / 32) * 4);
		*state = (v >> (desc->index % 32)) & 1u;
		return 0;
	case IK_IRQCHIP_STATE_MASKED:
		if (pci_accessible(ps))
			v = ik_os_mmio_read32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL));
		else
			v = desc->pci.mask_cache;
		*state = (v & PCI_MSIX_ENTRY_CTRL_MASK) != 0;
		return 0;
	default:
		return -IK_EINVAL;
	}
}

/* ---- Domain ops -------------------------------------------------------------- */

/*
 * Complete a descriptor (at enable or at dynamic allocation): where its
 * entry is, and its vector-control word -- masked.  An entry left unmasked
 * (by firmware, a crashed kernel, a previous user) is masked here, before
 * anything is written to it.
 */
static int pci_msix_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
				 struct ik_msi_desc *desc)
{
	struct pci_state *ps = ik_msi_get_domain_info(domain)->data;
	uint32_t ctrl = PCI_MSIX_ENTRY_CTRL_MASK;

	desc->pci.entry = ps->msix.table_phys + (uint64_t)desc->index * PCI_MSIX_ENTRY_SIZE;
	desc->pci.can_mask = 1;
	if (pci_accessible(ps))
		ctrl = ik_os_mmio_read32(entry_reg(desc, PCI_MSIX_ENTRY_CTRL));
	desc->pci.mask_cache = ctrl | PCI_MSIX_ENTRY_CTRL_MASK;
	if (!(ctrl & PCI_MSIX_ENTRY_CTRL_MASK))
		msix_write_ctrl(ps, desc, true);
	return 0;
}

/*
 * The descriptor goes: its entry is left masked and without a message.
 * (An interrupt that was allocated but never requested was only activated
 * in reservation mode and is not deactivated, so its entry would keep the
 * placeholder message.)
 */
static void pci_msix_release_desc(struct ik_irq_domain *domain, struct ik_msi_desc *desc)
{
	static const struct ik_msi_msg zero;
	struct pci_state *ps = ik_msi_get_domain_info(domain)->data;

	desc->pci.mask_cache |= PCI_MSIX_ENTRY_CTRL_MASK;
	msix_write_ctrl(ps, desc, false);
	if (pci_accessible(ps)) {
		msix_write_entry(desc, &zero);
		(void)ik_os_mmio_read32(entry_reg(desc, PCI_MSIX_ENTRY_DATA));
	}
}

static const struct ik_msi_domain_template pci_msix_template = {
	.name = "PCI-MSIX",
	.chip = {
		.name = "PCI-MSIX",
		.irq_mask = pci_msix_mask,
		.irq_unmask = pci_msix_unmask,
		.irq_write_msi_msg = pci_msix_write_msg,
		.irq_get_irqchip_state = pci_msix_get_state,
		.flags = IK_IRQCHIP_ONESHOT_SAFE,
	},
	.ops = {
		.prepare_desc = pci_msix_prepare_desc,
		.release_desc = pci_msix_release_desc,
	},
	.info = {
		.flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS |
			 IK_MSI_FLAG_ACTIVATE_EARLY | IK_MSI_FLAG_MUST_REACTIVATE |
			 IK_MSI_FLAG_FREE_DESCS | IK_MSI_FLAG_MASK_SOURCE |
			 IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN,
		.bus_token = IK_MSI_BUS_PCI_MSIX,
	},
};

/* ---- Function-level control --------------------------------------------- */

static void msix_ctrl_update(struct pci_state *ps, uint16_t clear, uint16_t set)
{
	uint16_t off = (uint16_t)(ps->msix.cap + PCI_MSIX_FLAGS);
	ik_irqflags_t flags;
	uint32_t ctrl;

	if (!pci_accessible(ps))
		return;
	flags = ik_os_spin_lock_irqsave(&ps->lock);
	ctrl = pci_cfg_read(ps, off, 2);
	pci_cfg_write(ps, off, 2, (ctrl & ~(uint32_t)clear) | set);
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
}

/* A 32-bit-only function must not have been given an address above 4 GiB. */
static int msix_verify_entries(struct pci_state *ps)
{
	struct ik_msi_desc *desc;

	if (!(ps->quirks & IK_PCI_QUIRK_NO_64BIT_MSI))
		return 0;
	ik_msi_for_each_desc(desc, ps->dev, IK_MSI_DEFAULT_DOMAIN, IK_MSI_DESC_ASSOCIATED) {
		if (desc->msg.address_hi) {
			ik_err("irqkit: %s: MSI-X entry %u got a 64-bit address (%x:%x) but the function only does 32-bit MSI\n",
			       ik_device_name(ps->dev), desc->index, desc->msg.address_hi,
			       desc->msg.address_lo);
			return -IK_EIO;
		}
	}
	return 0;
}

/* Re-read the capability (it may differ from what create saw) and check it. */
static int msix_read_layout(struct pci_state *ps, struct ik_pci_msix_layout *layout)
{
	struct ik_pci_config cfg = ps->cfg;
	uint8_t cap = cfg.msix.cap;
	uint32_t table, pba;

	cfg.msix.table_size = (uint16_t)((pci_cfg_read(ps, (uint16_t)(cap + PCI_MSIX_FLAGS), 2) &
					  PCI_MSIX_FLAGS_QSIZE) + 1);
	table = pci_cfg_read(ps, (uint16_t)(cap + PCI_MSIX_TABLE), 4);
	pba = pci_cfg_read(ps, (uint16_t)(cap + PCI_MSIX_PBA), 4);
	cfg.msix.table_bir = (uint8_t)(table & PCI_MSIX_BIR_MASK);
	cfg.msix.table_offset = table & ~PCI_MSIX_BIR_MASK;
	cfg.msix.pba_bir = (uint8_t)(pba & PCI_MSIX_BIR_MASK);
	cfg.msix.pba_offset = pba & ~PCI_MSIX_BIR_MASK;
	return ik_pci_check_msix(&cfg, ik_device_name(ps->dev), layout);
}

/* Insert descriptors 0..nvec-1 and allocate their interrupts.  MSI lock held. */
static int msix_alloc_range(struct pci_state *ps, unsigned int nvec, bool affinity,
			    const struct ik_irq_affinity_spread *spread, unsigned int *done)
{
	struct ik_irq_affinity_desc *aff = NULL;
	struct ik_msi_desc init;
	int ret = 0;

	*done = 0;
	if (affinity) {
		aff = pci_spread_affinity(nvec, spread);
		if (!aff)
			return -IK_ENOMEM;
	}
	for (unsigned int i = 0; i < nvec; i++) {
		ik_memset(&init, 0, sizeof(init));
		init.nvec_used = 1;
		init.affinity = aff ? &aff[i] : NULL;
		ret = ik_msi_insert_desc(ps->dev, IK_MSI_DEFAULT_DOMAIN, &init, i);
		if (ret < 0)
			goto out_free;
	}
	ret = ik_msi_domain_alloc_irqs_range_locked(ps->dev, IK_MSI_DEFAULT_DOMAIN, 0, nvec - 1,
						    done);
out_free:
	if (ret < 0)
		ik_msi_free_descs_range(ps->dev, IK_MSI_DEFAULT_DOMAIN, 0, nvec - 1);
	ik_os_free(aff);
	return ret < 0 ? ret : 0;
}

int pci_msix_enable(struct pci_state *ps, unsigned int min, unsigned int max, bool affinity,
		    const struct ik_irq_affinity_spread *spread)
{
	struct ik_device *dev = ps->dev;
	const char *name = ik_device_name(dev);
	const struct ik_msi_domain_info *info;
	struct ik_pci_msix_layout layout;
	bool devm_new = false;
	unsigned int nvec, done;
	int created, ret;

	/* Checks first: a refused request leaves no trace on the device. */
	ret = msix_read_layout(ps, &layout);
	if (ret)
		return ret;
	if (!(pci_cfg_read(ps, IK_PCI_COMMAND, 2) & IK_PCI_COMMAND_MEMORY)) {
		ik_err("irqkit: %s: memory space disabled: the MSI-X table is unreachable (ik_pci_enable_device() first)\n",
		       name);
		return -IK_EINVAL;
	}
	nvec = IK_MIN(max, (unsigned int)layout.table_size);
	if (nvec < min)
		return -IK_ENOSPC;
	ret = ik_msi_setup_device_data(dev);
	if (ret)
		return ret;

	created = pci_setup_domain(ps, &pci_msix_template, layout.table_size);
	if (created < 0)
		return created;
	info = ik_msi_get_domain_info(ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN));
	if (!(info->flags & IK_MSI_FLAG_PCI_MSIX)) {
		ik_err("irqkit: %s: the MSI parent does not support MSI-X\n", name);
		ret = -IK_ENOTSUPP;
		goto err_domain;
	}

	ik_msi_lock_descs(dev);
	if (ps->mode != PCI_MODE_NONE) {
		ret = -IK_EINVAL;
		goto err_unlock;
	}
	devm_new = !ps->devm_registered;
	ret = pci_register_vectors_devm(ps);
	if (ret)
		goto err_unlock;
	ps->msix = layout;

	/*
	 * Enable with the Function Mask set: some functions decode the table
	 * only while enabled, and nothing can fire meanwhile.
	 */
	msix_ctrl_update(ps, 0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (;;) {
		ret = msix_alloc_range(ps, nvec, affinity, spread, &done);
		if (!ret)
			break;
		/* Partial: retry with what could be had (everything was rolled back). */
		if (ret != -IK_ENOSPC || done < min || done >= nvec || !done)
			goto err_disable;
		nvec = done;
	}
	ret = msix_verify_entries(ps);
	if (ret)
		goto err_free;
	pci_intx(ps, false);
	/*
	 * Mask every entry of the table, not only the allocated ones (they
	 * are masked already): a stale entry left unmasked with an old but
	 * valid message must not fire when the Function Mask goes.
	 */
	if (pci_accessible(ps)) {
		for (unsigned int i = 0; i < layout.table_size; i++) {
			struct ik_msi_desc *desc = ik_msi_find_desc(dev, IK_MSI_DEFAULT_DOMAIN, i);
			uint64_t ctrl = layout.table_phys + (uint64_t)i * PCI_MSIX_ENTRY_SIZE +
					PCI_MSIX_ENTRY_CTRL;

			ik_os_mmio_write32(ctrl, desc ? desc->pci.mask_cache :
							PCI_MSIX_ENTRY_CTRL_MASK);
		}
	}
	msix_ctrl_update(ps, PCI_MSIX_FLAGS_MASKALL, 0);
	IK_WRITE_ONCE(ps->mode, PCI_MODE_MSIX);
	ps->msix_generation++;
	ik_msi_unlock_descs(dev);
	return (int)nvec;

err_free:
	ik_msi_domain_free_irqs_all_locked(dev, IK_MSI_DEFAULT_DOMAIN);
	ik_msi_free_descs_range(dev, IK_MSI_DEFAULT_DOMAIN, 0, IK_MSI_MAX_INDEX);
err_disable:
	msix_ctrl_update(ps, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
	if (devm_new)
		pci_unregister_vectors_devm(ps);
err_unlock:
	ik_msi_unlock_descs(dev);
err_domain:
	if (created > 0)
		ik_msi_remove_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
	return ret;
}

void pci_msix_disable_locked(struct pci_state *ps)
{
	struct ik_device *dev = ps->dev;
	struct ik_msi_desc *desc;

	/* Return the function masked; a gone function is not touched. */
	if (pci_accessible(ps)) {
		ik_msi_for_each_desc(desc, dev, IK_MSI_DEFAULT_DOMAIN, IK_MSI_DESC_ALL) {
			desc->pci.mask_cache |= PCI_MSIX_ENTRY_CTRL_MASK;
			msix_write_ctrl(ps, desc, false);
		}
		msix_ctrl_update(ps, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
		pci_intx(ps, true);
	}
	if (ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN)) {
		ik_msi_domain_free_irqs_all_locked(dev, IK_MSI_DEFAULT_DOMAIN);
		ik_msi_free_descs_range(dev, IK_MSI_DEFAULT_DOMAIN, 0, IK_MSI_MAX_INDEX);
	}
	IK_WRITE_ONCE(ps->mode, PCI_MODE_NONE);
}

void pci_msix_restore(struct pci_state *ps)
{
	struct ik_device *dev = ps->dev;
	struct ik_msi_desc *desc;

	msix_ctrl_update(ps, 0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int i = 0; i < ps->msix.table_size; i++) {
		desc = ik_msi_find_desc(dev, IK_MSI_DEFAULT_DOMAIN, i);
		if (!desc) {
			ik_os_mmio_write32(ps->msix.table_phys + (uint64_t)i * PCI_MSIX_ENTRY_SIZE +
					   PCI_MSIX_ENTRY_CTRL, PCI_MSIX_ENTRY_CTRL_MASK);
			continue;
		}
		if (desc->irq) {
			/* Against a concurrent affinity change rewriting the same entry. */
			struct ik_irq_desc *idesc = ik_irq_to_desc(desc->irq);
			ik_irqflags_t flags = ik_irq_desc_lock(idesc);

			msix_write_entry(desc, &desc->msg);
			msix_write_ctrl(ps, desc, false);
			ik_irq_desc_unlock(idesc, flags);
		} else {
			msix_write_entry(desc, &desc->msg);
			msix_write_ctrl(ps, desc, false);
		}
	}
	msix_ctrl_update(ps, PCI_MSIX_FLAGS_MASKALL, 0);
	pci_intx(ps, false);
}

/* ---- Dynamic MSI-X --------------------------------------------------------- */

static bool msix_dyn_ok(struct ik_device *dev)
{
	struct ik_irq_domain *domain = ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
	const struct ik_msi_domain_info *info = ik_msi_get_domain_info(domain);

	return info && info->bus_token == IK_MSI_BUS_PCI_MSIX &&
	       (info->flags & IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN);
}

bool ik_pci_msix_can_alloc_dyn(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);
	const struct ik_msi_parent_ops *pops;

	if (!ps || !ps->cfg.msix.cap)
		return false;
	if (IK_READ_ONCE(ps->mode) == PCI_MODE_MSIX)
		return msix_dyn_ok(dev);
	/* Not enabled yet: what the parent would give a PCI-MSIX domain. */
	pops = ik_msi_parent_get_ops(ik_device_msi_parent(dev));
	return pops && (pops->supported_flags & IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN) &&
	       (pops->bus_select_mask & IK_BIT(IK_MSI_BUS_PCI_MSIX));
}

/* MSI lock held. */
static struct ik_msi_map msix_alloc_at_locked(struct pci_state *ps, uint32_t index,
					      const struct ik_irq_affinity_desc *affinity)
{
	struct ik_msi_map map = { .index = -IK_ENOTSUPP, .virq = 0 };
	struct ik_device *dev = ps->dev;

	if (ps->mode != PCI_MODE_MSIX || !msix_dyn_ok(dev))
		return map;
	map = ik_msi_domain_alloc_irq_at_locked(dev, IK_MSI_DEFAULT_DOMAIN, index, affinity, 0);
	if (map.index >= 0 && msix_verify_entries(ps)) {
		ik_msi_domain_free_irqs_range_locked(dev, IK_MSI_DEFAULT_DOMAIN,
						     (uint32_t)map.index, (uint32_t)map.index);
		map.index = -IK_EIO;
		map.virq = 0;
	}
	return map;
}

struct ik_msi_map ik_pci_msix_alloc_irq_at(struct ik_device *dev, uint32_t index,
					   const struct ik_irq_affinity_desc *affinity)
{
	struct ik_msi_map map = { .index = -IK_EINVAL, .virq = 0 };
	struct pci_state *ps = pci_state_of(dev);

	if (!ps)
		return map;
	ik_msi_lock_descs(dev);
	map = msix_alloc_at_locked(ps, index, affinity);
	ik_msi_unlock_descs(dev);
	return map;
}

/* MSI lock held. */
static int msix_free_one_locked(struct pci_state *ps, struct ik_msi_map map)
{
	struct ik_msi_desc *desc;
	int ret;

	if (ps->mode != PCI_MODE_MSIX)
		return -IK_ENOTSUPP;
	desc = ik_msi_find_desc(ps->dev, IK_MSI_DEFAULT_DOMAIN, (uint32_t)map.index);
	if (!desc || desc->irq != map.virq) {
		ik_warn("irqkit: %s: MSI-X vector %d (irq %u) is not allocated: not freed\n",
			ik_device_name(ps->dev), map.index, map.virq);
		return -IK_EINVAL;
	}
	ret = ik_msi_domain_free_irqs_range_locked(ps->dev, IK_MSI_DEFAULT_DOMAIN,
						   (uint32_t)map.index, (uint32_t)map.index);
	return ret < 0 ? ret : 0;
}

int ik_pci_msix_free_irq(struct ik_device *dev, struct ik_msi_map map)
{
	struct pci_state *ps = pci_state_of(dev);
	int ret;

	if (!ps)
		return -IK_EINVAL;
	if (map.index < 0 || !map.virq) {
		ik_warn("irqkit: %s: invalid MSI-X map {%d, %u}: not freed\n", ik_device_name(dev),
			map.index, map.virq);
		return -IK_EINVAL;
	}
	ik_msi_lock_descs(dev);
	ret = msix_free_one_locked(ps, map);
	ik_msi_unlock_descs(dev);
	return ret;
}

/* ---- Sub-devices ------------------------------------------------------------ */

struct msix_subdev_vec {
	struct ik_device *pci_dev;
	struct ik_msi_map map;
	uint32_t generation;
};

static void msix_subdev_release(void *data)
{
	struct msix_subdev_vec *sv = data;
	struct pci_state *ps = pci_state_of(sv->pci_dev);

	if (ps) {
		ik_msi_lock_descs(sv->pci_dev);
		/* Gone with the function's MSI-X (its driver unbound): nothing to do. */
		if (ps->mode == PCI_MODE_MSIX && ps->msix_generation == sv->generation)
			msix_free_one_locked(ps, sv->map);
		ik_msi_unlock_descs(sv->pci_dev);
	}
	ik_os_free(sv);
}

struct ik_msi_map ik_devm_pci_msix_alloc_irq_at(struct ik_device *owner,
						struct ik_device *pci_dev, uint32_t index,
						const struct ik_irq_affinity_desc *affinity)
{
	struct ik_msi_map map = { .index = -IK_EINVAL, .virq = 0 };
	struct pci_state *ps = pci_state_of(pci_dev);
	struct msix_subdev_vec *sv;
	int ret;

	if (!owner || !ps || owner == pci_dev)
		return map;
	sv = ik_os_alloc(sizeof(*sv));
	if (!sv) {
		map.index = -IK_ENOMEM;
		return map;
	}
	ik_msi_lock_descs(pci_dev);
	map = msix_alloc_at_locked(ps, index, affinity);
	if (map.index >= 0) {
		sv->pci_dev = pci_dev;
		sv->map = map;
		sv->generation = ps->msix_generation;
		ret = ik_devm_add_action(owner, msix_subdev_release, sv);
		if (ret) {
			msix_free_one_locked(ps, map);
			map.index = ret;
			map.virq = 0;
		}
	}
	ik_msi_unlock_descs(pci_dev);
	if (map.index < 0)
		ik_os_free(sv);
	return map;
}
