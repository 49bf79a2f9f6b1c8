// SPDX-License-Identifier: BSD-2-Clause
/*
 * The remapping unit's fault-event interrupt (include/irqkit/x86_dmar.h):
 * a per-device MSI domain whose store is FEDATA/FEADDR/FEUADDR, masked
 * through FECTL.IM, always directly below the vector domain.
 */
#include <irqkit/msi.h>
#include <irqkit/x86.h>
#include <irqkit/x86_dmar.h>

#include "core/internals.h"

#define VTD_VER         0x000u
#define VTD_CAP         0x008u
#define  CAP_FRO(c)      ((unsigned int)(((c) >> 24) & 0x3FF) * 16u)
#define  CAP_NFR(c)      ((unsigned int)(((c) >> 40) & 0xFF) + 1u)
#define VTD_FSTS        0x034u
#define  FSTS_PFO        IK_BIT(0)
#define  FSTS_IQE        IK_BIT(4)
#define  FSTS_FRI(s)     (((s) >> 8) & 0xFFu)
#define VTD_FECTL       0x038u
#define  FECTL_IM        IK_BIT(31)
#define VTD_FEDATA      0x03Cu
#define VTD_FEADDR      0x040u
#define VTD_FEUADDR     0x044u
#define FRCD_F          IK_BIT(31)  /* bit 127 of a record: bit 31 of its last dword */

struct ik_x86_dmar {
	struct ik_device *dev;
	uint64_t base;
	unsigned int fro, nfr;
	unsigned int irq;
	ik_spinlock_t lock;             /* stats and log */
	struct ik_x86_dmar_stats stats;
	struct ik_x86_dmar_fault log[IK_X86_DMAR_LOG_MAX];
	uint64_t nr_logged;
	char name[IK_DEVICE_NAME_MAX];
};

static uint32_t rd(const struct ik_x86_dmar *u, uint32_t off)
{
	return ik_os_mmio_read32(u->base + off);
}

static void wr(const struct ik_x86_dmar *u, uint32_t off, uint32_t v)
{
	ik_os_mmio_write32(u->base + off, v);
}

/* ---- The store ------------------------------------------------------------------- */

static struct ik_x86_dmar *dmar_of(const struct ik_irq_data *d)
{
	return ik_msi_get_domain_info(d->domain)->data;
}

static void dmar_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	const struct ik_x86_dmar *u = dmar_of(d);

	wr(u, VTD_FEDATA, msg->data);
	wr(u, VTD_FEADDR, msg->address_lo);
	wr(u, VTD_FEUADDR, msg->address_hi);
}

/* FECTL: only IM is writable; IP is read-only status. */
static void dmar_mask(struct ik_irq_data *d)
{
	wr(dmar_of(d), VTD_FECTL, FECTL_IM);
}

static void dmar_unmask(struct ik_irq_data *d)
{
	wr(dmar_of(d), VTD_FECTL, 0);
}

static int dmar_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	uint32_t fectl = rd(dmar_of(d), VTD_FECTL);

	switch (which) {
	case IK_IRQCHIP_STATE_MASKED:
		*state = (fectl & FECTL_IM) != 0;
		return 0;
	case IK_IRQCHIP_STATE_PENDING:
		*state = (fectl & IK_BIT(30)) != 0;
		return 0;
	}
	return -IK_EINVAL;
}

static int dmar_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
			     struct ik_msi_desc *desc)
{
	const struct ik_x86_dmar *u = ik_msi_get_domain_info(domain)->data;

	if (desc->index)
		return -IK_ERANGE;
	wr(u, VTD_FECTL, FECTL_IM);
	return 0;
}

static const struct ik_msi_domain_template dmar_template = {
	.name = "DMAR",
	.chip = {
		.name = "DMAR-MSI",
		.irq_mask = dmar_mask,
		.irq_unmask = dmar_unmask,
		.irq_write_msi_msg = dmar_write_msg,
		.irq_get_irqchip_state = dmar_get_state,
	},
	.ops = {
		.prepare_desc = dmar_prepare_desc,
	},
	.info = {
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_DEVICE_MSI | IK_MSI_FLAG_MASK_SOURCE,
		.bus_token = IK_MSI_BUS_DEVICE,
		.hwsize = 1,
	},
};

/* ---- The handler ------------------------------------------------------------------ */

static void log_fault(struct ik_x86_dmar *u, uint8_t reason, uint16_t sid, uint16_t index)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&u->lock);

	u->log[u->nr_logged % IK_X86_DMAR_LOG_MAX] =
		(struct ik_x86_dmar_fault){ .reason = reason, .source_id = sid, .index = index };
	u->nr_logged++;
	u->stats.faults++;
	u->stats.by_reason[reason]++;
	ik_os_spin_unlock_irqrestore(&u->lock, flags);
}

/*
 * Every record, from the oldest pending one (FRI) round the ring, each cleared
 * after it was read, so a fault recorded meanwhile either is read here or
 * raises a new event (PPF goes 0 -> 1 again).  PFO is cleared last: the
 * unit records again only once it is clear.
 */
