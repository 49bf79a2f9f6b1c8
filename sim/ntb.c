// SPDX-License-Identifier: BSD-2-Clause
/*
 * A switchtec-like NTB endpoint and its peer: an inbound MSI window that
 * translates peer writes into bus-master writes on the host side, publish
 * slots the host fills for the peer, doorbells, messages, and an outbound
 * memory window into peer memory.  Register layout in sim_ntb.h.
 *
 * Locking: one mutex per device, nested outside the PCI function's lock,
 * never held while a translated write is issued or a vector is raised.
 */
#include <errno.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_ntb.h"

#define CLASS_BRIDGE_OTHER 0x068000u
#define WIN_GRANULE 0x1000u

struct sim_ntb {
	struct sim_machine *m;
	struct sim_pci_dev *pci;
	uint64_t bar2_size;

	pthread_mutex_t lock;		/* protects everything below */
	bool link_up;
	uint32_t event_status, event_mask;
	uint32_t dma_rpc_status;
	uint32_t win_lo, win_hi, win_size;
	bool proxy;
	uint16_t proxy_rid;
	uint32_t db_status, db_mask, db_peer;
	uint32_t msg_in[SIM_NTB_NR_MSGS], msg_status, msg_mask;
	uint32_t msg_out[SIM_NTB_NR_MSGS];
	struct {
		uint32_t offset, data, ctrl;
	} publish[SIM_NTB_NR_PUBLISH];
	struct sim_ntb_stats stats;
	uint8_t *peer_mem;		/* bar2_size bytes */
};

/* Vectors to raise once the lock is dropped. */
#define RAISE(v) (1u << (v))

static void raise_vectors(struct sim_ntb *ntb, unsigned int mask)
{
	for (unsigned int v = 0; v < SIM_NTB_NR_VECTORS; v++)
		if (mask & RAISE(v))
			sim_pci_dev_raise(ntb->pci, v);
}

static uint16_t rid_locked(const struct sim_ntb *ntb)
{
	return ntb->proxy ? ntb->proxy_rid : sim_pci_dev_bdf(ntb->pci);
}

static uint32_t reg_read_locked(struct sim_ntb *ntb, uint64_t off)
{
	if (off >= SIM_NTB_PUBLISH(0) && off < SIM_NTB_PUBLISH(SIM_NTB_NR_PUBLISH)) {
		unsigned int i = (unsigned int)((off - SIM_NTB_PUBLISH(0)) / 16);

		switch ((off - SIM_NTB_PUBLISH(0)) % 16) {
		case SIM_NTB_PUB_OFFSET:
			return ntb->publish[i].offset;
		case SIM_NTB_PUB_DATA:
			return ntb->publish[i].data;
		case SIM_NTB_PUB_CTRL:
			return ntb->publish[i].ctrl;
		default:
			return 0;
		}
	}
	if (off >= SIM_NTB_MSG_IN(0) && off < SIM_NTB_MSG_IN(SIM_NTB_NR_MSGS))
		return ntb->msg_in[(off - SIM_NTB_MSG_IN(0)) / 4];
	switch (off) {
	case SIM_NTB_CAP:
		return SIM_NTB_NR_PUBLISH | SIM_NTB_NR_MSGS << 8 | 32u << 16;
	case SIM_NTB_LINK_STATUS:
		return ntb->link_up ? 1 : 0;
	case SIM_NTB_EVENT_STATUS:
		return ntb->event_status;
	case SIM_NTB_EVENT_MASK:
		return ntb->event_mask;
	case SIM_NTB_DMA_RPC_STATUS:
		return ntb->dma_rpc_status;
	case SIM_NTB_MSI_WIN_BASE_LO:
		return ntb->win_lo;
	case SIM_NTB_MSI_WIN_BASE_HI:
		return ntb->win_hi;
	case SIM_NTB_MSI_WIN_SIZE:
		return ntb->win_size;
	case SIM_NTB_PROXY_RID:
		return (ntb->proxy ? SIM_NTB_PROXY_RID_VALID : 0) | rid_locked(ntb);
	case SIM_NTB_DB_STATUS:
		return ntb->db_status;
	case SIM_NTB_DB_MASK:
		return ntb->db_mask;
	case SIM_NTB_MSG_STATUS:
		return ntb->msg_status;
	case SIM_NTB_MSG_MASK:
		return ntb->msg_mask;
	}
	return 0;
}

