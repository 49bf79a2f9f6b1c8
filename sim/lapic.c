// SPDX-License-Identifier: BSD-2-Clause
/*
 * The local APIC in xAPIC mode (Intel SDM Vol. 3A, chapter 11): identity,
 * task and processor priority, the IRR/ISR/TMR vector bitmaps, EOI, the
 * error status register and the interrupt command register.
 *
 * The timer and the local vector table are registers only: they hold what
 * is written but never raise an interrupt.
 */
#include "sim_internal.h"
#include "sim_ioapic.h"

/*
 * Directed EOI (SDM 11.8.5): version bit 24 says the LAPIC can suppress
 * the EOI broadcast; SVR bit 12 turns the broadcast off, after which
 * software EOIs level entries at the I/O APIC (its EOI register).
 */
#define LAPIC_VERSION_SUPPRESS_EOI_BROADCAST (1u << 24)
#define LAPIC_SVR_SUPPRESS_EOI_BROADCAST     (1u << 12)

static struct sim_lapic *lapic_of(struct sim_machine *m, unsigned int cpu)
{
	return &m->cpus[cpu].lapic;
}

static int highest_vector(const uint32_t bits[SIM_IRR_WORDS])
{
	for (int word = SIM_IRR_WORDS - 1; word >= 0; word--)
		if (bits[word])
			return word * 32 + 31 - __builtin_clz(bits[word]);
	return -1;
}

static bool vector_test(const uint32_t bits[SIM_IRR_WORDS], unsigned int vector)
{
	return (bits[vector / 32] >> (vector % 32)) & 1;
}

static void vector_set(uint32_t bits[SIM_IRR_WORDS], unsigned int vector)
{
	bits[vector / 32] |= 1u << (vector % 32);
}

static void vector_clear(uint32_t bits[SIM_IRR_WORDS], unsigned int vector)
{
	bits[vector / 32] &= ~(1u << (vector % 32));
}

static uint32_t priority_class(int vector)
{
	return vector < 0 ? 0 : (uint32_t)vector & 0xF0;
}

/* SDM 11.8.3.1: PPR is TPR unless the highest in-service class is above it. */
static uint32_t ppr_locked(const struct sim_lapic *l)
{
	uint32_t isr_class = priority_class(highest_vector(l->isr));

	if ((l->tpr & 0xF0) >= isr_class)
		return l->tpr & 0xFF;
	return isr_class;
}

/* SDM 11.6.2.1 (arbitration priority, used for lowest-priority delivery on P6). */
static uint32_t apr_locked(const struct sim_lapic *l)
{
	uint32_t tpr_class = l->tpr & 0xF0;
	uint32_t isr_class = priority_class(highest_vector(l->isr));
	uint32_t irr_class = priority_class(highest_vector(l->irr));

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return l->tpr & 0xFF;
	return IK_MAX(tpr_class, IK_MAX(isr_class, irr_class));
}

static int deliverable_locked(const struct sim_lapic *l)
{
	int vector = highest_vector(l->irr);

	if (vector < 0 || !(l->svr & LAPIC_SVR_ENABLE))
		return -1;
	if (priority_class(vector) <= (ppr_locked(l) & 0xF0))
		return -1;
	return vector;
}

void sim_lapic_reset(struct sim_lapic *l, uint32_t apic_id)
{
	l->apic_id = apic_id;
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xFFFFFFFFu;
	l->svr = 0xFF;		/* software-disabled, spurious vector 0xFF */
	l->esr = 0;
	l->esr_pending = 0;
	l->icr_lo = 0;
	l->icr_hi = 0;
	for (unsigned int i = 0; i < LAPIC_NR_LVT; i++)
		l->lvt[i] = LAPIC_LVT_MASKED;
	l->timer_init = 0;
	l->timer_div = 0;
	for (unsigned int i = 0; i < SIM_IRR_WORDS; i++)
		l->irr[i] = l->isr[i] = l->tmr[i] = 0;
	l->nmis = 0;
}

