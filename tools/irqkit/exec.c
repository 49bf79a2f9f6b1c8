// SPDX-License-Identifier: BSD-2-Clause
/*
 * Executing scenario commands.
 *
 * Each command is checked completely before it acts (sema_check_only for
 * names, then the state the command needs).  A library call that fails
 * leaves the command undone: commands over several interrupts undo what
 * they did before the failing one.  The error is kept for an "expect
 * error" on the next line; otherwise it fails the run.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/irqchip.h>

#include "host_port.h"
#include "tool.h"

#define E_INPUT 100000 /* bad input found while executing; already reported */

const char *const *tool_stat_names(void);

/* ---- Targets -------------------------------------------------------------- */

struct targets {
	struct tool_device *d;
	unsigned int space;
	unsigned int n;
	uint32_t idx[TOOL_MAX_INDEX];
};

static char detail[160];
/* The library's last log line before the current action, to show a new one with its failure. */
static char log_before[256];
static char log_new[256];

static void log_snapshot(void)
{
	const char *l = sim_port_last_log();

	snprintf(log_before, sizeof(log_before), "%s", l ? l : "");
	log_new[0] = 0;
}

static void log_check(void)
{
	const char *l = sim_port_last_log();

	if (l && strncmp(l, log_before, sizeof(log_before) - 1))
		snprintf(log_new, sizeof(log_new), "%s", l);
	else
		log_new[0] = 0;
}

static void set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

void set_action_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

