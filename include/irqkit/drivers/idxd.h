/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Driver for an IDXD-like device whose IMS store is updated by commands.
 *
 * The device keeps thousands of message slots in internal memory that the
 * CPU cannot write.  Software changes a slot by writing a 64-byte
 * descriptor into a command ring in BAR0 and ringing the tail doorbell;
 * the device runs the commands in order, some time later, and counts them
 * in a COMPLETED register.  The hardware contract (the simulator's
 * sim_ims_queue):
 *
 *   BAR0 0x000 CAP: bits 15:0 slots, 23:16 work queues, 27:24 log2(ring)
 *        0x008 RING_TAIL (doorbell)  0x00C RING_HEAD  0x010 STATUS
 *        0x014 COMPLETED  0x018 ERROR_CLEAR
 *        0x020 QUERY_INDEX, 0x024..0x030 the slot's committed state
 *        0x100 + 4q QUEUE_SLOT[q]: bit 31 VALID, bits 15:0 the slot work
 *              queue q signals completions through
 *        0x1000 + 64i ring descriptor i: OP, SLOT, ADDR_LO, ADDR_HI, DATA,
 *              PASID; opcodes WRITE_MSG (atomic), MASK, UNMASK, ZERO
 *
 * Interrupt model.  Each work queue is a sub-device (an ik_device child of
 * the function) with its own IMS domain; its interrupts are allocated on
 * demand, one at a time, from a slot pool shared by all queues.  The chip's
 * mask, unmask and write_msi_msg run in atomic context, so they only record
 * the wanted state of the slot.  irq_bus_lock takes the device's mutex;
 * irq_bus_sync_unlock submits one command per change and busy-waits (with
 * ik_os_cpu_relax()) until the device completed them, bounded by a timeout.
 *
 * Changes recorded outside a bus-lock bracket (affinity moves, masking by
 * the flow handlers) are flushed by a work item, which coalesces them: the
 * vector domain keeps the interrupt's old vector routed until the first
 * interrupt arrives on the new one, so the device may keep using the old
 * message until the command lands without losing anything.  See
 * docs/architecture.md, "Queue-updated stores and affinity", for the whole
 * argument and for what CPU offline cannot guarantee.
 *
 * Every interrupt of this store is set to disable unlazily
 * (ik_irq_set_disable_unlazy()): ik_disable_irq() masks the slot inside its
 * bracket, so the slot is masked on the device when the call returns.
 */
#ifndef IRQKIT_DRIVERS_IDXD_H
#define IRQKIT_DRIVERS_IDXD_H

#include <irqkit/device.h>
#include <irqkit/ims.h>

/* The icookie of an allocation: 0 for no PASID, or IK_IDXD_PASID(pasid) (20 bits). */
#define IK_IDXD_PASID_ENABLE IK_BIT64(32)
#define IK_IDXD_PASID_MAX    0xFFFFFu
#define IK_IDXD_PASID(pasid) (IK_IDXD_PASID_ENABLE | (uint64_t)(pasid))

/* Default bound of the wait for a command batch (ik_idxd_set_timeout_ns()). */
#define IK_IDXD_DEFAULT_TIMEOUT_NS 100000000ull /* 100 ms */

/**
 * ik_idxd_driver - the driver of the PCI function
 * Probe: memory decode and bus mastering on, capability checked (at least
 * one slot, a ring of 4..256 entries inside BAR0), error state cleared, the
 * ring drained of a previous owner's commands, queue associations cleared.  Remove destroys the work
 * queue devices (freeing their interrupts), waits for the flush work item
 * to be idle, and turns the function off.
 */
extern const struct ik_driver ik_idxd_driver;

struct ik_idxd_stats {
	uint64_t commands;      /* descriptors submitted */
	uint64_t batches;       /* doorbells rung */
	uint64_t records;       /* changes recorded by the chip */
	uint64_t records_outside; /* ... outside a bus-lock bracket (deferred) */
	uint64_t work_flushes;  /* work item runs that flushed */
	uint64_t work_skipped;  /* work item runs that found the ring owned (its owner flushed) */
	uint64_t timeouts;      /* batches not completed within the timeout */
	uint64_t errors;        /* batches the device reported an error for */
};