static int lvt_index(uint32_t offset)
{
	if (offset == LAPIC_REG_LVT_CMCI)
		return 0;
	if (offset >= LAPIC_REG_LVT_TIMER && offset <= LAPIC_REG_LVT_ERROR && !(offset & 0xF))
		return 1 + (int)((offset - LAPIC_REG_LVT_TIMER) >> 4);
	return -1;
}

/* Offset of a vector bitmap register bank (ISR/TMR/IRR), or NULL. */
static const uint32_t *bitmap_bank(const struct sim_lapic *l, uint32_t offset, unsigned int *word)
{
	const uint32_t *bank;
	uint32_t base;

	if (offset >= LAPIC_REG_ISR && offset < LAPIC_REG_TMR) {
		bank = l->isr;
		base = LAPIC_REG_ISR;
	} else if (offset >= LAPIC_REG_TMR && offset < LAPIC_REG_IRR) {
		bank = l->tmr;
		base = LAPIC_REG_TMR;
	} else if (offset >= LAPIC_REG_IRR && offset < LAPIC_REG_ESR) {
		bank = l->irr;
		base = LAPIC_REG_IRR;
	} else {
		return NULL;
	}
	*word = (offset - base) >> 4;
	return bank;
}

static uint32_t read_locked(struct sim_lapic *l, uint32_t offset)
{
	const uint32_t *bank;
	unsigned int word;
	int lvt;

	switch (offset) {
	case LAPIC_REG_ID:
		return l->apic_id << 24;
	case LAPIC_REG_VERSION:
		return LAPIC_VERSION_VALUE | LAPIC_VERSION_SUPPRESS_EOI_BROADCAST;
	case LAPIC_REG_TPR:
		return l->tpr;
	case LAPIC_REG_APR:
		return apr_locked(l);
	case LAPIC_REG_PPR:
		return ppr_locked(l);
	case LAPIC_REG_EOI:
	case LAPIC_REG_RRD:
		return 0;
	case LAPIC_REG_LDR:
		return l->ldr;
	case LAPIC_REG_DFR:
		return l->dfr;
	case LAPIC_REG_SVR:
		return l->svr;
	case LAPIC_REG_ESR:
		return l->esr;
	case LAPIC_REG_ICR_LO:
		return l->icr_lo & ~LAPIC_ICR_BUSY;	/* the sim sends instantly */
	case LAPIC_REG_ICR_HI:
		return l->icr_hi;
	case LAPIC_REG_TIMER_INIT:
		return l->timer_init;
	case LAPIC_REG_TIMER_CUR:
		return 0;
	case LAPIC_REG_TIMER_DIV:
		return l->timer_div;
	}
	bank = bitmap_bank(l, offset, &word);
	if (bank)
		return bank[word];
	lvt = lvt_index(offset);
	if (lvt >= 0)
		return l->lvt[lvt];
	l->esr_pending |= LAPIC_ESR_ILLEGAL_REGISTER;
	return 0;
}

uint32_t sim_lapic_read(struct sim_machine *m, unsigned int cpu, uint32_t offset)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	uint32_t value;

	if (offset & 0xF)
		return 0;	/* registers are 16-byte aligned; the rest reads as 0 */
	pthread_mutex_lock(&l->lock);
	value = read_locked(l, offset);
	pthread_mutex_unlock(&l->lock);
	return value;
}

/* Returns the vector retired, or -1; *level tells whether its TMR bit was set. */
static int eoi_locked(struct sim_lapic *l, bool *level)
{
	int vector = highest_vector(l->isr);

	if (vector < 0)
		return -1;
	vector_clear(l->isr, (unsigned int)vector);
	*level = vector_test(l->tmr, (unsigned int)vector);
	return vector;
}