static int input_error(struct world *w, const struct loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int input_error(struct world *w, const struct loc *loc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	world_progress_clear(w);
	diag_error(w->d, loc, "%s", msg);
	return E_INPUT;
}

/*
 * Resolve @ref.  "All" means every index for allocate and every allocated
 * index otherwise.  Explicit indices must not repeat.
 */
static int resolve(struct world *w, const struct ref *ref, bool every, struct targets *t)
{
	struct tool_device *d = world_find_dev(w, ref->dev);
	int sp;

	if (!d)
		return input_error(w, &ref->loc, "unknown device '%s'", ref->dev);
	sp = world_space_index(d, ref->space);
	if (sp < 0)
		return input_error(w, &ref->loc, "device '%s' has no interrupt space '%s'", ref->dev,
				   ref->space);
	t->d = d;
	t->space = (unsigned int)sp;
	t->n = 0;
	if (ref->all) {
		for (unsigned int i = 0; i < d->sp[sp].size; i++)
			if (every || world_irq_of(w, d, t->space, i) >= 0)
				t->idx[t->n++] = i;
		return 0;
	}
	for (unsigned int r = 0; r < ref->nr; r++) {
		for (uint32_t i = ref->r[r].lo; i <= ref->r[r].hi; i++) {
			if (i >= d->sp[sp].size)
				return input_error(w, &ref->spec_loc, "index %u out of range (0-%u)", i,
						   d->sp[sp].size - 1);
			for (unsigned int k = 0; k < t->n; k++)
				if (t->idx[k] == i)
					return input_error(w, &ref->spec_loc, "index %u named twice",
							   i);
			t->idx[t->n++] = i;
		}
	}
	return 0;
}

static struct tool_line *tline(struct targets *t, unsigned int k)
{
	return &t->d->sp[t->space].lines[t->idx[k]];
}

static void label_of(struct targets *t, unsigned int k, char *buf, size_t size)
{
	world_label(t->d, t->space, t->idx[k], buf, size);
}

/* Every target must have an interrupt; fills irqs[]. */
static int need_irqs(struct world *w, struct targets *t, int *irqs)
{
	if (!t->n) {
		set_detail("%s has no interrupts allocated", t->d->name);
		return -IK_ENOENT;
	}
	for (unsigned int k = 0; k < t->n; k++) {
		irqs[k] = world_irq_of(w, t->d, t->space, t->idx[k]);
		if (irqs[k] < 0) {
			char l[64];

			label_of(t, k, l, sizeof(l));
			set_detail("%s has no interrupt (allocate it first)", l);
			return -IK_ENOENT;
		}
	}
	return 0;
}

static unsigned int pick_cpu(struct world *w, const struct cmd *c, int *err)
{
	unsigned int cpu;

	*err = 0;
	if (!c->on_given)
		return world_first_online(w);
	if (c->on_random) {
		unsigned int n = 0, pick, nr = sim_nr_cpus(w->m);

		for (cpu = 0; cpu < nr; cpu++)
			n += sim_cpu_is_online(w->m, cpu);
		pick = (unsigned int)(sim_rand(w->m) % (n ? n : 1));
		for (cpu = 0; cpu < nr; cpu++)
			if (sim_cpu_is_online(w->m, cpu) && !pick--)
				return cpu;
		return world_first_online(w);
	}
	if (!sim_cpu_is_online(w->m, c->on_cpu)) {
		set_detail("CPU %u is offline and cannot run it", c->on_cpu);
		*err = -IK_ENODEV;
	}
	return c->on_cpu;
}

static void cpuset_to_mask(struct world *w, const struct cpuset *cs, ik_cpumask_t *mask)
{
	unsigned int nr = sim_nr_cpus(w->m);

	ik_cpumask_clear(mask);
	switch (cs->kind) {
	case CS_ALL:
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			ik_cpumask_set_cpu(cpu, mask);
		break;
	case CS_LIST:
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			if (cs->bits & (1ull << cpu))
				ik_cpumask_set_cpu(cpu, mask);
		break;
	case CS_RANDOM: {
		/* One or two random online CPUs. */
		unsigned int online[SIM_MAX_CPUS], n = 0;

		for (unsigned int cpu = 0; cpu < nr; cpu++)
			if (sim_cpu_is_online(w->m, cpu))
				online[n++] = cpu;
		if (!n)
			break;
		ik_cpumask_set_cpu(online[sim_rand(w->m) % n], mask);
		ik_cpumask_set_cpu(online[sim_rand(w->m) % n], mask);
		break;
	}
	}
}

/* ---- Verbs ---------------------------------------------------------------- */

struct alloc_call {
	struct tool_device *d;
	unsigned int space, first, nr;
	const struct ik_irq_affinity_desc *aff;
};

static int alloc_fn(struct world *w, void *arg)
{
	struct alloc_call *a = arg;

	return a->d->kind->alloc(w, a->d, a->space, a->first, a->nr, a->aff);
}

static int do_allocate(struct world *w, struct cmd *c, struct targets *t)
{
	unsigned int runs[TOOL_MAX_INDEX][2], nruns = 0, cpu, done = 0;
	int err;

	cpu = pick_cpu(w, c, &err);
	if (err)
		return err;
	if (!t->n)
		return -IK_EINVAL;
	/* Consecutive runs in the order given. */
	for (unsigned int k = 0; k < t->n; k++) {
		if (nruns && runs[nruns - 1][0] + runs[nruns - 1][1] == t->idx[k])
			runs[nruns - 1][1]++;
		else {
			runs[nruns][0] = t->idx[k];
			runs[nruns][1] = 1;
			nruns++;
		}
	}
	for (unsigned int r = 0; r < nruns; r++) {
		struct ik_irq_affinity_desc *aff = NULL;
		struct alloc_call a = { .d = t->d, .space = t->space, .first = runs[r][0],
					.nr = runs[r][1] };
		int ret;

		if (c->u.alloc.managed || c->u.alloc.has_aff) {
			ik_cpumask_t set;
			unsigned int cpus[SIM_MAX_CPUS], ncpus = 0;

			aff = calloc(a.nr, sizeof(*aff));
			if (!aff) {
				ret = -IK_ENOMEM;
				goto undo;
			}
			if (c->u.alloc.has_aff) {
				cpuset_to_mask(w, &c->u.alloc.aff, &set);
			} else {
				struct cpuset all = { .kind = CS_ALL };

				cpuset_to_mask(w, &all, &set);
			}
			for (unsigned int cc = 0; cc < SIM_MAX_CPUS; cc++)
				if (ik_cpumask_test_cpu(cc, &set))
					cpus[ncpus++] = cc;
			for (unsigned int i = 0; i < a.nr; i++) {
				aff[i].is_managed = c->u.alloc.managed;
				if (c->u.alloc.managed && ncpus) {
					/* Spread: one CPU each, round robin over the set. */
					ik_cpumask_clear(&aff[i].mask);
					ik_cpumask_set_cpu(cpus[i % ncpus], &aff[i].mask);
				} else {
					ik_cpumask_copy(&aff[i].mask, &set);
				}
			}
		}
		a.aff = aff;
		ret = world_call(w, cpu, alloc_fn, &a);
		free(aff);
		if (ret < 0) {
			unsigned int have = a.nr;

			for (unsigned int j = 0; j < a.nr && have == a.nr; j++)
				if (world_irq_of(w, t->d, t->space, a.first + j) >= 0)
					have = j;
			if (have < a.nr)
				set_detail("%s[%u-%u]: %s[%u] already has an interrupt (free it first)",
					   t->d->name, a.first, a.first + a.nr - 1, t->d->name,
					   a.first + have);
			else
				set_detail("%s[%u-%u]", t->d->name, a.first, a.first + a.nr - 1);
			err = ret;
			goto undo;
		}
		for (unsigned int j = 0; j < a.nr; j++)
			t->d->sp[t->space].lines[a.first + j].group = a.first + 1;
		done = r + 1;
		if (w->trace)
			trace_instant(w, t->d, "allocate", "\"first\":%u,\"nr\":%u,\"irq\":%d", a.first,
				      a.nr, ret);
		if (w->verbose && !w->quiet)
			fprintf(w->out, "  %s: indices %u-%u -> irq %d-%d\n", t->d->name, a.first,
				a.first + a.nr - 1, ret, ret + (int)a.nr - 1);
	}
	return 0;
undo:
	while (done-- > 0) {
		world_free_run(w, cpu, t->d, t->space, runs[done][0], runs[done][1]);
		for (unsigned int j = 0; j < runs[done][1]; j++)
			t->d->sp[t->space].lines[runs[done][0] + j].group = 0;
	}
	return err;
}

static int do_free(struct world *w, struct cmd *c, struct targets *t)
{
	int irqs[TOOL_MAX_INDEX], err;
	unsigned int cpu = pick_cpu(w, c, &err), k = 0;

	if (err)
		return err;
	if ((err = need_irqs(w, t, irqs)))
		return err;
	/* The tool frees what was allocated together: runs of consecutive indices. */
	while (k < t->n) {
		unsigned int n = 1;
		int ret;

		while (k + n < t->n && t->idx[k + n] == t->idx[k] + n)
			n++;
		ret = world_free_run(w, cpu, t->d, t->space, t->idx[k], n);
		if (ret) {
			set_detail("%s[%u-%u]%s", t->d->name, t->idx[k], t->idx[k] + n - 1,
				   ret == -IK_EINVAL ? " is not one allocation (free what was "
						       "allocated together)"
						     : ret == -IK_EBUSY ? " still has handlers "
									  "(release them first)"
								       : "");
			return ret;
		}
		for (unsigned int j = 0; j < n; j++)
			tline(t, k + j)->group = 0;
		if (w->trace)
			trace_instant(w, t->d, "free", "\"first\":%u,\"nr\":%u", t->idx[k], n);
		k += n;
	}
	return 0;
}

static struct tool_handler *find_handler(struct tool_line *l, const char *name)
{
	for (unsigned int i = 0; i < l->nh; i++)
		if (!strcmp(l->h[i]->name, name))
			return l->h[i];
	return NULL;
}

static int do_request(struct world *w, struct cmd *c, struct targets *t)
{
	int irqs[TOOL_MAX_INDEX], err;
	unsigned int cpu = pick_cpu(w, c, &err), flags = 0, done;

	if (err)
		return err;
	if ((err = need_irqs(w, t, irqs)))
		return err;
	for (unsigned int k = 0; k < t->n; k++) {
		struct tool_line *l = tline(t, k);
		char lab[64];

		label_of(t, k, lab, sizeof(lab));
		if (l->nh >= TOOL_MAX_SHARED)
			return input_error(w, &c->ref.loc, "%s has %d handlers already (the most)",
					   lab, TOOL_MAX_SHARED);
		if (c->u.request.as[0] && find_handler(l, c->u.request.as))
			return input_error(w, &c->ref.loc, "%s already has a handler named '%s'", lab,
					   c->u.request.as);
	}
	if (c->u.request.shared)
		flags |= IK_IRQF_SHARED;
	if (c->u.request.oneshot)
		flags |= IK_IRQF_ONESHOT;
	if (c->u.request.noautoen)
		flags |= IK_IRQF_NO_AUTOEN;
	for (done = 0; done < t->n; done++) {
		struct tool_line *l = tline(t, done);
		struct tool_handler *h = calloc(1, sizeof(*h));
		int ret;

		if (!h) {
			err = -IK_ENOMEM;
			break;
		}
		h->b = c->u.request.b;
		h->limit = c->u.request.limit;
		if (c->u.request.as[0])
			snprintf(h->name, sizeof(h->name), "%s", c->u.request.as);
		else
			for (unsigned int n = 0;; n++) {
				snprintf(h->name, sizeof(h->name), "h%u", n);
				if (!find_handler(l, h->name))
					break;
			}
		label_of(t, done, h->irqname, sizeof(h->irqname));
		ret = world_request(w, cpu, l, (unsigned int)irqs[done], h, flags);
		if (ret) {
			set_detail("%s (irq %d)", h->irqname, irqs[done]);
			free(h);
			err = ret;
			break;
		}
		if (w->trace)
			trace_instant(w, t->d, "request", "\"index\":%u,\"irq\":%d", t->idx[done],
				      irqs[done]);
	}
	if (!err)
		return 0;
	/* Undo: the handlers this command installed are the last on their lines. */
	while (done-- > 0) {
		struct tool_line *l = tline(t, done);

		world_release(w, cpu, l, (unsigned int)irqs[done], l->h[l->nh - 1]);
	}
	return err;
}

static int do_release(struct world *w, struct cmd *c, struct targets *t)
{
	struct tool_handler *hs[TOOL_MAX_INDEX];
	int irqs[TOOL_MAX_INDEX], err;
	unsigned int cpu = pick_cpu(w, c, &err);

	if (err)
		return err;
	if ((err = need_irqs(w, t, irqs)))
		return err;
	for (unsigned int k = 0; k < t->n; k++) {
		struct tool_line *l = tline(t, k);
		char lab[64];

		label_of(t, k, lab, sizeof(lab));
		if (c->u.as[0]) {
			hs[k] = find_handler(l, c->u.as);
			if (!hs[k]) {
				set_detail("%s has no handler named '%s'", lab, c->u.as);
				return -IK_ENOENT;
			}
		} else if (l->nh == 1) {
			hs[k] = l->h[0];
		} else if (!l->nh) {
			set_detail("%s has no handler", lab);
			return -IK_ENOENT;
		} else {
			char names[TOOL_MAX_SHARED * TOOL_NAME_MAX] = "";

			for (unsigned int i = 0; i < l->nh; i++) {
				strcat(names, l->h[i]->name);
				if (i + 1 < l->nh)
					strcat(names, ", ");
			}
			return input_error(w, &c->ref.loc,
					   "%s has %u handlers (%s): say which with 'as NAME'", lab,
					   l->nh, names);
		}
	}
	for (unsigned int k = 0; k < t->n; k++) {
		int ret = world_release(w, cpu, tline(t, k), (unsigned int)irqs[k], hs[k]);

		if (ret) {
			char lab[64];

			label_of(t, k, lab, sizeof(lab));
			set_detail("%s (irq %d)%s", lab, irqs[k],
				   k ? "; the handlers before it were released" : "");
			return ret;
		}
		if (w->trace)
			trace_instant(w, t->d, "release", "\"index\":%u", t->idx[k]);
	}
	return 0;
}

/* enable/disable/mask/unmask/affinity: one call per interrupt, undo on failure. */
struct line_op {
	enum verb verb;
	unsigned int irq;
	bool nosync;
	ik_cpumask_t mask;
	int ret;
};

static int mask_line(unsigned int irq, bool mask)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	struct ik_irq_data *d;
	ik_irqflags_t flags;
	int ret = 0;

	if (!desc)
		return -IK_ENOENT;
	flags = ik_irq_desc_lock(desc);
	d = ik_irq_desc_get_irq_data(desc);
	if (!d || !d->chip) {
		ret = -IK_ENOENT;
	} else if (mask) {
		if (!d->chip->irq_mask)
			ret = -IK_ENOSYS;
		else if (!ik_irqd_test(d, IK_IRQD_MASKED)) {
			d->chip->irq_mask(d);
			ik_irqd_set(d, IK_IRQD_MASKED);
		}
	} else {
		if (!d->chip->irq_unmask)
			ret = -IK_ENOSYS;
		else if (ik_irqd_test(d, IK_IRQD_MASKED)) {
			d->chip->irq_unmask(d);
			ik_irqd_clear(d, IK_IRQD_MASKED);
		}
	}
	ik_irq_desc_unlock(desc, flags);
	return ret;
}

