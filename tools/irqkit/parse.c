// SPDX-License-Identifier: BSD-2-Clause
/*
 * The scenario parser: lines to commands, includes flattened (relative to
 * the including file, cycles refused).  Syntax only; names, indices and
 * CPUs are checked by sema.c, library results by exec.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

#define MAX_FILE_SIZE (16u << 20)

static const char *const reserved_names[] = {
	"cpu", "domain", "stat", "error", "ok", "all", "random", "none", NULL,
};

/* ---- Options shared by the interrupt verbs ----------------------------- */

static int parse_on(struct pcur *p, struct cmd *c)
{
	uint64_t cpu;

	if (c->on_given)
		return p_error_at(p, &p->tl->tok[p->i - 1], "'on' given twice");
	c->on_given = true;
	c->on_loc = p_loc(p, p_peek(p));
	if (p_accept(p, "random")) {
		c->on_random = true;
		return 0;
	}
	if (p_accept(p, "target")) {
		if (c->verb != V_AFFINITY && c->verb != V_ENABLE && c->verb != V_DISABLE &&
		    c->verb != V_MASK && c->verb != V_UNMASK)
			return p_error_at(p, &p->tl->tok[p->i - 1],
					  "'on target' is for affinity, enable, disable, mask and "
					  "unmask (each interrupt's call runs on the CPU it targets)");
		c->on_target = true;
		return 0;
	}
	if (p_number(p, "a CPU number, 'random' or 'target' after 'on'", 0, SIM_MAX_CPUS - 1,
		     &cpu))
		return -1;
	c->on_cpu = (unsigned int)cpu;
	return 0;
}

/* Flags seen, to refuse duplicates. */
struct seen {
	uint32_t bits;
};

static int once(struct pcur *p, struct seen *s, unsigned int bit)
{
	if (s->bits & (1u << bit))
		return p_error_at(p, &p->tl->tok[p->i - 1], "option '%.*s' given twice",
				  (int)p->tl->tok[p->i - 1].len, p->tl->tok[p->i - 1].text);
	s->bits |= 1u << bit;
	return 0;
}

static int parse_machine(struct pcur *p, struct cmd *c)
{
	struct machine_cfg *mc = &c->u.machine;
	const struct token *t = p_peek(p);
	struct seen s = { 0 };

	mc->loc = c->loc;
	if (t->type != T_WORD || !(mc->plat = tool_find_platform(t->text, t->len))) {
		const struct tool_platform *pl[8];
		unsigned int n = tool_platforms(pl, 8);
		char what[128] = "a platform (";

		for (unsigned int i = 0; i < n; i++) {
			strncat(what, pl[i]->name, sizeof(what) - strlen(what) - 1);
			strncat(what, i + 1 < n ? ", " : ")", sizeof(what) - strlen(what) - 1);
		}
		return p_expected(p, what);
	}
	p_next(p);
	mc->nr_cpus = 4;
	while (!p_at_end(p)) {
		int r;

		if (p_accept(p, "cpus")) {
			uint64_t n;

			if (once(p, &s, 0) || p_number(p, "the number of CPUs", 1, SIM_MAX_CPUS, &n))
				return -1;
			mc->nr_cpus = (unsigned int)n;
			continue;
		}
		r = mc->plat->parse_opt ? mc->plat->parse_opt(p, mc) : 0;
		if (r < 0)
			return -1;
		if (r == 0) {
			char what[160];

			snprintf(what, sizeof(what), "a machine option (cpus N%s%s)",
				 mc->plat->usage ? ", " : "", mc->plat->usage ? mc->plat->usage : "");
			return p_expected(p, what);
		}
	}
	if (mc->ids_given && mc->nr_ids != mc->nr_cpus)
		return p_error_at(p, &p->tl->tok[0],
				  "%u CPU IDs given for %u CPUs (expected one per CPU)", mc->nr_ids,
				  mc->nr_cpus);
	return 0;
}

