// SPDX-License-Identifier: BSD-2-Clause
/*
 * An ITS-style interrupt translation service (sim_its.h has the layouts).
 *
 * One mutex protects the model.  Notifications (MSIs to the CPUs) are
 * collected as a CPU mask while it is held and written after it is
 * dropped, so no simulator lock is held while a message is delivered.
 * Memory (command queue, ITTs, LPI configuration table) is reached with
 * sim_dma_read/sim_dma_write, which take no lock of ours.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_its.h"

#define NR_IDS		(1u << SIM_ITS_MAX_ID_BITS)
#define NR_DEVICES	(1u << 16)
#define ITT_VALID	(1ull << 63)

struct its_device {
	uint64_t itt;
	uint8_t bits;
	bool valid;
};

struct sim_its {
	struct sim_machine *m;
	uint64_t base;
	pthread_mutex_t lock;
	uint32_t ctlr;
	uint64_t cbaser, cwriter, creadr, propbaser;
	uint32_t err;
	unsigned int id_bits;
	struct its_device *devices;             /* NR_DEVICES */
	int cols[SIM_ITS_NR_COLLECTIONS];       /* target CPU, -1 = unmapped */
	uint8_t *cache;                         /* NR_IDS: cached configuration bytes */
	uint16_t *lpi_col;                      /* NR_IDS: ICID + 1, 0 = not mapped */
	uint64_t pending[NR_IDS / 64];
	struct {
		uint32_t addr, data, ctrl;
	} cpu[SIM_MAX_CPUS];
	struct sim_its_stats stats;
};

static bool lpi_valid(struct sim_its *its, uint64_t lpi)
{
	return lpi >= SIM_ITS_LPI_BASE && lpi < (1ull << its->id_bits) && its->propbaser;
}

static uint64_t prop_base(struct sim_its *its)
{
	return its->propbaser & 0x000FFFFFFFFFF000ull;
}

static uint8_t lpi_config_mem(struct sim_its *its, uint32_t lpi)
{
	return (uint8_t)sim_dma_read(its->m, prop_base(its) + (lpi - SIM_ITS_LPI_BASE), 1);
}

static bool pending_test(struct sim_its *its, uint32_t lpi)
{
	return (its->pending[lpi / 64] >> (lpi % 64)) & 1;
}

static void pending_set(struct sim_its *its, uint32_t lpi, bool on)
{
	if (on)
		its->pending[lpi / 64] |= 1ull << (lpi % 64);
	else
		its->pending[lpi / 64] &= ~(1ull << (lpi % 64));
}

/* The CPU an LPI is notified on, or -1. */
static int lpi_cpu(struct sim_its *its, uint32_t lpi)
{
	unsigned int col = its->lpi_col[lpi];

	return col ? its->cols[col - 1] : -1;
}

/* Pending + enabled + routed: mark its CPU for a notification. */
static void lpi_check(struct sim_its *its, uint32_t lpi, uint64_t *notify)
{
	int cpu;

	if (!pending_test(its, lpi) || !(its->cache[lpi] & 1))
		return;
	cpu = lpi_cpu(its, lpi);
	if (cpu >= 0)
		*notify |= 1ull << cpu;
}

static void send_notifies(struct sim_its *its, uint64_t notify)
{
	for (unsigned int cpu = 0; notify && cpu < SIM_MAX_CPUS; cpu++) {
		uint32_t addr, data, ctrl;

		if (!(notify & (1ull << cpu)))
			continue;
		notify &= ~(1ull << cpu);
		pthread_mutex_lock(&its->lock);
		addr = its->cpu[cpu].addr;
		data = its->cpu[cpu].data;
		ctrl = its->cpu[cpu].ctrl;
		if (ctrl & 1)
			its->stats.notifies++;
		pthread_mutex_unlock(&its->lock);
		if (ctrl & 1)
			sim_msi_deliver(its->m, addr, data);
	}
}

/* ---- Translation --------------------------------------------------------------- */