/* Returns the vectors to raise. */
static unsigned int reg_write_locked(struct sim_ntb *ntb, uint64_t off, uint32_t v)
{
	unsigned int raise = 0;

	if (off >= SIM_NTB_PUBLISH(0) && off < SIM_NTB_PUBLISH(SIM_NTB_NR_PUBLISH)) {
		unsigned int i = (unsigned int)((off - SIM_NTB_PUBLISH(0)) / 16);

		switch ((off - SIM_NTB_PUBLISH(0)) % 16) {
		case SIM_NTB_PUB_OFFSET:
			ntb->publish[i].offset = v;
			break;
		case SIM_NTB_PUB_DATA:
			ntb->publish[i].data = v;
			break;
		case SIM_NTB_PUB_CTRL:
			ntb->publish[i].ctrl = v & SIM_NTB_PUB_VALID;
			break;
		}
		return 0;
	}
	if (off >= SIM_NTB_MSG_OUT(0) && off < SIM_NTB_MSG_OUT(SIM_NTB_NR_MSGS)) {
		ntb->msg_out[(off - SIM_NTB_MSG_OUT(0)) / 4] = v;
		return 0;
	}
	switch (off) {
	case SIM_NTB_EVENT_STATUS:
		ntb->event_status &= ~v;
		break;
	case SIM_NTB_EVENT_MASK:
		if ((ntb->event_mask & 1) && !(v & 1) && (ntb->event_status & 1))
			raise |= RAISE(SIM_NTB_VEC_EVENT);
		ntb->event_mask = v & 1;
		break;
	case SIM_NTB_DMA_RPC_STATUS:
		ntb->dma_rpc_status &= ~v;
		break;
	case SIM_NTB_MSI_WIN_BASE_LO:
		ntb->win_lo = v & ~(WIN_GRANULE - 1 - SIM_NTB_MSI_WIN_ENABLE);
		break;
	case SIM_NTB_MSI_WIN_BASE_HI:
		ntb->win_hi = v;
		break;
	case SIM_NTB_MSI_WIN_SIZE:
		ntb->win_size = v & ~(WIN_GRANULE - 1);
		break;
	case SIM_NTB_DB_STATUS:
		ntb->db_status &= ~v;
		break;
	case SIM_NTB_DB_MASK:
		if (ntb->db_status & ntb->db_mask & ~v)
			raise |= RAISE(SIM_NTB_VEC_DOORBELL);
		ntb->db_mask = v;
		break;
	case SIM_NTB_DB_PEER:
		ntb->db_peer |= v;
		break;
	case SIM_NTB_MSG_STATUS:
		ntb->msg_status &= ~v;
		break;
	case SIM_NTB_MSG_MASK:
		v &= (1u << SIM_NTB_NR_MSGS) - 1;
		if (ntb->msg_status & ntb->msg_mask & ~v)
			raise |= RAISE(SIM_NTB_VEC_MESSAGE);
		ntb->msg_mask = v;
		break;
	}
	return raise;
}

static uint64_t ntb_bar_read(void *opaque, unsigned int bar, uint64_t offset, unsigned int size)
{
	struct sim_ntb *ntb = opaque;
	uint64_t v = 0;

	if (bar == 2) {
		if (offset + size > ntb->bar2_size)
			return ~0ull;
		pthread_mutex_lock(&ntb->lock);
		memcpy(&v, ntb->peer_mem + offset, size);
		pthread_mutex_unlock(&ntb->lock);
		return v;
	}
	if (bar != 0)
		return 0;
	if (size != 4 || (offset & 3))
		return ~0ull;
	pthread_mutex_lock(&ntb->lock);
	v = reg_read_locked(ntb, offset);
	pthread_mutex_unlock(&ntb->lock);
	return v;
}

static void ntb_bar_write(void *opaque, unsigned int bar, uint64_t offset, uint64_t value,
			  unsigned int size)
{
	struct sim_ntb *ntb = opaque;
	unsigned int raise;

	if (bar == 2) {
		if (offset + size > ntb->bar2_size)
			return;
		pthread_mutex_lock(&ntb->lock);
		memcpy(ntb->peer_mem + offset, &value, size);
		pthread_mutex_unlock(&ntb->lock);
		return;
	}
	if (bar != 0 || size != 4 || (offset & 3))
		return;
	pthread_mutex_lock(&ntb->lock);
	raise = reg_write_locked(ntb, offset, (uint32_t)value);
	pthread_mutex_unlock(&ntb->lock);
	raise_vectors(ntb, raise);
}

static const struct sim_pci_bar_ops ntb_bar_ops = {
	.read = ntb_bar_read,
	.write = ntb_bar_write,
};

static void ntb_free(void *arg)
{
	struct sim_ntb *ntb = arg;

	pthread_mutex_destroy(&ntb->lock);
	free(ntb->peer_mem);
	free(ntb);
}

