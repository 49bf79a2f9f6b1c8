// SPDX-License-Identifier: BSD-2-Clause
/*
 * Views of a machine: the domain tree, /proc/interrupts-style counters,
 * per-CPU vector usage, per-device interrupt lists, and the end-of-run
 * summary.  Each as text or JSON.  Library state is read through the
 * public API (domain walk, irq info, counters, x86 targets and matrix
 * statistics), hardware state through the simulator's inspection calls.
 */
#include <stdlib.h>
#include <string.h>

#include <irqkit/irqchip.h>

#include "host_port.h"
#include "tool.h"

#define MAX_DOMAINS 256
#define MAX_CHIPS 4

struct dom_info {
	struct ik_irq_domain *d;
	int parent;                 /* index or -1 */
	const char *chips[MAX_CHIPS];
	unsigned int nr_chips;
	struct tool_device *dev;    /* device with this domain's name, if any */
};

struct doms {
	struct dom_info d[MAX_DOMAINS];
	unsigned int n;
};

static int collect_dom(struct ik_irq_domain *d, void *arg)
{
	struct doms *ds = arg;

	if (ds->n < MAX_DOMAINS) {
		memset(&ds->d[ds->n], 0, sizeof(ds->d[0]));
		ds->d[ds->n++].d = d;
	}
	return 0;
}

static int dom_index(struct doms *ds, struct ik_irq_domain *d)
{
	for (unsigned int i = 0; i < ds->n; i++)
		if (ds->d[i].d == d)
			return (int)i;
	return -1;
}

static int collect_chips(unsigned int irq, void *arg)
{
	struct doms *ds = arg;

	for (struct ik_irq_data *d = ik_irq_get_irq_data(irq); d; d = d->parent_data) {
		int i = dom_index(ds, d->domain);
		struct dom_info *di;
		bool seen = false;

		if (i < 0 || !d->chip || !d->chip->name)
			continue;
		di = &ds->d[i];
		for (unsigned int k = 0; k < di->nr_chips; k++)
			if (!strcmp(di->chips[k], d->chip->name))
				seen = true;
		if (!seen && di->nr_chips < MAX_CHIPS)
			di->chips[di->nr_chips++] = d->chip->name;
	}
	return 0;
}

static void gather_domains(struct world *w, struct doms *ds)
{
	ds->n = 0;
	ik_irq_domain_for_each(collect_dom, ds);
	for (unsigned int i = 0; i < ds->n; i++) {
		ds->d[i].parent = dom_index(ds, ik_irq_domain_parent(ds->d[i].d));
		ds->d[i].dev = world_domain_device(w, ds->d[i].d);
	}
	ik_irq_for_each(collect_chips, ds);
}

static void flags_text(uint32_t f, bool root, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s", root ? "root " : "",
		 f & IK_IRQ_DOMAIN_FLAG_MSI_PARENT ? "msi-parent " : "",
		 f & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE ? "msi-device " : "",
		 f & IK_IRQ_DOMAIN_FLAG_MSI_REMAP ? "remap " : "");
	if (buf[0])
		buf[strlen(buf) - 1] = 0;
}

static void tree_text(struct doms *ds, FILE *out, int parent, const char *prefix)
{
	int kids[MAX_DOMAINS];
	unsigned int nk = 0;

	for (unsigned int i = 0; i < ds->n; i++)
		if (ds->d[i].parent == parent)
			kids[nk++] = (int)i;
	for (unsigned int k = 0; k < nk; k++) {
		struct dom_info *di = &ds->d[kids[k]];
		bool last = k + 1 == nk;
		char flags[64], chips[96] = "", next[256];
		char dev[96] = "";

		flags_text(ik_irq_domain_flags(di->d), !ik_irq_domain_parent(di->d), flags,
			   sizeof(flags));
		for (unsigned int c = 0; c < di->nr_chips; c++) {
			strncat(chips, c ? "," : "", sizeof(chips) - strlen(chips) - 1);
			strncat(chips, di->chips[c], sizeof(chips) - strlen(chips) - 1);
		}
		if (di->dev)
			snprintf(dev, sizeof(dev), "  device %s (%s)", di->dev->name,
				 di->dev->kind->name);
		{
			/* Pad by display columns: the box characters are one column each. */
			int cols = (int)strlen(prefix) / 1, pad;

			for (const char *c = prefix; *c; c++)
				if ((*c & 0xC0) == 0x80)
					cols--;
			if (parent >= 0)
				cols += 3;
			pad = 34 - cols - (int)strlen(ik_irq_domain_name(di->d));
			fprintf(out, "%s%s%s%*s chip %-16s %4u irqs  [%s]%s\n", prefix,
				parent < 0 ? "" : last ? "└─ " : "├─ ", ik_irq_domain_name(di->d),
				pad > 0 ? pad : 0, "", chips[0] ? chips : "-",
				ik_irq_domain_mapcount(di->d), flags, dev);
		}
		snprintf(next, sizeof(next), "%s%s", prefix, parent < 0 ? "" : last ? "   " : "│  ");
		tree_text(ds, out, kids[k], next);
	}
}

