/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An ITS-style platform: the translation service as the root MSI parent,
 * masking at the destination.
 *
 *   ITS -> ITS-PCI-MSIX-<dev>, ITS-PCI-MSI-<dev>, ITS-IMS-<dev>, ...
 *
 * A device's message is always the same doorbell (the service's TRANSLATER
 * register) and its data is an event id; the service identifies the device
 * by the requester id its write carries (the device id) and translates
 * (device, event) through the device's event table (ITT) to an LPI and a
 * collection (a target CPU).  Hence:
 *
 *  - masking is at the destination: each LPI has an enable bit in the LPI
 *    configuration table in memory, which the service caches; mask and
 *    unmask write the bit and then INV + SYNC.  Device domains get
 *    IK_MSI_FLAG_MASK_PARENT, so a store that can mask (MSI-X) is opened at
 *    startup and left unmasked at runtime.  An event that arrives while its
 *    LPI is disabled stays pending in the service and is delivered once on
 *    enable;
 *  - an affinity change is MOVI + SYNC: the message never changes
 *    (IK_IRQ_SET_MASK_OK_DONE), pending state follows the LPI;
 *  - LPIs take the fasteoi flow with IK_IRQD_RESEND_WHEN_IN_PROGRESS: an
 *    event acknowledged on a new CPU while the old one still runs the
 *    handler is marked pending there and resent (INT) by the old CPU
 *    when its handler returns, so it runs once more, on the new CPU;
 *  - a device's ITT is sized at its first allocation (a power of two, at
 *    least the sum of the hwsizes of the device's MSI domains at that
 *    moment, capped at 2^16 events).  A later allocation that finds it
 *    full (a store added afterwards: IMS, an NTB or device-MSI domain)
 *    grows it by remapping the device: in place (one MAPD, same address,
 *    larger size) when the memory after it is free, else MAPD to a new
 *    table + MAPTI of every live event + SYNC published as one batch (at
 *    most 125 live events; -IK_ENOSPC beyond), with no event lost or
 *    misrouted meanwhile.  Dynamic MSI-X (IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN)
 *    is still not offered (the platform's contract), so
 *    ik_pci_msix_alloc_irq_at() returns -IK_ENOTSUPP;
 *  - multi-vector PCI MSI is an aligned, power-of-two range of event ids
 *    (the device ORs the vector number into the data); its LPIs need not
 *    be contiguous.
 *
 * How LPIs reach the CPUs of this x86 machine: each CPU has a notification
 * message in the service's frame.  ik_its_init() gives every online CPU
 * one interrupt from the x86 vector domain, managed and bound to that CPU,
 * and programs its message there; its handler reads the CPU's acknowledge
 * register (like a GIC IAR) until it is empty and runs the flow handler of
 * each LPI's interrupt.  Register layouts: sim/sim_its.h.
 *
 * Locking: one spinlock (interrupts off) protects the LPI and memory
 * allocators, the device list and the command queue; it nests inside the
 * descriptor lock.  Commands are submitted and waited for (CREADR reaching
 * CWRITER, polled with ik_os_cpu_relax()) under it, so chip callbacks stay
 * atomic-safe.
 */
#ifndef IRQKIT_ITS_H
#define IRQKIT_ITS_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

#define IK_ITS_LPI_BASE 8192u
#define IK_ITS_MAX_EVENT_BITS 16u
#define IK_ITS_MAX_ID_BITS 17u       /* 122,880 LPIs */

/* Memory the library needs: command queue (4 KiB), LPI table, then ITTs. */
#define IK_ITS_MEM_FIXED(id_bits) \
	(0x1000ull + ((((1ull << (id_bits)) - IK_ITS_LPI_BASE) + 0xFFF) & ~0xFFFull))

struct ik_its_config {
	uint64_t its_base;      /* physical base of the service's frame */
	uint64_t mem_phys;      /* 4 KiB-aligned memory for queue, LPI table and ITTs */
	uint64_t mem_size;      /* > IK_ITS_MEM_FIXED(id_bits); the rest holds ITTs */
	unsigned int id_bits;   /* LPI ids 8192 .. 2^id_bits - 1; 14..17, 0 = 14 */
};

/**
 * ik_its_init - create the ITS domain and turn the service on
 * Checks the service, clears the LPI table (everything disabled), points
 * the service at the queue and the table, maps one collection per online
 * CPU, gives each online CPU its notification interrupt, then enables
 * translation.  On failure everything done is undone.
 * Context: sleepable, after ik_x86_vector_init() and CPU bring-up.
 * Return: 0; -IK_EBUSY (already initialised); -IK_EINVAL (bad @cfg, no
 * vector domain); -IK_ENODEV (no service at its_base); -IK_EIO (a command
 * did not complete); -IK_ENOMEM; -IK_ENOSPC (no vector for a notification).
 */
int ik_its_init(const struct ik_its_config *cfg);

/**
 * ik_its_exit - turn the service off and remove the domain
 * Refused while any interrupt exists below the domain.
 * Context: sleepable.  Return: 0 (also when not initialised); -IK_EBUSY.
 */
int ik_its_exit(void);

/**
 * ik_its_cpu_offline - move every LPI off @cpu
 * Call after ik_x86_cpu_offline() took @cpu out of interrupt handling (its
 * notification interrupt, managed, is then shut down).  Each LPI targeting
 * @cpu is moved (MOVI + SYNC) to an online CPU of its requested affinity
 * (which is kept as requested), or of the online mask if none is left; its
 * pending state moves with it, so nothing waiting in the service is lost.
 * A managed LPI whose mask has no online CPU left is shut down instead
 * (as on x86: IK_IRQD_MANAGED_SHUTDOWN, DISCARD, its store closed so a
 * later event waits there) and restarted by ik_x86_cpu_online() when a
 * CPU of its mask comes back, with the driver's disable depth kept.
 * Context: sleepable.
 * Return: 0; -IK_ENODEV (no ITS, or @cpu has no collection); -IK_EBUSY
 * (@cpu is still online); the first move's error (the others are tried).
 */
int ik_its_cpu_offline(unsigned int cpu);

/**
 * ik_its_cpu_online - give @cpu its notification message back
 * Call after ik_x86_cpu_online() on @cpu (which restarts the managed
 * notification interrupt, maybe on another vector); a CPU that was
 * offline at ik_its_init() gets its collection and notification interrupt
 * now.  LPIs are not moved back.  Context: sleepable.
 * Return: 0; -IK_ENODEV; -IK_EINVAL (@cpu offline); errors of
 * ik_its_init()'s per-CPU setup.
 */
int ik_its_cpu_online(unsigned int cpu);

/** ik_its_domain - the ITS domain (an MSI parent), or NULL.  Any context. */
struct ik_irq_domain *ik_its_domain(void);

/* Where an interrupt sits in the service, for views and tests. */
struct ik_its_irq_info {
	uint32_t devid;         /* the device id (requester id) */
	uint32_t event;         /* its event id */
	uint32_t lpi;           /* its LPI */
	unsigned int cpu;       /* its collection's CPU */
	unsigned int itt_events;/* entries in the device's ITT */
	bool mapped;            /* MAPTI issued (activated) */
	bool enabled;           /* enable bit in the LPI table */
};
/**
 * ik_its_irq_info - the ITS level of @irq
 * Context: any (takes the ITS lock).  Return: 0; -IK_ENOENT.
 */
int ik_its_irq_info(unsigned int irq, struct ik_its_irq_info *info);

struct ik_its_stats {
	unsigned int lpis, lpis_used;
	unsigned int devices;           /* devices with an ITT */
	uint64_t itt_bytes_used;        /* of the ITT pool */
	uint64_t commands;              /* commands submitted (SYNCs included) */
	uint64_t syncs;
	uint64_t movis;
	uint64_t retriggers;            /* INTs issued: resends (lazy disable, in progress elsewhere) */
	uint64_t handled;               /* LPIs acknowledged and given to their flow handler */
	uint64_t spurious;              /* LPIs acknowledged with no interrupt */
	uint64_t errors;                /* command timeouts */
	uint64_t itt_grows;             /* event tables grown (remapped larger) */
	uint64_t itt_relocations;       /* ... of which moved elsewhere (MAPD + MAPTI batch) */
};
/** ik_its_get_stats - Context: any.  Return: 0; -IK_ENODEV. */
int ik_its_get_stats(struct ik_its_stats *stats);

#endif /* IRQKIT_ITS_H */
