// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI MSI: the PCI-MSI per-device domain templates and chips, enable,
 * disable, restore.
 *
 * MSI has one address and one data register: N vectors (a power of two)
 * are sent as data with its low log2(N) bits replaced by the vector, so
 * they are one aligned block at the target, described by ONE descriptor
 * with nvec_used = N.  Only the first vector's message write programs the
 * registers.  The block cannot grow or shrink without disabling MSI (and
 * losing interrupts meanwhile), so there is no resize.
 *
 * Per-vector masking is optional in the capability.  The choice is made
 * once, at enable, by picking one of two templates: the maskable one
 * declares IK_MSI_FLAG_MASK_SOURCE and has mask/unmask callbacks; the
 * other has neither, and the core then leaves a disabled line lazily
 * disabled (an interrupt meanwhile is kept PENDING and replayed) -- there
 * is no "can_mask" test anywhere in the chip.  The Mask Bits register is
 * shared by all vectors: updates are read-modify-write of a cached copy
 * under the function's spinlock.
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

static uint16_t msi_reg(const struct pci_state *ps, unsigned int reg)
{
	return (uint16_t)(ps->cfg.msi_cap + reg);
}

/* All vectors of a block of @nvec (1..32). */
static uint32_t msi_block_bits(unsigned int nvec)
{
	return nvec >= 32 ? 0xFFFFFFFFu : (1u << nvec) - 1;
}

/* ---- Chips ----------------------------------------------------------------- */

static void msi_update_mask(struct pci_state *ps, struct ik_msi_desc *desc, uint32_t clear,
			    uint32_t set)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&ps->lock);

	/* Only the bits of the vectors allocated are ever set. */
	set &= msi_block_bits(desc->nvec_used);
	desc->pci.mask_cache = (desc->pci.mask_cache & ~clear) | set;
	if (pci_accessible(ps))
		pci_cfg_write(ps, desc->pci.mask_pos, 4, desc->pci.mask_cache);
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
}

static uint32_t vector_bit(const struct ik_irq_data *d, const struct ik_msi_desc *desc)
{
	return 1u << ((d->irq - desc->irq) & 31u);
}

static void pci_msi_mask(struct ik_irq_data *d)
{
	struct ik_msi_desc *desc = data_desc(d);

	msi_update_mask(data_ps(d), desc, 0, vector_bit(d, desc));
}

static void pci_msi_unmask(struct ik_irq_data *d)
{
	struct ik_msi_desc *desc = data_desc(d);

	msi_update_mask(data_ps(d), desc, vector_bit(d, desc), 0);
}

/* Address, data and Multiple Message Enable.  @ps->lock held. */
static void msi_program(struct pci_state *ps, const struct ik_msi_desc *desc,
			const struct ik_msi_msg *msg)
{
	uint32_t ctrl;

	pci_cfg_write(ps, msi_reg(ps, PCI_MSI_ADDRESS_LO), 4, msg->address_lo);
	if (desc->pci.is_64) {
		pci_cfg_write(ps, msi_reg(ps, PCI_MSI_ADDRESS_HI), 4, msg->address_hi);
		pci_cfg_write(ps, msi_reg(ps, PCI_MSI_DATA_64), 2, msg->data & 0xFFFFu);
	} else {
		pci_cfg_write(ps, msi_reg(ps, PCI_MSI_DATA_32), 2, msg->data & 0xFFFFu);
	}
	ctrl = pci_cfg_read(ps, msi_reg(ps, PCI_MSI_FLAGS), 2);
	ctrl = (ctrl & ~PCI_MSI_FLAGS_QSIZE) | ((uint32_t)desc->pci.multiple << 4);
	pci_cfg_write(ps, msi_reg(ps, PCI_MSI_FLAGS), 2, ctrl);
}

static void pci_msi_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	struct pci_state *ps = data_ps(d);
	struct ik_msi_desc *desc = data_desc(d);
	ik_irqflags_t flags;

	/* One address/data pair for the whole block: the first vector's. */
	if (d->irq != desc->irq)
		return;
	if (msg->address_hi && !desc->pci.is_64)
		ik_warn("irqkit: %s: 64-bit MSI address %x:%x for a 32-bit MSI capability\n",
			ik_device_name(ps->dev), msg->address_hi, msg->address_lo);
	/* D3 or surprise-removed: the core caches the message for restore. */
	if (!pci_accessible(ps))
		return;
	flags = ik_os_spin_lock_irqsave(&ps->lock);
	msi_program(ps, desc, msg);
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
}

