// SPDX-License-Identifier: BSD-2-Clause
/* Support for the IMS, IDXD and NTB tests (see imsbed.h). */
#include "imsbed.h"

#include <stdlib.h>
#include <string.h>

#include <irqkit/osl.h>

ik_irqreturn_t ib_handler(unsigned int irq, void *dev_id)
{
	struct ib_line *l = dev_id;
	unsigned int cpu = ik_os_cpu_id();

	/* A driver reads its device's event count; the model's counter plays that role. */
	__atomic_store_n(&l->seen, l->fired(l->ctx), __ATOMIC_RELAXED);
	__atomic_add_fetch(&l->runs, 1, __ATOMIC_RELAXED);
	l->last_cpu = cpu;
	if (cpu < SIM_MAX_CPUS)
		__atomic_add_fetch(&l->per_cpu[cpu], 1, __ATOMIC_RELAXED);
	return IK_IRQ_HANDLED;
}

struct ib_call {
	struct ib_line *l;
	unsigned int irq;
	const ik_cpumask_t *mask;
	int op;
	int ret;
};

enum { IB_REQUEST, IB_FREE, IB_AFFINITY, IB_DISABLE, IB_ENABLE };

static void call_fn(void *arg)
{
	struct ib_call *c = arg;

	switch (c->op) {
	case IB_REQUEST:
		c->ret = ik_request_irq(c->l->irq, ib_handler, 0, "imsbed", c->l);
		break;
	case IB_FREE:
		c->ret = ik_free_irq(c->l->irq, c->l);
		break;
	case IB_AFFINITY:
		c->ret = ik_irq_set_affinity(c->irq, c->mask);
		break;
	case IB_DISABLE:
		c->ret = ik_disable_irq(c->irq);
		break;
	case IB_ENABLE:
		c->ret = ik_enable_irq(c->irq);
		break;
	}
}

static int run_call(struct sim_machine *m, unsigned int cpu, struct ib_call *c)
{
	sim_run_on_cpu(m, cpu, call_fn, c);
	return c->ret;
}

int ib_request_on(struct sim_machine *m, unsigned int cpu, struct ib_line *l)
{
	struct ib_call c = { .l = l, .op = IB_REQUEST };

	return run_call(m, cpu, &c);
}

int ib_free_on(struct sim_machine *m, unsigned int cpu, struct ib_line *l)
{
	struct ib_call c = { .l = l, .op = IB_FREE };

	return run_call(m, cpu, &c);
}

int ib_set_affinity_on(struct sim_machine *m, unsigned int cpu, unsigned int irq,
		       const ik_cpumask_t *mask)
{
	struct ib_call c = { .irq = irq, .mask = mask, .op = IB_AFFINITY };

	return run_call(m, cpu, &c);
}

int ib_disable_on(struct sim_machine *m, unsigned int cpu, unsigned int irq)
{
	struct ib_call c = { .irq = irq, .op = IB_DISABLE };

	return run_call(m, cpu, &c);
}

int ib_enable_on(struct sim_machine *m, unsigned int cpu, unsigned int irq)
{
	struct ib_call c = { .irq = irq, .op = IB_ENABLE };

	return run_call(m, cpu, &c);
}

static void chain_event(void *arg)
{
	struct ib_line *l = arg;

	if (__atomic_load_n(&l->seen, __ATOMIC_RELAXED) != l->fired(l->ctx)) {
		/* Outstanding: look again later; a line that never catches up is stalled. */
		if (++l->patience < 50000)
			sim_schedule(l->m, 1 + sim_rand(l->m) % 16, chain_event, l);
		else
			l->stalled = true;
		return;
	}
	l->patience = 0;
	if (!l->left)
		return;
	l->left--;
	l->fire(l->ctx);
	sim_schedule(l->m, 1 + sim_rand(l->m) % 8, chain_event, l);
}

void ib_chain_start(struct ib_line *l, unsigned int n, uint64_t delay)
{
	l->left = n;
	l->patience = 0;
	l->stalled = false;
	sim_schedule(l->m, delay, chain_event, l);
}

