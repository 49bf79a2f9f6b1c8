// SPDX-License-Identifier: BSD-2-Clause
/*
 * A VT-d-style interrupt-remapping unit: the register file, remapping of
 * interrupt requests through an interrupt entry cache, queued invalidation,
 * primary fault logging and the fault event.  Formats and semantics are
 * documented in sim_vtd.h.
 *
 * Locking: u->lock protects every field.  It is never held while an
 * interrupt message, a status write or an event interrupt is sent, or an
 * event is scheduled: work that must happen after the state change is
 * collected in a struct post and done once the lock is dropped.  Memory
 * (the remapping table, descriptors) is read under the lock; the unit
 * refuses to read its own register window, so that cannot recurse.
 */
#include <errno.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_vtd.h"

#define VTD_VERSION		0x10u
#define VTD_FRO			(SIM_VTD_FRCD / 16)
#define VTD_IRO			0x10u

#define GCMD_ONESHOT (SIM_VTD_GCMD_SRTP | SIM_VTD_GCMD_SFL | SIM_VTD_GCMD_WBF | SIM_VTD_GCMD_SIRTP)
#define GCMD_PERSIST (SIM_VTD_GCMD_TE | SIM_VTD_GCMD_QIE | SIM_VTD_GCMD_IRE | SIM_VTD_GCMD_CFI)

#define FSTS_AFO		(1u << 2)
#define FSTS_APF		(1u << 3)
#define FSTS_RW1C		(SIM_VTD_FSTS_PFO | FSTS_AFO | FSTS_APF | SIM_VTD_FSTS_IQE | \
				 SIM_VTD_FSTS_ICE | SIM_VTD_FSTS_ITE)
#define EVENT_IP		(1u << 30)
#define EVENT_IM		(1u << 31)

#define IQ_PTR_MASK		0x7FFF0ull
#define IQA_BASE_MASK		(~0xFFFull)
#define IQA_QS_MASK		0x7ull
#define IQA_RW_MASK		(IQA_BASE_MASK | IQA_QS_MASK)
#define IRTA_ADDR_MASK		(~0xFFFull)
#define IRTA_RW_MASK		(IRTA_ADDR_MASK | SIM_VTD_IRTA_EIME | SIM_VTD_IRTA_S_MASK)

/* Queue error information (IQERCD.IQEI). */
#define IQEI_FETCH		2u
#define IQEI_TYPE		3u
#define IQEI_RESERVED		4u

/* Reserved bits of a present IRTE (xAPIC mode, remapped format). */
#define IRTE_LO_RSVD		(0x7000ull | SIM_VTD_IRTE_IM | 0xFF000000ull | 0xFF00000000ull | \
				 0xFFFF000000000000ull)
#define IRTE_HI_RSVD		(~0xFFFFFull)

/* Reserved bits of the descriptors the unit knows. */
#define IEC_LO_RSVD		(0x1E0ull | 0x7FFF000ull | 0xFFFF000000000000ull)
#define WAIT_LO_RSVD		(0x100ull | 0xFFFFF000ull)
#define WAIT_HI_RSVD		0x3ull
#define WAIT_PD			(1ull << 7)

#define MSI_DATA_LEVEL_ASSERT	(1u << 14)

struct iec_entry {
	uint64_t lo, hi;
	bool valid;
};

struct event_msg {
	bool send;
	uint64_t addr;
	uint32_t data;
};

/* What to do once the lock is dropped. */
struct post {
	struct event_msg fault;		/* fault event */
	struct event_msg completion;	/* invalidation completion event */
	bool status_write;
	uint64_t status_addr;
	uint32_t status_data;
	bool run_queue;
};

struct sim_vtd {
	struct sim_machine *m;
	pthread_mutex_t lock;
	uint64_t base;
	unsigned int nr_fr;
	unsigned int mhmv;
	unsigned int qi_delay;

	uint64_t cap, ecap;
	uint32_t gsts;
	uint64_t rtaddr, ccmd;
	uint32_t fsts;			/* the rw1c bits; PPF and FRI are computed */
	uint32_t fectl, fedata, feaddr, feuaddr;
	uint64_t iqh, iqt, iqa, iqercd;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t irta;			/* the register */
	uint64_t irta_latched;		/* what SIRTP took */
	bool table_latched;
	struct {
		uint64_t lo, hi;
	} frcd[SIM_VTD_MAX_FAULT_RECORDS];
	unsigned int next_fr;		/* record the next fault goes to */
	bool queue_scheduled;		/* a queue_run() is on its way */
	bool queue_running;		/* a queue_run() is processing */

