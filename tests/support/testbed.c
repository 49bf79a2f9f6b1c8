// SPDX-License-Identifier: BSD-2-Clause
/* Test machine and a test driver's per-device domain (see testbed.h). */
#include "testbed.h"

#include <stdio.h>
#include <stdlib.h>

#include <irqkit/drivers/testdev.h>
#include <irqkit/osl.h>

static void die(const char *what, int err)
{
	fprintf(stderr, "testbed: %s failed: %d (%s)\n", what, err, ik_strerror(err));
	abort();
}

/* ---- A pass-through middle level (like the x86-msi shim) ------------------- */

static const struct ik_irq_chip shim_chip = {
	.name = "SHIM",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_mask = ik_irq_chip_mask_parent,
	.irq_unmask = ik_irq_chip_unmask_parent,
	.irq_set_affinity = ik_irq_chip_set_affinity_parent,
};

static int shim_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &shim_chip, NULL);
	return 0;
}

static void shim_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops shim_domain_ops = {
	.alloc = shim_alloc,
	.free = shim_free,
};

/* ---- Machine ------------------------------------------------------------- */

static void online_fn(void *arg)
{
	int ret = ik_x86_cpu_online();

	if (ret)
		die("ik_x86_cpu_online", ret);
}

struct hotplug_call {
	int ret;
};

static void offline_fn(void *arg)
{
	((struct hotplug_call *)arg)->ret = ik_x86_cpu_offline();
}

static void online_call_fn(void *arg)
{
	((struct hotplug_call *)arg)->ret = ik_x86_cpu_online();
}

void testbed_init(struct testbed *tb, const struct testbed_opts *opts)
{
	struct sim_config cfg = { 0 };
	static const uint8_t port_vectors[] = { SIM_VECTOR_CALL_FUNCTION, SIM_VECTOR_SPURIOUS };
	int ret;

	cfg.nr_cpus = opts && opts->nr_cpus ? opts->nr_cpus : 4;
	cfg.seed = opts ? opts->seed : 1;
	cfg.threaded = opts && opts->threaded;
	cfg.interleave_permille = opts ? opts->interleave_permille : 0;
	cfg.ram_size = opts ? opts->ram_size : 0;
	if (opts && opts->apic_ids) {
		cfg.apic_ids_given = true;
		for (unsigned int i = 0; i < cfg.nr_cpus; i++)
			cfg.apic_ids[i] = opts->apic_ids[i];
	}
	tb->nr_cpus = cfg.nr_cpus;
	tb->m = sim_create(&cfg);
	if (!tb->m)
		die("sim_create", -IK_EINVAL);
	sim_port_install(tb->m, ik_x86_common_interrupt);
	tb->dev = sim_testdev_create(tb->m, TB_DEV_BASE, TB_DEV_SLOTS, 0x0100);
	if (!tb->dev)
		die("sim_testdev_create", -IK_ENOMEM);

	tb->alloc_baseline = sim_alloc_outstanding();
	ret = ik_core_init();
	if (ret)
		die("ik_core_init", ret);
	ret = ik_x86_vector_init(port_vectors, 2);
	if (ret)
		die("ik_x86_vector_init", ret);
	for (unsigned int cpu = 0; cpu < cfg.nr_cpus; cpu++)
		sim_run_on_cpu(tb->m, cpu, online_fn, NULL);

	tb->shim = NULL;
	if (opts && opts->with_shim) {
		tb->shim = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(), 0, 0, "SHIM",
							  &shim_domain_ops, NULL);
		if (!tb->shim)
			die("shim domain", -IK_ENOMEM);
	}
	tb->devdom = ik_testdev_domain_create(tb->shim ? tb->shim : ik_x86_vector_domain(),
					      TB_DEV_BASE, TB_DEV_SLOTS, "TESTDEV");
	if (!tb->devdom)
		die("device domain", -IK_ENOMEM);
}

int64_t testbed_fini(struct testbed *tb)
{
	int64_t leaked;
	int ret;

	sim_run_until_idle(tb->m);
	ret = ik_testdev_domain_remove(tb->devdom);
	if (ret)
		die("remove device domain", ret);
	if (tb->shim && (ret = ik_irq_domain_remove(tb->shim)))
		die("remove shim domain", ret);
	ret = ik_x86_vector_exit();
	if (ret)
		die("ik_x86_vector_exit", ret);
	ret = ik_core_exit();
	if (ret)
		die("ik_core_exit", ret);
	leaked = sim_alloc_outstanding() - tb->alloc_baseline;
	if (leaked)
		fprintf(stderr, "testbed: %lld allocations leaked\n", (long long)leaked);
	sim_destroy(tb->m);
	tb->m = NULL;
	return leaked;
}

int testbed_alloc(struct testbed *tb, unsigned int slot, unsigned int nr,
		  const struct ik_irq_affinity_desc *affinity)
{
	return ik_testdev_alloc_irqs(tb->devdom, slot, nr, affinity);
}

void testbed_on_cpu(struct testbed *tb, unsigned int cpu, void (*fn)(void *), void *arg)
{
	sim_run_on_cpu(tb->m, cpu, fn, arg);
}

int testbed_cpu_offline(struct testbed *tb, unsigned int cpu)
{
	struct hotplug_call call = { 0 };

	sim_run_on_cpu(tb->m, cpu, offline_fn, &call);
	if (!call.ret)
		sim_cpu_set_online(tb->m, cpu, false);
	return call.ret;
}

int testbed_cpu_online(struct testbed *tb, unsigned int cpu)
{
	struct hotplug_call call = { 0 };

	sim_cpu_set_online(tb->m, cpu, true);
	sim_run_on_cpu(tb->m, cpu, online_call_fn, &call);
	return call.ret;
}

uint64_t testbed_spurious(struct testbed *tb)
{
	uint64_t sum = 0;

	for (unsigned int cpu = 0; cpu < tb->nr_cpus; cpu++) {
		struct ik_x86_vector_stats st;

		if (!ik_x86_vector_stats(cpu, &st))
			sum += st.spurious;
	}
	return sum;
}

unsigned int testbed_slot_of(struct testbed *tb, unsigned int irq)
{
	struct ik_irq_data *d = ik_irq_domain_get_irq_data(tb->devdom, irq);

	return d ? (unsigned int)d->hwirq : ~0u;
}
