// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86 HPET: a per-device MSI domain whose store is each comparator's FSB
 * route register pair (include/irqkit/x86_hpet.h).
 *
 * The domain is created by a small driver bound to the HPET's platform
 * device, so the device's MSI data (and with it the domain) is released
 * when the device goes.
 */
#include <irqkit/msi.h>
#include <irqkit/x86.h>
#include <irqkit/x86_hpet.h>
#include <irqkit/x86_ir.h>

#include "core/internals.h"

#define HPET_GCAP_ID            0x000u
#define  GCAP_NUM_TIM(v)         ((unsigned int)(((v) >> 8) & 0x1F) + 1)
#define  GCAP_COUNT_SIZE_64      IK_BIT(13)
#define HPET_GEN_CONF           0x010u
#define  GEN_ENABLE              IK_BIT(0)
#define HPET_TN_CONF(n)         (0x100u + 0x20u * (n))
#define  TN_INT_TYPE_LEVEL       IK_BIT(1)
#define  TN_INT_ENB              IK_BIT(2)
#define  TN_TYPE_PERIODIC        IK_BIT(3)
#define  TN_SIZE_CAP_64          IK_BIT(5)
#define  TN_32MODE               IK_BIT(8)
#define  TN_FSB_EN               IK_BIT(14)
#define  TN_FSB_DEL_CAP          IK_BIT(15)
#define HPET_TN_CMP(n)          (0x108u + 0x20u * (n))
#define HPET_TN_FSB(n)          (0x110u + 0x20u * (n))
#define HPET_MAIN_CNT           0x0F0u

struct ik_x86_hpet {
	struct ik_device *dev;
	uint64_t base;
	unsigned int nr_timers;
	bool counter_64;        /* GCAP_ID.COUNT_SIZE_CAP */
	uint32_t fsb_cap;       /* bit n: timer n can deliver through FSB */
	char name[IK_DEVICE_NAME_MAX];
};

static uint32_t conf_read(const struct ik_x86_hpet *h, unsigned int n)
{
	return ik_os_mmio_read32(h->base + HPET_TN_CONF(n));
}

static void conf_write(const struct ik_x86_hpet *h, unsigned int n, uint32_t v)
{
	ik_os_mmio_write32(h->base + HPET_TN_CONF(n), v);
}

/* ---- The store ---------------------------------------------------------------- */

static struct ik_x86_hpet *hpet_of(const struct ik_irq_data *d)
{
	return ik_msi_get_domain_info(d->domain)->data;
}

/*
 * Value first, then address, one dword each: when only one of them
 * changes (the x86-msi two-step update) the other write is a no-op for
 * the comparator, so a match in between sends a consistent message.
 */
static void hpet_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	const struct ik_x86_hpet *h = hpet_of(d);
	uint64_t route = h->base + HPET_TN_FSB((unsigned int)d->hwirq);

	ik_os_mmio_write32(route, msg->data);
	ik_os_mmio_write32(route + 4, msg->address_lo);
}

/*
 * How far ahead of the main counter a comparator is parked before its
 * interrupt is opened.  A real HPET matches on equality only, so any value
 * not reached soon would do; emulators (QEMU) match on "counter >=
 * comparator" within a signed half range, and fire at once for a value
 * they see as behind.  So: just under half the range for a 32-bit
 * comparator (~150 s at the usual 14.318 MHz), and 2^56 ticks for a
 * 64-bit one (over 20 years even at the fastest 100 MHz the specification
 * allows, while ticks times a period of at most 100 ns still fits a signed
 * 64-bit nanosecond count, which an emulator may compute).
 */
#define HPET_PARK_32 0x7FFFFFFFull
#define HPET_PARK_64 (1ull << 56)

/*
 * Open the interrupt of a timer whose INT_ENB is clear.  The comparator
 * may hold anything: a previous owner's value, the reset value, the last
 * match.  A value about to be reached would send a match nobody armed
 * (real HPET), a value behind the counter one at once (QEMU).  So, in
 * this order: read the main counter, move the comparator far ahead of it
 * (while INT_ENB is still clear, so even a comparator written in two
 * halves cannot deliver a half-written value), and only then set INT_ENB.
 * The first ik_x86_hpet_timer_arm() brings it back.  A timer in 32-bit mode
 * (or without 64-bit capability) compares the low 32 bits only: the
 * distance must be within that range.
 */
