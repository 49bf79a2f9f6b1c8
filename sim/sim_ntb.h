/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A simulated non-transparent bridge endpoint (switchtec-like) with a
 * simulated peer on the other side.  The host sees a PCI function
 * (sim_pci.h): vendor SIM_PCI_VENDOR_SIM, device SIM_PCI_DEVICE_NTB, class
 * 0x068000 (bridge, other), MSI-X with 4 vectors:
 *
 *   0 event (link change)   1 dma_rpc   2 message   3 doorbell
 *
 * BAR0 (64-bit, 64 KiB): registers below; MSI-X table at 0x8000, PBA at
 * 0x9000 (same BAR, non-zero offset).
 * BAR2 (64-bit, bar2_size): outbound memory window into the peer's memory
 * (host reads and writes land in a buffer the peer side can inspect).
 *
 * The inbound "MSI window": the host programs MSI_WIN_BASE/SIZE; a peer
 * write of a dword at offset o of the window (0 <= o, o + 4 <= size, o
 * dword aligned) is translated to host physical base + o and issued as a
 * bus-master write by the NTB function, with the function's requester id,
 * or the proxy requester id the platform set (sim_ntb_set_proxy_rid; the
 * host reads it in PROXY_RID, e.g. to register a DMA alias).  It needs Bus
 * Master Enable.  Writes outside the window, misaligned ones, or with the
 * window disabled are dropped and counted.  Pointing the window at the
 * LAPIC MSI region (0xFEE00000, 1 MiB) lets the peer raise host
 * interrupts by writing message data at (message address - base).
 *
 * Publishing: the host tells the peer which (offset, data) pairs to write
 * by filling PUBLISH slots; the peer reads them (sim_ntb_peer_trigger).
 *
 * BAR0 registers (4-byte accesses, naturally aligned; others read all-ones,
 * writes dropped; reserved offsets read 0):
 *   0x0000 CAP          (ro) bits 7:0 publish slots (64), bits 15:8 message
 *                            registers (4), bits 23:16 doorbell bits (32)
 *   0x0004 LINK_STATUS  (ro) bit 0 link up
 *   0x0008 EVENT_STATUS (rw1c) bit 0 link changed -> vector 0
 *   0x000C EVENT_MASK   (rw) bit 0 masks the link event interrupt
 *   0x0010 DMA_RPC_STATUS (rw1c) bit 0 DMA RPC completed -> vector 1
 *   0x0020 MSI_WIN_BASE_LO (rw) bit 0 ENABLE, bits 11:1 ro 0, bits 31:12 base
 *   0x0024 MSI_WIN_BASE_HI (rw) base bits 63:32
 *   0x0028 MSI_WIN_SIZE (rw) bytes, bits 11:0 ro 0 (4 KiB granules); 0 = none
 *   0x002C PROXY_RID    (ro) bit 31 VALID (a proxy is in use), bits 15:0 the
 *                            requester id translated writes carry
 *   0x0040 DB_STATUS    (rw1c) inbound doorbell bits rung by the peer
 *   0x0044 DB_MASK      (rw) 1 = masked (reset: 0)
 *   0x0048 DB_PEER      (wo) ring the peer's doorbell bits (outbound)
 *   0x0050 + 4 * i MSG_IN[i], i < 4 (ro) inbound message from the peer
 *   0x0060 MSG_STATUS   (rw1c) bit i: MSG_IN[i] holds an unread message
 *   0x0064 MSG_MASK     (rw) bit i masks message interrupt i (reset: 0)
 *   0x0070 + 4 * i MSG_OUT[i], i < 4 (wo) outbound message to the peer
 *   0x1000 + 16 * i PUBLISH[i], i < 64:
 *            +0x0 OFFSET (rw)  +0x4 DATA (rw)  +0x8 CTRL (rw, bit 0 VALID)
 *            +0xC reserved
 *
 * Interrupts: a peer doorbell whose bits include an unmasked one raises
 * vector 3; unmasking DB_MASK bits whose DB_STATUS bits are set raises it
 * too.  A peer message raises vector 2 unless masked (unmasking with the
 * status bit set raises it).  A link change raises vector 0 unless
 * EVENT_MASK bit 0 is set; sim_ntb_dma_rpc_done() raises vector 1.  These
 * go through the function's MSI-X (sim_pci_dev_raise), so MSI-X masking,
 * PBA and Bus Master Enable apply as usual.
 */
#ifndef IKSIM_SIM_NTB_H
#define IKSIM_SIM_NTB_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_pci.h"

#define SIM_NTB_VEC_EVENT	0
#define SIM_NTB_VEC_DMA_RPC	1
#define SIM_NTB_VEC_MESSAGE	2
#define SIM_NTB_VEC_DOORBELL	3
#define SIM_NTB_NR_VECTORS	4

#define SIM_NTB_BAR0_SIZE	0x10000u
#define SIM_NTB_MSIX_TABLE	0x8000u
#define SIM_NTB_MSIX_PBA	0x9000u

