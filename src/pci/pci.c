// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI functions as devices: creation from configuration space, config
 * access, BARs, command register, power and presence state, quirks, and
 * the device-managed lifetime of interrupt vectors.
 */
#include "pci_internal.h"

struct pci_state *pci_state_of(const struct ik_device *dev)
{
	struct pci_state *ps;

	if (!dev)
		return NULL;
	ps = ik_device_bus_data(dev);
	return ps && ps->magic == PCI_STATE_MAGIC && ps->dev == dev ? ps : NULL;
}

bool ik_dev_is_pci(const struct ik_device *dev)
{
	return pci_state_of(dev) != NULL;
}

uint32_t pci_cfg_read(const struct pci_state *ps, uint16_t off, unsigned int size)
{
	uint32_t v = 0xFFFFFFFFu;

	if (ik_os_pci_cfg_read(ps->segment, ps->bdf, off, size, &v))
		v = 0xFFFFFFFFu;
	return v;
}

void pci_cfg_write(const struct pci_state *ps, uint16_t off, unsigned int size, uint32_t val)
{
	ik_os_pci_cfg_write(ps->segment, ps->bdf, off, size, val);
}

/* ---- Creation -------------------------------------------------------------- */

struct raw_cfg {
	uint16_t segment, bdf;
};

static int raw_read(void *ctx, uint16_t off, unsigned int size, uint32_t *value)
{
	const struct raw_cfg *rc = ctx;

	return ik_os_pci_cfg_read(rc->segment, rc->bdf, off, size, value);
}

static int raw_write(void *ctx, uint16_t off, unsigned int size, uint32_t value)
{
	const struct raw_cfg *rc = ctx;

	return ik_os_pci_cfg_write(rc->segment, rc->bdf, off, size, value);
}

static char hex_digit(unsigned int v)
{
	return (char)(v < 10 ? '0' + v : 'a' + v - 10);
}

static size_t put_hex(char *dst, size_t pos, unsigned int value, unsigned int digits)
{
	while (digits--)
		dst[pos++] = hex_digit((value >> (4 * digits)) & 0xFu);
	return pos;
}

/* "ssss:bb:dd.f" */
static void pci_name(char *buf, uint16_t segment, uint16_t bdf)
{
	size_t pos = 0;

	pos = put_hex(buf, pos, segment, 4);
	buf[pos++] = ':';
	pos = put_hex(buf, pos, bdf >> 8, 2);
	buf[pos++] = ':';
	pos = put_hex(buf, pos, (bdf >> 3) & 0x1Fu, 2);
	buf[pos++] = '.';
	pos = put_hex(buf, pos, bdf & 7u, 1);
	buf[pos] = '\0';
}

/* The device is going (its driver unbound, its children gone): drop the PCI state. */
static void pci_state_release(struct ik_device *dev, void *data)
{
	struct pci_state *ps = data;

	ps->magic = 0;
	ik_os_free(ps);
}

int ik_pci_device_create(struct ik_device *parent, uint16_t segment, uint16_t bdf,
			 struct ik_device **out)
{
	struct raw_cfg rc = { segment, bdf };
	struct ik_pci_cfg_access acc = { raw_read, raw_write, &rc };
	struct pci_state *ps;
	struct ik_device *dev;
	char name[16];
	int ret;

	if (!out)
		return -IK_EINVAL;
	*out = NULL;
	pci_name(name, segment, bdf);
	ps = ik_os_alloc(sizeof(*ps));
	if (!ps)
		return -IK_ENOMEM;
	ret = ik_pci_parse_config(&acc, name, &ps->cfg);
	if (ret)
		goto err_free;
	ret = ik_device_create(parent, name, &dev);
	if (ret)
		goto err_free;
	ps->magic = PCI_STATE_MAGIC;
	ps->dev = dev;
	ps->segment = segment;
	ps->bdf = bdf;
	ps->power = IK_PCI_D0;
	ps->command = (uint16_t)pci_cfg_read(ps, IK_PCI_COMMAND, 2) &
		      (IK_PCI_COMMAND_MEMORY | IK_PCI_COMMAND_MASTER);
	ik_os_spin_init(&ps->lock);
	ik_device_set_requester_id(dev, segment, bdf);
	ik_device_set_bus_data(dev, ps, pci_state_release);
	*out = dev;
	return 0;

err_free:
	ik_os_free(ps);
	return ret;
}

