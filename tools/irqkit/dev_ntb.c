// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "ntb": a switchtec-like non-transparent bridge function (the
 * simulator's sim_ntb, with a simulated peer host behind it) bound to the
 * library's ik_ntb_pci_driver.
 *
 *   device NAME ntb [slots N] [peer-write OFFSET DATA]... [link up|down]
 *                   [bdf BB:DD.F]
 *
 * Spaces:
 *  - "ntb" (N slots, 1-64, default 8): interrupts through the memory window,
 *    in the NTB port's own MSI domain (one index per PUBLISH slot).  Like
 *    IMS, allocation gives the lowest free slot: "allocate" must name it.
 *    A fire is the peer reading PUBLISH[index] and, when valid, writing the
 *    published (offset, data) through its window.  "sent" counts writes the
 *    window let through; a fire before the pair is published (before
 *    "request") finds the slot invalid and counts as blocked.
 *  - "msix" (4): the function's own MSI-X vectors (event, dma_rpc,
 *    message, doorbell), allocated and handled by the driver at bind (the
 *    tool cannot allocate (EEXIST), free (EBUSY) or request them; a fire is a link
 *    toggle, a DMA RPC completion, a peer message, a peer doorbell).
 *  - "peer" (one index per peer-write): the peer writes an arbitrary
 *    (OFFSET, DATA) through its window, outside the published slots.  A
 *    write the window drops (outside it, misaligned) is fired and not sent:
 *    blocked.  One inside the window reaches the host's interrupt address
 *    range, where remapping blocks it (machine counters).  Fire these with
 *    explicit indices ("fire n:peer[0]"): they have no interrupt.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/drivers/ntb.h>
#include <irqkit/msi.h>
#include <irqkit/pci.h>

#include "sim_ntb.h"
#include "sim_pci.h"
#include "tool.h"

#define NTB_MAX_PEER 16
#define NTB_DEFAULT_SLOTS 8

enum { SP_NTB, SP_MSIX, SP_PEER };

struct ntb_params {
	unsigned int slots;
	unsigned int nr_peer;
	uint64_t peer_off[NTB_MAX_PEER];
	uint32_t peer_data[NTB_MAX_PEER];
	bool link_down;
	bool bdf_given;
	uint16_t bdf;
};

struct ntb_priv {
	struct ntb_params p;
	struct sim_ntb *hw;
	struct ik_device *fn;
	uint16_t bdf;
	uint64_t bar0;
	bool link;
	uint32_t msg_seq;
	uint64_t fired[IK_NTB_MAX_PUBLISH], sent[IK_NTB_MAX_PUBLISH];
	uint64_t pfired[NTB_MAX_PEER], psent[NTB_MAX_PEER];
	uint64_t vfired[IK_NTB_NR_VECTORS];
};

static void *ntb_parse(struct pcur *p)
{
	static const char *const updown[] = { "up", "down", NULL };
	struct ntb_params *np = calloc(1, sizeof(*np));
	bool slots_given = false, link_given = false;

	if (!np) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	np->slots = NTB_DEFAULT_SLOTS;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		uint64_t n;

		if (p_accept(p, "slots")) {
			if (slots_given) {
				p_error_at(p, t, "'slots' given twice");
				goto fail;
			}
			slots_given = true;
			if (p_number(p, "the number of NTB slots", 1, IK_NTB_MAX_PUBLISH, &n))
				goto fail;
			np->slots = (unsigned int)n;
		} else if (p_accept(p, "peer-write")) {
			unsigned int k = np->nr_peer;

			if (k >= NTB_MAX_PEER) {
				p_error_at(p, t, "at most %d peer writes", NTB_MAX_PEER);
				goto fail;
			}
			if (p_number(p, "the offset of the peer's write in its window", 0,
				     0xFFFFFFFFull, &np->peer_off[k]))
				goto fail;
			if (p_number(p, "the data of the peer's write", 0, 0xFFFFFFFFull, &n))
				goto fail;
			np->peer_data[k] = (uint32_t)n;
			np->nr_peer++;
		} else if (p_accept(p, "link")) {
			int c;

			if (link_given) {
				p_error_at(p, t, "'link' given twice");
				goto fail;
			}
			link_given = true;
			c = p_choice(p, "the link state (up or down)", updown);
			if (c < 0)
				goto fail;
			np->link_down = c == 1;
		} else if (p_accept(p, "bdf")) {
			if (np->bdf_given) {
				p_error_at(p, t, "'bdf' given twice");
				goto fail;
			}
			if (p_bdf(p, "a PCI address", "05:00.0", &np->bdf))
				goto fail;
			np->bdf_given = true;
		} else {
			p_expected(p, "an ntb parameter (slots N, peer-write OFFSET DATA, "
				      "link up|down, bdf BB:DD.F)");
			goto fail;
		}
	}
	return np;