static bool itt_lookup(struct sim_its *its, uint32_t devid, uint32_t event, uint64_t *entry)
{
	struct its_device *d = &its->devices[devid & (NR_DEVICES - 1)];

	if (devid >= NR_DEVICES || !d->valid || event >= (1u << d->bits))
		return false;
	*entry = sim_dma_read(its->m, d->itt + 8ull * event, 8);
	return (*entry & ITT_VALID) != 0;
}

static void its_doorbell(void *opaque, uint16_t requester_id, uint64_t addr, uint32_t data)
{
	struct sim_its *its = opaque;
	struct its_device *d = &its->devices[requester_id];
	uint64_t notify = 0, entry;
	uint32_t lpi;

	if (addr != its->base + SIM_ITS_TRANSLATER)
		return; /* the rest of the frame takes no device writes */
	pthread_mutex_lock(&its->lock);
	if (!(its->ctlr & 1)) {
		its->stats.dropped_disabled++;
	} else if (!d->valid) {
		its->stats.dropped_unmapped_device++;
	} else if (data >= (1u << d->bits)) {
		its->stats.dropped_event_range++;
	} else if (!itt_lookup(its, requester_id, data, &entry) ||
		   !lpi_valid(its, (uint32_t)entry)) {
		its->stats.dropped_unmapped_event++;
	} else {
		lpi = (uint32_t)entry;
		its->stats.translations++;
		if (pending_test(its, lpi))
			its->stats.coalesced++;
		pending_set(its, lpi, true);
		if (its->cache[lpi] != lpi_config_mem(its, lpi))
			its->stats.stale_hits++;
		lpi_check(its, lpi, &notify);
	}
	pthread_mutex_unlock(&its->lock);
	send_notifies(its, notify);
}

/* ---- Commands -------------------------------------------------------------------- */

static int cmd_event(struct sim_its *its, uint32_t devid, uint32_t event, uint64_t *entry,
		     bool need_valid)
{
	struct its_device *d;

	if (devid >= NR_DEVICES)
		return 1;
	d = &its->devices[devid];
	if (!d->valid)
		return 1;
	if (event >= (1u << d->bits))
		return 2;
	*entry = sim_dma_read(its->m, d->itt + 8ull * event, 8);
	if (need_valid && !(*entry & ITT_VALID))
		return 3;
	return 0;
}

static void itt_write(struct sim_its *its, uint32_t devid, uint32_t event, uint64_t entry)
{
	sim_dma_write(its->m, its->devices[devid].itt + 8ull * event, entry, 8);
}