static ik_irqreturn_t dmar_fault_handler(unsigned int irq, void *dev_id)
{
	struct ik_x86_dmar *u = dev_id;
	uint32_t fsts = rd(u, VTD_FSTS);
	unsigned int first = FSTS_FRI(fsts) % u->nfr;
	ik_irqflags_t flags;

	for (unsigned int i = 0; i < u->nfr; i++) {
		uint32_t rec = u->fro + 16u * ((first + i) % u->nfr);
		uint32_t hi_hi = rd(u, rec + 12), hi_lo, lo_hi;

		if (!(hi_hi & FRCD_F))
			continue;
		hi_lo = rd(u, rec + 8);
		lo_hi = rd(u, rec + 4);
		wr(u, rec + 12, FRCD_F);
		log_fault(u, (uint8_t)hi_hi, (uint16_t)hi_lo, (uint16_t)(lo_hi >> 16));
		ik_err("irqkit: %s: interrupt request blocked: reason 0x%02x, source %02x:%02x.%u, "
		       "index %u\n", u->name, hi_hi & 0xFF, (hi_lo >> 8) & 0xFF, (hi_lo >> 3) & 0x1F,
		       hi_lo & 7, lo_hi >> 16);
	}
	flags = ik_os_spin_lock_irqsave(&u->lock);
	u->stats.interrupts++;
	if (fsts & FSTS_PFO)
		u->stats.overflows++;
	if (fsts & FSTS_IQE)
		u->stats.queue_errors++;
	ik_os_spin_unlock_irqrestore(&u->lock, flags);
	if (fsts & FSTS_PFO)
		wr(u, VTD_FSTS, FSTS_PFO);
	return IK_IRQ_HANDLED;
}

/* ---- Driver and set-up ------------------------------------------------------------- */

static int dmar_probe(struct ik_device *dev)
{
	struct ik_x86_dmar *u = ik_device_get_drvdata(dev);

	return ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &dmar_template, 1, u, NULL);
}

static const struct ik_driver dmar_driver = {
	.name = "x86-dmar-fault",
	.probe = dmar_probe,
};

int ik_x86_dmar_fault_init(const struct ik_x86_dmar_config *cfg, struct ik_x86_dmar **out)
{
	struct ik_irq_domain *vector = ik_x86_vector_domain();
	const char *name;
	struct ik_x86_dmar *u;
	struct ik_msi_map map;
	uint32_t ver;
	uint64_t cap;
	size_t i;
	int ret;

	if (!cfg || !out || !vector)
		return -IK_EINVAL;
	ver = ik_os_mmio_read32(cfg->unit_base + VTD_VER);
	if (!ver || ver == 0xFFFFFFFFu) {
		ik_err("irqkit: no remapping unit at 0x%llx\n", (unsigned long long)cfg->unit_base);
		return -IK_ENODEV;
	}
	u = ik_os_alloc(sizeof(*u));
	if (!u)
		return -IK_ENOMEM;
	ik_os_spin_init(&u->lock);
	u->base = cfg->unit_base;
	cap = ik_os_mmio_read64(u->base + VTD_CAP);
	u->fro = CAP_FRO(cap);
	u->nfr = CAP_NFR(cap);
	name = cfg->name ? cfg->name : "dmar0";
	for (i = 0; i + 1 < sizeof(u->name) && name[i]; i++)
		u->name[i] = name[i];
	u->name[i] = '\0';
	wr(u, VTD_FECTL, FECTL_IM);

	ret = ik_device_create(NULL, u->name, &u->dev);
	if (ret)
		goto err_free;
	/* Never below remapping: the unit does not remap its own events. */
	ik_device_set_msi_parent(u->dev, vector);
	ik_device_set_drvdata(u->dev, u);
	ret = ik_device_bind(u->dev, &dmar_driver);
	if (ret)
		goto err_destroy;
	map = ik_msi_domain_alloc_irq_at(u->dev, IK_MSI_DEFAULT_DOMAIN, 0, NULL, 0);
	if (map.index < 0) {
		ret = map.index;
		goto err_destroy;
	}
	u->irq = map.virq;
	ret = ik_request_irq(u->irq, dmar_fault_handler, 0, u->name, u);
	if (ret)
		goto err_destroy;       /* unbinding frees the interrupt with the domain */
	*out = u;
	return 0;

err_destroy:
	ik_device_destroy(u->dev);
err_free:
	ik_os_free(u);
	return ret;
}

void ik_x86_dmar_fault_exit(struct ik_x86_dmar *u)
{
	if (!u)
		return;
	ik_free_irq(u->irq, u);
	ik_device_destroy(u->dev);
	ik_os_free(u);
}

unsigned int ik_x86_dmar_fault_irq(const struct ik_x86_dmar *u)
{
	return u ? u->irq : 0;
}

struct ik_irq_domain *ik_x86_dmar_domain(const struct ik_x86_dmar *u)
{
	return u ? ik_msi_get_device_domain(u->dev, IK_MSI_DEFAULT_DOMAIN) : NULL;
}

struct ik_device *ik_x86_dmar_device(const struct ik_x86_dmar *u)
{
	return u ? u->dev : NULL;
}

int ik_x86_dmar_get_stats(struct ik_x86_dmar *u, struct ik_x86_dmar_stats *stats)
{
	ik_irqflags_t flags;

	if (!u || !stats)
		return -IK_EINVAL;
	flags = ik_os_spin_lock_irqsave(&u->lock);
	*stats = u->stats;
	ik_os_spin_unlock_irqrestore(&u->lock, flags);
	return 0;
}

uint64_t ik_x86_dmar_fault_log(struct ik_x86_dmar *u, struct ik_x86_dmar_fault *out,
			       unsigned int max)
{
	ik_irqflags_t flags;
	uint64_t n, first;

	if (!u)
		return 0;
	flags = ik_os_spin_lock_irqsave(&u->lock);
	n = u->nr_logged;
	first = n > IK_X86_DMAR_LOG_MAX ? n - IK_X86_DMAR_LOG_MAX : 0;
	for (uint64_t i = first; out && i < n && i - first < max; i++)
		out[i - first] = u->log[i % IK_X86_DMAR_LOG_MAX];
	ik_os_spin_unlock_irqrestore(&u->lock, flags);
	return n;
}
