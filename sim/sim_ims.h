/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Two simulated devices with Interrupt Message Store (IMS): device-specific
 * message slots outside MSI-X.  Both are PCI functions (sim_pci.h) with a
 * small MSI-X table of their own, as Intel's DSA/IDXD has.  The library
 * reaches them only through their BARs and configuration space.
 *
 * Common to both:
 *   vendor id SIM_PCI_VENDOR_SIM, class 0x088000 (base system peripheral,
 *   other); BAR0 64-bit (registers, below); BAR2 64-bit, 8 KiB: MSI-X table
 *   at offset 0x0 (nr_msix entries), PBA at offset 0x1000.
 *
 *   A slot holds a message {address, data}, a mask bit (1 after reset), a
 *   pending bit and a PASID.  Firing a slot:
 *     masked             -> pending is set (once, however often it fires);
 *     unmasked           -> DATA is written to ADDR_HI:ADDR_LO as a bus-master
 *                           write with the function's requester id
 *                           (sim_pci_dev_dma_write32); without Bus Master
 *                           Enable, or with the function unplugged, the fire
 *                           is dropped and counted.
 *   Clearing the mask of a pending slot sends its message then, exactly once,
 *   clearing pending.  PASID (when PASID_EN is set) is recorded with each
 *   message in the statistics; the machine's bus carries no PASID prefix.
 *
 *   Register accesses are 4 bytes (8 bytes where noted), naturally
 *   aligned; other accesses read all-ones and writes are dropped.
 *
 * ---- (a) MMIO slot array: sim_ims_slots ------------------------------------
 *
 * BAR0 (size sim_ims_slots_bar0_size(nr_slots)):
 *   0x0000 CAP   (ro)  bits 15:0 number of slots, bit 16 PASID supported (1)
 *   0x0004 FIRE  (wo)  writing n fires slot n (as sim_ims_slots_fire); reads 0
 *   0x1000 + 16 * n: slot n
 *     +0x0 ADDR_LO (rw; bits 1:0 ro 0)  an 8-byte access at +0x0 covers ADDR_HI
 *     +0x4 ADDR_HI (rw)
 *     +0x8 DATA    (rw)
 *     +0xC CTRL    bit 0 MASK (rw, 1 after reset), bit 1 PENDING (ro),
 *                  bit 3 PASID_EN (rw), bits 31:12 PASID (rw); others ro 0
 * Every dword is stored as written: rewriting an unmasked slot is not
 * atomic, a fire between the writes sends the half-updated message (as
 * with MSI-X).
 *
 * ---- (b) Queue-updated store (IDXD-like): sim_ims_queue --------------------
 *
 * The slots live in device-internal memory the host cannot write directly.
 * The host changes them by submitting 64-byte descriptors to a command ring
 * in BAR0 and ringing the tail doorbell.  The device consumes descriptors
 * asynchronously, one per device event, each cmd_delay ticks after the
 * previous (sim_schedule), so an update is invisible until its command has
 * run; completion is observable by polling RING_HEAD / COMPLETED (the
 * library busy-waits with ik_os_cpu_relax(), a scheduler point) and, if
 * asked, through a completion record in memory and MSI-X vector 0.
 *
 * BAR0 (64-bit, SIM_IMS_QUEUE_BAR0_SIZE):
 *   0x000 CAP        (ro) bits 15:0 nr_slots, bits 23:16 nr_queues (0..255),
 *                         bits 27:24 log2(ring entries)
 *   0x004 VERSION    (ro) 0x00010000
 *   0x008 RING_TAIL  (rw) producer index, 0..entries-1 (higher bits ignored);
 *                         writing it is the doorbell
 *   0x00C RING_HEAD  (ro) consumer index: the next descriptor the device runs.
 *                         The ring is empty when HEAD == TAIL; the host must
 *                         keep one entry free (full = TAIL + 1 == HEAD).
 *   0x010 STATUS     (ro) bit 0 BUSY (HEAD != TAIL), bit 1 ERROR (sticky),
 *                         bits 15:8 status code of the first failed command,
 *                         bits 31:16 its ring index
 *   0x014 COMPLETED  (ro) commands completed since creation (mod 2^32)
 *   0x018 ERROR_CLEAR(wo) writing bit 0 clears STATUS.ERROR and its code/index
 *   0x01C FIRE       (wo) writing n fires slot n (as sim_ims_queue_fire_slot)
 *   0x020 QUERY_INDEX(rw) slot to inspect (bits 15:0)
 *   0x024 QUERY_ADDR_LO, 0x028 QUERY_ADDR_HI, 0x02C QUERY_DATA,
 *   0x030 QUERY_CTRL (ro) the slot's committed state, CTRL laid out as in
 *                         (a): bit 0 MASK, bit 1 PENDING, bit 3 PASID_EN,
 *                         bits 31:12 PASID.  All-ones for an index beyond
 *                         the slots.
 *   0x100 + 4 * q  QUEUE_SLOT[q] (rw), q < nr_queues: bit 31 VALID, bits 15:0
 *                  the slot that work queue q's interrupts use (the host
 *                  associates slots with queues; sim_ims_queue_fire_queue)
 *   0x1000 + 64 * i  descriptor i of the command ring (rw, plain memory)
 *
 * Descriptor (64 bytes; the device reads it when it runs the command):
 *   +0x00 OP      bits 7:0 opcode, bit 8 COMPLETION_RECORD, bit 9
 *                 COMPLETION_INTERRUPT (raise MSI-X vector 0 when done)
 *   +0x04 SLOT
 *   +0x08 ADDR_LO +0x0C ADDR_HI +0x10 DATA         (WRITE_MSG)
 *   +0x14 PASID   bits 19:0 PASID, bit 31 PASID_EN (WRITE_MSG)
 *   +0x18 COMPL_ADDR_LO +0x1C COMPL_ADDR_HI  completion record address (8-aligned)
 *   +0x20 COMPL_COOKIE  copied into the completion record
 *   +0x24..0x3F reserved
 * Opcodes: 0 NOP; 1 WRITE_MSG (address, data, PASID; mask and pending
 *   unchanged; the device updates the slot atomically); 2 MASK; 3 UNMASK
 *   (sends the message once if pending); 4 ZERO (address, data, PASID 0,
 *   masked, pending cleared).
 * Completion record (8 bytes, written as two bus-master dwords, needs Bus
 *   Master Enable): +0x4 COMPL_COOKIE first, then +0x0 STATUS = status code
 *   (bits 7:0) | ring index << 16.  A non-zero STATUS means complete; the
 *   host clears it before submitting.  Status codes: SIM_IMSQ_ST_*.
 * A failed command (bad opcode or slot) changes nothing, sets STATUS.ERROR
 * (first failure kept) and still completes (HEAD, COMPLETED, record).
 */