/* One command; returns 0 or a reason (recorded in ERR). Lock held. */
static int run_command(struct sim_its *its, const uint64_t dw[4], uint64_t *notify)
{
	unsigned int op = dw[0] & 0xFF;
	uint32_t devid = (uint32_t)(dw[0] >> 32), event = (uint32_t)dw[1];
	uint32_t lpi = (uint32_t)(dw[1] >> 32);
	unsigned int icid = dw[2] & 0xFFFF;
	uint64_t target = (dw[2] >> 16) & 0x7FFFFFFFFull;
	uint64_t entry = 0;
	int r;

	switch (op) {
	case SIM_ITS_CMD_MAPD:
		if (devid >= NR_DEVICES || (dw[1] & 0x1F) + 1 > SIM_ITS_EVENT_BITS)
			return 4;
		its->devices[devid].valid = (dw[2] >> 63) & 1;
		its->devices[devid].bits = (uint8_t)((dw[1] & 0x1F) + 1);
		its->devices[devid].itt = dw[2] & 0x000FFFFFFFFFFF00ull;
		return 0;
	case SIM_ITS_CMD_MAPC:
		if (icid >= SIM_ITS_NR_COLLECTIONS || ((dw[2] >> 63) && target >= sim_nr_cpus(its->m)))
			return 5;
		its->cols[icid] = (dw[2] >> 63) ? (int)target : -1;
		return 0;
	case SIM_ITS_CMD_MAPI:
		lpi = event;
		/* fall through */
	case SIM_ITS_CMD_MAPTI:
		r = cmd_event(its, devid, event, &entry, false);
		if (r)
			return r;
		if (!lpi_valid(its, lpi))
			return 6;
		if (icid >= SIM_ITS_NR_COLLECTIONS)
			return 5;
		itt_write(its, devid, event, ITT_VALID | (uint64_t)icid << 32 | lpi);
		its->lpi_col[lpi] = (uint16_t)(icid + 1);
		lpi_check(its, lpi, notify);
		return 0;
	case SIM_ITS_CMD_MOVI:
		r = cmd_event(its, devid, event, &entry, true);
		if (r)
			return r;
		if (icid >= SIM_ITS_NR_COLLECTIONS)
			return 5;
		lpi = (uint32_t)entry;
		itt_write(its, devid, event, (entry & ~(0xFFFFull << 32)) | (uint64_t)icid << 32);
		if (lpi_valid(its, lpi)) {
			its->lpi_col[lpi] = (uint16_t)(icid + 1);
			lpi_check(its, lpi, notify);
		}
		its->stats.movis++;
		return 0;
	case SIM_ITS_CMD_DISCARD:
		r = cmd_event(its, devid, event, &entry, true);
		if (r)
			return r;
		itt_write(its, devid, event, 0);
		lpi = (uint32_t)entry;
		if (lpi_valid(its, lpi)) {
			pending_set(its, lpi, false);
			its->lpi_col[lpi] = 0;
		}
		return 0;
	case SIM_ITS_CMD_INT:
	case SIM_ITS_CMD_CLEAR:
	case SIM_ITS_CMD_INV:
		r = cmd_event(its, devid, event, &entry, true);
		if (r)
			return r;
		lpi = (uint32_t)entry;
		if (!lpi_valid(its, lpi))
			return 6;
		if (op == SIM_ITS_CMD_INV) {
			its->cache[lpi] = lpi_config_mem(its, lpi);
			its->stats.invs++;
		} else {
			pending_set(its, lpi, op == SIM_ITS_CMD_INT);
		}
		lpi_check(its, lpi, notify);
		return 0;
	case SIM_ITS_CMD_INVALL:
		if (icid >= SIM_ITS_NR_COLLECTIONS)
			return 5;
		for (uint32_t l = SIM_ITS_LPI_BASE; lpi_valid(its, l); l++) {
			if (its->lpi_col[l] == icid + 1) {
				its->cache[l] = lpi_config_mem(its, l);
				lpi_check(its, l, notify);
			}
		}
		its->stats.invs++;
		return 0;
	case SIM_ITS_CMD_SYNC:
		if (target >= sim_nr_cpus(its->m))
			return 7;
		its->stats.syncs++;
		return 0;
	default:
		return 8;
	}
}

static uint64_t queue_bytes(struct sim_its *its)
{
	return ((its->cbaser & 0xFF) + 1) * 4096;
}

static void run_queue(struct sim_its *its, uint64_t *notify)
{
	uint64_t base = its->cbaser & 0x000FFFFFFFFFF000ull;
	uint64_t size = queue_bytes(its);

	if (!(its->cbaser >> 63))
		return;
	while (its->creadr != its->cwriter) {
		uint64_t dw[4];
		int r;

		for (unsigned int i = 0; i < 4; i++)
			dw[i] = sim_dma_read(its->m, base + its->creadr + 8 * i, 8);
		its->stats.commands++;
		r = run_command(its, dw, notify);
		if (r) {
			its->err = (uint32_t)(dw[0] & 0xFF) << 8 | (uint32_t)r;
			its->stats.cmd_errors++;
		}
		its->creadr = (its->creadr + 32) % size;
	}
}

/* ---- Registers --------------------------------------------------------------------- */

static uint32_t iar(struct sim_its *its, unsigned int cpu)
{
	for (unsigned int w = SIM_ITS_LPI_BASE / 64; w < NR_IDS / 64; w++) {
		uint64_t bits = its->pending[w];

		while (bits) {
			uint32_t lpi = w * 64 + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			if ((its->cache[lpi] & 1) && lpi_cpu(its, lpi) == (int)cpu) {
				pending_set(its, lpi, false);
				its->stats.acks++;
				return lpi;
			}
		}
	}
	return SIM_ITS_LPI_NONE;
}

