// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "testdev": the simulator's test device (N message slots in
 * an MMIO window, a mask and a pending bit per slot) bound to the
 * library's test-device driver, which gives it a per-device domain under
 * the platform's MSI parent.
 *
 *   device NAME testdev [slots N] [base ADDR] [rid BB:DD.F]
 *
 * Two ways to drive it, by what the platform's MSI parent accepts:
 *  - x86 without remapping: the library's test-device driver
 *    (ik_testdev_*), whose domain is named like the device and whose
 *    compatibility-format messages go straight to the vector domain;
 *  - anywhere else (remapping on, the ITS platform): the tool is the
 *    driver, with an MSI-core per-device domain (bus token "device", like
 *    HPET) over the same slots: "TESTDEV-NAME" under the parent, which
 *    then composes remappable messages or ITS event writes.  The library's
 *    test-device driver cannot go there: it composes compatibility-format
 *    messages (blocked by remapping) and is not an MSI-core device domain
 *    (the ITS and IR parents need its allocation info: requester id,
 *    descriptors).
 *
 * This file is also the model for new kinds: parse, spaces, create,
 * remove, alloc, free, irq_of, fire, hw, describe, mode.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/device.h>
#include <irqkit/drivers/testdev.h>
#include <irqkit/irqchip.h>
#include <irqkit/msi.h>
#include <irqkit/osl.h>

#include "tool.h"

#define TESTDEV_MAX_SLOTS 1024
#define SLOT_SIZE 16u
#define SLOT_CTRL 0xC
#define CTRL_MASK 0x1u
#define CTRL_PENDING 0x2u

struct testdev_params {
	unsigned int slots;
	bool base_given, rid_given;
	uint64_t base;
	uint16_t rid;
};

struct testdev_priv {
	struct sim_testdev *hw;
	struct ik_irq_domain *dom;     /* library driver: its domain */
	struct ik_device *dev;         /* MSI-core path: the device, bound below */
	uint64_t base;
	uint16_t rid;
	unsigned int slots;
};

