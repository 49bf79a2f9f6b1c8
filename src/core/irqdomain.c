// SPDX-License-Identifier: BSD-2-Clause
/*
 * Interrupt domains and hierarchical allocation.
 *
 * A whole hierarchy serialises allocation and free on its root's mutex.
 * Reverse maps (hwirq -> level data) are sparse stores read under each
 * domain's revmap_lock; they are filled in only after every level's alloc
 * succeeded, with nodes preloaded outside the lock.
 */
#include "internals.h"

struct ik_irq_domain {
	const char *name;
	const struct ik_irq_domain_ops *ops;
	void *host_data;
	uint32_t flags;
	uint64_t hwirq_max;
	struct ik_irq_domain *parent;
	struct ik_irq_domain *root;
	unsigned int nr_children;
	unsigned int mapcount;
	ik_mutex_t mutex;               /* used on the root only */
	ik_spinlock_t revmap_lock;
	struct ik_xa revmap;
	struct ik_irq_domain *next;     /* global list, creation order */
	const void *msi_parent_ops;     /* struct ik_msi_parent_ops (src/msi) */
};

static struct {
	bool init;
	ik_mutex_t lock;
	struct ik_irq_domain *head;
	struct ik_irq_domain **tail;
} domains;

static void domains_init_once(void)
{
	/* Domains are created after ik_core_init(), single-threaded at first. */
	if (domains.init)
		return;
	ik_os_mutex_init(&domains.lock);
	domains.head = NULL;
	domains.tail = &domains.head;
	domains.init = true;
}

bool ik_irq_domains_empty(void)
{
	return !domains.init || domains.head == NULL;
}

struct ik_irq_domain *ik_irq_domain_create_hierarchy(struct ik_irq_domain *parent,
						     uint32_t flags, uint64_t hwirq_max,
						     const char *name,
						     const struct ik_irq_domain_ops *ops,
						     void *host_data)
{
	struct ik_irq_domain *domain;

	if (!ik_core_ready() || !ops || !ops->alloc || !name)
		return NULL;
	domain = ik_os_alloc(sizeof(*domain));
	if (!domain)
		return NULL;
	domain->name = name;
	domain->ops = ops;
	domain->host_data = host_data;
	domain->flags = flags;
	domain->hwirq_max = hwirq_max;
	domain->parent = parent;
	domain->root = parent ? parent->root : domain;
	ik_os_mutex_init(&domain->mutex);
	ik_os_spin_init(&domain->revmap_lock);
	ik_xa_init(&domain->revmap);

	domains_init_once();
	ik_os_mutex_lock(&domains.lock);
	if (parent)
		parent->nr_children++;
	*domains.tail = domain;
	domains.tail = &domain->next;
	ik_os_mutex_unlock(&domains.lock);
	return domain;
}

int ik_irq_domain_remove(struct ik_irq_domain *domain)
{
	struct ik_irq_domain **pp;

	if (!domain)
		return -IK_EINVAL;
	ik_os_mutex_lock(&domains.lock);
	if (domain->mapcount || domain->nr_children) {
		ik_os_mutex_unlock(&domains.lock);
		return -IK_EBUSY;
	}
	for (pp = &domains.head; *pp && *pp != domain; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = domain->next;
		if (domains.tail == &domain->next)
			domains.tail = pp;
	}
	if (domain->parent)
		domain->parent->nr_children--;
	ik_os_mutex_unlock(&domains.lock);

	ik_xa_destroy(&domain->revmap);
	ik_os_mutex_destroy(&domain->mutex);
	ik_os_free(domain);
	return 0;
}

void *ik_irq_domain_host_data(const struct ik_irq_domain *domain)
{
	return domain->host_data;
}

struct ik_irq_domain *ik_irq_domain_parent(const struct ik_irq_domain *domain)
{
	return domain->parent;
}

const char *ik_irq_domain_name(const struct ik_irq_domain *domain)
{
	return domain->name;
}

uint32_t ik_irq_domain_flags(const struct ik_irq_domain *domain)
{
	return domain->flags;
}

unsigned int ik_irq_domain_mapcount(const struct ik_irq_domain *domain)
{
	return domain->mapcount;
}

