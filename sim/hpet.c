// SPDX-License-Identifier: BSD-2-Clause
/*
 * An HPET block with FSB (MSI) delivery.  Register layout and semantics in
 * sim_hpet.h.
 */
#include <stdlib.h>

#include "sim_hpet.h"
#include "sim_internal.h"

#define TN_CONF_RW (SIM_HPET_TN_INT_TYPE_LEVEL | SIM_HPET_TN_INT_ENB | SIM_HPET_TN_32MODE | \
		    (0x1Full << SIM_HPET_TN_ROUTE_SHIFT) | SIM_HPET_TN_FSB_EN)

struct hpet_timer {
	struct sim_hpet *h;
	unsigned int n;
	uint64_t conf;		/* the writable bits */
	uint64_t cmp;
	uint64_t fsb;		/* value low, address high */
	bool fsb_cap;
	bool armed;		/* a comparator write waits for its match */
	struct sim_hpet_timer_stats st;
};

struct sim_hpet {
	struct sim_machine *m;
	pthread_mutex_t lock;
	uint64_t base;
	uint16_t rid;
	unsigned int nr;
	uint64_t gen_conf;
	uint64_t gintr_sta;
	uint64_t cnt_base;	/* counter value at cnt_since */
	uint64_t cnt_since;	/* sim_now() when the counter last started or was written */
	struct hpet_timer t[SIM_HPET_MAX_TIMERS];
};

static uint64_t counter_locked(const struct sim_hpet *h)
{
	if (!(h->gen_conf & SIM_HPET_GEN_ENABLE))
		return h->cnt_base;
	return h->cnt_base + (sim_now(h->m) - h->cnt_since);
}

static void match_event(void *arg);

/*
 * Comparators further ahead than this are never reached by a simulation
 * (2^40 ticks of 100 ns: about 30 hours): not scheduled, else
 * sim_run_until_idle() would move the clock there (a driver parking an
 * unarmed comparator far ahead).
 */
#define HPET_HORIZON (1ull << 40)

/* Ticks until timer @t's comparator matches, or UINT64_MAX (not armed / halted / beyond the horizon). */
static uint64_t due_locked(const struct sim_hpet *h, const struct hpet_timer *t)
{
	uint64_t now = counter_locked(h);

	if (!t->armed || !(h->gen_conf & SIM_HPET_GEN_ENABLE))
		return UINT64_MAX;
	if (t->cmp > now && t->cmp - now > HPET_HORIZON)
		return UINT64_MAX;
	return t->cmp > now ? t->cmp - now : 0;
}

/*
 * A match: true with the message to send (read now, so a half-written
 * route goes out as it stands).
 */
static bool match_locked(struct sim_hpet *h, struct hpet_timer *t, uint64_t *addr, uint32_t *val)
{
	t->armed = false;
	if (!(h->gen_conf & SIM_HPET_GEN_ENABLE))
		return false;
	t->st.matches++;
	if (t->conf & SIM_HPET_TN_INT_TYPE_LEVEL)
		h->gintr_sta |= 1ull << t->n;
	if (!(t->conf & SIM_HPET_TN_INT_ENB)) {
		t->st.suppressed++;
		return false;
	}
	if (!(t->conf & SIM_HPET_TN_FSB_EN)) {
		t->st.unrouted++;
		return false;
	}
	t->st.sent++;
	*addr = t->fsb >> 32;
	*val = (uint32_t)t->fsb;
	return true;
}

static void match_event(void *arg)
{
	struct hpet_timer *t = arg;
	struct sim_hpet *h = t->h;
	uint64_t addr = 0;
	uint32_t val = 0;
	bool send = false;

	pthread_mutex_lock(&h->lock);
	/* A stale event (comparator rewritten, counter halted) finds nothing due. */
	if (due_locked(h, t) == 0)
		send = match_locked(h, t, &addr, &val);
	pthread_mutex_unlock(&h->lock);
	if (send)
		sim_dma_write32(h->m, h->rid, addr, val);
}