static int line_op_fn(struct world *w, void *arg)
{
	struct line_op *o = arg;

	switch (o->verb) {
	case V_ENABLE:
		return ik_enable_irq(o->irq);
	case V_DISABLE:
		return o->nosync ? ik_disable_irq_nosync(o->irq) : ik_disable_irq(o->irq);
	case V_MASK:
		return mask_line(o->irq, true);
	case V_UNMASK:
		return mask_line(o->irq, false);
	case V_AFFINITY:
		return ik_irq_set_affinity(o->irq, &o->mask);
	default:
		return -IK_EINVAL;
	}
}

static const char *verb_name(enum verb v)
{
	switch (v) {
	case V_ENABLE: return "enable";
	case V_DISABLE: return "disable";
	case V_MASK: return "mask";
	case V_UNMASK: return "unmask";
	case V_AFFINITY: return "affinity";
	case V_ALLOCATE: return "allocate";
	case V_FREE: return "free";
	case V_REQUEST: return "request";
	case V_RELEASE: return "release";
	case V_FIRE: return "fire";
	case V_ASSERT: return "assert";
	case V_DEASSERT: return "deassert";
	case V_CPU: return "cpu";
	case V_DEVICE: return "device";
	case V_REMOVE: return "remove";
	case V_RUN_IDLE: return "run-until-idle";
	case V_INJECT: return "inject";
	default: return "command";
	}
}

static int do_line_ops(struct world *w, struct cmd *c, struct targets *t)
{
	int irqs[TOOL_MAX_INDEX], err;
	unsigned int cpu = pick_cpu(w, c, &err), done;
	ik_cpumask_t *olds = NULL;

	if (err)
		return err;
	if ((err = need_irqs(w, t, irqs)))
		return err;
	if (c->verb == V_AFFINITY) {
		olds = calloc(t->n, sizeof(*olds));
		if (!olds)
			return -IK_ENOMEM;
		for (unsigned int k = 0; k < t->n; k++) {
			struct ik_irq_data *d = ik_irq_get_irq_data((unsigned int)irqs[k]);

			if (d)
				ik_cpumask_copy(&olds[k], &d->common->affinity);
		}
	}
	for (done = 0; done < t->n; done++) {
		struct line_op o = { .verb = c->verb, .irq = (unsigned int)irqs[done],
				     .nosync = c->verb == V_DISABLE && c->u.nosync };
		int ret;

		if (c->verb == V_AFFINITY)
			cpuset_to_mask(w, &c->u.cpus, &o.mask);
		if (c->on_target) {
			unsigned int tc, tv;
			bool moving;

			/* Where it is delivered now; the first online CPU if nowhere. */
			if (w->mcfg.plat->irq_target(o.irq, &tc, &tv, &moving) ||
			    tc >= sim_nr_cpus(w->m) || !sim_cpu_is_online(w->m, tc))
				tc = world_first_online(w);
			cpu = tc;
		}
		ret = world_call(w, cpu, line_op_fn, &o);
		if (ret < 0) {
			struct ik_irq_info info;
			char lab[64];

			label_of(t, done, lab, sizeof(lab));
			if (c->verb == V_AFFINITY && ret == -IK_EPERM &&
			    !ik_irq_get_info((unsigned int)irqs[done], &info) &&
			    (info.state & IK_IRQD_AFFINITY_MANAGED))
				set_detail("%s (irq %d) is managed: its CPUs were fixed at allocation",
					   lab, irqs[done]);
			else
				set_detail("%s (irq %d)", lab, irqs[done]);
			err = ret;
			break;
		}
		if (w->trace) {
			if (c->verb == V_AFFINITY) {
				char cpus[3 * SIM_MAX_CPUS + 1] = "";
				size_t n = 0;

				for (unsigned int cc = 0; cc < SIM_MAX_CPUS; cc++)
					if (ik_cpumask_test_cpu(cc, &o.mask) && n < sizeof(cpus) - 4)
						n += (size_t)snprintf(cpus + n, sizeof(cpus) - n,
								      "%s%u", n ? "," : "", cc);
				trace_instant(w, t->d, "affinity", "\"index\":%u,\"cpus\":\"%s\"",
					      t->idx[done], cpus);
			} else {
				trace_instant(w, t->d, verb_name(c->verb), "\"index\":%u",
					      t->idx[done]);
			}
		}
	}
	if (err) {
		/* Undo in reverse. */
		while (done-- > 0) {
			struct line_op o = { .irq = (unsigned int)irqs[done] };

			switch (c->verb) {
			case V_ENABLE: o.verb = V_DISABLE; o.nosync = true; break;
			case V_DISABLE: o.verb = V_ENABLE; break;
			case V_MASK: o.verb = V_UNMASK; break;
			case V_UNMASK: o.verb = V_MASK; break;
			case V_AFFINITY:
				o.verb = V_AFFINITY;
				ik_cpumask_copy(&o.mask, &olds[done]);
				break;
			default: break;
			}
			world_call(w, cpu, line_op_fn, &o);
		}
	}
	free(olds);
	return err;
}