static int parse_device(struct pcur *p, struct cmd *c)
{
	const struct token *t;

	if (p_name(p, "a device name", c->u.device.name, &c->u.device.name_loc))
		return -1;
	for (int i = 0; reserved_names[i]; i++)
		if (!strcmp(c->u.device.name, reserved_names[i]))
			return p_error_at(p, &p->tl->tok[p->i - 1],
					  "'%s' is a reserved word, not a device name",
					  reserved_names[i]);
	t = p_peek(p);
	if (t->type != T_WORD || !(c->u.device.kind = tool_find_kind(t->text, t->len))) {
		const struct tool_kind *k[32];
		unsigned int n = tool_kinds(k, 32);
		char what[256] = "a device kind (";

		for (unsigned int i = 0; i < n; i++) {
			strncat(what, k[i]->name, sizeof(what) - strlen(what) - 1);
			strncat(what, i + 1 < n ? ", " : ")", sizeof(what) - strlen(what) - 1);
		}
		return p_expected(p, what);
	}
	p_next(p);
	c->u.device.params = c->u.device.kind->parse(p);
	if (!c->u.device.params) {
		p->failed = true;
		return -1;
	}
	return 0;
}

static int parse_behaviour(struct pcur *p, struct cmd *c)
{
	static const char *const names[] = { "handled", "none", "threaded", "count", NULL };
	int b = p_choice(p, "a handler behaviour (handled, none, threaded, count N)", names);

	if (b < 0)
		return -1;
	c->u.request.b = (enum behaviour)b;
	if (b == B_COUNT)
		return p_number(p, "the number of interrupts the handler claims", 0, TOOL_MAX_COUNT,
				&c->u.request.limit);
	return 0;
}

static int parse_irq_verb(struct pcur *p, struct cmd *c)
{
	struct seen s = { 0 };

	if (p_ref(p, &c->ref))
		return -1;
	if (c->verb == V_AFFINITY && p_cpuset(p, &c->u.cpus))
		return -1;
	while (!p_at_end(p)) {
		const struct token *t = p_peek(p);
		int r = 0;

		if (p_accept(p, "on")) {
			if (c->verb == V_FIRE || c->verb == V_ASSERT || c->verb == V_DEASSERT)
				return p_error_at(p, t, "'%s' runs in the device, not on a CPU",
						  c->verb == V_FIRE ? "fire" : c->verb == V_ASSERT
									       ? "assert"
									       : "deassert");
			r = parse_on(p, c);
		} else if (c->verb == V_ALLOCATE && p_accept(p, "managed")) {
			r = once(p, &s, 1);
			c->u.alloc.managed = true;
		} else if (c->verb == V_ALLOCATE && p_accept(p, "affinity")) {
			r = once(p, &s, 2) || p_cpuset(p, &c->u.alloc.aff);
			c->u.alloc.has_aff = true;
		} else if (c->verb == V_REQUEST && p_accept(p, "handler")) {
			r = once(p, &s, 3) || parse_behaviour(p, c);
		} else if ((c->verb == V_REQUEST || c->verb == V_RELEASE) && p_accept(p, "as")) {
			r = once(p, &s, 4) ||
			    p_name(p, "a handler name",
				   c->verb == V_REQUEST ? c->u.request.as : c->u.as, NULL);
		} else if (c->verb == V_REQUEST && p_accept(p, "shared")) {
			r = once(p, &s, 5);
			c->u.request.shared = true;
		} else if (c->verb == V_REQUEST && p_accept(p, "oneshot")) {
			r = once(p, &s, 6);
			c->u.request.oneshot = true;
		} else if (c->verb == V_REQUEST && p_accept(p, "noautoen")) {
			r = once(p, &s, 7);
			c->u.request.noautoen = true;
		} else if (c->verb == V_DISABLE && p_accept(p, "nosync")) {
			r = once(p, &s, 8);
			c->u.nosync = true;
		} else if (c->verb == V_FIRE && p_accept(p, "count")) {
			r = once(p, &s, 9) || p_number(p, "the number of fire events", 1, TOOL_MAX_COUNT,
						       &c->u.fire.count);
		} else if (c->verb == V_FIRE && p_accept(p, "burst")) {
			r = once(p, &s, 10) ||
			    p_number(p, "the fires per event", 1, 1000000, &c->u.fire.burst);
		} else if (c->verb == V_FIRE && p_accept(p, "gap")) {
			r = once(p, &s, 11) ||
			    p_number(p, "the ticks between events", 1, 1000000, &c->u.fire.gap);
		} else if (c->verb == V_FIRE && p_accept(p, "paced")) {
			r = once(p, &s, 12);
			c->u.fire.paced = true;
		} else if (c->verb == V_FIRE && p_accept(p, "nowait")) {
			r = once(p, &s, 13);
			c->u.fire.nowait = true;
		} else if (c->verb == V_ASSERT && p_accept(p, "count")) {
			r = once(p, &s, 15) ||
			    p_number(p, "the number of interrupts the device needs served", 1,
				     TOOL_MAX_COUNT, &c->u.serve);
		} else if (c->verb == V_FIRE && p_accept(p, "torn")) {
			r = once(p, &s, 14);
			c->u.fire.torn = true;
			c->u.fire.torn_loc = p_loc(p, t);
		} else {
			static const char *const opts[] = {
				[V_ALLOCATE] = "'managed', 'affinity CPUS', 'on CPU' or end of line",
				[V_FREE] = "'on CPU' or end of line",
				[V_REQUEST] = "'handler B', 'as NAME', 'shared', 'oneshot', 'noautoen', "
					      "'on CPU' or end of line",
				[V_RELEASE] = "'as NAME', 'on CPU' or end of line",
				[V_ENABLE] = "'on CPU' or end of line",
				[V_DISABLE] = "'nosync', 'on CPU' or end of line",
				[V_MASK] = "'on CPU' or end of line",
				[V_UNMASK] = "'on CPU' or end of line",
				[V_AFFINITY] = "'on CPU' or end of line",
				[V_FIRE] = "'count N', 'burst N', 'gap N', 'paced', 'nowait', 'torn' or "
					   "end of line",
				[V_ASSERT] = "'count N' or end of line",
				[V_DEASSERT] = "end of line",
			};
			return p_expected(p, opts[c->verb]);
		}
		if (r)
			return -1;
	}
	if (c->verb == V_FIRE) {
		/* Bits of the options seen (once()): 9..13 are count..nowait. */
		if (c->u.fire.torn && (s.bits & (0x1Fu << 9)))
			return p_error_at(p, &p->tl->tok[0],
					  "'torn' fires once per interrupt, when the library rewrites "
					  "its message; it cannot be combined with 'count', 'burst', "
					  "'gap', 'paced' or 'nowait'");
		if (!c->u.fire.count)
			c->u.fire.count = 1;
		if (!c->u.fire.burst)
			c->u.fire.burst = 1;
		if (!c->u.fire.gap)
			c->u.fire.gap = 1;
		if (c->u.fire.paced && c->u.fire.burst > 1)
			return p_error_at(p, &p->tl->tok[0],
					  "'paced' fires one at a time; it cannot be combined with "
					  "'burst'");
		if (c->u.fire.count > TOOL_MAX_COUNT / c->u.fire.burst)
			return p_error_at(p, &p->tl->tok[0], "count x burst is too large (at most %llu)",
					  (unsigned long long)TOOL_MAX_COUNT);
	}
	return 0;
}

