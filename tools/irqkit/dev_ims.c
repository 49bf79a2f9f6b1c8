// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "ims": a PCI function with an Interrupt Message Store, an
 * array of slots in device memory (the simulator's sim_ims_slots), bound
 * to the library's ik_ims_slots_driver.  The slots can be shared out
 * between the function's own IMS domain and sub-devices (slices), each
 * with its own domain and index space:
 *
 *   device NAME ims [slots N] [own N] [slice NAME N]... [bdf BB:DD.F]
 *
 * Spaces: "ims" (the function's own domain, slots 0..own-1) and one per
 * slice, in order, over the following slots.  IMS gives out the lowest
 * free index of a domain, one interrupt at a time: "allocate" must name
 * those indices (it fails with EINVAL otherwise, and changes nothing).
 */
#include <stdlib.h>
#include <string.h>

/* The kind exists when the library has the IMS slot-array driver. */
#if defined(__has_include)
#if __has_include(<irqkit/drivers/ims_slots.h>)
#define TOOL_HAVE_IMS_SLOTS 1
#endif
#endif

#ifdef TOOL_HAVE_IMS_SLOTS
#include <irqkit/drivers/ims_slots.h>
#include <irqkit/pci.h>

#include "sim_ims.h"
#include "sim_pci.h"
#include "tool.h"

#define IMS_MAX_SLICES (TOOL_MAX_SPACES - 1)

struct ims_params {
	unsigned int slots;
	bool own_given;
	unsigned int own;
	unsigned int nr_slices;
	char slice[IMS_MAX_SLICES][TOOL_NAME_MAX];
	unsigned int slice_n[IMS_MAX_SLICES];
	bool bdf_given;
	uint16_t bdf;
};

struct ims_space {
	struct ik_device *dev;      /* the function, or the slice's sub-device */
	unsigned int first;         /* first slot */
	char devname[32];
};

struct ims_priv {
	struct ims_params p;
	struct sim_ims_slots *hw;
	struct ik_device *pdev;
	unsigned int nr_spaces;
	struct ims_space sp[TOOL_MAX_SPACES];
	uint16_t bdf;
};

static void *ims_parse(struct pcur *p)
{
	struct ims_params *ip = calloc(1, sizeof(*ip));
	bool slots_given = false;
	unsigned int used;

	if (!ip) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	ip->slots = 64;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		uint64_t n;

		if (p_accept(p, "slots")) {
			if (slots_given) {
				p_error_at(p, t, "'slots' given twice");
				goto fail;
			}
			slots_given = true;
			if (p_number(p, "the number of IMS slots", 1, SIM_IMS_SLOTS_MAX, &n))
				goto fail;
			ip->slots = (unsigned int)n;
		} else if (p_accept(p, "own")) {
			if (ip->own_given) {
				p_error_at(p, t, "'own' given twice");
				goto fail;
			}
			if (p_number(p, "the slots of the function's own domain", 0, SIM_IMS_SLOTS_MAX,
				     &n))
				goto fail;
			ip->own = (unsigned int)n;
			ip->own_given = true;
		} else if (p_accept(p, "slice")) {
			unsigned int k = ip->nr_slices;

			if (k >= IMS_MAX_SLICES) {
				p_error_at(p, t, "at most %d slices", IMS_MAX_SLICES);
				goto fail;
			}
			if (p_name(p, "a slice name", ip->slice[k], NULL))
				goto fail;
			if (!strcmp(ip->slice[k], "ims")) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "'ims' names the function's own space");
				goto fail;
			}
			for (unsigned int i = 0; i < k; i++)
				if (!strcmp(ip->slice[i], ip->slice[k])) {
					p_error_at(p, &p->tl->tok[p->i - 1], "slice '%s' given twice",
						   ip->slice[k]);
					goto fail;
				}
			if (p_number(p, "the slots of the slice", 1, SIM_IMS_SLOTS_MAX, &n))
				goto fail;
			ip->slice_n[k] = (unsigned int)n;
			ip->nr_slices++;
		} else if (p_accept(p, "bdf")) {
			if (ip->bdf_given) {
				p_error_at(p, t, "'bdf' given twice");
				goto fail;
			}
			if (p_bdf(p, "a PCI address", "04:00.0", &ip->bdf))
				goto fail;
			ip->bdf_given = true;
		} else {
			p_expected(p, "an ims parameter (slots N, own N, slice NAME N, bdf BB:DD.F)");
			goto fail;
		}
	}
	used = 0;
	for (unsigned int i = 0; i < ip->nr_slices; i++)
		used += ip->slice_n[i];
	if (!ip->own_given)
		ip->own = used < ip->slots ? ip->slots - used : 0;
	if (ip->own + used > ip->slots) {
		p_error_at(p, &p->tl->tok[0], "own and slices need %u slots, the device has %u",
			   ip->own + used, ip->slots);
		goto fail;
	}
	if (!ip->own && !ip->nr_slices) {
		p_error_at(p, &p->tl->tok[0], "no slots for any domain (own 0 and no slice)");
		goto fail;
	}
	return ip;
