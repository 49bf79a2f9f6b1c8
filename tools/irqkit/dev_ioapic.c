// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device kind "ioapic": an x86 I/O APIC (the simulator's sim_ioapic) served
 * by the library's I/O APIC domain, whose hwirq is the input pin:
 * VECTOR -> IO-APIC-NAME, or VECTOR -> INTEL-IR -> IR-IO-APIC-NAME with
 * remapping on (remappable entries, checked against the I/O APIC's
 * requester id).
 *
 *   device NAME ioapic [pins N] [level PINS] [base ADDR] [rid BB:DD.F]
 *                      [wire-rid BB:DD.F]
 *
 * Space "pin" (N pins, 1-240, default 24); index = input pin.  Pins listed
 * in "level" (like 9,16-19) are level-triggered, the others edge.  A fire
 * drives the pin's input line:
 *  - edge: a pulse; sent when the entry is unmasked, else lost (the
 *    82093AA keeps no pending edge);
 *  - level: the line is asserted and dropped again at once (the device's
 *    condition is served by the time anyone looks).  It sends when the
 *    entry is unmasked and Remote IRR is clear; with Remote IRR set (the
 *    previous one not yet EOId) it coalesces; while masked it is lost.
 * Lost and coalesced fires count as blocked (fired, not sent).  "assert"
 * and "deassert" hold a level pin's line instead (ioapic_set_line).
 * hw-masked is the entry's mask bit, hw-pending its Remote IRR.
 *
 * "wire-rid" is the requester id the hardware really puts on its messages
 * when it differs from "rid", the one the firmware told the driver (a wrong
 * DMAR device scope): with remapping on, the unit blocks them as a
 * source-id fault, recorded by the DMAR fault interrupt.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/irqchip.h>
#include <irqkit/x86_ioapic.h>

#include "sim_ioapic.h"
#include "tool.h"

#define IOAPIC_DEFAULT_PINS 24u

struct ioapic_params {
	unsigned int pins;
	bool base_given, rid_given, wire_given;
	uint64_t base;
	uint16_t rid, wire_rid;
	uint64_t level[(SIM_IOAPIC_MAX_PINS + 63) / 64];
	unsigned int level_tok;      /* token of the highest level pin, for the range check */
	unsigned int level_max;      /* highest pin named in "level" */
	bool level_given;
};

struct ioapic_priv {
	struct ioapic_params p;
	struct sim_ioapic *hw;
	struct ik_x86_ioapic *io;
	uint64_t base;
	uint16_t rid;
	uint64_t fired[SIM_IOAPIC_MAX_PINS];  /* __atomic */
	bool held[SIM_IOAPIC_MAX_PINS];       /* level line held asserted ("assert") */
};

static bool ioapic_is_level(const struct ioapic_params *ip, unsigned int pin)
{
	return ip->level[pin / 64] >> (pin % 64) & 1;
}

/* PIN[-PIN][,PIN[-PIN]]... */
static int ioapic_parse_pins(struct pcur *p, struct ioapic_params *ip)
{
	for (;;) {
		uint64_t lo, hi;

		if (p_number(p, "a pin number", 0, SIM_IOAPIC_MAX_PINS - 1, &lo))
			return -1;
		hi = lo;
		if (p_accept_type(p, T_DASH)) {
			if (p_number(p, "the last pin of the range", 0, SIM_IOAPIC_MAX_PINS - 1, &hi))
				return -1;
			if (hi < lo)
				return p_error_at(p, &p->tl->tok[p->i - 1],
						  "empty pin range %llu-%llu",
						  (unsigned long long)lo, (unsigned long long)hi);
		}
		for (uint64_t pin = lo; pin <= hi; pin++)
			ip->level[pin / 64] |= 1ull << (pin % 64);
		if (hi >= ip->level_max) {
			ip->level_max = (unsigned int)hi;
			ip->level_tok = p->i - 1;
		}
		if (!p_accept_type(p, T_COMMA))
			return 0;
	}
}

