/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x86 HPET: comparators that deliver through FSB messages, served by a
 * per-device MSI domain.
 *
 * The HPET is a platform device with a requester id (the DMAR table's
 * device scope for it).  Its domain (bus token IK_MSI_BUS_DEVICE, template
 * "HPET", index = timer number) sits below the platform MSI parent
 * (ik_x86_default_msi_parent()):
 *
 *   without remapping  VECTOR -> HPET-<name>
 *   with remapping     VECTOR -> INTEL-IR -> IR-HPET-<name>
 *
 * The message store is the timer's Tn_FSB_ROUTE register pair (value in
 * the low dword, address in the high dword).  The store's mask is
 * Tn_INT_ENB_CNF, but an HPET drops a match while the interrupt is
 * disabled (FSB delivery has no pending state), so it is NOT declared as
 * runtime masking: INT_ENB is opened at startup and closed at shutdown,
 * a lazily disabled line keeps the interrupt pending in the core, and
 * without remapping affinity moves use the x86-msi two-step update (the
 * two route dwords are written one at a time).  Under remapping the
 * message names an IRTE and never changes.
 *
 * Only timers with Tn_FSB_INT_DEL_CAP can get an interrupt here; legacy
 * and IO-APIC routing of the HPET are not used.
 */
#ifndef IRQKIT_X86_HPET_H
#define IRQKIT_X86_HPET_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

#define IK_X86_HPET_DEFAULT_BASE 0xFED00000ull
#define IK_X86_HPET_MAX_TIMERS 32u

struct ik_x86_hpet;

struct ik_x86_hpet_config {
	uint64_t base;          /* 0 = IK_X86_HPET_DEFAULT_BASE */
	const char *name;       /* device name; NULL = "hpet0" */
	uint16_t segment;
	uint16_t requester_id;  /* the HPET's source id from the DMAR device scope */
};

/**
 * ik_x86_hpet_create - find the HPET, create its device and MSI domain
 * @cfg: where it is and its requester id
 * @out: the HPET
 *
 * Reads GCAP_ID (a block that reads all-ones or has no FSB-capable timer
 * is refused), halts nothing that runs, disables every FSB-capable timer's
 * interrupt, creates the device (requester id from @cfg, MSI parent
 * ik_x86_default_msi_parent()), binds the HPET driver and creates the
 * domain.  The main counter is started (GEN_CONF.ENABLE_CNF).
 *
 * Context: sleepable, after ik_x86_vector_init() (and ik_x86_ir_init()
 * when remapping is wanted).
 * Return: 0; -IK_EINVAL (NULL argument, no MSI parent); -IK_ENODEV (no
 * HPET, or no FSB-capable timer); -IK_ENOMEM.  On failure nothing remains.
 */
int ik_x86_hpet_create(const struct ik_x86_hpet_config *cfg, struct ik_x86_hpet **out);

/**
 * ik_x86_hpet_destroy - free every timer interrupt, remove the domain and
 * the device.  Handlers must have been freed.  Context: sleepable.
 */
void ik_x86_hpet_destroy(struct ik_x86_hpet *hpet);

/** The HPET's device and domain (any context). */
struct ik_device *ik_x86_hpet_device(const struct ik_x86_hpet *hpet);
struct ik_irq_domain *ik_x86_hpet_domain(const struct ik_x86_hpet *hpet);
/** Number of timers (GCAP_ID.NUM_TIM_CAP + 1). */
unsigned int ik_x86_hpet_nr_timers(const struct ik_x86_hpet *hpet);

/**
 * ik_x86_hpet_timer_alloc_irq - an interrupt for timer @timer
 * The timer is set to edge-triggered FSB delivery with its interrupt
 * disabled until the interrupt is started (ik_request_irq()).  The start
 * reads the main counter, parks the comparator far ahead of it, and only
 * then sets INT_ENB: no interrupt before the first ik_x86_hpet_timer_arm().
 * Context: sleepable.
 * Return: the irq; -IK_ERANGE (no such timer); -IK_ENOTSUPP (the timer
 * cannot deliver through FSB); -IK_EBUSY (the timer has one);
 * -IK_ENOSPC; -IK_ENOMEM; a level's error.
 */
int ik_x86_hpet_timer_alloc_irq(struct ik_x86_hpet *hpet, unsigned int timer);

/**
 * ik_x86_hpet_timer_free_irq - free timer @timer's interrupt (handler freed first)
 * Context: sleepable.  Return: 0; -IK_ENOENT; -IK_EBUSY (a handler is installed).
 */
int ik_x86_hpet_timer_free_irq(struct ik_x86_hpet *hpet, unsigned int timer);

/**
 * ik_x86_hpet_timer_arm - one-shot: match @delta counter ticks from now
 * Context: any.  Return: 0; -IK_ERANGE.
 */
int ik_x86_hpet_timer_arm(struct ik_x86_hpet *hpet, unsigned int timer, uint64_t delta);

#endif /* IRQKIT_X86_HPET_H */
