/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Driver for a switchtec-like non-transparent bridge (NTB) function, and
 * interrupts raised by the peer host through its memory window.
 *
 * The function has four MSI-X vectors of its own -- event (link change),
 * dma_rpc, message and doorbell -- and an inbound "MSI window": a peer
 * write of a dword at offset o of the window is issued on this side as a
 * bus-master write to window base + o, tagged with the function's requester
 * id (or a proxy id, then registered as a DMA alias).  With the window over
 * the platform's MSI address range, the peer raises a host interrupt by
 * writing the message data at (message address - window base).  The host
 * tells the peer which (offset, data) pairs to write through PUBLISH slots
 * in BAR0 ({OFFSET, DATA, CTRL.VALID}, 64 of them), which the peer reads
 * when it triggers.
 *
 * Devices and domains.  The function's driver (ik_ntb_pci_driver) enables
 * MSI-X with the four vectors and handles event and dma_rpc itself.  It
 * creates a child device, the NTB port ("<function>.ntb"), whose driver handles
 * message and doorbell and owns the memory-window interrupts.  Those live in
 * the port's own MSI domain -- at IK_MSI_DEFAULT_DOMAIN of the child, bus
 * token IK_MSI_BUS_NTB, named "NTB-<function>.ntb", one index per PUBLISH slot -- whose
 * parent is the function's MSI parent (the vector domain, or remapping),
 * not the function's MSI-X domain.  The MSI-X domain never holds an NTB
 * interrupt and no MSI-X entry is ever "virtual": the seeds' domain split.
 *
 * The chip.  Acknowledge goes to the parent; irq_write_msi_msg publishes
 * the message to the peer; affinity belongs to the parent, and a change
 * that alters the message republishes it (under remapping the message never
 * changes and nothing is republished).  Republishing changes one word where
 * it can -- the x86 non-remapped update changes the vector and the
 * destination in separate steps, one field each -- so the peer, which reads
 * the slot atomically, sees the old pair or the new one, never a mix.  When
 * both words change at once the slot is made invalid for the duration of
 * the rewrite; a peer that finds a slot invalid retries (as with a
 * sequence lock).
 *
 * Masking.  Nothing can hold back a peer's write: there is no source mask,
 * and the vector domain cannot mask one vector.  The domain declares no
 * masking (neither IK_MSI_FLAG_MASK_SOURCE nor MASK_PARENT), so disable is
 * lazy and stays lazy: a peer write to a disabled interrupt still enters
 * the flow handler, which marks it pending (coalescing further writes) and
 * runs the handler once on enable.  Nothing is unpublished while disabled:
 * unpublishing would drop the peer's writes instead of deferring them.
 * Free unpublishes (deactivation writes the zero message, which is outside
 * the window).
 */
#ifndef IRQKIT_DRIVERS_NTB_H
#define IRQKIT_DRIVERS_NTB_H

#include <irqkit/device.h>
#include <irqkit/irq.h>
#include <irqkit/msi.h>

/* The function's MSI-X vectors. */
#define IK_NTB_VEC_EVENT    0u
#define IK_NTB_VEC_DMA_RPC  1u
#define IK_NTB_VEC_MESSAGE  2u
#define IK_NTB_VEC_DOORBELL 3u
#define IK_NTB_NR_VECTORS   4u

#define IK_NTB_NR_MSGS      4u
#define IK_NTB_MAX_PUBLISH  64u

/*
 * Where the inbound MSI window points: the x86 MSI address range (the
 * local APICs' 1 MiB, where compatibility and remappable messages go).
 */
#define IK_NTB_MSI_WINDOW_BASE 0xFEE00000ull
#define IK_NTB_MSI_WINDOW_SIZE 0x100000u

/**
 * ik_ntb_pci_driver - the driver of the switchtec-like PCI function
 * Probe: memory decode and bus mastering on; MSI-X with the four vectors;
 * event and dma_rpc handlers requested; the NTB port device created and
 * bound.  Remove: the port goes first (its interrupts with it), then the
 * handlers and vectors.
 */
extern const struct ik_driver ik_ntb_pci_driver;

