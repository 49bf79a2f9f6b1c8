/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x86 interrupt remapping (a VT-d-style remapping unit): the IR domain.
 *
 * The IR domain sits between the vector domain and the per-device MSI
 * domains:  VECTOR -> INTEL-IR -> IR-PCI-MSI-<dev>, IR-PCI-MSIX-<dev>, ...
 * Each interrupt owns one interrupt remapping table entry (IRTE) holding
 * its real destination and vector; the device's message only names the
 * entry (remappable format: handle + subhandle) and never changes.  So:
 *
 *  - an affinity change takes a new (CPU, vector) from the vector domain,
 *    rewrites the entry with one 64-bit store (destination and vector
 *    share the low qword), invalidates the unit's interrupt entry cache
 *    and waits for it, and returns IK_IRQ_SET_MASK_OK_DONE: no device
 *    store is ever rewritten.  The old vector stays routed until the first
 *    interrupt arrives on the new one (the vector domain's move machinery);
 *    that interrupt can only come through the new entry, so by then the
 *    old vector is unreachable;
 *  - multi-vector PCI MSI works: a power-of-two aligned block of entries,
 *    the device adds the vector number to the subhandle.  The IR domain's
 *    MSI parent ops therefore offer IK_MSI_FLAG_MULTI_PCI_MSI, which the
 *    vector domain alone cannot;
 *  - the unit checks every request's requester id against the entry's
 *    source id (SID/SQ/SVT), taken from the device's requester id and DMA
 *    aliases: a device cannot raise another device's interrupts, and
 *    compatibility-format messages (which would bypass remapping) are
 *    blocked (CFI stays clear).  The domain carries
 *    IK_IRQ_DOMAIN_FLAG_MSI_REMAP: MSIs below it are isolated.
 *
 * Device domains choose remapping by having it as their MSI parent
 * (ik_device_set_msi_parent(dev, ik_x86_default_msi_parent())).  Only
 * per-device MSI domains (IK_IRQ_DOMAIN_FLAG_MSI_DEVICE) and domains that
 * pass a struct ik_msi_alloc_info whose .dev carries the source id
 * (IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO: the IO-APIC, x86_ioapic.h) may
 * allocate below the IR domain; the DMAR fault interrupt never does (an
 * IOMMU cannot remap its own fault interrupt).
 *
 * The library programs the unit through its registers and memory only
 * (ik_os_mmio_*): the platform describes where the unit is and which
 * physical memory (identity-reachable through the MMIO accessors, as RAM
 * is) the library may use for the invalidation queue, the wait status and
 * the table.  xAPIC destinations only (APIC IDs < 256; no EIM).
 *
 * Locking: one spinlock (taken with interrupts off) protects the entry
 * allocator, the entries and the invalidation queue; it nests inside the
 * descriptor lock and is never held across a call into the vector domain.
 * Invalidations are submitted and waited for under it (the wait polls with
 * ik_os_cpu_relax()), so chip callbacks stay atomic-safe.
 */
#ifndef IRQKIT_X86_IR_H
#define IRQKIT_X86_IR_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

/* Memory the library needs for @entries IRTEs: queue (4 KiB), status page, table. */
#define IK_X86_IR_MEM_SIZE(entries) (0x2000ull + (((uint64_t)(entries) * 16 + 0xFFF) & ~0xFFFull))
#define IK_X86_IR_MAX_ENTRIES 65536u
#define IK_X86_IR_MAX_BLOCK 32u         /* multi-MSI: at most 32 vectors */

struct ik_x86_ir_config {
	uint64_t unit_base;     /* physical base of the unit's 4 KiB register window */
	uint64_t mem_phys;      /* 4 KiB-aligned physical memory for the library's use */
	uint64_t mem_size;      /* at least IK_X86_IR_MEM_SIZE(nr_entries) */
	unsigned int nr_entries;/* IRTEs: a power of two, 2..65536; 0 = as many as fit */
	bool no_source_id;      /* SVT = none everywhere (no isolation; not flagged REMAP) */
};

/**
 * ik_x86_ir_init - create the IR domain and turn remapping on
 * @cfg: where the unit and the memory are
 *
 * Checks the unit (version, IR and QI capabilities), turns off whatever a
 * previous owner left on, clears the table, then: queued invalidation on,
 * table pointer latched (SIRTP), global interrupt-entry-cache invalidation
 * waited for, compatibility format kept blocked (CFI clear), remapping on.
 * Every step is a single command whose status is polled.  On failure
 * everything done is undone (remapping and QI off, domain removed, memory
 * freed).
 *
 * Context: sleepable, after ik_x86_vector_init().
 * Return: 0; -IK_EBUSY (already initialised); -IK_EINVAL (bad @cfg, no
 * vector domain); -IK_ENODEV (no unit, or it lacks interrupt remapping or
 * queued invalidation); -IK_EIO (the unit did not complete a command or an
 * invalidation); -IK_ENOMEM.
 */
int ik_x86_ir_init(const struct ik_x86_ir_config *cfg);

/**
 * ik_x86_ir_exit - remove the IR domain and turn remapping off
 * Refused while any device domain or interrupt exists below the domain.
 * Remapping goes off first, then queued invalidation; the memory given at
 * init is not touched afterwards.
 * Context: sleepable.  Return: 0 (also when not initialised); -IK_EBUSY.
 */
int ik_x86_ir_exit(void);

/** ik_x86_ir_domain - the IR domain, or NULL when remapping is off.  Any context. */
struct ik_irq_domain *ik_x86_ir_domain(void);

/**
 * ik_x86_default_msi_parent - the MSI parent x86 devices should get: the IR
 * domain when remapping is on, else the vector domain (NULL before either).
 * Any context.
 */
struct ik_irq_domain *ik_x86_default_msi_parent(void);

/**
 * ik_x86_ir_device_isolated - true if @dev's MSIs go through a domain that
 * isolates them (IK_IRQ_DOMAIN_FLAG_MSI_REMAP somewhere on its MSI parent's
 * path to the root).  Any context; @dev must stay alive.
 */
bool ik_x86_ir_device_isolated(const struct ik_device *dev);

/* Where an interrupt's remapping entry is, for views and tests. */
struct ik_x86_ir_irq_info {
	unsigned int index;     /* its IRTE */
	unsigned int handle;    /* the block's first IRTE (the message's handle) */
	unsigned int sub_handle;/* index - handle (the message's data) */
	unsigned int block;     /* entries in the block (power of two) */
	bool programmed;        /* the entry is present in the table */
	uint64_t irte_lo, irte_hi; /* the entry as the library last wrote it */
};
/**
 * ik_x86_ir_irq_info - the remapping level of @irq
 * Context: any (takes the IR lock).  Return: 0; -IK_ENOENT (@irq has no
 * remapping level).
 */
int ik_x86_ir_irq_info(unsigned int irq, struct ik_x86_ir_irq_info *info);

struct ik_x86_ir_stats {
	unsigned int entries;   /* IRTEs in the table */
	unsigned int used;      /* IRTEs allocated (blocks count whole) */
	uint64_t irte_writes;   /* entries programmed, retargeted or cleared */
	uint64_t retargets;     /* present entries retargeted in place (one store): moves */
	uint64_t invalidations; /* interrupt-entry-cache invalidations waited for */
	uint64_t wait_polls;    /* status polls while waiting for them */
	uint64_t errors;        /* queue errors and timeouts */
};
/** ik_x86_ir_get_stats - Context: any.  Return: 0; -IK_ENODEV (remapping off). */
int ik_x86_ir_get_stats(struct ik_x86_ir_stats *stats);

#endif /* IRQKIT_X86_IR_H */
