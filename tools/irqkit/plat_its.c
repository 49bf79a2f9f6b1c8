// SPDX-License-Identifier: BSD-2-Clause
/*
 * Platform "its": the x86 CPUs and vector domain of platform "x86", plus an
 * ITS-style translation service (sim_its) whose domain "ITS" is the MSI
 * parent of the devices: PCI MSI/MSI-X and IMS messages are doorbell writes
 * of an event id, translated to LPIs that reach each CPU through its
 * notification interrupt (one per CPU, under VECTOR).  Masking is at the
 * destination (the LPI's enable bit), an event while it is disabled stays
 * pending in the service, and a device's event table cannot grow: dynamic
 * MSI-X is refused (ENOTSUPP).  The x86-only kinds (hpet, ioapic) still sit
 * under VECTOR; testdev needs an x86 MSI parent and is refused.
 *
 * Views: an LPI's target is its collection's CPU and its "vector" is the
 * LPI id.  Stats its-translations, its-dropped, its-coalesced; a summary
 * line with the service's counters.
 */
#include <string.h>

#include <irqkit/its.h>
#include <irqkit/matrix.h>
#include <irqkit/x86.h>

#include "host_port.h"
#include "sim_its.h"
#include "tool.h"

/* RAM for the command queue, the LPI table and the event tables. */
#define ITS_RAM_SIZE (4ull << 20)
#define ITS_MEM_PHYS 0x100000ull
#define ITS_MEM_SIZE (2ull << 20)
#define ITS_ID_BITS 16u

struct its_plat {
	struct sim_its *its;
};

static struct its_plat its_plat_state;

static int its_parse_opt(struct pcur *p, struct machine_cfg *cfg)
{
	return plat_x86_parse_apic_ids(p, cfg);
}

static void online_fn(void *arg)
{
	*(int *)arg = ik_x86_cpu_online();
}

static void offline_fn(void *arg)
{
	*(int *)arg = ik_x86_cpu_offline();
}

static void its_cpus_down(struct world *w, unsigned int nr)
{
	int r = 0;

	/* CPU 0 stays: ik_x86_vector_exit() takes it down. */
	while (nr-- > 1)
		sim_run_on_cpu(w->m, nr, offline_fn, &r);
}

static int its_build(struct world *w)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	struct ik_its_config ic = {
		.its_base = SIM_ITS_DEFAULT_BASE,
		.mem_phys = ITS_MEM_PHYS,
		.mem_size = ITS_MEM_SIZE,
		.id_bits = ITS_ID_BITS,
	};
	struct sim_config cfg = { 0 };
	unsigned int cpu;
	int ret;

	cfg.nr_cpus = w->mcfg.nr_cpus;
	cfg.seed = w->seed;
	cfg.threaded = w->threaded;
	cfg.interleave_permille = w->interleave;
	cfg.ram_size = ITS_RAM_SIZE;
	if (w->mcfg.ids_given) {
		cfg.apic_ids_given = true;
		for (unsigned int i = 0; i < cfg.nr_cpus; i++)
			cfg.apic_ids[i] = w->mcfg.ids[i];
	}
	w->m = sim_create(&cfg);
	if (!w->m)
		return -IK_EINVAL;
	sim_port_install(w->m, ik_x86_common_interrupt);
	its_plat_state.its = sim_its_create(w->m, NULL);
	if (!its_plat_state.its) {
		ret = -IK_ENODEV;
		goto fail_sim;
	}
	w->plat_priv = &its_plat_state;
	w->alloc_baseline = sim_alloc_outstanding();
	ret = ik_core_init();
	if (ret)
		goto fail_sim;
	ret = ik_x86_vector_init(port_vectors, 2);
	if (ret)
		goto fail_core;
	for (cpu = 0; cpu < cfg.nr_cpus; cpu++) {
		int r = 0;

		sim_run_on_cpu(w->m, cpu, online_fn, &r);
		if (r) {
			ret = r;
			goto fail_cpus;
		}
	}
	ret = ik_its_init(&ic);
	if (ret)
		goto fail_cpus;
	return 0;
fail_cpus:
	its_cpus_down(w, cpu);
	ik_x86_vector_exit();
fail_core:
	ik_core_exit();
fail_sim:
	sim_destroy(w->m);
	w->m = NULL;
	w->plat_priv = NULL;
	return ret;
}

static int its_teardown(struct world *w)
{
	int ret = ik_its_exit();

	if (ret)
		return ret;
	w->plat_priv = NULL;
	ret = ik_x86_vector_exit();
	if (ret)
		return ret;
	return ik_core_exit();
}

static struct ik_irq_domain *its_msi_parent(struct world *w)
{
	return ik_its_domain();
}

static int its_cpu_offline(struct world *w, unsigned int cpu)
{
	int ret = 0;

	sim_run_on_cpu(w->m, cpu, offline_fn, &ret);
	if (ret)
		return ret;
	sim_cpu_set_online(w->m, cpu, false);
	/* The CPU no longer takes interrupts: move its LPIs, pending state too. */
	return ik_its_cpu_offline(cpu);
}