/* ---- expect ------------------------------------------------------------- */

static const char *const ref_counters[] = {
	"fired", "sent", "blocked", "delivered", "spurious", "handled", "threads", "pending",
	"depth", "count", "irq", "target-cpu", "vector", "handlers", "torn", NULL,
};
static const char *const ref_states[] = {
	"allocated", "requested", "enabled", "disabled", "masked", "started", "activated",
	"managed", "pending", "moving", "shutdown", "spurious-disabled", "hw-masked",
	"hw-pending", NULL,
};
static const char *const cpu_counters[] = {
	"delivered", "interrupts", "vectors", "available", "managed", "spurious", NULL,
};
static const char *const stat_names_list[] = {
	"msi-accepted", "msi-no-dest", "msi-illegal-vector", "msi-bad-format", "no-idt",
	"interrupts-taken", "ipis-sent", "unmapped-writes", "msi-coalesced", "eois",
	"level-eois", "events-run", "nmis", "offline-discarded", "warnings", "unhandled-vectors",
	"dmar-interrupts", "dmar-faults", "its-translations", "its-dropped", "its-coalesced",
	"msi-two-step", "msi-raced", "msi-deferred", "msi-naive",
	NULL,
};

const char *const *tool_stat_names(void);
const char *const *tool_stat_names(void)
{
	return stat_names_list;
}

static int word_in(const struct token *t, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (p_is_word(t, list[i]))
			return i;
	return -1;
}

static int parse_op(struct pcur *p, enum cmp_op *op)
{
	const struct token *t = p_peek(p);

	if (t->type != T_OP)
		return p_expected(p, "a comparison (==, !=, <, <=, >, >=)");
	*op = t->op;
	p_next(p);
	return 0;
}

