// SPDX-License-Identifier: BSD-2-Clause
/*
 * Two IMS devices on the simulated PCI bus: (a) message slots in a BAR, and
 * (b) an IDXD-like device whose slots live in device memory and change
 * only through a command ring processed by scheduled device events.
 * Register layouts in sim_ims.h.
 *
 * Locking: each device has one mutex protecting its slots and registers.
 * It nests outside the PCI function's lock (sim_pci_dev_bus_master() is
 * called under it) and is never held while a message or completion record
 * is written, a vector is raised or an event is scheduled.
 */
#include <errno.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_ims.h"

#define CLASS_SYSTEM_OTHER 0x088000u
#define CTRL_RW_BITS (SIM_IMS_CTRL_MASK | SIM_IMS_CTRL_PASID_EN | SIM_IMS_CTRL_PASID_MASK)

struct ims_slot {
	uint32_t addr_lo, addr_hi, data;
	uint32_t ctrl;		/* CTRL_RW_BITS only; pending kept apart */
	bool pending;
	uint64_t last_addr;
	uint32_t last_data;
	bool last_pasid_en;
	uint32_t last_pasid;
	struct sim_ims_stats stats;
};

struct message {
	uint64_t addr;
	uint32_t data;
};

/* ---- Slot semantics shared by both devices ------------------------------------ */

static uint32_t slot_ctrl(const struct ims_slot *s)
{
	return s->ctrl | (s->pending ? SIM_IMS_CTRL_PENDING : 0);
}

static void slot_out(const struct ims_slot *s, struct sim_ims_slot *out)
{
	out->addr_lo = s->addr_lo;
	out->addr_hi = s->addr_hi;
	out->data = s->data;
	out->ctrl = slot_ctrl(s);
	out->last_addr = s->last_addr;
	out->last_data = s->last_data;
	out->last_pasid_en = s->last_pasid_en;
	out->last_pasid = s->last_pasid;
	out->stats = s->stats;
}

/*
 * The slot's message as it stands, to be written once the caller has
 * dropped its lock.  Returns false (and counts) if it cannot be sent.
 */
static bool slot_send_locked(struct sim_pci_dev *pci, struct sim_ims_stats *dev_stats,
			     struct ims_slot *s, struct message *msg)
{
	if (!sim_pci_dev_present(pci)) {
		s->stats.dropped_absent++;
		dev_stats->dropped_absent++;
		return false;
	}
	if (!sim_pci_dev_bus_master(pci)) {
		s->stats.dropped_no_bus_master++;
		dev_stats->dropped_no_bus_master++;
		return false;
	}
	msg->addr = (uint64_t)s->addr_hi << 32 | s->addr_lo;
	msg->data = s->data;
	s->last_addr = msg->addr;
	s->last_data = msg->data;
	s->last_pasid_en = s->ctrl & SIM_IMS_CTRL_PASID_EN;
	s->last_pasid = (s->ctrl & SIM_IMS_CTRL_PASID_MASK) >> SIM_IMS_CTRL_PASID_SHIFT;
	s->stats.sent++;
	dev_stats->sent++;
	return true;
}

static bool slot_fire_locked(struct sim_pci_dev *pci, struct sim_ims_stats *dev_stats,
			     struct ims_slot *s, struct message *msg)
{
	s->stats.fired++;
	dev_stats->fired++;
	if (s->ctrl & SIM_IMS_CTRL_MASK) {
		s->pending = true;
		s->stats.pending_set++;
		dev_stats->pending_set++;
		return false;
	}
	return slot_send_locked(pci, dev_stats, s, msg);
}

/* New CTRL value; returns true if a pending message is to be sent now. */
static bool slot_set_ctrl_locked(struct sim_pci_dev *pci, struct sim_ims_stats *dev_stats,
				 struct ims_slot *s, uint32_t ctrl, struct message *msg)
{
	s->ctrl = ctrl & CTRL_RW_BITS;
	if ((s->ctrl & SIM_IMS_CTRL_MASK) || !s->pending)
		return false;
	s->pending = false;
	return slot_send_locked(pci, dev_stats, s, msg);
}