struct sim_ntb *sim_ntb_create(struct sim_pci_bus *bus, uint16_t bdf,
			       const struct sim_ntb_config *cfg)
{
	struct sim_pci_dev_config pc;
	struct sim_ntb *ntb;
	uint64_t size;

	if (!bus || !cfg)
		return NULL;
	size = cfg->bar2_size ? cfg->bar2_size : 1u << 20;
	if (size < 0x1000 || size > (16u << 20) || (size & (size - 1)))
		return NULL;
	ntb = calloc(1, sizeof(*ntb));
	if (!ntb)
		return NULL;
	ntb->peer_mem = calloc(1, size);
	if (!ntb->peer_mem) {
		free(ntb);
		return NULL;
	}
	ntb->m = sim_pci_bus_machine(bus);
	ntb->bar2_size = size;
	ntb->link_up = cfg->link_up;
	pthread_mutex_init(&ntb->lock, NULL);

	memset(&pc, 0, sizeof(pc));
	pc.vendor_id = cfg->vendor_id ? cfg->vendor_id : SIM_PCI_VENDOR_SIM;
	pc.device_id = cfg->vendor_id ? cfg->device_id : SIM_PCI_DEVICE_NTB;
	pc.class_code = CLASS_BRIDGE_OTHER;
	pc.command = cfg->command;
	pc.bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, SIM_NTB_BAR0_SIZE,
						  cfg->bar0_addr };
	pc.bars[2] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, true, size, cfg->bar2_addr };
	pc.msix = true;
	pc.msix_table_size = SIM_NTB_NR_VECTORS;
	pc.msix_table_bir = 0;
	pc.msix_table_offset = SIM_NTB_MSIX_TABLE;
	pc.msix_pba_bir = 0;
	pc.msix_pba_offset = SIM_NTB_MSIX_PBA;
	pc.bar_ops = &ntb_bar_ops;
	pc.bar_opaque = ntb;
	pthread_mutex_lock(&ntb->lock);
	ntb->pci = sim_pci_dev_create(bus, bdf, &pc);
	pthread_mutex_unlock(&ntb->lock);
	if (!ntb->pci) {
		ntb_free(ntb);
		return NULL;
	}
	sim_machine_add_cleanup(ntb->m, ntb_free, ntb);
	return ntb;
}

void sim_ntb_destroy(struct sim_ntb *ntb)
{
	if (ntb)
		sim_pci_dev_destroy(ntb->pci);
}

struct sim_pci_dev *sim_ntb_pci(struct sim_ntb *ntb)
{
	return ntb->pci;
}

void sim_ntb_set_proxy_rid(struct sim_ntb *ntb, bool enable, uint16_t rid)
{
	pthread_mutex_lock(&ntb->lock);
	ntb->proxy = enable;
	ntb->proxy_rid = rid;
	pthread_mutex_unlock(&ntb->lock);
}

/* ---- The peer ------------------------------------------------------------------------ */

static enum sim_ntb_result peer_write_locked(struct sim_ntb *ntb, uint64_t offset, uint32_t data,
					     uint64_t *addr, uint16_t *rid)
{
	ntb->stats.peer_writes++;
	if (!(ntb->win_lo & SIM_NTB_MSI_WIN_ENABLE) || !ntb->win_size ||
	    !sim_pci_dev_present(ntb->pci)) {
		ntb->stats.dropped_disabled++;
		return SIM_NTB_DROPPED_DISABLED;
	}
	if ((offset & 3) || offset >= ntb->win_size || ntb->win_size - offset < 4) {
		ntb->stats.dropped_outside++;
		return SIM_NTB_DROPPED_OUTSIDE;
	}
	if (!sim_pci_dev_bus_master(ntb->pci)) {
		ntb->stats.dropped_no_bus_master++;
		return SIM_NTB_DROPPED_NO_BUS_MASTER;
	}
	*addr = ((uint64_t)ntb->win_hi << 32 | (ntb->win_lo & ~(WIN_GRANULE - 1))) + offset;
	*rid = rid_locked(ntb);
	ntb->stats.delivered++;
	ntb->stats.last_addr = *addr;
	ntb->stats.last_data = data;
	ntb->stats.last_rid = *rid;
	return SIM_NTB_DELIVERED;
}

enum sim_ntb_result sim_ntb_peer_write(struct sim_ntb *ntb, uint64_t offset, uint32_t data)
{
	enum sim_ntb_result r;
	uint64_t addr = 0;
	uint16_t rid = 0;