static int parse_value(struct pcur *p, struct expect *e, const char *const *props)
{
	const struct token *t = p_peek(p);

	e->rhs_loc = p_loc(p, t);
	if (t->type == T_WORD && props && word_in(t, props) >= 0) {
		e->rhs_is_prop = true;
		tok_text(t, e->rhs_prop, sizeof(e->rhs_prop));
		p_next(p);
		return 0;
	}
	return p_number(p, props ? "a number or a counter name" : "a number", 0, UINT64_MAX,
			&e->rhs);
}

static int parse_list_name(struct pcur *p, const char *what, const char *const *list, char *out,
			   size_t size, struct loc *loc)
{
	const struct token *t = p_peek(p);
	char buf[512];
	size_t o;

	if (t->type == T_WORD && word_in(t, list) >= 0) {
		*loc = p_loc(p, t);
		tok_text(t, out, size);
		p_next(p);
		return 0;
	}
	o = (size_t)snprintf(buf, sizeof(buf), "%s (", what);
	for (int i = 0; list[i] && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? ", " : "", list[i]);
	if (o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o, ")");
	return p_expected(p, buf);
}

static int parse_domain_name(struct pcur *p, char *out, size_t size)
{
	const struct token *t = p_peek(p);

	if (t->type != T_WORD && t->type != T_STR)
		return p_expected(p, "a domain name (a word or a \"string\")");
	if (t->len >= size)
		return p_error_at(p, t, "domain name too long");
	tok_text(t, out, size);
	p_next(p);
	return 0;
}