	struct iec_entry *cache;	/* [SIM_VTD_MAX_ENTRIES] */
	struct sim_vtd_stats stats;
	struct sim_vtd_log_entry log[SIM_VTD_LOG_MAX];
	unsigned int nr_log;
};

static void log_event(struct sim_vtd *u, enum sim_vtd_log_kind kind, uint64_t a, uint64_t b)
{
	if (u->nr_log < SIM_VTD_LOG_MAX)
		u->log[u->nr_log] = (struct sim_vtd_log_entry){ kind, a, b, sim_now(u->m) };
	u->nr_log++;
}

/* Does [pa, pa + len) touch the unit's own registers? */
static bool in_own_window(const struct sim_vtd *u, uint64_t pa, uint64_t len)
{
	return pa < u->base + SIM_VTD_SIZE && pa + len > u->base;
}

/* ---- Events: fault and invalidation completion ------------------------------ */

static struct event_msg event_msg(uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	return (struct event_msg){ true, (uint64_t)addr_hi << 32 | (addr_lo & ~3u), data & 0xFFFF };
}

static bool fault_ppf(const struct sim_vtd *u)
{
	for (unsigned int i = 0; i < u->nr_fr; i++)
		if (u->frcd[i].hi & SIM_VTD_FRCD_HI_F)
			return true;
	return false;
}

/* A fault condition appeared: send the fault event, or leave it pending. */
static void fault_event_locked(struct sim_vtd *u, struct post *post)
{
	if (u->fectl & EVENT_IM) {
		u->fectl |= EVENT_IP;
		return;
	}
	post->fault = event_msg(u->feaddr, u->feuaddr, u->fedata);
}

/* A pending event whose conditions software cleared while masked is dropped. */
static void fault_status_changed_locked(struct sim_vtd *u)
{
	if (!(u->fsts & (SIM_VTD_FSTS_PFO | SIM_VTD_FSTS_IQE | SIM_VTD_FSTS_ICE |
			 SIM_VTD_FSTS_ITE)) && !fault_ppf(u))
		u->fectl &= ~EVENT_IP;
}

static void record_fault_locked(struct sim_vtd *u, unsigned int reason, uint16_t rid,
				unsigned int index, bool fpd, struct post *post)
{
	bool had_ppf;

	u->stats.blocked++;
	u->stats.blocked_by_reason[reason - SIM_VTD_FR_FIRST]++;
	log_event(u, SIM_VTD_LOG_FAULT, reason, rid | (uint64_t)index << 16);
	if (fpd) {
		u->stats.faults_suppressed++;
		return;
	}
	if (u->fsts & SIM_VTD_FSTS_PFO) {
		u->stats.faults_lost++;
		return;
	}
	if (u->frcd[u->next_fr].hi & SIM_VTD_FRCD_HI_F) {
		/* Every record still holds an unserviced fault: overflow. */
		u->fsts |= SIM_VTD_FSTS_PFO;
		u->stats.faults_lost++;
		fault_event_locked(u, post);
		return;
	}
	had_ppf = fault_ppf(u);
	u->frcd[u->next_fr].lo = (uint64_t)(index & 0xFFFF) << SIM_VTD_FRCD_LO_FI_SHIFT;
	u->frcd[u->next_fr].hi = SIM_VTD_FRCD_HI_F | (uint64_t)reason << SIM_VTD_FRCD_HI_FR_SHIFT |
				 rid;
	u->next_fr = (u->next_fr + 1) % u->nr_fr;
	u->stats.faults_recorded++;
	if (!had_ppf)
		fault_event_locked(u, post);
}

static void queue_error_locked(struct sim_vtd *u, unsigned int iqei, struct post *post)
{
	u->fsts |= SIM_VTD_FSTS_IQE;
	u->iqercd = iqei;
	u->stats.queue_errors++;
	log_event(u, SIM_VTD_LOG_QUEUE_ERROR, iqei, u->iqh);
	fault_event_locked(u, post);
}

static void send_event(struct sim_vtd *u, const struct event_msg *ev)
{
	if (!ev->send)
		return;
	/* The unit's own events are compatibility-format and never remapped. */
	if (ev->addr >= MSI_WINDOW_BASE && ev->addr - MSI_WINDOW_BASE < MSI_WINDOW_SIZE)
		sim_msi_deliver(u->m, ev->addr, ev->data);
	else
		sim_dma_write(u->m, ev->addr, ev->data, 4);
}