void ik_pci_device_destroy(struct ik_device *dev)
{
	ik_device_destroy(dev);
}

uint16_t ik_pci_segment(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? ps->segment : 0;
}

uint16_t ik_pci_bdf(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? ps->bdf : 0;
}

uint16_t ik_pci_vendor_id(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? ps->cfg.vendor_id : 0xFFFFu;
}

uint16_t ik_pci_device_id(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? ps->cfg.device_id : 0xFFFFu;
}

/* ---- Configuration access --------------------------------------------------- */

static bool cfg_args_ok(uint16_t offset, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && !(offset & (size - 1)) && offset < 4096;
}

int ik_pci_read_config(struct ik_device *dev, uint16_t offset, unsigned int size,
		       uint32_t *value)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps || !value || !cfg_args_ok(offset, size))
		return -IK_EINVAL;
	if (IK_READ_ONCE(ps->disconnected)) {
		*value = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
		return -IK_ENODEV;
	}
	return ik_os_pci_cfg_read(ps->segment, ps->bdf, offset, size, value);
}

int ik_pci_write_config(struct ik_device *dev, uint16_t offset, unsigned int size,
			uint32_t value)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps || !cfg_args_ok(offset, size))
		return -IK_EINVAL;
	if (IK_READ_ONCE(ps->disconnected))
		return -IK_ENODEV;
	return ik_os_pci_cfg_write(ps->segment, ps->bdf, offset, size, value);
}

uint8_t ik_pci_find_capability(const struct ik_device *dev, uint8_t cap_id)
{
	const struct pci_state *ps = pci_state_of(dev);

	if (!ps)
		return 0;
	switch (cap_id) {
	case IK_PCI_CAP_ID_PM:
		return ps->cfg.pm_cap;
	case IK_PCI_CAP_ID_MSI:
		return ps->cfg.msi_cap;
	case IK_PCI_CAP_ID_MSIX:
		return ps->cfg.msix.cap;
	default:
		return 0;
	}
}

/* ---- Command register ---------------------------------------------------- */

static int update_command(struct ik_device *dev, uint16_t clear, uint16_t set)
{
	struct pci_state *ps = pci_state_of(dev);
	ik_irqflags_t flags;
	uint32_t cmd;

	if (!ps)
		return -IK_EINVAL;
	flags = ik_os_spin_lock_irqsave(&ps->lock);
	ps->command = (uint16_t)((ps->command & ~clear) | set);
	if (pci_accessible(ps)) {
		cmd = pci_cfg_read(ps, IK_PCI_COMMAND, 2);
		pci_cfg_write(ps, IK_PCI_COMMAND, 2, (cmd & ~clear) | set);
	}
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
	return IK_READ_ONCE(ps->disconnected) ? -IK_ENODEV : 0;
}

void pci_intx(struct pci_state *ps, bool enable)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&ps->lock);
	uint32_t cmd;

	if (pci_accessible(ps)) {
		cmd = pci_cfg_read(ps, IK_PCI_COMMAND, 2);
		if (enable)
			cmd &= ~IK_PCI_COMMAND_INTX_DISABLE;
		else
			cmd |= IK_PCI_COMMAND_INTX_DISABLE;
		pci_cfg_write(ps, IK_PCI_COMMAND, 2, cmd);
	}
	ik_os_spin_unlock_irqrestore(&ps->lock, flags);
}

int ik_pci_enable_device(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps)
		return -IK_EINVAL;
	if (IK_READ_ONCE(ps->disconnected))
		return -IK_ENODEV;
	return update_command(dev, 0, IK_PCI_COMMAND_MEMORY);
}

void ik_pci_disable_device(struct ik_device *dev)
{
	update_command(dev, IK_PCI_COMMAND_MEMORY | IK_PCI_COMMAND_MASTER, 0);
}

static void pcim_disable_device(void *data)
{
	ik_pci_disable_device(data);
}

int ik_pcim_enable_device(struct ik_device *dev)
{
	int ret = ik_pci_enable_device(dev);

	if (ret)
		return ret;
	ret = ik_devm_add_action(dev, pcim_disable_device, dev);
	if (ret)
		ik_pci_disable_device(dev);
	return ret;
}

void ik_pci_set_master(struct ik_device *dev)
{
	update_command(dev, 0, IK_PCI_COMMAND_MASTER);
}

void ik_pci_clear_master(struct ik_device *dev)
{
	update_command(dev, IK_PCI_COMMAND_MASTER, 0);
}

