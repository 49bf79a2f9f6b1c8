// SPDX-License-Identifier: BSD-2-Clause
/*
 * The ITS-style platform: the translation service as the root MSI parent.
 *
 * Each interrupt below the domain is one (device, event) -> LPI mapping.
 * Allocation picks the event ids (an aligned power-of-two range for
 * multi-MSI) from the device's event table and one LPI per event; the
 * device's event table (ITT) is created at its first allocation, grown
 * (remapped) when a later allocation finds it full, and dropped with its
 * last event.  Activation maps the event (MAPTI) onto the
 * collection of the target CPU with the LPI disabled; the core's startup
 * unmask enables it.  Everything the service caches is followed by an INV
 * and a SYNC; the SYNC's completion is CREADR reaching CWRITER.
 *
 * Ordering that matters:
 *  - unmask: the enable bit is written to memory before the INV that makes
 *    the service load it; a pending LPI is delivered by that INV, once;
 *  - retarget: MOVI moves the LPI and its pending state together, so an
 *    event that arrives before, during or after the move is delivered
 *    exactly once (a notification already sent to the old CPU finds
 *    nothing there in the acknowledge register and is ignored);
 *  - teardown: DISCARD (unmapped, pending dropped) and SYNC before the
 *    LPI and the event id are reused.
 *
 * Register layouts: sim/sim_its.h.
 */
#include <irqkit/its.h>
#include <irqkit/msi.h>
#include <irqkit/x86.h>

#include "core/internals.h"

/* ---- Registers ---------------------------------------------------------------- */

#define ITS_CTLR	0x0000
#define ITS_TYPER	0x0008
#define ITS_CBASER	0x0080
#define ITS_CWRITER	0x0088
#define ITS_CREADR	0x0090
#define ITS_PROPBASER	0x00A0
#define ITS_TRANSLATER	0x10040
#define ITS_CPU_BASE	0x20000
#define ITS_CPU_STRIDE	0x100
#define ITS_NOTIFY_ADDR	0x00
#define ITS_NOTIFY_DATA	0x04
#define ITS_NOTIFY_CTRL	0x08
#define ITS_IAR		0x10

#define ITS_LPI_NONE	1023u
#define ITS_MAX_COLLECTIONS 64u

#define CMD_MOVI	0x01
#define CMD_INT		0x03
#define CMD_SYNC	0x05
#define CMD_MAPD	0x08
#define CMD_MAPC	0x09
#define CMD_MAPTI	0x0A
#define CMD_INV		0x0C
#define CMD_DISCARD	0x0F
#define CMD_VALID	IK_BIT64(63)

#define QUEUE_BYTES	4096u
#define CMD_BYTES	32u
#define ITT_GRANULE	256u		/* ITT alignment and allocation unit */
#define LPI_PRIO	0xA0u		/* configuration byte: priority, enable clear */
#define LPI_ENABLE	0x01u
#define CMD_POLL_LIMIT	(1u << 20)
#define ITS_MAX_RANGE 32u		/* multi-MSI: at most 32 vectors */

struct its_device {
	struct its_device *next;
	uint32_t devid;
	unsigned int bits;              /* 2^bits events */
	uint64_t itt;                   /* physical */
	unsigned int itt_granules;
	unsigned int used;
	uint64_t *events;               /* bitmap of allocated event ids */
	struct its_irq *irqs;           /* every interrupt with an event here */
};

struct its_irq {
	struct its_device *dev;
	uint32_t event;
	uint32_t lpi;
	unsigned int cpu;
	bool mapped;
	bool enabled;
	bool first;                     /* frees the event range */
	unsigned int range;             /* events in the range (first only) */
	struct its_irq *dev_next, **dev_pprev;  /* on dev->irqs */
	struct its_irq *cpu_next, **cpu_pprev;  /* on its.cpu_lpis[cpu] while mapped */
	unsigned int virq;
};

static struct {
	bool ready;
	struct ik_irq_domain *domain;
	uint64_t base;
	uint64_t queue, prop, pool;
	unsigned int id_bits, nr_lpis, pool_granules;
	unsigned int lpi_next;          /* where the LPI search starts (next fit) */
	ik_spinlock_t lock;             /* everything below */
	uint64_t *lpi_map;              /* allocated LPIs (index = lpi - base) */
	uint64_t *pool_map;             /* allocated ITT granules */
	struct its_device *devices;
	unsigned int nr_devices;
	uint32_t tail;                  /* CWRITER */
	unsigned int notify_irq[ITS_MAX_COLLECTIONS];
	/* Mapped LPIs per target CPU: an offline walks its CPU's, not every interrupt. */
	struct its_irq *cpu_lpis[ITS_MAX_COLLECTIONS];
	unsigned int cpu_nr[ITS_MAX_COLLECTIONS];
	struct ik_its_stats stats;
	uint64_t handled, spurious;     /* __atomic: counted by the notification handlers */
} its;

static const struct ik_irq_chip its_chip;

/* ---- Bitmaps ---------------------------------------------------------------------- */

