// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "pci": a simulated PCI function with an MSI-X table and/or an
 * MSI capability, bound to a minimal driver, using the library's PCI layer
 * (ik_pci_alloc_irq_vectors, dynamic MSI-X, ik_pci_free_irq_vectors).
 *
 *   device NAME pci [msix N] [msi N [nomask] [32bit]] [bdf BB:DD.F]
 *
 * Index spaces: "msix" (table entries) and/or "msi" (vectors), the first
 * given being the default.  One of MSI-X and MSI is enabled at a time:
 *  - the first allocation enables it with vectors 0..n-1 (it must start at
 *    index 0; "managed" spreads them, as IK_PCI_IRQ_AFFINITY);
 *  - later MSI-X allocations are dynamic, at the indices named;
 *  - MSI cannot grow: a second allocation is refused by the library;
 *  - freeing every allocated vector disables MSI-X / MSI; freeing some
 *    MSI-X entries frees just those.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/pci.h>

#include "sim_pci.h"
#include "tool.h"

#define PCI_BAR_SIZE 0x10000ull      /* table at 0, PBA at 0x8000 */
#define PCI_PBA_OFFSET 0x8000u

enum { SP_MSIX, SP_MSI };

struct pci_params {
	unsigned int msix, msi;     /* 0 = absent */
	bool msi_nomask, msi_32bit;
	bool msix_first;            /* msix given before msi (default space) */
	bool bdf_given;
	uint16_t bdf;
};

struct pci_priv {
	struct pci_params p;
	struct sim_pci_dev *hw;
	struct ik_device *dev;
	unsigned int space_kind[2]; /* space index -> SP_* */
	unsigned int nr_spaces;
	uint64_t bar;
};

static void *pci_parse(struct pcur *p)
{
	struct pci_params *pp = calloc(1, sizeof(*pp));

	if (!pp) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		uint64_t n;

		if (p_accept(p, "msix")) {
			if (pp->msix) {
				p_error_at(p, t, "'msix' given twice");
				goto fail;
			}
			if (p_number(p, "the MSI-X table size", 1, SIM_PCI_MSIX_MAX_ENTRIES, &n))
				goto fail;
			pp->msix = (unsigned int)n;
			if (!pp->msi)
				pp->msix_first = true;
		} else if (p_accept(p, "msi")) {
			if (pp->msi) {
				p_error_at(p, t, "'msi' given twice");
				goto fail;
			}
			if (p_number(p, "the number of MSI vectors (1, 2, 4, 8, 16 or 32)", 1, 32, &n))
				goto fail;
			if (n & (n - 1)) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "MSI offers a power of two of vectors (1, 2, 4, 8, 16 or "
					   "32), not %llu", (unsigned long long)n);
				goto fail;
			}
			pp->msi = (unsigned int)n;
			for (;;) {
				if (p_accept(p, "nomask"))
					pp->msi_nomask = true;
				else if (p_accept(p, "32bit"))
					pp->msi_32bit = true;
				else
					break;
			}
		} else if (p_accept(p, "bdf")) {
			if (pp->bdf_given) {
				p_error_at(p, t, "'bdf' given twice");
				goto fail;
			}
			if (p_bdf(p, "a PCI address", "01:00.0", &pp->bdf))
				goto fail;
			pp->bdf_given = true;
		} else {
			p_expected(p, "a pci parameter (msix N, msi N [nomask] [32bit], bdf BB:DD.F)");
			goto fail;
		}
	}
	if (!pp->msix && !pp->msi) {
		p_error_at(p, p_peek(p), "a pci device needs 'msix N' or 'msi N' (or both)");
		goto fail;
	}
	return pp;
fail:
	free(pp);
	return NULL;
}

static unsigned int pci_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct pci_params *pp = params;
	unsigned int n = 0;

	if (pp->msix && pp->msix_first) {
		snprintf(out[n].name, sizeof(out[n].name), "msix");
		out[n++].size = pp->msix;
	}
	if (pp->msi) {
		snprintf(out[n].name, sizeof(out[n].name), "msi");
		out[n++].size = pp->msi;
	}
	if (pp->msix && !pp->msix_first) {
		snprintf(out[n].name, sizeof(out[n].name), "msix");
		out[n++].size = pp->msix;
	}
	return n;
}

static int tool_pci_probe(struct ik_device *dev)
{
	int ret = ik_pci_enable_device(dev);

	if (ret)
		return ret;
	ik_pci_set_master(dev);
	return 0;
}

static const struct ik_driver tool_pci_driver = {
	.name = "irqkit-tool",
	.probe = tool_pci_probe,
};

