/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The remapping unit's fault-event interrupt (VT-d "DMAR" fault reporting).
 *
 * The unit reports blocked requests (and queue errors) through its own
 * interrupt, whose message lives in its registers: FEDATA, FEADDR and
 * FEUADDR are the store, FECTL.IM is the mask (the unit keeps a masked
 * event pending in FECTL.IP and sends it on unmask, so the store masks at
 * the source).  The interrupt gets a per-device MSI domain (template
 * "DMAR", bus token IK_MSI_BUS_DEVICE, one slot) that is ALWAYS a direct
 * child of the vector domain, remapping or not: the unit sends its own
 * events in compatibility format and never remaps them, and a fault
 * reporter must not depend on the translation it reports on.
 *
 *   VECTOR -> DMAR-<name>              (next to INTEL-IR when remapping is on)
 *
 * The handler reads every fault record (FRCD) holding a fault, starting
 * at FSTS.FRI, logs reason, source id and interrupt index, clears each
 * record (F, write 1 to clear), then clears FSTS.PFO (counted as an
 * overflow).  Queue errors (FSTS.IQE) are counted but left to the IR
 * code, which owns the queue.
 */
#ifndef IRQKIT_X86_DMAR_H
#define IRQKIT_X86_DMAR_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

#define IK_X86_DMAR_LOG_MAX 64u  /* faults kept (the oldest are overwritten) */

struct ik_x86_dmar;

struct ik_x86_dmar_config {
	uint64_t unit_base;     /* physical base of the unit's 4 KiB register window */
	const char *name;       /* device name; NULL = "dmar0" */
};

struct ik_x86_dmar_fault {
	uint8_t reason;         /* FR: 0x20..0x26 for interrupt remapping */
	uint16_t source_id;     /* SID: the requester id of the blocked request */
	uint16_t index;         /* FI: its interrupt index (0 for compatibility format) */
};

struct ik_x86_dmar_stats {
	uint64_t interrupts;    /* handler runs */
	uint64_t faults;        /* fault records read and cleared */
	uint64_t overflows;     /* FSTS.PFO seen (faults the unit could not record) */
	uint64_t queue_errors;  /* FSTS.IQE seen (left for the IR code) */
	uint64_t by_reason[256];
};

/**
 * ik_x86_dmar_fault_init - the fault interrupt of the unit at @cfg->unit_base
 * Checks the unit (VER), masks the fault event, creates the device (MSI
 * parent: the vector domain, always), binds the DMAR driver (which creates
 * the domain), allocates the interrupt and requests it with the fault
 * handler.  Records already pending are handled as soon as it is started.
 *
 * Context: sleepable, after ik_x86_vector_init().
 * Return: 0; -IK_EINVAL (NULL argument, no vector domain); -IK_ENODEV (no
 * unit); -IK_ENOSPC (no vector); -IK_ENOMEM.  On failure nothing remains.
 */
int ik_x86_dmar_fault_init(const struct ik_x86_dmar_config *cfg, struct ik_x86_dmar **out);

/** ik_x86_dmar_fault_exit - free the interrupt, the domain and the device.  Sleepable. */
void ik_x86_dmar_fault_exit(struct ik_x86_dmar *dmar);

/** Accessors (any context). */
unsigned int ik_x86_dmar_fault_irq(const struct ik_x86_dmar *dmar);
struct ik_irq_domain *ik_x86_dmar_domain(const struct ik_x86_dmar *dmar);
struct ik_device *ik_x86_dmar_device(const struct ik_x86_dmar *dmar);

/** ik_x86_dmar_get_stats - counters.  Context: any.  Return: 0; -IK_EINVAL. */
int ik_x86_dmar_get_stats(struct ik_x86_dmar *dmar, struct ik_x86_dmar_stats *stats);

/**
 * ik_x86_dmar_fault_log - copy up to @max of the last faults (oldest first)
 * Context: any.  Return: the number of faults logged since init (may exceed
 * IK_X86_DMAR_LOG_MAX; only the last IK_X86_DMAR_LOG_MAX are kept).
 */
uint64_t ik_x86_dmar_fault_log(struct ik_x86_dmar *dmar, struct ik_x86_dmar_fault *out,
			       unsigned int max);

#endif /* IRQKIT_X86_DMAR_H */