static bool bit_test(const uint64_t *map, unsigned int i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

static void bits_assign(uint64_t *map, unsigned int first, unsigned int n, bool set)
{
	for (unsigned int i = first; i < first + n; i++) {
		if (set)
			map[i / 64] |= IK_BIT64(i % 64);
		else
			map[i / 64] &= ~IK_BIT64(i % 64);
	}
}

/* Lowest free run of @n bits aligned to @align in @size bits; -1 if none. */
static int bits_find(const uint64_t *map, unsigned int size, unsigned int n, unsigned int align)
{
	for (unsigned int base = 0; base + n <= size; base += align) {
		unsigned int i;

		for (i = 0; i < n && !bit_test(map, base + i); i++)
			;
		if (i == n)
			return (int)base;
	}
	return -1;
}

/*
 * A free LPI (index from IK_ITS_LPI_BASE), next fit from the last one
 * taken, skipping full words: allocating N LPIs costs O(N), not O(N^2)
 * (100k interrupts in the benchmark).  ITS lock held; -1 if none.
 */
static int lpi_find_locked(void)
{
	for (unsigned int n = 0; n < its.nr_lpis;) {
		unsigned int i = (its.lpi_next + n) % its.nr_lpis;

		if (!(i % 64) && its.lpi_map[i / 64] == ~0ull) {
			n += 64;
			continue;
		}
		if (!bit_test(its.lpi_map, i)) {
			its.lpi_next = (i + 1) % its.nr_lpis;
			return (int)i;
		}
		n++;
	}
	return -1;
}

static unsigned int roundup_pow2(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static unsigned int ilog2_u(unsigned int n)
{
	unsigned int l = 0;

	while (n >>= 1)
		l++;
	return l;
}

/* ---- Command queue ------------------------------------------------------------------ */

/* Queue one command; it runs at the next its_sync_locked(). ITS lock held. */
static void its_cmd_locked(uint64_t dw0, uint64_t dw1, uint64_t dw2)
{
	uint64_t pa = its.queue + its.tail;

	ik_lockdep_assert_held(&its.lock);
	ik_os_mmio_write64(pa, dw0);
	ik_os_mmio_write64(pa + 8, dw1);
	ik_os_mmio_write64(pa + 16, dw2);
	ik_os_mmio_write64(pa + 24, 0);
	its.tail = (its.tail + CMD_BYTES) % QUEUE_BYTES;
	its.stats.commands++;
}

/*
 * Append a SYNC (to @cpu's interface), publish everything queued and wait
 * until the service has read past it.  Every caller syncs after at most a
 * few commands, so the queue (128 slots) never fills.  ITS lock held.
 */
static int its_sync_locked(unsigned int cpu)
{
	its_cmd_locked(CMD_SYNC, 0, (uint64_t)cpu << 16);
	its.stats.syncs++;
	ik_os_mmio_write64(its.base + ITS_CWRITER, its.tail);
	for (unsigned int n = 0; n < CMD_POLL_LIMIT; n++) {
		if ((ik_os_mmio_read64(its.base + ITS_CREADR) & 0xFFFE0ull) == its.tail)
			return 0;
		ik_os_cpu_relax();
	}
	its.stats.errors++;
	ik_err("irqkit: ITS: command queue did not complete\n");
	return -IK_EIO;
}

static uint64_t cmd_dev(unsigned int op, uint32_t devid)
{
	return op | (uint64_t)devid << 32;
}

/* ---- Per-CPU lists of mapped LPIs (ITS lock held) ------------------------------------- */

static void cpu_list_add_locked(struct its_irq *ii, unsigned int cpu)
{
	ii->cpu_next = its.cpu_lpis[cpu];
	ii->cpu_pprev = &its.cpu_lpis[cpu];
	if (ii->cpu_next)
		ii->cpu_next->cpu_pprev = &ii->cpu_next;
	its.cpu_lpis[cpu] = ii;
	its.cpu_nr[cpu]++;
}

static void cpu_list_del_locked(struct its_irq *ii)
{
	*ii->cpu_pprev = ii->cpu_next;
	if (ii->cpu_next)
		ii->cpu_next->cpu_pprev = ii->cpu_pprev;
	its.cpu_nr[ii->cpu]--;
	ii->cpu_next = NULL;
	ii->cpu_pprev = NULL;
}

/* ---- LPI configuration table ---------------------------------------------------------- */

/* One byte per LPI, reached as its aligned 32-bit word; the service only reads it. */
static void lpi_config_locked(uint32_t lpi, bool enable)
{
	uint64_t off = lpi - IK_ITS_LPI_BASE;
	uint64_t word = its.prop + (off & ~3ull);
	unsigned int shift = (unsigned int)(off & 3) * 8;
	uint32_t v = ik_os_mmio_read32(word);

	v &= ~(0xFFu << shift);
	v |= (LPI_PRIO | (enable ? LPI_ENABLE : 0)) << shift;
	ik_os_mmio_write32(word, v);
}

/* ---- Devices and their event tables ---------------------------------------------------- */

/*
 * Events the device's table gets at its first allocation: every MSI domain
 * the device has at that moment (MSI-X and IMS share the device id), at
 * least @nr, a power of two, at most 2^16.
 */
static unsigned int its_device_events(struct ik_device *dev, unsigned int nr)
{
	uint64_t total = 0;

	for (unsigned int id = 0; id < IK_MSI_MAX_DEVICE_DOMAINS; id++) {
		struct ik_irq_domain *d = ik_msi_get_device_domain(dev, id);
		const struct ik_msi_domain_info *info = d ? ik_msi_get_domain_info(d) : NULL;

		if (info)
			total += info->hwsize ? info->hwsize : IK_MSI_MAX_INDEX + 1ull;
	}
	if (total < nr)
		total = nr;
	if (total > (1u << IK_ITS_MAX_EVENT_BITS))
		total = 1u << IK_ITS_MAX_EVENT_BITS;
	return roundup_pow2(total < 2 ? 2 : (unsigned int)total);
}

static struct its_device *its_device_find_locked(uint32_t devid)
{
	for (struct its_device *d = its.devices; d; d = d->next)
		if (d->devid == devid)
			return d;
	return NULL;
}

/* Create the device's ITT and map it (MAPD + SYNC).  Sleepable; takes the ITS lock. */
static struct its_device *its_device_create(uint32_t devid, unsigned int events, int *err)
{
	unsigned int granules = IK_DIV_ROUND_UP(events * 8u, ITT_GRANULE);
	struct its_device *d, *raced;
	ik_irqflags_t flags;
	int first;

	d = ik_os_alloc(sizeof(*d));
	if (d)
		d->events = ik_os_alloc(IK_DIV_ROUND_UP(events, 64) * sizeof(uint64_t));
	if (!d || !d->events) {
		ik_os_free(d);
		*err = -IK_ENOMEM;
		return NULL;
	}
	d->devid = devid;
	d->bits = ilog2_u(events);
	d->itt_granules = granules;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	raced = its_device_find_locked(devid);
	if (raced) {
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_os_free(d->events);
		ik_os_free(d);
		return raced;
	}
	first = bits_find(its.pool_map, its.pool_granules, granules, 1);
	if (first < 0) {
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_err("irqkit: ITS: no memory for a %u-event table (device 0x%x)\n", events, devid);
		ik_os_free(d->events);
		ik_os_free(d);
		*err = -IK_ENOSPC;
		return NULL;
	}
	bits_assign(its.pool_map, (unsigned int)first, granules, true);
	d->itt = its.pool + (uint64_t)first * ITT_GRANULE;
	for (uint64_t off = 0; off < (uint64_t)granules * ITT_GRANULE; off += 8)
		ik_os_mmio_write64(d->itt + off, 0);
	its_cmd_locked(cmd_dev(CMD_MAPD, devid), d->bits - 1, d->itt | CMD_VALID);
	*err = its_sync_locked(0);
	if (*err) {
		bits_assign(its.pool_map, (unsigned int)first, granules, false);
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_os_free(d->events);
		ik_os_free(d);
		return NULL;
	}
	d->next = its.devices;
	its.devices = d;
	its.nr_devices++;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	return d;
}

/*
 * Grow @d's event table to 2^@bits events (a device whose later store --
 * IMS, another MSI domain -- needs more events than its first allocation
 * sized the table for).  Sleepable; takes the ITS lock.
 *
 * No event may be lost or misrouted meanwhile, while the device fires:
 *  - in place when the pool granules right after the table are free: the
 *    new tail is zeroed (invalid entries) first, then one MAPD with the
 *    same address and the larger size.  Every live entry stays where the
 *    service wrote it, so each translation finds either the old table or
 *    the larger one, both complete;
 *  - otherwise a new table elsewhere: MAPD to it, MAPTI of every live
 *    (activated) event with its LPI and current collection, and SYNC,
 *    queued together and published with ONE CWRITER write.  The service
 *    takes a published batch as a unit (sim_its.h: the commands run in the
 *    write), so no translation sees the new table half filled.  Hence a
 *    relocation needs the whole batch in the queue at once: at most
 *    (queue slots - 3) live events, else -IK_ENOSPC with nothing changed;
 *  - pending state belongs to the LPI, not to the table, and MAPTI keeps
 *    the collection, so an LPI pending across the remap stays pending and
 *    is notified where it was.  No MOVI can interleave: commands are
 *    queued under the ITS lock, which this holds throughout.
 * Return: 0; -IK_ENOMEM; -IK_ENOSPC (no ITT memory; too many live events
 * to relocate); -IK_EIO (the batch did not complete: the old table is
 * mapped back).
 */
static int its_device_grow(struct its_device *d, unsigned int bits)
{
	unsigned int events = 1u << bits, granules = IK_DIV_ROUND_UP(events * 8u, ITT_GRANULE);
	unsigned int old_first, live = 0;
	uint64_t *map, *old_map, itt;
	ik_irqflags_t flags;
	bool in_place = true;
	int first, ret;

	map = ik_os_alloc(IK_DIV_ROUND_UP(events, 64) * sizeof(uint64_t));
	if (!map)
		return -IK_ENOMEM;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	if (d->bits >= bits) {
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_os_free(map);
		return 0;
	}
	old_first = (unsigned int)((d->itt - its.pool) / ITT_GRANULE);
	if (old_first + granules > its.pool_granules)
		in_place = false;
	for (unsigned int g = old_first + d->itt_granules; in_place && g < old_first + granules; g++)
		in_place = !bit_test(its.pool_map, g);
	if (in_place) {
		first = (int)old_first;
	} else {
		for (struct its_irq *ii = d->irqs; ii; ii = ii->dev_next)
			live += ii->mapped;
		if (live + 3 > QUEUE_BYTES / CMD_BYTES) {
			ret = -IK_ENOSPC;
			ik_err("irqkit: ITS: device 0x%x: %u live events are too many to relocate its table\n",
			       d->devid, live);
			goto err_unlock;
		}
		first = bits_find(its.pool_map, its.pool_granules, granules, 1);
		if (first < 0) {
			ret = -IK_ENOSPC;
			ik_err("irqkit: ITS: no memory for a %u-event table (device 0x%x)\n", events,
			       d->devid);
			goto err_unlock;
		}
	}
	itt = its.pool + (uint64_t)first * ITT_GRANULE;
	/* Only what the service does not use yet: the tail, or the whole new table. */
	for (uint64_t off = in_place ? (uint64_t)d->itt_granules * ITT_GRANULE : 0;
	     off < (uint64_t)granules * ITT_GRANULE; off += 8)
		ik_os_mmio_write64(itt + off, 0);
	if (in_place)
		bits_assign(its.pool_map, old_first + d->itt_granules, granules - d->itt_granules, true);
	else
		bits_assign(its.pool_map, (unsigned int)first, granules, true);

	its_cmd_locked(cmd_dev(CMD_MAPD, d->devid), bits - 1, itt | CMD_VALID);
	for (struct its_irq *ii = in_place ? NULL : d->irqs; ii; ii = ii->dev_next)
		if (ii->mapped)
			its_cmd_locked(cmd_dev(CMD_MAPTI, d->devid), ii->event | (uint64_t)ii->lpi << 32,
				       ii->cpu);
	ret = its_sync_locked(0);
	if (ret) {
		/* Best effort: the old table, still intact, back in place. */
		its_cmd_locked(cmd_dev(CMD_MAPD, d->devid), d->bits - 1, d->itt | CMD_VALID);
		its_sync_locked(0);
		if (in_place)
			bits_assign(its.pool_map, old_first + d->itt_granules,
				    granules - d->itt_granules, false);
		else
			bits_assign(its.pool_map, (unsigned int)first, granules, false);
		goto err_unlock;
	}
	if (!in_place)
		bits_assign(its.pool_map, old_first, d->itt_granules, false);
	ik_memcpy(map, d->events, IK_DIV_ROUND_UP(1u << d->bits, 64) * sizeof(uint64_t));
	old_map = d->events;
	d->events = map;
	d->bits = bits;
	d->itt = itt;
	d->itt_granules = granules;
	its.stats.itt_grows++;
	if (!in_place)
		its.stats.itt_relocations++;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	ik_os_free(old_map);
	return 0;

err_unlock:
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	ik_os_free(map);
	return ret;
}

/* The device's last event went: unmap it and free its table.  ITS lock held. */
static void its_device_release_locked(struct its_device *d)
{
	struct its_device **pp;

	its_cmd_locked(cmd_dev(CMD_MAPD, d->devid), d->bits - 1, 0);
	its_sync_locked(0);
	for (pp = &its.devices; *pp != d; pp = &(*pp)->next)
		;
	*pp = d->next;
	its.nr_devices--;
	bits_assign(its.pool_map, (unsigned int)((d->itt - its.pool) / ITT_GRANULE), d->itt_granules,
		    false);
}

/* ---- Chip ------------------------------------------------------------------------------ */

static void its_set_enable(struct ik_irq_data *d, bool enable)
{
	struct its_irq *ii = d->chip_data;
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&its.lock);

	ii->enabled = enable;
	lpi_config_locked(ii->lpi, enable);
	if (ii->mapped) {
		its_cmd_locked(cmd_dev(CMD_INV, ii->dev->devid), ii->event, 0);
		its_sync_locked(ii->cpu);
	}
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
}

static void its_mask(struct ik_irq_data *d)
{
	its_set_enable(d, false);
}

static void its_unmask(struct ik_irq_data *d)
{
	its_set_enable(d, true);
}

/* The IAR read already acknowledged the LPI. */
static void its_ack(struct ik_irq_data *d)
{
	(void)d;
}

static int its_pick_cpu(const ik_cpumask_t *mask, bool force, unsigned int *cpu)
{
	unsigned int n = IK_MIN(ik_os_cpu_count(), ITS_MAX_COLLECTIONS);

	for (unsigned int c = ik_cpumask_first(mask); c < n; c = ik_cpumask_next(c + 1, mask)) {
		if ((force || ik_cpu_is_online(c)) && its.notify_irq[c]) {
			*cpu = c;
			return 0;
		}
	}
	return -IK_EINVAL;
}

static void its_update_effective(struct ik_irq_data *d, unsigned int cpu)
{
	ik_cpumask_t eff;

	ik_cpumask_clear(&eff);
	ik_cpumask_set_cpu(cpu, &eff);
	ik_irq_data_update_effective_affinity(d, &eff);
}

/* MOVI + SYNC: the message is unchanged, so the levels above write nothing. */
static int its_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	struct its_irq *ii = d->chip_data;
	ik_irqflags_t flags;
	unsigned int cpu;
	int ret = its_pick_cpu(mask, force, &cpu);

	if (ret)
		return ret;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	if (ii->mapped && cpu != ii->cpu) {
		its_cmd_locked(cmd_dev(CMD_MOVI, ii->dev->devid), ii->event, cpu);
		ret = its_sync_locked(cpu);
		its.stats.movis++;
		if (!ret) {
			cpu_list_del_locked(ii);
			cpu_list_add_locked(ii, cpu);
		}
	}
	if (!ret)
		ii->cpu = cpu;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	if (ret)
		return ret;
	its_update_effective(d, cpu);
	return IK_IRQ_SET_MASK_OK_DONE;
}

