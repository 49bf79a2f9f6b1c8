// SPDX-License-Identifier: BSD-2-Clause
/* An I/O APIC (see sim_ioapic.h for the formats and semantics). */
#include <stdlib.h>

#include "sim_internal.h"
#include "sim_ioapic.h"

#define RTE_LO_RW (0xFFu | 0x700u | SIM_IOAPIC_RTE_DM_LOGICAL | SIM_IOAPIC_RTE_POLARITY_LOW | \
		   SIM_IOAPIC_RTE_LEVEL | SIM_IOAPIC_RTE_MASK)

struct ioapic_pin {
	uint32_t lo, hi;
	bool line;
	struct sim_ioapic_pin_stats st;
};

struct sim_ioapic {
	struct sim_machine *m;
	pthread_mutex_t lock;
	uint64_t base;
	uint16_t rid;
	unsigned int nr;
	uint32_t regsel;
	uint32_t id;
	struct ioapic_pin pins[SIM_IOAPIC_MAX_PINS];
	struct sim_ioapic *next;        /* on the registry (broadcast EOIs) */
};

/* Every I/O APIC of every machine: what a local APIC's broadcast EOI reaches. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_ioapic *registry;

struct msg {
	bool send;
	uint64_t addr;
	uint32_t data;
};

/* The message of entry @p (Remote IRR set for level entries). */
static struct msg send_locked(struct ioapic_pin *p)
{
	struct msg msg = { .send = true };
	bool level = p->lo & SIM_IOAPIC_RTE_LEVEL;

	if (p->hi & SIM_IOAPIC_RTE_HI_REMAP) {
		unsigned int index = p->hi >> SIM_IOAPIC_RTE_HI_INDEX_SHIFT |
				     (p->lo & SIM_IOAPIC_RTE_LO_INDEX15 ? 1u << 15 : 0);

		msg.addr = 0xFEE00000u | (index & 0x7FFFu) << 5 | 1u << 4 | ((index >> 15) & 1) << 2;
	} else {
		msg.addr = 0xFEE00000u | (p->hi >> 24) << 12 |
			   (p->lo & SIM_IOAPIC_RTE_DM_LOGICAL ? 1u << 2 : 0);
	}
	msg.data = (p->lo & 0x7FFu) | (level ? 3u << 14 : 0);
	if (level)
		p->lo |= SIM_IOAPIC_RTE_REMOTE_IRR;
	p->st.sent++;
	return msg;
}

/* A level entry that should deliver now. */
static struct msg level_check_locked(struct ioapic_pin *p)
{
	if ((p->lo & SIM_IOAPIC_RTE_LEVEL) && p->line && !(p->lo & SIM_IOAPIC_RTE_MASK) &&
	    !(p->lo & SIM_IOAPIC_RTE_REMOTE_IRR))
		return send_locked(p);
	return (struct msg){ 0 };
}

static void deliver(struct sim_ioapic *io, const struct msg *msgs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (msgs[i].send)
			sim_dma_write32(io->m, io->rid, msgs[i].addr, msgs[i].data);
}

void sim_ioapic_set_line(struct sim_ioapic *io, unsigned int pin, bool asserted)
{
	struct msg msg = { 0 };
	struct ioapic_pin *p;
	bool rising;

	if (!io || pin >= io->nr)
		return;
	pthread_mutex_lock(&io->lock);
	p = &io->pins[pin];
	rising = asserted && !p->line;
	p->line = asserted;
	if (p->lo & SIM_IOAPIC_RTE_LEVEL) {
		if (rising && (p->lo & SIM_IOAPIC_RTE_REMOTE_IRR))
			p->st.coalesced++;
		msg = level_check_locked(p);
	} else if (rising) {
		if (p->lo & SIM_IOAPIC_RTE_MASK)
			p->st.masked_drops++;
		else
			msg = send_locked(p);
	}
	pthread_mutex_unlock(&io->lock);
	deliver(io, &msg, 1);
}

void sim_ioapic_pulse(struct sim_ioapic *io, unsigned int pin)
{
	sim_ioapic_set_line(io, pin, true);
	sim_ioapic_set_line(io, pin, false);
}

static void eoi_locked(struct sim_ioapic *io, unsigned int vector, struct msg *msgs)
{
	for (unsigned int n = 0; n < io->nr; n++) {
		struct ioapic_pin *p = &io->pins[n];

		msgs[n] = (struct msg){ 0 };
		if (!(p->lo & SIM_IOAPIC_RTE_LEVEL) || !(p->lo & SIM_IOAPIC_RTE_REMOTE_IRR) ||
		    (p->lo & 0xFF) != (vector & 0xFF))
			continue;
		p->lo &= ~SIM_IOAPIC_RTE_REMOTE_IRR;
		p->st.eois++;
		msgs[n] = level_check_locked(p);
	}
}

void sim_ioapic_eoi(struct sim_ioapic *io, unsigned int vector)
{
	struct msg msgs[SIM_IOAPIC_MAX_PINS];

	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector, msgs);
	pthread_mutex_unlock(&io->lock);
	deliver(io, msgs, io->nr);
}

/* ---- Registers --------------------------------------------------------------- */

