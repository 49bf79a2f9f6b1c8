// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt descriptors and their numbering.
 *
 * Numbers come from a bitmap of IK_NR_IRQS_MAX bits (number 0 is never
 * handed out, so 0 can mean "none").  Descriptors are found through a
 * two-level table: a fixed top array and lazily allocated leaves of
 * IK_DESC_LEAF entries.  Leaves are only freed at ik_core_exit(), so a
 * lookup is two dependent loads with no lock.  Writers serialise on
 * sparse_mutex.  Like every number-based API, looking up a number while
 * another thread frees it is a caller bug: the caller owns its numbers.
 */
#include "internals.h"

#define IK_DESC_LEAF_SHIFT 10
#define IK_DESC_LEAF (1u << IK_DESC_LEAF_SHIFT)
#define IK_DESC_TOP (IK_NR_IRQS_MAX / IK_DESC_LEAF)

static struct {
	bool ready;
	ik_mutex_t sparse_mutex;
	struct ik_irq_desc **top[IK_DESC_TOP];
	uint64_t *bitmap;               /* allocated numbers */
	unsigned int next_hint;
	unsigned int nr_allocated;
	unsigned int nr_cpus;
	ik_cpumask_t online;
	ik_spinlock_t online_lock;
} core;

bool ik_core_ready(void)
{
	return core.ready;
}

unsigned int ik_nr_cpus(void)
{
	return core.nr_cpus;
}

const ik_cpumask_t *ik_cpu_online_mask(void)
{
	return &core.online;
}

bool ik_cpu_is_online(unsigned int cpu)
{
	return ik_cpumask_test_cpu(cpu, &core.online);
}

void ik_cpu_set_online(unsigned int cpu, bool online)
{
	ik_irqflags_t flags;

	if (cpu >= core.nr_cpus)
		return;
	flags = ik_os_spin_lock_irqsave(&core.online_lock);
	if (online)
		ik_cpumask_set_cpu(cpu, &core.online);
	else
		ik_cpumask_clear_cpu(cpu, &core.online);
	ik_os_spin_unlock_irqrestore(&core.online_lock, flags);
}

int ik_core_init(void)
{
	size_t words = IK_NR_IRQS_MAX / 64;

	if (core.ready)
		return -IK_EBUSY;
	core.nr_cpus = ik_os_cpu_count();
	if (core.nr_cpus == 0 || core.nr_cpus > IK_CPUS_MAX) {
		ik_err("irqkit: host reports %u CPUs, build supports 1..%u", core.nr_cpus,
		       (unsigned int)IK_CPUS_MAX);
		return -IK_EINVAL;
	}
	core.bitmap = ik_os_alloc(words * sizeof(uint64_t));
	if (!core.bitmap)
		return -IK_ENOMEM;
	core.bitmap[0] = 1;             /* number 0 is never used */
	core.next_hint = 1;
	core.nr_allocated = 0;
	ik_cpumask_clear(&core.online);
	ik_os_spin_init(&core.online_lock);
	ik_os_mutex_init(&core.sparse_mutex);
	core.ready = true;
	return 0;
}

int ik_core_exit(void)
{
	if (!core.ready)
		return 0;
	if (core.nr_allocated || !ik_irq_domains_empty()) {
		ik_warn("irqkit: exit with %u interrupts and domains left", core.nr_allocated);
		return -IK_EBUSY;
	}
	for (unsigned int i = 0; i < IK_DESC_TOP; i++) {
		ik_os_free(core.top[i]);
		core.top[i] = NULL;
	}
	ik_os_free(core.bitmap);
	core.bitmap = NULL;
	ik_os_mutex_destroy(&core.sparse_mutex);
	core.ready = false;
	return 0;
}

struct ik_irq_desc *ik_irq_to_desc(unsigned int irq)
{
	struct ik_irq_desc **leaf;

	if (irq >= IK_NR_IRQS_MAX || !core.ready)
		return NULL;
	leaf = IK_READ_ONCE(core.top[irq >> IK_DESC_LEAF_SHIFT]);
	if (!leaf)
		return NULL;
	return IK_READ_ONCE(leaf[irq & (IK_DESC_LEAF - 1)]);
}

struct ik_irq_data *ik_irq_desc_get_irq_data(struct ik_irq_desc *desc)
{
	return &desc->irq_data;
}

struct ik_irq_data *ik_irq_get_irq_data(unsigned int irq)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	return desc ? &desc->irq_data : NULL;
}