/* INT: the service makes the LPI pending again (resend of a lazily disabled edge). */
static int its_retrigger(struct ik_irq_data *d)
{
	struct its_irq *ii = d->chip_data;
	ik_irqflags_t flags;
	int ret = 0;

	flags = ik_os_spin_lock_irqsave(&its.lock);
	if (ii->mapped) {
		its_cmd_locked(cmd_dev(CMD_INT, ii->dev->devid), ii->event, 0);
		ret = its_sync_locked(ii->cpu) ? 0 : 1;
		its.stats.retriggers += ret;
	}
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	return ret;
}

static void its_compose_msi_msg(struct ik_irq_data *d, struct ik_msi_msg *msg)
{
	const struct its_irq *ii = d->chip_data;
	uint64_t doorbell = its.base + ITS_TRANSLATER;

	msg->address_lo = (uint32_t)doorbell;
	msg->address_hi = (uint32_t)(doorbell >> 32);
	msg->data = ii->event;
}

static const struct ik_irq_chip its_chip = {
	.name = "ITS",
	.irq_ack = its_ack,
	.irq_mask = its_mask,
	.irq_unmask = its_unmask,
	.irq_set_affinity = its_set_affinity,
	.irq_retrigger = its_retrigger,
	.irq_compose_msi_msg = its_compose_msi_msg,
};