fail:
	free(np);
	return NULL;
}

static unsigned int ntb_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct ntb_params *np = params;
	unsigned int n = 0;

	snprintf(out[n].name, sizeof(out[n].name), "ntb");
	out[n++].size = np->slots;
	snprintf(out[n].name, sizeof(out[n].name), "msix");
	out[n++].size = IK_NTB_NR_VECTORS;
	if (np->nr_peer) {
		snprintf(out[n].name, sizeof(out[n].name), "peer");
		out[n++].size = np->nr_peer;
	}
	return n;
}

static int ntb_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct ntb_params *np = params;
	struct sim_pci_bus *bus = tool_pci_bus(w);
	struct sim_ntb_config cfg;
	struct ntb_priv *pv;
	int ret;

	if (!bus)
		return -IK_EEXIST;
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -IK_ENOMEM;
	pv->p = *np;
	pv->bdf = np->bdf_given ? np->bdf : world_alloc_rid(w);
	if ((pv->bdf >> 8) >= TOOL_PCI_BUSES) {
		free(pv);
		return -IK_ERANGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	pv->bar0 = tool_pci_bar(w, SIM_NTB_BAR0_SIZE);
	cfg.bar0_addr = pv->bar0;
	cfg.bar2_size = 0x100000;
	cfg.bar2_addr = tool_pci_bar(w, cfg.bar2_size);
	cfg.link_up = !np->link_down;
	pv->link = cfg.link_up;
	pv->hw = sim_ntb_create(bus, pv->bdf, &cfg);
	if (!pv->hw) {
		if (sim_pci_bus_dev(bus, pv->bdf))
			tool_pci_slot_taken(pv->bdf);
		free(pv);
		return -IK_EEXIST;
	}
	ret = ik_pci_device_create(NULL, 0, pv->bdf, &pv->fn);
	if (ret)
		goto fail_hw;
	ik_device_set_msi_parent(pv->fn, w->mcfg.plat->msi_parent(w));
	ret = ik_device_bind(pv->fn, &ik_ntb_pci_driver);
	if (ret)
		goto fail_dev;
	if (!ik_ntb_port(pv->fn)) {
		ret = -IK_ENODEV;
		goto fail_dev;
	}
	d->priv = pv;
	return 0;
fail_dev:
	ik_pci_device_destroy(pv->fn);
fail_hw:
	sim_ntb_destroy(pv->hw);
	free(pv);
	return ret;
}

static int ntb_remove(struct world *w, struct tool_device *d)
{
	struct ntb_priv *pv = d->priv;

	/* Unbinding removes the port, its domain and the MSI-X vectors. */
	ik_pci_device_destroy(pv->fn);
	sim_ntb_destroy(pv->hw);
	pv->fn = NULL;
	return 0;
}

static struct ik_device *ntb_port_of(struct ntb_priv *pv)
{
	return pv && pv->fn ? ik_ntb_port(pv->fn) : NULL;
}

static int ntb_irq_of(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index)
{
	struct ntb_priv *pv = d->priv;
	struct ik_device *port = ntb_port_of(pv);
	int irq;

	if (!port)
		return -IK_ENOENT;
	if (space == SP_NTB)
		irq = ik_msi_get_virq(port, IK_MSI_DEFAULT_DOMAIN, index);
	else if (space == SP_MSIX)
		irq = ik_msi_get_virq(pv->fn, IK_MSI_DEFAULT_DOMAIN, index);
	else
		return -IK_ENOENT;
	return irq <= 0 ? -IK_ENOENT : irq;
}

