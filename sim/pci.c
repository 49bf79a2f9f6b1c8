// SPDX-License-Identifier: BSD-2-Clause
/*
 * Simulated PCI: segments of buses with configuration space reached through
 * the machine's configuration hook and an ECAM window, and generic type-0
 * functions with memory BARs, MSI and MSI-X.  Register formats in sim_pci.h.
 *
 * Configuration space is a byte array with a write mask and an rw1c mask
 * per byte; read-only and hardware-owned fields are simply not in the write
 * mask.  Everything the hardware acts on (BAR decode, where the MSI-X table
 * is, MSI field layout) is derived from the bytes at the time it acts, so
 * whatever a test pokes there the model stays inside its own arrays.
 *
 * Locking: bus->lock (slot table) nests outside dev->lock (everything in a
 * function), which nests outside the machine's region lock.  No lock of
 * this file is held while a message is written or a device-model hook runs.
 */
#include <errno.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_pci.h"

#define CFG_SIZE 4096u
#define CAP_START 0x40u
#define MSG_BATCH 32u
#define CMD_RW_BITS (SIM_PCI_COMMAND_MEMORY | SIM_PCI_COMMAND_MASTER | SIM_PCI_COMMAND_PARITY | \
		     SIM_PCI_COMMAND_SERR | SIM_PCI_COMMAND_INTX_DISABLE)
#define STATUS_RW1C_BITS 0xF900u
#define MSI_MAX_VECTORS 32u

struct counters {
	uint64_t raised;
	uint64_t sent;
	uint64_t pending_set;
	uint64_t dropped_disabled;
	uint64_t dropped_no_bus_master;
	uint64_t dropped_bad_vector;
};

struct bar_window {
	struct sim_pci_dev *dev;
	unsigned int bar;
	bool mapped;
	uint64_t base;		/* where it is mapped */
	bool failed;		/* a map at failed_base was refused (counted once) */
	uint64_t failed_base;
	char name[32];
};

struct sim_pci_dev {
	struct sim_pci_bus *bus;
	struct sim_machine *m;
	uint16_t bdf;
	struct sim_pci_dev *all_next;	/* every function ever created on the bus */

	pthread_mutex_t lock;		/* protects everything below */
	bool present;
	struct sim_pci_dev_config conf;
	uint8_t msi_cap, msix_cap, pm_cap;
	uint8_t cfg[CFG_SIZE];
	uint8_t wmask[CFG_SIZE];
	uint8_t w1c[CFG_SIZE];
	struct bar_window win[6];

	struct sim_pci_msix_entry *table;
	uint64_t *pba;
	unsigned int table_cap;		/* entries allocated (table, pba bits) */

	struct counters stats;
	struct counters *vstats;
	unsigned int nr_vstats;
	uint64_t bar_conflicts;
	bool have_last;
	uint64_t last_addr;
	uint32_t last_data;
	/*
	 * Messages composed under the lock and still being written
	 * (threaded mode): a configuration or MMIO read completion, or a
	 * configuration write completion, may not pass them (PCIe ordering:
	 * completions never pass posted writes), so those accesses wait.
	 */
	unsigned int posted;
	pthread_cond_t posted_done;
};

struct sim_pci_bus {
	struct sim_machine *m;
	uint16_t segment;
	uint64_t ecam_base;
	unsigned int nr_buses;
	struct sim_pci_bus *next;	/* __atomic; next segment on the machine */

	pthread_mutex_t lock;		/* protects slots and all */
	struct sim_pci_dev **slots;	/* nr_buses * 256, indexed by bdf */
	struct sim_pci_dev *all;
};

struct message {
	uint64_t addr;
	uint32_t data;
};

/* ---- Configuration-space bytes ------------------------------------------------- */

static uint32_t cfg_get(const uint8_t *a, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < size; i++)
		if (off + i < CFG_SIZE)
			v |= (uint32_t)a[off + i] << (8 * i);
	return v;
}