static void queue_run(void *arg);

static void do_post(struct sim_vtd *u, const struct post *post)
{
	if (post->status_write)
		sim_dma_write(u->m, post->status_addr, post->status_data, 4);
	if (post->fault.send) {
		pthread_mutex_lock(&u->lock);
		u->stats.fault_events++;
		pthread_mutex_unlock(&u->lock);
		send_event(u, &post->fault);
	}
	if (post->completion.send) {
		pthread_mutex_lock(&u->lock);
		u->stats.completion_events++;
		pthread_mutex_unlock(&u->lock);
		send_event(u, &post->completion);
	}
	if (post->run_queue) {
		if (u->qi_delay)
			sim_schedule(u->m, u->qi_delay, queue_run, u);
		else
			queue_run(u);
	}
}

/* ---- Interrupt entry cache and translation --------------------------------- */

static unsigned int table_entries_locked(const struct sim_vtd *u)
{
	if (!u->table_latched)
		return 0;
	return 2u << (u->irta_latched & SIM_VTD_IRTA_S_MASK);
}

static void read_irte_locked(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi)
{
	uint64_t pa = (u->irta_latched & IRTA_ADDR_MASK) + 16ull * index;

	*lo = sim_dma_read(u->m, pa, 8);
	*hi = sim_dma_read(u->m, pa + 8, 8);
}

/* The IRTE as the unit sees it: the cached copy, else memory (cached if present). */
static void fetch_irte_locked(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi)
{
	struct iec_entry *e = &u->cache[index];
	uint64_t mlo, mhi;

	read_irte_locked(u, index, &mlo, &mhi);
	if (e->valid) {
		u->stats.cache_hits++;
		if (e->lo != mlo || e->hi != mhi)
			u->stats.stale_hits++;
		*lo = e->lo;
		*hi = e->hi;
		return;
	}
	u->stats.cache_misses++;
	*lo = mlo;
	*hi = mhi;
	if (mlo & SIM_VTD_IRTE_P)
		*e = (struct iec_entry){ mlo, mhi, true };
}

static bool irte_reserved(uint64_t lo, uint64_t hi)
{
	unsigned int dlm = (lo >> SIM_VTD_IRTE_DLM_SHIFT) & 7;
	unsigned int svt = (hi >> SIM_VTD_IRTE_SVT_SHIFT) & 3;

	return (lo & IRTE_LO_RSVD) || (hi & IRTE_HI_RSVD) || dlm == 3 || dlm == 6 || svt == 3;
}

static bool source_id_ok(uint64_t hi, uint16_t rid)
{
	/* SQ: which function bits to ignore (bit 2; bits 2:1; bits 2:0). */
	static const uint16_t sq_ignore[4] = { 0, 0x4, 0x6, 0x7 };
	uint16_t sid = (uint16_t)(hi & SIM_VTD_IRTE_SID_MASK);
	unsigned int sq = (hi >> SIM_VTD_IRTE_SQ_SHIFT) & 3;
	unsigned int bus = rid >> 8;

	switch ((hi >> SIM_VTD_IRTE_SVT_SHIFT) & 3) {
	case SIM_VTD_SVT_NONE:
		return true;
	case SIM_VTD_SVT_SID:
		return ((sid ^ rid) & (uint16_t)~sq_ignore[sq]) == 0;
	case SIM_VTD_SVT_BUS:
		return bus >= (unsigned int)(sid >> 8) && bus <= (unsigned int)(sid & 0xFF);
	default:
		return false;
	}
}

