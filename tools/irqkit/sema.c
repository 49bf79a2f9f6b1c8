// SPDX-License-Identifier: BSD-2-Clause
/*
 * Static checks of commands against the names they introduce: devices,
 * interrupt spaces and their sizes, CPU numbers, and the rule that the
 * machine is configured before it is built.  The same checks run over a
 * whole file before anything executes and again on each line just before
 * it executes (then against the live machine).
 */
#include <string.h>

#include "tool.h"

void symtab_init(struct symtab *st)
{
	memset(st, 0, sizeof(*st));
	st->nr_cpus = 4;
}

bool verb_needs_machine(enum verb v)
{
	switch (v) {
	case V_MACHINE:
	case V_SEED:
	case V_MODE:
	case V_ECHO:
	case V_INCLUDE:
		return false;
	case V_EXPECT:
		return true;
	default:
		return true;
	}
}

static struct sym_dev *find_dev(struct symtab *st, const char *name)
{
	for (unsigned int i = 0; i < st->nr_devs; i++)
		if (!strcmp(st->dev[i].name, name))
			return &st->dev[i];
	return NULL;
}

static void list_devs(const struct symtab *st, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < st->nr_devs && o < size; i++) {
		int n = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", st->dev[i].name);

		o += n > 0 ? (size_t)n : 0;
	}
}

static int check_ref(struct symtab *st, struct diag *d, const struct ref *ref)
{
	struct sym_dev *sd = find_dev(st, ref->dev);
	unsigned int sp = 0;

	if (!sd) {
		char list[256];

		list_devs(st, list, sizeof(list));
		if (st->nr_devs)
			diag_error(d, &ref->loc, "unknown device '%s' (expected one of: %s)", ref->dev,
				   list);
		else
			diag_error(d, &ref->loc,
				   "unknown device '%s' (no device yet: add 'device %s KIND ...' "
				   "first)",
				   ref->dev, ref->dev);
		return -1;
	}
	if (ref->space[0]) {
		for (sp = 0; sp < sd->nr_spaces; sp++)
			if (!strcmp(sd->space[sp], ref->space))
				break;
		if (sp == sd->nr_spaces) {
			char list[256] = "";

			for (unsigned int i = 0; i < sd->nr_spaces; i++) {
				strncat(list, sd->space[i], sizeof(list) - strlen(list) - 1);
				if (i + 1 < sd->nr_spaces)
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
			}
			diag_error(d, &ref->loc,
				   "device '%s' has no interrupt space '%s' (expected one of: %s)",
				   ref->dev, ref->space, list);
			return -1;
		}
	}
	for (unsigned int i = 0; i < ref->nr; i++) {
		if (ref->r[i].hi >= sd->size[sp]) {
			diag_error(d, &ref->spec_loc,
				   "index %u out of range: %s%s%s has indices 0-%u",
				   ref->r[i].hi, ref->dev, ref->space[0] ? ":" : "", ref->space,
				   sd->size[sp] - 1);
			return -1;
		}
	}
	return 0;
}

static int check_cpu(struct symtab *st, struct diag *d, const struct loc *loc, unsigned int cpu)
{
	if (cpu >= st->nr_cpus) {
		diag_error(d, loc, "CPU %u out of range: the machine has CPUs 0-%u", cpu,
			   st->nr_cpus - 1);
		return -1;
	}
	return 0;
}

static int check_cpuset(struct symtab *st, struct diag *d, const struct cpuset *cs)
{
	if (cs->kind == CS_LIST && cs->max_cpu >= st->nr_cpus) {
		diag_error(d, &cs->loc, "CPU %u out of range: the machine has CPUs 0-%u",
			   cs->max_cpu, st->nr_cpus - 1);
		return -1;
	}
	return 0;
}