static int parse_expect(struct pcur *p, struct cmd *c)
{
	struct expect *e = &c->u.expect;
	const struct token *t = p_peek(p);

	if (p_accept(p, "ok")) {
		e->subj = S_OK;
		return p_expect_end(p);
	}
	if (p_accept(p, "error")) {
		e->subj = S_ERROR;
		t = p_peek(p);
		if (p_accept(p, "any")) {
			e->err = -1;
		} else if (t->type == T_WORD && err_from_name(t->text, t->len) > 0) {
			e->err = err_from_name(t->text, t->len);
			p_next(p);
		} else if (t->type == T_NUM && t->num_ok && t->num > 0 && t->num < 4096) {
			e->err = (int)t->num;
			p_next(p);
		} else {
			return p_expected(p, "an error name (ENOSPC, EBUSY, EINVAL, ...), a number or "
					     "'any'");
		}
		return p_expect_end(p);
	}
	if (p_accept(p, "cpu")) {
		uint64_t cpu;

		e->subj = S_CPU;
		e->cpu_loc = p_loc(p, p_peek(p));
		if (p_number(p, "a CPU number", 0, SIM_MAX_CPUS - 1, &cpu))
			return -1;
		e->cpu = (unsigned int)cpu;
		if (p_accept(p, "is")) {
			static const char *const st[] = { "online", "offline", NULL };

			e->is_state = true;
			if (parse_list_name(p, "a CPU state", st, e->name, sizeof(e->name),
					    &e->prop_loc))
				return -1;
			return p_expect_end(p);
		}
		if (parse_list_name(p, "a CPU counter or 'is'", cpu_counters, e->prop,
				    sizeof(e->prop), &e->prop_loc) ||
		    parse_op(p, &e->op) || parse_value(p, e, NULL))
			return -1;
		return p_expect_end(p);
	}
	if (p_accept(p, "domain")) {
		e->subj = S_DOMAIN;
		e->prop_loc = p_loc(p, p_peek(p));
		if (parse_domain_name(p, e->name, sizeof(e->name)))
			return -1;
		t = p_peek(p);
		e->prop_loc = p_loc(p, t);
		if (p_accept(p, "exists") || p_accept(p, "absent")) {
			tok_text(t, e->prop, sizeof(e->prop));
			return p_expect_end(p);
		}
		if (p_accept(p, "parent")) {
			strcpy(e->prop, "parent");
			e->rhs_loc = p_loc(p, p_peek(p));
			if (p_accept(p, "none"))
				e->rhs_prop[0] = 0;
			else if (parse_domain_name(p, e->rhs_prop, sizeof(e->rhs_prop)))
				return -1;
			return p_expect_end(p);
		}
		if (p_accept(p, "mapcount")) {
			strcpy(e->prop, "mapcount");
			if (parse_op(p, &e->op) || parse_value(p, e, NULL))
				return -1;
			return p_expect_end(p);
		}
		if (p_accept(p, "is")) {
			static const char *const fl[] = { "msi-parent", "msi-device", "remap", "root",
							  NULL };

			strcpy(e->prop, "is");
			e->is_state = true;
			if (p_accept(p, "not"))
				e->negate = true;
			if (parse_list_name(p, "a domain flag", fl, e->rhs_prop, sizeof(e->rhs_prop),
					    &e->rhs_loc))
				return -1;
			return p_expect_end(p);
		}
		return p_expected(p, "'exists', 'absent', 'parent NAME', 'mapcount OP N' or "
				     "'is FLAG'");
	}
	if (p_accept(p, "stat")) {
		e->subj = S_STAT;
		if (parse_list_name(p, "a statistic", stat_names_list, e->name, sizeof(e->name),
				    &e->prop_loc) ||
		    parse_op(p, &e->op) || parse_value(p, e, NULL))
			return -1;
		return p_expect_end(p);
	}
	if (t->type != T_WORD)
		return p_expected(p, "'ok', 'error', 'cpu', 'domain', 'stat' or an interrupt "
				     "reference (DEV[N])");
	e->subj = S_REF;
	if (p_ref(p, &e->ref))
		return -1;
	if (p_accept(p, "is")) {
		e->is_state = true;
		if (p_accept(p, "not"))
			e->negate = true;
		if (parse_list_name(p, "an interrupt state", ref_states, e->prop, sizeof(e->prop),
				    &e->prop_loc))
			return -1;
		return p_expect_end(p);
	}
	t = p_peek(p);
	if (p_accept(p, "target")) {
		strcpy(e->prop, "target");
		e->prop_loc = p_loc(p, t);
		if (!p_accept(p, "in"))
			return p_expected(p, "'in' after 'target'");
		if (p_cpuset(p, &e->cs))
			return -1;
		e->has_cs = true;
		return p_expect_end(p);
	}
	if (p_accept(p, "affinity")) {
		strcpy(e->prop, "affinity");
		e->prop_loc = p_loc(p, t);
		if (parse_op(p, &e->op))
			return -1;
		if (e->op != OP_EQ && e->op != OP_NE)
			return p_error_at(p, &p->tl->tok[p->i - 1],
					  "affinity compares with == or != only");
		if (p_cpuset(p, &e->cs))
			return -1;
		if (e->cs.kind == CS_RANDOM)
			return p_error_at(p, &p->tl->tok[p->i - 1], "'random' is not a CPU set to "
								  "compare with");
		e->has_cs = true;
		return p_expect_end(p);
	}
	if (parse_list_name(p, "'is STATE', 'target in CPUS', 'affinity == CPUS' or a counter",
			    ref_counters, e->prop, sizeof(e->prop), &e->prop_loc))
		return -1;
	if (p_accept(p, "on")) {
		uint64_t cpu;

		e->cpu_loc = p_loc(p, p_peek(p));
		if (p_number(p, "a CPU number", 0, SIM_MAX_CPUS - 1, &cpu))
			return -1;
		e->cpu = (unsigned int)cpu;
		e->on_cpu = true;
		if (strcmp(e->prop, "delivered") && strcmp(e->prop, "count") &&
		    strcmp(e->prop, "handled") && strcmp(e->prop, "spurious"))
			return p_error_at(p, &p->tl->tok[p->i - 2],
					  "'on CPU' applies to delivered, handled, spurious and "
					  "count only");
	}
	if (parse_op(p, &e->op) || parse_value(p, e, ref_counters))
		return -1;
	return p_expect_end(p);
}

/* ---- Verbs -------------------------------------------------------------- */