	pthread_mutex_lock(&ntb->lock);
	r = peer_write_locked(ntb, offset, data, &addr, &rid);
	pthread_mutex_unlock(&ntb->lock);
	if (r == SIM_NTB_DELIVERED)
		sim_dma_write32(ntb->m, rid, addr, data);
	return r;
}

enum sim_ntb_result sim_ntb_peer_trigger(struct sim_ntb *ntb, unsigned int slot)
{
	enum sim_ntb_result r;
	uint64_t addr = 0;
	uint32_t data = 0;
	uint16_t rid = 0;

	pthread_mutex_lock(&ntb->lock);
	if (slot >= SIM_NTB_NR_PUBLISH || !(ntb->publish[slot].ctrl & SIM_NTB_PUB_VALID) ||
	    !sim_pci_dev_present(ntb->pci)) {
		ntb->stats.invalid_triggers++;
		pthread_mutex_unlock(&ntb->lock);
		return SIM_NTB_INVALID_SLOT;
	}
	data = ntb->publish[slot].data;
	r = peer_write_locked(ntb, ntb->publish[slot].offset, data, &addr, &rid);
	pthread_mutex_unlock(&ntb->lock);
	if (r == SIM_NTB_DELIVERED)
		sim_dma_write32(ntb->m, rid, addr, data);
	return r;
}

void sim_ntb_peer_doorbell(struct sim_ntb *ntb, uint32_t bits)
{
	bool raise;

	pthread_mutex_lock(&ntb->lock);
	ntb->stats.doorbells++;
	ntb->db_status |= bits;
	raise = bits & ~ntb->db_mask;
	pthread_mutex_unlock(&ntb->lock);
	if (raise)
		sim_pci_dev_raise(ntb->pci, SIM_NTB_VEC_DOORBELL);
}

void sim_ntb_peer_message(struct sim_ntb *ntb, unsigned int index, uint32_t value)
{
	bool raise;

	if (index >= SIM_NTB_NR_MSGS)
		return;
	pthread_mutex_lock(&ntb->lock);
	ntb->stats.messages++;
	if (ntb->msg_status & (1u << index))
		ntb->stats.messages_overwritten++;
	ntb->msg_in[index] = value;
	ntb->msg_status |= 1u << index;
	raise = !(ntb->msg_mask & (1u << index));
	pthread_mutex_unlock(&ntb->lock);
	if (raise)
		sim_pci_dev_raise(ntb->pci, SIM_NTB_VEC_MESSAGE);
}

void sim_ntb_set_link(struct sim_ntb *ntb, bool up)
{
	bool raise = false;

	pthread_mutex_lock(&ntb->lock);
	if (ntb->link_up != up) {
		ntb->link_up = up;
		ntb->event_status |= 1;
		raise = !(ntb->event_mask & 1);
	}
	pthread_mutex_unlock(&ntb->lock);
	if (raise)
		sim_pci_dev_raise(ntb->pci, SIM_NTB_VEC_EVENT);
}

void sim_ntb_dma_rpc_done(struct sim_ntb *ntb)
{
	pthread_mutex_lock(&ntb->lock);
	ntb->dma_rpc_status |= 1;
	pthread_mutex_unlock(&ntb->lock);
	sim_pci_dev_raise(ntb->pci, SIM_NTB_VEC_DMA_RPC);
}

uint32_t sim_ntb_peer_take_doorbells(struct sim_ntb *ntb)
{
	uint32_t bits;

	pthread_mutex_lock(&ntb->lock);
	bits = ntb->db_peer;
	ntb->db_peer = 0;
	pthread_mutex_unlock(&ntb->lock);
	return bits;
}

uint32_t sim_ntb_peer_msg(struct sim_ntb *ntb, unsigned int index)
{
	uint32_t v = 0;

	if (index >= SIM_NTB_NR_MSGS)
		return 0;
	pthread_mutex_lock(&ntb->lock);
	v = ntb->msg_out[index];
	pthread_mutex_unlock(&ntb->lock);
	return v;
}

uint32_t sim_ntb_peer_mem_read32(struct sim_ntb *ntb, uint64_t offset)
{
	uint32_t v = 0xFFFFFFFFu;

	if (offset > ntb->bar2_size || ntb->bar2_size - offset < 4)
		return v;
	pthread_mutex_lock(&ntb->lock);
	memcpy(&v, ntb->peer_mem + offset, 4);
	pthread_mutex_unlock(&ntb->lock);
	return v;
}

void sim_ntb_stats(struct sim_ntb *ntb, struct sim_ntb_stats *out)
{
	pthread_mutex_lock(&ntb->lock);
	*out = ntb->stats;
	pthread_mutex_unlock(&ntb->lock);
}
