// SPDX-License-Identifier: BSD-2-Clause
/*
 * Graphviz DOT of the hierarchy: CPUs at the top, the root domain under
 * them, per-device domains below, devices at the bottom.  Edges go from a
 * child to its parent; the root's edges to the CPUs carry the number of
 * interrupts each CPU currently receives.
 */
#include <string.h>

#include <irqkit/irqchip.h>

#include "tool.h"

#define MAX_DOMAINS 256

struct dot_doms {
	struct ik_irq_domain *d[MAX_DOMAINS];
	unsigned int n;
};

static int collect(struct ik_irq_domain *d, void *arg)
{
	struct dot_doms *ds = arg;

	if (ds->n < MAX_DOMAINS)
		ds->d[ds->n++] = d;
	return 0;
}

static int index_of(const struct dot_doms *ds, const struct ik_irq_domain *d)
{
	for (unsigned int i = 0; i < ds->n; i++)
		if (ds->d[i] == d)
			return (int)i;
	return -1;
}

struct per_cpu {
	struct world *w;
	unsigned int count[SIM_MAX_CPUS];
	const char *chip[MAX_DOMAINS];
	const struct dot_doms *ds;
};

static int count_irq(unsigned int irq, void *arg)
{
	struct per_cpu *pc = arg;
	unsigned int cpu, vec;
	bool moving;

	if (!pc->w->mcfg.plat->irq_target(irq, &cpu, &vec, &moving) && cpu < SIM_MAX_CPUS)
		pc->count[cpu]++;
	for (struct ik_irq_data *d = ik_irq_get_irq_data(irq); d; d = d->parent_data) {
		int i = index_of(pc->ds, d->domain);

		if (i >= 0 && !pc->chip[i] && d->chip)
			pc->chip[i] = d->chip->name;
	}
	return 0;
}

/* DOT string: escape quotes and backslashes. */
static void dot_str(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
}

int dot_write(struct world *w, FILE *out)
{
	static struct dot_doms ds;
	static struct per_cpu pc;
	unsigned int nr = sim_nr_cpus(w->m);

	memset(&ds, 0, sizeof(ds));
	memset(&pc, 0, sizeof(pc));
	ik_irq_domain_for_each(collect, &ds);
	pc.w = w;
	pc.ds = &ds;
	ik_irq_for_each(count_irq, &pc);

	fprintf(out, "digraph irqkit {\n"
		     "  rankdir=BT;\n"
		     "  node [fontname=\"Helvetica\", fontsize=11];\n"
		     "  edge [fontname=\"Helvetica\", fontsize=9];\n"
		     "  labelloc=t; label=\"irqkit: interrupt domain hierarchy (%s, %u CPUs)\";\n",
		w->mcfg.plat->name, nr);
	fprintf(out, "  subgraph cluster_cpus {\n    label=\"CPUs\"; style=dashed;\n");
	for (unsigned int cpu = 0; cpu < nr; cpu++)
		fprintf(out,
			"    cpu%u [shape=box3d, label=\"cpu%u\\n%s %u\\n%s\", style=filled, "
			"fillcolor=\"%s\"];\n",
			cpu, cpu, w->mcfg.plat->cpu_id_name, w->mcfg.plat->cpu_hw_id(w, cpu),
			sim_cpu_is_online(w->m, cpu) ? "online" : "offline",
			sim_cpu_is_online(w->m, cpu) ? "#d8ecd8" : "#eeeeee");
	fprintf(out, "  }\n");
	for (unsigned int i = 0; i < ds.n; i++) {
		uint32_t f = ik_irq_domain_flags(ds.d[i]);
		bool root = !ik_irq_domain_parent(ds.d[i]);

		fprintf(out, "  dom%u [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", label=\"",
			i, root ? "#cfe0f3" : "#fdf1d0");
		dot_str(out, ik_irq_domain_name(ds.d[i]));
		fprintf(out, "\\nchip ");
		dot_str(out, pc.chip[i] ? pc.chip[i] : "-");
		fprintf(out, "\\n%u interrupt%s%s%s%s%s\"];\n", ik_irq_domain_mapcount(ds.d[i]),
			ik_irq_domain_mapcount(ds.d[i]) == 1 ? "" : "s", root ? "\\nroot" : "",
			f & IK_IRQ_DOMAIN_FLAG_MSI_PARENT ? "\\nmsi-parent" : "",
			f & IK_IRQ_DOMAIN_FLAG_MSI_DEVICE ? "\\nmsi-device" : "",
			f & IK_IRQ_DOMAIN_FLAG_MSI_REMAP ? "\\nremap" : "");
		if (root) {
			for (unsigned int cpu = 0; cpu < nr; cpu++)
				fprintf(out, "  dom%u -> cpu%u [label=\"%u\", color=\"#5577aa\"];\n", i,
					cpu, pc.count[cpu]);
		} else {
			int p = index_of(&ds, ik_irq_domain_parent(ds.d[i]));

			if (p >= 0)
				fprintf(out, "  dom%u -> dom%d;\n", i, p);
		}
	}
	for (unsigned int di = 0; di < w->nr_devs; di++) {
		struct tool_device *d = w->dev[di];
		char desc[160];

		d->kind->describe(w, d, desc, sizeof(desc));
		fprintf(out, "  dev%u [shape=component, style=filled, fillcolor=\"#e6e6e6\", label=\"",
			di);
		dot_str(out, d->name);
		fprintf(out, "\\n");
		dot_str(out, d->kind->name);
		fprintf(out, "\\n");
		dot_str(out, desc);
		fprintf(out, "\"];\n");
		for (unsigned int i = 0; i < ds.n; i++)
			if (world_domain_device(w, ds.d[i]) == d)
				fprintf(out, "  dev%u -> dom%u [style=dashed, arrowhead=none];\n", di, i);
	}
	fprintf(out, "}\n");
	return ferror(out) ? -1 : 0;
}