fail:
	free(ip);
	return NULL;
}

static unsigned int ims_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct ims_params *ip = params;
	unsigned int n = 0;

	if (ip->own) {
		snprintf(out[n].name, sizeof(out[n].name), "ims");
		out[n++].size = ip->own;
	}
	for (unsigned int i = 0; i < ip->nr_slices; i++) {
		memcpy(out[n].name, ip->slice[i], TOOL_NAME_MAX);
		out[n++].size = ip->slice_n[i];
	}
	return n;
}

static int ims_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct ims_params *ip = params;
	struct sim_pci_bus *bus = tool_pci_bus(w);
	struct sim_ims_slots_config cfg;
	struct ims_priv *pv;
	unsigned int slot = 0;
	int ret;

	if (!bus)
		return -IK_EEXIST;
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -IK_ENOMEM;
	pv->p = *ip;
	pv->bdf = ip->bdf_given ? ip->bdf : world_alloc_rid(w);
	if ((pv->bdf >> 8) >= TOOL_PCI_BUSES) {
		free(pv);
		return -IK_ERANGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_slots = ip->slots;
	cfg.bar0_addr = tool_pci_bar(w, sim_ims_slots_bar0_size(ip->slots));
	cfg.bar2_addr = tool_pci_bar(w, SIM_IMS_BAR2_SIZE);
	pv->hw = sim_ims_slots_create(bus, pv->bdf, &cfg);
	if (!pv->hw) {
		if (sim_pci_bus_dev(bus, pv->bdf))
			tool_pci_slot_taken(pv->bdf);
		free(pv);
		return -IK_EEXIST;
	}
	ret = ik_pci_device_create(NULL, 0, pv->bdf, &pv->pdev);
	if (ret)
		goto fail_hw;
	ik_device_set_msi_parent(pv->pdev, w->mcfg.plat->msi_parent(w));
	ret = ik_device_bind(pv->pdev, &ik_ims_slots_driver);
	if (ret)
		goto fail_dev;
	if (ip->own) {
		ret = ik_ims_slots_create_domain(pv->pdev, 0, ip->own);
		if (ret)
			goto fail_dev;
		pv->sp[pv->nr_spaces].dev = pv->pdev;
		pv->sp[pv->nr_spaces].first = 0;
		snprintf(pv->sp[pv->nr_spaces].devname, sizeof(pv->sp[0].devname), "%s",
			 ik_device_name(pv->pdev));
		pv->nr_spaces++;
		slot = ip->own;
	}
	for (unsigned int i = 0; i < ip->nr_slices; i++) {
		struct ims_space *s = &pv->sp[pv->nr_spaces];

		/* Device names are at most 31 characters: cut the tool's names to fit. */
		snprintf(s->devname, sizeof(s->devname), "%.15s.%.15s", d->name, ip->slice[i]);
		ret = ik_ims_slots_add_subdev(pv->pdev, s->devname, slot, ip->slice_n[i], &s->dev);
		if (ret)
			goto fail_dev;
		s->first = slot;
		slot += ip->slice_n[i];
		pv->nr_spaces++;
	}
	d->priv = pv;
	return 0;
fail_dev:
	ik_pci_device_destroy(pv->pdev);
fail_hw:
	sim_ims_slots_destroy(pv->hw);
	free(pv);
	return ret;
}

static int ims_remove(struct world *w, struct tool_device *d)
{
	struct ims_priv *pv = d->priv;

	/* Unbinding destroys the slices and every domain. */
	ik_pci_device_destroy(pv->pdev);
	sim_ims_slots_destroy(pv->hw);
	pv->pdev = NULL;
	pv->nr_spaces = 0;
	return 0;
}

static int ims_irq_of(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index)
{
	struct ims_priv *pv = d->priv;
	int irq;

	if (!pv || !pv->pdev || space >= pv->nr_spaces)
		return -IK_ENOENT;
	irq = ik_msi_get_virq(pv->sp[space].dev, IK_MSI_SECONDARY_DOMAIN, index);
	return irq <= 0 ? -IK_ENOENT : irq;
}