static void view_tree(struct world *w, FILE *out, bool json)
{
	struct doms *ds = malloc(sizeof(*ds));

	if (!ds)
		return;
	gather_domains(w, ds);
	if (!json) {
		fprintf(out, "Domain hierarchy (root first; chips, interrupts, flags):\n");
		tree_text(ds, out, -1, "  ");
	} else {
		struct jw j;

		jw_init(&j, out, true);
		jw_obj(&j);
		jw_key(&j, "domains");
		jw_arr(&j);
		for (unsigned int i = 0; i < ds->n; i++) {
			struct dom_info *di = &ds->d[i];
			uint32_t f = ik_irq_domain_flags(di->d);

			jw_obj(&j);
			jw_key(&j, "name");
			jw_str(&j, ik_irq_domain_name(di->d));
			jw_key(&j, "parent");
			if (di->parent >= 0)
				jw_str(&j, ik_irq_domain_name(ds->d[di->parent].d));
			else
				jw_null(&j);
			jw_key(&j, "interrupts");
			jw_u64(&j, ik_irq_domain_mapcount(di->d));
			jw_key(&j, "chips");
			jw_arr(&j);
			for (unsigned int c = 0; c < di->nr_chips; c++)
				jw_str(&j, di->chips[c]);
			jw_arr_end(&j);
			jw_key(&j, "flags");
			jw_arr(&j);
			if (!ik_irq_domain_parent(di->d))
				jw_str(&j, "root");
			if (f & IK_IRQ_DOMAIN_FLAG_MSI_PARENT)
				jw_str(&j, "msi-parent");
			if (f & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE)
				jw_str(&j, "msi-device");
			if (f & IK_IRQ_DOMAIN_FLAG_MSI_REMAP)
				jw_str(&j, "remap");
			jw_arr_end(&j);
			jw_key(&j, "device");
			if (di->dev)
				jw_str(&j, di->dev->name);
			else
				jw_null(&j);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
		jw_obj_end(&j);
	}
	free(ds);
}

/* ---- /proc/interrupts ------------------------------------------------------ */

struct irq_list {
	unsigned int irq[8192];
	unsigned int n;
};

static int collect_irq(unsigned int irq, void *arg)
{
	struct irq_list *l = arg;

	if (l->n < sizeof(l->irq) / sizeof(l->irq[0]))
		l->irq[l->n++] = irq;
	return 0;
}

static void irq_domain_hwirq(unsigned int irq, const char **dom, uint64_t *hwirq)
{
	struct ik_irq_data *d = ik_irq_get_irq_data(irq);

	*dom = d && d->domain ? ik_irq_domain_name(d->domain) : "-";
	*hwirq = d ? d->hwirq : 0;
}

static void view_interrupts(struct world *w, FILE *out, bool json)
{
	struct irq_list *l = malloc(sizeof(*l));
	unsigned int nr = sim_nr_cpus(w->m);
	struct jw j;

	if (!l)
		return;
	l->n = 0;
	ik_irq_for_each(collect_irq, l);
	if (!json) {
		fprintf(out, "%5s", "IRQ");
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			fprintf(out, " %8s%-2u", "CPU", cpu);
		fprintf(out, "  %-10s %-14s %5s %-9s %s\n", "chip", "domain", "hwirq", "target",
			"name");
	} else {
		jw_init(&j, out, true);
		jw_obj(&j);
		jw_key(&j, "cpus");
		jw_u64(&j, nr);
		jw_key(&j, "interrupts");
		jw_arr(&j);
	}
	for (unsigned int i = 0; i < l->n; i++) {
		unsigned int irq = l->irq[i], tc = 0, tv = 0;
		struct ik_irq_info info;
		const char *dom;
		uint64_t hwirq;
		bool moving = false, have_t;
		char target[24] = "-";

		if (ik_irq_get_info(irq, &info))
			continue;
		irq_domain_hwirq(irq, &dom, &hwirq);
		have_t = !w->mcfg.plat->irq_target(irq, &tc, &tv, &moving);
		if (have_t)
			snprintf(target, sizeof(target), "%u:0x%02x%s", tc, tv, moving ? "*" : "");
		if (!json) {
			fprintf(out, "%5u", irq);
			for (unsigned int cpu = 0; cpu < nr; cpu++)
				fprintf(out, " %10llu", (unsigned long long)ik_irq_count_cpu(irq, cpu));
			fprintf(out, "  %-10s %-14s %5llu %-9s %s\n",
				info.chip_name ? info.chip_name : "-", dom, (unsigned long long)hwirq,
				target, info.action_name ? info.action_name : "-");
			continue;
		}
		jw_obj(&j);
		jw_key(&j, "irq");
		jw_u64(&j, irq);
		jw_key(&j, "per_cpu");
		jw_arr(&j);
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			jw_u64(&j, ik_irq_count_cpu(irq, cpu));
		jw_arr_end(&j);
		jw_key(&j, "chip");
		jw_str(&j, info.chip_name ? info.chip_name : "");
		jw_key(&j, "domain");
		jw_str(&j, dom);
		jw_key(&j, "hwirq");
		jw_u64(&j, hwirq);
		jw_key(&j, "target_cpu");
		if (have_t)
			jw_u64(&j, tc);
		else
			jw_null(&j);
		jw_key(&j, "vector");
		if (have_t)
			jw_u64(&j, tv);
		else
			jw_null(&j);
		jw_key(&j, "moving");
		jw_bool(&j, moving);
		jw_key(&j, "name");
		if (info.action_name)
			jw_str(&j, info.action_name);
		else
			jw_null(&j);
		jw_obj_end(&j);
	}
	if (!json) {
		struct plat_cpu_stats st;

		fprintf(out, "%5s", "SPU");
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			fprintf(out, " %10llu",
				(unsigned long long)(w->mcfg.plat->cpu_stats(w, cpu, &st) ? 0
											 : st.spurious));
		fprintf(out, "  spurious vectors (no interrupt behind them)\n");
		fprintf(out, "%5s %10llu  messages that reached no CPU\n", "NOD",
			(unsigned long long)sim_stat(w->m, SIM_STAT_MSI_NO_DEST));
	} else {
		struct plat_cpu_stats st;

		jw_arr_end(&j);
		jw_key(&j, "spurious_per_cpu");
		jw_arr(&j);
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			jw_u64(&j, w->mcfg.plat->cpu_stats(w, cpu, &st) ? 0 : st.spurious);
		jw_arr_end(&j);
		jw_key(&j, "messages_to_nobody");
		jw_u64(&j, sim_stat(w->m, SIM_STAT_MSI_NO_DEST));
		jw_obj_end(&j);
	}
	free(l);
}

/* ---- Vectors --------------------------------------------------------------- */

static void view_vectors(struct world *w, FILE *out, bool json)
{
	struct irq_list *l = malloc(sizeof(*l));
	unsigned int nr = sim_nr_cpus(w->m);
	const struct tool_platform *pl = w->mcfg.plat;
	struct jw j;

	if (!l)
		return;
	l->n = 0;
	ik_irq_for_each(collect_irq, l);
	if (json) {
		jw_init(&j, out, true);
		jw_obj(&j);
		jw_key(&j, "platform");
		jw_str(&j, pl->name);
		jw_key(&j, "cpus");
		jw_arr(&j);
	} else {
		fprintf(out, "Vectors per CPU (%s):\n", pl->name);
	}
	for (unsigned int cpu = 0; cpu < nr; cpu++) {
		struct plat_cpu_stats st;

		if (pl->cpu_stats(w, cpu, &st))
			memset(&st, 0, sizeof(st));
		st.online = sim_cpu_is_online(w->m, cpu);
		if (!json) {
			unsigned int col = 0;

			fprintf(out,
				"  cpu%-2u %s %-3u %-7s available %3u allocated %3u managed %u/%u "
				"spurious %llu cleanups %llu (postponed %llu)\n",
				cpu, pl->cpu_id_name, pl->cpu_hw_id(w, cpu),
				st.online ? "online" : "offline", st.available, st.allocated,
				st.managed_allocated, st.managed, (unsigned long long)st.spurious,
				(unsigned long long)st.cleanups,
				(unsigned long long)st.cleanups_postponed);
			for (unsigned int i = 0; i < l->n; i++) {
				unsigned int tc, tv;
				bool moving;
				struct ik_irq_info info;

				if (pl->irq_target(l->irq[i], &tc, &tv, &moving) || tc != cpu)
					continue;
				if (ik_irq_get_info(l->irq[i], &info))
					continue;
				fprintf(out, "%s0x%02x:irq%-4u%s", col % 6 ? "  " : "        ", tv,
					l->irq[i], moving ? "*" : " ");
				if (++col % 6 == 0)
					fputc('\n', out);
			}
			if (col % 6)
				fputc('\n', out);
			continue;
		}
		jw_obj(&j);
		jw_key(&j, "cpu");
		jw_u64(&j, cpu);
		jw_key(&j, pl->cpu_id_name);
		jw_u64(&j, pl->cpu_hw_id(w, cpu));
		jw_key(&j, "online");
		jw_bool(&j, st.online);
		jw_key(&j, "available");
		jw_u64(&j, st.available);
		jw_key(&j, "allocated");
		jw_u64(&j, st.allocated);
		jw_key(&j, "managed");
		jw_u64(&j, st.managed);
		jw_key(&j, "managed_allocated");
		jw_u64(&j, st.managed_allocated);
		jw_key(&j, "spurious");
		jw_u64(&j, st.spurious);
		jw_key(&j, "cleanups");
		jw_u64(&j, st.cleanups);
		jw_key(&j, "cleanups_postponed");
		jw_u64(&j, st.cleanups_postponed);
		jw_key(&j, "vectors");
		jw_arr(&j);
		for (unsigned int i = 0; i < l->n; i++) {
			unsigned int tc, tv;
			bool moving;

			if (pl->irq_target(l->irq[i], &tc, &tv, &moving) || tc != cpu)
				continue;
			jw_obj(&j);
			jw_key(&j, "vector");
			jw_u64(&j, tv);
			jw_key(&j, "irq");
			jw_u64(&j, l->irq[i]);
			jw_key(&j, "moving");
			jw_bool(&j, moving);
			jw_obj_end(&j);
		}
		jw_arr_end(&j);
		jw_obj_end(&j);
	}
	if (json) {
		jw_arr_end(&j);
		jw_key(&j, "reserved_not_activated");
		{
			/* Reservations hold no vector: count interrupts on the placeholder. */
			uint64_t n = 0;

			for (unsigned int i = 0; i < l->n; i++) {
				unsigned int tc, tv;
				bool moving;

				if (pl->irq_target(l->irq[i], &tc, &tv, &moving))
					n++;
			}
			jw_u64(&j, n);
		}
		jw_obj_end(&j);
	}
	free(l);
}

/* ---- Devices -------------------------------------------------------------- */

static void handler_list(const struct tool_line *l, char *buf, size_t size)
{
	static const char *const bn[] = { "handled", "none", "threaded", "count" };
	size_t o = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < l->nh && o < size; i++) {
		int n = snprintf(buf + o, size - o, "%s%s(%s)", i ? "," : "", l->h[i]->name,
				 bn[l->h[i]->b]);

		o += n > 0 ? (size_t)n : 0;
	}
	if (!l->nh)
		snprintf(buf, size, "-");
}