static int parse_rest(struct pcur *p, struct cmd *c)
{
	switch (c->verb) {
	case V_MACHINE:
		return parse_machine(p, c);
	case V_SEED:
		if (p_number(p, "a seed", 0, UINT64_MAX, &c->u.seed))
			return -1;
		return p_expect_end(p);
	case V_MODE: {
		static const char *const modes[] = { "deterministic", "threaded", NULL };
		int m = p_choice(p, "'deterministic' or 'threaded'", modes);

		if (m < 0)
			return -1;
		c->u.mode.threaded = m == 1;
		if (p_accept(p, "interleave")) {
			uint64_t v;

			if (c->u.mode.threaded)
				return p_error_at(p, &p->tl->tok[p->i - 1],
						  "'interleave' applies to deterministic mode only");
			if (p_number(p, "the interleave probability in per mille", 1, 1000, &v))
				return -1;
			c->u.mode.interleave = (unsigned int)v;
		}
		return p_expect_end(p);
	}
	case V_DEVICE:
		if (parse_device(p, c))
			return -1;
		return p_expect_end(p);
	case V_REMOVE:
		if (p_name(p, "a device name", c->ref.dev, &c->ref.loc))
			return -1;
		return p_expect_end(p);
	case V_ALLOCATE:
	case V_FREE:
	case V_REQUEST:
	case V_RELEASE:
	case V_ENABLE:
	case V_DISABLE:
	case V_MASK:
	case V_UNMASK:
	case V_AFFINITY:
	case V_FIRE:
	case V_ASSERT:
	case V_DEASSERT:
		return parse_irq_verb(p, c);
	case V_RUN_IDLE:
		return p_expect_end(p);
	case V_CPU: {
		static const char *const st[] = { "offline", "online", NULL };
		uint64_t cpu;
		int s;

		if (p_number(p, "a CPU number", 0, SIM_MAX_CPUS - 1, &cpu))
			return -1;
		c->u.cpu.cpu = (unsigned int)cpu;
		c->on_loc = p_loc(p, &p->tl->tok[p->i - 1]);
		s = p_choice(p, "'offline' or 'online'", st);
		if (s < 0)
			return -1;
		c->u.cpu.online = s == 1;
		return p_expect_end(p);
	}
	case V_INJECT:
		if (p_accept(p, "off")) {
			c->u.inject_nth = 0;
			return p_expect_end(p);
		}
		if (!p_accept(p, "alloc-fail"))
			return p_expected(p, "'alloc-fail N' or 'off'");
		if (p_number(p, "N (the Nth allocation from now fails; 1 = the next)", 1,
			     UINT32_MAX, &c->u.inject_nth))
			return -1;
		return p_expect_end(p);
	case V_SHOW: {
		static const char *const views[] = { "tree", "interrupts", "vectors", "devices",
						     "summary", NULL };
		int v = p_choice(p, "a view (tree, interrupts, vectors, devices, summary)", views);

		if (v < 0)
			return -1;
		c->u.show.view = (enum view)v;
		if (p_accept(p, "json"))
			c->u.show.json = true;
		return p_expect_end(p);
	}
	case V_ECHO: {
		/* The rest of the line as written (strings unquoted). */
		size_t total = 1;
		char *s;

		for (unsigned int i = p->i; i < p->tl->n; i++)
			total += p->tl->tok[i].len + 1;
		s = malloc(total);
		if (!s)
			return p_error_at(p, p_peek(p), "out of memory");
		s[0] = 0;
		for (size_t o = 0; !p_at_end(p);) {
			const struct token *t = p_next(p);

			if (o)
				s[o++] = ' ';
			memcpy(s + o, t->text, t->len);
			o += t->len;
			s[o] = 0;
		}
		c->u.text = s;
		return 0;
	}
	case V_EXPECT:
		return parse_expect(p, c);
	case V_INCLUDE:
		return 0; /* handled by the file parser */
	}
	return -1;
}

static const struct {
	const char *word;
	enum verb verb;
} verbs[] = {
	{ "machine", V_MACHINE },   { "seed", V_SEED },         { "mode", V_MODE },
	{ "device", V_DEVICE },     { "remove", V_REMOVE },     { "allocate", V_ALLOCATE },
	{ "free", V_FREE },         { "request", V_REQUEST },   { "release", V_RELEASE },
	{ "enable", V_ENABLE },     { "disable", V_DISABLE },   { "mask", V_MASK },
	{ "unmask", V_UNMASK },     { "affinity", V_AFFINITY }, { "fire", V_FIRE },
	{ "run-until-idle", V_RUN_IDLE }, { "cpu", V_CPU },     { "inject", V_INJECT },
	{ "show", V_SHOW },         { "echo", V_ECHO },         { "expect", V_EXPECT },
	{ "include", V_INCLUDE },   { "assert", V_ASSERT },     { "deassert", V_DEASSERT },
};

