// SPDX-License-Identifier: BSD-2-Clause
/*
 * The machine: configuration, CPUs, the physical address space (RAM and
 * MMIO regions), bus-master writes and counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "sim_internal.h"

static struct sim_machine *current_machine;	/* __atomic */

void sim_fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("iksim: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

void sim_stat_inc(struct sim_machine *m, enum sim_stat which)
{
	__atomic_add_fetch(&m->stats[which], 1, __ATOMIC_RELAXED);
}

uint64_t sim_stat(const struct sim_machine *m, enum sim_stat which)
{
	if ((unsigned int)which >= SIM_STAT_COUNT)
		return 0;
	return __atomic_load_n(&m->stats[which], __ATOMIC_RELAXED);
}

void sim_set_trace(struct sim_machine *m, sim_trace_fn_t fn, void *ctx)
{
	m->trace_ctx = ctx;
	m->trace_fn = fn;
}

void sim_trace(struct sim_machine *m, enum sim_trace_type type, unsigned int cpu,
	       unsigned int vector, uint64_t value)
{
	if (m->trace_fn)
		m->trace_fn(m->trace_ctx, type, sim_now(m), cpu, vector, value);
}

/* ---- Configuration ------------------------------------------------------ */

static bool config_valid(const struct sim_config *cfg)
{
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > SIM_MAX_CPUS)
		return false;
	if (cfg->ram_size > MSI_WINDOW_BASE)
		return false;
	if (cfg->interleave_permille > 1000)
		return false;
	if (!cfg->apic_ids_given)
		return true;
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		if (cfg->apic_ids[i] >= 0xFF)
			return false;
		for (unsigned int j = 0; j < i; j++)
			if (cfg->apic_ids[j] == cfg->apic_ids[i])
				return false;
	}
	return true;
}

/* ---- RAM: the region at physical 0 ---------------------------------------- */

static uint64_t ram_read(void *opaque, uint64_t offset, unsigned int size)
{
	uint8_t *p = (uint8_t *)opaque + offset;

	/* Atomic so that racing CPU threads are a data race of the guest, not of the host. */
	switch (size) {
	case 1:
		return __atomic_load_n(p, __ATOMIC_RELAXED);
	case 2:
		if (!((uintptr_t)p & 1))
			return __atomic_load_n((uint16_t *)(void *)p, __ATOMIC_RELAXED);
		break;
	case 4:
		if (!((uintptr_t)p & 3))
			return __atomic_load_n((uint32_t *)(void *)p, __ATOMIC_RELAXED);
		break;
	case 8:
		if (!((uintptr_t)p & 7))
			return __atomic_load_n((uint64_t *)(void *)p, __ATOMIC_RELAXED);
		break;
	}
	uint64_t v = 0;

	memcpy(&v, p, size);
	return v;
}

static void ram_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	uint8_t *p = (uint8_t *)opaque + offset;

	switch (size) {
	case 1:
		__atomic_store_n(p, (uint8_t)value, __ATOMIC_RELAXED);
		return;
	case 2:
		if (!((uintptr_t)p & 1)) {
			__atomic_store_n((uint16_t *)(void *)p, (uint16_t)value, __ATOMIC_RELAXED);
			return;
		}
		break;
	case 4:
		if (!((uintptr_t)p & 3)) {
			__atomic_store_n((uint32_t *)(void *)p, (uint32_t)value, __ATOMIC_RELAXED);
			return;
		}
		break;
	case 8:
		if (!((uintptr_t)p & 7)) {
			__atomic_store_n((uint64_t *)(void *)p, value, __ATOMIC_RELAXED);
			return;
		}
		break;
	}
	memcpy(p, &value, size);
}

static const struct sim_region_ops ram_ops = {
	.read = ram_read,
	.write = ram_write,
};

/*
 * The LAPIC window is decoded before the region table (CPU accesses go to
 * the CPU's own LAPIC, device writes are messages).  Its entry only
 * reserves the range so nothing else can be mapped over it.
 */