static void view_devices(struct world *w, FILE *out, bool json)
{
	struct jw j;

	if (json) {
		jw_init(&j, out, true);
		jw_obj(&j);
		jw_key(&j, "devices");
		jw_arr(&j);
	}
	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct tool_device *d = w->dev[di];
		char desc[160];

		d->kind->describe(w, d, desc, sizeof(desc));
		if (!json) {
			fprintf(out, "%s: %s %s\n", d->name, d->kind->name, desc);
		} else {
			jw_obj(&j);
			jw_key(&j, "name");
			jw_str(&j, d->name);
			jw_key(&j, "kind");
			jw_str(&j, d->kind->name);
			jw_key(&j, "params");
			jw_str(&j, desc);
			jw_key(&j, "interrupts");
			jw_arr(&j);
		}
		for (unsigned int s = 0; s < d->nr_spaces; s++) {
			bool header = false;

			for (unsigned int i = 0; i < d->sp[s].size; i++) {
				struct tool_line *l = &d->sp[s].lines[i];
				int irq = world_irq_of(w, d, s, i);
				struct hw_state hw = { 0 };
				struct ik_irq_info info = { 0 };
				unsigned int tc = 0, tv = 0;
				bool moving = false, have_t = false, have_i;
				char hl[128], target[24] = "-";

				d->kind->hw(w, d, s, i, &hw);
				if (irq < 0 && !hw.fired && !hw.pending)
					continue;
				have_i = irq >= 0 && !ik_irq_get_info((unsigned int)irq, &info);
				if (irq >= 0)
					have_t = !w->mcfg.plat->irq_target((unsigned int)irq, &tc, &tv,
									   &moving);
				if (have_t)
					snprintf(target, sizeof(target), "%u:0x%02x%s", tc, tv,
						 moving ? "*" : "");
				handler_list(l, hl, sizeof(hl));
				if (!json) {
					char irqs[16] = "-";

					if (!header) {
						fprintf(out,
							"  %-6s %-6s %5s %-9s %-7s %-8s %-9s %8s %8s %9s "
							" %s\n",
							"space", "index", "irq", "target", "state",
							"masked", "pending", "fired", "sent",
							"delivered", "handlers");
						header = true;
					}
					if (irq >= 0)
						snprintf(irqs, sizeof(irqs), "%d", irq);
					fprintf(out,
						"  %-6s %-6u %5s %-9s %-7s %-8s %-9s %8llu %8llu %9llu  "
						"%s\n",
						d->sp[s].name, i, irqs, target,
						!have_i ? "-"
						: info.state & IK_IRQD_DISABLED ? "off"
						: info.state & IK_IRQD_STARTED	 ? "on"
										 : "idle",
						have_i && (info.state & IK_IRQD_MASKED)
							? (hw.masked ? "core+dev" : "core")
						: hw.masked ? "dev"
							    : "no",
						have_i && (info.istate & IK_IRQS_PENDING)
							? (hw.pending ? "core+dev" : "core")
						: hw.pending ? "dev"
							     : "no",
						(unsigned long long)hw.fired, (unsigned long long)hw.sent,
						(unsigned long long)__atomic_load_n(&l->events,
										    __ATOMIC_RELAXED),
						hl);
					continue;
				}
				jw_obj(&j);
				jw_key(&j, "space");
				jw_str(&j, d->sp[s].name);
				jw_key(&j, "mode");
				jw_str(&j, d->kind->mode(w, d, s));
				jw_key(&j, "index");
				jw_u64(&j, i);
				jw_key(&j, "irq");
				if (irq >= 0)
					jw_u64(&j, (uint64_t)irq);
				else
					jw_null(&j);
				jw_key(&j, "target_cpu");
				if (have_t)
					jw_u64(&j, tc);
				else
					jw_null(&j);
				jw_key(&j, "vector");
				if (have_t)
					jw_u64(&j, tv);
				else
					jw_null(&j);
				jw_key(&j, "disabled");
				jw_bool(&j, have_i && (info.state & IK_IRQD_DISABLED));
				jw_key(&j, "started");
				jw_bool(&j, have_i && (info.state & IK_IRQD_STARTED));
				jw_key(&j, "masked");
				jw_bool(&j, have_i && (info.state & IK_IRQD_MASKED));
				jw_key(&j, "device_masked");
				jw_bool(&j, hw.masked);
				jw_key(&j, "pending");
				jw_bool(&j, have_i && (info.istate & IK_IRQS_PENDING));
				jw_key(&j, "device_pending");
				jw_bool(&j, hw.pending);
				jw_key(&j, "depth");
				jw_u64(&j, have_i ? info.depth : 0);
				jw_key(&j, "fired");
				jw_u64(&j, hw.fired);
				jw_key(&j, "sent");
				jw_u64(&j, hw.sent);
				jw_key(&j, "delivered");
				jw_u64(&j, __atomic_load_n(&l->events, __ATOMIC_RELAXED));
				jw_key(&j, "spurious");
				jw_u64(&j, __atomic_load_n(&l->spurious, __ATOMIC_RELAXED));
				jw_key(&j, "handlers");
				jw_arr(&j);
				for (unsigned int k = 0; k < l->nh; k++)
					jw_str(&j, l->h[k]->name);
				jw_arr_end(&j);
				jw_obj_end(&j);
			}
		}
		if (json) {
			jw_arr_end(&j);
			jw_obj_end(&j);
		} else if (d->kind->hw) {
			/* nothing else */
		}
	}
	if (json) {
		jw_arr_end(&j);
		jw_obj_end(&j);
	} else if (!w->nr_devs) {
		fprintf(out, "no devices\n");
	}
}

