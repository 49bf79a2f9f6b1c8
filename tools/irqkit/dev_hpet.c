// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "hpet": an x86 HPET block (the simulator's sim_hpet) whose
 * comparators deliver through FSB messages, served by the library's HPET
 * driver and its per-device domain under the platform's MSI parent:
 * VECTOR -> HPET-NAME, or VECTOR -> INTEL-IR -> IR-HPET-NAME with
 * remapping on (the message then names an IRTE checked against the
 * HPET's requester id).
 *
 *   device NAME hpet [timers N] [fsb MASK] [base ADDR] [rid BB:DD.F]
 *
 * Space "timer" (N timers, 1-32, default 3); index = timer number.  "fsb"
 * is the mask of timers that can deliver through FSB (default all); a timer
 * without the capability cannot get an interrupt (ENOTSUPP).  A fire is a
 * comparator match now.  FSB delivery has no pending state: a match while
 * the timer's interrupt is disabled (before request, after shutdown) is
 * lost and counted as blocked (fired, not sent).
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/x86_hpet.h>

#include "sim_hpet.h"
#include "tool.h"

struct hpet_params {
	unsigned int timers;
	bool fsb_given, base_given, rid_given;
	uint32_t fsb;
	uint64_t base;
	uint16_t rid;
};

struct hpet_priv {
	struct hpet_params p;
	struct sim_hpet *hw;
	struct ik_x86_hpet *h;
	uint64_t base;
	uint16_t rid;
};

static void *hpet_parse(struct pcur *p)
{
	struct hpet_params *hp = calloc(1, sizeof(*hp));
	bool timers_given = false;
	unsigned int fsb_tok = 0;

	if (!hp) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	hp->timers = 3;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		uint64_t n;

		if (p_accept(p, "timers")) {
			if (timers_given) {
				p_error_at(p, t, "'timers' given twice");
				goto fail;
			}
			timers_given = true;
			if (p_number(p, "the number of HPET timers", 1, SIM_HPET_MAX_TIMERS, &n))
				goto fail;
			hp->timers = (unsigned int)n;
		} else if (p_accept(p, "fsb")) {
			if (hp->fsb_given) {
				p_error_at(p, t, "'fsb' given twice");
				goto fail;
			}
			fsb_tok = p->i;
			if (p_number(p, "the mask of FSB-capable timers", 0, 0xFFFFFFFFull, &n))
				goto fail;
			hp->fsb = (uint32_t)n;
			hp->fsb_given = true;
		} else if (p_accept(p, "base")) {
			if (hp->base_given) {
				p_error_at(p, t, "'base' given twice");
				goto fail;
			}
			if (p_number(p, "an MMIO base address", 0x1000, 0xFFFFFFFFFull, &hp->base))
				goto fail;
			if (hp->base & (SIM_HPET_SIZE - 1)) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address must be 1 KiB aligned");
				goto fail;
			}
			if (hp->base < SIM_LAPIC_BASE + SIM_LAPIC_SIZE &&
			    hp->base + SIM_HPET_SIZE > SIM_LAPIC_BASE) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address overlaps the interrupt window "
					   "0xFEE00000-0xFEEFFFFF");
				goto fail;
			}
			hp->base_given = true;
		} else if (p_accept(p, "rid")) {
			if (hp->rid_given) {
				p_error_at(p, t, "'rid' given twice");
				goto fail;
			}
			if (p_bdf(p, "a requester ID", "00:1e.0", &hp->rid))
				goto fail;
			hp->rid_given = true;
		} else {
			p_expected(p, "an hpet parameter (timers N, fsb MASK, base ADDR, "
				      "rid BB:DD.F)");
			goto fail;
		}
	}
	if (hp->fsb_given && !(hp->fsb & ((hp->timers < 32 ? 1ull << hp->timers : 1ull << 32) - 1))) {
		p_error_at(p, &p->tl->tok[fsb_tok], "no timer can deliver through FSB (fsb 0x%x, %u timers)",
			   hp->fsb, hp->timers);
		goto fail;
	}
	return hp;
fail:
	free(hp);
	return NULL;
}

static unsigned int hpet_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct hpet_params *hp = params;

	snprintf(out[0].name, sizeof(out[0].name), "timer");
	out[0].size = hp->timers;
	return 1;
}