/* ---- BARs ----------------------------------------------------------------- */

static const struct ik_pci_bar_info *bar_info(const struct ik_device *dev, unsigned int bar)
{
	const struct pci_state *ps = pci_state_of(dev);

	if (!ps || bar >= IK_PCI_NUM_BARS)
		return NULL;
	return &ps->cfg.bars[bar];
}

uint64_t ik_pci_resource_start(const struct ik_device *dev, unsigned int bar)
{
	const struct ik_pci_bar_info *b = bar_info(dev, bar);

	return b && (b->flags & IK_PCI_RES_MEM) ? b->start : 0;
}

uint64_t ik_pci_resource_len(const struct ik_device *dev, unsigned int bar)
{
	const struct ik_pci_bar_info *b = bar_info(dev, bar);

	return b && (b->flags & IK_PCI_RES_MEM) ? b->len : 0;
}

uint32_t ik_pci_resource_flags(const struct ik_device *dev, unsigned int bar)
{
	const struct ik_pci_bar_info *b = bar_info(dev, bar);

	return b ? b->flags : 0;
}

/* ---- Power, presence, quirks ------------------------------------------------ */

int ik_pci_set_power_state(struct ik_device *dev, enum ik_pci_power_state state)
{
	struct pci_state *ps = pci_state_of(dev);
	uint32_t pmcsr;

	if (!ps || (state != IK_PCI_D0 && state != IK_PCI_D3HOT))
		return -IK_EINVAL;
	if (IK_READ_ONCE(ps->disconnected))
		return -IK_ENODEV;
	if (ps->cfg.pm_cap) {
		uint16_t off = (uint16_t)(ps->cfg.pm_cap + PCI_PM_CTRL);

		pmcsr = pci_cfg_read(ps, off, 2);
		pci_cfg_write(ps, off, 2, (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | (uint32_t)state);
	}
	/* From now on (D3) or again (D0), chip callbacks see the new state. */
	IK_WRITE_ONCE(ps->power, state);
	return 0;
}

enum ik_pci_power_state ik_pci_power_state(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? IK_READ_ONCE(ps->power) : IK_PCI_D0;
}

void ik_pci_set_disconnected(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (ps)
		IK_WRITE_ONCE(ps->disconnected, true);
}

bool ik_pci_is_disconnected(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return !ps || IK_READ_ONCE(ps->disconnected);
}

void ik_pci_set_quirks(struct ik_device *dev, uint32_t quirks)
{
	struct pci_state *ps = pci_state_of(dev);

	if (ps)
		ps->quirks = quirks;
}

uint32_t ik_pci_quirks(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps ? ps->quirks : 0;
}

/* ---- Affinity spreading ---------------------------------------------------- */

struct ik_irq_affinity_desc *pci_spread_affinity(unsigned int nvec,
						 const struct ik_irq_affinity_spread *spread)
{
	unsigned int pre = spread ? spread->pre_vectors : 0;
	unsigned int post = spread ? spread->post_vectors : 0;
	unsigned int ncpus = ik_os_cpu_count(), nspread, i;
	struct ik_irq_affinity_desc *aff;

	if (ncpus > IK_CPUS_MAX)
		ncpus = IK_CPUS_MAX;
	aff = ik_os_alloc(sizeof(*aff) * nvec);
	if (!aff)
		return NULL;
	if (pre > nvec)
		pre = nvec;
	if (post > nvec - pre)
		post = nvec - pre;
	nspread = nvec - pre - post;
	for (i = 0; i < nvec; i++) {
		ik_cpumask_clear(&aff[i].mask);
		if (i < pre || i >= pre + nspread) {
			/* Not spread: any CPU, not managed. */
			ik_cpumask_setall(&aff[i].mask, ncpus);
			continue;
		}
		unsigned int j = i - pre;

		if (ncpus >= nspread) {
			/* Vector j serves CPUs [j * n / m, (j + 1) * n / m). */
			unsigned int first = j * ncpus / nspread;
			unsigned int last = (j + 1) * ncpus / nspread;

			for (unsigned int cpu = first; cpu < last; cpu++)
				ik_cpumask_set_cpu(cpu, &aff[i].mask);
		} else {
			ik_cpumask_set_cpu(j % ncpus, &aff[i].mask);
		}
		aff[i].is_managed = true;
	}
	return aff;
}

/* ---- Vectors: the generic entry points ------------------------------------ */

int pci_setup_domain(struct pci_state *ps, const struct ik_msi_domain_template *tmpl,
		     uint32_t hwsize)
{
	struct ik_device *dev = ps->dev;
	struct ik_irq_domain *domain = ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
	int ret;

	if (domain) {
		const struct ik_msi_domain_info *info = ik_msi_get_domain_info(domain);

		if (info->bus_token == tmpl->info.bus_token && info->hwsize == hwsize &&
		    !((info->flags ^ tmpl->info.flags) & IK_MSI_FLAG_MASK_SOURCE))
			return 0;
		/* MSI <-> MSI-X: the other kind's domain goes (it has no vectors). */
		ik_msi_remove_device_domain(dev, IK_MSI_DEFAULT_DOMAIN);
		if (ik_msi_get_device_domain(dev, IK_MSI_DEFAULT_DOMAIN))
			return -IK_EBUSY;
	}
	ret = ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, tmpl, hwsize, ps, ps);
	return ret ? ret : 1;
}