int ik_irq_domain_for_each(int (*fn)(struct ik_irq_domain *domain, void *arg), void *arg)
{
	struct ik_irq_domain *d;
	int ret = 0;

	if (!domains.init)
		return 0;
	ik_os_mutex_lock(&domains.lock);
	for (d = domains.head; d && !ret; d = d->next)
		ret = fn(d, arg);
	ik_os_mutex_unlock(&domains.lock);
	return ret;
}

struct ik_irq_data *ik_irq_domain_get_irq_data(struct ik_irq_domain *domain, unsigned int virq)
{
	struct ik_irq_data *data = ik_irq_get_irq_data(virq);

	for (; data; data = data->parent_data)
		if (data->domain == domain)
			return data;
	return NULL;
}

int ik_irq_domain_set_hwirq_and_chip(struct ik_irq_domain *domain, unsigned int virq,
				     uint64_t hwirq, const struct ik_irq_chip *chip,
				     void *chip_data)
{
	struct ik_irq_data *data = ik_irq_domain_get_irq_data(domain, virq);

	if (!data || !chip)
		return -IK_EINVAL;
	if (domain->hwirq_max && hwirq >= domain->hwirq_max)
		return -IK_ERANGE;
	data->hwirq = hwirq;
	data->chip = chip;
	data->chip_data = chip_data;
	return 0;
}

int ik_irq_domain_set_info(struct ik_irq_domain *domain, unsigned int virq, uint64_t hwirq,
			   const struct ik_irq_chip *chip, void *chip_data,
			   ik_irq_flow_handler_t handler, void *handler_data)
{
	int ret = ik_irq_domain_set_hwirq_and_chip(domain, virq, hwirq, chip, chip_data);
	struct ik_irq_desc *desc;

	if (ret)
		return ret;
	desc = ik_irq_to_desc(virq);
	desc->handle_irq = handler;
	desc->common.handler_data = handler_data;
	return 0;
}

void ik_irq_domain_reset_irq_data(struct ik_irq_data *data)
{
	data->hwirq = 0;
	data->chip = NULL;
	data->chip_data = NULL;
}

/* ---- Per-interrupt level chains ----------------------------------------- */

static void free_parent_chain(struct ik_irq_data *outer)
{
	struct ik_irq_data *data = outer->parent_data;

	while (data) {
		struct ik_irq_data *next = data->parent_data;

		ik_os_free(data);
		data = next;
	}
	outer->parent_data = NULL;
}

/* Build the levels below the outermost one for [virq, virq + nr). */
static int alloc_chains(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct ik_irq_desc *desc = ik_irq_to_desc(virq + i);
		struct ik_irq_data *child = &desc->irq_data;
		struct ik_irq_domain *d;

		child->domain = domain;
		for (d = domain->parent; d; d = d->parent) {
			struct ik_irq_data *level = ik_os_alloc(sizeof(*level));

			if (!level)
				goto err_free_chains;
			level->irq = virq + i;
			level->common = &desc->common;
			level->domain = d;
			child->parent_data = level;
			child = level;
		}
	}
	return 0;

err_free_chains:
	do {
		free_parent_chain(&ik_irq_to_desc(virq + i)->irq_data);
	} while (i--);
	return -IK_ENOMEM;
}

static void revmap_remove(unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_irq_data *data;

		for (data = ik_irq_get_irq_data(virq + i); data; data = data->parent_data) {
			struct ik_irq_domain *d = data->domain;
			ik_irqflags_t flags;

			flags = ik_os_spin_lock_irqsave(&d->revmap_lock);
			if (ik_xa_load(&d->revmap, data->hwirq) == data) {
				ik_xa_erase(&d->revmap, data->hwirq);
				d->mapcount--;
			}
			ik_os_spin_unlock_irqrestore(&d->revmap_lock, flags);
		}
	}
}