static void *ioapic_parse(struct pcur *p)
{
	struct ioapic_params *ip = calloc(1, sizeof(*ip));
	bool pins_given = false;

	if (!ip) {
		p_error_at(p, p_peek(p), "out of memory");
		return NULL;
	}
	ip->pins = IOAPIC_DEFAULT_PINS;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		uint64_t n;

		if (p_accept(p, "pins")) {
			if (pins_given) {
				p_error_at(p, t, "'pins' given twice");
				goto fail;
			}
			pins_given = true;
			if (p_number(p, "the number of I/O APIC pins", 1, SIM_IOAPIC_MAX_PINS, &n))
				goto fail;
			ip->pins = (unsigned int)n;
		} else if (p_accept(p, "level")) {
			if (ip->level_given) {
				p_error_at(p, t, "'level' given twice");
				goto fail;
			}
			ip->level_given = true;
			if (ioapic_parse_pins(p, ip))
				goto fail;
		} else if (p_accept(p, "base")) {
			if (ip->base_given) {
				p_error_at(p, t, "'base' given twice");
				goto fail;
			}
			if (p_number(p, "an MMIO base address", 0x1000, 0xFFFFFFFFFull, &ip->base))
				goto fail;
			if (ip->base & (SIM_IOAPIC_SIZE - 1)) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address must be 4 KiB aligned");
				goto fail;
			}
			if (ip->base < SIM_LAPIC_BASE + SIM_LAPIC_SIZE &&
			    ip->base + SIM_IOAPIC_SIZE > SIM_LAPIC_BASE) {
				p_error_at(p, &p->tl->tok[p->i - 1],
					   "the base address overlaps the interrupt window "
					   "0xFEE00000-0xFEEFFFFF");
				goto fail;
			}
			ip->base_given = true;
		} else if (p_accept(p, "rid")) {
			if (ip->rid_given) {
				p_error_at(p, t, "'rid' given twice");
				goto fail;
			}
			if (p_bdf(p, "a requester ID", "f0:1f.0", &ip->rid))
				goto fail;
			ip->rid_given = true;
		} else if (p_accept(p, "wire-rid")) {
			if (ip->wire_given) {
				p_error_at(p, t, "'wire-rid' given twice");
				goto fail;
			}
			if (p_bdf(p, "a requester ID", "f0:1f.0", &ip->wire_rid))
				goto fail;
			ip->wire_given = true;
		} else {
			p_expected(p, "an ioapic parameter (pins N, level PINS, base ADDR, "
				      "rid BB:DD.F, wire-rid BB:DD.F)");
			goto fail;
		}
	}
	if (ip->level_given && ip->level_max >= ip->pins) {
		p_error_at(p, &p->tl->tok[ip->level_tok], "level pin %u is out of range (%u pins)",
			   ip->level_max, ip->pins);
		goto fail;
	}
	return ip;
fail:
	free(ip);
	return NULL;
}

static unsigned int ioapic_spaces(const void *params, struct space_desc out[TOOL_MAX_SPACES])
{
	const struct ioapic_params *ip = params;

	snprintf(out[0].name, sizeof(out[0].name), "pin");
	out[0].size = ip->pins;
	return 1;
}

static int ioapic_create(struct world *w, struct tool_device *d, const void *params)
{
	const struct ioapic_params *ip = params;
	struct ik_x86_ioapic_config ic;
	struct sim_ioapic_config sc;
	struct ioapic_priv *pv = calloc(1, sizeof(*pv));
	int ret;

	if (!pv)
		return -IK_ENOMEM;
	pv->p = *ip;
	pv->base = ip->base_given ? ip->base : world_alloc_mmio(w, SIM_IOAPIC_SIZE);
	pv->rid = ip->rid_given ? ip->rid : world_alloc_rid(w);
	memset(&sc, 0, sizeof(sc));
	sc.base = pv->base;
	sc.nr_pins = ip->pins;
	sc.rid_given = true;
	sc.requester_id = ip->wire_given ? ip->wire_rid : pv->rid;
	/* The I/O APIC stays mapped until the machine goes, even after "remove". */
	pv->hw = sim_ioapic_create(w->m, &sc);
	if (!pv->hw) {
		free(pv);
		return -IK_EEXIST;
	}
	memset(&ic, 0, sizeof(ic));
	ic.base = pv->base;
	ic.name = d->name;
	ic.requester_id = pv->rid;
	ret = ik_x86_ioapic_create(&ic, &pv->io);
	if (ret) {
		free(pv);
		return ret;
	}
	d->priv = pv;
	return 0;
}