static void slot_reset(struct ims_slot *s)
{
	memset(s, 0, sizeof(*s));
	s->ctrl = SIM_IMS_CTRL_MASK;
}

static void send(struct sim_pci_dev *pci, const struct message *msg)
{
	sim_dma_write32(sim_pci_dev_machine(pci), sim_pci_dev_bdf(pci), msg->addr, msg->data);
}

static bool access_ok(uint64_t offset, unsigned int size, bool allow8)
{
	return !(offset & (size - 1)) && (size == 4 || (allow8 && size == 8));
}

static void base_config(struct sim_pci_dev_config *c, uint16_t vendor, uint16_t device,
			uint16_t default_device, uint64_t bar0_addr, uint64_t bar0_size,
			uint64_t bar2_addr, unsigned int nr_msix, uint16_t command)
{
	memset(c, 0, sizeof(*c));
	c->vendor_id = vendor ? vendor : SIM_PCI_VENDOR_SIM;
	c->device_id = vendor ? device : default_device;
	c->class_code = CLASS_SYSTEM_OTHER;
	c->command = command;
	c->bars[0] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, bar0_size, bar0_addr };
	c->bars[2] = (struct sim_pci_bar_config){ SIM_PCI_BAR_MEM64, false, SIM_IMS_BAR2_SIZE,
						  bar2_addr };
	c->msix = true;
	c->msix_table_size = nr_msix ? nr_msix : 2;
	c->msix_table_bir = 2;
	c->msix_table_offset = SIM_IMS_MSIX_TABLE;
	c->msix_pba_bir = 2;
	c->msix_pba_offset = SIM_IMS_MSIX_PBA;
}

/* ==== (a) MMIO slot array ===================================================== */

struct sim_ims_slots {
	struct sim_machine *m;
	struct sim_pci_dev *pci;
	unsigned int nr_slots;
	pthread_mutex_t lock;		/* protects slots[] and stats */
	struct sim_ims_stats stats;
	struct ims_slot slots[];
};

uint64_t sim_ims_slots_bar0_size(unsigned int nr_slots)
{
	uint64_t need = SIM_IMS_SLOTS_ARRAY + (uint64_t)nr_slots * SIM_IMS_SLOT_SIZE;
	uint64_t size = 0x1000;

	while (size < need)
		size <<= 1;
	return size;
}

static uint32_t slots_reg_read_locked(const struct ims_slot *s, uint64_t reg)
{
	switch (reg) {
	case SIM_IMS_SLOT_ADDR_LO:
		return s->addr_lo;
	case SIM_IMS_SLOT_ADDR_HI:
		return s->addr_hi;
	case SIM_IMS_SLOT_DATA:
		return s->data;
	default:
		return slot_ctrl(s);
	}
}

static uint64_t slots_bar_read(void *opaque, unsigned int bar, uint64_t offset, unsigned int size)
{
	struct sim_ims_slots *dev = opaque;
	uint64_t v = 0;

	if (bar != 0)
		return 0;
	if (!access_ok(offset, size, true))
		return ~0ull;
	if (offset < SIM_IMS_SLOTS_ARRAY) {
		if (size != 4)
			return ~0ull;
		return offset == SIM_IMS_SLOTS_CAP ? (dev->nr_slots & 0xFFFFu) | 1u << 16 : 0;
	}
	uint64_t n = (offset - SIM_IMS_SLOTS_ARRAY) / SIM_IMS_SLOT_SIZE;
	uint64_t reg = (offset - SIM_IMS_SLOTS_ARRAY) % SIM_IMS_SLOT_SIZE;

	if (n >= dev->nr_slots)
		return 0;
	if (size == 8 && reg != SIM_IMS_SLOT_ADDR_LO)
		return ~0ull;
	pthread_mutex_lock(&dev->lock);
	v = slots_reg_read_locked(&dev->slots[n], reg);
	if (size == 8)
		v |= (uint64_t)slots_reg_read_locked(&dev->slots[n], reg + 4) << 32;
	pthread_mutex_unlock(&dev->lock);
	return v;
}

