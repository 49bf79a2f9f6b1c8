// SPDX-License-Identifier: BSD-2-Clause
/*
 * Platform "x86": CPUs with xAPICs (sparse APIC IDs allowed), the x86
 * vector domain as the root.  With "remapping on", a VT-d-style
 * interrupt-remapping unit (sim_vtd) and the library's IR domain between
 * the vector domain and the device domains; the MSI parent of devices is
 * then the IR domain, and the unit's fault interrupt (DMAR-dmar0, under
 * VECTOR) records what remapping blocks: stats dmar-interrupts and
 * dmar-faults, and a summary line.
 */
#include <string.h>

#include <irqkit/matrix.h>
#include <irqkit/x86.h>
#include <irqkit/x86_dmar.h>
#include <irqkit/x86_ir.h>

#include "host_port.h"
#include "sim_vtd.h"
#include "tool.h"

/* Remapping: RAM for the unit's table and queue, and its size. */
#define IR_RAM_SIZE (4ull << 20)
#define IR_MEM_PHYS 0x100000ull
#define IR_ENTRIES 4096u

/*
 * "apic-ids N, N, ...": the CPUs' local APIC IDs (both platforms use the
 * x86 local APIC).  Return: 1 if consumed, 0 if not this option, -1 on error.
 */
int plat_x86_parse_apic_ids(struct pcur *p, struct machine_cfg *cfg)
{
	if (p_accept(p, "apic-ids")) {
		if (cfg->ids_given)
			return p_error_at(p, &p->tl->tok[p->i - 1], "'apic-ids' given twice");
		cfg->ids_given = true;
		cfg->nr_ids = 0;
		for (;;) {
			uint64_t id;

			if (cfg->nr_ids >= SIM_MAX_CPUS)
				return p_error_at(p, p_peek(p), "too many APIC IDs (at most %d)",
						  SIM_MAX_CPUS);
			if (p_number(p, "an APIC ID (0..254)", 0, 254, &id))
				return -1;
			for (unsigned int i = 0; i < cfg->nr_ids; i++)
				if (cfg->ids[i] == id)
					return p_error_at(p, &p->tl->tok[p->i - 1],
							  "APIC ID %llu given twice",
							  (unsigned long long)id);
			cfg->ids[cfg->nr_ids++] = (uint32_t)id;
			if (!p_accept_type(p, T_COMMA))
				break;
		}
		return 1;
	}
	return 0;
}

static int x86_parse_opt(struct pcur *p, struct machine_cfg *cfg)
{
	int ret = plat_x86_parse_apic_ids(p, cfg);

	if (ret)
		return ret;
	if (p_accept(p, "remapping")) {
		if (p_accept(p, "off")) {
			cfg->remapping = false;
			return 1;
		}
		if (p_accept(p, "on")) {
			cfg->remapping = true;
			return 1;
		}
		return p_expected(p, "'on' or 'off'");
	}
	if (p_accept(p, "msi-update")) {
		/* The library's test switch: show what the two-step protocol prevents. */
		if (p_accept(p, "naive")) {
			cfg->msi_naive = true;
			return 1;
		}
		if (p_accept(p, "two-step")) {
			cfg->msi_naive = false;
			return 1;
		}
		return p_expected(p, "'two-step' or 'naive'");
	}
	return 0;
}

static void online_fn(void *arg)
{
	*(int *)arg = ik_x86_cpu_online();
}

static void offline_fn(void *arg)
{
	*(int *)arg = ik_x86_cpu_offline();
}