static void pci_vectors_devm_release(void *data)
{
	struct pci_state *ps = data;

	ik_msi_lock_descs(ps->dev);
	ps->devm_registered = false;
	ik_msi_unlock_descs(ps->dev);
	ik_pci_free_irq_vectors(ps->dev);
}

/* MSI lock held. */
int pci_register_vectors_devm(struct pci_state *ps)
{
	int ret;

	if (ps->devm_registered)
		return 0;
	ret = ik_devm_add_action(ps->dev, pci_vectors_devm_release, ps);
	if (!ret)
		ps->devm_registered = true;
	return ret;
}

/* MSI lock held. */
void pci_unregister_vectors_devm(struct pci_state *ps)
{
	if (ps->devm_registered &&
	    !ik_devm_remove_action(ps->dev, pci_vectors_devm_release, ps))
		ps->devm_registered = false;
}

/*
 * A function without a driver must not keep MSI data once it has no
 * vectors: the data is a device-managed resource, and a device holding one
 * cannot be bound (see ik_device_bind()).  Not under the MSI lock.
 */
static void pci_drop_unbound_msi_data(struct pci_state *ps)
{
	struct ik_device *dev = ps->dev;

	if (ik_device_driver(dev) || IK_READ_ONCE(ps->mode) != PCI_MODE_NONE)
		return;
	/* Another storage (IMS, ...) set up on the unbound device keeps it. */
	for (unsigned int i = 0; i < IK_MSI_MAX_DEVICE_DOMAINS; i++)
		if (i != IK_MSI_DEFAULT_DOMAIN && ik_msi_get_device_domain(dev, i))
			return;
	ik_msi_release_device_data(dev);
}

int ik_pci_alloc_irq_vectors(struct ik_device *dev, unsigned int min, unsigned int max,
			     unsigned int flags, const struct ik_irq_affinity_spread *spread)
{
	struct pci_state *ps = pci_state_of(dev);
	bool affinity = (flags & IK_PCI_IRQ_AFFINITY) != 0;
	int ret = -IK_ENOTSUPP;

	if (!ps || !min || max < min || !(flags & IK_PCI_IRQ_ALL_TYPES) ||
	    (flags & ~(IK_PCI_IRQ_ALL_TYPES | IK_PCI_IRQ_AFFINITY)))
		return -IK_EINVAL;
	if (!affinity)
		spread = NULL;  /* pre/post only mean something when spreading */
	if (IK_READ_ONCE(ps->disconnected))
		return -IK_ENODEV;
	if (!ik_device_msi_parent(dev)) {
		ik_err("irqkit: %s: no MSI parent domain\n", ik_device_name(dev));
		return -IK_ENODEV;
	}
	if (IK_READ_ONCE(ps->power) != IK_PCI_D0) {
		ik_err("irqkit: %s: cannot enable MSI/MSI-X outside D0\n", ik_device_name(dev));
		return -IK_EIO;
	}
	if (IK_READ_ONCE(ps->mode) != PCI_MODE_NONE) {
		ik_err("irqkit: %s: %s already enabled: %s\n", ik_device_name(dev),
		       IK_READ_ONCE(ps->mode) == PCI_MODE_MSI ? "MSI" : "MSI-X",
		       IK_READ_ONCE(ps->mode) == PCI_MODE_MSI ? "MSI cannot be resized, free the vectors first"
						: "free the vectors first");
		return -IK_EINVAL;
	}
	/* MSI-X first; MSI if MSI-X is absent or cannot be had (as Linux). */
	if ((flags & IK_PCI_IRQ_MSIX) && ps->cfg.msix.cap && !(ps->quirks & IK_PCI_QUIRK_NO_MSIX)) {
		ret = pci_msix_enable(ps, min, max, affinity, spread);
		if (ret >= 0)
			return ret;
	}
	if (ret < 0 && (flags & IK_PCI_IRQ_MSI) && ps->cfg.msi_cap &&
	    !(ps->quirks & IK_PCI_QUIRK_NO_MSI))
		ret = pci_msi_enable(ps, min, max, affinity, spread);
	if (ret < 0)
		pci_drop_unbound_msi_data(ps);
	return ret;
}