static void hpet_open(const struct ik_x86_hpet *h, unsigned int n, uint32_t conf)
{
	bool wide = h->counter_64 && (conf & TN_SIZE_CAP_64) && !(conf & TN_32MODE);
	uint64_t now = ik_os_mmio_read64(h->base + HPET_MAIN_CNT);

	ik_os_mmio_write64(h->base + HPET_TN_CMP(n), now + (wide ? HPET_PARK_64 : HPET_PARK_32));
	conf_write(h, n, conf | TN_INT_ENB);
}

/*
 * INT_ENB is the store's startup/shutdown gate only (the domain has no
 * runtime source masking: see the header), so "on" with INT_ENB clear is
 * the start of the interrupt, before any arm.
 */
static void hpet_set_enb(struct ik_irq_data *d, bool on)
{
	const struct ik_x86_hpet *h = hpet_of(d);
	unsigned int n = (unsigned int)d->hwirq;
	uint32_t conf = conf_read(h, n);

	if (on && !(conf & TN_INT_ENB))
		hpet_open(h, n, conf);
	else if (!on)
		conf_write(h, n, conf & ~(uint32_t)TN_INT_ENB);
}

static void hpet_mask(struct ik_irq_data *d)
{
	hpet_set_enb(d, false);
}

static void hpet_unmask(struct ik_irq_data *d)
{
	hpet_set_enb(d, true);
}

static int hpet_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	if (which != IK_IRQCHIP_STATE_MASKED)
		return -IK_EINVAL;
	*state = !(conf_read(hpet_of(d), (unsigned int)d->hwirq) & TN_INT_ENB);
	return 0;
}

/* The timer: edge, one-shot, FSB delivery, interrupt off until startup. */
static int hpet_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
			     struct ik_msi_desc *desc)
{
	const struct ik_x86_hpet *h = ik_msi_get_domain_info(domain)->data;
	unsigned int n = desc->index;
	uint32_t conf;

	if (n >= h->nr_timers)
		return -IK_ERANGE;
	if (!(h->fsb_cap & IK_BIT(n))) {
		ik_err("irqkit: %s: timer %u cannot deliver through FSB\n", h->name, n);
		return -IK_ENOTSUPP;
	}
	conf = conf_read(h, n) & ~(uint32_t)(TN_INT_ENB | TN_INT_TYPE_LEVEL | TN_TYPE_PERIODIC);
	conf_write(h, n, conf | TN_FSB_EN);
	desc->data.dcookie = h->base + HPET_TN_FSB(n);
	return 0;
}

static const struct ik_msi_domain_template hpet_template = {
	.name = "HPET",
	.chip = {
		.name = "HPET-MSI",
		.irq_mask = hpet_mask,
		.irq_unmask = hpet_unmask,
		.irq_write_msi_msg = hpet_write_msg,
		.irq_get_irqchip_state = hpet_get_state,
	},
	.ops = {
		.prepare_desc = hpet_prepare_desc,
	},
	.info = {
		/* No MASK_SOURCE: a match while INT_ENB is clear is lost (see the header). */
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_DEVICE_MSI,
		.bus_token = IK_MSI_BUS_DEVICE,
	},
};

/* ---- Driver ------------------------------------------------------------------- */

static int hpet_probe(struct ik_device *dev)
{
	struct ik_x86_hpet *h = ik_device_get_drvdata(dev);

	return ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &hpet_template,
					   h->nr_timers, h, NULL);
}

static const struct ik_driver hpet_driver = {
	.name = "x86-hpet",
	.probe = hpet_probe,
};