/* Lines whose held-asserted storm the device had to end (see world.c). */
static void report_storms(struct world *w)
{
	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct tool_device *d = w->dev[di];

		for (unsigned int s = 0; s < d->nr_spaces; s++) {
			for (unsigned int i = 0; i < d->sp[s].size; i++) {
				struct tool_line *l = &d->sp[s].lines[i];
				char lab[64];

				if (!l->storm_stopped)
					continue;
				l->storm_stopped = false;
				world_label(d, s, i, lab, sizeof(lab));
				world_progress_clear(w);
				fprintf(w->err,
					"%s:%u:%u: error: level storm: %s was held asserted and "
					"its handler claimed %u interrupts in a row; the device "
					"dropped the line (deassert it, or let the handler claim "
					"fewer: 'handler count N', 'none')\n",
					l->held_loc.file, l->held_loc.line, l->held_loc.col, lab,
					TOOL_HELD_STORM_MAX);
				w->action_failures++;
			}
		}
	}
}

static void run_idle(struct world *w)
{
	world_settle(w);
}

void world_settle(struct world *w)
{
	if (!w->built)
		return;
	world_torn_disarm(w);
	sim_run_until_idle(w->m);
	if (world_reap_chains(w))
		w->action_failures++;
	report_storms(w);
}

static int do_fire(struct world *w, struct cmd *c, struct targets *t)
{
	int ret;

	if (!t->n) {
		set_detail("%s has no interrupts allocated to fire", t->d->name);
		return -IK_ENOENT;
	}
	if (c->u.fire.torn) {
		if (w->threaded)
			return input_error(w, &c->u.fire.torn_loc,
					   "'torn' needs mode deterministic (it catches the message "
					   "between two register writes)");
		for (unsigned int k = 0; k < t->n; k++) {
			struct dev_msg m = { 0 };

			if (!t->d->kind->msg(w, t->d, t->space, t->idx[k], &m) || !m.valid) {
				char lab[64];

				label_of(t, k, lab, sizeof(lab));
				set_detail("%s has no message to tear yet (allocate and request it "
					   "first)", lab);
				return -IK_ENOENT;
			}
		}
		if (w->trace)
			trace_instant(w, t->d, "torn armed", "\"interrupts\":%u", t->n);
		/* Armed until the machine next settles: the next action is the rewrite. */
		return world_fire_torn(w, t->d, t->space, t->idx, t->n, &c->loc);
	}
	if (c->u.fire.paced) {
		for (unsigned int k = 0; k < t->n; k++) {
			if (!tline(t, k)->nh) {
				char lab[64];

				label_of(t, k, lab, sizeof(lab));
				return input_error(w, &c->ref.loc,
						   "'paced' waits for the handler, but %s has none "
						   "(request it first)",
						   lab);
			}
		}
	}
	ret = world_fire(w, t->d, t->space, t->idx, t->n, &c->u.fire, &c->loc);
	if (ret)
		return ret;
	if (!c->u.fire.nowait)
		run_idle(w);
	return 0;
}

static int do_line_level(struct world *w, struct cmd *c, struct targets *t)
{
	unsigned int done;
	int ret = 0;

	if (!t->n) {
		set_detail("%s has no interrupts allocated", t->d->name);
		return -IK_ENOENT;
	}
	for (done = 0; done < t->n; done++) {
		detail[0] = 0;
		ret = t->d->kind->set_line(w, t->d, t->space, t->idx[done], c->verb == V_ASSERT);
		if (ret) {
			char lab[64], why[sizeof(detail)];

			label_of(t, done, lab, sizeof(lab));
			snprintf(why, sizeof(why), "%s", detail);
			set_detail("%s%s%s", lab, why[0] ? ": " : "", why);
			break;
		}
		tline(t, done)->held = c->verb == V_ASSERT;
		tline(t, done)->held_claimed = 0;
		tline(t, done)->held_loc = c->loc;
		tline(t, done)->held_left = c->verb == V_ASSERT ? c->u.serve : 0;
		if (w->trace)
			trace_instant(w, t->d, c->verb == V_ASSERT ? "assert" : "deassert",
				      "\"index\":%u", t->idx[done]);
	}
	if (ret) {
		/* Undo in reverse: the lines go back to how they were. */
		while (done-- > 0) {
			t->d->kind->set_line(w, t->d, t->space, t->idx[done], c->verb != V_ASSERT);
			tline(t, done)->held = c->verb != V_ASSERT;
		}
	}
	return ret;
}

static int do_device(struct world *w, struct cmd *c)
{
	struct tool_device *d = world_device_new(w, c->u.device.name, c->u.device.kind,
						 c->u.device.params);
	int ret;

	if (!d)
		return -IK_ENOMEM;
	ret = c->u.device.kind->create(w, d, c->u.device.params);
	if (ret) {
		char why[sizeof(detail)];

		world_device_delete(d);
		snprintf(why, sizeof(why), "%s", detail);
		set_detail("device %s%s%s", c->u.device.name, why[0] ? ": " : "", why);
		return ret;
	}
	w->dev[w->nr_devs++] = d;
	if (w->trace)
		trace_instant(w, d, "device", "\"kind\":\"%s\"", d->kind->name);
	return 0;
}