/* ---- Summary ---------------------------------------------------------------- */

struct dev_sum {
	unsigned int irqs;
	uint64_t fired, sent, delivered, pending, spurious, blocked;
	uint64_t by_cpu[SIM_MAX_CPUS];
};

static void sum_device(struct world *w, struct tool_device *d, struct dev_sum *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int sp = 0; sp < d->nr_spaces; sp++) {
		for (unsigned int i = 0; i < d->sp[sp].size; i++) {
			struct tool_line *l = &d->sp[sp].lines[i];
			int irq = world_irq_of(w, d, sp, i);
			struct hw_state hw = { 0 };
			struct ik_irq_info info;

			d->kind->hw(w, d, sp, i, &hw);
			s->fired += hw.fired;
			s->sent += hw.sent;
			/* Per line: a level line held asserted may send more than it fired. */
			s->blocked += hw.fired > hw.sent ? hw.fired - hw.sent : 0;
			if (irq >= 0)
				s->irqs++;
			if (hw.pending ||
			    (irq >= 0 && !ik_irq_get_info((unsigned int)irq, &info) &&
			     (info.istate & IK_IRQS_PENDING)))
				s->pending++;
			s->delivered += __atomic_load_n(&l->events, __ATOMIC_RELAXED);
			s->spurious += __atomic_load_n(&l->spurious, __ATOMIC_RELAXED);
			for (unsigned int cpu = 0; cpu < sim_nr_cpus(w->m); cpu++)
				s->by_cpu[cpu] += __atomic_load_n(&l->delivered[cpu], __ATOMIC_RELAXED);
		}
	}
}