static int ioapic_remove(struct world *w, struct tool_device *d)
{
	struct ioapic_priv *pv = d->priv;
	int ret = ik_x86_ioapic_destroy(pv->io);

	if (ret)
		return ret;
	pv->io = NULL;
	return 0;
}

static int ioapic_irq_of(struct world *w, struct tool_device *d, unsigned int space,
			 unsigned int index)
{
	struct ioapic_priv *pv = d->priv;

	if (!pv || !pv->io)
		return -IK_ENOENT;
	return ik_irq_domain_find_mapping(ik_x86_ioapic_domain(pv->io), index);
}

static int ioapic_free(struct world *w, struct tool_device *d, unsigned int space,
		       unsigned int first, unsigned int nr)
{
	struct ioapic_priv *pv = d->priv;

	for (unsigned int i = 0; i < nr; i++) {
		int ret = ik_x86_ioapic_free_irq(pv->io, first + i);

		if (ret)
			return ret;
	}
	return 0;
}

static int ioapic_alloc(struct world *w, struct tool_device *d, unsigned int space,
			unsigned int first, unsigned int nr, const struct ik_irq_affinity_desc *aff)
{
	struct ioapic_priv *pv = d->priv;
	int first_irq = -1;

	/* One interrupt per pin; the vector domain places it (no affinity hint). */
	for (unsigned int i = 0; i < nr; i++) {
		unsigned int pin = first + i;
		int irq = ik_x86_ioapic_alloc_irq(pv->io, pin,
						  ioapic_is_level(&pv->p, pin)
							  ? IK_IRQ_TYPE_LEVEL_HIGH
							  : IK_IRQ_TYPE_EDGE_RISING,
						  false);

		if (irq < 0) {
			if (i)
				ioapic_free(w, d, space, first, i);
			return irq;
		}
		if (!i)
			first_irq = irq;
	}
	return first_irq;
}

static void ioapic_fire(struct world *w, struct tool_device *d, unsigned int space,
			unsigned int index)
{
	struct ioapic_priv *pv = d->priv;

	__atomic_add_fetch(&pv->fired[index], 1, __ATOMIC_RELAXED);
	if (ioapic_is_level(&pv->p, index)) {
		/* Asserted for an instant: sends, coalesces (Remote IRR) or is lost (masked). */
		sim_ioapic_set_line(pv->hw, index, true);
		/* A line held asserted stays so: the fire is one more cause of the same level. */
		if (!__atomic_load_n(&pv->held[index], __ATOMIC_RELAXED))
			sim_ioapic_set_line(pv->hw, index, false);
	} else {
		sim_ioapic_pulse(pv->hw, index);
	}
}

/*
 * "assert" / "deassert": hold a level pin's line asserted, as a device whose
 * condition nobody clears.  The I/O APIC sends when the entry is unmasked
 * and Remote IRR is clear, and again after every EOI while the line stays
 * asserted: a level storm, since the tool's handlers do not touch the
 * device ("deassert" ends it; "assert ... count N" lets the handlers'
 * claims serve it, see world.c).  Asserting counts as one fire.
 */