static int do_remove(struct world *w, struct cmd *c)
{
	struct tool_device *d = world_find_dev(w, c->ref.dev);
	int ret;

	if (!d)
		return input_error(w, &c->ref.loc, "unknown device '%s'", c->ref.dev);
	ret = world_device_teardown(w, d);
	if (ret) {
		set_detail("device %s (its interrupts were freed)", d->name);
		return ret;
	}
	if (w->trace)
		trace_instant(w, d, "remove", "\"kind\":\"%s\"", d->kind->name);
	world_device_bury(w, d);
	return 0;
}

static int do_cpu(struct world *w, struct cmd *c)
{
	unsigned int cpu = c->u.cpu.cpu;
	bool online = sim_cpu_is_online(w->m, cpu);
	int ret;

	if (online == c->u.cpu.online) {
		set_detail("CPU %u is already %s", cpu, online ? "online" : "offline");
		return -IK_EINVAL;
	}
	ret = c->u.cpu.online ? w->mcfg.plat->cpu_online(w, cpu)
			      : w->mcfg.plat->cpu_offline(w, cpu);
	if (ret) {
		set_detail("CPU %u %s", cpu, c->u.cpu.online ? "online" : "offline");
		return ret;
	}
	if (w->trace) {
		trace_instant(w, NULL, c->u.cpu.online ? "cpu online" : "cpu offline", "\"cpu\":%u",
			      cpu);
		trace_cpu_instant(w, cpu, c->u.cpu.online ? "online" : "offline");
	}
	return 0;
}

/* ---- Expectations ----------------------------------------------------------- */

static bool compare(uint64_t a, enum cmp_op op, uint64_t b)
{
	switch (op) {
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	case OP_LT: return a < b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	case OP_GE: return a >= b;
	}
	return false;
}

static const char *op_text(enum cmp_op op)
{
	static const char *const t[] = { "==", "!=", "<", "<=", ">", ">=" };

	return t[op];
}

/* A counter of one index.  Returns false if not defined (no interrupt). */
static bool ref_counter(struct world *w, struct targets *t, unsigned int k, const char *prop,
			bool on_cpu, unsigned int cpu, uint64_t *v)
{
	struct tool_line *l = tline(t, k);
	int irq = world_irq_of(w, t->d, t->space, t->idx[k]);
	struct hw_state hw = { 0 };
	struct ik_irq_info info;
	bool have_info = irq >= 0 && !ik_irq_get_info((unsigned int)irq, &info);

	t->d->kind->hw(w, t->d, t->space, t->idx[k], &hw);
	if (!strcmp(prop, "fired")) {
		*v = hw.fired;
	} else if (!strcmp(prop, "sent")) {
		*v = hw.sent;
	} else if (!strcmp(prop, "blocked")) {
		/* A level line held asserted sends again after each EOI: sent may exceed fired. */
		*v = hw.fired > hw.sent ? hw.fired - hw.sent : 0;
	} else if (!strcmp(prop, "delivered")) {
		*v = on_cpu ? __atomic_load_n(&l->delivered[cpu], __ATOMIC_RELAXED)
			    : __atomic_load_n(&l->events, __ATOMIC_RELAXED);
	} else if (!strcmp(prop, "spurious")) {
		*v = __atomic_load_n(&l->spurious, __ATOMIC_RELAXED);
	} else if (!strcmp(prop, "handled")) {
		*v = __atomic_load_n(&l->events, __ATOMIC_RELAXED) -
		     __atomic_load_n(&l->spurious, __ATOMIC_RELAXED);
	} else if (!strcmp(prop, "threads")) {
		*v = __atomic_load_n(&l->threads, __ATOMIC_RELAXED);
	} else if (!strcmp(prop, "torn")) {
		*v = l->torn;
	} else if (!strcmp(prop, "pending")) {
		*v = hw.pending || (have_info && (info.istate & IK_IRQS_PENDING));
	} else if (!strcmp(prop, "depth")) {
		*v = have_info ? info.depth : 0;
	} else if (!strcmp(prop, "count")) {
		*v = irq < 0 ? 0 : on_cpu ? ik_irq_count_cpu((unsigned int)irq, cpu)
					  : ik_irq_count((unsigned int)irq);
	} else if (!strcmp(prop, "handlers")) {
		*v = l->nh;
	} else if (!strcmp(prop, "irq")) {
		if (irq < 0)
			return false;
		*v = (uint64_t)irq;
	} else if (!strcmp(prop, "target-cpu") || !strcmp(prop, "vector")) {
		unsigned int tc, tv;
		bool moving;

		if (irq < 0 || w->mcfg.plat->irq_target((unsigned int)irq, &tc, &tv, &moving))
			return false;
		*v = prop[0] == 't' ? tc : tv;
	} else {
		return false;
	}
	return true;
}

static bool ref_state(struct world *w, struct targets *t, unsigned int k, const char *st)
{
	int irq = world_irq_of(w, t->d, t->space, t->idx[k]);
	struct hw_state hw = { 0 };
	struct ik_irq_info info;
	bool have = irq >= 0 && !ik_irq_get_info((unsigned int)irq, &info);

	t->d->kind->hw(w, t->d, t->space, t->idx[k], &hw);
	if (!strcmp(st, "allocated"))
		return irq >= 0;
	if (!strcmp(st, "hw-masked"))
		return hw.masked;
	if (!strcmp(st, "hw-pending"))
		return hw.pending;
	if (!strcmp(st, "pending"))
		return hw.pending || (have && (info.istate & IK_IRQS_PENDING));
	if (!have)
		return false;
	if (!strcmp(st, "requested"))
		return info.nr_actions > 0;
	if (!strcmp(st, "enabled"))
		return !(info.state & IK_IRQD_DISABLED);
	if (!strcmp(st, "disabled"))
		return info.state & IK_IRQD_DISABLED;
	if (!strcmp(st, "masked"))
		return info.state & IK_IRQD_MASKED;
	if (!strcmp(st, "started"))
		return info.state & IK_IRQD_STARTED;
	if (!strcmp(st, "activated"))
		return info.state & IK_IRQD_ACTIVATED;
	if (!strcmp(st, "managed"))
		return info.state & IK_IRQD_AFFINITY_MANAGED;
	if (!strcmp(st, "shutdown"))
		return info.state & IK_IRQD_MANAGED_SHUTDOWN;
	if (!strcmp(st, "spurious-disabled"))
		return info.istate & IK_IRQS_SPURIOUS_DISABLED;
	if (!strcmp(st, "moving")) {
		unsigned int tc, tv;
		bool moving = false;

		w->mcfg.plat->irq_target((unsigned int)irq, &tc, &tv, &moving);
		return moving || (info.state & IK_IRQD_SETAFFINITY_PENDING);
	}
	return false;
}

struct dom_find {
	const char *name;
	struct ik_irq_domain *found;
};

static int dom_find_fn(struct ik_irq_domain *d, void *arg)
{
	struct dom_find *f = arg;

	if (!strcmp(ik_irq_domain_name(d), f->name)) {
		f->found = d;
		return 1;
	}
	return 0;
}

static struct ik_irq_domain *find_domain(const char *name)
{
	struct dom_find f = { .name = name };

