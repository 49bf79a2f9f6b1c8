/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Driver for an IMS device whose store is an array of slots in device
 * memory (the layout of Intel's IMS demo and of the simulator's
 * sim_ims_slots):
 *
 *   BAR0 + 0x0000 CAP: bits 15:0 number of slots
 *   BAR0 + 0x1000 + 16 * n, slot n:
 *     +0x0 ADDR_LO  +0x4 ADDR_HI  +0x8 DATA
 *     +0xC CTRL: bit 0 MASK, bit 1 PENDING (ro), bit 3 PASID_EN,
 *          bits 31:12 PASID
 *
 * The slots are written directly by the CPU, dword by dword, so a slot is
 * masked while its message changes (a fire meanwhile is held PENDING by the
 * device and sent, with the new message, when the mask is cleared).  Every
 * write is followed by a read back, which flushes it to the device before
 * the callback returns.
 *
 * The device's slots can be shared out between several domains: the
 * function's own IMS domain and domains of sub-devices (slices), each over
 * its own range of slots and with its own index space (index i of a domain
 * over [first, first + count) is slot first + i).
 *
 * Masking is at the source (the slot's MASK bit).  Affinity is the MSI
 * parent's: a change that alters the message rewrites the slot as above.
 */
#ifndef IRQKIT_DRIVERS_IMS_SLOTS_H
#define IRQKIT_DRIVERS_IMS_SLOTS_H

#include <irqkit/device.h>
#include <irqkit/ims.h>

/* Slot array geometry (the hardware's). */
#define IK_IMS_SLOTS_CAP          0x0000u
#define IK_IMS_SLOTS_ARRAY        0x1000u
#define IK_IMS_SLOTS_SLOT_SIZE    16u
#define IK_IMS_SLOTS_MAX          4096u

/*
 * The icookie of an allocation: 0 for no PASID, or IK_IMS_PASID(pasid)
 * to tag the slot's messages with a 20-bit PASID.
 */
#define IK_IMS_PASID_ENABLE  IK_BIT64(32)
#define IK_IMS_PASID_MAX     0xFFFFFu
#define IK_IMS_PASID(pasid)  (IK_IMS_PASID_ENABLE | (uint64_t)(pasid))

/**
 * ik_ims_slots_driver - the driver of the PCI function
 * Probe: turns on memory decode and bus mastering, reads the number of
 * slots (refusing a device that reports none or more than
 * IK_IMS_SLOTS_MAX).  It creates no domain: the function's user does,
 * with the calls below.  Remove destroys the sub-devices made with
 * ik_ims_slots_add_subdev() first; the domains go with their devices.
 */
extern const struct ik_driver ik_ims_slots_driver;

/** ik_ims_slots_nr_slots - number of slots of a bound function, 0 if not bound.  Context: any. */
unsigned int ik_ims_slots_nr_slots(struct ik_device *pdev);

/**
 * ik_ims_slots_create_domain - an IMS domain on the function itself
 * @pdev:  the function, bound to ik_ims_slots_driver
 * @first: first slot
 * @count: number of slots (the domain's hwsize)
 *
 * Context: sleepable.
 * Return: 0; -IK_EINVAL (not bound to this driver, count 0, and the errors
 * of ik_ims_create_domain()); -IK_ERANGE (slots beyond the device);
 * -IK_EBUSY (a slot of the range already belongs to a domain); -IK_EEXIST
 * (@pdev already has an IMS domain); -IK_ENOMEM.
 */
int ik_ims_slots_create_domain(struct ik_device *pdev, unsigned int first, unsigned int count);

/**
 * ik_ims_slots_add_subdev - a sub-device (slice) with its own IMS domain
 * @pdev:  the function, bound to ik_ims_slots_driver
 * @name:  the child's name
 * @first, @count: its slots, as above
 * @out:   the child device (owned by @pdev: destroyed at the function's
 *         unbind, or earlier with ik_device_destroy())
 *
 * The child inherits the function's requester id and MSI parent; its
 * driver (internal) creates the IMS domain.  Its interrupts are allocated
 * with ik_ims_alloc_irq(child, ...), on demand, one at a time.
 *
 * Context: sleepable.
 * Return: 0; errors as ik_ims_slots_create_domain(); -IK_ENOMEM.
 */
int ik_ims_slots_add_subdev(struct ik_device *pdev, const char *name, unsigned int first,
			    unsigned int count, struct ik_device **out);

#endif /* IRQKIT_DRIVERS_IMS_SLOTS_H */