static int ntb_free(struct world *w, struct tool_device *d, unsigned int space,
		    unsigned int first, unsigned int nr)
{
	struct ntb_priv *pv = d->priv;
	struct ik_device *port = ntb_port_of(pv);

	if (space == SP_MSIX)
		return -IK_EBUSY; /* the driver's: they go when it unbinds */
	if (space != SP_NTB || !port)
		return -IK_ENOENT;
	for (unsigned int i = 0; i < nr; i++) {
		int irq = ntb_irq_of(w, d, space, first + i);
		struct ik_msi_map map = { (int)(first + i), irq > 0 ? (unsigned int)irq : 0 };
		int ret;

		if (irq < 0)
			return -IK_ENOENT;
		ret = ik_ntb_msi_free_irq(port, map);
		if (ret)
			return ret;
	}
	return 0;
}

static int ntb_alloc(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct ntb_priv *pv = d->priv;
	struct ik_device *port = ntb_port_of(pv);
	int first_irq = -1;

	if (space == SP_MSIX)
		return -IK_EEXIST; /* allocated by the driver at bind */
	if (space != SP_NTB)
		return -IK_ENOTSUPP; /* peer writes have no interrupt */
	if (!port)
		return -IK_ENODEV;
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = ik_ntb_msi_alloc_irq(port, aff ? &aff[i] : NULL);
		int err = 0;

		if (map.index < 0)
			err = map.index;
		else if ((unsigned int)map.index != first + i) {
			/* Not the slot asked for: the port gives the lowest free one. */
			ik_ntb_msi_free_irq(port, map);
			err = -IK_EINVAL;
		}
		if (err) {
			if (i)
				ntb_free(w, d, space, first, i);
			return err;
		}
		if (!i)
			first_irq = (int)map.virq;
	}
	return first_irq;
}

static void ntb_fire(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int index)
{
	struct ntb_priv *pv = d->priv;

	if (space == SP_NTB) {
		__atomic_add_fetch(&pv->fired[index], 1, __ATOMIC_RELAXED);
		if (sim_ntb_peer_trigger(pv->hw, index) == SIM_NTB_DELIVERED)
			__atomic_add_fetch(&pv->sent[index], 1, __ATOMIC_RELAXED);
	} else if (space == SP_PEER) {
		__atomic_add_fetch(&pv->pfired[index], 1, __ATOMIC_RELAXED);
		if (sim_ntb_peer_write(pv->hw, pv->p.peer_off[index], pv->p.peer_data[index]) ==
		    SIM_NTB_DELIVERED)
			__atomic_add_fetch(&pv->psent[index], 1, __ATOMIC_RELAXED);
	} else if (space == SP_MSIX) {
		__atomic_add_fetch(&pv->vfired[index], 1, __ATOMIC_RELAXED);
		switch (index) {
		case IK_NTB_VEC_EVENT:
			pv->link = !pv->link;
			sim_ntb_set_link(pv->hw, pv->link);
			break;
		case IK_NTB_VEC_DMA_RPC:
			sim_ntb_dma_rpc_done(pv->hw);
			break;
		case IK_NTB_VEC_MESSAGE:
			sim_ntb_peer_message(pv->hw, 0,
					     __atomic_add_fetch(&pv->msg_seq, 1, __ATOMIC_RELAXED));
			break;
		default:
			sim_ntb_peer_doorbell(pv->hw, 1);
			break;
		}
	}
}

static void ntb_hw(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		   struct hw_state *st)
{
	struct ntb_priv *pv = d->priv;

	if (space == SP_NTB) {
		/* Nothing can hold back a peer's write: no mask, no pending bit. */
		st->fired = __atomic_load_n(&pv->fired[index], __ATOMIC_RELAXED);
		st->sent = __atomic_load_n(&pv->sent[index], __ATOMIC_RELAXED);
	} else if (space == SP_PEER) {
		st->fired = __atomic_load_n(&pv->pfired[index], __ATOMIC_RELAXED);
		st->sent = __atomic_load_n(&pv->psent[index], __ATOMIC_RELAXED);
	} else if (space == SP_MSIX) {
		struct sim_pci_dev *pd = sim_ntb_pci(pv->hw);
		struct sim_pci_msix_entry e;
		struct sim_pci_stats s;

		/* Fires are device events; the function may raise a vector more
		 * than once per event, so count messages from the function. */
		sim_pci_dev_vector_stats(pd, index, &s);
		st->fired = s.raised;
		st->sent = s.sent;
		if (sim_pci_msix_entry(pd, index, &e))
			st->masked = e.ctrl & SIM_PCI_MSIX_ENTRY_CTRL_MASK;
		st->pending = sim_pci_msix_pending(pd, index);
	}
	st->valid = true;
}

