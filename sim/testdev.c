// SPDX-License-Identifier: BSD-2-Clause
/*
 * The test device: message slots a CPU programs through MMIO and anybody
 * (an event, a device thread, a CPU writing FIRE) can fire.  Register
 * layout in sim.h.
 */
#include "sim_internal.h"

#define TESTDEV_SLOT_SIZE 16u
#define TESTDEV_ADDR_LO 0x0
#define TESTDEV_ADDR_HI 0x4
#define TESTDEV_DATA 0x8
#define TESTDEV_CTRL 0xC
#define TESTDEV_CTRL_MASK (1u << 0)
#define TESTDEV_CTRL_PENDING (1u << 1)
#define TESTDEV_CTRL_FIRE (1u << 31)

struct testdev_slot {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	bool masked;
	bool pending;
	uint64_t fired;		/* __atomic */
	uint64_t sent;		/* __atomic */
};

struct sim_testdev {
	struct sim_machine *m;
	uint64_t base;
	uint16_t requester_id;
	unsigned int nr_slots;
	/* Protects the slot registers; never held while the message is written. */
	pthread_mutex_t lock;
	struct testdev_slot slots[];
};

struct message {
	uint64_t addr;
	uint32_t data;
};

static struct message snapshot_locked(const struct testdev_slot *s)
{
	struct message msg = {
		.addr = (uint64_t)s->addr_hi << 32 | s->addr_lo,
		.data = s->data,
	};

	return msg;
}

static void send(struct sim_testdev *dev, struct testdev_slot *s, struct message msg)
{
	sim_dma_write32(dev->m, dev->requester_id, msg.addr, msg.data);
	__atomic_add_fetch(&s->sent, 1, __ATOMIC_RELAXED);
}

static uint32_t reg_read_locked(const struct testdev_slot *s, uint64_t reg)
{
	switch (reg) {
	case TESTDEV_ADDR_LO:
		return s->addr_lo;
	case TESTDEV_ADDR_HI:
		return s->addr_hi;
	case TESTDEV_DATA:
		return s->data;
	case TESTDEV_CTRL:
		return (s->masked ? TESTDEV_CTRL_MASK : 0) | (s->pending ? TESTDEV_CTRL_PENDING : 0);
	}
	return 0;
}

static uint64_t testdev_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct sim_testdev *dev = opaque;
	struct testdev_slot *s = &dev->slots[offset / TESTDEV_SLOT_SIZE];
	uint64_t reg = offset % TESTDEV_SLOT_SIZE;
	uint64_t value;

	if (reg & 3 || (size != 4 && !(size == 8 && reg == TESTDEV_ADDR_LO)))
		return ~0ull;
	pthread_mutex_lock(&dev->lock);
	value = reg_read_locked(s, reg);
	if (size == 8)
		value |= (uint64_t)reg_read_locked(s, reg + 4) << 32;
	pthread_mutex_unlock(&dev->lock);
	return value;
}

static void testdev_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct sim_testdev *dev = opaque;
	unsigned int slot = (unsigned int)(offset / TESTDEV_SLOT_SIZE);
	struct testdev_slot *s = &dev->slots[slot];
	uint64_t reg = offset % TESTDEV_SLOT_SIZE;
	bool unmasked_pending = false, fire = false;
	struct message msg = { 0 };

	if (reg & 3 || (size != 4 && !(size == 8 && reg == TESTDEV_ADDR_LO)))
		return;
	pthread_mutex_lock(&dev->lock);
	switch (reg) {
	case TESTDEV_ADDR_LO:
		s->addr_lo = (uint32_t)value;
		if (size == 8)
			s->addr_hi = (uint32_t)(value >> 32);
		break;
	case TESTDEV_ADDR_HI:
		s->addr_hi = (uint32_t)value;
		break;
	case TESTDEV_DATA:
		s->data = (uint32_t)value;
		break;
	case TESTDEV_CTRL:
		if (s->masked && !(value & TESTDEV_CTRL_MASK) && s->pending) {
			s->pending = false;
			msg = snapshot_locked(s);
			unmasked_pending = true;
		}
		s->masked = value & TESTDEV_CTRL_MASK;
		fire = value & TESTDEV_CTRL_FIRE;
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (unmasked_pending)
		send(dev, s, msg);
	if (fire)
		sim_testdev_fire(dev, slot);
}

static const struct sim_region_ops testdev_ops = {
	.read = testdev_read,
	.write = testdev_write,
};

static void testdev_free(void *arg)
{
	struct sim_testdev *dev = arg;

	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

struct sim_testdev *sim_testdev_create(struct sim_machine *m, uint64_t base,
				       unsigned int nr_slots, uint16_t requester_id)
{
	struct sim_testdev *dev;

	if (!m || !nr_slots || nr_slots > 4096)
		return NULL;
	dev = calloc(1, sizeof(*dev) + nr_slots * sizeof(dev->slots[0]));
	if (!dev)
		return NULL;
	dev->m = m;
	dev->base = base;
	dev->nr_slots = nr_slots;
	dev->requester_id = requester_id;
	pthread_mutex_init(&dev->lock, NULL);
	if (sim_map_region(m, base, (uint64_t)nr_slots * TESTDEV_SLOT_SIZE, &testdev_ops, dev,
			   "testdev") < 0) {
		testdev_free(dev);
		return NULL;
	}
	sim_machine_add_cleanup(m, testdev_free, dev);
	return dev;
}

void sim_testdev_fire(struct sim_testdev *dev, unsigned int slot)
{
	struct testdev_slot *s;
	struct message msg;

	if (slot >= dev->nr_slots)
		return;
	s = &dev->slots[slot];
	__atomic_add_fetch(&s->fired, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&dev->lock);
	if (s->masked) {
		s->pending = true;
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	/* The registers as they are right now, even if half-updated. */
	msg = snapshot_locked(s);
	pthread_mutex_unlock(&dev->lock);
	send(dev, s, msg);
}

uint64_t sim_testdev_fired(const struct sim_testdev *dev, unsigned int slot)
{
	return slot < dev->nr_slots ? __atomic_load_n(&dev->slots[slot].fired, __ATOMIC_RELAXED) : 0;
}

uint64_t sim_testdev_sent(const struct sim_testdev *dev, unsigned int slot)
{
	return slot < dev->nr_slots ? __atomic_load_n(&dev->slots[slot].sent, __ATOMIC_RELAXED) : 0;
}