/*
 * A handler may run more often than its device sent: a CPU going offline or
 * a move in progress replays an interrupt that may have been pending (the
 * library cannot tell, and an extra run is harmless where a lost one is
 * not).  Say so under the table when it happened, rather than leave a
 * reader to suspect a bug.
 */
static void summary_replay_note(struct world *w, FILE *out)
{
	unsigned int n = 0;

	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct dev_sum s;

		sum_device(w, w->dev[di], &s);
		if (s.delivered <= s.sent)
			continue;
		fprintf(out, "%s %s", n++ ? "," : "note: delivered > sent for", w->dev[di]->name);
	}
	if (n)
		fprintf(out, ": an interrupt that may have been pending is replayed after a CPU "
			     "offline or a move (an extra handler run, never a lost one)\n");
}

void view_summary(struct world *w, FILE *out)
{
	unsigned int nr = sim_nr_cpus(w->m);

	fprintf(out, "%-12s %-8s %5s %9s %9s %9s %8s %8s %8s  %s\n", "device", "kind", "irqs",
		"fired", "sent", "delivered", "pending", "spurious", "blocked",
		"delivered by CPU");
	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct tool_device *d = w->dev[di];
		struct dev_sum s;

		sum_device(w, d, &s);
		fprintf(out, "%-12s %-8s %5u %9llu %9llu %9llu %8llu %8llu %8llu ", d->name,
			d->kind->name, s.irqs, (unsigned long long)s.fired,
			(unsigned long long)s.sent, (unsigned long long)s.delivered,
			(unsigned long long)s.pending, (unsigned long long)s.spurious,
			(unsigned long long)s.blocked);
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			fprintf(out, " %llu", (unsigned long long)s.by_cpu[cpu]);
		fputc('\n', out);
	}
	if (!w->nr_devs)
		fprintf(out, "(no devices)\n");
	summary_replay_note(w, out);
	fprintf(out,
		"machine: %u CPUs; %llu messages accepted, %llu reached no CPU, %llu coalesced; "
		"%llu IPIs; %llu stranded by offlining\n",
		nr, (unsigned long long)sim_stat(w->m, SIM_STAT_MSI_ACCEPTED),
		(unsigned long long)sim_stat(w->m, SIM_STAT_MSI_NO_DEST),
		(unsigned long long)sim_stat(w->m, SIM_STAT_MSI_COALESCED),
		(unsigned long long)sim_stat(w->m, SIM_STAT_IPIS_SENT),
		(unsigned long long)sim_stat(w->m, SIM_STAT_OFFLINE_DISCARDED));
	if (w->mcfg.plat->summary_lines)
		w->mcfg.plat->summary_lines(w, out);
}