static int ioapic_set_line(struct world *w, struct tool_device *d, unsigned int space,
			   unsigned int index, bool asserted)
{
	struct ioapic_priv *pv = d->priv;

	if (!ioapic_is_level(&pv->p, index)) {
		set_action_detail("pin %u is edge-triggered (list it in 'level' to hold it); use "
				  "'fire' for an edge",
				  index);
		return -IK_EINVAL;
	}
	if (__atomic_load_n(&pv->held[index], __ATOMIC_RELAXED) == asserted) {
		set_action_detail("the line of pin %u is already %s", index,
				  asserted ? "asserted" : "deasserted");
		return -IK_EINVAL;
	}
	__atomic_store_n(&pv->held[index], asserted, __ATOMIC_RELAXED);
	if (asserted)
		__atomic_add_fetch(&pv->fired[index], 1, __ATOMIC_RELAXED);
	sim_ioapic_set_line(pv->hw, index, asserted);
	return 0;
}

static void ioapic_hw(struct world *w, struct tool_device *d, unsigned int space,
		      unsigned int index, struct hw_state *st)
{
	struct ioapic_priv *pv = d->priv;
	struct sim_ioapic_pin_stats s;
	uint64_t rte;

	sim_ioapic_pin_stats(pv->hw, index, &s);
	rte = sim_ioapic_rte(pv->hw, index);
	st->fired = __atomic_load_n(&pv->fired[index], __ATOMIC_RELAXED);
	st->sent = s.sent;
	st->masked = rte & SIM_IOAPIC_RTE_MASK;
	st->pending = rte & SIM_IOAPIC_RTE_REMOTE_IRR; /* level: delivered, not yet EOId */
	st->valid = true;
}

static void ioapic_describe(struct world *w, struct tool_device *d, char *buf, size_t size)
{
	struct ioapic_priv *pv = d->priv;
	unsigned int nlevel = 0, irr = 0;
	uint64_t coalesced = 0, drops = 0, eois = 0;

	for (unsigned int pin = 0; pin < pv->p.pins; pin++) {
		struct sim_ioapic_pin_stats s;

		nlevel += ioapic_is_level(&pv->p, pin);
		if (sim_ioapic_rte(pv->hw, pin) & SIM_IOAPIC_RTE_REMOTE_IRR)
			irr++;
		sim_ioapic_pin_stats(pv->hw, pin, &s);
		coalesced += s.coalesced;
		drops += s.masked_drops;
		eois += s.eois;
	}
	snprintf(buf, size,
		 "%s pins %u (%u level) base 0x%llx rid %02x:%02x.%x remote-irr %u eois %llu "
		 "coalesced %llu masked-drops %llu",
		 pv->io ? ik_device_name(ik_x86_ioapic_device(pv->io)) : "-", pv->p.pins, nlevel,
		 (unsigned long long)pv->base, pv->rid >> 8, (pv->rid >> 3) & 0x1F, pv->rid & 7,
		 irr, (unsigned long long)eois, (unsigned long long)coalesced,
		 (unsigned long long)drops);
}

static const char *ioapic_mode(struct world *w, struct tool_device *d, unsigned int space)
{
	return "pin";
}

static bool ioapic_owns_domain(struct world *w, struct tool_device *d, struct ik_irq_domain *dom)
{
	struct ioapic_priv *pv = d->priv;

	return pv && pv->io && ik_x86_ioapic_domain(pv->io) == dom;
}

static const struct tool_kind ioapic_kind = {
	.name = "ioapic",
	.summary = "x86 I/O APIC: edge and level pins (assert/deassert hold a level line), Remote "
		   "IRR and directed EOI, per-device domain (under IR when remapping is on)",
	.usage = "[pins N (1-240, default 24)] [level PINS] [base ADDR] [rid BB:DD.F] "
		 "[wire-rid BB:DD.F]",
	.parse = ioapic_parse,
	.spaces = ioapic_spaces,
	.create = ioapic_create,
	.remove = ioapic_remove,
	.alloc = ioapic_alloc,
	.free = ioapic_free,
	.irq_of = ioapic_irq_of,
	.fire = ioapic_fire,
	.set_line = ioapic_set_line,
	.hw = ioapic_hw,
	.describe = ioapic_describe,
	.mode = ioapic_mode,
	.owns_domain = ioapic_owns_domain,
};
TOOL_REGISTER_KIND(ioapic_kind)