static uint64_t its_read(void *opaque, uint64_t off, unsigned int size)
{
	struct sim_its *its = opaque;
	uint64_t v = 0;

	pthread_mutex_lock(&its->lock);
	if (size == 8) {
		switch (off) {
		case SIM_ITS_TYPER:
			v = (SIM_ITS_EVENT_BITS - 1) | (16ull - 1) << 8 |
			    (uint64_t)(SIM_ITS_NR_COLLECTIONS - 1) << 16 | 8ull << 24;
			break;
		case SIM_ITS_CBASER: v = its->cbaser; break;
		case SIM_ITS_CWRITER: v = its->cwriter; break;
		case SIM_ITS_CREADR: v = its->creadr; break;
		case SIM_ITS_PROPBASER: v = its->propbaser; break;
		}
	} else if (size == 4) {
		if (off == SIM_ITS_CTLR) {
			v = its->ctlr;
		} else if (off == SIM_ITS_ERR) {
			v = its->err;
		} else if (off >= SIM_ITS_CPU_BASE &&
			   off < SIM_ITS_CPU_BASE + (uint64_t)SIM_ITS_CPU_STRIDE * sim_nr_cpus(its->m)) {
			unsigned int cpu = (unsigned int)((off - SIM_ITS_CPU_BASE) / SIM_ITS_CPU_STRIDE);

			switch ((off - SIM_ITS_CPU_BASE) % SIM_ITS_CPU_STRIDE) {
			case SIM_ITS_NOTIFY_ADDR: v = its->cpu[cpu].addr; break;
			case SIM_ITS_NOTIFY_DATA: v = its->cpu[cpu].data; break;
			case SIM_ITS_NOTIFY_CTRL: v = its->cpu[cpu].ctrl; break;
			case SIM_ITS_IAR: v = iar(its, cpu); break;
			}
		}
	}
	pthread_mutex_unlock(&its->lock);
	return v;
}

static void its_write(void *opaque, uint64_t off, uint64_t v, unsigned int size)
{
	struct sim_its *its = opaque;
	uint64_t notify = 0;

	pthread_mutex_lock(&its->lock);
	if (size == 8) {
		switch (off) {
		case SIM_ITS_CBASER:
			its->cbaser = v & (0x000FFFFFFFFFF000ull | 0xFF | 1ull << 63);
			its->creadr = 0;
			its->cwriter = 0;
			break;
		case SIM_ITS_CWRITER:
			its->cwriter = (v & 0xFFFE0ull) % queue_bytes(its);
			run_queue(its, &notify);
			break;
		case SIM_ITS_PROPBASER: {
			unsigned int bits = (unsigned int)(v & 0x1F) + 1;

			if (bits < 14 || bits > SIM_ITS_MAX_ID_BITS)
				bits = 14;
			its->propbaser = v & (0x000FFFFFFFFFF000ull | 0x1F);
			its->id_bits = bits;
			memset(its->cache, 0, NR_IDS);
			break;
		}
		}
	} else if (size == 4) {
		if (off == SIM_ITS_CTLR) {
			its->ctlr = (uint32_t)v & 1;
		} else if (off >= SIM_ITS_CPU_BASE &&
			   off < SIM_ITS_CPU_BASE + (uint64_t)SIM_ITS_CPU_STRIDE * sim_nr_cpus(its->m)) {
			unsigned int cpu = (unsigned int)((off - SIM_ITS_CPU_BASE) / SIM_ITS_CPU_STRIDE);

			switch ((off - SIM_ITS_CPU_BASE) % SIM_ITS_CPU_STRIDE) {
			case SIM_ITS_NOTIFY_ADDR: its->cpu[cpu].addr = (uint32_t)v; break;
			case SIM_ITS_NOTIFY_DATA: its->cpu[cpu].data = (uint32_t)v; break;
			case SIM_ITS_NOTIFY_CTRL:
				its->cpu[cpu].ctrl = (uint32_t)v & 1;
				/* Enabling the interface announces what is already waiting. */
				for (unsigned int w = SIM_ITS_LPI_BASE / 64; (v & 1) && w < NR_IDS / 64; w++)
					for (uint64_t b = its->pending[w]; b; b &= b - 1)
						lpi_check(its, w * 64 + (uint32_t)__builtin_ctzll(b),
							  &notify);
				notify &= 1ull << cpu;
				break;
			}
		}
	}
	pthread_mutex_unlock(&its->lock);
	send_notifies(its, notify);
}