static int its_cpu_online(struct world *w, unsigned int cpu)
{
	int ret = 0;

	sim_cpu_set_online(w->m, cpu, true);
	sim_run_on_cpu(w->m, cpu, online_fn, &ret);
	if (ret) {
		sim_cpu_set_online(w->m, cpu, false);
		return ret;
	}
	return ik_its_cpu_online(cpu);
}

static int its_irq_target(unsigned int irq, unsigned int *cpu, unsigned int *vector, bool *moving)
{
	struct ik_its_irq_info info;

	if (!ik_its_irq_info(irq, &info)) {
		if (!info.mapped)
			return -IK_ENOENT;
		*cpu = info.cpu;
		*vector = info.lpi;
		*moving = false; /* MOVI + SYNC complete in the call */
		return 0;
	}
	/* Not an LPI (the per-CPU notification interrupts): a plain x86 vector. */
	return plat_x86_irq_target(irq, cpu, vector, moving);
}

static int its_stat(struct world *w, const char *name, uint64_t *v)
{
	struct its_plat *pl = w->plat_priv;
	struct sim_its_stats s;

	if (strcmp(name, "its-translations") && strcmp(name, "its-dropped") &&
	    strcmp(name, "its-coalesced"))
		return -1;
	*v = 0;
	if (!pl)
		return 0;
	sim_its_get_stats(pl->its, &s);
	if (!strcmp(name, "its-translations"))
		*v = s.translations;
	else if (!strcmp(name, "its-coalesced"))
		*v = s.coalesced;
	else
		*v = s.dropped_disabled + s.dropped_unmapped_device + s.dropped_event_range +
		     s.dropped_unmapped_event;
	return 0;
}

static void its_summary(struct world *w, FILE *out)
{
	struct its_plat *pl = w->plat_priv;
	struct ik_its_stats ls;
	struct sim_its_stats s;

	if (!pl)
		return;
	sim_its_get_stats(pl->its, &s);
	fprintf(out,
		"its: %llu translations (%llu coalesced), dropped %llu (disabled %llu, no device "
		"%llu, event range %llu, no event %llu), %llu notifies, %llu commands (%llu errors)",
		(unsigned long long)s.translations, (unsigned long long)s.coalesced,
		(unsigned long long)(s.dropped_disabled + s.dropped_unmapped_device +
				     s.dropped_event_range + s.dropped_unmapped_event),
		(unsigned long long)s.dropped_disabled,
		(unsigned long long)s.dropped_unmapped_device,
		(unsigned long long)s.dropped_event_range,
		(unsigned long long)s.dropped_unmapped_event, (unsigned long long)s.notifies,
		(unsigned long long)s.commands, (unsigned long long)s.cmd_errors);
	if (!ik_its_get_stats(&ls))
		fprintf(out, "; LPIs %u/%u used, %u devices", ls.lpis_used, ls.lpis, ls.devices);
	fputc('\n', out);
}

static void its_summary_json(struct world *w, struct jw *j)
{
	struct its_plat *pl = w->plat_priv;
	struct ik_its_stats ls;
	struct sim_its_stats s;

	if (!pl)
		return;
	sim_its_get_stats(pl->its, &s);
	jw_key(j, "its");
	jw_obj(j);
	jw_key_u64(j, "translations", s.translations);
	jw_key_u64(j, "coalesced", s.coalesced);
	jw_key(j, "dropped");
	jw_u64(j, s.dropped_disabled + s.dropped_unmapped_device + s.dropped_event_range +
		      s.dropped_unmapped_event);
	jw_key_u64(j, "dropped_disabled", s.dropped_disabled);
	jw_key_u64(j, "dropped_no_device", s.dropped_unmapped_device);
	jw_key_u64(j, "dropped_event_range", s.dropped_event_range);
	jw_key_u64(j, "dropped_no_event", s.dropped_unmapped_event);
	jw_key_u64(j, "notifies", s.notifies);
	jw_key_u64(j, "commands", s.commands);
	jw_key_u64(j, "command_errors", s.cmd_errors);
	if (!ik_its_get_stats(&ls)) {
		jw_key_u64(j, "lpis_used", ls.lpis_used);
		jw_key_u64(j, "lpis", ls.lpis);
		jw_key_u64(j, "devices", ls.devices);
	}
	jw_obj_end(j);
}

static const struct tool_platform its_platform = {
	.name = "its",
	.summary = "x86 CPUs with an ITS-style translation service as the MSI parent: LPIs, "
		   "masking at the destination, no dynamic MSI-X",
	.usage = "apic-ids A,B,...",
	.parse_opt = its_parse_opt,
	.build = its_build,
	.teardown = its_teardown,
	.msi_parent = its_msi_parent,
	.cpu_offline = its_cpu_offline,
	.cpu_online = its_cpu_online,
	.irq_target = its_irq_target,
	.cpu_id_name = "apic-id",
	.cpu_hw_id = plat_x86_cpu_hw_id,
	.cpu_stats = plat_x86_cpu_stats,
	.stat = its_stat,
	.summary_lines = its_summary,
	.summary_json = its_summary_json,
};
TOOL_REGISTER_PLATFORM(its_platform)