static int pci_msi_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	struct pci_state *ps = data_ps(d);
	struct ik_msi_desc *desc = data_desc(d);
	uint32_t bit = vector_bit(d, desc), v;

	switch (which) {
	case IK_IRQCHIP_STATE_PENDING:
		/* Pending Bits exist only with per-vector masking. */
		if (!desc->pci.can_mask) {
			*state = false;
			return 0;
		}
		if (!pci_accessible(ps))
			return -IK_ENODEV;
		v = pci_cfg_read(ps, (uint16_t)(desc->pci.mask_pos + 4), 4);
		*state = (v & bit) != 0;
		return 0;
	case IK_IRQCHIP_STATE_MASKED:
		if (desc->pci.can_mask && pci_accessible(ps))
			v = pci_cfg_read(ps, desc->pci.mask_pos, 4);
		else
			v = desc->pci.mask_cache;
		*state = (v & bit) != 0;
		return 0;
	default:
		return -IK_EINVAL;
	}
}

#define PCI_MSI_FLAGS_COMMON                                                        \
	(IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS |                \
	 IK_MSI_FLAG_ACTIVATE_EARLY | IK_MSI_FLAG_MUST_REACTIVATE |                  \
	 IK_MSI_FLAG_FREE_DESCS | IK_MSI_FLAG_MULTI_PCI_MSI)

/* Per-vector masking: the function masks. */
static const struct ik_msi_domain_template pci_msi_maskable_template = {
	.name = "PCI-MSI",
	.chip = {
		.name = "PCI-MSI",
		.irq_mask = pci_msi_mask,
		.irq_unmask = pci_msi_unmask,
		.irq_write_msi_msg = pci_msi_write_msg,
		.irq_get_irqchip_state = pci_msi_get_state,
		.flags = IK_IRQCHIP_ONESHOT_SAFE,
	},
	.info = {
		.flags = PCI_MSI_FLAGS_COMMON | IK_MSI_FLAG_MASK_SOURCE,
		.bus_token = IK_MSI_BUS_PCI_MSI,
	},
};

/*
 * No per-vector masking: no mask callbacks, no MASK_SOURCE.  Masking then
 * happens at the parent if the parent requires it, else not at all (lazy
 * disable), and reservation mode is refused (a stray message must hit a
 * real vector).
 */
static const struct ik_msi_domain_template pci_msi_nomask_template = {
	.name = "PCI-MSI",
	.chip = {
		.name = "PCI-MSI",
		.irq_write_msi_msg = pci_msi_write_msg,
		.irq_get_irqchip_state = pci_msi_get_state,
	},
	.info = {
		.flags = PCI_MSI_FLAGS_COMMON,
		.bus_token = IK_MSI_BUS_PCI_MSI,
	},
};

/* ---- Enable / disable ------------------------------------------------------ */

static void msi_ctrl_update(struct pci_state *ps, uint32_t clear, uint32_t set)
{
	ik_irqflags_t flags;
	uint32_t ctrl;

	if (!pci_accessible(ps))
		return;
	flags = ik_os_spin_lock_irqsave(&ps->lock);
	ctrl = pci_cfg_read(ps, msi_reg(ps, PCI_MSI_FLAGS), 2);
	pci_cfg_write(ps, msi_reg(ps, PCI_MSI_FLAGS), 2, (ctrl & ~clear) | set);
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
}

static unsigned int ilog2_u(unsigned int v)
{
	unsigned int l = 0;

	while (v >>= 1)
		l++;
	return l;
}