bool pci_vectors_busy_locked(struct pci_state *ps)
{
	struct ik_msi_desc *desc;

	ik_msi_for_each_desc(desc, ps->dev, IK_MSI_DEFAULT_DOMAIN, IK_MSI_DESC_ASSOCIATED) {
		for (unsigned int i = 0; i < desc->nvec_used; i++) {
			struct ik_irq_desc *idesc = ik_irq_to_desc(desc->irq + i);
			ik_irqflags_t flags = ik_irq_desc_lock(idesc);
			bool busy = ik_irq_desc_has_action(idesc);

			ik_irq_desc_unlock(idesc, flags);
			if (busy) {
				ik_warn("irqkit: %s: irq %u still has a handler: vectors not freed\n",
					ik_device_name(ps->dev), desc->irq + i);
				return true;
			}
		}
	}
	return false;
}

void ik_pci_free_irq_vectors(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps)
		return;
	ik_msi_lock_descs(dev);
	if (ps->mode == PCI_MODE_NONE || pci_vectors_busy_locked(ps)) {
		ik_msi_unlock_descs(dev);
		return;
	}
	if (ps->mode == PCI_MODE_MSIX)
		pci_msix_disable_locked(ps);
	else
		pci_msi_disable_locked(ps);
	pci_unregister_vectors_devm(ps);
	ik_msi_unlock_descs(dev);
	pci_drop_unbound_msi_data(ps);
}

int ik_pci_irq_vector(struct ik_device *dev, unsigned int nr)
{
	struct pci_state *ps = pci_state_of(dev);
	enum pci_irq_mode mode;
	int irq;

	if (!ps)
		return -IK_EINVAL;
	mode = IK_READ_ONCE(ps->mode);
	if (mode == PCI_MODE_NONE || (mode == PCI_MODE_MSI && nr >= IK_READ_ONCE(ps->msi_nvec)))
		return -IK_EINVAL;
	irq = ik_msi_get_virq(dev, IK_MSI_DEFAULT_DOMAIN, nr);
	return irq < 0 ? -IK_EINVAL : irq;
}

bool ik_pci_msi_enabled(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps && IK_READ_ONCE(ps->mode) == PCI_MODE_MSI;
}

bool ik_pci_msix_enabled(const struct ik_device *dev)
{
	const struct pci_state *ps = pci_state_of(dev);

	return ps && IK_READ_ONCE(ps->mode) == PCI_MODE_MSIX;
}

int ik_pci_msi_vec_count(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps || !ps->cfg.msi_cap)
		return -IK_EINVAL;
	return 1 << pci_msi_mmc(ps->cfg.msi_flags);
}

int ik_pci_msix_vec_count(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps || !ps->cfg.msix.cap)
		return -IK_EINVAL;
	return ps->cfg.msix.table_size;
}

int ik_pci_restore_msi_state(struct ik_device *dev)
{
	struct pci_state *ps = pci_state_of(dev);

	if (!ps)
		return -IK_EINVAL;
	if (IK_READ_ONCE(ps->disconnected))
		return -IK_ENODEV;
	if (IK_READ_ONCE(ps->power) != IK_PCI_D0)
		return -IK_EIO;
	ik_msi_lock_descs(dev);
	/* Decode first: the MSI-X table lives behind a BAR. */
	update_command(dev, 0, ps->command & IK_PCI_COMMAND_MEMORY);
	if (ps->mode == PCI_MODE_MSIX)
		pci_msix_restore(ps);
	else if (ps->mode == PCI_MODE_MSI)
		pci_msi_restore(ps);
	update_command(dev, 0, ps->command & IK_PCI_COMMAND_MASTER);
	ik_msi_unlock_descs(dev);
	return 0;
}