	ik_irq_domain_for_each(dom_find_fn, &f);
	return f.found;
}

static uint64_t stat_value(struct world *w, const char *name, bool *ok)
{
	static const enum sim_stat map[] = {
		SIM_STAT_MSI_ACCEPTED, SIM_STAT_MSI_NO_DEST, SIM_STAT_MSI_ILLEGAL_VECTOR,
		SIM_STAT_MSI_BAD_FORMAT, SIM_STAT_NO_IDT, SIM_STAT_INTERRUPTS_TAKEN,
		SIM_STAT_IPIS_SENT, SIM_STAT_UNMAPPED_WRITES, SIM_STAT_MSI_COALESCED,
		SIM_STAT_EOIS, SIM_STAT_LEVEL_EOIS, SIM_STAT_EVENTS_RUN, SIM_STAT_NMIS,
		SIM_STAT_OFFLINE_DISCARDED,
	};
	const char *const *names = tool_stat_names();

	*ok = true;
	for (unsigned int i = 0; names[i]; i++) {
		if (strcmp(names[i], name))
			continue;
		if (i < sizeof(map) / sizeof(map[0]))
			return sim_stat(w->m, map[i]);
		if (!strcmp(name, "warnings"))
			return sim_port_warnings();
		if (!strcmp(name, "unhandled-vectors"))
			return sim_port_unhandled();
		/* The rest are the platform's; 0 where it has no such thing. */
		if (w->mcfg.plat->stat) {
			uint64_t v;

			if (!w->mcfg.plat->stat(w, name, &v))
				return v;
		}
		return 0;
	}
	*ok = false;
	return 0;
}

static uint64_t cpu_counter(struct world *w, unsigned int cpu, const char *prop)
{
	struct plat_cpu_stats st;
	uint64_t sum = 0;

	if (!strcmp(prop, "delivered")) {
		for (unsigned int i = 0; i < w->nr_devs; i++) {
			struct tool_device *d = w->dev[i];

			for (unsigned int s = 0; s < d->nr_spaces; s++)
				for (unsigned int k = 0; k < d->sp[s].size; k++)
					sum += __atomic_load_n(&d->sp[s].lines[k].delivered[cpu],
							       __ATOMIC_RELAXED);
		}
		return sum;
	}
	if (w->mcfg.plat->cpu_stats(w, cpu, &st))
		return 0;
	if (!strcmp(prop, "interrupts"))
		return st.taken;
	if (!strcmp(prop, "vectors"))
		return st.allocated + st.managed_allocated;
	if (!strcmp(prop, "available"))
		return st.available;
	if (!strcmp(prop, "managed"))
		return st.managed;
	if (!strcmp(prop, "spurious"))
		return st.spurious;
	return 0;
}

static void expectation_text(const struct cmd *c, char *buf, size_t size)
{
	const struct expect *e = &c->u.expect;
	char ref[96];

	switch (e->subj) {
	case S_REF:
		ref_format(&e->ref, ref, sizeof(ref));
		if (e->is_state)
			snprintf(buf, size, "%s is %s%s", ref, e->negate ? "not " : "", e->prop);
		else if (e->has_cs)
			snprintf(buf, size, "%s %s", ref, e->prop);
		else if (e->rhs_is_prop)
			snprintf(buf, size, "%s %s %s %s", ref, e->prop, op_text(e->op), e->rhs_prop);
		else
			snprintf(buf, size, "%s %s%s %s %llu", ref, e->prop,
				 e->on_cpu ? " on CPU" : "", op_text(e->op),
				 (unsigned long long)e->rhs);
		break;
	case S_CPU:
		if (e->is_state)
			snprintf(buf, size, "cpu %u is %s", e->cpu, e->name);
		else
			snprintf(buf, size, "cpu %u %s %s %llu", e->cpu, e->prop, op_text(e->op),
				 (unsigned long long)e->rhs);
		break;
	case S_DOMAIN:
		snprintf(buf, size, "domain %s %s", e->name, e->prop);
		break;
	case S_STAT:
		snprintf(buf, size, "stat %s %s %llu", e->name, op_text(e->op),
			 (unsigned long long)e->rhs);
		break;
	default:
		snprintf(buf, size, "expect");
	}
}