#define SIM_NTB_CAP		0x0000u
#define SIM_NTB_LINK_STATUS	0x0004u
#define SIM_NTB_EVENT_STATUS	0x0008u
#define SIM_NTB_EVENT_MASK	0x000Cu
#define SIM_NTB_DMA_RPC_STATUS	0x0010u
#define SIM_NTB_MSI_WIN_BASE_LO	0x0020u
#define  SIM_NTB_MSI_WIN_ENABLE	(1u << 0)
#define SIM_NTB_MSI_WIN_BASE_HI	0x0024u
#define SIM_NTB_MSI_WIN_SIZE	0x0028u
#define SIM_NTB_PROXY_RID	0x002Cu
#define  SIM_NTB_PROXY_RID_VALID (1u << 31)
#define SIM_NTB_DB_STATUS	0x0040u
#define SIM_NTB_DB_MASK		0x0044u
#define SIM_NTB_DB_PEER		0x0048u
#define SIM_NTB_MSG_IN(i)	(0x0050u + 4u * (i))
#define SIM_NTB_MSG_STATUS	0x0060u
#define SIM_NTB_MSG_MASK	0x0064u
#define SIM_NTB_MSG_OUT(i)	(0x0070u + 4u * (i))
#define SIM_NTB_NR_MSGS		4u
#define SIM_NTB_PUBLISH(i)	(0x1000u + 16u * (i))
#define  SIM_NTB_PUB_OFFSET	0x0u
#define  SIM_NTB_PUB_DATA	0x4u
#define  SIM_NTB_PUB_CTRL	0x8u
#define  SIM_NTB_PUB_VALID	(1u << 0)
#define SIM_NTB_NR_PUBLISH	64u

struct sim_ntb_config {
	uint16_t vendor_id, device_id;	/* 0: SIM_PCI_VENDOR_SIM / SIM_PCI_DEVICE_NTB */
	uint64_t bar0_addr;		/* 64 KiB aligned */
	uint64_t bar2_addr;		/* bar2_size aligned */
	uint64_t bar2_size;		/* power of two, 4 KiB .. 16 MiB; 0 = 1 MiB */
	uint16_t command;		/* as firmware left it */
	bool link_up;			/* initial link state */
};

struct sim_ntb;
/* NULL on bad configuration or an occupied bdf.  Freed with the machine. */
struct sim_ntb *sim_ntb_create(struct sim_pci_bus *bus, uint16_t bdf,
			       const struct sim_ntb_config *cfg);
/* Unplug (the object stays valid and inert until the machine goes). */
void sim_ntb_destroy(struct sim_ntb *ntb);
struct sim_pci_dev *sim_ntb_pci(struct sim_ntb *ntb);

/* Translated peer writes carry @rid instead of the function's bdf (enable = false: bdf). */
void sim_ntb_set_proxy_rid(struct sim_ntb *ntb, bool enable, uint16_t rid);

/* ---- The peer ----------------------------------------------------------------- */

enum sim_ntb_result {
	SIM_NTB_DELIVERED = 0,
	SIM_NTB_DROPPED_DISABLED,	/* window not enabled / size 0, or function unplugged */
	SIM_NTB_DROPPED_OUTSIDE,	/* offset outside the window or misaligned */
	SIM_NTB_DROPPED_NO_BUS_MASTER,
	SIM_NTB_INVALID_SLOT,		/* trigger of a slot that is not VALID (nothing written) */
};

/* The peer writes @data at @offset of its view of the MSI window. */
enum sim_ntb_result sim_ntb_peer_write(struct sim_ntb *ntb, uint64_t offset, uint32_t data);
/* The peer reads PUBLISH[@slot] and, if VALID, writes its (offset, data). */
enum sim_ntb_result sim_ntb_peer_trigger(struct sim_ntb *ntb, unsigned int slot);
/* The peer rings inbound doorbell @bits / sends message @index. */
void sim_ntb_peer_doorbell(struct sim_ntb *ntb, uint32_t bits);
void sim_ntb_peer_message(struct sim_ntb *ntb, unsigned int index, uint32_t value);
/* Link state change (raises the event vector). */
void sim_ntb_set_link(struct sim_ntb *ntb, bool up);
void sim_ntb_dma_rpc_done(struct sim_ntb *ntb);

/* What the host sent the peer: doorbell bits rung (read and cleared), outbound messages. */
uint32_t sim_ntb_peer_take_doorbells(struct sim_ntb *ntb);
uint32_t sim_ntb_peer_msg(struct sim_ntb *ntb, unsigned int index);
/* The peer's memory behind BAR2 (0xFFFFFFFF beyond it). */
uint32_t sim_ntb_peer_mem_read32(struct sim_ntb *ntb, uint64_t offset);

struct sim_ntb_stats {
	uint64_t peer_writes;		/* sim_ntb_peer_write + valid triggers */
	uint64_t delivered;
	uint64_t dropped_disabled;
	uint64_t dropped_outside;
	uint64_t dropped_no_bus_master;
	uint64_t invalid_triggers;
	uint64_t doorbells;		/* peer doorbell rings */
	uint64_t messages;		/* peer messages */
	uint64_t messages_overwritten;	/* ... that replaced an unread one */
	uint64_t last_addr;		/* last translated write: host address, data, rid */
	uint32_t last_data;
	uint16_t last_rid;
};
void sim_ntb_stats(struct sim_ntb *ntb, struct sim_ntb_stats *out);

#endif /* IKSIM_SIM_NTB_H */