static int parse_hex_tok(const struct token *t, unsigned int max, unsigned int *out)
{
	unsigned int v = 0;

	if (t->type != T_NUM && t->type != T_WORD)
		return -1;
	if (!t->len || t->len > 2)
		return -1;
	for (unsigned int i = 0; i < t->len; i++) {
		char c = t->text[i];

		v *= 16;
		if (c >= '0' && c <= '9')
			v += (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v += (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v += (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* BB:DD.F in hex, as lspci prints it.  "00:01.0" lexes as NUM ':' NUM '.' NUM,
 * "00:1f.3" as NUM ':' NUM ... and "ab:01.0" as WORD ':' ...; a WORD may
 * also swallow ".F" ("1f.3" is NUM "1f" then '.' - but "ff.3" is one WORD). */
static int parse_rid(struct pcur *p, uint16_t *rid)
{
	const struct token *start = p_peek(p), *t;
	unsigned int bus, dev, fn;
	char buf[16];

	t = p_next(p);
	if (parse_hex_tok(t, 0xFF, &bus) || !p_accept_type(p, T_COLON))
		goto bad;
	t = p_next(p);
	/* "1f.3" may come as one WORD when it starts with a letter. */
	tok_text(t, buf, sizeof(buf));
	if (t->type == T_WORD && strchr(buf, '.')) {
		char *dot = strchr(buf, '.');
		struct token a = *t, b = *t;

		a.len = (unsigned int)(dot - buf);
		b.text = t->text + a.len + 1;
		b.len = t->len - a.len - 1;
		if (parse_hex_tok(&a, 0x1F, &dev) || parse_hex_tok(&b, 7, &fn))
			goto bad;
	} else {
		if (parse_hex_tok(t, 0x1F, &dev) || !p_accept_type(p, T_DOT))
			goto bad;
		t = p_next(p);
		if (parse_hex_tok(t, 7, &fn))
			goto bad;
	}
	*rid = (uint16_t)(bus << 8 | dev << 3 | fn);
	return 0;
bad:
	return p_error_at(p, start, "expected a requester ID BB:DD.F (hex bus, device 00-1f, "
				    "function 0-7), like 00:03.0");
}

static void *testdev_parse(struct pcur *p)
{
	struct testdev_params *tp = calloc(1, sizeof(*tp));
	bool slots_given = false;

	if (!tp) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	tp->slots = 8;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);

		if (p_accept(p, "slots")) {
			uint64_t n;

			if (slots_given) {
				p_error_at(p, t, "'slots' given twice");
				goto fail;
			}
			slots_given = true;
			if (p_number(p, "the number of slots", 1, TESTDEV_MAX_SLOTS, &n))
				goto fail;
			tp->slots = (unsigned int)n;
		} else if (p_accept(p, "base")) {
			uint64_t b;

			if (tp->base_given) {
				p_error_at(p, t, "'base' given twice");
				goto fail;
			}
			if (p_number(p, "an MMIO base address", 0x1000, 0xFFFFFFFFFFull, &b))
				goto fail;
			if (b & 0xFFF) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address must be 4 KiB aligned");
				goto fail;
			}
			if (b < 0x100000000ull && b + TESTDEV_MAX_SLOTS * SLOT_SIZE > SIM_LAPIC_BASE &&
			    b < SIM_LAPIC_BASE + SIM_LAPIC_SIZE) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address overlaps the interrupt window "
					   "0xFEE00000-0xFEEFFFFF");
				goto fail;
			}
			tp->base = b;
			tp->base_given = true;
		} else if (p_accept(p, "rid")) {
			if (tp->rid_given) {
				p_error_at(p, t, "'rid' given twice");
				goto fail;
			}
			if (parse_rid(p, &tp->rid))
				goto fail;
			tp->rid_given = true;
		} else {
			p_expected(p, "a testdev parameter (slots N, base ADDR, rid BB:DD.F)");
			goto fail;
		}
	}
	return tp;
fail:
	free(tp);
	return NULL;
}

static unsigned int testdev_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct testdev_params *tp = params;

	snprintf(out[0].name, sizeof(out[0].name), "slot");
	out[0].size = tp->slots;
	return 1;
}

/* ---- MSI-core path: the tool drives the slots through a device domain ---- */

static uint64_t msi_slot(struct ik_irq_data *d, unsigned int reg)
{
	const struct testdev_priv *pv = ik_msi_get_domain_info(d->domain)->data;

	return pv->base + d->hwirq * SLOT_SIZE + reg;
}

static void msi_mask(struct ik_irq_data *d)
{
	ik_os_mmio_write32(msi_slot(d, SLOT_CTRL), CTRL_MASK);
}

static void msi_unmask(struct ik_irq_data *d)
{
	ik_os_mmio_write32(msi_slot(d, SLOT_CTRL), 0);
}

/*
 * Three separate registers the device may read between two writes: the
 * parents that change a message (none here: remapping and the ITS keep it)
 * would have to write it masked, which MASK_SOURCE lets the core do.
 */
static void msi_write(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	ik_os_mmio_write32(msi_slot(d, 0x0), msg->address_lo);
	ik_os_mmio_write32(msi_slot(d, 0x4), msg->address_hi);
	ik_os_mmio_write32(msi_slot(d, 0x8), msg->data);
}

static const struct ik_msi_domain_template testdev_msi_template = {
	.name = "TESTDEV",
	.chip = {
		.name = "TESTDEV-MSI",
		.irq_mask = msi_mask,
		.irq_unmask = msi_unmask,
		.irq_write_msi_msg = msi_write,
	},
	.info = {
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_MASK_SOURCE | IK_MSI_FLAG_DEVICE_MSI,
		.bus_token = IK_MSI_BUS_DEVICE,
	},
};