static int revmap_insert(unsigned int virq, unsigned int nr)
{
	struct ik_xa_preload pl = { .nr = 0 };
	int ret = 0;

	for (unsigned int i = 0; i < nr && !ret; i++) {
		struct ik_irq_data *data;

		for (data = ik_irq_get_irq_data(virq + i); data && !ret; data = data->parent_data) {
			struct ik_irq_domain *d = data->domain;
			ik_irqflags_t flags;
			unsigned int cost;

			/*
			 * Preload only what this insert needs (usually nothing).
			 * Writers of a reverse map all hold the root's mutex, so
			 * the cost read under the lock still holds after it is
			 * dropped to allocate; the loop is only belt and braces.
			 */
			flags = ik_os_spin_lock_irqsave(&d->revmap_lock);
			while ((cost = ik_xa_insert_cost(&d->revmap, data->hwirq)) > pl.nr) {
				ik_os_spin_unlock_irqrestore(&d->revmap_lock, flags);
				ret = ik_xa_preload_fill_n(&pl, cost);
				flags = ik_os_spin_lock_irqsave(&d->revmap_lock);
				if (ret)
					break;
			}
			if (!ret)
				ret = ik_xa_insert_preloaded(&d->revmap, data->hwirq, data, &pl);
			if (!ret)
				d->mapcount++;
			ik_os_spin_unlock_irqrestore(&d->revmap_lock, flags);
			if (ret == -IK_EEXIST)
				ik_warn("irqkit: %s: hwirq %llu mapped twice", d->name,
					(unsigned long long)data->hwirq);
		}
	}
	ik_xa_preload_drain(&pl);
	if (ret)
		revmap_remove(virq, nr);
	return ret;
}

int ik_irq_domain_find_mapping(struct ik_irq_domain *domain, uint64_t hwirq)
{
	struct ik_irq_data *data;
	ik_irqflags_t flags;

	flags = ik_os_spin_lock_irqsave(&domain->revmap_lock);
	data = ik_xa_load(&domain->revmap, hwirq);
	ik_os_spin_unlock_irqrestore(&domain->revmap_lock, flags);
	return data ? (int)data->irq : -IK_ENOENT;
}

int ik_irq_domain_alloc_irqs_parent(struct ik_irq_domain *domain, unsigned int virq,
				    unsigned int nr_irqs, void *arg)
{
	struct ik_irq_domain *parent = domain->parent;

	if (!parent)
		return -IK_EINVAL;
	return parent->ops->alloc(parent, virq, nr_irqs, arg);
}

void ik_irq_domain_free_irqs_parent(struct ik_irq_domain *domain, unsigned int virq,
				    unsigned int nr_irqs)
{
	struct ik_irq_domain *parent = domain->parent;

	if (parent && parent->ops->free)
		parent->ops->free(parent, virq, nr_irqs);
}

int ik_irq_domain_alloc_irqs(struct ik_irq_domain *domain, unsigned int nr_irqs,
			     const struct ik_irq_affinity_desc *affinity, void *arg)
{
	struct ik_irq_domain *root;
	int virq, ret;

	if (!domain || nr_irqs == 0)
		return -IK_EINVAL;
	root = domain->root;
	ik_os_mutex_lock(&root->mutex);
	virq = ik_irq_alloc_descs(nr_irqs, affinity);
	if (virq < 0) {
		ret = virq;
		goto out_unlock;
	}
	ret = alloc_chains(domain, (unsigned int)virq, nr_irqs);
	if (ret)
		goto err_free_descs;
	ret = domain->ops->alloc(domain, (unsigned int)virq, nr_irqs, arg);
	if (ret)
		goto err_free_chains;
	ret = revmap_insert((unsigned int)virq, nr_irqs);
	if (ret)
		goto err_free_levels;
	for (unsigned int i = 0; i < nr_irqs; i++)
		ik_irq_to_desc((unsigned int)virq + i)->istate &= ~IK_IRQS_NOREQUEST;
	ik_os_mutex_unlock(&root->mutex);
	return virq;

err_free_levels:
	if (domain->ops->free)
		domain->ops->free(domain, (unsigned int)virq, nr_irqs);
err_free_chains:
	for (unsigned int i = 0; i < nr_irqs; i++)
		free_parent_chain(&ik_irq_to_desc((unsigned int)virq + i)->irq_data);
err_free_descs:
	ik_irq_free_descs((unsigned int)virq, nr_irqs);
out_unlock:
	ik_os_mutex_unlock(&root->mutex);
	return ret;
}

static void quiescent_call(void *arg)
{
	(void)arg;
}

/*
 * Wait out interrupt entries that looked an interrupt up just before it was
 * deactivated.  A platform entry reads its own table (a vector slot, an LPI
 * map, the revmap) and only then takes the descriptor lock, so
 * ik_free_irq()'s wait for handlers in progress cannot see a CPU that is
 * still between the two; freed, the descriptor or its chips would be used
 * by that CPU.  Such a CPU keeps interrupts off until its flow handler has
 * returned, so once a cross-CPU call has run on every CPU none is left in
 * that window.  (A CPU that cannot take calls is not running.)  Sleepable
 * context, so the calling CPU itself is not inside an interrupt.
 */