/* Remappable-format request: true with the compatibility message to deliver. */
static bool remap_locked(struct sim_vtd *u, uint16_t rid, uint64_t addr, uint32_t data,
			 uint64_t *out_addr, uint32_t *out_data, struct post *post)
{
	unsigned int handle = ((unsigned int)(addr >> SIM_VTD_MSI_HANDLE_SHIFT) & 0x7FFF) |
			      ((unsigned int)(addr >> 2) & 1) << 15;
	unsigned int index = handle, entries = table_entries_locked(u);
	unsigned int dlm;
	uint64_t lo, hi;
	bool fpd;

	if (data & 0xFFFF0000u) {
		record_fault_locked(u, SIM_VTD_FR_RESERVED_REQUEST, rid, handle, false, post);
		return false;
	}
	if (addr & SIM_VTD_MSI_SHV)
		index += data & 0xFFFF;
	if (!entries ||
	    in_own_window(u, u->irta_latched & IRTA_ADDR_MASK, 16ull * entries)) {
		record_fault_locked(u, SIM_VTD_FR_TABLE, rid, index, false, post);
		return false;
	}
	if (index >= entries) {
		record_fault_locked(u, SIM_VTD_FR_INDEX, rid, index, false, post);
		return false;
	}
	fetch_irte_locked(u, index, &lo, &hi);
	fpd = lo & SIM_VTD_IRTE_FPD;
	if (!(lo & SIM_VTD_IRTE_P)) {
		record_fault_locked(u, SIM_VTD_FR_NOT_PRESENT, rid, index, fpd, post);
		return false;
	}
	if (irte_reserved(lo, hi)) {
		record_fault_locked(u, SIM_VTD_FR_RESERVED_IRTE, rid, index, fpd, post);
		return false;
	}
	if (!source_id_ok(hi, rid)) {
		record_fault_locked(u, SIM_VTD_FR_SOURCE_ID, rid, index, fpd, post);
		return false;
	}
	dlm = (lo >> SIM_VTD_IRTE_DLM_SHIFT) & 7;
	*out_addr = MSI_WINDOW_BASE | ((lo >> SIM_VTD_IRTE_XAPIC_DST_SHIFT) & 0xFF) << 12 |
		    (lo & SIM_VTD_IRTE_RH ? MSI_ADDR_RH : 0) |
		    (lo & SIM_VTD_IRTE_DM ? MSI_ADDR_LOGICAL : 0);
	*out_data = (uint32_t)((lo >> SIM_VTD_IRTE_VECTOR_SHIFT) & 0xFF) | dlm << 8 |
		    (lo & SIM_VTD_IRTE_TM ? MSI_DATA_LEVEL_TRIGGER | MSI_DATA_LEVEL_ASSERT : 0);
	u->stats.remapped++;
	return true;
}

/* The interposer: every interrupt request of the machine comes here. */
static void vtd_request(void *opaque, uint16_t rid, uint64_t addr, uint32_t data)
{
	struct sim_vtd *u = opaque;
	struct post post = { 0 };
	uint64_t out_addr = addr;
	uint32_t out_data = data;
	bool deliver = false;

	pthread_mutex_lock(&u->lock);
	u->stats.requests++;
	if (!(u->gsts & SIM_VTD_GSTS_IRES)) {
		u->stats.passed++;
		deliver = true;
	} else if (!(addr & SIM_VTD_MSI_FORMAT)) {
		/* Compatibility format would bypass remapping: only with CFI. */
		if (u->gsts & SIM_VTD_GSTS_CFIS) {
			u->stats.passed++;
			deliver = true;
		} else {
			record_fault_locked(u, SIM_VTD_FR_COMPAT, rid, 0, false, &post);
		}
	} else {
		deliver = remap_locked(u, rid, addr, data, &out_addr, &out_data, &post);
	}
	pthread_mutex_unlock(&u->lock);
	if (deliver)
		sim_msi_deliver(u->m, out_addr, out_data);
	do_post(u, &post);
}

/* ---- Queued invalidation ------------------------------------------------------ */

static unsigned int queue_slots(const struct sim_vtd *u)
{
	return 256u << (u->iqa & IQA_QS_MASK);
}

static void iec_invalidate_locked(struct sim_vtd *u, uint64_t lo)
{
	if (!(lo & SIM_VTD_IEC_G_INDEX)) {
		for (unsigned int i = 0; i < SIM_VTD_MAX_ENTRIES; i++)
			u->cache[i].valid = false;
		u->stats.iec_global++;
		log_event(u, SIM_VTD_LOG_IEC, 0, 0);
		return;
	}
	unsigned int im = (lo >> SIM_VTD_IEC_IM_SHIFT) & 0x1F;
	unsigned int iidx = (lo >> SIM_VTD_IEC_IIDX_SHIFT) & 0xFFFF;
	unsigned int first = iidx & ~((1u << im) - 1), n = 1u << im;

	for (unsigned int i = first; i < first + n && i < SIM_VTD_MAX_ENTRIES; i++)
		u->cache[i].valid = false;
	u->stats.iec_selective++;
	log_event(u, SIM_VTD_LOG_IEC, 1, iidx | (uint64_t)im << 16);
}