/* One attempt with exactly @nvec vectors (a power of two).  MSI lock held. */
static int msi_try(struct pci_state *ps, uint16_t cap_flags, unsigned int nvec, bool affinity,
		   const struct ik_irq_affinity_spread *spread)
{
	struct ik_device *dev = ps->dev;
	struct ik_irq_affinity_desc *aff = NULL;
	struct ik_msi_desc init, *desc;
	bool is_64 = (cap_flags & PCI_MSI_FLAGS_64BIT) != 0;
	int ret;

	ik_memset(&init, 0, sizeof(init));
	init.nvec_used = nvec;
	init.pci.is_64 = is_64;
	init.pci.can_mask = (cap_flags & PCI_MSI_FLAGS_MASKBIT) != 0;
	init.pci.multiple = (uint8_t)ilog2_u(nvec);
	init.pci.multi_cap = (uint8_t)pci_msi_mmc(cap_flags);
	init.pci.mask_pos = msi_reg(ps, is_64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
	if (affinity) {
		aff = pci_spread_affinity(nvec, spread);
		if (!aff)
			return -IK_ENOMEM;
		init.affinity = aff;
	}
	ret = ik_msi_insert_desc(dev, IK_MSI_DEFAULT_DOMAIN, &init, 0);
	ik_os_free(aff);
	if (ret < 0)
		return ret;
	desc = ik_msi_find_desc(dev, IK_MSI_DEFAULT_DOMAIN, 0);

	/* The function powers up with its vectors unmasked: mask them all first. */
	if (desc->pci.can_mask)
		msi_update_mask(ps, desc, 0, msi_block_bits(nvec));
	/* Multiple Message Enable before anything can be sent. */
	msi_ctrl_update(ps, PCI_MSI_FLAGS_QSIZE, (uint32_t)desc->pci.multiple << 4);

	/* Early activation programs address and data, MSI Enable still clear. */
	ret = ik_msi_domain_alloc_irqs_range_locked(dev, IK_MSI_DEFAULT_DOMAIN, 0, 0, NULL);
	if (ret)
		goto err_desc;
	if (desc->msg.address_hi && (!is_64 || (ps->quirks & IK_PCI_QUIRK_NO_64BIT_MSI))) {
		ik_err("irqkit: %s: MSI got a 64-bit address (%x:%x) but the function only does 32-bit MSI\n",
		       ik_device_name(dev), desc->msg.address_hi, desc->msg.address_lo);
		ret = -IK_EIO;
		goto err_irqs;
	}
	return 0;

err_irqs:
	/* Back to the power-on state (unmasked); freeing the irqs frees the descriptor. */
	if (desc->pci.can_mask)
		msi_update_mask(ps, desc, 0xFFFFFFFFu, 0);
	ik_msi_domain_free_irqs_range_locked(dev, IK_MSI_DEFAULT_DOMAIN, 0, 0);
	ik_msi_free_descs_range(dev, IK_MSI_DEFAULT_DOMAIN, 0, 0);
	return ret;
err_desc:
	if (desc->pci.can_mask)
		msi_update_mask(ps, desc, 0xFFFFFFFFu, 0);
	ik_msi_free_descs_range(dev, IK_MSI_DEFAULT_DOMAIN, 0, 0);
	return ret;
}

int pci_msi_enable(struct pci_state *ps, unsigned int min, unsigned int max, bool affinity,
		   const struct ik_irq_affinity_spread *spread)
{
	struct ik_device *dev = ps->dev;
	const char *name = ik_device_name(dev);
	const struct ik_msi_domain_template *tmpl;
	const struct ik_msi_domain_info *info;
	unsigned int nvec, cap_n;
	bool devm_new = false;
	uint16_t cap_flags;
	int created, ret;

	cap_flags = (uint16_t)pci_cfg_read(ps, msi_reg(ps, PCI_MSI_FLAGS), 2);
	/*
	 * The 64-bit and per-vector-masking bits place the data and mask
	 * registers; the capability's length was checked (fits the space,
	 * overlaps nothing) at create, with the bits read then.  A function
	 * that claims another layout now would have registers written past
	 * its capability: into the next one, or beyond the standard space.
	 */
	if ((cap_flags ^ ps->cfg.msi_flags) & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT)) {
		ik_err("irqkit: %s: MSI capability layout changed since create (Message Control %x, was %x)\n",
		       name, cap_flags, ps->cfg.msi_flags);
		return -IK_EINVAL;
	}
	cap_n = 1u << pci_msi_mmc(cap_flags);
	nvec = IK_MIN(max, cap_n);
	while (nvec & (nvec - 1))
		nvec &= nvec - 1;       /* round down to a power of two */
	if (nvec < min)
		return -IK_ENOSPC;
	ret = ik_msi_setup_device_data(dev);
	if (ret)
		return ret;

	tmpl = (cap_flags & PCI_MSI_FLAGS_MASKBIT) ? &pci_msi_maskable_template
						    : &pci_msi_nomask_template;
	created = pci_setup_domain(ps, tmpl, cap_n);
	if (created < 0)
		return created;
	info = ik_msi_get_domain_info(ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN));
	if (nvec > 1 && !(info->flags & IK_MSI_FLAG_MULTI_PCI_MSI)) {
		/* The parent cannot place an aligned block: one vector. */
		if (min > 1) {
			ik_err("irqkit: %s: %u MSI vectors needed, the MSI parent gives one\n",
			       name, min);
			ret = -IK_ENOSPC;
			goto err_domain;
		}
		nvec = 1;
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
	msi_ctrl_update(ps, PCI_MSI_FLAGS_ENABLE, 0);
	for (;;) {
		ret = msi_try(ps, cap_flags, nvec, affinity, spread);
		if (!ret)
			break;
		/* A block that could not be placed: one vector, if that is enough. */
		if (ret != -IK_ENOSPC || nvec == 1 || min > 1)
			goto err_devm;
		nvec = 1;
	}
	pci_intx(ps, false);
	msi_ctrl_update(ps, 0, PCI_MSI_FLAGS_ENABLE);
	IK_WRITE_ONCE(ps->msi_nvec, nvec);
	IK_WRITE_ONCE(ps->mode, PCI_MODE_MSI);
	ik_msi_unlock_descs(dev);
	return (int)nvec;

err_devm:
	msi_ctrl_update(ps, PCI_MSI_FLAGS_QSIZE, 0);
	if (devm_new)
		pci_unregister_vectors_devm(ps);
err_unlock:
	ik_msi_unlock_descs(dev);
err_domain:
	if (created > 0)
		ik_msi_remove_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
	return ret;
}