static void view_summary_json(struct world *w, FILE *out)
{
	unsigned int nr = sim_nr_cpus(w->m);
	struct jw j;

	jw_init(&j, out, true);
	jw_obj(&j);
	jw_key(&j, "devices");
	jw_arr(&j);
	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct tool_device *d = w->dev[di];
		struct dev_sum s;

		sum_device(w, d, &s);
		jw_obj(&j);
		jw_key(&j, "name");
		jw_str(&j, d->name);
		jw_key(&j, "kind");
		jw_str(&j, d->kind->name);
		jw_key(&j, "irqs");
		jw_u64(&j, s.irqs);
		jw_key(&j, "fired");
		jw_u64(&j, s.fired);
		jw_key(&j, "sent");
		jw_u64(&j, s.sent);
		jw_key(&j, "delivered");
		jw_u64(&j, s.delivered);
		jw_key(&j, "pending");
		jw_u64(&j, s.pending);
		jw_key(&j, "spurious");
		jw_u64(&j, s.spurious);
		jw_key(&j, "blocked");
		jw_u64(&j, s.blocked);
		jw_key(&j, "delivered_by_cpu");
		jw_arr(&j);
		for (unsigned int cpu = 0; cpu < nr; cpu++)
			jw_u64(&j, s.by_cpu[cpu]);
		jw_arr_end(&j);
		jw_obj_end(&j);
	}
	jw_arr_end(&j);
	jw_key(&j, "machine");
	jw_obj(&j);
	jw_key(&j, "cpus");
	jw_u64(&j, nr);
	jw_key(&j, "messages_accepted");
	jw_u64(&j, sim_stat(w->m, SIM_STAT_MSI_ACCEPTED));
	jw_key(&j, "messages_to_nobody");
	jw_u64(&j, sim_stat(w->m, SIM_STAT_MSI_NO_DEST));
	jw_key(&j, "coalesced");
	jw_u64(&j, sim_stat(w->m, SIM_STAT_MSI_COALESCED));
	jw_key(&j, "ipis");
	jw_u64(&j, sim_stat(w->m, SIM_STAT_IPIS_SENT));
	jw_key(&j, "offline_discarded");
	jw_u64(&j, sim_stat(w->m, SIM_STAT_OFFLINE_DISCARDED));
	jw_obj_end(&j);
	if (w->mcfg.plat->summary_json)
		w->mcfg.plat->summary_json(w, &j);
	jw_key(&j, "expectations");
	jw_u64(&j, w->expects);
	jw_key(&j, "failed");
	jw_u64(&j, w->expect_failures + w->action_failures);
	jw_obj_end(&j);
}

void view_print(struct world *w, FILE *out, enum view v, bool json)
{
	switch (v) {
	case VIEW_TREE:
		view_tree(w, out, json);
		break;
	case VIEW_INTERRUPTS:
		view_interrupts(w, out, json);
		break;
	case VIEW_VECTORS:
		view_vectors(w, out, json);
		break;
	case VIEW_DEVICES:
		view_devices(w, out, json);
		break;
	case VIEW_SUMMARY:
		if (json)
			view_summary_json(w, out);
		else
			view_summary(w, out);
		break;
	}
	fflush(out);
}