/* ---- Domain ------------------------------------------------------------------------------ */

/*
 * Only MSI-core device domains pass an ik_msi_alloc_info.  The MSI_DEVICE
 * flag alone is not enough: a driver's own per-device domain (the test
 * device's) carries it with an argument of its own.
 */
static bool from_msi_device_domain(unsigned int virq)
{
	struct ik_irq_data *outer = ik_irq_get_irq_data(virq);

	return outer && ik_msi_get_domain_info(outer->domain);
}

/* Give back LPIs and events of @ii; the device goes with its last event. ITS lock held. */
static void its_irq_release_locked(struct its_irq *ii)
{
	struct its_device *dev = ii->dev;

	*ii->dev_pprev = ii->dev_next;
	if (ii->dev_next)
		ii->dev_next->dev_pprev = ii->dev_pprev;
	bits_assign(its.lpi_map, ii->lpi - IK_ITS_LPI_BASE, 1, false);
	its.stats.lpis_used--;
	if (ii->first) {
		bits_assign(dev->events, ii->event, ii->range, false);
		dev->used -= ii->range;
		if (!dev->used) {
			its_device_release_locked(dev);
			ii->dev = NULL;
			ik_os_free(dev->events);
			ik_os_free(dev);
		}
	}
}

static void its_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	ik_irqflags_t flags;

	/* Last to first: the range's first interrupt releases the range and the device. */
	for (unsigned int i = nr; i--;) {
		struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq + i);
		struct its_irq *ii = d ? d->chip_data : NULL;

		if (!ii)
			continue;
		flags = ik_os_spin_lock_irqsave(&its.lock);
		if (ii->mapped) {
			/* Deactivation discards the mapping; this is for a broken caller. */
			its_cmd_locked(cmd_dev(CMD_DISCARD, ii->dev->devid), ii->event, 0);
			its_sync_locked(0);
			cpu_list_del_locked(ii);
			ii->mapped = false;
		}
		its_irq_release_locked(ii);
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_irq_domain_reset_irq_data(d);
		ik_os_free(ii);
	}
}