static int testdev_msi_probe(struct ik_device *dev)
{
	struct testdev_priv *pv = ik_device_get_drvdata(dev);

	return ik_msi_create_device_domain(dev, IK_MSI_DEFAULT_DOMAIN, &testdev_msi_template,
					   pv->slots, pv, NULL);
}

static const struct ik_driver testdev_msi_driver = {
	.name = "irqkit-testdev",
	.probe = testdev_msi_probe,
};

/* The library's test-device driver works only straight under x86's vector domain. */
static bool use_library_driver(struct world *w)
{
	return !w->mcfg.remapping && !strcmp(w->mcfg.plat->name, "x86");
}

static int testdev_msi_create(struct world *w, struct tool_device *d, struct testdev_priv *pv)
{
	int ret = ik_device_create(NULL, d->name, &pv->dev);

	if (ret)
		return ret;
	ik_device_set_requester_id(pv->dev, 0, pv->rid);
	ik_device_set_msi_parent(pv->dev, w->mcfg.plat->msi_parent(w));
	ik_device_set_drvdata(pv->dev, pv);
	ret = ik_device_bind(pv->dev, &testdev_msi_driver);
	if (ret) {
		ik_device_destroy(pv->dev);
		pv->dev = NULL;
	}
	return ret;
}

static int testdev_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct testdev_params *tp = params;
	struct testdev_priv *pv = calloc(1, sizeof(*pv));

	int ret;

	if (!pv)
		return -IK_ENOMEM;
	pv->slots = tp->slots;
	pv->base = tp->base_given ? tp->base : world_alloc_mmio(w, tp->slots * SLOT_SIZE);
	pv->rid = tp->rid_given ? tp->rid : world_alloc_rid(w);
	pv->hw = sim_testdev_create(w->m, pv->base, pv->slots, pv->rid);
	if (!pv->hw) {
		free(pv);
		return -IK_EEXIST; /* the window overlaps another device */
	}
	/* The hardware stays on the bus from here on; the driver binds below. */
	if (!use_library_driver(w)) {
		ret = testdev_msi_create(w, d, pv);
		if (ret) {
			free(pv);
			return ret;
		}
		d->priv = pv;
		return 0;
	}
	pv->dom = ik_testdev_domain_create(w->mcfg.plat->msi_parent(w), pv->base, pv->slots,
					   d->name);
	if (!pv->dom) {
		free(pv);
		return -IK_ENOMEM;
	}
	d->priv = pv;
	return 0;
}

static int testdev_remove(struct world *w, struct tool_device *d)
{
	struct testdev_priv *pv = d->priv;
	int ret;

	if (pv->dev) {
		/* Every interrupt was freed: the domain goes with the driver. */
		ik_msi_remove_device_domain(pv->dev, IK_MSI_DEFAULT_DOMAIN);
		ik_device_destroy(pv->dev);
		pv->dev = NULL;
		return 0;
	}
	ret = ik_testdev_domain_remove(pv->dom);
	if (!ret)
		pv->dom = NULL;
	return ret;
}

static int testdev_alloc(struct world *w, struct tool_device *d, unsigned int space,
			 unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct testdev_priv *pv = d->priv;
	int first_irq = -IK_EINVAL;

	if (!pv->dev)
		return ik_testdev_alloc_irqs(pv->dom, first, nr, aff);
	/* One descriptor per slot, each with its own affinity. */
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = ik_msi_domain_alloc_irq_at(pv->dev, IK_MSI_DEFAULT_DOMAIN,
								   first + i, aff ? &aff[i] : NULL, 0);

		if (map.index < 0) {
			if (i)
				ik_msi_domain_free_irqs_range(pv->dev, IK_MSI_DEFAULT_DOMAIN, first,
							      first + i - 1);
			return map.index;
		}
		if (!i)
			first_irq = (int)map.virq;
	}
	return first_irq;
}