static void slots_bar_write(void *opaque, unsigned int bar, uint64_t offset, uint64_t value,
			    unsigned int size)
{
	struct sim_ims_slots *dev = opaque;
	struct message msg;
	bool send_now = false;

	if (bar != 0 || !access_ok(offset, size, true))
		return;
	if (offset < SIM_IMS_SLOTS_ARRAY) {
		if (size == 4 && offset == SIM_IMS_SLOTS_FIRE)
			sim_ims_slots_fire(dev, (unsigned int)value);
		return;
	}
	uint64_t n = (offset - SIM_IMS_SLOTS_ARRAY) / SIM_IMS_SLOT_SIZE;
	uint64_t reg = (offset - SIM_IMS_SLOTS_ARRAY) % SIM_IMS_SLOT_SIZE;

	if (n >= dev->nr_slots || (size == 8 && reg != SIM_IMS_SLOT_ADDR_LO))
		return;
	pthread_mutex_lock(&dev->lock);
	struct ims_slot *s = &dev->slots[n];

	switch (reg) {
	case SIM_IMS_SLOT_ADDR_LO:
		s->addr_lo = (uint32_t)value & ~3u;
		if (size == 8)
			s->addr_hi = (uint32_t)(value >> 32);
		break;
	case SIM_IMS_SLOT_ADDR_HI:
		s->addr_hi = (uint32_t)value;
		break;
	case SIM_IMS_SLOT_DATA:
		s->data = (uint32_t)value;
		break;
	default:
		send_now = slot_set_ctrl_locked(dev->pci, &dev->stats, s, (uint32_t)value, &msg);
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (send_now)
		send(dev->pci, &msg);
}

static const struct sim_pci_bar_ops slots_bar_ops = {
	.read = slots_bar_read,
	.write = slots_bar_write,
};

static void slots_free(void *arg)
{
	struct sim_ims_slots *dev = arg;

	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

struct sim_ims_slots *sim_ims_slots_create(struct sim_pci_bus *bus, uint16_t bdf,
					   const struct sim_ims_slots_config *cfg)
{
	struct sim_pci_dev_config pc;
	struct sim_ims_slots *dev;

	if (!bus || !cfg || cfg->nr_slots < 1 || cfg->nr_slots > SIM_IMS_SLOTS_MAX ||
	    cfg->nr_msix > SIM_IMS_MAX_MSIX)
		return NULL;
	dev = calloc(1, sizeof(*dev) + cfg->nr_slots * sizeof(dev->slots[0]));
	if (!dev)
		return NULL;
	dev->m = sim_pci_bus_machine(bus);
	dev->nr_slots = cfg->nr_slots;
	pthread_mutex_init(&dev->lock, NULL);
	for (unsigned int i = 0; i < cfg->nr_slots; i++)
		slot_reset(&dev->slots[i]);
	base_config(&pc, cfg->vendor_id, cfg->device_id, SIM_PCI_DEVICE_IMS_SLOTS, cfg->bar0_addr,
		    sim_ims_slots_bar0_size(cfg->nr_slots), cfg->bar2_addr, cfg->nr_msix,
		    cfg->command);
	pc.bar_ops = &slots_bar_ops;
	pc.bar_opaque = dev;
	/* Hooks may run as soon as the function exists: dev->pci is set first. */
	pthread_mutex_lock(&dev->lock);
	dev->pci = sim_pci_dev_create(bus, bdf, &pc);
	pthread_mutex_unlock(&dev->lock);
	if (!dev->pci) {
		slots_free(dev);
		return NULL;
	}
	sim_machine_add_cleanup(dev->m, slots_free, dev);
	return dev;
}

void sim_ims_slots_destroy(struct sim_ims_slots *dev)
{
	if (dev)
		sim_pci_dev_destroy(dev->pci);
}

struct sim_pci_dev *sim_ims_slots_pci(struct sim_ims_slots *dev)
{
	return dev->pci;
}

void sim_ims_slots_fire(struct sim_ims_slots *dev, unsigned int slot)
{
	struct message msg;
	bool send_now;

	pthread_mutex_lock(&dev->lock);
	if (slot >= dev->nr_slots) {
		dev->stats.fired++;
		dev->stats.dropped_absent++;
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	/* The registers as they are right now, even if half-updated. */
	send_now = slot_fire_locked(dev->pci, &dev->stats, &dev->slots[slot], &msg);
	pthread_mutex_unlock(&dev->lock);
	if (send_now)
		send(dev->pci, &msg);
}

bool sim_ims_slots_slot(struct sim_ims_slots *dev, unsigned int slot, struct sim_ims_slot *out)
{
	if (slot >= dev->nr_slots)
		return false;
	pthread_mutex_lock(&dev->lock);
	slot_out(&dev->slots[slot], out);
	pthread_mutex_unlock(&dev->lock);
	return true;
}

void sim_ims_slots_stats(struct sim_ims_slots *dev, struct sim_ims_stats *out)
{
	pthread_mutex_lock(&dev->lock);
	*out = dev->stats;
	pthread_mutex_unlock(&dev->lock);
}

/* ==== (b) Queue-updated store ================================================== */

struct sim_ims_queue {
	struct sim_machine *m;
	struct sim_pci_dev *pci;
	unsigned int nr_slots;
	unsigned int nr_queues;
	unsigned int ring_entries;

	pthread_mutex_t lock;		/* protects everything below */
	uint64_t delay;
	bool paused;
	bool scheduled;			/* a processing event is queued */
	uint32_t tail, head;
	uint32_t completed;
	uint32_t status;		/* ERROR | code << 8 | index << 16 (BUSY computed) */
	uint32_t query_index;
	uint32_t queue_slot[SIM_IMSQ_MAX_QUEUES];
	struct sim_ims_stats stats;
	uint8_t *ring;			/* ring_entries * 64 bytes */
	struct ims_slot *slots;
};

static uint32_t ring_get32(const struct sim_ims_queue *dev, uint32_t index, unsigned int field)
{
	uint32_t v;

	memcpy(&v, dev->ring + (size_t)index * SIM_IMSQ_DESC_SIZE + field, 4);
	return v;
}

static void process_event(void *arg);

/* Queue the processing event if there is work and none is queued.  Locked. */
static bool want_schedule_locked(struct sim_ims_queue *dev)
{
	if (dev->scheduled || dev->paused || dev->head == dev->tail ||
	    !sim_pci_dev_present(dev->pci))
		return false;
	dev->scheduled = true;
	return true;
}

struct cmd_result {
	uint32_t status;
	bool send_now;
	struct message msg;
};

static void execute_locked(struct sim_ims_queue *dev, uint32_t index, struct cmd_result *r)
{
	uint32_t op = ring_get32(dev, index, SIM_IMSQ_D_OP) & 0xFF;
	uint32_t slot = ring_get32(dev, index, SIM_IMSQ_D_SLOT);
	struct ims_slot *s;

	r->status = SIM_IMSQ_ST_SUCCESS;
	r->send_now = false;
	if (op == SIM_IMSQ_NOP)
		return;
	if (op > SIM_IMSQ_ZERO) {
		r->status = SIM_IMSQ_ST_BAD_OPCODE;
		return;
	}
	if (slot >= dev->nr_slots) {
		r->status = SIM_IMSQ_ST_BAD_SLOT;
		return;
	}
	s = &dev->slots[slot];
	switch (op) {
	case SIM_IMSQ_WRITE_MSG: {
		uint32_t pasid = ring_get32(dev, index, SIM_IMSQ_D_PASID);

		s->addr_lo = ring_get32(dev, index, SIM_IMSQ_D_ADDR_LO) & ~3u;
		s->addr_hi = ring_get32(dev, index, SIM_IMSQ_D_ADDR_HI);
		s->data = ring_get32(dev, index, SIM_IMSQ_D_DATA);
		s->ctrl = (s->ctrl & SIM_IMS_CTRL_MASK) |
			  (pasid & SIM_IMSQ_PASID_EN ? SIM_IMS_CTRL_PASID_EN : 0) |
			  (pasid & 0xFFFFFu) << SIM_IMS_CTRL_PASID_SHIFT;
		break;
	}
	case SIM_IMSQ_MASK:
		s->ctrl |= SIM_IMS_CTRL_MASK;
		break;
	case SIM_IMSQ_UNMASK:
		r->send_now = slot_set_ctrl_locked(dev->pci, &dev->stats, s,
						   s->ctrl & ~SIM_IMS_CTRL_MASK, &r->msg);
		break;
	case SIM_IMSQ_ZERO: {
		struct sim_ims_stats keep = s->stats;

		slot_reset(s);
		s->stats = keep;
		break;
	}
	}
}

/* One command per event; the next one is scheduled cmd_delay ticks later. */
static void process_event(void *arg)
{
	struct sim_ims_queue *dev = arg;
	struct cmd_result r;
	uint32_t index, op, cookie;
	uint64_t compl, delay;
	bool again;

	pthread_mutex_lock(&dev->lock);
	dev->scheduled = false;
	if (dev->paused || dev->head == dev->tail || !sim_pci_dev_present(dev->pci)) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	index = dev->head;
	execute_locked(dev, index, &r);
	op = ring_get32(dev, index, SIM_IMSQ_D_OP);
	compl = (uint64_t)ring_get32(dev, index, SIM_IMSQ_D_COMPL_HI) << 32 |
		ring_get32(dev, index, SIM_IMSQ_D_COMPL_LO);
	cookie = ring_get32(dev, index, SIM_IMSQ_D_COOKIE);
	dev->head = (dev->head + 1) & (dev->ring_entries - 1);
	dev->completed++;
	if (r.status != SIM_IMSQ_ST_SUCCESS && !(dev->status & SIM_IMSQ_STATUS_ERROR))
		dev->status = SIM_IMSQ_STATUS_ERROR | r.status << 8 | index << 16;
	again = want_schedule_locked(dev);
	delay = dev->delay;
	pthread_mutex_unlock(&dev->lock);

	if (r.send_now)
		send(dev->pci, &r.msg);
	if (op & SIM_IMSQ_OP_COMPL_RECORD) {
		sim_pci_dev_dma_write32(dev->pci, compl + 4, cookie);
		sim_pci_dev_dma_write32(dev->pci, compl, r.status | index << 16);
	}
	if (op & SIM_IMSQ_OP_COMPL_INTR)
		sim_pci_dev_raise(dev->pci, 0);
	if (again)
		sim_schedule(dev->m, delay, process_event, dev);
}

static uint32_t queue_reg_read_locked(struct sim_ims_queue *dev, uint64_t offset)
{
	const struct ims_slot *q = dev->query_index < dev->nr_slots ?
				   &dev->slots[dev->query_index] : NULL;

	switch (offset) {
	case SIM_IMSQ_CAP:
		return dev->nr_slots | dev->nr_queues << 16 |
		       (uint32_t)__builtin_ctz(dev->ring_entries) << 24;
	case SIM_IMSQ_VERSION:
		return 0x00010000u;
	case SIM_IMSQ_RING_TAIL:
		return dev->tail;
	case SIM_IMSQ_RING_HEAD:
		return dev->head;
	case SIM_IMSQ_STATUS:
		return dev->status | (dev->head != dev->tail ? SIM_IMSQ_STATUS_BUSY : 0);
	case SIM_IMSQ_COMPLETED:
		return dev->completed;
	case SIM_IMSQ_QUERY_INDEX:
		return dev->query_index;
	case SIM_IMSQ_QUERY_ADDR_LO:
		return q ? q->addr_lo : 0xFFFFFFFFu;
	case SIM_IMSQ_QUERY_ADDR_HI:
		return q ? q->addr_hi : 0xFFFFFFFFu;
	case SIM_IMSQ_QUERY_DATA:
		return q ? q->data : 0xFFFFFFFFu;
	case SIM_IMSQ_QUERY_CTRL:
		return q ? slot_ctrl(q) : 0xFFFFFFFFu;
	}
	if (offset >= SIM_IMSQ_QUEUE_SLOT(0) && offset < SIM_IMSQ_QUEUE_SLOT(dev->nr_queues))
		return dev->queue_slot[(offset - SIM_IMSQ_QUEUE_SLOT(0)) / 4];
	return 0;
}

static uint64_t queue_bar_read(void *opaque, unsigned int bar, uint64_t offset, unsigned int size)
{
	struct sim_ims_queue *dev = opaque;
	uint64_t ring_end = SIM_IMSQ_RING + (uint64_t)dev->ring_entries * SIM_IMSQ_DESC_SIZE;
	uint64_t v = 0;

	if (bar != 0)
		return 0;
	if (offset >= SIM_IMSQ_RING && offset < ring_end) {
		if (!access_ok(offset, size, true))
			return ~0ull;
		pthread_mutex_lock(&dev->lock);
		memcpy(&v, dev->ring + (offset - SIM_IMSQ_RING), size);
		pthread_mutex_unlock(&dev->lock);
		return v;
	}
	if (!access_ok(offset, size, false))
		return ~0ull;
	pthread_mutex_lock(&dev->lock);
	v = queue_reg_read_locked(dev, offset);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

static void queue_bar_write(void *opaque, unsigned int bar, uint64_t offset, uint64_t value,
			    unsigned int size)
{
	struct sim_ims_queue *dev = opaque;
	uint64_t ring_end = SIM_IMSQ_RING + (uint64_t)dev->ring_entries * SIM_IMSQ_DESC_SIZE;
	bool sched = false;
	uint64_t delay = 0;

	if (bar != 0)
		return;
	if (offset >= SIM_IMSQ_RING && offset < ring_end) {
		if (!access_ok(offset, size, true))
			return;
		pthread_mutex_lock(&dev->lock);
		memcpy(dev->ring + (offset - SIM_IMSQ_RING), &value, size);
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	if (!access_ok(offset, size, false))
		return;
	if (offset == SIM_IMSQ_FIRE) {
		sim_ims_queue_fire_slot(dev, (uint32_t)value);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	switch (offset) {
	case SIM_IMSQ_RING_TAIL:
		dev->tail = (uint32_t)value & (dev->ring_entries - 1);
		sched = want_schedule_locked(dev);
		delay = dev->delay;
		break;
	case SIM_IMSQ_ERROR_CLEAR:
		if (value & 1)
			dev->status = 0;
		break;
	case SIM_IMSQ_QUERY_INDEX:
		dev->query_index = (uint32_t)value & 0xFFFF;
		break;
	default:
		if (offset >= SIM_IMSQ_QUEUE_SLOT(0) &&
		    offset < SIM_IMSQ_QUEUE_SLOT(dev->nr_queues))
			dev->queue_slot[(offset - SIM_IMSQ_QUEUE_SLOT(0)) / 4] =
				(uint32_t)value & (SIM_IMSQ_QUEUE_SLOT_VALID | 0xFFFF);
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (sched)
		sim_schedule(dev->m, delay, process_event, dev);
}

static const struct sim_pci_bar_ops queue_bar_ops = {
	.read = queue_bar_read,
	.write = queue_bar_write,
};

static void queue_free(void *arg)
{
	struct sim_ims_queue *dev = arg;

	pthread_mutex_destroy(&dev->lock);
	free(dev->ring);
	free(dev->slots);
	free(dev);
}

struct sim_ims_queue *sim_ims_queue_create(struct sim_pci_bus *bus, uint16_t bdf,
					   const struct sim_ims_queue_config *cfg)
{
	unsigned int nr_slots, ring_log2;
	struct sim_pci_dev_config pc;
	struct sim_ims_queue *dev;

	if (!bus || !cfg)
		return NULL;
	nr_slots = cfg->nr_slots ? cfg->nr_slots : 4096;
	ring_log2 = cfg->ring_log2 ? cfg->ring_log2 : 6;
	if (nr_slots > SIM_IMSQ_MAX_SLOTS || cfg->nr_queues > SIM_IMSQ_MAX_QUEUES ||
	    ring_log2 > SIM_IMSQ_MAX_RING_LOG2 || cfg->nr_msix > SIM_IMS_MAX_MSIX)
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->m = sim_pci_bus_machine(bus);
	dev->nr_slots = nr_slots;
	dev->nr_queues = cfg->nr_queues;
	dev->ring_entries = 1u << ring_log2;
	dev->delay = cfg->cmd_delay;
	pthread_mutex_init(&dev->lock, NULL);
	dev->ring = calloc(dev->ring_entries, SIM_IMSQ_DESC_SIZE);
	dev->slots = calloc(nr_slots, sizeof(dev->slots[0]));
	if (!dev->ring || !dev->slots) {
		queue_free(dev);
		return NULL;
	}
	for (unsigned int i = 0; i < nr_slots; i++)
		slot_reset(&dev->slots[i]);
	base_config(&pc, cfg->vendor_id, cfg->device_id, SIM_PCI_DEVICE_IMS_QUEUE, cfg->bar0_addr,
		    SIM_IMSQ_BAR0_SIZE, cfg->bar2_addr, cfg->nr_msix, cfg->command);
	pc.bar_ops = &queue_bar_ops;
	pc.bar_opaque = dev;
	pthread_mutex_lock(&dev->lock);
	dev->pci = sim_pci_dev_create(bus, bdf, &pc);
	pthread_mutex_unlock(&dev->lock);
	if (!dev->pci) {
		queue_free(dev);
		return NULL;
	}
	sim_machine_add_cleanup(dev->m, queue_free, dev);
	return dev;
}

void sim_ims_queue_destroy(struct sim_ims_queue *dev)
{
	if (dev)
		sim_pci_dev_destroy(dev->pci);
}

struct sim_pci_dev *sim_ims_queue_pci(struct sim_ims_queue *dev)
{
	return dev->pci;
}

void sim_ims_queue_fire_slot(struct sim_ims_queue *dev, unsigned int slot)
{
	struct message msg;
	bool send_now;

	pthread_mutex_lock(&dev->lock);
	if (slot >= dev->nr_slots) {
		dev->stats.fired++;
		dev->stats.dropped_absent++;
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	send_now = slot_fire_locked(dev->pci, &dev->stats, &dev->slots[slot], &msg);
	pthread_mutex_unlock(&dev->lock);
	if (send_now)
		send(dev->pci, &msg);
}

void sim_ims_queue_fire_queue(struct sim_ims_queue *dev, unsigned int queue)
{
	uint32_t qs = 0;

	pthread_mutex_lock(&dev->lock);
	if (queue < dev->nr_queues)
		qs = dev->queue_slot[queue];
	if (!(qs & SIM_IMSQ_QUEUE_SLOT_VALID)) {
		dev->stats.fired++;
		dev->stats.dropped_absent++;
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	pthread_mutex_unlock(&dev->lock);
	sim_ims_queue_fire_slot(dev, qs & 0xFFFF);
}

void sim_ims_queue_set_delay(struct sim_ims_queue *dev, uint64_t ticks)
{
	pthread_mutex_lock(&dev->lock);
	dev->delay = ticks;
	pthread_mutex_unlock(&dev->lock);
}

void sim_ims_queue_pause(struct sim_ims_queue *dev, bool paused)
{
	bool sched;
	uint64_t delay;

	pthread_mutex_lock(&dev->lock);
	dev->paused = paused;
	sched = want_schedule_locked(dev);
	delay = dev->delay;
	pthread_mutex_unlock(&dev->lock);
	if (sched)
		sim_schedule(dev->m, delay, process_event, dev);
}

unsigned int sim_ims_queue_outstanding(struct sim_ims_queue *dev)
{
	unsigned int n;

	pthread_mutex_lock(&dev->lock);
	n = (dev->tail - dev->head) & (dev->ring_entries - 1);
	pthread_mutex_unlock(&dev->lock);
	return n;
}

bool sim_ims_queue_slot(struct sim_ims_queue *dev, unsigned int slot, struct sim_ims_slot *out)
{
	if (slot >= dev->nr_slots)
		return false;
	pthread_mutex_lock(&dev->lock);
	slot_out(&dev->slots[slot], out);
	pthread_mutex_unlock(&dev->lock);
	return true;
}

void sim_ims_queue_stats(struct sim_ims_queue *dev, struct sim_ims_stats *out)
{
	pthread_mutex_lock(&dev->lock);
	*out = dev->stats;
	pthread_mutex_unlock(&dev->lock);
}