static int x86_build(struct world *w)
{
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	struct sim_config cfg = { 0 };
	int ret;

	cfg.nr_cpus = w->mcfg.nr_cpus;
	cfg.seed = w->seed;
	cfg.threaded = w->threaded;
	cfg.interleave_permille = w->interleave;
	if (w->mcfg.remapping)
		cfg.ram_size = IR_RAM_SIZE;
	if (w->mcfg.ids_given) {
		cfg.apic_ids_given = true;
		for (unsigned int i = 0; i < cfg.nr_cpus; i++)
			cfg.apic_ids[i] = w->mcfg.ids[i];
	}
	w->m = sim_create(&cfg);
	if (!w->m)
		return -IK_EINVAL;
	sim_port_install(w->m, ik_x86_common_interrupt);
	if (w->mcfg.remapping && !sim_vtd_create(w->m, &(struct sim_vtd_config){ 0 })) {
		ret = -IK_ENODEV;
		goto fail_sim;
	}
	w->alloc_baseline = sim_alloc_outstanding();
	ret = ik_core_init();
	if (ret)
		goto fail_sim;
	ret = ik_x86_vector_init(port_vectors, 2);
	if (ret)
		goto fail_core;
	/* After the vector domain's init, which resets the switch. */
	ik_x86_msi_set_naive_update(w->mcfg.msi_naive);
	for (unsigned int cpu = 0; cpu < cfg.nr_cpus; cpu++) {
		int r = 0;

		sim_run_on_cpu(w->m, cpu, online_fn, &r);
		if (r) {
			ret = r;
			/* Offline the ones we brought up, then undo the rest. */
			while (cpu-- > 1)
				sim_run_on_cpu(w->m, cpu, offline_fn, &r);
			ik_x86_vector_exit();
			goto fail_core;
		}
	}
	if (w->mcfg.remapping) {
		struct ik_x86_ir_config ir = {
			.unit_base = SIM_VTD_DEFAULT_BASE,
			.mem_phys = IR_MEM_PHYS,
			.mem_size = IK_X86_IR_MEM_SIZE(IR_ENTRIES),
			.nr_entries = IR_ENTRIES,
		};

		struct ik_x86_dmar_config dc = { .unit_base = SIM_VTD_DEFAULT_BASE };
		struct ik_x86_dmar *dmar = NULL;

		ret = ik_x86_ir_init(&ir);
		if (!ret) {
			ret = ik_x86_dmar_fault_init(&dc, &dmar);
			if (ret)
				ik_x86_ir_exit();
		}
		if (ret) {
			int r = 0;

			for (unsigned int cpu = cfg.nr_cpus; cpu-- > 1;)
				sim_run_on_cpu(w->m, cpu, offline_fn, &r);
			ik_x86_vector_exit();
			goto fail_core;
		}
		w->plat_priv = dmar;
	}
	return 0;
fail_core:
	ik_core_exit();
fail_sim:
	sim_destroy(w->m);
	w->m = NULL;
	return ret;
}

static int x86_teardown(struct world *w)
{
	int ret;

	if (w->plat_priv) {
		ik_x86_dmar_fault_exit(w->plat_priv);
		w->plat_priv = NULL;
	}
	ret = ik_x86_ir_exit();

	if (ret)
		return ret;
	ret = ik_x86_vector_exit();

	if (ret)
		return ret;
	return ik_core_exit();
}

static struct ik_irq_domain *x86_msi_parent(struct world *w)
{
	return ik_x86_default_msi_parent();
}

static int x86_cpu_offline(struct world *w, unsigned int cpu)
{
	int ret = 0;

	sim_run_on_cpu(w->m, cpu, offline_fn, &ret);
	if (!ret)
		sim_cpu_set_online(w->m, cpu, false);
	return ret;
}

static int x86_cpu_online(struct world *w, unsigned int cpu)
{
	int ret = 0;

	sim_cpu_set_online(w->m, cpu, true);
	sim_run_on_cpu(w->m, cpu, online_fn, &ret);
	if (ret)
		sim_cpu_set_online(w->m, cpu, false);
	return ret;
}

int plat_x86_irq_target(unsigned int irq, unsigned int *cpu, unsigned int *vector, bool *moving)
{
	struct ik_x86_irq_target t;
	int ret = ik_x86_irq_target(irq, &t);

	if (ret)
		return ret;
	/* Reserved, not activated: it points at the placeholder, not a CPU. */
	if (t.has_reserved || t.vector == IK_X86_SHUTDOWN_VECTOR)
		return -IK_ENOENT;
	*cpu = t.cpu;
	*vector = t.vector;
	*moving = t.move_in_progress;
	return 0;
}

uint32_t plat_x86_cpu_hw_id(struct world *w, unsigned int cpu)
{
	return sim_cpu_apic_id(w->m, cpu);
}

int plat_x86_cpu_stats(struct world *w, unsigned int cpu, struct plat_cpu_stats *st)
{
	struct ik_irq_matrix_cpu_stats ms;
	struct ik_x86_vector_stats vs;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = ik_x86_matrix_cpu_stats(cpu, &ms);
	if (ret)
		return ret;
	ret = ik_x86_vector_stats(cpu, &vs);
	if (ret)
		return ret;
	st->online = sim_cpu_is_online(w->m, cpu);
	st->available = ms.available;
	st->allocated = ms.allocated;
	st->managed = ms.managed;
	st->managed_allocated = ms.managed_allocated;
	st->spurious = vs.spurious;
	st->cleanups = vs.cleanups;
	st->cleanups_postponed = vs.cleanups_postponed;
	for (unsigned int v = 0; v < IK_X86_NR_VECTORS; v++)
		st->taken += sim_cpu_vector_count(w->m, cpu, v);
	return 0;
}