/*
 * Find or create the device's table, take an aligned range of @nr event ids
 * and @nr LPIs, then the per-interrupt data.  Nothing reaches the service
 * before activation (except MAPD for a new device).
 */
static int its_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	struct ik_msi_alloc_info *ai = arg;
	struct its_irq *ii[ITS_MAX_RANGE] = { 0 };
	struct its_device *dev;
	unsigned int block, i;
	ik_irqflags_t flags;
	uint16_t segment, rid;
	int event, ret;

	if (!ai || !nr || !from_msi_device_domain(virq))
		return -IK_EINVAL;
	if (nr > ITS_MAX_RANGE) {
		ik_err("irqkit: ITS: %u events in one range exceed %u\n", nr, ITS_MAX_RANGE);
		return -IK_EINVAL;
	}
	if (!ai->dev || !ik_device_requester_id(ai->dev, &segment, &rid)) {
		ik_err("irqkit: %s: no requester id: no ITS device id\n",
		       ai->dev ? ik_device_name(ai->dev) : "(no device)");
		return -IK_EINVAL;
	}
	for (i = 0; i < nr; i++) {
		ii[i] = ik_os_alloc(sizeof(*ii[i]));
		if (!ii[i]) {
			ret = -IK_ENOMEM;
			goto err_free_data;
		}
	}
	flags = ik_os_spin_lock_irqsave(&its.lock);
	dev = its_device_find_locked(rid);
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	if (!dev) {
		dev = its_device_create(rid, its_device_events(ai->dev, nr), &ret);
		if (!dev)
			goto err_free_data;
	}

	block = roundup_pow2(nr);
	flags = ik_os_spin_lock_irqsave(&its.lock);
	for (;;) {
		unsigned int want;

		event = bits_find(dev->events, 1u << dev->bits, nr, block);
		if (event >= 0)
			break;
		/*
		 * Full: grow the table.  Doubling leaves its upper half free, so
		 * a range fits there unless it is larger than the old table.
		 * (Allocations below the ITS domain are serialised by the root
		 * domain's mutex, so @dev cannot go away meanwhile.)
		 */
		want = IK_MAX(dev->bits + 1, ilog2_u(block) + 1);
		if (want > IK_ITS_MAX_EVENT_BITS) {
			ret = -IK_ENOSPC;
			ik_err("irqkit: %s: ITS event table full (%u events, the most a device gets)\n",
			       ik_device_name(ai->dev), 1u << dev->bits);
			goto err_unlock;
		}
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ret = its_device_grow(dev, want);
		flags = ik_os_spin_lock_irqsave(&its.lock);
		if (ret) {
			ik_err("irqkit: %s: ITS event table (%u events) full and not grown: %d\n",
			       ik_device_name(ai->dev), 1u << dev->bits, ret);
			goto err_unlock;
		}
	}
	for (i = 0; i < nr; i++) {
		int lpi = lpi_find_locked();

		if (lpi < 0) {
			ret = -IK_ENOSPC;
			ik_err("irqkit: ITS: out of LPIs\n");
			while (i--) {
				bits_assign(its.lpi_map, ii[i]->lpi - IK_ITS_LPI_BASE, 1, false);
				its.stats.lpis_used--;
			}
			goto err_unlock;
		}
		bits_assign(its.lpi_map, (unsigned int)lpi, 1, true);
		its.stats.lpis_used++;
		ii[i]->lpi = (uint32_t)lpi + IK_ITS_LPI_BASE;
		ii[i]->dev = dev;
		ii[i]->event = (uint32_t)event + i;
		ii[i]->first = i == 0;
		ii[i]->range = nr;
		ii[i]->cpu = 0;
		ii[i]->virq = virq + i;
	}
	for (i = 0; i < nr; i++) {
		ii[i]->dev_next = dev->irqs;
		ii[i]->dev_pprev = &dev->irqs;
		if (dev->irqs)
			dev->irqs->dev_pprev = &ii[i]->dev_next;
		dev->irqs = ii[i];
	}
	bits_assign(dev->events, (unsigned int)event, nr, true);
	dev->used += nr;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);

	for (i = 0; i < nr; i++) {
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, ii[i]->lpi, &its_chip, ii[i]);
		/*
		 * An LPI has no active state: after a move, the next event can
		 * be taken on the new CPU while the old one still runs the
		 * handler.  The fasteoi flow then keeps it (PENDING) and the old
		 * CPU resends it (INT) when its handler is done.
		 */
		ik_irqd_set(ik_irq_domain_get_irq_data(domain, virq + i),
			    IK_IRQD_RESEND_WHEN_IN_PROGRESS);
	}
	return 0;

err_unlock:
	/* A device created for this call and still unused goes again. */
	if (!dev->used) {
		its_device_release_locked(dev);
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
		ik_os_free(dev->events);
		ik_os_free(dev);
	} else {
		ik_os_spin_unlock_irqrestore(&its.lock, flags);
	}
err_free_data:
	for (i = 0; i < nr; i++)
		ik_os_free(ii[i]);
	return ret;
}

/* Map the event onto the target's collection, disabled; startup unmasks it. */
static int its_activate(struct ik_irq_domain *domain, struct ik_irq_data *d, bool reserve)
{
	struct its_irq *ii = d->chip_data;
	ik_irqflags_t flags;
	unsigned int cpu;
	int ret;

	(void)domain;
	(void)reserve;
	ret = its_pick_cpu(&d->common->affinity, false, &cpu);
	if (ret)
		ret = its_pick_cpu(ik_cpu_online_mask(), false, &cpu);
	if (ret)
		return -IK_ENOSPC;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	lpi_config_locked(ii->lpi, ii->enabled);
	its_cmd_locked(cmd_dev(CMD_MAPTI, ii->dev->devid), ii->event | (uint64_t)ii->lpi << 32, cpu);
	its_cmd_locked(cmd_dev(CMD_INV, ii->dev->devid), ii->event, 0);
	ret = its_sync_locked(cpu);
	if (!ret) {
		ii->mapped = true;
		ii->cpu = cpu;
		cpu_list_add_locked(ii, cpu);
	}
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	if (!ret)
		its_update_effective(d, cpu);
	return ret;
}