/* Process the descriptor at IQH.  Returns true if one was processed. */
static bool queue_step_locked(struct sim_vtd *u, struct post *post)
{
	uint64_t pa, lo, hi;
	unsigned int type;

	if (!(u->gsts & SIM_VTD_GSTS_QIES) || (u->fsts & SIM_VTD_FSTS_IQE) || u->iqh == u->iqt)
		return false;
	pa = (u->iqa & IQA_BASE_MASK) + u->iqh;
	if (in_own_window(u, pa, 16)) {
		queue_error_locked(u, IQEI_FETCH, post);
		return false;
	}
	lo = sim_dma_read(u->m, pa, 8);
	hi = sim_dma_read(u->m, pa + 8, 8);
	type = (unsigned int)(lo & 0xF) | (unsigned int)((lo >> 9) & 7) << 4;
	switch (type) {
	case 1:
	case 2:
	case 3:
		break;		/* DMA-remapping caches: nothing is modelled */
	case SIM_VTD_DESC_IEC:
		if ((lo & IEC_LO_RSVD) || hi ||
		    ((lo >> SIM_VTD_IEC_IM_SHIFT) & 0x1F) > u->mhmv) {
			queue_error_locked(u, IQEI_RESERVED, post);
			return false;
		}
		iec_invalidate_locked(u, lo);
		break;
	case SIM_VTD_DESC_WAIT:
		if ((lo & (WAIT_LO_RSVD | WAIT_PD)) || (hi & WAIT_HI_RSVD)) {
			queue_error_locked(u, IQEI_RESERVED, post);
			return false;
		}
		u->stats.waits++;
		log_event(u, SIM_VTD_LOG_WAIT, lo >> SIM_VTD_WAIT_DATA_SHIFT,
			  lo & SIM_VTD_WAIT_SW ? hi : 0);
		if (lo & SIM_VTD_WAIT_SW) {
			/* Everything before this descriptor is done: the write may go. */
			post->status_write = true;
			post->status_addr = hi & ~3ull;
			post->status_data = (uint32_t)(lo >> SIM_VTD_WAIT_DATA_SHIFT);
			u->stats.status_writes++;
		}
		if ((lo & SIM_VTD_WAIT_IF) && !(u->ics & SIM_VTD_ICS_IWC)) {
			u->ics |= SIM_VTD_ICS_IWC;
			if (u->iectl & EVENT_IM)
				u->iectl |= EVENT_IP;
			else
				post->completion = event_msg(u->ieaddr, u->ieuaddr, u->iedata);
		}
		break;
	default:
		queue_error_locked(u, IQEI_TYPE, post);
		return false;
	}
	u->stats.descriptors++;
	u->iqh = (u->iqh + 16) % (16ull * queue_slots(u));
	return true;
}

/*
 * Process the queue one descriptor at a time, dropping the lock after each
 * one so that a wait's status write happens after everything before it and
 * before anything after it.  One runner at a time (threaded machines may
 * schedule several); the runner re-checks IQT before it stops, so a tail
 * written meanwhile is never left behind.
 */
static void queue_run(void *arg)
{
	struct sim_vtd *u = arg;

	pthread_mutex_lock(&u->lock);
	u->queue_scheduled = false;
	if (u->queue_running) {
		pthread_mutex_unlock(&u->lock);
		return;
	}
	u->queue_running = true;
	for (;;) {
		struct post post = { 0 };
		bool done = queue_step_locked(u, &post);

		if (!done)
			u->queue_running = false;
		pthread_mutex_unlock(&u->lock);
		do_post(u, &post);
		if (!done)
			return;
		pthread_mutex_lock(&u->lock);
	}
}

static void kick_queue_locked(struct sim_vtd *u, struct post *post)
{
	if (!(u->gsts & SIM_VTD_GSTS_QIES) || (u->fsts & SIM_VTD_FSTS_IQE) || u->iqh == u->iqt ||
	    u->queue_scheduled)
		return;
	u->queue_scheduled = true;
	post->run_queue = true;
}

/* ---- Global command -------------------------------------------------------------- */