struct ik_irq_desc *ik_irq_data_to_desc(const struct ik_irq_data *data)
{
	return ik_container_of(data->common, struct ik_irq_desc, common);
}

static bool number_used(unsigned int n)
{
	return (core.bitmap[n / 64] >> (n % 64)) & 1;
}

static void number_set(unsigned int n, bool used)
{
	if (used)
		core.bitmap[n / 64] |= 1ull << (n % 64);
	else
		core.bitmap[n / 64] &= ~(1ull << (n % 64));
}

/* Next-fit search for @nr free consecutive numbers; sparse_mutex held. */
static int find_free_range(unsigned int nr)
{
	unsigned int start = core.next_hint, pass;

	for (pass = 0; pass < 2; pass++) {
		unsigned int n = start, run = 0;

		while (n < IK_NR_IRQS_MAX) {
			if ((n % 64) == 0 && run == 0 && core.bitmap[n / 64] == UINT64_MAX) {
				n += 64;
				continue;
			}
			if (number_used(n)) {
				run = 0;
			} else if (++run == nr) {
				return (int)(n + 1 - nr);
			}
			n++;
		}
		start = 1;
	}
	return -IK_ENOSPC;
}

static struct ik_irq_desc *desc_alloc(unsigned int irq, const struct ik_irq_affinity_desc *aff)
{
	struct ik_irq_desc *desc = ik_os_alloc(ik_irq_desc_bytes(core.nr_cpus));

	if (!desc)
		return NULL;
	desc->irq_data.irq = irq;
	desc->irq_data.common = &desc->common;
	desc->handle_irq = NULL;
	desc->depth = 1;
	desc->istate = IK_IRQS_NOREQUEST;
	ik_os_spin_init(&desc->lock);
	ik_os_mutex_init(&desc->request_mutex);
	if (aff) {
		ik_cpumask_copy(&desc->common.affinity, &aff->mask);
		if (aff->is_managed)
			desc->common.state |= IK_IRQD_AFFINITY_MANAGED;
	} else {
		ik_cpumask_setall(&desc->common.affinity, core.nr_cpus);
	}
	return desc;
}

static void desc_free(struct ik_irq_desc *desc)
{
	/* No back-off timer may run on a freed descriptor. */
	ik_storm_free(desc);
	ik_os_mutex_destroy(&desc->request_mutex);
	ik_os_free(desc);
}

/* Make sure the leaves covering [irq, irq + nr) exist; sparse_mutex held. */
static int ensure_leaves(unsigned int irq, unsigned int nr)
{
	for (unsigned int t = irq >> IK_DESC_LEAF_SHIFT; t <= (irq + nr - 1) >> IK_DESC_LEAF_SHIFT;
	     t++) {
		struct ik_irq_desc **leaf;

		if (core.top[t])
			continue;
		leaf = ik_os_alloc(IK_DESC_LEAF * sizeof(*leaf));
		if (!leaf)
			return -IK_ENOMEM;
		IK_WRITE_ONCE(core.top[t], leaf);
	}
	return 0;
}

static void publish(unsigned int irq, struct ik_irq_desc *desc)
{
	IK_WRITE_ONCE(core.top[irq >> IK_DESC_LEAF_SHIFT][irq & (IK_DESC_LEAF - 1)], desc);
}

/**
 * ik_irq_alloc_descs - allocate @nr consecutive numbers and descriptors
 * Context: sleepable.  Return: the first number, -IK_EINVAL, -IK_ENOSPC,
 * -IK_ENOMEM (nothing allocated).
 */
int ik_irq_alloc_descs(unsigned int nr, const struct ik_irq_affinity_desc *affinity)
{
	unsigned int i;
	int start, ret;

	if (!core.ready || nr == 0 || nr > IK_NR_IRQS_MAX - 1)
		return -IK_EINVAL;
	ik_os_mutex_lock(&core.sparse_mutex);
	start = find_free_range(nr);
	if (start < 0) {
		ret = start;
		goto out_unlock;
	}
	/* Leaves are kept once allocated, so a failure here needs no undo. */
	ret = ensure_leaves((unsigned int)start, nr);
	if (ret)
		goto out_unlock;
	for (i = 0; i < nr; i++) {
		struct ik_irq_desc *desc =
			desc_alloc((unsigned int)start + i, affinity ? &affinity[i] : NULL);

		if (!desc) {
			ret = -IK_ENOMEM;
			goto err_free_descs;
		}
		publish((unsigned int)start + i, desc);
		number_set((unsigned int)start + i, true);
	}
	ik_irq_to_desc((unsigned int)start)->alloc_nr = nr;
	core.nr_allocated += nr;
	core.next_hint = (unsigned int)start + nr;
	ik_os_mutex_unlock(&core.sparse_mutex);
	return start;

err_free_descs:
	while (i--) {
		struct ik_irq_desc *desc = ik_irq_to_desc((unsigned int)start + i);

		publish((unsigned int)start + i, NULL);
		number_set((unsigned int)start + i, false);
		desc_free(desc);
	}
out_unlock:
	ik_os_mutex_unlock(&core.sparse_mutex);
	return ret;
}