#ifndef IKSIM_SIM_IMS_H
#define IKSIM_SIM_IMS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_pci.h"

/* Common slot CTRL layout. */
#define SIM_IMS_CTRL_MASK	(1u << 0)
#define SIM_IMS_CTRL_PENDING	(1u << 1)
#define SIM_IMS_CTRL_PASID_EN	(1u << 3)
#define SIM_IMS_CTRL_PASID_SHIFT 12
#define SIM_IMS_CTRL_PASID_MASK	(0xFFFFFu << SIM_IMS_CTRL_PASID_SHIFT)

/* BAR2 of both devices: MSI-X. */
#define SIM_IMS_BAR2_SIZE	0x2000u
#define SIM_IMS_MSIX_TABLE	0x0000u
#define SIM_IMS_MSIX_PBA	0x1000u
#define SIM_IMS_MAX_MSIX	256u

/* (a) slot array */
#define SIM_IMS_SLOTS_CAP	0x0000u
#define SIM_IMS_SLOTS_FIRE	0x0004u
#define SIM_IMS_SLOTS_ARRAY	0x1000u
#define SIM_IMS_SLOT_SIZE	16u
#define  SIM_IMS_SLOT_ADDR_LO	0x0u
#define  SIM_IMS_SLOT_ADDR_HI	0x4u
#define  SIM_IMS_SLOT_DATA	0x8u
#define  SIM_IMS_SLOT_CTRL	0xCu
#define SIM_IMS_SLOTS_MAX	4096u