static void cfg_set(uint8_t *a, unsigned int off, unsigned int size, uint32_t v)
{
	for (unsigned int i = 0; i < size; i++)
		if (off + i < CFG_SIZE)
			a[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t all_ones32(unsigned int size)
{
	return size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
}

static uint64_t all_ones64(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* ---- Statistics ------------------------------------------------------------------- */

static struct counters *vstat(struct sim_pci_dev *dev, unsigned int vector)
{
	return vector < dev->nr_vstats ? &dev->vstats[vector] : NULL;
}

#define VSTAT_INC(dev, vector, field)					\
	do {								\
		struct counters *c_ = vstat((dev), (vector));		\
		if (c_)							\
			c_->field++;					\
	} while (0)

static void record_send_locked(struct sim_pci_dev *dev, unsigned int vector,
			       const struct message *msg)
{
	dev->stats.sent++;
	VSTAT_INC(dev, vector, sent);
	dev->have_last = true;
	dev->last_addr = msg->addr;
	dev->last_data = msg->data;
}

/* ---- MSI-X table storage ----------------------------------------------------------- */

/* Grow table, PBA and per-vector counters to @n entries; false if out of memory. */
static bool ensure_table_locked(struct sim_pci_dev *dev, unsigned int n)
{
	unsigned int words, old_words, nv;

	if (n <= dev->table_cap)
		return true;
	if (n > SIM_PCI_MSIX_MAX_ENTRIES)
		return false;
	struct sim_pci_msix_entry *t = realloc(dev->table, n * sizeof(*t));

	if (!t)
		return false;
	dev->table = t;
	for (unsigned int i = dev->table_cap; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].ctrl = SIM_PCI_MSIX_ENTRY_CTRL_MASK;
	}
	words = (n + 63) / 64;
	old_words = (dev->table_cap + 63) / 64;
	if (words > old_words) {
		uint64_t *p = realloc(dev->pba, words * sizeof(*p));

		if (!p)
			return false;
		memset(p + old_words, 0, (words - old_words) * sizeof(*p));
		dev->pba = p;
	}
	nv = n > MSI_MAX_VECTORS ? n : MSI_MAX_VECTORS;
	if (nv > dev->nr_vstats) {
		struct counters *c = realloc(dev->vstats, nv * sizeof(*c));

		if (!c)
			return false;
		memset(c + dev->nr_vstats, 0, (nv - dev->nr_vstats) * sizeof(*c));
		dev->vstats = c;
		dev->nr_vstats = nv;
	}
	dev->table_cap = n;
	return true;
}

static bool pba_test(const struct sim_pci_dev *dev, unsigned int k)
{
	return k < dev->table_cap && (dev->pba[k / 64] >> (k % 64) & 1);
}

static void pba_set(struct sim_pci_dev *dev, unsigned int k, bool on)
{
	if (k >= dev->table_cap)
		return;
	if (on)
		dev->pba[k / 64] |= 1ull << (k % 64);
	else
		dev->pba[k / 64] &= ~(1ull << (k % 64));
}

/* ---- Capability decode (from the bytes as they are now) ------------------------------ */

struct msix_layout {
	bool present;
	uint16_t ctrl;
	unsigned int n;
	unsigned int table_bir, pba_bir;
	uint64_t table_off, pba_off;
};

static void msix_layout_locked(const struct sim_pci_dev *dev, struct msix_layout *l)
{
	uint32_t t, p;

	memset(l, 0, sizeof(*l));
	if (!dev->msix_cap)
		return;
	l->present = true;
	l->ctrl = (uint16_t)cfg_get(dev->cfg, dev->msix_cap + SIM_PCI_MSIX_FLAGS, 2);
	l->n = (l->ctrl & SIM_PCI_MSIX_FLAGS_QSIZE) + 1;
	t = cfg_get(dev->cfg, dev->msix_cap + SIM_PCI_MSIX_TABLE, 4);
	p = cfg_get(dev->cfg, dev->msix_cap + SIM_PCI_MSIX_PBA, 4);
	l->table_bir = t & SIM_PCI_MSIX_BIR_MASK;
	l->table_off = t & ~SIM_PCI_MSIX_BIR_MASK;
	l->pba_bir = p & SIM_PCI_MSIX_BIR_MASK;
	l->pba_off = p & ~SIM_PCI_MSIX_BIR_MASK;
}

struct msi_layout {
	bool present;
	uint16_t flags;
	bool enabled;
	bool is64;
	bool maskable;
	unsigned int nr_enabled;	/* N = 2^min(MME, MMC) */
	uint32_t implemented;		/* mask bits of the 2^MMC vectors */
	unsigned int data_off, mask_off, pending_off;	/* absolute */
};

static void msi_layout_locked(const struct sim_pci_dev *dev, struct msi_layout *l)
{
	unsigned int mmc, mme, base = dev->msi_cap;

	memset(l, 0, sizeof(*l));
	if (!base)
		return;
	l->present = true;
	l->flags = (uint16_t)cfg_get(dev->cfg, base + SIM_PCI_MSI_FLAGS, 2);
	l->enabled = l->flags & SIM_PCI_MSI_FLAGS_ENABLE;
	l->is64 = l->flags & SIM_PCI_MSI_FLAGS_64BIT;
	l->maskable = l->flags & SIM_PCI_MSI_FLAGS_MASKBIT;
	mmc = (l->flags >> 1) & 7;
	mme = (l->flags >> 4) & 7;
	if (mmc > 5)
		mmc = 5;
	if (mme > mmc)
		mme = mmc;
	l->nr_enabled = 1u << mme;
	l->implemented = mmc == 5 ? 0xFFFFFFFFu : (1u << (1u << mmc)) - 1;
	l->data_off = base + (l->is64 ? SIM_PCI_MSI_DATA_64 : SIM_PCI_MSI_DATA_32);
	l->mask_off = base + (l->is64 ? SIM_PCI_MSI_MASK_64 : SIM_PCI_MSI_MASK_32);
	l->pending_off = l->mask_off + 4;
}

static struct message msi_message_locked(const struct sim_pci_dev *dev, const struct msi_layout *l,
					 unsigned int v)
{
	struct message msg;
	uint32_t data = cfg_get(dev->cfg, l->data_off, 2);

	msg.addr = cfg_get(dev->cfg, dev->msi_cap + SIM_PCI_MSI_ADDRESS_LO, 4) & ~3u;
	if (l->is64)
		msg.addr |= (uint64_t)cfg_get(dev->cfg, dev->msi_cap + SIM_PCI_MSI_ADDRESS_HI, 4) << 32;
	msg.data = (data & ~(l->nr_enabled - 1)) | v;
	return msg;
}

static struct message msix_message_locked(const struct sim_pci_dev *dev, unsigned int k)
{
	const struct sim_pci_msix_entry *e = &dev->table[k];
	struct message msg = {
		.addr = (uint64_t)e->addr_hi << 32 | e->addr_lo,
		.data = e->data,
	};

	return msg;
}

static bool bus_master_locked(const struct sim_pci_dev *dev)
{
	return dev->present &&
	       (cfg_get(dev->cfg, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_MASTER);
}

/* ---- Pending delivery ------------------------------------------------------------------- */

/*
 * Take up to @cap pending vectors that are deliverable now, clearing their
 * pending bits (so each is sent exactly once).  Returns how many.
 */
static unsigned int collect_pending_locked(struct sim_pci_dev *dev, struct message *out,
					   unsigned int cap)
{
	struct msix_layout x;
	struct msi_layout l;
	unsigned int n = 0;

	if (!bus_master_locked(dev))
		return 0;
	msix_layout_locked(dev, &x);
	if (x.present && (x.ctrl & SIM_PCI_MSIX_FLAGS_ENABLE)) {
		unsigned int limit = x.n < dev->table_cap ? x.n : dev->table_cap;

		if (x.ctrl & SIM_PCI_MSIX_FLAGS_MASKALL)
			return 0;
		for (unsigned int w = 0; w < (limit + 63) / 64 && n < cap; w++) {
			uint64_t bits = dev->pba[w];

			while (bits && n < cap) {
				unsigned int k = w * 64 + (unsigned int)__builtin_ctzll(bits);

				bits &= bits - 1;
				if (k >= limit || (dev->table[k].ctrl & SIM_PCI_MSIX_ENTRY_CTRL_MASK))
					continue;
				pba_set(dev, k, false);
				out[n] = msix_message_locked(dev, k);
				record_send_locked(dev, k, &out[n]);
				n++;
			}
		}
		return n;
	}
	msi_layout_locked(dev, &l);
	if (!l.present || !l.enabled || !l.maskable)
		return 0;
	uint32_t pending = cfg_get(dev->cfg, l.pending_off, 4);
	uint32_t ready = pending & ~cfg_get(dev->cfg, l.mask_off, 4) & l.implemented;

	while (ready && n < cap) {
		unsigned int v = (unsigned int)__builtin_ctz(ready);

		ready &= ready - 1;
		pending &= ~(1u << v);
		/* A vector pending beyond the enabled ones is sent as it was latched. */
		out[n] = msi_message_locked(dev, &l, v < l.nr_enabled ? v : l.nr_enabled - 1);
		record_send_locked(dev, v, &out[n]);
		n++;
	}
	cfg_set(dev->cfg, l.pending_off, 4, pending);
	return n;
}

/* A posted message leaves the device: begin under dev->lock, end without it. */
static void posted_begin_locked(struct sim_pci_dev *dev)
{
	dev->posted++;
}

static void posted_end(struct sim_pci_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	if (!--dev->posted)
		pthread_cond_broadcast(&dev->posted_done);
	pthread_mutex_unlock(&dev->lock);
}

/* A completion from @dev is about to be returned: let its posted writes land first. */
static void posted_drain_locked(struct sim_pci_dev *dev)
{
	while (dev->posted)
		pthread_cond_wait(&dev->posted_done, &dev->lock);
}

static void deliver_pending(struct sim_pci_dev *dev)
{
	struct message batch[MSG_BATCH];
	unsigned int n;

	do {
		pthread_mutex_lock(&dev->lock);
		n = collect_pending_locked(dev, batch, MSG_BATCH);
		if (n)
			posted_begin_locked(dev);
		pthread_mutex_unlock(&dev->lock);
		for (unsigned int i = 0; i < n; i++)
			sim_dma_write32(dev->m, dev->bdf, batch[i].addr, batch[i].data);
		if (n)
			posted_end(dev);
	} while (n == MSG_BATCH);
}

/* ---- BARs ------------------------------------------------------------------------------- */

static bool bar_is_upper_half(const struct sim_pci_dev *dev, unsigned int i)
{
	return i > 0 && dev->conf.bars[i - 1].type == SIM_PCI_BAR_MEM64;
}

static uint64_t bar_address_locked(const struct sim_pci_dev *dev, unsigned int i)
{
	uint64_t base = cfg_get(dev->cfg, SIM_PCI_BAR0 + 4 * i, 4) & ~0xFull;

	if (dev->conf.bars[i].type == SIM_PCI_BAR_MEM64)
		base |= (uint64_t)cfg_get(dev->cfg, SIM_PCI_BAR0 + 4 * (i + 1), 4) << 32;
	return base;
}

static const struct sim_region_ops bar_ops;

/* Map or unmap every BAR to match the command register and BAR contents. */
static void update_bars_locked(struct sim_pci_dev *dev)
{
	bool mem = dev->present &&
		   (cfg_get(dev->cfg, SIM_PCI_COMMAND, 2) & SIM_PCI_COMMAND_MEMORY);

	for (unsigned int i = 0; i < 6; i++) {
		struct bar_window *w = &dev->win[i];
		uint64_t base;

		if (dev->conf.bars[i].type == SIM_PCI_BAR_NONE || bar_is_upper_half(dev, i))
			continue;
		base = bar_address_locked(dev, i);
		if (w->mapped && (!mem || w->base != base)) {
			sim_unmap_region(dev->m, w->base);
			w->mapped = false;
		}
		if (!mem) {
			w->failed = false;
			continue;
		}
		if (w->mapped)
			continue;
		/* Retried on every configuration write; counted once per address. */
		if (sim_map_region(dev->m, base, dev->conf.bars[i].size, &bar_ops, w, w->name) == 0) {
			w->mapped = true;
			w->base = base;
			w->failed = false;
		} else if (!w->failed || w->failed_base != base) {
			w->failed = true;
			w->failed_base = base;
			dev->bar_conflicts++;
		}
	}
}

/* MSI-X table: one dword at @off from the table start (entry = off / 16). */
static uint32_t table_read32_locked(const struct sim_pci_dev *dev, uint64_t off)
{
	const struct sim_pci_msix_entry *e = &dev->table[off / SIM_PCI_MSIX_ENTRY_SIZE];

	switch (off % SIM_PCI_MSIX_ENTRY_SIZE & ~3ull) {
	case SIM_PCI_MSIX_ENTRY_ADDR_LO:
		return e->addr_lo;
	case SIM_PCI_MSIX_ENTRY_ADDR_HI:
		return e->addr_hi;
	case SIM_PCI_MSIX_ENTRY_DATA:
		return e->data;
	default:
		return e->ctrl;
	}
}

/* Returns true if the write may have made a pending entry deliverable. */
static bool table_write32_locked(struct sim_pci_dev *dev, uint64_t off, uint32_t v)
{
	struct sim_pci_msix_entry *e = &dev->table[off / SIM_PCI_MSIX_ENTRY_SIZE];

	switch (off % SIM_PCI_MSIX_ENTRY_SIZE & ~3ull) {
	case SIM_PCI_MSIX_ENTRY_ADDR_LO:
		e->addr_lo = v & ~3u;
		return false;
	case SIM_PCI_MSIX_ENTRY_ADDR_HI:
		e->addr_hi = v;
		return false;
	case SIM_PCI_MSIX_ENTRY_DATA:
		e->data = v;
		return false;
	default:
		e->ctrl = v & SIM_PCI_MSIX_ENTRY_CTRL_MASK;
		return !(v & SIM_PCI_MSIX_ENTRY_CTRL_MASK);
	}
}

static uint32_t pba_read32_locked(const struct sim_pci_dev *dev, uint64_t off, unsigned int n)
{
	unsigned int first = (unsigned int)(off / 4) * 32;
	uint32_t v = 0;

	for (unsigned int b = 0; b < 32; b++)
		if (first + b < n && pba_test(dev, first + b))
			v |= 1u << b;
	return v;
}

enum bar_area { AREA_DEVICE, AREA_TABLE, AREA_PBA };

static enum bar_area classify_locked(struct sim_pci_dev *dev, unsigned int bar, uint64_t off,
				     uint64_t *rel, unsigned int *n)
{
	struct msix_layout l;

	msix_layout_locked(dev, &l);
	if (!l.present)
		return AREA_DEVICE;
	*n = l.n;
	if (l.table_bir == bar && off >= l.table_off &&
	    off - l.table_off < (uint64_t)l.n * SIM_PCI_MSIX_ENTRY_SIZE) {
		if (!ensure_table_locked(dev, l.n))
			return AREA_DEVICE;
		*rel = off - l.table_off;
		return AREA_TABLE;
	}
	if (l.pba_bir == bar && off >= l.pba_off && off - l.pba_off < (uint64_t)(l.n + 63) / 64 * 8) {
		if (!ensure_table_locked(dev, l.n))
			return AREA_DEVICE;
		*rel = off - l.pba_off;
		return AREA_PBA;
	}
	return AREA_DEVICE;
}

static uint32_t area_read32_locked(struct sim_pci_dev *dev, enum bar_area area, uint64_t rel,
				   unsigned int n)
{
	return area == AREA_TABLE ? table_read32_locked(dev, rel) : pba_read32_locked(dev, rel, n);
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct bar_window *w = opaque;
	struct sim_pci_dev *dev = w->dev;
	const struct sim_pci_bar_ops *ops;
	enum bar_area area;
	unsigned int n = 0;
	uint64_t rel = 0, v;

	if (offset & (size - 1))
		return ~0ull;
	pthread_mutex_lock(&dev->lock);
	posted_drain_locked(dev);
	if (!dev->present || !w->mapped) {
		pthread_mutex_unlock(&dev->lock);
		return ~0ull;
	}
	area = classify_locked(dev, w->bar, offset, &rel, &n);
	if (area != AREA_DEVICE) {
		if (size == 8) {
			v = area_read32_locked(dev, area, rel, n);
			v |= (uint64_t)area_read32_locked(dev, area, rel + 4, n) << 32;
		} else {
			v = area_read32_locked(dev, area, rel & ~3ull, n) >> (8 * (rel & 3));
			v &= all_ones64(size);
		}
		pthread_mutex_unlock(&dev->lock);
		return v;
	}
	pthread_mutex_unlock(&dev->lock);
	ops = dev->conf.bar_ops;
	if (ops && ops->read)
		return ops->read(dev->conf.bar_opaque, w->bar, offset, size);
	return 0;
}

static void bar_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct bar_window *w = opaque;
	struct sim_pci_dev *dev = w->dev;
	const struct sim_pci_bar_ops *ops;
	bool unmasked = false;
	enum bar_area area;
	unsigned int n = 0;
	uint64_t rel = 0;

	if (offset & (size - 1))
		return;
	pthread_mutex_lock(&dev->lock);
	if (!dev->present || !w->mapped) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	area = classify_locked(dev, w->bar, offset, &rel, &n);
	if (area == AREA_TABLE) {
		if (size == 8) {
			unmasked |= table_write32_locked(dev, rel, (uint32_t)value);
			unmasked |= table_write32_locked(dev, rel + 4, (uint32_t)(value >> 32));
		} else if (size == 4) {
			unmasked = table_write32_locked(dev, rel, (uint32_t)value);
		} else {
			unsigned int shift = 8 * (unsigned int)(rel & 3);
			uint32_t mask = all_ones32(size) << shift;
			uint32_t cur = table_read32_locked(dev, rel & ~3ull);

			cur = (cur & ~mask) | ((uint32_t)value << shift & mask);
			unmasked = table_write32_locked(dev, rel & ~3ull, cur);
		}
	}
	pthread_mutex_unlock(&dev->lock);
	if (area == AREA_DEVICE) {
		ops = dev->conf.bar_ops;
		if (ops && ops->write)
			ops->write(dev->conf.bar_opaque, w->bar, offset, value, size);
		return;
	}
	/* PBA writes are dropped (read-only). */
	if (unmasked)
		deliver_pending(dev);
}

static const struct sim_region_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* ---- Configuration access ------------------------------------------------------------------- */

static bool dev_cfg_read(struct sim_pci_dev *dev, unsigned int off, unsigned int size,
			 uint32_t *value)
{
	bool ok;

	pthread_mutex_lock(&dev->lock);
	posted_drain_locked(dev);
	ok = dev->present;
	if (ok)
		*value = cfg_get(dev->cfg, off, size);
	pthread_mutex_unlock(&dev->lock);
	return ok;
}

static void dev_cfg_write(struct sim_pci_dev *dev, unsigned int off, unsigned int size,
			  uint32_t value, bool raw)
{
	pthread_mutex_lock(&dev->lock);
	if (!raw)
		posted_drain_locked(dev);
	if (!dev->present) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	for (unsigned int i = 0; i < size && off + i < CFG_SIZE; i++) {
		unsigned int b = off + i;
		uint8_t v = (uint8_t)(value >> (8 * i));

		if (raw) {
			dev->cfg[b] = v;
			continue;
		}
		dev->cfg[b] = (uint8_t)((dev->cfg[b] & ~dev->wmask[b]) | (v & dev->wmask[b]));
		dev->cfg[b] &= (uint8_t)~(v & dev->w1c[b]);
	}
	update_bars_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	/* Enable, unmask, Function Mask clear, Bus Master Enable: all may release pending ones. */
	deliver_pending(dev);
}

static struct sim_pci_dev *bus_lookup(struct sim_pci_bus *bus, uint16_t bdf)
{
	struct sim_pci_dev *dev = NULL;

	if ((unsigned int)(bdf >> 8) >= bus->nr_buses)
		return NULL;
	pthread_mutex_lock(&bus->lock);
	dev = bus->slots[bdf];
	pthread_mutex_unlock(&bus->lock);
	return dev;
}

struct sim_pci_dev *sim_pci_bus_dev(struct sim_pci_bus *bus, uint16_t bdf)
{
	return bus ? bus_lookup(bus, bdf) : NULL;
}

static struct sim_pci_bus *find_segment(struct sim_pci_bus *first, uint16_t segment)
{
	for (struct sim_pci_bus *b = first; b; b = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE))
		if (b->segment == segment)
			return b;
	return NULL;
}

static int cfg_hook_read(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
			 unsigned int size, uint32_t *value)
{
	struct sim_pci_bus *bus = find_segment(opaque, segment);
	struct sim_pci_dev *dev = bus ? bus_lookup(bus, bdf) : NULL;

	*value = all_ones32(size);
	if (dev)
		dev_cfg_read(dev, offset, size, value);
	return 0;
}

static int cfg_hook_write(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
			  unsigned int size, uint32_t value)
{
	struct sim_pci_bus *bus = find_segment(opaque, segment);
	struct sim_pci_dev *dev = bus ? bus_lookup(bus, bdf) : NULL;

	if (dev)
		dev_cfg_write(dev, offset, size, value, false);
	return 0;
}

static const struct sim_pci_cfg_ops cfg_hook_ops = {
	.read = cfg_hook_read,
	.write = cfg_hook_write,
};

static bool ecam_access_ok(uint64_t offset, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && !(offset & (size - 1));
}

static uint64_t ecam_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct sim_pci_bus *bus = opaque;
	struct sim_pci_dev *dev;
	uint32_t v = all_ones32(size);

	if (!ecam_access_ok(offset, size))
		return ~0ull;
	dev = bus_lookup(bus, (uint16_t)(offset >> 12));
	if (dev)
		dev_cfg_read(dev, (unsigned int)(offset & 0xFFF), size, &v);
	return v;
}