static uint32_t ind_read_locked(struct sim_ioapic *io, uint32_t reg)
{
	switch (reg) {
	case SIM_IOAPIC_REG_ID:
	case SIM_IOAPIC_REG_ARB:
		return io->id << 24;
	case SIM_IOAPIC_REG_VER:
		return SIM_IOAPIC_VERSION | (io->nr - 1) << 16;
	}
	if (reg >= 0x10 && reg < 0x10 + 2 * io->nr) {
		struct ioapic_pin *p = &io->pins[(reg - 0x10) / 2];

		return reg & 1 ? p->hi : p->lo;
	}
	return 0;
}

static struct msg ind_write_locked(struct sim_ioapic *io, uint32_t reg, uint32_t v)
{
	if (reg == SIM_IOAPIC_REG_ID) {
		io->id = (v >> 24) & 0xF;
		return (struct msg){ 0 };
	}
	if (reg >= 0x10 && reg < 0x10 + 2 * io->nr) {
		struct ioapic_pin *p = &io->pins[(reg - 0x10) / 2];

		if (reg & 1) {
			p->hi = v;
			return (struct msg){ 0 };
		}
		p->lo = (p->lo & ~RTE_LO_RW) | (v & RTE_LO_RW);
		/* An entry switched to edge has no Remote IRR. */
		if (!(p->lo & SIM_IOAPIC_RTE_LEVEL))
			p->lo &= ~SIM_IOAPIC_RTE_REMOTE_IRR;
		return level_check_locked(p);
	}
	return (struct msg){ 0 };
}

static uint64_t ioapic_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct sim_ioapic *io = opaque;
	uint32_t v = 0;

	if (size != 4)
		return 0;
	pthread_mutex_lock(&io->lock);
	if (offset == SIM_IOAPIC_IOREGSEL)
		v = io->regsel;
	else if (offset == SIM_IOAPIC_IOWIN)
		v = ind_read_locked(io, io->regsel);
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct sim_ioapic *io = opaque;
	struct msg msg = { 0 };

	if (size != 4)
		return;
	if (offset == SIM_IOAPIC_EOI) {
		sim_ioapic_eoi(io, (uint32_t)value);
		return;
	}
	pthread_mutex_lock(&io->lock);
	if (offset == SIM_IOAPIC_IOREGSEL)
		io->regsel = (uint32_t)value & 0xFF;
	else if (offset == SIM_IOAPIC_IOWIN)
		msg = ind_write_locked(io, io->regsel, (uint32_t)value);
	pthread_mutex_unlock(&io->lock);
	deliver(io, &msg, 1);
}

static const struct sim_region_ops ioapic_ops = {
	.read = ioapic_read,
	.write = ioapic_write,
};

static void ioapic_free(void *arg)
{
	struct sim_ioapic *io = arg;

	pthread_mutex_lock(&registry_lock);
	for (struct sim_ioapic **pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == io) {
			*pp = io->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_destroy(&io->lock);
	free(io);
}

struct sim_ioapic *sim_ioapic_create(struct sim_machine *m, const struct sim_ioapic_config *cfg)
{
	struct sim_ioapic_config c = { 0 };
	struct sim_ioapic *io;

	if (!m)
		return NULL;
	if (cfg)
		c = *cfg;
	if (!c.base)
		c.base = SIM_IOAPIC_DEFAULT_BASE;
	if (!c.nr_pins)
		c.nr_pins = 24;
	if ((c.base & (SIM_IOAPIC_SIZE - 1)) || c.nr_pins > SIM_IOAPIC_MAX_PINS || c.id > 15)
		return NULL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return NULL;
	pthread_mutex_init(&io->lock, NULL);
	io->m = m;
	io->base = c.base;
	io->nr = c.nr_pins;
	io->id = c.id;
	io->rid = c.rid_given ? c.requester_id : SIM_IOAPIC_DEFAULT_RID;
	for (unsigned int n = 0; n < io->nr; n++)
		io->pins[n].lo = SIM_IOAPIC_RTE_MASK;
	if (sim_map_region(m, io->base, SIM_IOAPIC_SIZE, &ioapic_ops, io, "ioapic") < 0) {
		ioapic_free(io);
		return NULL;
	}
	pthread_mutex_lock(&registry_lock);
	io->next = registry;
	registry = io;
	pthread_mutex_unlock(&registry_lock);
	sim_machine_add_cleanup(m, ioapic_free, io);
	return io;
}

void sim_ioapic_broadcast_eoi(struct sim_machine *m, unsigned int vector)
{
	struct sim_ioapic *to[16];
	unsigned int n = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct sim_ioapic *io = registry; io && n < 16; io = io->next)
		if (io->m == m)
			to[n++] = io;
	pthread_mutex_unlock(&registry_lock);
	/* Registry order is newest first; the bus reaches them all the same. */
	while (n--)
		sim_ioapic_eoi(to[n], vector);
}

void sim_ioapic_pin_stats(struct sim_ioapic *io, unsigned int pin, struct sim_ioapic_pin_stats *out)
{
	*out = (struct sim_ioapic_pin_stats){ 0 };
	if (!io || pin >= io->nr)
		return;
	pthread_mutex_lock(&io->lock);
	*out = io->pins[pin].st;
	pthread_mutex_unlock(&io->lock);
}

uint64_t sim_ioapic_rte(struct sim_ioapic *io, unsigned int pin)
{
	uint64_t v;

	if (!io || pin >= io->nr)
		return 0;
	pthread_mutex_lock(&io->lock);
	v = (uint64_t)io->pins[pin].hi << 32 | io->pins[pin].lo;
	pthread_mutex_unlock(&io->lock);
	return v;
}