/* (b) queue-updated store */
#define SIM_IMSQ_CAP		0x000u
#define SIM_IMSQ_VERSION	0x004u
#define SIM_IMSQ_RING_TAIL	0x008u
#define SIM_IMSQ_RING_HEAD	0x00Cu
#define SIM_IMSQ_STATUS		0x010u
#define  SIM_IMSQ_STATUS_BUSY	(1u << 0)
#define  SIM_IMSQ_STATUS_ERROR	(1u << 1)
#define SIM_IMSQ_COMPLETED	0x014u
#define SIM_IMSQ_ERROR_CLEAR	0x018u
#define SIM_IMSQ_FIRE		0x01Cu
#define SIM_IMSQ_QUERY_INDEX	0x020u
#define SIM_IMSQ_QUERY_ADDR_LO	0x024u
#define SIM_IMSQ_QUERY_ADDR_HI	0x028u
#define SIM_IMSQ_QUERY_DATA	0x02Cu
#define SIM_IMSQ_QUERY_CTRL	0x030u
#define SIM_IMSQ_QUEUE_SLOT(q)	(0x100u + 4u * (q))
#define  SIM_IMSQ_QUEUE_SLOT_VALID (1u << 31)
#define SIM_IMSQ_RING		0x1000u
#define SIM_IMSQ_DESC_SIZE	64u
#define SIM_IMSQ_BAR0_SIZE	0x8000u
#define SIM_IMSQ_MAX_SLOTS	65535u
#define SIM_IMSQ_MAX_QUEUES	255u
#define SIM_IMSQ_MAX_RING_LOG2	8u

/* Descriptor fields (byte offsets) */
#define SIM_IMSQ_D_OP		0x00u
#define  SIM_IMSQ_OP_COMPL_RECORD (1u << 8)
#define  SIM_IMSQ_OP_COMPL_INTR	(1u << 9)
#define SIM_IMSQ_D_SLOT		0x04u
#define SIM_IMSQ_D_ADDR_LO	0x08u
#define SIM_IMSQ_D_ADDR_HI	0x0Cu
#define SIM_IMSQ_D_DATA		0x10u
#define SIM_IMSQ_D_PASID	0x14u
#define  SIM_IMSQ_PASID_EN	(1u << 31)
#define SIM_IMSQ_D_COMPL_LO	0x18u
#define SIM_IMSQ_D_COMPL_HI	0x1Cu
#define SIM_IMSQ_D_COOKIE	0x20u

enum sim_imsq_opcode {
	SIM_IMSQ_NOP = 0,
	SIM_IMSQ_WRITE_MSG = 1,
	SIM_IMSQ_MASK = 2,
	SIM_IMSQ_UNMASK = 3,
	SIM_IMSQ_ZERO = 4,
};

#define SIM_IMSQ_ST_SUCCESS	0x01u
#define SIM_IMSQ_ST_BAD_OPCODE	0x10u
#define SIM_IMSQ_ST_BAD_SLOT	0x11u

/* ---- Statistics and inspection (tests; read the model directly) ---------- */

struct sim_ims_stats {
	uint64_t fired;			/* fire requests */
	uint64_t sent;			/* messages written (at fire or on unmask) */
	uint64_t pending_set;		/* fires that found the slot masked */
	uint64_t dropped_no_bus_master;	/* Bus Master Enable clear */
	uint64_t dropped_absent;	/* unplugged, bad slot or unassociated queue */
};

struct sim_ims_slot {
	uint32_t addr_lo, addr_hi, data;
	uint32_t ctrl;			/* SIM_IMS_CTRL_* */
	/* The last message this slot sent (valid if stats.sent > 0). */
	uint64_t last_addr;
	uint32_t last_data;
	bool last_pasid_en;
	uint32_t last_pasid;
	struct sim_ims_stats stats;
};

