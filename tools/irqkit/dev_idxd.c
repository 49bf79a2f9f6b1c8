// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "idxd": an IDXD-like PCI function whose Interrupt Message
 * Store lives in device memory the CPU cannot write; slots change through
 * commands the device runs some time later (the simulator's sim_ims_queue),
 * bound to the library's ik_idxd_driver.  Each work queue is a sub-device
 * with its own IMS domain; its interrupts are allocated on demand, one at a
 * time, from the slot pool all queues share:
 *
 *   device NAME idxd [slots N] [wq NAME N]... [delay TICKS] [bdf BB:DD.F]
 *
 * Spaces: one per work queue ("wq NAME N": at most N interrupts; default a
 * single queue "wq0" of 8).  Like IMS, an allocation gives the lowest free
 * index of the queue: "allocate" must name it.  "delay" is the device's
 * command processing time in simulator ticks (default 0: at the next
 * scheduler point).  A fire raises the slot behind the index; a fire of an
 * index without an interrupt is counted and blocked.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/drivers/idxd.h>
#include <irqkit/ims.h>
#include <irqkit/msi.h>
#include <irqkit/pci.h>

#include "sim_ims.h"
#include "sim_pci.h"
#include "tool.h"

#define IDXD_MAX_WQ TOOL_MAX_SPACES
#define IDXD_MAX_DELAY 1000000u

struct idxd_params {
	unsigned int slots;
	unsigned int nr_wq;
	char wq[IDXD_MAX_WQ][TOOL_NAME_MAX];
	unsigned int wq_n[IDXD_MAX_WQ];
	uint64_t delay;
	bool bdf_given;
	uint16_t bdf;
};

/* Per index: the device slot behind it (-1: none) and counters of earlier
 * allocations (a slot's counters start at its allocation). */
struct idxd_index {
	int slot;
	uint64_t base_fired, base_sent;
	uint64_t acc_fired, acc_sent;
};

struct idxd_priv {
	struct idxd_params p;
	struct sim_ims_queue *hw;
	struct ik_device *fn;
	struct ik_device *wq[IDXD_MAX_WQ];
	struct idxd_index *ix[IDXD_MAX_WQ];
	uint16_t bdf;
};

static void *idxd_parse(struct pcur *p)
{
	struct idxd_params *ip = calloc(1, sizeof(*ip));
	bool slots_given = false, delay_given = false;

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
			if (p_number(p, "the number of IMS slots", 1, TOOL_MAX_INDEX, &n))
				goto fail;
			ip->slots = (unsigned int)n;
		} else if (p_accept(p, "wq")) {
			unsigned int k = ip->nr_wq;

			if (k >= IDXD_MAX_WQ) {
				p_error_at(p, t, "at most %d work queues", IDXD_MAX_WQ);
				goto fail;
			}
			if (p_name(p, "a work queue name", ip->wq[k], NULL))
				goto fail;
			for (unsigned int i = 0; i < k; i++)
				if (!strcmp(ip->wq[i], ip->wq[k])) {
					p_error_at(p, &p->tl->tok[p->i - 1],
						   "work queue '%s' given twice", ip->wq[k]);
					goto fail;
				}
			if (p_number(p, "the interrupts of the work queue", 1, TOOL_MAX_INDEX, &n))
				goto fail;
			ip->wq_n[k] = (unsigned int)n;
			ip->nr_wq++;
		} else if (p_accept(p, "delay")) {
			if (delay_given) {
				p_error_at(p, t, "'delay' given twice");
				goto fail;
			}
			delay_given = true;
			if (p_number(p, "the command delay in ticks", 0, IDXD_MAX_DELAY, &ip->delay))
				goto fail;
		} else if (p_accept(p, "bdf")) {
			if (ip->bdf_given) {
				p_error_at(p, t, "'bdf' given twice");
				goto fail;
			}
			if (p_bdf(p, "a PCI address", "02:00.0", &ip->bdf))
				goto fail;
			ip->bdf_given = true;
		} else {
			p_expected(p, "an idxd parameter (slots N, wq NAME N, delay TICKS, "
				      "bdf BB:DD.F)");
			goto fail;
		}
	}
	if (!ip->nr_wq) {
		snprintf(ip->wq[0], TOOL_NAME_MAX, "wq0");
		ip->wq_n[0] = 8;
		ip->nr_wq = 1;
	}
	/* Queues share the pool: together they may ask for more than it has. */
	return ip;