static void ecam_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct sim_pci_bus *bus = opaque;
	struct sim_pci_dev *dev;

	if (!ecam_access_ok(offset, size))
		return;
	dev = bus_lookup(bus, (uint16_t)(offset >> 12));
	if (dev)
		dev_cfg_write(dev, (unsigned int)(offset & 0xFFF), size, (uint32_t)value, false);
}

static const struct sim_region_ops ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

/* ---- Bus lifetime ------------------------------------------------------------------------------ */

static void dev_free(struct sim_pci_dev *dev)
{
	pthread_cond_destroy(&dev->posted_done);
	pthread_mutex_destroy(&dev->lock);
	free(dev->table);
	free(dev->pba);
	free(dev->vstats);
	free(dev);
}

static void bus_free(void *arg)
{
	struct sim_pci_bus *bus = arg;

	while (bus->all) {
		struct sim_pci_dev *dev = bus->all;

		bus->all = dev->all_next;
		dev_free(dev);
	}
	pthread_mutex_destroy(&bus->lock);
	free(bus->slots);
	free(bus);
}

struct sim_pci_bus *sim_pci_bus_create(struct sim_machine *m, uint16_t segment,
				       uint64_t ecam_base, unsigned int nr_buses)
{
	struct sim_pci_bus *bus, *first;
	bool ok = true;

	if (!m || nr_buses < 1 || nr_buses > 256 || (ecam_base & 0xFFFFF))
		return NULL;
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	bus->slots = calloc((size_t)nr_buses * 256, sizeof(bus->slots[0]));
	if (!bus->slots) {
		free(bus);
		return NULL;
	}
	bus->m = m;
	bus->segment = segment;
	bus->ecam_base = ecam_base;
	bus->nr_buses = nr_buses;
	pthread_mutex_init(&bus->lock, NULL);

	/* The machine's handler is the first segment's; others chain behind it. */
	pthread_mutex_lock(&m->pci_lock);
	if (m->pci_ops && m->pci_ops != &cfg_hook_ops)
		ok = false;
	first = m->pci_ops ? m->pci_opaque : NULL;
	if (ok && first && find_segment(first, segment))
		ok = false;
	pthread_mutex_unlock(&m->pci_lock);
	if (ok && ecam_base &&
	    sim_map_region(m, ecam_base, (uint64_t)nr_buses << 20, &ecam_ops, bus, "ecam") < 0)
		ok = false;
	if (!ok) {
		bus_free(bus);
		return NULL;
	}
	pthread_mutex_lock(&m->pci_lock);
	if (!m->pci_ops) {
		m->pci_ops = &cfg_hook_ops;
		m->pci_opaque = bus;
	} else {
		struct sim_pci_bus *b = m->pci_opaque;

		while (b->next)
			b = b->next;
		__atomic_store_n(&b->next, bus, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&m->pci_lock);
	sim_machine_add_cleanup(m, bus_free, bus);
	return bus;
}

struct sim_machine *sim_pci_bus_machine(const struct sim_pci_bus *bus)
{
	return bus->m;
}

uint16_t sim_pci_bus_segment(const struct sim_pci_bus *bus)
{
	return bus->segment;
}

/* ---- Function creation ------------------------------------------------------------------------- */

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static bool bars_valid(const struct sim_pci_dev_config *c)
{
	for (unsigned int i = 0; i < 6; i++) {
		const struct sim_pci_bar_config *b = &c->bars[i];

		if (i > 0 && c->bars[i - 1].type == SIM_PCI_BAR_MEM64) {
			if (b->type != SIM_PCI_BAR_NONE)
				return false;
			continue;
		}
		switch (b->type) {
		case SIM_PCI_BAR_NONE:
			break;
		case SIM_PCI_BAR_MEM32:
			if (!is_pow2(b->size) || b->size < 16 || b->size > (1ull << 31) ||
			    (b->addr & (b->size - 1)) || b->addr + b->size > (1ull << 32))
				return false;
			break;
		case SIM_PCI_BAR_MEM64:
			if (i == 5 || !is_pow2(b->size) || b->size < 16 || b->size > (1ull << 62) ||
			    (b->addr & (b->size - 1)) || b->addr + b->size < b->addr)
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

static unsigned int msi_cap_size(const struct sim_pci_dev_config *c)
{
	if (c->msi_maskable)
		return c->msi_64bit ? 0x18 : 0x14;
	return c->msi_64bit ? 0x10 : 0x0C;
}

struct cap_place {
	bool want;
	uint8_t given;
	unsigned int size;
	uint8_t *out;
};

/* Place the capabilities in list order; false on overlap or a bad offset. */
static bool place_caps(struct cap_place *caps, unsigned int nr)
{
	unsigned int next = CAP_START;

	for (unsigned int i = 0; i < nr; i++) {
		unsigned int off;

		if (!caps[i].want)
			continue;
		off = caps[i].given ? caps[i].given : next;
		if (off < CAP_START || (off & 3) || off + caps[i].size > 0x100)
			return false;
		for (unsigned int j = 0; j < i; j++) {
			unsigned int o = *caps[j].out;

			if (caps[j].want && off < o + caps[j].size && o < off + caps[i].size)
				return false;
		}
		*caps[i].out = (uint8_t)off;
		next = off + caps[i].size;
	}
	return true;
}

static void set_rw(struct sim_pci_dev *dev, unsigned int off, unsigned int size, uint32_t wmask)
{
	cfg_set(dev->wmask, off, size, wmask);
}

static bool init_config(struct sim_pci_dev *dev)
{
	const struct sim_pci_dev_config *c = &dev->conf;
	struct cap_place caps[3] = {
		{ c->pm, c->pm_cap_offset, 8, &dev->pm_cap },
		{ c->msi, c->msi_cap_offset, msi_cap_size(c), &dev->msi_cap },
		{ c->msix, c->msix_cap_offset, 12, &dev->msix_cap },
	};
	uint8_t *prev_next = &dev->cfg[SIM_PCI_CAP_PTR];
	uint8_t *cfg = dev->cfg;

	if (!place_caps(caps, 3))
		return false;

	cfg_set(cfg, SIM_PCI_VENDOR_ID, 2, c->vendor_id);
	cfg_set(cfg, SIM_PCI_DEVICE_ID, 2, c->device_id);
	cfg_set(cfg, SIM_PCI_COMMAND, 2, c->command & CMD_RW_BITS);
	set_rw(dev, SIM_PCI_COMMAND, 2, CMD_RW_BITS);
	cfg_set(dev->w1c, SIM_PCI_STATUS, 2, STATUS_RW1C_BITS);
	cfg_set(cfg, SIM_PCI_REVISION_ID, 1, c->revision);
	cfg_set(cfg, SIM_PCI_CLASS_PROG, 3, c->class_code & 0xFFFFFF);
	set_rw(dev, SIM_PCI_CACHE_LINE_SIZE, 1, 0xFF);
	cfg_set(cfg, SIM_PCI_SUBSYS_VENDOR_ID, 2, c->subsys_vendor_id);
	cfg_set(cfg, SIM_PCI_SUBSYS_ID, 2, c->subsys_id);
	set_rw(dev, SIM_PCI_INTERRUPT_LINE, 1, 0xFF);
	cfg_set(cfg, SIM_PCI_INTERRUPT_PIN, 1, c->interrupt_pin);

	for (unsigned int i = 0; i < 6; i++) {
		const struct sim_pci_bar_config *b = &c->bars[i];
		unsigned int off = SIM_PCI_BAR0 + 4 * i;
		uint64_t sizemask = ~(b->size - 1);
		uint32_t flags = b->prefetchable ? SIM_PCI_BAR_PREFETCH : 0;

		dev->win[i].dev = dev;
		dev->win[i].bar = i;
		snprintf(dev->win[i].name, sizeof(dev->win[i].name), "pci %02x:%02x.%x bar%u",
			 dev->bdf >> 8, dev->bdf >> 3 & 0x1F, dev->bdf & 7, i);
		if (b->type == SIM_PCI_BAR_MEM32) {
			cfg_set(cfg, off, 4, (uint32_t)b->addr | flags);
			set_rw(dev, off, 4, (uint32_t)sizemask & ~0xFu);
		} else if (b->type == SIM_PCI_BAR_MEM64) {
			cfg_set(cfg, off, 4, (uint32_t)b->addr | flags | SIM_PCI_BAR_MEM_64);
			cfg_set(cfg, off + 4, 4, (uint32_t)(b->addr >> 32));
			set_rw(dev, off, 4, (uint32_t)sizemask & ~0xFu);
			set_rw(dev, off + 4, 4, (uint32_t)(sizemask >> 32));
		}
	}

	if (dev->pm_cap || dev->msi_cap || dev->msix_cap)
		cfg_set(cfg, SIM_PCI_STATUS, 2, SIM_PCI_STATUS_CAP_LIST);
	if (dev->pm_cap) {
		unsigned int p = dev->pm_cap;

		*prev_next = (uint8_t)p;
		cfg[p] = SIM_PCI_CAP_ID_PM;
		prev_next = &cfg[p + 1];
		cfg_set(cfg, p + 2, 2, 0x0003);
		set_rw(dev, p + 4, 2, 0x0003);
		cfg_set(dev->w1c, p + 4, 2, 0x8000);
	}
	if (dev->msi_cap) {
		unsigned int p = dev->msi_cap;
		struct msi_layout l;
		uint32_t flags = (c->msi_mmc_log2 << 1) | (c->msi_64bit ? SIM_PCI_MSI_FLAGS_64BIT : 0) |
				 (c->msi_maskable ? SIM_PCI_MSI_FLAGS_MASKBIT : 0);

		*prev_next = (uint8_t)p;
		cfg[p] = SIM_PCI_CAP_ID_MSI;
		prev_next = &cfg[p + 1];
		cfg_set(cfg, p + SIM_PCI_MSI_FLAGS, 2, flags);
		set_rw(dev, p + SIM_PCI_MSI_FLAGS, 2, SIM_PCI_MSI_FLAGS_ENABLE | SIM_PCI_MSI_FLAGS_QSIZE);
		set_rw(dev, p + SIM_PCI_MSI_ADDRESS_LO, 4, 0xFFFFFFFCu);
		msi_layout_locked(dev, &l);
		if (l.is64)
			set_rw(dev, p + SIM_PCI_MSI_ADDRESS_HI, 4, 0xFFFFFFFFu);
		set_rw(dev, l.data_off, 2, 0xFFFF);
		if (l.maskable)
			set_rw(dev, l.mask_off, 4, l.implemented);
	}
	if (dev->msix_cap) {
		unsigned int p = dev->msix_cap;

		*prev_next = (uint8_t)p;
		cfg[p] = SIM_PCI_CAP_ID_MSIX;
		prev_next = &cfg[p + 1];
		cfg_set(cfg, p + SIM_PCI_MSIX_FLAGS, 2, c->msix_table_size - 1);
		set_rw(dev, p + SIM_PCI_MSIX_FLAGS, 2,
		       SIM_PCI_MSIX_FLAGS_MASKALL | SIM_PCI_MSIX_FLAGS_ENABLE);
		cfg_set(cfg, p + SIM_PCI_MSIX_TABLE, 4, c->msix_table_offset | c->msix_table_bir);
		cfg_set(cfg, p + SIM_PCI_MSIX_PBA, 4, c->msix_pba_offset | c->msix_pba_bir);
	}
	*prev_next = 0;
	return true;
}

static bool config_valid(const struct sim_pci_dev_config *c)
{
	if (c->vendor_id == 0xFFFF || c->interrupt_pin > 4 || !bars_valid(c))
		return false;
	if (c->msi && c->msi_mmc_log2 > 5)
		return false;
	if (c->msix && (c->msix_table_size < 1 || c->msix_table_size > SIM_PCI_MSIX_MAX_ENTRIES ||
			c->msix_table_bir > 7 || c->msix_pba_bir > 7 ||
			(c->msix_table_offset & 7) || (c->msix_pba_offset & 7)))
		return false;
	return true;
}

/* Header type bit 7 of function 0 tracks whether other functions exist. */
static void update_multifunction_locked(struct sim_pci_bus *bus, uint16_t bdf)
{
	uint16_t base = bdf & ~7u;
	struct sim_pci_dev *f0 = bus->slots[base];
	bool multi = false;

	if (!f0)
		return;
	for (unsigned int f = 1; f < 8; f++)
		if (bus->slots[base | f])
			multi = true;
	pthread_mutex_lock(&f0->lock);
	if (multi)
		f0->cfg[SIM_PCI_HEADER_TYPE] |= SIM_PCI_HEADER_MULTIFUNCTION;
	else
		f0->cfg[SIM_PCI_HEADER_TYPE] &= (uint8_t)~SIM_PCI_HEADER_MULTIFUNCTION;
	pthread_mutex_unlock(&f0->lock);
}

struct sim_pci_dev *sim_pci_dev_create(struct sim_pci_bus *bus, uint16_t bdf,
				       const struct sim_pci_dev_config *cfg)
{
	struct sim_pci_dev *dev;

	if (!bus || !cfg || (unsigned int)(bdf >> 8) >= bus->nr_buses || !config_valid(cfg))
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->bus = bus;
	dev->m = bus->m;
	dev->bdf = bdf;
	dev->conf = *cfg;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->posted_done, NULL);
	if (!init_config(dev) || !ensure_table_locked(dev, cfg->msix ? cfg->msix_table_size : 1)) {
		dev_free(dev);
		return NULL;
	}
	pthread_mutex_lock(&bus->lock);
	if (bus->slots[bdf]) {
		pthread_mutex_unlock(&bus->lock);
		dev_free(dev);
		return NULL;
	}
	dev->all_next = bus->all;
	bus->all = dev;
	bus->slots[bdf] = dev;
	pthread_mutex_lock(&dev->lock);
	dev->present = true;
	update_bars_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	update_multifunction_locked(bus, bdf);
	pthread_mutex_unlock(&bus->lock);
	return dev;
}

void sim_pci_dev_destroy(struct sim_pci_dev *dev)
{
	struct sim_pci_bus *bus;

	if (!dev)
		return;
	bus = dev->bus;
	pthread_mutex_lock(&bus->lock);
	if (bus->slots[dev->bdf] == dev)
		bus->slots[dev->bdf] = NULL;
	pthread_mutex_lock(&dev->lock);
	dev->present = false;
	update_bars_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	update_multifunction_locked(bus, dev->bdf);
	pthread_mutex_unlock(&bus->lock);
}

bool sim_pci_dev_present(const struct sim_pci_dev *dev)
{
	struct sim_pci_dev *d = (struct sim_pci_dev *)dev;
	bool p;

	pthread_mutex_lock(&d->lock);
	p = d->present;
	pthread_mutex_unlock(&d->lock);
	return p;
}

uint16_t sim_pci_dev_bdf(const struct sim_pci_dev *dev)
{
	return dev->bdf;
}

struct sim_machine *sim_pci_dev_machine(const struct sim_pci_dev *dev)
{
	return dev->m;
}

struct sim_pci_bus *sim_pci_dev_bus(const struct sim_pci_dev *dev)
{
	return dev->bus;
}

uint8_t sim_pci_dev_msi_cap(const struct sim_pci_dev *dev)
{
	return dev->msi_cap;
}

uint8_t sim_pci_dev_msix_cap(const struct sim_pci_dev *dev)
{
	return dev->msix_cap;
}

uint8_t sim_pci_dev_pm_cap(const struct sim_pci_dev *dev)
{
	return dev->pm_cap;
}

/* ---- Raising vectors ---------------------------------------------------------------------------- */

static bool raise_msix_locked(struct sim_pci_dev *dev, const struct msix_layout *x,
			      unsigned int vector, struct message *msg)
{
	if (vector >= x->n || !ensure_table_locked(dev, x->n)) {
		dev->stats.dropped_bad_vector++;
		VSTAT_INC(dev, vector, dropped_bad_vector);
		return false;
	}
	VSTAT_INC(dev, vector, raised);
	if ((x->ctrl & SIM_PCI_MSIX_FLAGS_MASKALL) ||
	    (dev->table[vector].ctrl & SIM_PCI_MSIX_ENTRY_CTRL_MASK)) {
		pba_set(dev, vector, true);
		dev->stats.pending_set++;
		VSTAT_INC(dev, vector, pending_set);
		return false;
	}
	if (!bus_master_locked(dev)) {
		dev->stats.dropped_no_bus_master++;
		VSTAT_INC(dev, vector, dropped_no_bus_master);
		return false;
	}
	/* The entry as it stands, even if half-written. */
	*msg = msix_message_locked(dev, vector);
	record_send_locked(dev, vector, msg);
	return true;
}

static bool raise_msi_locked(struct sim_pci_dev *dev, const struct msi_layout *l,
			     unsigned int vector, struct message *msg)
{
	unsigned int v = vector < l->nr_enabled ? vector : l->nr_enabled - 1;

	VSTAT_INC(dev, v, raised);
	if (l->maskable && (cfg_get(dev->cfg, l->mask_off, 4) & (1u << v))) {
		cfg_set(dev->cfg, l->pending_off, 4, cfg_get(dev->cfg, l->pending_off, 4) | 1u << v);
		dev->stats.pending_set++;
		VSTAT_INC(dev, v, pending_set);
		return false;
	}
	if (!bus_master_locked(dev)) {
		dev->stats.dropped_no_bus_master++;
		VSTAT_INC(dev, v, dropped_no_bus_master);
		return false;
	}
	*msg = msi_message_locked(dev, l, v);
	record_send_locked(dev, v, msg);
	return true;
}

void sim_pci_dev_raise(struct sim_pci_dev *dev, unsigned int vector)
{
	struct message msg = { 0 };
	struct msix_layout x;
	struct msi_layout l;
	bool send = false;

	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	dev->stats.raised++;
	msix_layout_locked(dev, &x);
	msi_layout_locked(dev, &l);
	if (dev->present && x.present && (x.ctrl & SIM_PCI_MSIX_FLAGS_ENABLE)) {
		send = raise_msix_locked(dev, &x, vector, &msg);
	} else if (dev->present && l.present && l.enabled) {
		send = raise_msi_locked(dev, &l, vector, &msg);
	} else {
		dev->stats.dropped_disabled++;
		VSTAT_INC(dev, vector, raised);
		VSTAT_INC(dev, vector, dropped_disabled);
	}
	if (send)
		posted_begin_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	if (send) {
		sim_dma_write32(dev->m, dev->bdf, msg.addr, msg.data);
		posted_end(dev);
	}
}

bool sim_pci_dev_bus_master(struct sim_pci_dev *dev)
{
	bool bm;

	pthread_mutex_lock(&dev->lock);
	bm = bus_master_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	return bm;
}

bool sim_pci_dev_dma_write32_as(struct sim_pci_dev *dev, uint16_t requester_id, uint64_t addr,
				uint32_t value)
{
	if (!sim_pci_dev_bus_master(dev))
		return false;
	sim_dma_write32(dev->m, requester_id, addr, value);
	return true;
}

bool sim_pci_dev_dma_write32(struct sim_pci_dev *dev, uint64_t addr, uint32_t value)
{
	return sim_pci_dev_dma_write32_as(dev, dev->bdf, addr, value);
}

bool sim_pci_dev_bar_decoding(struct sim_pci_dev *dev, unsigned int bar, uint64_t *base)
{
	bool on = false;

	if (bar >= 6)
		return false;
	pthread_mutex_lock(&dev->lock);
	if (dev->win[bar].mapped) {
		on = true;
		if (base)
			*base = dev->win[bar].base;
	}
	pthread_mutex_unlock(&dev->lock);
	return on;
}

/* ---- Test support -------------------------------------------------------------------------------- */

void sim_pci_cfg_poke(struct sim_pci_dev *dev, uint16_t offset, unsigned int size, uint32_t value)
{
	if (!dev || !size || size > 4 || offset >= CFG_SIZE)
		return;
	dev_cfg_write(dev, offset, size, value, true);
}

uint32_t sim_pci_cfg_peek(struct sim_pci_dev *dev, uint16_t offset, unsigned int size)
{
	uint32_t v;

	if (!dev || !size || size > 4)
		return 0xFFFFFFFFu;
	pthread_mutex_lock(&dev->lock);
	v = cfg_get(dev->cfg, offset, size);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

static void counters_out(const struct counters *c, struct sim_pci_stats *out)
{
	out->raised = c->raised;
	out->sent = c->sent;
	out->pending_set = c->pending_set;
	out->dropped_disabled = c->dropped_disabled;
	out->dropped_no_bus_master = c->dropped_no_bus_master;
	out->dropped_bad_vector = c->dropped_bad_vector;
}

void sim_pci_dev_stats(struct sim_pci_dev *dev, struct sim_pci_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&dev->lock);
	counters_out(&dev->stats, out);
	out->bar_conflicts = dev->bar_conflicts;
	pthread_mutex_unlock(&dev->lock);
}

void sim_pci_dev_vector_stats(struct sim_pci_dev *dev, unsigned int vector,
			      struct sim_pci_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&dev->lock);
	if (vector < dev->nr_vstats)
		counters_out(&dev->vstats[vector], out);
	pthread_mutex_unlock(&dev->lock);
}

bool sim_pci_dev_last_msg(struct sim_pci_dev *dev, uint64_t *addr, uint32_t *data)
{
	bool have;

	pthread_mutex_lock(&dev->lock);
	have = dev->have_last;
	if (addr)
		*addr = dev->last_addr;
	if (data)
		*data = dev->last_data;
	pthread_mutex_unlock(&dev->lock);
	return have;
}

bool sim_pci_msix_entry(struct sim_pci_dev *dev, unsigned int index,
			struct sim_pci_msix_entry *out)
{
	struct msix_layout x;
	bool ok;

	pthread_mutex_lock(&dev->lock);
	msix_layout_locked(dev, &x);
	ok = x.present && index < x.n && index < dev->table_cap;
	if (ok && out)
		*out = dev->table[index];
	pthread_mutex_unlock(&dev->lock);
	return ok;
}

bool sim_pci_msix_pending(struct sim_pci_dev *dev, unsigned int index)
{
	bool p;

	pthread_mutex_lock(&dev->lock);
	p = pba_test(dev, index);
	pthread_mutex_unlock(&dev->lock);
	return p;
}

static uint32_t msi_reg(struct sim_pci_dev *dev, bool pending)
{
	struct msi_layout l;
	uint32_t v = 0;

	pthread_mutex_lock(&dev->lock);
	msi_layout_locked(dev, &l);
	if (l.present && l.maskable)
		v = cfg_get(dev->cfg, pending ? l.pending_off : l.mask_off, 4);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

uint32_t sim_pci_msi_mask_bits(struct sim_pci_dev *dev)
{
	return msi_reg(dev, false);
}

uint32_t sim_pci_msi_pending_bits(struct sim_pci_dev *dev)
{
	return msi_reg(dev, true);
}