void sim_lapic_write(struct sim_machine *m, unsigned int cpu, uint32_t offset, uint32_t value)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	bool send_ipi = false, level = false, kick = false, broadcast = false;
	uint32_t icr_lo = 0, icr_hi = 0;
	int retired = -1, lvt;

	if (offset & 0xF)
		return;
	pthread_mutex_lock(&l->lock);
	switch (offset) {
	case LAPIC_REG_TPR:
		kick = (value & 0xFF) < l->tpr;
		l->tpr = value & 0xFF;
		break;
	case LAPIC_REG_EOI:
		retired = eoi_locked(l, &level);
		kick = retired >= 0;
		broadcast = retired >= 0 && level && !(l->svr & LAPIC_SVR_SUPPRESS_EOI_BROADCAST);
		break;
	case LAPIC_REG_LDR:
		l->ldr = value & 0xFF000000u;
		break;
	case LAPIC_REG_DFR:
		l->dfr = (value & 0xF0000000u) | 0x0FFFFFFFu;
		break;
	case LAPIC_REG_SVR:
		if (!(value & LAPIC_SVR_ENABLE))
			for (unsigned int i = 0; i < LAPIC_NR_LVT; i++)
				l->lvt[i] |= LAPIC_LVT_MASKED;
		kick = (value & LAPIC_SVR_ENABLE) && !(l->svr & LAPIC_SVR_ENABLE);
		l->svr = value & 0x13FFu;	/* vector, enable, focus check, EOI broadcast suppression */
		break;
	case LAPIC_REG_ESR:
		/* SDM 11.5.3: a write latches the errors seen since the last write. */
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case LAPIC_REG_ICR_HI:
		l->icr_hi = value & 0xFF000000u;
		break;
	case LAPIC_REG_ICR_LO:
		l->icr_lo = value & 0x000CCFFFu;
		icr_lo = l->icr_lo;
		icr_hi = l->icr_hi;
		send_ipi = true;
		break;
	case LAPIC_REG_TIMER_INIT:
		l->timer_init = value;
		break;
	case LAPIC_REG_TIMER_DIV:
		l->timer_div = value & 0xB;
		break;
	case LAPIC_REG_ID:
	case LAPIC_REG_VERSION:
	case LAPIC_REG_APR:
	case LAPIC_REG_PPR:
	case LAPIC_REG_RRD:
	case LAPIC_REG_TIMER_CUR:
		break;		/* read-only: writes are ignored */
	default:
		lvt = lvt_index(offset);
		if (lvt >= 0) {
			if (!(l->svr & LAPIC_SVR_ENABLE))
				value |= LAPIC_LVT_MASKED;
			l->lvt[lvt] = value & 0x000317FFu;
		} else if (offset < LAPIC_REG_ISR || offset >= LAPIC_REG_ESR) {
			l->esr_pending |= LAPIC_ESR_ILLEGAL_REGISTER;
		}
		break;
	}
	pthread_mutex_unlock(&l->lock);

	if (retired >= 0) {
		sim_stat_inc(m, SIM_STAT_EOIS);
		if (level)
			sim_stat_inc(m, SIM_STAT_LEVEL_EOIS);
		sim_trace(m, SIM_TRACE_EOI, cpu, (unsigned int)retired, level);
	}
	/* Outside the LAPIC lock: the I/O APIC may send the next message at once. */
	if (broadcast)
		sim_ioapic_broadcast_eoi(m, (unsigned int)retired);
	/* A lower priority may have unblocked a pending vector. */
	if (kick)
		sim_kick_cpu(m, cpu);
	if (send_ipi)
		sim_ipi_send(m, cpu, icr_lo, icr_hi);
}

bool sim_lapic_accept(struct sim_machine *m, unsigned int cpu, unsigned int vector, bool level)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	bool merged;

	pthread_mutex_lock(&l->lock);
	merged = vector_test(l->irr, vector);
	vector_set(l->irr, vector);
	if (level)
		vector_set(l->tmr, vector);
	else
		vector_clear(l->tmr, vector);
	pthread_mutex_unlock(&l->lock);
	sim_kick_cpu(m, cpu);
	return merged;
}