/*
 * What the peer would read from the publish slot of a window interrupt: the
 * (offset, data) pair, valid or not.  Read straight from the register file
 * (a device-side read, no interleaving point, no side effect).
 */
static bool ntb_msg(struct world *w, struct tool_device *d, unsigned int space,
		    unsigned int index, struct dev_msg *m)
{
	struct ntb_priv *pv = d->priv;
	uint64_t pub;

	if (!pv || space != SP_NTB || !pv->bar0)
		return false;
	pub = pv->bar0 + SIM_NTB_PUBLISH(index);
	m->addr = (uint32_t)sim_dma_read(w->m, pub + SIM_NTB_PUB_OFFSET, 4);
	m->data = (uint32_t)sim_dma_read(w->m, pub + SIM_NTB_PUB_DATA, 4);
	m->valid = sim_dma_read(w->m, pub + SIM_NTB_PUB_CTRL, 4) & SIM_NTB_PUB_VALID;
	return true;
}

static void ntb_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct ntb_priv *pv = d->priv;
	struct sim_ntb_stats s;
	struct ik_ntb_stats ds;
	bool have = pv->fn && !ik_ntb_get_stats(pv->fn, &ds);

	sim_ntb_stats(pv->hw, &s);
	snprintf(buf, size,
		 "%s slots %u peer-writes %u link %s; peer: %llu writes, %llu delivered, "
		 "%llu outside, %llu invalid; driver: %llu events %llu rpcs %llu messages "
		 "%llu doorbells",
		 pv->fn ? ik_device_name(pv->fn) : "-", pv->p.slots, pv->p.nr_peer,
		 pv->link ? "up" : "down", (unsigned long long)s.peer_writes,
		 (unsigned long long)s.delivered, (unsigned long long)s.dropped_outside,
		 (unsigned long long)s.invalid_triggers,
		 (unsigned long long)(have ? ds.link_events : 0),
		 (unsigned long long)(have ? ds.dma_rpcs : 0),
		 (unsigned long long)(have ? ds.messages : 0),
		 (unsigned long long)(have ? ds.doorbells : 0));
}

static const char *ntb_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return space == SP_NTB ? "ntb" : space == SP_MSIX ? "msix" : "peer";
}

static bool ntb_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct ntb_priv *pv = d->priv;
	struct ik_device *port = ntb_port_of(pv);

	if (!pv || !pv->fn)
		return false;
	return dom == ik_msi_get_device_domain(pv->fn, IK_MSI_DEFAULT_DOMAIN) ||
	       (port && dom == ik_msi_get_device_domain(port, IK_MSI_DEFAULT_DOMAIN));
}

static const struct tool_kind ntb_kind = {
	.name = "ntb",
	.summary = "switchtec-like NTB function (4 MSI-X vectors) and port: peer-raised "
		   "interrupts through the memory window, per-port NTB domain",
	.usage = "[slots N (1-64, default 8)] [peer-write OFFSET DATA]... [link up|down] "
		 "[bdf BB:DD.F]",
	.parse = ntb_parse,
	.spaces = ntb_spaces,
	.create = ntb_create,
	.remove = ntb_remove,
	.alloc = ntb_alloc,
	.free = ntb_free,
	.irq_of = ntb_irq_of,
	.fire = ntb_fire,
	.hw = ntb_hw,
	.msg = ntb_msg,
	.describe = ntb_describe,
	.mode = ntb_mode,
	.owns_domain = ntb_owns_domain,
};
TOOL_REGISTER_KIND(ntb_kind)