/**
 * ik_idxd_get_stats - counters of a function bound to ik_idxd_driver
 * Context: any.  Return: 0; -IK_EINVAL (not bound, @out NULL).
 */
int ik_idxd_get_stats(struct ik_device *pdev, struct ik_idxd_stats *out);

/**
 * ik_idxd_set_timeout_ns - bound of the wait for a command batch
 * 0 restores IK_IDXD_DEFAULT_TIMEOUT_NS.  Applies to waits that start later.
 * Context: any.  Return: 0; -IK_EINVAL (not bound).
 */
int ik_idxd_set_timeout_ns(struct ik_device *pdev, uint64_t ns);

/** Slots and work queues of a bound function (0 if not bound).  Context: any. */
unsigned int ik_idxd_nr_slots(struct ik_device *pdev);
unsigned int ik_idxd_nr_queues(struct ik_device *pdev);

/**
 * ik_idxd_flush - submit every recorded change and wait for it
 * What the work item would do, now: for an OS that must know the device
 * holds the current messages (before taking a CPU down, before a reset).
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (not bound); -IK_EIO (the device did not complete
 * in time or reported an error; logged; the changes stay recorded and the
 * next flush submits them again); -IK_ENODEV (the function is gone; the
 * changes are dropped).
 */
int ik_idxd_flush(struct ik_device *pdev);

/* ---- Work queues ----------------------------------------------------------- */

/**
 * ik_idxd_wq_add - create the device of work queue @queue
 * @out: the child device ("<function>.wq<queue>", unique per function: its
 *       IMS domain is named after it), with its own IMS domain; owned by
 *       @pdev (destroyed at its unbind, or earlier with ik_device_destroy())
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (not bound, @out NULL); -IK_ERANGE (no such queue);
 * -IK_EBUSY (the queue already has a device); -IK_ENOMEM; errors of
 * ik_ims_create_domain().
 */
int ik_idxd_wq_add(struct ik_device *pdev, unsigned int queue, struct ik_device **out);

/**
 * ik_idxd_wq_alloc_irq - allocate an interrupt for a work queue
 * @wq:       a device from ik_idxd_wq_add()
 * @affinity: NULL or the interrupt's affinity
 * @icookie:  0 or IK_IDXD_PASID(pasid)
 *
 * Takes a slot from the device's pool and initialises it on the device
 * (zeroed and masked, with the PASID) before returning.  The first
 * interrupt of a queue becomes the one the queue signals (QUEUE_SLOT).
 *
 * Context: sleepable.
 * Return: {index, irq}, or {-error, 0}: -IK_EINVAL (not a work queue
 * device, bad cookie); -IK_ENOSPC (no slot or vector left); -IK_ENOMEM;
 * -IK_EIO (the device did not take the initialisation); nothing remains
 * allocated on failure.
 */
struct ik_msi_map ik_idxd_wq_alloc_irq(struct ik_device *wq,
				       const struct ik_irq_affinity_desc *affinity,
				       uint64_t icookie);

/**
 * ik_idxd_wq_free_irq - free an interrupt of a work queue
 * The handler must have been freed.  If the queue signals through it, the
 * queue's association is cleared first.  The slot returns to the pool
 * after the interrupt was deactivated and every update recorded for it
 * was written.
 *
 * Context: sleepable.
 * Return: as ik_ims_free_irq().
 */
int ik_idxd_wq_free_irq(struct ik_device *wq, struct ik_msi_map map);

/**
 * ik_idxd_wq_slot - the device slot behind IMS index @index of @wq
 * Context: sleepable (takes the MSI lock).  Return: the slot; -IK_ENOENT
 * (not a work queue device, nothing allocated at @index).
 */
int ik_idxd_wq_slot(struct ik_device *wq, int index);

#endif /* IRQKIT_DRIVERS_IDXD_H */