static int pci_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct pci_params *pp = params;
	struct sim_pci_dev_config cfg;
	struct pci_priv *pv;
	struct space_desc sp[TOOL_MAX_SPACES];
	struct sim_pci_bus *bus = tool_pci_bus(w);
	int ret;

	if (!bus)
		return -IK_EEXIST;
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -IK_ENOMEM;
	pv->p = *pp;
	if (!pv->p.bdf_given)
		pv->p.bdf = world_alloc_rid(w);
	pv->nr_spaces = pci_spaces(pp, sp);
	for (unsigned int i = 0; i < pv->nr_spaces; i++)
		pv->space_kind[i] = !strcmp(sp[i].name, "msix") ? SP_MSIX : SP_MSI;
	if ((pv->p.bdf >> 8) >= TOOL_PCI_BUSES) {
		free(pv);
		return -IK_ERANGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.vendor_id = 0x8086;
	cfg.device_id = 0x0a54;
	cfg.class_code = 0x010802;
	pv->bar = tool_pci_bar(w, PCI_BAR_SIZE);
	cfg.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, PCI_BAR_SIZE, pv->bar };
	cfg.pm = true;
	if (pp->msi) {
		cfg.msi = true;
		cfg.msi_mmc_log2 = (unsigned int)__builtin_ctz(pp->msi);
		cfg.msi_64bit = !pp->msi_32bit;
		cfg.msi_maskable = !pp->msi_nomask;
	}
	if (pp->msix) {
		cfg.msix = true;
		cfg.msix_table_size = pp->msix;
		cfg.msix_table_bir = 0;
		cfg.msix_table_offset = 0;
		cfg.msix_pba_bir = 0;
		cfg.msix_pba_offset = PCI_PBA_OFFSET;
	}
	pv->hw = sim_pci_dev_create(bus, pv->p.bdf, &cfg);
	if (!pv->hw) {
		tool_pci_slot_taken(pv->p.bdf);
		free(pv);
		return -IK_EEXIST; /* the slot is taken */
	}
	ret = ik_pci_device_create(NULL, 0, pv->p.bdf, &pv->dev);
	if (ret)
		goto fail_hw;
	ik_device_set_msi_parent(pv->dev, w->mcfg.plat->msi_parent(w));
	ret = ik_device_bind(pv->dev, &tool_pci_driver);
	if (ret)
		goto fail_dev;
	d->priv = pv;
	return 0;
fail_dev:
	ik_pci_device_destroy(pv->dev);
fail_hw:
	sim_pci_dev_destroy(pv->hw);
	free(pv);
	return ret;
}

static int pci_remove(struct world *w, struct tool_device *d)
{
	struct pci_priv *pv = d->priv;

	ik_pci_device_destroy(pv->dev);
	sim_pci_dev_destroy(pv->hw);
	pv->dev = NULL;
	return 0;
}

static bool space_active(struct pci_priv *pv, unsigned int space)
{
	if (pv->space_kind[space] == SP_MSIX)
		return ik_pci_msix_enabled(pv->dev);
	return ik_pci_msi_enabled(pv->dev);
}

static int pci_irq_of(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index)
{
	struct pci_priv *pv = d->priv;
	int irq;

	if (!pv || !pv->dev || space >= pv->nr_spaces || !space_active(pv, space))
		return -IK_ENOENT;
	irq = ik_pci_irq_vector(pv->dev, index);
	return irq < 0 ? -IK_ENOENT : irq;
}

static unsigned int allocated(struct world *w, struct tool_device *d, unsigned int space)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < d->sp[space].size; i++)
		n += pci_irq_of(w, d, space, i) >= 0;
	return n;
}

static int pci_alloc(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct pci_priv *pv = d->priv;
	bool msix = pv->space_kind[space] == SP_MSIX;
	int ret, first_irq = -1;

	if (!space_active(pv, space)) {
		unsigned int flags = msix ? IK_PCI_IRQ_MSIX : IK_PCI_IRQ_MSI;

		/* Enabling gives vectors 0..n-1; spread = managed. */
		if (first != 0)
			return -IK_EINVAL;
		if (aff && !aff[0].is_managed)
			return -IK_ENOTSUPP;
		if (aff)
			flags |= IK_PCI_IRQ_AFFINITY;
		ret = ik_pci_alloc_irq_vectors(pv->dev, nr, nr, flags, NULL);
		if (ret < 0)
			return ret;
		return ik_pci_irq_vector(pv->dev, 0);
	}
	if (!msix)
		return ik_pci_alloc_irq_vectors(pv->dev, nr, nr, IK_PCI_IRQ_MSI, NULL);
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = ik_pci_msix_alloc_irq_at(pv->dev, first + i,
								 aff ? &aff[i] : NULL);

		if (map.index < 0) {
			/* Undo this command's entries. */
			while (i-- > 0) {
				struct ik_msi_map old = { (int)(first + i),
							  (unsigned int)pci_irq_of(w, d, space,
										   first + i) };

				ik_pci_msix_free_irq(pv->dev, old);
			}
			return map.index;
		}
		if (!i)
			first_irq = (int)map.virq;
	}
	return first_irq;
}