static void its_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *d)
{
	struct its_irq *ii = d->chip_data;
	ik_irqflags_t flags;

	(void)domain;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	if (ii->mapped) {
		ii->enabled = false;
		lpi_config_locked(ii->lpi, false);
		its_cmd_locked(cmd_dev(CMD_DISCARD, ii->dev->devid), ii->event, 0);
		if (its_sync_locked(ii->cpu))
			ik_err("irqkit: irq %u: ITS event %u discarded without completion\n", d->irq,
			       ii->event);
		cpu_list_del_locked(ii);
		ii->mapped = false;
	}
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
}

static const struct ik_irq_domain_ops its_domain_ops = {
	.alloc = its_alloc,
	.free = its_free,
	.activate = its_activate,
	.deactivate = its_deactivate,
};

/*
 * Masking is at the destination: a store that can mask (MSI-X, IMS) keeps
 * its mask callbacks, but without MASK_SOURCE the core uses them only to
 * open the store at startup and close it at shutdown; at runtime only the
 * LPI's enable bit moves.
 */
static int its_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
				 struct ik_irq_domain *real_parent,
				 struct ik_msi_domain_info *info)
{
	info->flags &= ~IK_MSI_FLAG_MASK_SOURCE;
	/* LPIs take the fasteoi flow, as on a GICv3 (see its_alloc: resend when in progress). */
	if (!info->handler)
		info->handler = ik_handle_fasteoi_irq;
	return ik_msi_lib_init_dev_msi_info(dev, domain, real_parent, info);
}

/*
 * What the service offers device domains: MSI-X (no dynamic allocation
 * after enable: the platform's contract), multi-MSI as event
 * ranges, device stores; masking always at the destination.
 */
static const struct ik_msi_parent_ops its_msi_parent_ops = {
	.supported_flags = IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_MULTI_PCI_MSI |
			   IK_MSI_FLAG_DEVICE_MSI,
	.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS |
			  IK_MSI_FLAG_MASK_PARENT,
	.bus_select_mask = IK_BIT(IK_MSI_BUS_PCI_MSI) | IK_BIT(IK_MSI_BUS_PCI_MSIX) |
			   IK_BIT(IK_MSI_BUS_IMS) | IK_BIT(IK_MSI_BUS_NTB) |
			   IK_BIT(IK_MSI_BUS_DEVICE),
	.prefix = "ITS-",
	.init_dev_msi_info = its_init_dev_msi_info,
};

/* ---- LPI notification (one per CPU, from the vector domain) -------------------------- */

/*
 * Drain this CPU's acknowledge register.  A notification whose LPI moved
 * away (MOVI) or was already taken finds nothing, which is normal.
 */