static uint64_t lapic_window_read(void *opaque, uint64_t offset, unsigned int size)
{
	return ~0ull;
}

static void lapic_window_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
}

static const struct sim_region_ops lapic_window_ops = {
	.read = lapic_window_read,
	.write = lapic_window_write,
};

/* ---- Machine lifetime -------------------------------------------------------- */

static void cpu_init(struct sim_machine *m, unsigned int index, uint32_t apic_id)
{
	struct sim_cpu *cpu = &m->cpus[index];

	cpu->m = m;
	cpu->index = index;
	cpu->online = 1;
	cpu->if_flag = 1;
	pthread_mutex_init(&cpu->lapic.lock, NULL);
	sim_lapic_reset(&cpu->lapic, apic_id);
	pthread_mutex_init(&cpu->run_lock, NULL);
	pthread_cond_init(&cpu->run_cond, NULL);
	pthread_cond_init(&cpu->done_cond, NULL);
}

static void cpu_fini(struct sim_cpu *cpu)
{
	pthread_mutex_destroy(&cpu->lapic.lock);
	pthread_mutex_destroy(&cpu->run_lock);
	pthread_cond_destroy(&cpu->run_cond);
	pthread_cond_destroy(&cpu->done_cond);
}

static void machine_free(struct sim_machine *m)
{
	while (m->cleanups) {
		struct sim_cleanup *c = m->cleanups;

		m->cleanups = c->next;
		c->fn(c->arg);
		free(c);
	}
	for (unsigned int i = 0; i < m->nr_cpus; i++)
		cpu_fini(&m->cpus[i]);
	sim_sched_fini(m);
	pthread_rwlock_destroy(&m->regions_lock);
	pthread_mutex_destroy(&m->pci_lock);
	free(m->regions);
	free(m->ram);
	free(m);
}

struct sim_machine *sim_create(const struct sim_config *cfg)
{
	struct sim_machine *m;

	if (!cfg || !config_valid(cfg))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->nr_cpus = cfg->nr_cpus;
	m->interleave_permille = cfg->interleave_permille ? cfg->interleave_permille : 250;
	pthread_rwlock_init(&m->regions_lock, NULL);
	pthread_mutex_init(&m->pci_lock, NULL);
	for (unsigned int i = 0; i < m->nr_cpus; i++)
		cpu_init(m, i, cfg->apic_ids_given ? cfg->apic_ids[i] : i);
	sim_sched_init(m);

	if (cfg->ram_size) {
		m->ram = calloc(1, cfg->ram_size);
		if (!m->ram ||
		    sim_map_region(m, 0, cfg->ram_size, &ram_ops, m->ram, "ram") < 0)
			goto fail;
	}
	if (sim_map_region(m, SIM_LAPIC_BASE, SIM_LAPIC_SIZE, &lapic_window_ops, NULL,
			   "lapic") < 0)
		goto fail;
	if (sim_port_machine_init(m) < 0)
		goto fail;
	if (sim_threads_start(m) < 0) {
		sim_port_machine_stop(m);
		sim_port_machine_fini(m);
		goto fail;
	}
	__atomic_store_n(&current_machine, m, __ATOMIC_RELEASE);
	return m;

fail:
	machine_free(m);
	return NULL;
}