static int x86_stat(struct world *w, const char *name, uint64_t *v)
{
	struct ik_x86_dmar_stats st;
	struct ik_x86_msi_stats ms;

	/* The non-remapped MSI update protocol (docs/x86-msi-affinity.md). */
	if (!strncmp(name, "msi-", 4)) {
		ik_x86_msi_get_stats(&ms);
		if (!strcmp(name, "msi-two-step"))
			*v = ms.two_step;
		else if (!strcmp(name, "msi-raced"))
			*v = ms.raced;
		else if (!strcmp(name, "msi-deferred"))
			*v = ms.deferred;
		else if (!strcmp(name, "msi-naive"))
			*v = ms.naive;
		else
			return -1;
		return 0;
	}
	if (strcmp(name, "dmar-interrupts") && strcmp(name, "dmar-faults"))
		return -1;
	*v = 0;
	if (w->plat_priv && !ik_x86_dmar_get_stats(w->plat_priv, &st))
		*v = !strcmp(name, "dmar-faults") ? st.faults : st.interrupts;
	return 0;
}

static void x86_summary(struct world *w, FILE *out)
{
	struct ik_x86_dmar_fault f[4];
	struct ik_x86_dmar_stats st;
	uint64_t n;
	unsigned int shown;

	if (!w->plat_priv || ik_x86_dmar_get_stats(w->plat_priv, &st))
		return;
	fprintf(out, "dmar: fault irq %u; %llu interrupts, %llu faults, %llu overflows",
		ik_x86_dmar_fault_irq(w->plat_priv), (unsigned long long)st.interrupts,
		(unsigned long long)st.faults, (unsigned long long)st.overflows);
	n = ik_x86_dmar_fault_log(w->plat_priv, f, 4);
	shown = n < 4 ? (unsigned int)n : 4;
	if (shown)
		fprintf(out, "; last:");
	for (unsigned int i = 0; i < shown; i++)
		fprintf(out, " reason 0x%02x sid %02x:%02x.%x index %u%s", f[i].reason,
			f[i].source_id >> 8, (f[i].source_id >> 3) & 0x1F, f[i].source_id & 7,
			f[i].index, i + 1 < shown ? "," : "");
	fputc('\n', out);
}

static void x86_summary_json(struct world *w, struct jw *j)
{
	struct ik_x86_dmar_fault f[4];
	struct ik_x86_dmar_stats st;
	uint64_t n;

	if (!w->plat_priv || ik_x86_dmar_get_stats(w->plat_priv, &st))
		return;
	jw_key(j, "dmar");
	jw_obj(j);
	jw_key_u64(j, "fault_irq", ik_x86_dmar_fault_irq(w->plat_priv));
	jw_key_u64(j, "interrupts", st.interrupts);
	jw_key_u64(j, "faults", st.faults);
	jw_key_u64(j, "overflows", st.overflows);
	jw_key(j, "last_faults");
	jw_arr(j);
	n = ik_x86_dmar_fault_log(w->plat_priv, f, 4);
	for (unsigned int i = 0; i < n && i < 4; i++) {
		char sid[16];

		snprintf(sid, sizeof(sid), "%02x:%02x.%x", f[i].source_id >> 8,
			 (f[i].source_id >> 3) & 0x1F, f[i].source_id & 7);
		jw_obj(j);
		jw_key_u64(j, "reason", f[i].reason);
		jw_key(j, "source_id");
		jw_str(j, sid);
		jw_key_u64(j, "index", f[i].index);
		jw_obj_end(j);
	}
	jw_arr_end(j);
	jw_obj_end(j);
}

static const struct tool_platform x86_platform = {
	.name = "x86",
	.summary = "x86 with xAPICs; the vector domain is the root; remapping on adds a VT-d-style "
		   "unit and the IR domain as the MSI parent",
	.usage = "apic-ids A,B,..., remapping on|off, msi-update two-step|naive",
	.parse_opt = x86_parse_opt,
	.build = x86_build,
	.teardown = x86_teardown,
	.msi_parent = x86_msi_parent,
	.cpu_offline = x86_cpu_offline,
	.cpu_online = x86_cpu_online,
	.irq_target = plat_x86_irq_target,
	.cpu_id_name = "apic-id",
	.cpu_hw_id = plat_x86_cpu_hw_id,
	.cpu_stats = plat_x86_cpu_stats,
	.stat = x86_stat,
	.summary_lines = x86_summary,
	.summary_json = x86_summary_json,
};
TOOL_REGISTER_PLATFORM(x86_platform)