int ik_x86_hpet_create(const struct ik_x86_hpet_config *cfg, struct ik_x86_hpet **out)
{
	struct ik_irq_domain *parent = ik_x86_default_msi_parent();
	struct ik_x86_hpet *h;
	uint64_t gcap;
	size_t i;
	int ret;

	if (!cfg || !out || !parent)
		return -IK_EINVAL;
	h = ik_os_alloc(sizeof(*h));
	if (!h)
		return -IK_ENOMEM;
	h->base = cfg->base ? cfg->base : IK_X86_HPET_DEFAULT_BASE;
	for (i = 0; i + 1 < sizeof(h->name) && (cfg->name ? cfg->name : "hpet0")[i]; i++)
		h->name[i] = (cfg->name ? cfg->name : "hpet0")[i];
	h->name[i] = '\0';

	gcap = ik_os_mmio_read64(h->base + HPET_GCAP_ID);
	if (gcap == ~0ull || !(gcap >> 32)) {
		ik_err("irqkit: no HPET at 0x%llx\n", (unsigned long long)h->base);
		ret = -IK_ENODEV;
		goto err_free;
	}
	h->nr_timers = GCAP_NUM_TIM(gcap);
	h->counter_64 = (gcap & GCAP_COUNT_SIZE_64) != 0;
	for (unsigned int n = 0; n < h->nr_timers; n++) {
		uint32_t conf = conf_read(h, n);

		if (conf & TN_FSB_DEL_CAP)
			h->fsb_cap |= IK_BIT(n);
		/* Whatever a previous owner left: no timer interrupts until requested. */
		if (conf & TN_INT_ENB)
			conf_write(h, n, conf & ~(uint32_t)TN_INT_ENB);
	}
	if (!h->fsb_cap) {
		ik_err("irqkit: %s: no timer can deliver through FSB\n", h->name);
		ret = -IK_ENODEV;
		goto err_free;
	}

	ret = ik_device_create(NULL, h->name, &h->dev);
	if (ret)
		goto err_free;
	ik_device_set_requester_id(h->dev, cfg->segment, cfg->requester_id);
	ik_device_set_msi_parent(h->dev, parent);
	ik_device_set_drvdata(h->dev, h);
	ret = ik_device_bind(h->dev, &hpet_driver);
	if (ret)
		goto err_destroy;
	ik_os_mmio_write32(h->base + HPET_GEN_CONF,
			   ik_os_mmio_read32(h->base + HPET_GEN_CONF) | GEN_ENABLE);
	*out = h;
	return 0;

err_destroy:
	ik_device_destroy(h->dev);
err_free:
	ik_os_free(h);
	return ret;
}

void ik_x86_hpet_destroy(struct ik_x86_hpet *h)
{
	if (!h)
		return;
	ik_device_destroy(h->dev);
	ik_os_free(h);
}

struct ik_device *ik_x86_hpet_device(const struct ik_x86_hpet *h)
{
	return h ? h->dev : NULL;
}

struct ik_irq_domain *ik_x86_hpet_domain(const struct ik_x86_hpet *h)
{
	return h ? ik_msi_get_device_domain(h->dev, IK_MSI_DEFAULT_DOMAIN) : NULL;
}

unsigned int ik_x86_hpet_nr_timers(const struct ik_x86_hpet *h)
{
	return h ? h->nr_timers : 0;
}

int ik_x86_hpet_timer_alloc_irq(struct ik_x86_hpet *h, unsigned int timer)
{
	struct ik_msi_map map;

	if (!h || timer >= h->nr_timers)
		return -IK_ERANGE;
	map = ik_msi_domain_alloc_irq_at(h->dev, IK_MSI_DEFAULT_DOMAIN, timer, NULL, 0);
	return map.index < 0 ? map.index : (int)map.virq;
}

int ik_x86_hpet_timer_free_irq(struct ik_x86_hpet *h, unsigned int timer)
{
	int ret;

	if (!h || timer >= h->nr_timers)
		return -IK_ENOENT;
	ret = ik_msi_domain_free_irqs_range(h->dev, IK_MSI_DEFAULT_DOMAIN, timer, timer);
	if (ret < 0)
		return ret;
	return ret ? 0 : -IK_ENOENT;
}

int ik_x86_hpet_timer_arm(struct ik_x86_hpet *h, unsigned int timer, uint64_t delta)
{
	uint64_t now;

	if (!h || timer >= h->nr_timers)
		return -IK_ERANGE;
	now = ik_os_mmio_read64(h->base + HPET_MAIN_CNT);
	ik_os_mmio_write64(h->base + HPET_TN_CMP(timer), now + delta);
	return 0;
}