struct ik_ntb_stats {
	uint64_t link_events;
	uint64_t dma_rpcs;
	uint64_t messages;          /* inbound messages read */
	uint64_t doorbells;         /* doorbell interrupts handled */
	uint32_t doorbell_bits;     /* inbound doorbell bits seen, accumulated */
	uint32_t last_msg[IK_NTB_NR_MSGS];
	bool link_up;
	uint64_t republished;       /* publish slots rewritten in place (one word) */
	uint64_t invalidated;       /* ... rewritten with the slot made invalid meanwhile */
	uint64_t unpublishable;     /* messages outside the window: not published */
};

/**
 * ik_ntb_get_stats - counters of a function bound to ik_ntb_pci_driver
 * Context: any.  Return: 0; -IK_EINVAL (not bound, @out NULL).
 */
int ik_ntb_get_stats(struct ik_device *pdev, struct ik_ntb_stats *out);

/** ik_ntb_port - the NTB port device of a bound function, or NULL.  Context: sleepable. */
struct ik_device *ik_ntb_port(struct ik_device *pdev);

/**
 * ik_ntb_port_remove - unplug the NTB port (its clients' interrupts go with it)
 * ik_ntb_port_add    - plug it (again)
 * Context: sleepable.
 * Return (add): 0; -IK_EINVAL (function not bound to ik_ntb_pci_driver);
 * -IK_EBUSY (the port exists); -IK_ENOMEM; an error of the port's probe.
 */
void ik_ntb_port_remove(struct ik_device *pdev);
int ik_ntb_port_add(struct ik_device *pdev);

/* ---- Interrupts through the memory window (on the port device) ---------------- */

/**
 * ik_ntb_msi_alloc_irq - allocate one memory-window interrupt
 * @port:     the NTB port device
 * @affinity: NULL or its affinity
 *
 * map.index is the PUBLISH slot the peer triggers.  The pair is published
 * when the interrupt is activated (at request).
 * Context: sleepable.
 * Return: {index, irq}, or {-error, 0}: -IK_EINVAL (not a port);
 * -IK_ENOSPC (every slot in use, or no vector); -IK_ENOMEM.
 */
struct ik_msi_map ik_ntb_msi_alloc_irq(struct ik_device *port,
				       const struct ik_irq_affinity_desc *affinity);

/**
 * ik_ntb_msi_free_irq - free an interrupt from ik_ntb_msi_alloc_irq()
 * The handler must have been freed.
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (not a port, failed map, or an irq that is not the
 * one at the index); -IK_ENOENT (nothing allocated there: double free);
 * -IK_EBUSY (a handler is still installed: nothing freed).
 */
int ik_ntb_msi_free_irq(struct ik_device *port, struct ik_msi_map map);

/* What a client hands its peer: the slot to trigger. */
struct ik_ntb_msi_desc {
	unsigned int irq;
	unsigned int slot;
};

/**
 * ik_ntbm_msi_request_irq - allocate a memory-window interrupt and install a
 * handler on it, both released when the port's driver unbinds (or earlier
 * with ik_ntbm_msi_free_irq())
 * @handler, @name, @dev_id: as ik_request_irq() (no flags)
 * @out: the irq and the slot the peer triggers
 *
 * Context: sleepable.
 * Return: 0; errors of ik_ntb_msi_alloc_irq() and ik_request_irq(); nothing
 * remains on failure.
 */
int ik_ntbm_msi_request_irq(struct ik_device *port, ik_irq_handler_t handler, const char *name,
			    void *dev_id, const struct ik_irq_affinity_desc *affinity,
			    struct ik_ntb_msi_desc *out);

/**
 * ik_ntbm_msi_free_irq - release what ik_ntbm_msi_request_irq() installed
 * Context: sleepable.  Return: 0; -IK_ENOENT (no such irq/dev_id pair).
 */
int ik_ntbm_msi_free_irq(struct ik_device *port, unsigned int irq, void *dev_id);

/* ---- Outbound ------------------------------------------------------------------ */

/**
 * ik_ntb_peer_db_set - ring the peer's doorbell @bits
 * ik_ntb_peer_msg_write - send @value as message @index (< IK_NTB_NR_MSGS)
 * Context: any.  Return: 0; -IK_EINVAL (not a port, bad index).
 */
int ik_ntb_peer_db_set(struct ik_device *port, uint32_t bits);
int ik_ntb_peer_msg_write(struct ik_device *port, unsigned int index, uint32_t value);

#endif /* IRQKIT_DRIVERS_NTB_H */