fail:
	free(ip);
	return NULL;
}

static unsigned int idxd_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct idxd_params *ip = params;

	for (unsigned int i = 0; i < ip->nr_wq; i++) {
		memcpy(out[i].name, ip->wq[i], TOOL_NAME_MAX);
		out[i].size = ip->wq_n[i];
	}
	return ip->nr_wq;
}

/* One allocation (the world frees d->priv with free()): the per-index
 * records follow the structure. */
static void idxd_priv_free(struct idxd_priv *pv)
{
	free(pv);
}

static int idxd_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct idxd_params *ip = params;
	struct sim_pci_bus *bus = tool_pci_bus(w);
	struct sim_ims_queue_config cfg;
	struct idxd_index *ix;
	struct idxd_priv *pv;
	size_t nr_ix = 0;
	int ret;

	if (!bus)
		return -IK_EEXIST;
	for (unsigned int q = 0; q < ip->nr_wq; q++)
		nr_ix += ip->wq_n[q];
	pv = calloc(1, sizeof(*pv) + nr_ix * sizeof(struct idxd_index));
	if (!pv)
		return -IK_ENOMEM;
	pv->p = *ip;
	ix = (struct idxd_index *)(pv + 1);
	for (unsigned int q = 0; q < ip->nr_wq; q++) {
		pv->ix[q] = ix;
		for (unsigned int i = 0; i < ip->wq_n[q]; i++)
			pv->ix[q][i].slot = -1;
		ix += ip->wq_n[q];
	}
	pv->bdf = ip->bdf_given ? ip->bdf : world_alloc_rid(w);
	if ((pv->bdf >> 8) >= TOOL_PCI_BUSES) {
		idxd_priv_free(pv);
		return -IK_ERANGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_slots = ip->slots;
	cfg.nr_queues = ip->nr_wq;
	cfg.cmd_delay = ip->delay;
	cfg.bar0_addr = tool_pci_bar(w, SIM_IMSQ_BAR0_SIZE);
	cfg.bar2_addr = tool_pci_bar(w, 0x2000);
	pv->hw = sim_ims_queue_create(bus, pv->bdf, &cfg);
	if (!pv->hw) {
		if (sim_pci_bus_dev(bus, pv->bdf))
			tool_pci_slot_taken(pv->bdf);
		idxd_priv_free(pv);
		return -IK_EEXIST;
	}
	ret = ik_pci_device_create(NULL, 0, pv->bdf, &pv->fn);
	if (ret)
		goto fail_hw;
	ik_device_set_msi_parent(pv->fn, w->mcfg.plat->msi_parent(w));
	ret = ik_device_bind(pv->fn, &ik_idxd_driver);
	if (ret)
		goto fail_dev;
	for (unsigned int q = 0; q < ip->nr_wq; q++) {
		ret = ik_idxd_wq_add(pv->fn, q, &pv->wq[q]);
		if (ret)
			goto fail_dev;
	}
	d->priv = pv;
	return 0;
fail_dev:
	ik_pci_device_destroy(pv->fn); /* the work queue devices go with the driver */
fail_hw:
	sim_ims_queue_destroy(pv->hw);
	idxd_priv_free(pv);
	return ret;
}

static int idxd_remove(struct world *w, struct tool_device *d)
{
	struct idxd_priv *pv = d->priv;

	ik_pci_device_destroy(pv->fn);
	sim_ims_queue_destroy(pv->hw);
	pv->fn = NULL;
	memset(pv->wq, 0, sizeof(pv->wq));
	return 0;
}