static int hpet_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct hpet_params *hp = params;
	struct ik_x86_hpet_config ic;
	struct sim_hpet_config sc;
	struct hpet_priv *pv = calloc(1, sizeof(*pv));
	int ret;

	if (!pv)
		return -IK_ENOMEM;
	pv->p = *hp;
	pv->base = hp->base_given ? hp->base : world_alloc_mmio(w, SIM_HPET_SIZE);
	pv->rid = hp->rid_given ? hp->rid : world_alloc_rid(w);
	memset(&sc, 0, sizeof(sc));
	sc.base = pv->base;
	sc.nr_timers = hp->timers;
	sc.fsb_mask_given = hp->fsb_given;
	sc.fsb_mask = hp->fsb;
	sc.rid_given = true;
	sc.requester_id = pv->rid;
	/* The block stays mapped until the machine goes, even after "remove". */
	pv->hw = sim_hpet_create(w->m, &sc);
	if (!pv->hw) {
		free(pv);
		return -IK_EEXIST;
	}
	memset(&ic, 0, sizeof(ic));
	ic.base = pv->base;
	ic.name = d->name;
	ic.requester_id = pv->rid;
	ret = ik_x86_hpet_create(&ic, &pv->h);
	if (ret) {
		free(pv);
		return ret;
	}
	d->priv = pv;
	return 0;
}

static int hpet_remove(struct world *w, struct tool_device *d)
{
	struct hpet_priv *pv = d->priv;

	ik_x86_hpet_destroy(pv->h);
	pv->h = NULL;
	return 0;
}

static int hpet_irq_of(struct world *w, struct tool_device *d, unsigned int space,
		       unsigned int index)
{
	struct hpet_priv *pv = d->priv;

	if (!pv || !pv->h)
		return -IK_ENOENT;
	return ik_irq_domain_find_mapping(ik_x86_hpet_domain(pv->h), index);
}

static int hpet_free(struct world *w, struct tool_device *d, unsigned int space,
		     unsigned int first, unsigned int nr)
{
	struct hpet_priv *pv = d->priv;

	for (unsigned int i = 0; i < nr; i++) {
		int ret = ik_x86_hpet_timer_free_irq(pv->h, first + i);

		if (ret)
			return ret;
	}
	return 0;
}

static int hpet_alloc(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct hpet_priv *pv = d->priv;
	int first_irq = -1;

	/* One interrupt per timer; the domain spreads it (no affinity hint here). */
	for (unsigned int i = 0; i < nr; i++) {
		int irq = ik_x86_hpet_timer_alloc_irq(pv->h, first + i);

		if (irq < 0) {
			if (i)
				hpet_free(w, d, space, first, i);
			return irq;
		}
		if (!i)
			first_irq = irq;
	}
	return first_irq;
}

static void hpet_fire(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index)
{
	struct hpet_priv *pv = d->priv;

	sim_hpet_fire(pv->hw, index);
}

static void hpet_hw(struct world *w, struct tool_device *d, unsigned int space, unsigned int index,
		    struct hw_state *st)
{
	struct hpet_priv *pv = d->priv;
	struct sim_hpet_timer_stats s;
	uint64_t conf;

	sim_hpet_timer_stats(pv->hw, index, &s);
	/* Every match counts as fired; lost ones (disabled, unrouted) are blocked. */
	st->fired = s.matches;
	st->sent = s.sent;
	/* Tn_CONF read as a debugger would (no side effects). */
	conf = sim_cpu_read(w->m, 0, pv->base + SIM_HPET_TN_CONF(index), 4);
	st->masked = !(conf & SIM_HPET_TN_INT_ENB);
	st->pending = false; /* FSB delivery has no pending state */
	st->valid = true;
}

static void hpet_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct hpet_priv *pv = d->priv;

	snprintf(buf, size, "%s timers %u fsb 0x%x base 0x%llx rid %02x:%02x.%x",
		 pv->h ? ik_device_name(ik_x86_hpet_device(pv->h)) : "-", pv->p.timers,
		 pv->p.fsb_given ? pv->p.fsb
				 : (uint32_t)((pv->p.timers < 32 ? 1ull << pv->p.timers : 1ull << 32) -
					      1),
		 (unsigned long long)pv->base, pv->rid >> 8, (pv->rid >> 3) & 0x1F, pv->rid & 7);
}

static const char *hpet_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return "fsb";
}

static bool hpet_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct hpet_priv *pv = d->priv;

	return pv && pv->h && ik_x86_hpet_domain(pv->h) == dom;
}

static const struct tool_kind hpet_kind = {
	.name = "hpet",
	.summary = "x86 HPET: comparators with FSB delivery, per-device domain (under IR when "
		   "remapping is on)",
	.usage = "[timers N (1-32, default 3)] [fsb MASK] [base ADDR] [rid BB:DD.F]",
	.parse = hpet_parse,
	.spaces = hpet_spaces,
	.create = hpet_create,
	.remove = hpet_remove,
	.alloc = hpet_alloc,
	.free = hpet_free,
	.irq_of = hpet_irq_of,
	.fire = hpet_fire,
	.hw = hpet_hw,
	.describe = hpet_describe,
	.mode = hpet_mode,
	.owns_domain = hpet_owns_domain,
};
TOOL_REGISTER_KIND(hpet_kind)