unsigned int sim_lapic_discard_vectors(struct sim_machine *m, unsigned int cpu)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	unsigned int pending = 0;

	pthread_mutex_lock(&l->lock);
	for (unsigned int i = 0; i < SIM_IRR_WORDS; i++) {
		pending += (unsigned int)__builtin_popcount(l->irr[i]);
		l->irr[i] = l->isr[i] = l->tmr[i] = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return pending;
}

void sim_lapic_flag_error(struct sim_machine *m, unsigned int cpu, uint32_t esr_bits)
{
	struct sim_lapic *l = lapic_of(m, cpu);

	pthread_mutex_lock(&l->lock);
	l->esr_pending |= esr_bits;
	pthread_mutex_unlock(&l->lock);
}

bool sim_lapic_sw_enabled(struct sim_machine *m, unsigned int cpu)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	bool enabled;

	pthread_mutex_lock(&l->lock);
	enabled = l->svr & LAPIC_SVR_ENABLE;
	pthread_mutex_unlock(&l->lock);
	return enabled;
}

uint32_t sim_lapic_ppr(struct sim_machine *m, unsigned int cpu)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	uint32_t ppr;

	pthread_mutex_lock(&l->lock);
	ppr = ppr_locked(l);
	pthread_mutex_unlock(&l->lock);
	return ppr;
}

/* SDM 11.6.2.2: flat model matches any common LDR bit, cluster model a cluster and a bit. */
bool sim_lapic_logical_match(struct sim_machine *m, unsigned int cpu, uint32_t dest)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	uint32_t ldr, dfr;

	pthread_mutex_lock(&l->lock);
	ldr = l->ldr >> 24;
	dfr = l->dfr;
	pthread_mutex_unlock(&l->lock);
	dest &= 0xFF;
	if ((dfr >> 28) == 0xF)
		return (dest & ldr) != 0;
	if (dest == 0xFF)
		return true;
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF) != 0;
}

int sim_lapic_deliverable(struct sim_machine *m, unsigned int cpu)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	int vector;

	if (!sim_cpu_is_online(m, cpu))
		return -1;
	pthread_mutex_lock(&l->lock);
	vector = deliverable_locked(l);
	pthread_mutex_unlock(&l->lock);
	return vector;
}

int sim_lapic_ack(struct sim_machine *m, unsigned int cpu)
{
	struct sim_lapic *l = lapic_of(m, cpu);
	int vector;

	if (!sim_cpu_is_online(m, cpu))
		return -1;
	pthread_mutex_lock(&l->lock);
	vector = deliverable_locked(l);
	if (vector >= 0) {
		vector_clear(l->irr, (unsigned int)vector);
		vector_set(l->isr, (unsigned int)vector);
	}
	pthread_mutex_unlock(&l->lock);
	return vector;
}

static bool bitmap_test(struct sim_machine *m, unsigned int cpu, unsigned int vector,
			size_t bank_offset)
{
	struct sim_lapic *l;
	bool set;

	if (cpu >= m->nr_cpus || vector >= SIM_NR_VECTORS)
		return false;
	l = lapic_of(m, cpu);
	pthread_mutex_lock(&l->lock);
	set = vector_test((const uint32_t *)(const void *)((const char *)l + bank_offset), vector);
	pthread_mutex_unlock(&l->lock);
	return set;
}

bool sim_lapic_irr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector)
{
	return bitmap_test(m, cpu, vector, offsetof(struct sim_lapic, irr));
}

bool sim_lapic_isr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector)
{
	return bitmap_test(m, cpu, vector, offsetof(struct sim_lapic, isr));
}

bool sim_lapic_tmr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector)
{
	return bitmap_test(m, cpu, vector, offsetof(struct sim_lapic, tmr));
}