int parse_cmd(struct pcur *p, struct cmd *c)
{
	const struct token *t = p_peek(p);
	uint64_t rep = 1;

	memset(c, 0, sizeof(*c));
	c->repeat = 1;
	if (p_accept(p, "repeat")) {
		if (p_number(p, "a repeat count", 1, TOOL_MAX_COUNT, &rep))
			return -1;
		t = p_peek(p);
		if (p_is_word(t, "repeat") || p_is_word(t, "include") || p_is_word(t, "machine") ||
		    p_is_word(t, "device") || p_is_word(t, "expect") || p_is_word(t, "seed") ||
		    p_is_word(t, "mode"))
			return p_error_at(p, t, "'%.*s' cannot be repeated", (int)t->len, t->text);
	}
	c->loc = p_loc(p, t);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (p_is_word(t, verbs[i].word)) {
			p_next(p);
			c->verb = verbs[i].verb;
			c->repeat = rep;
			return parse_rest(p, c);
		}
	}
	return p_expected(p, "a command (machine, seed, mode, device, remove, allocate, free, "
			     "request, release, enable, disable, mask, unmask, affinity, fire, "
			     "assert, deassert, run-until-idle, cpu, inject, show, echo, expect, "
			     "include, repeat)");
}

void cmd_free(struct cmd *c)
{
	if (!c)
		return;
	if (c->verb == V_DEVICE)
		free(c->u.device.params);
	if (c->verb == V_ECHO)
		free(c->u.text);
	free(c);
}

/* ---- Files ------------------------------------------------------------ */

void script_init(struct script *s)
{
	memset(s, 0, sizeof(*s));
	s->tail = &s->head;
}

void script_free(struct script *s)
{
	struct cmd *c = s->head, *n;

	for (; c; c = n) {
		n = c->next;
		cmd_free(c);
	}
	for (unsigned int i = 0; i < s->nr_files; i++)
		free(s->files[i]);
	free(s->files);
	script_init(s);
}

static const char *keep_name(struct script *s, const char *name)
{
	char **f = realloc(s->files, (s->nr_files + 1) * sizeof(*f));
	char *copy = strdup(name);

	if (!f || !copy) {
		free(copy);
		if (f)
			s->files = f;
		return NULL;
	}
	s->files = f;
	s->files[s->nr_files++] = copy;
	return copy;
}

struct include_stack {
	const char *real[TOOL_MAX_INCLUDE_DEPTH + 1];
	unsigned int depth;
};

static int parse_text(struct script *s, struct diag *d, const char *name, const char *text,
		      size_t len, const struct parse_opts *o, struct include_stack *inc);