/* Returns 1 if it holds, 0 if not (why in @why), E_INPUT on bad input. */
static int eval_expect(struct world *w, struct cmd *c, char *why, size_t wsize)
{
	struct expect *e = &c->u.expect;

	why[0] = 0;
	switch (e->subj) {
	case S_REF: {
		struct targets *t = malloc(sizeof(*t));
		int ret = 1;

		if (!t)
			return E_INPUT;
		if (resolve(w, &e->ref, false, t)) {
			free(t);
			return E_INPUT;
		}
		if (e->is_state) {
			if (!t->n) {
				ret = e->negate;
				if (!ret)
					snprintf(why, wsize, "%s has no interrupts allocated",
						 t->d->name);
			}
			for (unsigned int k = 0; k < t->n; k++) {
				if (ref_state(w, t, k, e->prop) == e->negate) {
					char lab[64];

					label_of(t, k, lab, sizeof(lab));
					snprintf(why, wsize, "%s is %s%s", lab, e->negate ? "" : "not ",
						 e->prop);
					ret = 0;
					break;
				}
			}
		} else if (e->has_cs) {
			ik_cpumask_t set;

			cpuset_to_mask(w, &e->cs, &set);
			if (!t->n) {
				snprintf(why, wsize, "%s has no interrupts allocated", e->ref.dev);
				ret = 0;
			}
			for (unsigned int k = 0; k < t->n && ret; k++) {
				int irq = world_irq_of(w, t->d, t->space, t->idx[k]);
				char lab[64];

				label_of(t, k, lab, sizeof(lab));
				if (irq < 0) {
					snprintf(why, wsize, "%s has no interrupt", lab);
					ret = 0;
				} else if (!strcmp(e->prop, "target")) {
					unsigned int tc, tv;
					bool moving;

					if (w->mcfg.plat->irq_target((unsigned int)irq, &tc, &tv,
								     &moving)) {
						snprintf(why, wsize, "%s has no target", lab);
						ret = 0;
					} else if (!ik_cpumask_test_cpu(tc, &set)) {
						snprintf(why, wsize, "%s targets CPU %u", lab, tc);
						ret = 0;
					}
				} else {
					struct ik_irq_data *d = ik_irq_get_irq_data((unsigned int)irq);
					ik_cpumask_t aff;
					bool eq;

					ik_cpumask_clear(&aff);
					if (d)
						for (unsigned int cc = 0; cc < sim_nr_cpus(w->m); cc++)
							if (ik_cpumask_test_cpu(cc, &d->common->affinity))
								ik_cpumask_set_cpu(cc, &aff);
					eq = ik_cpumask_equal(&aff, &set);
					if (eq != (e->op == OP_EQ)) {
						char cpus[3 * SIM_MAX_CPUS + 1] = "";
						size_t n = 0;

						for (unsigned int cc = 0; cc < SIM_MAX_CPUS; cc++)
							if (ik_cpumask_test_cpu(cc, &aff) &&
							    n < sizeof(cpus) - 4)
								n += (size_t)snprintf(cpus + n,
										      sizeof(cpus) - n,
										      "%s%u", n ? "," : "",
										      cc);
						snprintf(why, wsize, "%s affinity is %s", lab,
							 n ? cpus : "empty");
						ret = 0;
					}
				}
			}
		} else {
			uint64_t lhs = 0, rhs = e->rhs;
			bool defined = true;

			for (unsigned int k = 0; k < t->n && defined; k++) {
				uint64_t v;

				defined = ref_counter(w, t, k, e->prop, e->on_cpu, e->cpu, &v);
				lhs += v;
			}
			if (!defined || (!t->n && (!strcmp(e->prop, "irq") ||
						   !strcmp(e->prop, "target-cpu") ||
						   !strcmp(e->prop, "vector")))) {
				snprintf(why, wsize, "%s of %s is not defined (no interrupt)",
					 e->prop, e->ref.dev);
				ret = 0;
			} else {
				if (e->rhs_is_prop) {
					rhs = 0;
					for (unsigned int k = 0; k < t->n && defined; k++) {
						uint64_t v;

						defined = ref_counter(w, t, k, e->rhs_prop, e->on_cpu,
								      e->cpu, &v);
						rhs += v;
					}
				}
				if (!defined) {
					snprintf(why, wsize, "%s is not defined", e->rhs_prop);
					ret = 0;
				} else if (!compare(lhs, e->op, rhs)) {
					if (e->rhs_is_prop)
						snprintf(why, wsize, "%s is %llu, %s is %llu", e->prop,
							 (unsigned long long)lhs, e->rhs_prop,
							 (unsigned long long)rhs);
					else
						snprintf(why, wsize, "%s is %llu", e->prop,
							 (unsigned long long)lhs);
					ret = 0;
				}
			}
		}
		free(t);
		return ret;
	}
	case S_CPU: {
		if (e->cpu >= sim_nr_cpus(w->m))
			return input_error(w, &e->cpu_loc, "no CPU %u", e->cpu);
		if (e->is_state) {
			bool online = sim_cpu_is_online(w->m, e->cpu);

			if (online != !strcmp(e->name, "online")) {
				snprintf(why, wsize, "CPU %u is %s", e->cpu, online ? "online" : "offline");
				return 0;
			}
			return 1;
		} else {
			uint64_t v = cpu_counter(w, e->cpu, e->prop);

			if (!compare(v, e->op, e->rhs)) {
				snprintf(why, wsize, "%s is %llu", e->prop, (unsigned long long)v);
				return 0;
			}
			return 1;
		}
	}
	case S_DOMAIN: {
		struct ik_irq_domain *d = find_domain(e->name);

		if (!strcmp(e->prop, "absent")) {
			if (d) {
				snprintf(why, wsize, "domain %s exists", e->name);
				return 0;
			}
			return 1;
		}
		if (!d) {
			snprintf(why, wsize, "no domain named '%s'", e->name);
			return 0;
		}
		if (!strcmp(e->prop, "exists"))
			return 1;
		if (!strcmp(e->prop, "parent")) {
			struct ik_irq_domain *p = ik_irq_domain_parent(d);
			const char *pn = p ? ik_irq_domain_name(p) : "";

			if (strcmp(pn, e->rhs_prop)) {
				snprintf(why, wsize, "its parent is %s", p ? pn : "none");
				return 0;
			}
			return 1;
		}
		if (!strcmp(e->prop, "mapcount")) {
			uint64_t v = ik_irq_domain_mapcount(d);

			if (!compare(v, e->op, e->rhs)) {
				snprintf(why, wsize, "mapcount is %llu", (unsigned long long)v);
				return 0;
			}
			return 1;
		}
		if (!strcmp(e->prop, "is")) {
			uint32_t f = ik_irq_domain_flags(d);
			bool has;

			if (!strcmp(e->rhs_prop, "msi-parent"))
				has = f & IK_IRQ_DOMAIN_FLAG_MSI_PARENT;
			else if (!strcmp(e->rhs_prop, "msi-device"))
				has = f & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE;
			else if (!strcmp(e->rhs_prop, "remap"))
				has = f & IK_IRQ_DOMAIN_FLAG_MSI_REMAP;
			else
				has = !ik_irq_domain_parent(d);
			if (has == e->negate) {
				snprintf(why, wsize, "domain %s is %s%s", e->name, has ? "" : "not ",
					 e->rhs_prop);
				return 0;
			}
			return 1;
		}
		return E_INPUT;
	}
	case S_STAT: {
		bool ok;
		uint64_t v = stat_value(w, e->name, &ok);

		if (!ok)
			return input_error(w, &e->prop_loc, "unknown statistic '%s'", e->name);
		if (!compare(v, e->op, e->rhs)) {
			snprintf(why, wsize, "%s is %llu", e->name, (unsigned long long)v);
			return 0;
		}
		return 1;
	}
	default:
		return E_INPUT;
	}
}

static void report_failure(struct world *w, const struct cmd *c, const char *why)
{
	char text[256];

	world_progress_clear(w);
	expectation_text(c, text, sizeof(text));
	fprintf(w->err, "%s:%u:%u: expectation failed: %s (%s)\n", c->loc.file, c->loc.line,
		c->loc.col, text, why);
}

static int do_expect_result(struct world *w, struct cmd *c)
{
	const struct expect *e = &c->u.expect;
	char why[256] = "";
	bool ok;

	w->expects++;
	if (!w->have_last) {
		w->expect_failures++;
		report_failure(w, c, "no action before it");
		return 1;
	}
	if (e->subj == S_OK) {
		ok = !w->last_err;
		if (!ok)
			snprintf(why, sizeof(why), "%s failed: %s", w->last_what, err_name(w->last_err));
	} else {
		ok = w->last_err && (e->err < 0 || -w->last_err == e->err);
		if (!w->last_err)
			snprintf(why, sizeof(why), "%s:%u succeeded", w->last_loc.file,
				 w->last_loc.line);
		else if (!ok)
			snprintf(why, sizeof(why), "it failed with %s (%s)", err_name(w->last_err),
				 ik_strerror(w->last_err));
	}
	w->err_pending = false;
	if (!ok) {
		w->expect_failures++;
		report_failure(w, c, why);
		return 1;
	}
	if (w->verbose && !w->quiet)
		fprintf(w->out, "%s:%u: ok\n", c->loc.file, c->loc.line);
	return 0;
}

/* ---- Dispatch ------------------------------------------------------------- */