static const char *verb_word(enum verb v)
{
	static const char *const w[] = {
		[V_MACHINE] = "machine", [V_SEED] = "seed", [V_MODE] = "mode",
		[V_DEVICE] = "device",   [V_REMOVE] = "remove", [V_ALLOCATE] = "allocate",
		[V_FREE] = "free",       [V_REQUEST] = "request", [V_RELEASE] = "release",
		[V_ENABLE] = "enable",   [V_DISABLE] = "disable", [V_MASK] = "mask",
		[V_UNMASK] = "unmask",   [V_AFFINITY] = "affinity", [V_FIRE] = "fire",
		[V_RUN_IDLE] = "run-until-idle", [V_CPU] = "cpu", [V_INJECT] = "inject",
		[V_SHOW] = "show",       [V_ECHO] = "echo", [V_EXPECT] = "expect",
		[V_INCLUDE] = "include", [V_ASSERT] = "assert", [V_DEASSERT] = "deassert",
	};
	return w[v];
}

static bool single_index(const struct ref *r)
{
	return !r->all && r->nr == 1 && r->r[0].lo == r->r[0].hi;
}

/* Check only; no change to @st. */
static int sema_check(struct symtab *st, struct diag *d, const struct cmd *c)
{
	if (!verb_needs_machine(c->verb) && c->verb != V_ECHO && c->verb != V_INCLUDE &&
	    st->built) {
		diag_error(d, &c->loc,
			   "'%s' must come before the first device or action (the machine was "
			   "built at %s:%u)",
			   verb_word(c->verb), st->built_loc.file ? st->built_loc.file : "<input>",
			   st->built_loc.line);
		return -1;
	}
	if (c->verb == V_MACHINE && st->machine_set) {
		diag_error(d, &c->loc, "the machine is already configured (one 'machine' line)");
		return -1;
	}
	if (c->on_given && !c->on_random && !c->on_target &&
	    check_cpu(st, d, &c->on_loc, c->on_cpu))
		return -1;
	if (st->torn_pending &&
	    (c->verb == V_EXPECT || c->verb == V_SHOW || c->verb == V_RUN_IDLE ||
	     (c->verb == V_FIRE && c->u.fire.torn))) {
		diag_error(d, &c->loc,
			   "'%s' cannot follow 'fire ... torn' (line %u): the torn fire waits for "
			   "the next action to rewrite the message; put that action (affinity on "
			   "the interrupt's CPU, cpu N offline, ...) here",
			   verb_word(c->verb), st->torn_line);
		return -1;
	}
	switch (c->verb) {
	case V_DEVICE: {
		if (find_dev(st, c->u.device.name)) {
			diag_error(d, &c->u.device.name_loc, "device '%s' already exists",
				   c->u.device.name);
			return -1;
		}
		if (st->nr_devs >= TOOL_MAX_DEVICES) {
			diag_error(d, &c->u.device.name_loc, "too many devices (at most %d)",
				   TOOL_MAX_DEVICES);
			return -1;
		}
		return 0;
	}
	case V_REMOVE: {
		struct ref r = c->ref;

		r.nr = 0;
		return check_ref(st, d, &r);
	}
	case V_ALLOCATE:
		if (check_ref(st, d, &c->ref))
			return -1;
		if (c->u.alloc.has_aff && check_cpuset(st, d, &c->u.alloc.aff))
			return -1;
		return 0;
	case V_AFFINITY:
		if (check_ref(st, d, &c->ref))
			return -1;
		return check_cpuset(st, d, &c->u.cpus);
	case V_FREE:
	case V_REQUEST:
	case V_RELEASE:
	case V_ENABLE:
	case V_DISABLE:
	case V_MASK:
	case V_UNMASK:
		return check_ref(st, d, &c->ref);
	case V_FIRE: {
		const struct sym_dev *sd;

		if (check_ref(st, d, &c->ref))
			return -1;
		sd = find_dev(st, c->ref.dev);
		if (c->u.fire.torn && c->repeat > 1) {
			diag_error(d, &c->loc, "'fire ... torn' cannot be repeated");
			return -1;
		}
		if (c->u.fire.torn && sd && !sd->kind->msg) {
			diag_error(d, &c->u.fire.torn_loc,
				   "'torn' needs a device whose message registers the library "
				   "rewrites (pci, ims, idxd, ntb, testdev); %s is a %s",
				   c->ref.dev, sd->kind->name);
			return -1;
		}
		return 0;
	}
	case V_ASSERT:
	case V_DEASSERT: {
		const struct sym_dev *sd;

		if (check_ref(st, d, &c->ref))
			return -1;
		sd = find_dev(st, c->ref.dev);
		if (sd && !sd->kind->set_line) {
			diag_error(d, &c->ref.loc,
				   "'%s' drives a level input line (ioapic level pins); %s is a "
				   "%s, which sends messages: use 'fire'",
				   verb_word(c->verb), c->ref.dev, sd->kind->name);
			return -1;
		}
		return 0;
	}
	case V_CPU:
		return check_cpu(st, d, &c->on_loc, c->u.cpu.cpu);
	case V_EXPECT: {
		const struct expect *e = &c->u.expect;

		if (e->subj == S_CPU)
			return check_cpu(st, d, &e->cpu_loc, e->cpu);
		if (e->subj != S_REF)
			return 0;
		if (check_ref(st, d, &e->ref))
			return -1;
		if (e->on_cpu && check_cpu(st, d, &e->cpu_loc, e->cpu))
			return -1;
		if (e->has_cs && check_cpuset(st, d, &e->cs))
			return -1;
		if ((!strcmp(e->prop, "irq") || !strcmp(e->prop, "target-cpu") ||
		     !strcmp(e->prop, "vector")) &&
		    !single_index(&e->ref)) {
			diag_error(d, &e->prop_loc, "'%s' needs a single interrupt, like %s[0]",
				   e->prop, e->ref.dev);
			return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

static void sema_apply(struct symtab *st, const struct cmd *c)
{
	if (verb_needs_machine(c->verb) && !st->built) {
		st->built = true;
		st->built_loc = c->loc;
	}
	if (c->verb == V_FIRE && c->u.fire.torn) {
		st->torn_pending = true;
		st->torn_line = c->loc.line;
	} else if (c->verb != V_ECHO && c->verb != V_INCLUDE) {
		st->torn_pending = false;
	}
	switch (c->verb) {
	case V_MACHINE:
		st->machine_set = true;
		st->nr_cpus = c->u.machine.nr_cpus;
		break;
	case V_DEVICE: {
		struct sym_dev *sd = &st->dev[st->nr_devs++];
		struct space_desc sp[TOOL_MAX_SPACES];

		memset(sd, 0, sizeof(*sd));
		snprintf(sd->name, sizeof(sd->name), "%s", c->u.device.name);
		sd->kind = c->u.device.kind;
		sd->nr_spaces = c->u.device.kind->spaces(c->u.device.params, sp);
		for (unsigned int i = 0; i < sd->nr_spaces; i++) {
			memcpy(sd->space[i], sp[i].name, TOOL_NAME_MAX);
			sd->size[i] = sp[i].size;
		}
		break;
	}
	case V_REMOVE: {
		struct sym_dev *sd = find_dev(st, c->ref.dev);

		if (sd) {
			unsigned int i = (unsigned int)(sd - st->dev);

			memmove(&st->dev[i], &st->dev[i + 1], (st->nr_devs - i - 1) * sizeof(*sd));
			st->nr_devs--;
		}
		break;
	}
	default:
		break;
	}
}

int sema_cmd(struct symtab *st, struct diag *d, const struct cmd *c)
{
	if (sema_check(st, d, c))
		return -1;
	sema_apply(st, c);
	return 0;
}

int sema_check_only(struct symtab *st, struct diag *d, const struct cmd *c)
{
	return sema_check(st, d, c);
}

void sema_apply_only(struct symtab *st, const struct cmd *c)
{
	sema_apply(st, c);
}

int sema_script(struct diag *d, const struct script *s)
{
	struct symtab st;
	int ret = 0;

	symtab_init(&st);
	for (const struct cmd *c = s->head; c; c = c->next) {
		if (sema_check(&st, d, c)) {
			ret = -1;
			/* Keep going to report more, with the names it would introduce. */
			if (c->verb == V_DEVICE || c->verb == V_REMOVE || c->verb == V_MACHINE)
				continue;
		}
		sema_apply(&st, c);
		if (d->max_errors && d->errors >= d->max_errors)
			break;
	}
	return ret;
}