void sim_destroy(struct sim_machine *m)
{
	struct sim_machine *expected = m;

	if (!m)
		return;
	/* The worker may still be sending IPIs: stop it before the CPUs. */
	sim_port_machine_stop(m);
	sim_threads_stop(m);
	sim_port_machine_fini(m);
	__atomic_compare_exchange_n(&current_machine, &expected, NULL, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	machine_free(m);
}

struct sim_machine *sim_current(void)
{
	return __atomic_load_n(&current_machine, __ATOMIC_ACQUIRE);
}

void sim_machine_add_cleanup(struct sim_machine *m, void (*fn)(void *), void *arg)
{
	struct sim_cleanup *c = calloc(1, sizeof(*c));

	if (!c)
		sim_fatal("out of memory registering a cleanup");
	c->fn = fn;
	c->arg = arg;
	c->next = m->cleanups;
	m->cleanups = c;
}

/* ---- CPUs ------------------------------------------------------------------ */

unsigned int sim_nr_cpus(const struct sim_machine *m)
{
	return m->nr_cpus;
}

uint32_t sim_cpu_apic_id(const struct sim_machine *m, unsigned int cpu)
{
	if (cpu >= m->nr_cpus)
		return 0xFFFFFFFFu;
	return m->cpus[cpu].lapic.apic_id;	/* fixed at creation */
}

void sim_set_idt(struct sim_machine *m, sim_vector_entry_t entry, void *ctx)
{
	m->idt_ctx = ctx;
	__atomic_store_n(&m->idt_entry, entry, __ATOMIC_RELEASE);
}

void sim_cpu_set_online(struct sim_machine *m, unsigned int cpu, bool online)
{
	int was_online;

	if (cpu >= m->nr_cpus)
		return;
	was_online = __atomic_exchange_n(&m->cpus[cpu].online, online ? 1 : 0, __ATOMIC_ACQ_REL);
	if (was_online && !online) {
		unsigned int dropped = sim_lapic_discard_vectors(m, cpu);

		__atomic_add_fetch(&m->stats[SIM_STAT_OFFLINE_DISCARDED], dropped,
				   __ATOMIC_RELAXED);
	}
	sim_kick_cpu(m, cpu);
}

bool sim_cpu_is_online(const struct sim_machine *m, unsigned int cpu)
{
	if (cpu >= m->nr_cpus)
		return false;
	return __atomic_load_n(&m->cpus[cpu].online, __ATOMIC_ACQUIRE) != 0;
}

unsigned int sim_first_online_cpu(const struct sim_machine *m)
{
	for (unsigned int i = 0; i < m->nr_cpus; i++)
		if (sim_cpu_is_online(m, i))
			return i;
	return 0;
}

uint64_t sim_cpu_vector_count(const struct sim_machine *m, unsigned int cpu, unsigned int vector)
{
	if (cpu >= m->nr_cpus || vector >= SIM_NR_VECTORS)
		return 0;
	return __atomic_load_n(&m->cpus[cpu].vector_count[vector], __ATOMIC_RELAXED);
}

/* ---- Physical address space ------------------------------------------------ */

/* Index of the first region whose base is > @pa. */
static unsigned int region_upper_bound(const struct sim_machine *m, uint64_t pa)
{
	unsigned int lo = 0, hi = m->nr_regions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (m->regions[mid].base <= pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sim_map_region(struct sim_machine *m, uint64_t base, uint64_t size,
		   const struct sim_region_ops *ops, void *opaque, const char *name)
{
	unsigned int pos;
	int ret = 0;

	if (!m || !size || !ops || !ops->read || !ops->write || base + size < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&m->regions_lock);
	pos = region_upper_bound(m, base);
	if (pos > 0) {
		const struct sim_region *prev = &m->regions[pos - 1];

		if (prev->base + prev->size > base)
			ret = -EEXIST;
	}
	if (pos < m->nr_regions && m->regions[pos].base < base + size)
		ret = -EEXIST;
	if (!ret && m->nr_regions == m->regions_cap) {
		unsigned int cap = m->regions_cap ? m->regions_cap * 2 : 16;
		struct sim_region *r = realloc(m->regions, cap * sizeof(*r));

		if (r) {
			m->regions = r;
			m->regions_cap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret) {
		struct sim_region *r = &m->regions[pos];

		memmove(r + 1, r, (m->nr_regions - pos) * sizeof(*r));
		r->base = base;
		r->size = size;
		r->ops = ops;
		r->opaque = opaque;
		snprintf(r->name, sizeof(r->name), "%s", name ? name : "?");
		m->nr_regions++;
	}
	pthread_rwlock_unlock(&m->regions_lock);
	return ret;
}

int sim_unmap_region(struct sim_machine *m, uint64_t base)
{
	unsigned int pos;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&m->regions_lock);
	pos = region_upper_bound(m, base);
	if (pos > 0 && m->regions[pos - 1].base == base) {
		pos--;
		memmove(&m->regions[pos], &m->regions[pos + 1],
			(m->nr_regions - pos - 1) * sizeof(m->regions[0]));
		m->nr_regions--;
		ret = 0;
	}
	pthread_rwlock_unlock(&m->regions_lock);
	return ret;
}

/*
 * Copy out the region covering [pa, pa + size) so its callback runs with
 * no lock held: a device model may map or unmap regions from a callback.
 */
static bool region_lookup(struct sim_machine *m, uint64_t pa, unsigned int size,
			  struct sim_region *out)
{
	bool found = false;
	unsigned int pos;

	pthread_rwlock_rdlock(&m->regions_lock);
	pos = region_upper_bound(m, pa);
	if (pos > 0) {
		const struct sim_region *r = &m->regions[pos - 1];

		if (pa - r->base < r->size && size <= r->size - (pa - r->base)) {
			*out = *r;
			found = true;
		}
	}
	pthread_rwlock_unlock(&m->regions_lock);
	return found;
}

static bool access_size_valid(unsigned int size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static uint64_t all_ones(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static uint64_t bus_read(struct sim_machine *m, uint64_t pa, unsigned int size)
{
	struct sim_region r;

	if (!region_lookup(m, pa, size, &r))
		return all_ones(size);
	return r.ops->read(r.opaque, pa - r.base, size) & all_ones(size);
}

static void bus_write(struct sim_machine *m, uint64_t pa, uint64_t value, unsigned int size)
{
	struct sim_region r;

	if (!region_lookup(m, pa, size, &r)) {
		sim_stat_inc(m, SIM_STAT_UNMAPPED_WRITES);
		return;
	}
	r.ops->write(r.opaque, pa - r.base, value & all_ones(size), size);
}

static bool in_lapic_window(uint64_t pa)
{
	return pa >= SIM_LAPIC_BASE && pa - SIM_LAPIC_BASE < SIM_LAPIC_SIZE;
}

uint64_t sim_cpu_read(struct sim_machine *m, unsigned int cpu, uint64_t pa, unsigned int size)
{
	if (!access_size_valid(size) || cpu >= m->nr_cpus)
		return ~0ull;
	/* xAPIC registers are 32 bits wide; wider reads see the register zero-extended. */
	if (in_lapic_window(pa))
		return sim_lapic_read(m, cpu, (uint32_t)(pa - SIM_LAPIC_BASE)) & all_ones(size);
	return bus_read(m, pa, size);
}

void sim_cpu_write(struct sim_machine *m, unsigned int cpu, uint64_t pa, uint64_t value,
		   unsigned int size)
{
	if (!access_size_valid(size) || cpu >= m->nr_cpus)
		return;
	if (in_lapic_window(pa)) {
		sim_lapic_write(m, cpu, (uint32_t)(pa - SIM_LAPIC_BASE), (uint32_t)value);
		return;
	}
	bus_write(m, pa, value, size);
}

void sim_dma_write32(struct sim_machine *m, uint16_t requester_id, uint64_t pa, uint32_t value)
{
	if (pa >= MSI_WINDOW_BASE && pa - MSI_WINDOW_BASE < MSI_WINDOW_SIZE) {
		sim_msi_interposer_fn fn = __atomic_load_n(&m->msi_interposer, __ATOMIC_ACQUIRE);

		if (fn)
			fn(__atomic_load_n(&m->msi_interposer_opaque, __ATOMIC_ACQUIRE), requester_id,
			   pa, value);
		else
			sim_msi_deliver(m, pa, value);
		return;
	}
	{
		sim_msi_interposer_fn fn = __atomic_load_n(&m->rid_window_fn, __ATOMIC_ACQUIRE);

		if (fn && pa >= m->rid_window_base && pa - m->rid_window_base < m->rid_window_size) {
			fn(m->rid_window_opaque, requester_id, pa, value);
			return;
		}
	}
	bus_write(m, pa, value, 4);
}

int sim_set_dma_rid_window(struct sim_machine *m, uint64_t base, uint64_t size,
			   sim_msi_interposer_fn fn, void *opaque)
{
	if (fn && (!size || base + size < base))
		return -EINVAL;
	if (fn && __atomic_load_n(&m->rid_window_fn, __ATOMIC_ACQUIRE))
		return -EBUSY;
	/* Window and opaque pointer are published before the function that uses them. */
	if (fn) {
		m->rid_window_base = base;
		m->rid_window_size = size;
		m->rid_window_opaque = opaque;
	}
	__atomic_store_n(&m->rid_window_fn, fn, __ATOMIC_RELEASE);
	return 0;
}

uint64_t sim_dma_read(struct sim_machine *m, uint64_t pa, unsigned int size)
{
	if (!access_size_valid(size))
		return ~0ull;
	return bus_read(m, pa, size);
}

void sim_dma_write(struct sim_machine *m, uint64_t pa, uint64_t value, unsigned int size)
{
	if (access_size_valid(size))
		bus_write(m, pa, value, size);
}

int sim_set_msi_interposer(struct sim_machine *m, sim_msi_interposer_fn fn, void *opaque)
{
	if (fn && __atomic_load_n(&m->msi_interposer, __ATOMIC_ACQUIRE))
		return -EBUSY;
	/* The opaque pointer is published before the function that uses it. */
	if (fn)
		__atomic_store_n(&m->msi_interposer_opaque, opaque, __ATOMIC_RELEASE);
	__atomic_store_n(&m->msi_interposer, fn, __ATOMIC_RELEASE);
	return 0;
}

/* ---- PCI configuration space ------------------------------------------------- */

void sim_set_pci_cfg_handler(struct sim_machine *m, const struct sim_pci_cfg_ops *ops,
			     void *opaque)
{
	pthread_mutex_lock(&m->pci_lock);
	m->pci_ops = ops;
	m->pci_opaque = opaque;
	pthread_mutex_unlock(&m->pci_lock);
}

static int pci_cfg_check(uint16_t offset, unsigned int size)
{
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	if ((offset & (size - 1)) || offset + size > 4096)
		return -EINVAL;
	return 0;
}

int sim_pci_cfg_read(struct sim_machine *m, uint16_t segment, uint16_t bdf, uint16_t offset,
		     unsigned int size, uint32_t *value)
{
	const struct sim_pci_cfg_ops *ops;
	void *opaque;
	int ret = pci_cfg_check(offset, size);

	if (ret < 0 || !value)
		return ret < 0 ? ret : -EINVAL;
	pthread_mutex_lock(&m->pci_lock);
	ops = m->pci_ops;
	opaque = m->pci_opaque;
	pthread_mutex_unlock(&m->pci_lock);
	*value = (uint32_t)all_ones(size);
	if (ops && ops->read)
		return ops->read(opaque, segment, bdf, offset, size, value);
	return 0;
}

int sim_pci_cfg_write(struct sim_machine *m, uint16_t segment, uint16_t bdf, uint16_t offset,
		      unsigned int size, uint32_t value)
{
	const struct sim_pci_cfg_ops *ops;
	void *opaque;
	int ret = pci_cfg_check(offset, size);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&m->pci_lock);
	ops = m->pci_ops;
	opaque = m->pci_opaque;
	pthread_mutex_unlock(&m->pci_lock);
	if (ops && ops->write)
		return ops->write(opaque, segment, bdf, offset, size,
				  value & (uint32_t)all_ones(size));
	return 0;
}