static void wait_for_stale_entries(void)
{
	for (unsigned int cpu = 0; cpu < ik_nr_cpus(); cpu++)
		(void)ik_os_cpu_call(cpu, quiescent_call, NULL, true);
}

int ik_irq_domain_free_irqs(unsigned int virq, unsigned int nr_irqs)
{
	struct ik_irq_desc *desc = ik_irq_to_desc(virq);
	struct ik_irq_domain *domain, *root;
	unsigned int i;

	if (!desc || !desc->irq_data.domain)
		return -IK_ENOENT;
	/* Only a whole allocation, from its first interrupt (alloc_nr is 0 elsewhere). */
	if (nr_irqs == 0 || desc->alloc_nr != nr_irqs) {
		ik_warn("irqkit: free of %u interrupts at %u, allocation was %u", nr_irqs, virq,
			desc->alloc_nr);
		return -IK_EINVAL;
	}
	for (i = 0; i < nr_irqs; i++)
		if (ik_irq_to_desc(virq + i)->action)
			return -IK_EBUSY;
	domain = desc->irq_data.domain;
	root = domain->root;
	ik_os_mutex_lock(&root->mutex);
	for (i = 0; i < nr_irqs; i++) {
		struct ik_irq_desc *d = ik_irq_to_desc(virq + i);
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&d->lock);

		d->istate |= IK_IRQS_NOREQUEST;
		ik_irq_domain_deactivate_irq(&d->irq_data);
		ik_os_spin_unlock_irqrestore(&d->lock, flags);
	}
	revmap_remove(virq, nr_irqs);
	wait_for_stale_entries();
	if (domain->ops->free)
		domain->ops->free(domain, virq, nr_irqs);
	for (i = 0; i < nr_irqs; i++)
		free_parent_chain(&ik_irq_to_desc(virq + i)->irq_data);
	ik_irq_free_descs(virq, nr_irqs);
	ik_os_mutex_unlock(&root->mutex);
	return 0;
}

/* ---- Activation --------------------------------------------------------- */

static int activate_level(struct ik_irq_data *data, bool reserve)
{
	struct ik_irq_domain *domain = data->domain;
	int ret = 0;

	if (data->parent_data) {
		ret = activate_level(data->parent_data, reserve);
		if (ret)
			return ret;
	}
	if (domain && domain->ops->activate) {
		ret = domain->ops->activate(domain, data, reserve);
		/* Undo the parents so a failure leaves nothing programmed. */
		if (ret && data->parent_data) {
			struct ik_irq_data *p;

			for (p = data->parent_data; p; p = p->parent_data)
				if (p->domain && p->domain->ops->deactivate)
					p->domain->ops->deactivate(p->domain, p);
		}
	}
	return ret;
}

int ik_irq_domain_activate_irq(struct ik_irq_data *data, bool reserve)
{
	int ret;

	if (ik_irqd_test(data, IK_IRQD_ACTIVATED))
		return 0;
	ret = activate_level(data, reserve);
	if (!ret)
		ik_irqd_set(data, IK_IRQD_ACTIVATED);
	return ret;
}

void ik_irq_domain_deactivate_irq(struct ik_irq_data *data)
{
	struct ik_irq_data *level;

	if (!ik_irqd_test(data, IK_IRQD_ACTIVATED))
		return;
	/* Outermost first: the device stops using a target before it goes. */
	for (level = data; level; level = level->parent_data)
		if (level->domain && level->domain->ops->deactivate)
			level->domain->ops->deactivate(level->domain, level);
	ik_irqd_clear(data, IK_IRQD_ACTIVATED);
}

const struct ik_irq_domain_ops *ik_irq_domain_get_ops(const struct ik_irq_domain *domain)
{
	return domain->ops;
}

void ik_irq_domain_set_msi_parent_ops(struct ik_irq_domain *domain, const void *ops)
{
	domain->msi_parent_ops = ops;
	if (ops)
		domain->flags |= IK_IRQ_DOMAIN_FLAG_MSI_PARENT;
	else
		domain->flags &= ~IK_IRQ_DOMAIN_FLAG_MSI_PARENT;
}

const void *ik_irq_domain_get_msi_parent_ops(const struct ik_irq_domain *domain)
{
	return domain->msi_parent_ops;
}