static const struct sim_region_ops its_ops = {
	.read = its_read,
	.write = its_write,
};

static void its_free(void *arg)
{
	struct sim_its *its = arg;

	pthread_mutex_destroy(&its->lock);
	free(its->devices);
	free(its->cache);
	free(its->lpi_col);
	free(its);
}

struct sim_its *sim_its_create(struct sim_machine *m, const struct sim_its_config *cfg)
{
	uint64_t base = cfg && cfg->base ? cfg->base : SIM_ITS_DEFAULT_BASE;
	struct sim_its *its;

	if (!m || (base & (SIM_ITS_SIZE - 1)))
		return NULL;
	its = calloc(1, sizeof(*its));
	if (!its)
		return NULL;
	its->devices = calloc(NR_DEVICES, sizeof(*its->devices));
	its->cache = calloc(NR_IDS, 1);
	its->lpi_col = calloc(NR_IDS, sizeof(*its->lpi_col));
	if (!its->devices || !its->cache || !its->lpi_col)
		goto err_free;
	pthread_mutex_init(&its->lock, NULL);
	its->m = m;
	its->base = base;
	its->id_bits = 14;
	for (unsigned int i = 0; i < SIM_ITS_NR_COLLECTIONS; i++)
		its->cols[i] = -1;
	if (sim_map_region(m, base, SIM_ITS_SIZE, &its_ops, its, "its") < 0)
		goto err_destroy;
	if (sim_set_dma_rid_window(m, base + SIM_ITS_TRANSLATER, 4, its_doorbell, its) < 0)
		goto err_unmap;
	sim_machine_add_cleanup(m, its_free, its);
	return its;

err_unmap:
	sim_unmap_region(m, base);
err_destroy:
	pthread_mutex_destroy(&its->lock);
err_free:
	free(its->devices);
	free(its->cache);
	free(its->lpi_col);
	free(its);
	return NULL;
}

/* ---- Inspection ------------------------------------------------------------------------ */

void sim_its_get_stats(struct sim_its *its, struct sim_its_stats *out)
{
	pthread_mutex_lock(&its->lock);
	*out = its->stats;
	pthread_mutex_unlock(&its->lock);
}

bool sim_its_lpi_pending(struct sim_its *its, uint32_t lpi)
{
	bool r;

	pthread_mutex_lock(&its->lock);
	r = lpi < NR_IDS && pending_test(its, lpi);
	pthread_mutex_unlock(&its->lock);
	return r;
}

bool sim_its_lpi_cached_enabled(struct sim_its *its, uint32_t lpi)
{
	bool r;

	pthread_mutex_lock(&its->lock);
	r = lpi < NR_IDS && (its->cache[lpi] & 1);
	pthread_mutex_unlock(&its->lock);
	return r;
}

bool sim_its_device(struct sim_its *its, uint32_t devid, uint64_t *itt, unsigned int *event_bits)
{
	bool r = false;

	pthread_mutex_lock(&its->lock);
	if (devid < NR_DEVICES && its->devices[devid].valid) {
		if (itt)
			*itt = its->devices[devid].itt;
		if (event_bits)
			*event_bits = its->devices[devid].bits;
		r = true;
	}
	pthread_mutex_unlock(&its->lock);
	return r;
}

bool sim_its_event(struct sim_its *its, uint32_t devid, uint32_t event, uint32_t *lpi,
		   unsigned int *icid)
{
	uint64_t entry;
	bool r;

	pthread_mutex_lock(&its->lock);
	r = itt_lookup(its, devid, event, &entry);
	pthread_mutex_unlock(&its->lock);
	if (r && lpi)
		*lpi = (uint32_t)entry;
	if (r && icid)
		*icid = (unsigned int)(entry >> 32) & 0xFFFF;
	return r;
}

int sim_its_collection_cpu(struct sim_its *its, unsigned int icid)
{
	int r;

	pthread_mutex_lock(&its->lock);
	r = icid < SIM_ITS_NR_COLLECTIONS ? its->cols[icid] : -1;
	pthread_mutex_unlock(&its->lock);
	return r;
}