static int ims_free(struct world *w, struct tool_device *d, unsigned int space,
		    unsigned int first, unsigned int nr)
{
	struct ims_priv *pv = d->priv;

	for (unsigned int i = 0; i < nr; i++) {
		int irq = ims_irq_of(w, d, space, first + i);
		struct ik_msi_map map = { (int)(first + i), irq > 0 ? (unsigned int)irq : 0 };
		int ret;

		if (irq < 0)
			return -IK_ENOENT;
		ret = ik_ims_free_irq(pv->sp[space].dev, map);
		if (ret)
			return ret;
	}
	return 0;
}

static int ims_alloc(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct ims_priv *pv = d->priv;
	int first_irq = -1;

	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = ik_ims_alloc_irq(pv->sp[space].dev, aff ? &aff[i] : NULL, 0);
		int err = 0;

		if (map.index < 0)
			err = map.index;
		else if ((unsigned int)map.index != first + i) {
			/* Not the index asked for: IMS gives the lowest free one. */
			ik_ims_free_irq(pv->sp[space].dev, map);
			err = -IK_EINVAL;
		}
		if (err) {
			if (i)
				ims_free(w, d, space, first, i);
			return err;
		}
		if (!i)
			first_irq = (int)map.virq;
	}
	return first_irq;
}

static void ims_fire(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int index)
{
	struct ims_priv *pv = d->priv;

	if (space < pv->nr_spaces)
		sim_ims_slots_fire(pv->hw, pv->sp[space].first + index);
}

static void ims_hw(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		   struct hw_state *st)
{
	struct ims_priv *pv = d->priv;
	struct sim_ims_slot s;

	if (space >= pv->nr_spaces || !sim_ims_slots_slot(pv->hw, pv->sp[space].first + index, &s))
		return;
	st->fired = s.stats.fired;
	st->sent = s.stats.sent;
	st->masked = s.ctrl & SIM_IMS_CTRL_MASK;
	st->pending = s.ctrl & SIM_IMS_CTRL_PENDING;
	st->valid = true;
}

static bool ims_msg(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		    struct dev_msg *m)
{
	struct ims_priv *pv = d->priv;
	struct sim_ims_slot s;

	if (!pv || space >= pv->nr_spaces ||
	    !sim_ims_slots_slot(pv->hw, pv->sp[space].first + index, &s))
		return false;
	m->addr = (uint64_t)s.addr_hi << 32 | s.addr_lo;
	m->data = s.data;
	m->valid = true;
	return true;
}

static void ims_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct ims_priv *pv = d->priv;
	size_t o;
	int n;

	n = snprintf(buf, size, "%s slots %u own %u", pv->pdev ? ik_device_name(pv->pdev) : "-",
		     pv->p.slots, pv->p.own);
	o = n > 0 ? (size_t)n : 0;
	for (unsigned int i = 0; i < pv->p.nr_slices && o < size; i++) {
		n = snprintf(buf + o, size - o, " slice %s %u", pv->p.slice[i], pv->p.slice_n[i]);
		o += n > 0 ? (size_t)n : 0;
	}
}

static const char *ims_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return "ims";
}

static bool ims_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct ims_priv *pv = d->priv;
	const char *name = ik_irq_domain_name(dom);

	if (!pv->pdev)
		return false;
	for (unsigned int i = 0; i < pv->nr_spaces; i++)
		if (ik_ims_domain(pv->sp[i].dev) == dom)
			return true;
	return strstr(name, ik_device_name(pv->pdev)) != NULL;
}

static const struct tool_kind ims_kind = {
	.name = "ims",
	.summary = "PCI function with an IMS slot array (IDXD-like), own domain and sub-device "
		   "slices",
	.usage = "[slots N (1-4096, default 64)] [own N] [slice NAME N]... [bdf BB:DD.F]",
	.parse = ims_parse,
	.spaces = ims_spaces,
	.create = ims_create,
	.remove = ims_remove,
	.alloc = ims_alloc,
	.free = ims_free,
	.irq_of = ims_irq_of,
	.fire = ims_fire,
	.hw = ims_hw,
	.msg = ims_msg,
	.describe = ims_describe,
	.mode = ims_mode,
	.owns_domain = ims_owns_domain,
};
TOOL_REGISTER_KIND(ims_kind)
#endif /* TOOL_HAVE_IMS_SLOTS */