bool ib_chain_done(const struct ib_line *l)
{
	return !l->left && !l->stalled && l->seen == l->fired(l->ctx);
}

void ib_random_mask(struct sim_machine *m, ik_cpumask_t *mask)
{
	unsigned int n = sim_nr_cpus(m);

	ik_cpumask_clear(mask);
	while (ik_cpumask_empty(mask)) {
		uint64_t r = sim_rand(m);

		for (unsigned int cpu = 0; cpu < n; cpu++)
			if (r & (1ull << cpu))
				ik_cpumask_set_cpu(cpu, mask);
	}
}

void ib_cpu_mask(ik_cpumask_t *mask, unsigned int cpu)
{
	ik_cpumask_clear(mask);
	ik_cpumask_set_cpu(cpu, mask);
}

static int list_one(const struct ik_msi_irq_info *info, void *arg)
{
	struct ib_irq_list *list = arg;

	if (list->n >= IB_MAX_INFO)
		return -1;
	list->info[list->n] = *info;
	strncpy(list->domain[list->n], info->domain ? info->domain : "", 95);
	list->info[list->n].domain = list->domain[list->n];
	list->n++;
	return 0;
}

int ib_list_irqs(struct ik_device *dev, struct ib_irq_list *out)
{
	memset(out, 0, sizeof(*out));
	return ik_msi_device_for_each_irq(dev, list_one, out);
}

const struct ik_msi_irq_info *ib_find_irq(const struct ib_irq_list *list, unsigned int irq)
{
	for (unsigned int i = 0; i < list->n; i++)
		if (list->info[i].irq == irq)
			return &list->info[i];
	return NULL;
}

bool ib_seed_selected(uint64_t seed)
{
	const char *only = getenv("IK_TEST_SEED");

	return !only || strtoull(only, NULL, 0) == seed;
}

/* ---- A remapping-like MSI parent ------------------------------------------------- */

/*
 * Retargets below itself and answers IK_IRQ_SET_MASK_OK_DONE, as interrupt
 * remapping does (its message names an IRTE, which the move rewrites), so
 * the device domains above must not rewrite their stores.  It does not
 * remap anything: messages stay the vector domain's, so after a move the
 * device keeps using the old target, which the vector domain keeps routed.
 * Enough to check who writes the store, not a model of remapping.
 */
static int remap_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	int ret = ik_irq_chip_set_affinity_parent(d, mask, force);

	return ret == IK_IRQ_SET_MASK_OK ? IK_IRQ_SET_MASK_OK_DONE : ret;
}

static const struct ik_irq_chip remap_chip = {
	.name = "FIR",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = remap_set_affinity,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
};

static int remap_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr,
		       void *arg)
{
	int ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, virq + i, &remap_chip, NULL);
	return 0;
}

static void remap_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(domain, virq + i));
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

static const struct ik_irq_domain_ops remap_domain_ops = {
	.alloc = remap_alloc,
	.free = remap_free,
};

static const struct ik_msi_parent_ops remap_parent_ops = {
	.supported_flags = IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN |
			   IK_MSI_FLAG_DEVICE_MSI,
	.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS,
	.bus_select_mask = IK_BIT(IK_MSI_BUS_PCI_MSIX) | IK_BIT(IK_MSI_BUS_IMS) |
			   IK_BIT(IK_MSI_BUS_NTB),
	.prefix = "FIR-",
	.init_dev_msi_info = ik_msi_parent_init_dev_msi_info,
};

struct ik_irq_domain *ib_remap_parent_create(void)
{
	struct ik_irq_domain *d = ik_irq_domain_create_hierarchy(ik_x86_vector_domain(),
								 IK_IRQ_DOMAIN_FLAG_MSI_PARENT, 0,
								 "FIR", &remap_domain_ops, NULL);

	if (d && ik_msi_parent_set_ops(d, &remap_parent_ops)) {
		ik_irq_domain_remove(d);
		return NULL;
	}
	return d;
}