static int exec_action(struct world *w, struct cmd *c)
{
	struct targets *t = NULL;
	int ret = 0;

	switch (c->verb) {
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
		t = malloc(sizeof(*t));
		if (!t)
			return -IK_ENOMEM;
		ret = resolve(w, &c->ref, c->verb == V_ALLOCATE, t);
		if (ret)
			break;
		switch (c->verb) {
		case V_ALLOCATE: ret = do_allocate(w, c, t); break;
		case V_FREE: ret = do_free(w, c, t); break;
		case V_REQUEST: ret = do_request(w, c, t); break;
		case V_RELEASE: ret = do_release(w, c, t); break;
		case V_FIRE: ret = do_fire(w, c, t); break;
		case V_ASSERT:
		case V_DEASSERT: ret = do_line_level(w, c, t); break;
		default: ret = do_line_ops(w, c, t); break;
		}
		break;
	case V_DEVICE:
		ret = do_device(w, c);
		break;
	case V_REMOVE:
		ret = do_remove(w, c);
		break;
	case V_RUN_IDLE:
		run_idle(w);
		break;
	case V_CPU:
		ret = do_cpu(w, c);
		break;
	case V_INJECT:
		sim_alloc_fail_nth(c->u.inject_nth);
		w->inject_armed = c->u.inject_nth != 0;
		if (w->trace)
			trace_instant(w, NULL, c->u.inject_nth ? "inject alloc-fail" : "inject off",
				      "\"nth\":%llu", (unsigned long long)c->u.inject_nth);
		break;
	default:
		break;
	}
	free(t);
	return ret;
}

static void record_result(struct world *w, struct cmd *c, int ret)
{
	char ref[96] = "";

	w->have_last = true;
	w->last_err = ret;
	w->last_loc = c->loc;
	if (c->verb == V_DEVICE || c->verb == V_REMOVE)
		snprintf(ref, sizeof(ref), " %s", c->verb == V_DEVICE ? c->u.device.name : c->ref.dev);
	else if (c->verb == V_CPU)
		snprintf(ref, sizeof(ref), " %u %s", c->u.cpu.cpu, c->u.cpu.online ? "online" : "offline");
	else if (c->ref.dev[0]) {
		ref[0] = ' ';
		ref_format(&c->ref, ref + 1, sizeof(ref) - 1);
	}
	snprintf(w->last_what, sizeof(w->last_what), "'%s%s'", verb_name(c->verb), ref);
	if (!ret)
		return;
	if (w->shell) {
		fprintf(w->err, "%s:%u:%u: %s failed: %s (%s)%s%s\n", c->loc.file, c->loc.line,
			c->loc.col, w->last_what, err_name(ret), ik_strerror(ret),
			detail[0] ? ": " : "", detail);
		if (log_new[0])
			fprintf(w->err, "  the library said: %s\n", log_new);
		return;
	}
	w->err_pending = true;
}

static void report_unexpected(struct world *w)
{
	world_progress_clear(w);
	fprintf(w->err, "%s:%u:%u: error: %s failed: %s (%s)%s%s\n", w->last_loc.file,
		w->last_loc.line, w->last_loc.col, w->last_what, err_name(w->last_err),
		ik_strerror(w->last_err), detail[0] ? ": " : "", detail);
	if (log_new[0])
		fprintf(w->err, "  the library said: %s\n", log_new);
	fprintf(w->err, "  (if this is what the scenario tests, add 'expect error %s' on the next "
			"line)\n", err_name(w->last_err));
	w->err_pending = false;
	w->action_failures++;
	if (!w->shell)
		w->stop = true;
}

int world_status(struct world *w)
{
	if (w->err_pending)
		report_unexpected(w);
	if (w->bad_input)
		return 2;
	if (w->expect_failures || w->action_failures)
		return 1;
	return 0;
}

int world_exec(struct world *w, struct cmd *c)
{
	int ret = 0;

	if (w->stop)
		return world_status(w);
	w->cur_loc = &c->loc;
	if (c->verb == V_EXPECT && (c->u.expect.subj == S_ERROR || c->u.expect.subj == S_OK))
		return do_expect_result(w, c);
	if (w->err_pending) {
		report_unexpected(w);
		if (w->stop)
			return 1;
	}
	if (sema_check_only(&w->st, w->d, c)) {
		w->bad_input = true;
		if (!w->shell)
			w->stop = true;
		return 2;
	}
	switch (c->verb) {
	case V_MACHINE:
		w->mcfg = c->u.machine;
		sema_apply_only(&w->st, c);
		return 0;
	case V_SEED:
		if (!w->seed_forced)
			w->seed = c->u.seed;
		return 0;
	case V_MODE:
		w->threaded = c->u.mode.threaded;
		w->interleave = c->u.mode.interleave;
		return 0;
	case V_ECHO:
		if (!w->quiet)
			fprintf(w->out, "%s\n", c->u.text);
		return 0;
	default:
		break;
	}
	if (!w->built) {
		if (world_build(w, &c->loc)) {
			w->bad_input = true;
			w->stop = true;
			return 2;
		}
	}
	if (c->verb == V_SHOW) {
		world_settle(w);
		if (!w->quiet) {
			world_progress_clear(w);
			view_print(w, w->out, c->u.show.view, c->u.show.json);
		}
		return 0;
	}
	if (c->verb == V_EXPECT) {
		char why[256];
		int r;

		world_settle(w);
		w->expects++;
		r = eval_expect(w, c, why, sizeof(why));
		if (r == E_INPUT) {
			w->expects--;
			w->bad_input = true;
			if (!w->shell)
				w->stop = true;
			return 2;
		}
		if (!r) {
			w->expect_failures++;
			report_failure(w, c, why);
			return 1;
		} else if (w->verbose && !w->quiet) {
			char text[256];

			expectation_text(c, text, sizeof(text));
			fprintf(w->out, "%s:%u: ok: %s\n", c->loc.file, c->loc.line, text);
		}
		return 0;
	}
	log_snapshot();
	for (uint64_t i = 0; i < c->repeat; i++) {
		detail[0] = 0;
		ret = exec_action(w, c);
		if (ret)
			break;
		if (c->repeat > 1000 && (i & 255) == 0)
			world_progress(w, "repeat", i, c->repeat);
	}
	/* A torn fire waits through the one action after it, no longer. */
	if (w->torns && !(c->verb == V_FIRE && c->u.fire.torn))
		world_torn_disarm(w);
	if (ret == E_INPUT) {
		w->bad_input = true;
		if (!w->shell)
			w->stop = true;
		return 2;
	}
	if (!ret)
		sema_apply_only(&w->st, c);
	if (ret)
		log_check();
	record_result(w, c, ret);
	if (w->verbose && !w->quiet && !ret)
		fprintf(w->out, "%s:%u: %s ok\n", c->loc.file, c->loc.line, w->last_what);
	return ret ? 1 : 0;
}

int world_run_script(struct world *w, const struct script *s)
{
	for (struct cmd *c = s->head; c && !w->stop; c = c->next)
		world_exec(w, c);
	world_settle(w);
	world_progress_clear(w);
	return world_status(w);
}