static ik_irqreturn_t its_notify(unsigned int irq, void *dev_id)
{
	unsigned int cpu = (unsigned int)(uintptr_t)dev_id;
	uint64_t iar = its.base + ITS_CPU_BASE + (uint64_t)cpu * ITS_CPU_STRIDE + ITS_IAR;

	(void)irq;
	for (;;) {
		uint32_t lpi = ik_os_mmio_read32(iar);
		int virq;

		if (lpi == ITS_LPI_NONE || lpi < IK_ITS_LPI_BASE)
			break;
		virq = ik_irq_domain_find_mapping(its.domain, lpi);
		if (virq > 0 && !ik_generic_handle_irq((unsigned int)virq)) {
			__atomic_fetch_add(&its.handled, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_add(&its.spurious, 1, __ATOMIC_RELAXED);
		}
	}
	return IK_IRQ_HANDLED;
}

static void its_notify_teardown(void)
{
	unsigned int n = IK_MIN(ik_os_cpu_count(), ITS_MAX_COLLECTIONS);

	for (unsigned int c = 0; c < n; c++) {
		unsigned int irq = its.notify_irq[c];

		if (!irq)
			continue;
		ik_os_mmio_write32(its.base + ITS_CPU_BASE + c * ITS_CPU_STRIDE + ITS_NOTIFY_CTRL, 0);
		ik_free_irq(irq, (void *)(uintptr_t)c);
		ik_irq_domain_free_irqs(irq, 1);
		its.notify_irq[c] = 0;
	}
}

/* The collection and the notification interrupt of online @cpu. */
static int its_notify_setup(unsigned int cpu)
{
	uint64_t regs = its.base + ITS_CPU_BASE + (uint64_t)cpu * ITS_CPU_STRIDE;
	struct ik_irq_affinity_desc aff = { .is_managed = true };
	struct ik_msi_msg msg = { 0 };
	ik_irqflags_t flags;
	int irq, ret;

	ik_cpumask_clear(&aff.mask);
	ik_cpumask_set_cpu(cpu, &aff.mask);
	irq = ik_irq_domain_alloc_irqs(ik_x86_vector_domain(), 1, &aff, NULL);
	if (irq < 0)
		return irq;
	ret = ik_request_irq((unsigned int)irq, its_notify, IK_IRQF_NO_DEBUG, "ITS-LPI",
			     (void *)(uintptr_t)cpu);
	if (ret) {
		ik_irq_domain_free_irqs((unsigned int)irq, 1);
		return ret;
	}
	its.notify_irq[cpu] = (unsigned int)irq;
	ret = ik_irq_chip_compose_msi_msg(ik_irq_get_irq_data((unsigned int)irq), &msg);
	if (ret)
		return ret;
	ik_os_mmio_write32(regs + ITS_NOTIFY_ADDR, msg.address_lo);
	ik_os_mmio_write32(regs + ITS_NOTIFY_DATA, msg.data);
	ik_os_mmio_write32(regs + ITS_NOTIFY_CTRL, 1);
	flags = ik_os_spin_lock_irqsave(&its.lock);
	its_cmd_locked(CMD_MAPC, 0, cpu | (uint64_t)cpu << 16 | CMD_VALID);
	ret = its_sync_locked(cpu);
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	return ret;
}

/* ---- CPU hotplug ------------------------------------------------------------------------ */

struct its_offline {
	unsigned int cpu;
	int ret;
};

/*
 * Move one LPI off the dying CPU through the core (MOVI + SYNC at the ITS
 * level), or shut it down if it is managed and no CPU of its mask is left.
 */
static int its_migrate_one(unsigned int irq, void *arg)
{
	struct its_offline *off = arg;
	struct ik_irq_data *d = ik_irq_domain_get_irq_data(its.domain, irq);
	struct ik_irq_data *outer;
	struct ik_irq_desc *desc;
	const struct its_irq *ii;
	ik_irqflags_t flags;
	ik_cpumask_t mask;
	int ret = 0;

	if (!d || !d->chip_data)
		return 0;
	desc = ik_irq_to_desc(irq);
	outer = desc ? ik_irq_desc_get_irq_data(desc) : NULL;
	if (!outer)
		return 0;
	ii = d->chip_data;
	flags = ik_irq_desc_lock(desc);
	if (ii->mapped && ii->cpu == off->cpu) {
		if (ik_irqd_test(outer, IK_IRQD_SETAFFINITY_PENDING))
			ik_cpumask_copy(&mask, &desc->pending_mask);
		else
			ik_cpumask_copy(&mask, &outer->common->affinity);
		/*
		 * Pass the requested mask itself, not its online part: the ITS
		 * picks an online CPU of it anyway, and the requested affinity
		 * (reported apart from the effective one) keeps the dying CPU.
		 */
		if (!ik_cpumask_intersects(&mask, ik_cpu_online_mask())) {
			if (ik_irqd_test(outer, IK_IRQD_AFFINITY_MANAGED)) {
				/*
				 * As on x86: shut down (DISCARD; the store is closed,
				 * so a later event waits in it) and restarted by
				 * ik_irq_affinity_online_cpu() when a CPU of the
				 * mask returns, the driver's disable depth kept.
				 */
				ik_irq_shutdown_managed(desc);
				goto out_unlock;
			}
			ik_cpumask_copy(&mask, ik_cpu_online_mask());
		}
		ret = ik_irq_do_set_affinity(outer, &mask, false);
		if (ret < 0) {
			ik_err("irqkit: irq %u: cannot move its LPI off cpu %u: %d\n", irq, off->cpu,
			       ret);
			off->ret = ret;
		}
	}
out_unlock:
	ik_irq_desc_unlock(desc, flags);
	return 0;
}

int ik_its_cpu_offline(unsigned int cpu)
{
	struct its_offline off = { .cpu = cpu, .ret = 0 };
	unsigned int *irqs, nr, n;
	ik_irqflags_t flags;

	if (!ik_its_domain() || cpu >= ITS_MAX_COLLECTIONS || !its.notify_irq[cpu])
		return -IK_ENODEV;
	if (ik_cpu_is_online(cpu))
		return -IK_EBUSY;
	/* Notifications would hit a shut-down vector; pending LPIs wait in the service. */
	ik_os_mmio_write32(its.base + ITS_CPU_BASE + cpu * ITS_CPU_STRIDE + ITS_NOTIFY_CTRL, 0);
	/*
	 * Walk a snapshot of the LPIs mapped to @cpu (moves relink them), so
	 * the offline costs time in the LPIs it moves, not in every interrupt
	 * of the system.  No memory for it: walk everything.
	 */
	flags = ik_os_spin_lock_irqsave(&its.lock);
	nr = its.cpu_nr[cpu];
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	irqs = nr ? ik_os_alloc(nr * sizeof(*irqs)) : NULL;
	if (nr && !irqs) {
		ik_irq_for_each(its_migrate_one, &off);
		return off.ret;
	}
	flags = ik_os_spin_lock_irqsave(&its.lock);
	n = 0;
	for (struct its_irq *ii = its.cpu_lpis[cpu]; ii && n < nr; ii = ii->cpu_next)
		irqs[n++] = ii->virq;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	for (unsigned int i = 0; i < n; i++)
		its_migrate_one(irqs[i], &off);
	ik_os_free(irqs);
	return off.ret;
}

int ik_its_cpu_online(unsigned int cpu)
{
	uint64_t regs = its.base + ITS_CPU_BASE + (uint64_t)cpu * ITS_CPU_STRIDE;
	struct ik_msi_msg msg = { 0 };
	int ret;

	if (!ik_its_domain() || cpu >= ITS_MAX_COLLECTIONS || cpu >= ik_os_cpu_count())
		return -IK_ENODEV;
	if (!ik_cpu_is_online(cpu))
		return -IK_EINVAL;
	if (!its.notify_irq[cpu])
		return its_notify_setup(cpu);
	/* The managed notification interrupt was restarted, maybe on another vector. */
	ret = ik_irq_chip_compose_msi_msg(ik_irq_get_irq_data(its.notify_irq[cpu]), &msg);
	if (ret)
		return ret;
	ik_os_mmio_write32(regs + ITS_NOTIFY_ADDR, msg.address_lo);
	ik_os_mmio_write32(regs + ITS_NOTIFY_DATA, msg.data);
	ik_os_mmio_write32(regs + ITS_NOTIFY_CTRL, 1);
	return 0;
}

/* ---- Init / exit ------------------------------------------------------------------------- */

int ik_its_init(const struct ik_its_config *cfg)
{
	unsigned int bits, ncpu;
	uint64_t typer, fixed;
	int ret;

	if (its.ready)
		return -IK_EBUSY;
	if (!cfg || !ik_x86_vector_domain() || (cfg->mem_phys & 0xFFF))
		return -IK_EINVAL;
	bits = cfg->id_bits ? cfg->id_bits : 14;
	if (bits < 14 || bits > IK_ITS_MAX_ID_BITS)
		return -IK_EINVAL;
	fixed = IK_ITS_MEM_FIXED(bits);
	if (cfg->mem_size < fixed + ITT_GRANULE)
		return -IK_EINVAL;
	typer = ik_os_mmio_read64(cfg->its_base + ITS_TYPER);
	if (!typer || typer == ~0ull || ((typer >> 24) & 0xFF) != 8) {
		ik_err("irqkit: no ITS at 0x%llx\n", (unsigned long long)cfg->its_base);
		return -IK_ENODEV;
	}

	ik_os_spin_init(&its.lock);
	its.base = cfg->its_base;
	its.id_bits = bits;
	its.nr_lpis = (1u << bits) - IK_ITS_LPI_BASE;
	its.queue = cfg->mem_phys;
	its.prop = cfg->mem_phys + 0x1000;
	its.pool = cfg->mem_phys + fixed;
	its.pool_granules = (unsigned int)IK_MIN((cfg->mem_size - fixed) / ITT_GRANULE, 1u << 24);
	its.tail = 0;
	its.lpi_next = 0;
	its.devices = NULL;
	its.nr_devices = 0;
	ik_memset(&its.stats, 0, sizeof(its.stats));
	__atomic_store_n(&its.handled, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&its.spurious, 0, __ATOMIC_RELAXED);
	ik_memset(its.notify_irq, 0, sizeof(its.notify_irq));
	ik_memset(its.cpu_lpis, 0, sizeof(its.cpu_lpis));
	ik_memset(its.cpu_nr, 0, sizeof(its.cpu_nr));
	its.lpi_map = ik_os_alloc(IK_DIV_ROUND_UP(its.nr_lpis, 64) * sizeof(uint64_t));
	its.pool_map = ik_os_alloc(IK_DIV_ROUND_UP(its.pool_granules, 64) * sizeof(uint64_t));
	ret = -IK_ENOMEM;
	if (!its.lpi_map || !its.pool_map)
		goto err_free_maps;
	its.domain = ik_irq_domain_create_hierarchy(NULL, IK_IRQ_DOMAIN_FLAG_MSI_PARENT |
						    IK_IRQ_DOMAIN_FLAG_MSI_REMAP,
						    1ull << bits, "ITS", &its_domain_ops, NULL);
	if (!its.domain)
		goto err_free_maps;
	ret = ik_msi_parent_set_ops(its.domain, &its_msi_parent_ops);
	if (ret)
		goto err_remove_domain;

	/* Off while it is set up: nothing is translated through stale tables. */
	ik_os_mmio_write32(its.base + ITS_CTLR, 0);
	for (uint64_t off = 0; off < its.nr_lpis; off += 4)
		ik_os_mmio_write32(its.prop + off, LPI_PRIO * 0x01010101u);
	ik_os_mmio_write64(its.base + ITS_CBASER, its.queue | CMD_VALID);       /* one page */
	ik_os_mmio_write64(its.base + ITS_CWRITER, 0);
	ik_os_mmio_write64(its.base + ITS_PROPBASER, its.prop | (bits - 1));
	ncpu = IK_MIN(ik_os_cpu_count(), ITS_MAX_COLLECTIONS);
	for (unsigned int c = 0; c < ncpu; c++) {
		if (!ik_cpu_is_online(c))
			continue;
		ret = its_notify_setup(c);
		if (ret)
			goto err_notify;
	}
	ik_os_mmio_write32(its.base + ITS_CTLR, 1);
	its.stats.lpis = its.nr_lpis;
	IK_WRITE_ONCE(its.ready, true);
	return 0;

err_notify:
	its_notify_teardown();
	ik_os_mmio_write64(its.base + ITS_CBASER, 0);
err_remove_domain:
	ik_irq_domain_remove(its.domain);
	its.domain = NULL;
err_free_maps:
	ik_os_free(its.lpi_map);
	ik_os_free(its.pool_map);
	its.lpi_map = its.pool_map = NULL;
	return ret;
}

int ik_its_exit(void)
{
	if (!its.ready)
		return 0;
	if (ik_irq_domain_mapcount(its.domain))
		return -IK_EBUSY;
	ik_os_mmio_write32(its.base + ITS_CTLR, 0);
	its_notify_teardown();
	if (ik_irq_domain_remove(its.domain))
		return -IK_EBUSY;
	IK_WRITE_ONCE(its.ready, false);
	its.domain = NULL;
	ik_os_mmio_write64(its.base + ITS_CBASER, 0);
	ik_os_free(its.lpi_map);
	ik_os_free(its.pool_map);
	its.lpi_map = its.pool_map = NULL;
	return 0;
}

/* ---- Queries ------------------------------------------------------------------------------- */

struct ik_irq_domain *ik_its_domain(void)
{
	return IK_READ_ONCE(its.ready) ? its.domain : NULL;
}

int ik_its_irq_info(unsigned int irq, struct ik_its_irq_info *info)
{
	struct ik_irq_data *d = ik_its_domain() ? ik_irq_domain_get_irq_data(its.domain, irq) : NULL;
	const struct its_irq *ii;
	ik_irqflags_t flags;

	if (!d || !d->chip_data || !info)
		return -IK_ENOENT;
	ii = d->chip_data;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	info->devid = ii->dev->devid;
	info->event = ii->event;
	info->lpi = ii->lpi;
	info->cpu = ii->cpu;
	info->itt_events = 1u << ii->dev->bits;
	info->mapped = ii->mapped;
	info->enabled = ii->enabled;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	return 0;
}

int ik_its_get_stats(struct ik_its_stats *stats)
{
	ik_irqflags_t flags;
	uint64_t bytes = 0;

	if (!ik_its_domain() || !stats)
		return -IK_ENODEV;
	flags = ik_os_spin_lock_irqsave(&its.lock);
	*stats = its.stats;
	stats->devices = its.nr_devices;
	for (struct its_device *d = its.devices; d; d = d->next)
		bytes += (uint64_t)d->itt_granules * ITT_GRANULE;
	stats->itt_bytes_used = bytes;
	ik_os_spin_unlock_irqrestore(&its.lock, flags);
	stats->handled = __atomic_load_n(&its.handled, __ATOMIC_RELAXED);
	stats->spurious = __atomic_load_n(&its.spurious, __ATOMIC_RELAXED);
	return 0;
}