void sim_hpet_fire(struct sim_hpet *h, unsigned int n)
{
	uint64_t addr = 0;
	uint32_t val = 0;
	bool send;

	if (!h || n >= h->nr)
		return;
	pthread_mutex_lock(&h->lock);
	send = match_locked(h, &h->t[n], &addr, &val);
	pthread_mutex_unlock(&h->lock);
	if (send)
		sim_dma_write32(h->m, h->rid, addr, val);
}

/* ---- Registers -------------------------------------------------------------- */

static uint64_t gcap(const struct sim_hpet *h)
{
	return 1ull | (uint64_t)(h->nr - 1) << SIM_HPET_GCAP_NUM_TIM_SHIFT |
	       SIM_HPET_GCAP_COUNT_SIZE | 0x8086ull << 16 |
	       SIM_HPET_PERIOD_FS << SIM_HPET_GCAP_PERIOD_SHIFT;
}

static uint64_t tn_conf(const struct hpet_timer *t)
{
	return t->conf | SIM_HPET_TN_SIZE_CAP | SIM_HPET_TN_ROUTE_CAP |
	       (t->fsb_cap ? SIM_HPET_TN_FSB_DEL_CAP : 0);
}

/* The 64-bit register at @reg (8-aligned), or false if there is none. */
static bool reg_read_locked(struct sim_hpet *h, uint64_t reg, uint64_t *v)
{
	if (reg >= 0x100) {
		unsigned int n = (unsigned int)((reg - 0x100) / 0x20);
		struct hpet_timer *t;

		if (n >= h->nr)
			return false;
		t = &h->t[n];
		switch ((reg - 0x100) % 0x20) {
		case 0x0:
			*v = tn_conf(t);
			return true;
		case 0x8:
			*v = t->cmp;
			return true;
		case 0x10:
			*v = t->fsb;
			return true;
		}
		return false;
	}
	switch (reg) {
	case SIM_HPET_GCAP_ID:
		*v = gcap(h);
		return true;
	case SIM_HPET_GEN_CONF:
		*v = h->gen_conf;
		return true;
	case SIM_HPET_GINTR_STA:
		*v = h->gintr_sta;
		return true;
	case SIM_HPET_MAIN_CNT:
		*v = counter_locked(h);
		return true;
	}
	return false;
}

/* Write the register; @mask says which bits the access covers. Returns a timer to schedule. */
static struct hpet_timer *reg_write_locked(struct sim_hpet *h, uint64_t reg, uint64_t v,
					   uint64_t mask, uint64_t *delay)
{
	uint64_t old;

	if (!reg_read_locked(h, reg, &old))
		return NULL;
	if (reg >= 0x100) {
		struct hpet_timer *t = &h->t[(reg - 0x100) / 0x20];

		switch ((reg - 0x100) % 0x20) {
		case 0x0: {
			uint64_t rw = TN_CONF_RW & (t->fsb_cap ? ~0ull : ~SIM_HPET_TN_FSB_EN);

			t->conf = (t->conf & ~(mask & rw)) | (v & mask & rw);
			return NULL;
		}
		case 0x8:
			t->cmp = (t->cmp & ~mask) | (v & mask);
			t->armed = true;
			*delay = due_locked(h, t);
			return *delay == UINT64_MAX ? NULL : t;
		case 0x10:
			t->fsb = (t->fsb & ~mask) | (v & mask);
			return NULL;
		}
		return NULL;
	}
	switch (reg) {
	case SIM_HPET_GEN_CONF: {
		uint64_t nv = (h->gen_conf & ~(mask & 3)) | (v & mask & 3);

		if ((nv ^ h->gen_conf) & SIM_HPET_GEN_ENABLE) {
			h->cnt_base = counter_locked(h);
			h->cnt_since = sim_now(h->m);
		}
		h->gen_conf = nv;
		return NULL;
	}
	case SIM_HPET_GINTR_STA:
		h->gintr_sta &= ~(v & mask);
		return NULL;
	case SIM_HPET_MAIN_CNT:
		h->cnt_base = (counter_locked(h) & ~mask) | (v & mask);
		h->cnt_since = sim_now(h->m);
		return NULL;
	}
	return NULL;
}