/** ik_irq_free_descs - free numbers and descriptors. Context: sleepable. */
void ik_irq_free_descs(unsigned int irq, unsigned int nr)
{
	ik_os_mutex_lock(&core.sparse_mutex);
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_irq_desc *desc = ik_irq_to_desc(irq + i);

		if (IK_WARN_ON(!desc))
			continue;
		publish(irq + i, NULL);
		number_set(irq + i, false);
		core.nr_allocated--;
		desc_free(desc);
	}
	if (irq < core.next_hint)
		core.next_hint = irq;
	ik_os_mutex_unlock(&core.sparse_mutex);
}

uint64_t ik_irq_count_cpu(unsigned int irq, unsigned int cpu)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	if (!desc || cpu >= core.nr_cpus)
		return 0;
	return IK_READ_ONCE(desc->kstat[cpu]);
}

uint64_t ik_irq_count(unsigned int irq)
{
	uint64_t sum = 0;

	for (unsigned int cpu = 0; cpu < core.nr_cpus; cpu++)
		sum += ik_irq_count_cpu(irq, cpu);
	return sum;
}

int ik_irq_get_info(unsigned int irq, struct ik_irq_info *info)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);
	ik_irqflags_t flags;

	if (!desc)
		return -IK_ENOENT;
	flags = ik_os_spin_lock_irqsave(&desc->lock);
	info->irq = irq;
	info->state = desc->common.state;
	info->istate = desc->istate;
	info->depth = desc->depth;
	info->nr_actions = desc->nr_actions;
	info->unhandled = desc->irqs_unhandled;
	info->spurious_disables = desc->spurious_disables;
	info->storms = desc->storms;
	info->chip_name = desc->irq_data.chip ? desc->irq_data.chip->name : "none";
	info->action_name = desc->action ? desc->action->name : NULL;
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	return 0;
}

int ik_irq_for_each(int (*fn)(unsigned int irq, void *arg), void *arg)
{
	for (unsigned int t = 0; t < IK_DESC_TOP; t++) {
		struct ik_irq_desc **leaf = IK_READ_ONCE(core.top[t]);

		if (!leaf)
			continue;
		for (unsigned int i = 0; i < IK_DESC_LEAF; i++) {
			int ret;

			if (!IK_READ_ONCE(leaf[i]))
				continue;
			ret = fn((t << IK_DESC_LEAF_SHIFT) | i, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void ik_irq_data_update_effective_affinity(struct ik_irq_data *data, const ik_cpumask_t *mask)
{
	ik_cpumask_copy(&data->common->effective_affinity, mask);
}

void ik_irq_set_handler_locked(struct ik_irq_data *data, ik_irq_flow_handler_t handler)
{
	ik_irq_data_to_desc(data)->handle_irq = handler;
}

void ik_chip_bus_lock(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc->irq_data.chip;

	if (chip && chip->irq_bus_lock)
		chip->irq_bus_lock(&desc->irq_data);
}

void ik_chip_bus_sync_unlock(struct ik_irq_desc *desc)
{
	const struct ik_irq_chip *chip = desc->irq_data.chip;

	if (chip && chip->irq_bus_sync_unlock)
		chip->irq_bus_sync_unlock(&desc->irq_data);
}

struct ik_irq_desc *ik_irq_get_desc_buslock(unsigned int irq, ik_irqflags_t *flags)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(irq);

	if (!desc)
		return NULL;
	ik_chip_bus_lock(desc);
	*flags = ik_os_spin_lock_irqsave(&desc->lock);
	return desc;
}

void ik_irq_put_desc_busunlock(struct ik_irq_desc *desc, ik_irqflags_t flags)
{
	ik_os_spin_unlock_irqrestore(&desc->lock, flags);
	ik_chip_bus_sync_unlock(desc);
}