static int idxd_irq_of(struct world *w, struct tool_device *d, unsigned int space,
		       unsigned int index)
{
	struct idxd_priv *pv = d->priv;
	int irq;

	if (!pv || !pv->fn || space >= pv->p.nr_wq || !pv->wq[space])
		return -IK_ENOENT;
	irq = ik_msi_get_virq(pv->wq[space], IK_MSI_SECONDARY_DOMAIN, index);
	return irq <= 0 ? -IK_ENOENT : irq;
}

static void idxd_slot_stats(struct idxd_priv *pv, int slot, uint64_t *fired, uint64_t *sent)
{
	struct sim_ims_slot s;

	*fired = *sent = 0;
	if (slot >= 0 && sim_ims_queue_slot(pv->hw, (unsigned int)slot, &s)) {
		*fired = s.stats.fired;
		*sent = s.stats.sent;
	}
}

static int idxd_free(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int first, unsigned int nr)
{
	struct idxd_priv *pv = d->priv;

	if (space >= pv->p.nr_wq || !pv->wq[space])
		return -IK_ENOENT;
	for (unsigned int i = 0; i < nr; i++) {
		struct idxd_index *x = &pv->ix[space][first + i];
		int irq = idxd_irq_of(w, d, space, first + i);
		struct ik_msi_map map = { (int)(first + i), irq > 0 ? (unsigned int)irq : 0 };
		int slot = __atomic_load_n(&x->slot, __ATOMIC_ACQUIRE);
		uint64_t f, s;
		int ret;

		if (irq < 0)
			return -IK_ENOENT;
		ret = ik_idxd_wq_free_irq(pv->wq[space], map);
		if (ret)
			return ret;
		idxd_slot_stats(pv, slot, &f, &s);
		x->acc_fired += f - x->base_fired;
		x->acc_sent += s - x->base_sent;
		__atomic_store_n(&x->slot, -1, __ATOMIC_RELEASE);
	}
	return 0;
}

static int idxd_alloc(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct idxd_priv *pv = d->priv;
	int first_irq = -1;

	if (space >= pv->p.nr_wq || !pv->wq[space])
		return -IK_ENODEV;
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_msi_map map = ik_idxd_wq_alloc_irq(pv->wq[space], aff ? &aff[i] : NULL, 0);
		struct idxd_index *x;
		int err = 0, slot;

		if (map.index < 0) {
			err = map.index;
		} else if ((unsigned int)map.index != first + i) {
			/* Not the index asked for: the queue gives the lowest free one. */
			ik_idxd_wq_free_irq(pv->wq[space], map);
			err = -IK_EINVAL;
		}
		if (!err) {
			slot = ik_idxd_wq_slot(pv->wq[space], map.index);
			if (slot < 0) {
				ik_idxd_wq_free_irq(pv->wq[space], map);
				err = slot;
			}
		}
		if (err) {
			if (i)
				idxd_free(w, d, space, first, i);
			return err;
		}
		x = &pv->ix[space][first + i];
		idxd_slot_stats(pv, slot, &x->base_fired, &x->base_sent);
		__atomic_store_n(&x->slot, slot, __ATOMIC_RELEASE);
		if (!i)
			first_irq = (int)map.virq;
	}
	return first_irq;
}

static void idxd_fire(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index)
{
	struct idxd_priv *pv = d->priv;
	struct idxd_index *x;
	int slot;

	if (space >= pv->p.nr_wq)
		return;
	x = &pv->ix[space][index];
	slot = __atomic_load_n(&x->slot, __ATOMIC_ACQUIRE);
	if (slot < 0) {
		/* No interrupt behind the index: the queue has nothing to raise. */
		__atomic_add_fetch(&x->acc_fired, 1, __ATOMIC_RELAXED);
		return;
	}
	sim_ims_queue_fire_slot(pv->hw, (unsigned int)slot);
}