static void gcmd_write_locked(struct sim_vtd *u, uint32_t v, struct post *post)
{
	uint32_t toggled = (v ^ u->gsts) & GCMD_PERSIST;
	uint32_t oneshot = v & GCMD_ONESHOT;

	u->stats.gcmd_writes++;
	if (__builtin_popcount(toggled) + __builtin_popcount(oneshot) > 1)
		u->stats.gcmd_multi++;
	if (toggled & SIM_VTD_GCMD_QIE && (u->ecap & SIM_VTD_ECAP_QI)) {
		if (v & SIM_VTD_GCMD_QIE) {
			u->iqh = 0;
			u->gsts |= SIM_VTD_GSTS_QIES;
			kick_queue_locked(u, post);
		} else {
			u->gsts &= ~SIM_VTD_GSTS_QIES;
		}
	}
	if (toggled & SIM_VTD_GCMD_IRE && (u->ecap & SIM_VTD_ECAP_IR))
		u->gsts ^= SIM_VTD_GSTS_IRES;
	if (toggled & SIM_VTD_GCMD_CFI)
		u->gsts ^= SIM_VTD_GSTS_CFIS;
	if (oneshot & SIM_VTD_GCMD_SIRTP) {
		u->irta_latched = u->irta;
		u->table_latched = true;
		u->gsts |= SIM_VTD_GSTS_IRTPS;
	}
	if (oneshot & SIM_VTD_GCMD_SRTP)
		u->gsts |= SIM_VTD_GSTS_RTPS;
	if (oneshot & SIM_VTD_GCMD_SFL)
		u->gsts |= SIM_VTD_GSTS_FLS;
	log_event(u, SIM_VTD_LOG_GCMD, v, u->gsts);
}

/* ---- Register file ------------------------------------------------------------------ */