static int pci_free(struct world *w, struct tool_device *d, unsigned int space,
		    unsigned int first, unsigned int nr)
{
	struct pci_priv *pv = d->priv;

	if (!space_active(pv, space))
		return -IK_ENOENT;
	for (unsigned int i = 0; i < nr; i++)
		if (pci_irq_of(w, d, space, first + i) < 0)
			return -IK_ENOENT;
	/* Everything allocated: disable MSI-X / MSI. */
	if (allocated(w, d, space) == nr) {
		ik_pci_free_irq_vectors(pv->dev);
		return 0;
	}
	if (pv->space_kind[space] != SP_MSIX)
		return -IK_EINVAL; /* MSI frees all or nothing */
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = { (int)(first + i),
					  (unsigned int)pci_irq_of(w, d, space, first + i) };
		int ret = ik_pci_msix_free_irq(pv->dev, map);

		if (ret)
			return ret;
	}
	return 0;
}

static void pci_fire(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int index)
{
	struct pci_priv *pv = d->priv;

	/* The function raises whichever mechanism is enabled. */
	sim_pci_dev_raise(pv->hw, index);
}

static void pci_hw(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		   struct hw_state *st)
{
	struct pci_priv *pv = d->priv;
	struct sim_pci_stats s;

	sim_pci_dev_vector_stats(pv->hw, index, &s);
	st->fired = s.raised;
	st->sent = s.sent;
	if (pv->space_kind[space] == SP_MSIX) {
		struct sim_pci_msix_entry e;

		if (sim_pci_msix_entry(pv->hw, index, &e))
			st->masked = e.ctrl & SIM_PCI_MSIX_ENTRY_CTRL_MASK;
		st->pending = sim_pci_msix_pending(pv->hw, index);
	} else if (index < 32) {
		st->masked = sim_pci_msi_mask_bits(pv->hw) >> index & 1;
		st->pending = sim_pci_msi_pending_bits(pv->hw) >> index & 1;
	}
	st->valid = true;
}

/* The MSI-X entry or the MSI capability's message, as stored (no side effects). */
static bool pci_msg(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		    struct dev_msg *m)
{
	struct pci_priv *pv = d->priv;

	if (!pv || !pv->hw || space >= pv->nr_spaces || !space_active(pv, space))
		return false;
	if (pv->space_kind[space] == SP_MSIX) {
		struct sim_pci_msix_entry e;

		if (!sim_pci_msix_entry(pv->hw, index, &e))
			return false;
		m->addr = (uint64_t)e.addr_hi << 32 | e.addr_lo;
		m->data = e.data;
	} else {
		uint8_t cap = sim_pci_dev_msi_cap(pv->hw);
		bool is64 = sim_pci_cfg_peek(pv->hw, (uint16_t)(cap + SIM_PCI_MSI_FLAGS), 2) &
			    SIM_PCI_MSI_FLAGS_64BIT;

		m->addr = sim_pci_cfg_peek(pv->hw, (uint16_t)(cap + SIM_PCI_MSI_ADDRESS_LO), 4);
		if (is64)
			m->addr |= (uint64_t)sim_pci_cfg_peek(pv->hw,
							      (uint16_t)(cap + SIM_PCI_MSI_ADDRESS_HI),
							      4)
				   << 32;
		/* Vector k of a multi-vector block sends data + k: the shared part is what changes. */
		m->data = sim_pci_cfg_peek(pv->hw, (uint16_t)(cap + (is64 ? SIM_PCI_MSI_DATA_64
									     : SIM_PCI_MSI_DATA_32)),
					   2);
	}
	m->valid = true;
	return true;
}

static void pci_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct pci_priv *pv = d->priv;
	char msix[24] = "", msi[48] = "";

	if (pv->p.msix)
		snprintf(msix, sizeof(msix), " msix %u", pv->p.msix);
	if (pv->p.msi)
		snprintf(msi, sizeof(msi), " msi %u%s%s", pv->p.msi, pv->p.msi_nomask ? " nomask" : "",
			 pv->p.msi_32bit ? " 32bit" : "");
	snprintf(buf, size, "%s%s%s bar 0x%llx enabled %s", pv->dev ? ik_device_name(pv->dev) : "-",
		 msix, msi, (unsigned long long)pv->bar,
		 pv->dev && ik_pci_msix_enabled(pv->dev) ? "msix"
		 : pv->dev && ik_pci_msi_enabled(pv->dev) ? "msi"
							   : "none");
}

static const char *pci_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	struct pci_priv *pv = d->priv;

	return pv->space_kind[space] == SP_MSIX ? "msix" : "msi";
}

static bool pci_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct pci_priv *pv = d->priv;

	return pv->dev && strstr(ik_irq_domain_name(dom), ik_device_name(pv->dev));
}

static const struct tool_kind pci_kind = {
	.name = "pci",
	.summary = "PCI function with MSI-X (dynamic) and/or MSI, through the library's PCI layer",
	.usage = "[msix N (1-2048)] [msi N (1-32) [nomask] [32bit]] [bdf BB:DD.F]",
	.parse = pci_parse,
	.spaces = pci_spaces,
	.create = pci_create,
	.remove = pci_remove,
	.alloc = pci_alloc,
	.free = pci_free,
	.irq_of = pci_irq_of,
	.fire = pci_fire,
	.hw = pci_hw,
	.msg = pci_msg,
	.describe = pci_describe,
	.mode = pci_mode,
	.owns_domain = pci_owns_domain,
};
TOOL_REGISTER_KIND(pci_kind)