/* ---- (a) MMIO slot array --------------------------------------------------- */

struct sim_ims_slots_config {
	uint16_t vendor_id, device_id;	/* 0: SIM_PCI_VENDOR_SIM / SIM_PCI_DEVICE_IMS_SLOTS */
	unsigned int nr_slots;		/* 1..SIM_IMS_SLOTS_MAX */
	unsigned int nr_msix;		/* 1..SIM_IMS_MAX_MSIX; 0 = 2 */
	uint64_t bar0_addr;		/* aligned to sim_ims_slots_bar0_size() */
	uint64_t bar2_addr;		/* 8 KiB aligned */
	uint16_t command;		/* as firmware left it */
};

uint64_t sim_ims_slots_bar0_size(unsigned int nr_slots);
struct sim_ims_slots;
/* NULL on bad configuration or an occupied bdf.  Freed with the machine. */
struct sim_ims_slots *sim_ims_slots_create(struct sim_pci_bus *bus, uint16_t bdf,
					   const struct sim_ims_slots_config *cfg);
/* Unplug (the object stays valid and inert until the machine goes). */
void sim_ims_slots_destroy(struct sim_ims_slots *dev);
struct sim_pci_dev *sim_ims_slots_pci(struct sim_ims_slots *dev);
void sim_ims_slots_fire(struct sim_ims_slots *dev, unsigned int slot);
/* False if @slot is out of range. */
bool sim_ims_slots_slot(struct sim_ims_slots *dev, unsigned int slot, struct sim_ims_slot *out);
void sim_ims_slots_stats(struct sim_ims_slots *dev, struct sim_ims_stats *out);

/* ---- (b) Queue-updated store ------------------------------------------------ */

struct sim_ims_queue_config {
	uint16_t vendor_id, device_id;	/* 0: SIM_PCI_VENDOR_SIM / SIM_PCI_DEVICE_IMS_QUEUE */
	unsigned int nr_slots;		/* 1..SIM_IMSQ_MAX_SLOTS; 0 = 4096 */
	unsigned int nr_queues;		/* work queues, 0..SIM_IMSQ_MAX_QUEUES */
	unsigned int ring_log2;		/* ring entries = 2^ring_log2, 1..8; 0 = 6 (64) */
	uint64_t cmd_delay;		/* ticks from doorbell/previous command (0: due at once,
					 * i.e. at the next scheduler point) */
	unsigned int nr_msix;		/* 1..SIM_IMS_MAX_MSIX; 0 = 2 */
	uint64_t bar0_addr;		/* SIM_IMSQ_BAR0_SIZE aligned */
	uint64_t bar2_addr;		/* 8 KiB aligned */
	uint16_t command;
};

struct sim_ims_queue;
struct sim_ims_queue *sim_ims_queue_create(struct sim_pci_bus *bus, uint16_t bdf,
					   const struct sim_ims_queue_config *cfg);
void sim_ims_queue_destroy(struct sim_ims_queue *dev);
struct sim_pci_dev *sim_ims_queue_pci(struct sim_ims_queue *dev);
void sim_ims_queue_fire_slot(struct sim_ims_queue *dev, unsigned int slot);
/* Fire the slot work queue @queue is associated with (QUEUE_SLOT[q]). */
void sim_ims_queue_fire_queue(struct sim_ims_queue *dev, unsigned int queue);
/* Command processing delay, changeable at any time (next command on). */
void sim_ims_queue_set_delay(struct sim_ims_queue *dev, uint64_t ticks);
/* Stop / resume consuming commands (a stalled device; commands stay queued). */
void sim_ims_queue_pause(struct sim_ims_queue *dev, bool paused);
/* Commands submitted but not yet run (TAIL - HEAD). */
unsigned int sim_ims_queue_outstanding(struct sim_ims_queue *dev);
bool sim_ims_queue_slot(struct sim_ims_queue *dev, unsigned int slot, struct sim_ims_slot *out);
void sim_ims_queue_stats(struct sim_ims_queue *dev, struct sim_ims_stats *out);

#endif /* IKSIM_SIM_IMS_H */