static char *read_file(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	struct stat sb;

	if (!f) {
		*err = errno;
		return NULL;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		*err = EISDIR;
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_FILE_SIZE + 8192) {
				free(buf);
				fclose(f);
				*err = EFBIG;
				return NULL;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				*err = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	if (ferror(f)) {
		*err = EIO;
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static int parse_path(struct script *s, struct diag *d, const char *path, const struct loc *from,
		      const struct parse_opts *o, struct include_stack *inc)
{
	char real[PATH_MAX];
	const char *name;
	size_t len = 0;
	int err = 0, ret;
	char *text;

	if (!realpath(path, real) || !(text = read_file(path, &len, &err))) {
		if (!err)
			err = errno;
		if (from) {
			diag_error(d, from, "cannot read '%s': %s", path, strerror(err));
		} else {
			d->errors++;
			if (d->out)
				fprintf(d->out, "irqkit: cannot read '%s': %s\n", path, strerror(err));
		}
		return -1;
	}
	for (unsigned int i = 0; i < inc->depth; i++) {
		if (!strcmp(inc->real[i], real)) {
			diag_error(d, from, "include cycle: '%s' is already being read", path);
			free(text);
			return -1;
		}
	}
	if (inc->depth >= TOOL_MAX_INCLUDE_DEPTH) {
		diag_error(d, from, "includes nested too deeply (at most %d)",
			   TOOL_MAX_INCLUDE_DEPTH);
		free(text);
		return -1;
	}
	name = keep_name(s, path);
	if (!name) {
		free(text);
		return -1;
	}
	inc->real[inc->depth++] = strdup(real);
	ret = parse_text(s, d, name, text, len, o, inc);
	free((void *)inc->real[--inc->depth]);
	free(text);
	return ret;
}

static int do_include(struct script *s, struct diag *d, struct pcur *p, const char *file,
		      const struct parse_opts *o, struct include_stack *inc)
{
	const struct token *t = p_peek(p);
	struct loc l = p_loc(p, t);
	char path[PATH_MAX + 1];
	char inc_name[PATH_MAX];

	if (t->type != T_STR)
		return p_expected(p, "a file name in quotes after 'include'");
	if (!o->allow_include)
		return p_error_at(p, t, "'include' is not allowed here");
	tok_text(t, inc_name, sizeof(inc_name));
	p_next(p);
	if (p_expect_end(p))
		return -1;
	if (!inc_name[0])
		return p_error_at(p, t, "empty file name");
	if (inc_name[0] == '/' || !strchr(file, '/')) {
		snprintf(path, sizeof(path), "%s", inc_name);
	} else {
		const char *slash = strrchr(file, '/');
		size_t dl = (size_t)(slash - file);

		if (dl + 1 + strlen(inc_name) >= sizeof(path))
			return p_error_at(p, t, "file name too long");
		memcpy(path, file, dl + 1);
		strcpy(path + dl + 1, inc_name);
	}
	return parse_path(s, d, path, &l, o, inc);
}

static int parse_text(struct script *s, struct diag *d, const char *name, const char *text,
		      size_t len, const struct parse_opts *o, struct include_stack *inc)
{
	unsigned int lineno = 0;
	size_t pos = 0;
	int ret = 0;
	char *line = malloc(TOOL_MAX_LINE + 2);

	if (!line)
		return -1;
	while (pos < len) {
		size_t e = pos, n;
		struct loc l = { name, ++lineno, 1 };
		struct tline tl;
		struct pcur p = { .tl = &tl, .d = d };
		struct cmd *c;

		while (e < len && text[e] != '\n')
			e++;
		n = e - pos;
		if (n > TOOL_MAX_LINE) {
			l.col = TOOL_MAX_LINE + 1;
			diag_error(d, &l, "line too long (at most %d characters)", TOOL_MAX_LINE);
			ret = -1;
			pos = e + 1;
			continue;
		}
		memcpy(line, text + pos, n);
		line[n] = 0;
		pos = e + 1;
		if (memchr(line, 0, n)) {
			l.col = (unsigned int)strlen(line) + 1;
			diag_error(d, &l, "unexpected NUL byte");
			ret = -1;
			continue;
		}
		if (lex_line(d, &l, line, &tl)) {
			ret = -1;
			continue;
		}
		if (tl.n == 0) {
			tline_free(&tl);
			continue;
		}
		if (p_accept(&p, "include")) {
			if (do_include(s, d, &p, name, o, inc))
				ret = -1;
			tline_free(&tl);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			tline_free(&tl);
			ret = -1;
			break;
		}
		if (parse_cmd(&p, c) || p.failed) {
			cmd_free(c);
			ret = -1;
		} else {
			*s->tail = c;
			s->tail = &c->next;
		}
		tline_free(&tl);
		if (d->max_errors && d->errors >= d->max_errors)
			break;
	}
	free(line);
	return ret;
}

static int parse_top(struct script *s, struct diag *d, const char *path, const char *name,
		     const char *text, size_t len, const struct parse_opts *o)
{
	struct include_stack inc = { .depth = 0 };
	struct script tmp;
	const char *kept;
	int ret;

	script_init(&tmp);
	if (path) {
		ret = parse_path(&tmp, d, path, NULL, o, &inc);
	} else {
		kept = keep_name(&tmp, name);
		ret = kept ? parse_text(&tmp, d, kept, text, len, o, &inc) : -1;
	}
	if (ret) {
		script_free(&tmp);
		return -1;
	}
	/* Append: commands and file names move to @s. */
	*s->tail = tmp.head;
	if (tmp.head)
		s->tail = tmp.tail;
	if (tmp.nr_files) {
		char **f = realloc(s->files, (s->nr_files + tmp.nr_files) * sizeof(*f));

		if (!f) {
			/* Keep names alive by leaking into tmp; rare. */
			return -1;
		}
		s->files = f;
		memcpy(s->files + s->nr_files, tmp.files, tmp.nr_files * sizeof(*f));
		s->nr_files += tmp.nr_files;
	}
	free(tmp.files);
	return 0;
}

int script_parse_file(struct script *s, struct diag *d, const char *path,
		      const struct parse_opts *o)
{
	return parse_top(s, d, path, NULL, NULL, 0, o);
}

int script_parse_text(struct script *s, struct diag *d, const char *name, const char *text,
		      size_t len, const struct parse_opts *o)
{
	return parse_top(s, d, NULL, name, text, len, o);
}