static uint64_t hpet_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct sim_hpet *h = opaque;
	uint64_t v = 0;

	if ((size != 4 && size != 8) || (offset & (size - 1)))
		return 0;
	pthread_mutex_lock(&h->lock);
	if (!reg_read_locked(h, offset & ~7ull, &v))
		v = 0;
	pthread_mutex_unlock(&h->lock);
	if (size == 4)
		return (uint32_t)(v >> ((offset & 4) * 8));
	return v;
}

/* Enabling the counter arms the schedule of every armed comparator. */
static void schedule_all_locked(struct sim_hpet *h, uint64_t *delays)
{
	for (unsigned int n = 0; n < h->nr; n++)
		delays[n] = due_locked(h, &h->t[n]);
}

static void hpet_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct sim_hpet *h = opaque;
	uint64_t delays[SIM_HPET_MAX_TIMERS], delay = UINT64_MAX, mask, v;
	struct hpet_timer *t;
	bool was_enabled, all = false;

	if ((size != 4 && size != 8) || (offset & (size - 1)))
		return;
	mask = size == 8 ? ~0ull : 0xFFFFFFFFull << ((offset & 4) * 8);
	v = size == 8 ? value : (value & 0xFFFFFFFFull) << ((offset & 4) * 8);
	pthread_mutex_lock(&h->lock);
	was_enabled = h->gen_conf & SIM_HPET_GEN_ENABLE;
	t = reg_write_locked(h, offset & ~7ull, v, mask, &delay);
	if (!was_enabled && (h->gen_conf & SIM_HPET_GEN_ENABLE)) {
		schedule_all_locked(h, delays);
		all = true;
	}
	pthread_mutex_unlock(&h->lock);
	if (all) {
		for (unsigned int n = 0; n < h->nr; n++)
			if (delays[n] != UINT64_MAX)
				sim_schedule(h->m, delays[n], match_event, &h->t[n]);
	} else if (t) {
		sim_schedule(h->m, delay, match_event, t);
	}
}

static const struct sim_region_ops hpet_ops = {
	.read = hpet_read,
	.write = hpet_write,
};

static void hpet_free(void *arg)
{
	struct sim_hpet *h = arg;

	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct sim_hpet *sim_hpet_create(struct sim_machine *m, const struct sim_hpet_config *cfg)
{
	struct sim_hpet_config c = { 0 };
	struct sim_hpet *h;

	if (!m)
		return NULL;
	if (cfg)
		c = *cfg;
	if (!c.base)
		c.base = SIM_HPET_DEFAULT_BASE;
	if (!c.nr_timers)
		c.nr_timers = 3;
	if ((c.base & (SIM_HPET_SIZE - 1)) || c.nr_timers > SIM_HPET_MAX_TIMERS)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->m = m;
	h->base = c.base;
	h->nr = c.nr_timers;
	h->rid = c.rid_given ? c.requester_id : SIM_HPET_DEFAULT_RID;
	for (unsigned int n = 0; n < h->nr; n++) {
		h->t[n].h = h;
		h->t[n].n = n;
		h->t[n].fsb_cap = c.fsb_mask_given ? (c.fsb_mask >> n) & 1 : true;
	}
	if (sim_map_region(m, h->base, SIM_HPET_SIZE, &hpet_ops, h, "hpet") < 0) {
		hpet_free(h);
		return NULL;
	}
	sim_machine_add_cleanup(m, hpet_free, h);
	return h;
}

void sim_hpet_timer_stats(struct sim_hpet *h, unsigned int n, struct sim_hpet_timer_stats *out)
{
	*out = (struct sim_hpet_timer_stats){ 0 };
	if (!h || n >= h->nr)
		return;
	pthread_mutex_lock(&h->lock);
	*out = h->t[n].st;
	pthread_mutex_unlock(&h->lock);
}

uint16_t sim_hpet_requester_id(const struct sim_hpet *h)
{
	return h->rid;
}