void pci_msi_disable_locked(struct pci_state *ps)
{
	struct ik_device *dev = ps->dev;
	struct ik_msi_desc *desc = ik_msi_find_desc(dev, IK_MSI_DEFAULT_DOMAIN, 0);

	if (pci_accessible(ps)) {
		msi_ctrl_update(ps, PCI_MSI_FLAGS_ENABLE, 0);
		pci_intx(ps, true);
		/* Return the function with MSI unmasked, its power-on state. */
		if (desc && desc->pci.can_mask)
			msi_update_mask(ps, desc, 0xFFFFFFFFu, 0);
	}
	if (ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN)) {
		ik_msi_domain_free_irqs_all_locked(dev, IK_MSI_DEFAULT_DOMAIN);
		ik_msi_free_descs_range(dev, IK_MSI_DEFAULT_DOMAIN, 0, IK_MSI_MAX_INDEX);
	}
	if (pci_accessible(ps))
		msi_ctrl_update(ps, PCI_MSI_FLAGS_QSIZE, 0);
	IK_WRITE_ONCE(ps->msi_nvec, 0);
	IK_WRITE_ONCE(ps->mode, PCI_MODE_NONE);
}

void pci_msi_restore(struct pci_state *ps)
{
	struct ik_msi_desc *desc = ik_msi_find_desc(ps->dev, IK_MSI_DEFAULT_DOMAIN, 0);
	ik_irqflags_t flags;

	if (!desc)
		return;
	msi_ctrl_update(ps, PCI_MSI_FLAGS_ENABLE, 0);
	flags = ik_os_spin_lock_irqsave(&ps->lock);
	msi_program(ps, desc, &desc->msg);
	if (desc->pci.can_mask)
		pci_cfg_write(ps, desc->pci.mask_pos, 4, desc->pci.mask_cache);
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
	pci_intx(ps, false);
	msi_ctrl_update(ps, 0, PCI_MSI_FLAGS_ENABLE);
}