static uint32_t lo32(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t hi32(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

static uint64_t set_half(uint64_t reg, bool high, uint32_t v)
{
	return high ? (reg & 0xFFFFFFFFull) | (uint64_t)v << 32 : (reg & ~0xFFFFFFFFull) | v;
}

static unsigned int oldest_pending_fault(const struct sim_vtd *u)
{
	for (unsigned int i = 0; i < u->nr_fr; i++) {
		unsigned int r = (u->next_fr + i) % u->nr_fr;

		if (u->frcd[r].hi & SIM_VTD_FRCD_HI_F)
			return r;
	}
	return 0;
}

static uint32_t fsts_value(const struct sim_vtd *u)
{
	uint32_t v = u->fsts;

	if (fault_ppf(u))
		v |= SIM_VTD_FSTS_PPF | oldest_pending_fault(u) << SIM_VTD_FSTS_FRI_SHIFT;
	return v;
}

static uint32_t dword_read_locked(struct sim_vtd *u, uint32_t off)
{
	bool high = off & 4;

	if (off >= SIM_VTD_FRCD && off < SIM_VTD_FRCD + 16 * u->nr_fr) {
		unsigned int rec = (off - SIM_VTD_FRCD) / 16;
		uint64_t q = (off & 8) ? u->frcd[rec].hi : u->frcd[rec].lo;

		return high ? hi32(q) : lo32(q);
	}
	switch (off & ~4u) {
	case SIM_VTD_VER:
		return high ? 0 : VTD_VERSION;
	case SIM_VTD_CAP:
		return high ? hi32(u->cap) : lo32(u->cap);
	case SIM_VTD_ECAP:
		return high ? hi32(u->ecap) : lo32(u->ecap);
	case SIM_VTD_GCMD:	/* GCMD reads 0; GSTS is its upper neighbour */
		return high ? u->gsts : 0;
	case SIM_VTD_RTADDR:
		return high ? hi32(u->rtaddr) : lo32(u->rtaddr);
	case SIM_VTD_CCMD:
		return high ? hi32(u->ccmd) : lo32(u->ccmd);
	case 0x030:
		return high ? fsts_value(u) : 0;
	case SIM_VTD_FECTL:
		return high ? u->fedata : u->fectl;
	case SIM_VTD_FEADDR:
		return high ? u->feuaddr : u->feaddr;
	case SIM_VTD_IQH:
		return high ? hi32(u->iqh) : lo32(u->iqh);
	case SIM_VTD_IQT:
		return high ? hi32(u->iqt) : lo32(u->iqt);
	case SIM_VTD_IQA:
		return high ? hi32(u->iqa) : lo32(u->iqa);
	case 0x098:
		return high ? u->ics : 0;
	case SIM_VTD_IECTL:
		return high ? u->iedata : u->iectl;
	case SIM_VTD_IEADDR:
		return high ? u->ieuaddr : u->ieaddr;
	case SIM_VTD_IQERCD:
		return high ? hi32(u->iqercd) : lo32(u->iqercd);
	case SIM_VTD_IRTA:
		return high ? hi32(u->irta) : lo32(u->irta);
	default:
		return 0;
	}
}

static void event_ctl_write(uint32_t *ctl, uint32_t v, struct event_msg *ev, uint32_t addr_lo,
			    uint32_t addr_hi, uint32_t data)
{
	*ctl = (*ctl & ~EVENT_IM) | (v & EVENT_IM);
	if (!(*ctl & EVENT_IM) && (*ctl & EVENT_IP)) {
		*ctl &= ~EVENT_IP;
		*ev = event_msg(addr_lo, addr_hi, data);
	}
}

static void dword_write_locked(struct sim_vtd *u, uint32_t off, uint32_t v, struct post *post)
{
	bool high = off & 4;

	if (off >= SIM_VTD_FRCD && off < SIM_VTD_FRCD + 16 * u->nr_fr) {
		unsigned int rec = (off - SIM_VTD_FRCD) / 16;

		/* Only F (bit 127 of the record) is writable: write 1 to clear. */
		if ((off & 0xC) == 0xC && (v & (1u << 31))) {
			u->frcd[rec].hi &= ~SIM_VTD_FRCD_HI_F;
			fault_status_changed_locked(u);
		}
		return;
	}
	switch (off) {
	case SIM_VTD_GCMD:
		gcmd_write_locked(u, v, post);
		break;
	case SIM_VTD_RTADDR:
	case SIM_VTD_RTADDR + 4:
		u->rtaddr = set_half(u->rtaddr, high, v);
		break;
	case SIM_VTD_CCMD:
	case SIM_VTD_CCMD + 4:
		/* A context-cache invalidation completes at once: ICC reads back 0. */
		u->ccmd = set_half(u->ccmd, high, v) & ~(1ull << 63);
		break;
	case SIM_VTD_FSTS:
		u->fsts &= ~(v & FSTS_RW1C);
		fault_status_changed_locked(u);
		/* Clearing IQE lets the unit fetch again from IQH. */
		kick_queue_locked(u, post);
		break;
	case SIM_VTD_FECTL:
		event_ctl_write(&u->fectl, v, &post->fault, u->feaddr, u->feuaddr, u->fedata);
		break;
	case SIM_VTD_FEDATA:
		u->fedata = v & 0xFFFF;
		break;
	case SIM_VTD_FEADDR:
		u->feaddr = v & ~3u;
		break;
	case SIM_VTD_FEUADDR:
		u->feuaddr = v;
		break;
	case SIM_VTD_IQT:
		u->iqt = v & IQ_PTR_MASK;
		kick_queue_locked(u, post);
		break;
	case SIM_VTD_IQA:
	case SIM_VTD_IQA + 4:
		u->iqa = set_half(u->iqa, high, v) & IQA_RW_MASK;
		break;
	case SIM_VTD_ICS:
		if (v & SIM_VTD_ICS_IWC) {
			u->ics &= ~SIM_VTD_ICS_IWC;
			u->iectl &= ~EVENT_IP;
		}
		break;
	case SIM_VTD_IECTL:
		event_ctl_write(&u->iectl, v, &post->completion, u->ieaddr, u->ieuaddr, u->iedata);
		break;
	case SIM_VTD_IEDATA:
		u->iedata = v & 0xFFFF;
		break;
	case SIM_VTD_IEADDR:
		u->ieaddr = v & ~3u;
		break;
	case SIM_VTD_IEUADDR:
		u->ieuaddr = v;
		break;
	case SIM_VTD_IRTA:
	case SIM_VTD_IRTA + 4:
		u->irta = set_half(u->irta, high, v) & IRTA_RW_MASK;
		break;
	default:
		break;		/* read-only or unimplemented */
	}
}

static uint64_t vtd_mmio_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct sim_vtd *u = opaque;
	uint64_t v;

	if ((size != 4 && size != 8) || (offset & (size - 1)))
		return 0;
	pthread_mutex_lock(&u->lock);
	v = dword_read_locked(u, (uint32_t)offset);
	if (size == 8)
		v |= (uint64_t)dword_read_locked(u, (uint32_t)offset + 4) << 32;
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void vtd_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned int size)
{
	struct sim_vtd *u = opaque;
	struct post post = { 0 };

	if ((size != 4 && size != 8) || (offset & (size - 1)))
		return;
	pthread_mutex_lock(&u->lock);
	/* A 64-bit write is the low half, then the high half, done at once. */
	dword_write_locked(u, (uint32_t)offset, (uint32_t)value, &post);
	if (size == 8)
		dword_write_locked(u, (uint32_t)offset + 4, (uint32_t)(value >> 32), &post);
	pthread_mutex_unlock(&u->lock);
	do_post(u, &post);
}

static const struct sim_region_ops vtd_ops = {
	.read = vtd_mmio_read,
	.write = vtd_mmio_write,
};

/* ---- Lifetime ---------------------------------------------------------------------- */

static void vtd_free(void *arg)
{
	struct sim_vtd *u = arg;

	pthread_mutex_destroy(&u->lock);
	free(u->cache);
	free(u);
}

struct sim_vtd *sim_vtd_create(struct sim_machine *m, const struct sim_vtd_config *cfg)
{
	struct sim_vtd_config c = { 0 };
	struct sim_vtd *u;

	if (!m)
		return NULL;
	if (cfg)
		c = *cfg;
	if (!c.base)
		c.base = SIM_VTD_DEFAULT_BASE;
	if (!c.nr_fault_records)
		c.nr_fault_records = 8;
	if ((c.base & (SIM_VTD_SIZE - 1)) || c.nr_fault_records > SIM_VTD_MAX_FAULT_RECORDS ||
	    (c.mhmv_given && c.mhmv > 15))
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->cache = calloc(SIM_VTD_MAX_ENTRIES, sizeof(*u->cache));
	if (!u->cache)
		goto err_free;
	pthread_mutex_init(&u->lock, NULL);
	u->m = m;
	u->base = c.base;
	u->nr_fr = c.nr_fault_records;
	u->mhmv = c.mhmv_given ? c.mhmv : 15;
	u->qi_delay = c.qi_delay;
	u->cap = 2ull | 2ull << 8 | 38ull << 16 | (uint64_t)VTD_FRO << SIM_VTD_CAP_FRO_SHIFT |
		 (uint64_t)(u->nr_fr - 1) << SIM_VTD_CAP_NFR_SHIFT;
	u->ecap = (c.no_qi ? 0 : SIM_VTD_ECAP_QI) | (c.no_ir ? 0 : SIM_VTD_ECAP_IR) |
		  (uint64_t)VTD_IRO << 8 | (uint64_t)u->mhmv << SIM_VTD_ECAP_MHMV_SHIFT;
	u->fectl = EVENT_IM;
	u->iectl = EVENT_IM;
	if (sim_map_region(m, u->base, SIM_VTD_SIZE, &vtd_ops, u, "vtd") < 0)
		goto err_destroy;
	if (sim_set_msi_interposer(m, vtd_request, u) < 0)
		goto err_unmap;
	sim_machine_add_cleanup(m, vtd_free, u);
	return u;

err_unmap:
	sim_unmap_region(m, u->base);
err_destroy:
	pthread_mutex_destroy(&u->lock);
err_free:
	free(u->cache);
	free(u);
	return NULL;
}

/* ---- Inspection ------------------------------------------------------------------ */

void sim_vtd_get_stats(struct sim_vtd *u, struct sim_vtd_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}

bool sim_vtd_irte(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi)
{
	bool ok;

	pthread_mutex_lock(&u->lock);
	ok = index < table_entries_locked(u);
	if (ok)
		read_irte_locked(u, index, lo, hi);
	pthread_mutex_unlock(&u->lock);
	return ok;
}

bool sim_vtd_cached(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi)
{
	bool ok = false;

	if (index >= SIM_VTD_MAX_ENTRIES)
		return false;
	pthread_mutex_lock(&u->lock);
	if (u->cache[index].valid) {
		*lo = u->cache[index].lo;
		*hi = u->cache[index].hi;
		ok = true;
	}
	pthread_mutex_unlock(&u->lock);
	return ok;
}

unsigned int sim_vtd_table_entries(struct sim_vtd *u)
{
	unsigned int n;

	pthread_mutex_lock(&u->lock);
	n = table_entries_locked(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned int sim_vtd_present_entries(struct sim_vtd *u)
{
	unsigned int n = 0, entries;

	pthread_mutex_lock(&u->lock);
	entries = table_entries_locked(u);
	for (unsigned int i = 0; i < entries; i++) {
		uint64_t lo, hi;

		read_irte_locked(u, i, &lo, &hi);
		n += (lo & SIM_VTD_IRTE_P) != 0;
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

unsigned int sim_vtd_log(struct sim_vtd *u, struct sim_vtd_log_entry *out, unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&u->lock);
	n = u->nr_log;
	for (unsigned int i = 0; i < max && i < n && i < SIM_VTD_LOG_MAX; i++)
		out[i] = u->log[i];
	pthread_mutex_unlock(&u->lock);
	return n;
}