static void idxd_hw(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		    struct hw_state *st)
{
	struct idxd_priv *pv = d->priv;
	struct idxd_index *x;
	struct sim_ims_slot s;
	int slot;

	if (space >= pv->p.nr_wq)
		return;
	x = &pv->ix[space][index];
	st->fired = __atomic_load_n(&x->acc_fired, __ATOMIC_RELAXED);
	st->sent = __atomic_load_n(&x->acc_sent, __ATOMIC_RELAXED);
	slot = __atomic_load_n(&x->slot, __ATOMIC_ACQUIRE);
	if (slot >= 0 && sim_ims_queue_slot(pv->hw, (unsigned int)slot, &s)) {
		st->fired += s.stats.fired - x->base_fired;
		st->sent += s.stats.sent - x->base_sent;
		st->masked = s.ctrl & SIM_IMS_CTRL_MASK;
		st->pending = s.ctrl & SIM_IMS_CTRL_PENDING;
	}
	st->valid = true;
}

/* The slot behind the index as the device holds it (commands it ran). */
static bool idxd_msg(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int index, struct dev_msg *m)
{
	struct idxd_priv *pv = d->priv;
	struct sim_ims_slot s;
	int slot;

	if (!pv || space >= pv->p.nr_wq || !pv->ix[space])
		return false;
	slot = __atomic_load_n(&pv->ix[space][index].slot, __ATOMIC_ACQUIRE);
	if (slot < 0 || !sim_ims_queue_slot(pv->hw, (unsigned int)slot, &s))
		return false;
	m->addr = (uint64_t)s.addr_hi << 32 | s.addr_lo;
	m->data = s.data;
	m->valid = true;
	return true;
}

static void idxd_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct idxd_priv *pv = d->priv;
	struct ik_idxd_stats s;
	bool have = pv->fn && !ik_idxd_get_stats(pv->fn, &s);
	size_t o;
	int n;

	n = snprintf(buf, size, "%s slots %u delay %llu", pv->fn ? ik_device_name(pv->fn) : "-",
		     pv->p.slots, (unsigned long long)pv->p.delay);
	o = n > 0 ? (size_t)n : 0;
	for (unsigned int i = 0; i < pv->p.nr_wq && o < size; i++) {
		n = snprintf(buf + o, size - o, " wq %s %u", pv->p.wq[i], pv->p.wq_n[i]);
		o += n > 0 ? (size_t)n : 0;
	}
	if (have && o < size)
		snprintf(buf + o, size - o, "; %llu commands in %llu batches, %llu deferred, "
					    "%llu timeouts",
			 (unsigned long long)s.commands, (unsigned long long)s.batches,
			 (unsigned long long)s.records_outside, (unsigned long long)s.timeouts);
}

static const char *idxd_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return "ims";
}

static bool idxd_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct idxd_priv *pv = d->priv;

	if (!pv || !pv->fn)
		return false;
	for (unsigned int i = 0; i < pv->p.nr_wq; i++)
		if (pv->wq[i] && ik_ims_domain(pv->wq[i]) == dom)
			return true;
	return dom == ik_msi_get_device_domain(pv->fn, IK_MSI_DEFAULT_DOMAIN);
}

static const struct tool_kind idxd_kind = {
	.name = "idxd",
	.summary = "IDXD-like function: command-updated IMS store, work queues as sub-devices "
		   "with interrupts allocated on demand",
	.usage = "[slots N (default 64)] [wq NAME N]... [delay TICKS] [bdf BB:DD.F]",
	.parse = idxd_parse,
	.spaces = idxd_spaces,
	.create = idxd_create,
	.remove = idxd_remove,
	.alloc = idxd_alloc,
	.free = idxd_free,
	.irq_of = idxd_irq_of,
	.fire = idxd_fire,
	.hw = idxd_hw,
	.msg = idxd_msg,
	.describe = idxd_describe,
	.mode = idxd_mode,
	.owns_domain = idxd_owns_domain,
};
TOOL_REGISTER_KIND(idxd_kind)