static int testdev_free(struct world *w, struct tool_device *d, unsigned int space,
			unsigned int first, unsigned int nr)
{
	struct testdev_priv *pv = d->priv;
	int virq;

	if (pv->dev) {
		int ret = ik_msi_domain_free_irqs_range(pv->dev, IK_MSI_DEFAULT_DOMAIN, first,
							first + nr - 1);

		return ret < 0 ? ret : 0;
	}
	virq = ik_irq_domain_find_mapping(pv->dom, first);
	if (virq < 0)
		return virq;
	return ik_irq_domain_free_irqs((unsigned int)virq, nr);
}

static int testdev_irq_of(struct world *w, struct tool_device *d, unsigned int space,
			  unsigned int index)
{
	struct testdev_priv *pv = d->priv;
	int irq;

	if (pv && pv->dev) {
		irq = ik_msi_get_virq(pv->dev, IK_MSI_DEFAULT_DOMAIN, index);
		return irq > 0 ? irq : -IK_ENOENT;
	}
	if (!pv || !pv->dom)
		return -IK_ENOENT;
	return ik_irq_domain_find_mapping(pv->dom, index);
}

static void testdev_fire(struct world *w, struct tool_device *d, unsigned int space,
			 unsigned int index)
{
	struct testdev_priv *pv = d->priv;

	sim_testdev_fire(pv->hw, index);
}

static void testdev_hw(struct world *w, struct tool_device *d, unsigned int space,
		       unsigned int index, struct hw_state *st)
{
	struct testdev_priv *pv = d->priv;
	uint32_t ctrl;

	st->fired = sim_testdev_fired(pv->hw, index);
	st->sent = sim_testdev_sent(pv->hw, index);
	/* The slot's CTRL register, read as a debugger would (no side effects). */
	ctrl = (uint32_t)sim_cpu_read(w->m, 0, pv->base + index * SLOT_SIZE + SLOT_CTRL, 4);
	st->masked = ctrl & CTRL_MASK;
	st->pending = ctrl & CTRL_PENDING;
	st->valid = true;
}

/* The slot's address and data, read as a debugger would (no side effects). */
static bool testdev_msg(struct world *w, struct tool_device *d, unsigned int space,
			unsigned int index, struct dev_msg *m)
{
	struct testdev_priv *pv = d->priv;
	uint64_t slot = pv->base + index * SLOT_SIZE;

	m->addr = sim_cpu_read(w->m, 0, slot + 0x0, 4) | sim_cpu_read(w->m, 0, slot + 0x4, 4) << 32;
	m->data = (uint32_t)sim_cpu_read(w->m, 0, slot + 0x8, 4);
	m->valid = true;
	return true;
}

static void testdev_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct testdev_priv *pv = d->priv;

	snprintf(buf, size, "slots %u base 0x%llx rid %02x:%02x.%x%s", pv->slots,
		 (unsigned long long)pv->base, pv->rid >> 8, (pv->rid >> 3) & 0x1F, pv->rid & 7,
		 pv->dev ? " (MSI-core device domain)" : "");
}

static bool testdev_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct testdev_priv *pv = d->priv;

	if (pv && pv->dev)
		return ik_msi_get_device_domain(pv->dev, IK_MSI_DEFAULT_DOMAIN) == dom;
	return pv && pv->dom == dom;
}

static const char *testdev_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return "slot";
}

static const struct tool_kind testdev_kind = {
	.name = "testdev",
	.summary = "test device: N message slots with mask and pending bits, per-device domain",
	.usage = "[slots N (1-1024, default 8)] [base ADDR] [rid BB:DD.F]",
	.parse = testdev_parse,
	.spaces = testdev_spaces,
	.create = testdev_create,
	.remove = testdev_remove,
	.alloc = testdev_alloc,
	.free = testdev_free,
	.irq_of = testdev_irq_of,
	.fire = testdev_fire,
	.hw = testdev_hw,
	.msg = testdev_msg,
	.describe = testdev_describe,
	.mode = testdev_mode,
	.owns_domain = testdev_owns_domain,
};
TOOL_REGISTER_KIND(testdev_kind)
