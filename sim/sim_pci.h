/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Simulated PCI: a segment of buses reached through the machine's PCI
 * configuration hook (ik_os_pci_cfg_read/write) and through an ECAM window,
 * and generic configurable type-0 functions with memory BARs, an MSI and an
 * MSI-X capability.  Formats are those of the PCI Local Bus 3.0 / PCI
 * Express Base specifications; everything a driver sees, it sees through
 * configuration space and BAR accesses.  The inspection helpers at the end
 * read the model directly and are for tests only.
 *
 * ---- Addressing -------------------------------------------------------------
 *
 * bdf = bus << 8 | device << 3 | function (also the requester id of every
 * write the function masters).  ECAM: the configuration space of bdf lives at
 * ecam_base + (bdf << 12) + register, i.e. bus << 20 | dev << 15 | fn << 12 |
 * reg, 1 MiB per bus.  ECAM accesses are 1, 2 or 4 bytes, naturally aligned
 * (others read all-ones, writes are dropped).  A function that is not
 * present reads all-ones (vendor id 0xFFFF); writes to it are dropped.
 *
 * ---- Type-0 header (offsets in configuration space) ------------------------
 *
 *   0x00 vendor id (ro)            0x02 device id (ro)
 *   0x04 command: bit 1 Memory Space Enable, bit 2 Bus Master Enable,
 *        bit 6 Parity Error Response, bit 8 SERR# Enable, bit 10 INTx
 *        Disable are rw; all other bits ro 0 (no I/O BARs).
 *   0x06 status: bit 4 Capabilities List (ro, 1 when a capability exists);
 *        error bits 8, 11..15 are rw1c (never set by the model); rest ro 0.
 *   0x08 revision (ro)  0x09 class code, 3 bytes: prog-if, subclass, base (ro)
 *   0x0C cache line size (rw)  0x0D latency timer (ro 0)
 *   0x0E header type (ro): 0x00, bit 7 set on function 0 while another
 *        function of the same device is present
 *   0x0F BIST (ro 0)
 *   0x10..0x24 BAR0..5: memory BARs.  Bit 0 = 0 (memory), bits 2:1 = 00
 *        (32-bit) or 10 (64-bit: the next BAR holds address bits 63:32),
 *        bit 3 prefetchable.  Address bits below the BAR's size are ro 0,
 *        so writing all-ones and reading back gives the size mask (sizing).
 *        An unimplemented BAR is ro 0.  A BAR decodes (is mapped in the
 *        machine's physical address space at its current address) only
 *        while Memory Space Enable is set; if that range overlaps another
 *        region it does not decode (counted in sim_pci_stats.bar_conflicts).
 *   0x28 CardBus CIS (ro 0)   0x2C subsystem vendor id, 0x2E subsystem id (ro)
 *   0x30 expansion ROM BAR (ro 0: not implemented)
 *   0x34 capabilities pointer (ro; 0 if none)
 *   0x3C interrupt line (rw)  0x3D interrupt pin (ro)  0x3E/0x3F (ro 0)
 *   0x40..0xFF capabilities; 0x100..0xFFF read as 0 (no extended caps)
 *
 * ---- Capabilities (placed from 0x40 in this order unless offsets given) ----
 *
 * Power Management (ID 0x01, optional, 8 bytes): +2 PMC = 0x0003 (version 3),
 *   +4 PMCSR (bits 1:0 power state rw, no effect on the model).
 *
 * MSI (ID 0x05):
 *   +0x02 Message Control: bit 0 MSI Enable (rw); bits 3:1 Multiple Message
 *         Capable (ro, log2); bits 6:4 Multiple Message Enable (rw, log2);
 *         bit 7 64-bit address capable (ro); bit 8 per-vector masking
 *         capable (ro); other bits ro 0.
 *   +0x04 Message Address, bits 1:0 ro 0
 *   32-bit:  +0x08 Message Data (16 bits, rw; +0x0A ro 0)
 *            maskable: +0x0C Mask Bits, +0x10 Pending Bits
 *   64-bit:  +0x08 Message Upper Address, +0x0C Message Data (16 bits)
 *            maskable: +0x10 Mask Bits, +0x14 Pending Bits
 *   Mask bits are rw for the 2^MMC implemented vectors, ro 0 above; pending
 *   bits are ro.  With N = 2^min(MME, MMC) vectors enabled, raising vector
 *   k < N sends Message Data with its low log2(N) bits replaced by k (bits
 *   31:16 of the written dword are 0).  A function with fewer vectors
 *   enabled than it raises shares them: k >= N is sent as vector N - 1.
 *   A raise while vector k's mask bit is set sets its pending bit instead;
 *   the message is sent (once, clearing the pending bit) as soon as the
 *   vector is deliverable again (mask bit clear, MSI Enable, Bus Master
 *   Enable).  The field layout the model uses is the one Message Control
 *   advertises at the time of the raise.
 *
 * MSI-X (ID 0x11):
 *   +0x02 Message Control: bits 10:0 Table Size = N - 1 (ro); bit 14
 *         Function Mask (rw); bit 15 MSI-X Enable (rw); others ro 0.
 *   +0x04 Table Offset/Table BIR (ro): bits 2:0 BIR, bits 31:3 offset
 *   +0x08 PBA Offset/PBA BIR (ro): same layout
 *   Table: N entries of 16 bytes at the offset in the BAR named by BIR
 *   (BIR of a 64-bit BAR = its lower index): +0x0 Message Address (bits 1:0
 *   ro 0), +0x4 Message Upper Address, +0x8 Message Data, +0xC Vector
 *   Control (bit 0 Mask, rw, 1 after reset; other bits ro 0).
 *   PBA: ceil(N / 64) qwords, bit k = entry k pending; ro (writes dropped).
 *   Table and PBA accesses are 1, 2, 4 or 8 bytes, naturally aligned; an
 *   8-byte access is two dword accesses done at once.  Other accesses to
 *   the BAR go to the device model (sim_pci_bar_ops) or read 0 / are
 *   dropped.  The table and PBA are decoded where the capability says at
 *   the time of the access (a BIR 6/7, or a table beyond its BAR, simply
 *   has no or partial decode).
 *   A raise of entry k (MSI-X Enable set; k < N, else dropped as
 *   bad_vector): if the entry's Mask or Function Mask is set, the PBA bit is
 *   set; else (with Bus Master Enable) the entry's current three dwords are
 *   sent as they stand -- writing an unmasked entry is not atomic, a raise
 *   between the writes sends the half-updated message.  A pending entry is
 *   sent exactly once, clearing its PBA bit, as soon as it becomes
 *   deliverable (entry unmask, Function Mask clear, Enable or Bus Master
 *   Enable set).
 *
 * Which mechanism a raise uses: MSI-X if MSI-X Enable is set, else MSI if
 * MSI Enable is set, else none (dropped_disabled; INTx is not modelled).
 * With the mechanism enabled but Bus Master Enable clear, an unmasked raise
 * is dropped (dropped_no_bus_master); a masked one still becomes pending.
 * Messages are bus-master writes: sim_dma_write32(m, bdf, address, data).
 *
 * ---- Concurrency ----------------------------------------------------------
 *
 * Every function is safe to call from any thread in threaded mode.  Device
 * state is protected by a per-function mutex that is never held while a
 * message is written or a device-model hook runs.  Destroyed functions stay
 * allocated (inert) until the machine is destroyed, so a stale pointer or a
 * racing access never touches freed memory.
 */
#ifndef IKSIM_SIM_PCI_H
#define IKSIM_SIM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define SIM_PCI_BDF(bus, dev, fn) \
	((uint16_t)(((unsigned int)(bus) & 0xFF) << 8 | ((unsigned int)(dev) & 0x1F) << 3 | \
		    ((unsigned int)(fn) & 7)))

/* Configuration-space offsets and bits (PCI Local Bus 3.0, PCIe Base). */
#define SIM_PCI_VENDOR_ID	0x00
#define SIM_PCI_DEVICE_ID	0x02
#define SIM_PCI_COMMAND		0x04
#define  SIM_PCI_COMMAND_MEMORY		(1u << 1)
#define  SIM_PCI_COMMAND_MASTER		(1u << 2)
#define  SIM_PCI_COMMAND_PARITY		(1u << 6)
#define  SIM_PCI_COMMAND_SERR		(1u << 8)
#define  SIM_PCI_COMMAND_INTX_DISABLE	(1u << 10)
#define SIM_PCI_STATUS		0x06
#define  SIM_PCI_STATUS_CAP_LIST	(1u << 4)
#define SIM_PCI_REVISION_ID	0x08
#define SIM_PCI_CLASS_PROG	0x09
#define SIM_PCI_CACHE_LINE_SIZE	0x0C
#define SIM_PCI_HEADER_TYPE	0x0E
#define  SIM_PCI_HEADER_MULTIFUNCTION	0x80
#define SIM_PCI_BAR0		0x10
#define  SIM_PCI_BAR_MEM_64		(2u << 1)
#define  SIM_PCI_BAR_PREFETCH		(1u << 3)
#define SIM_PCI_SUBSYS_VENDOR_ID 0x2C
#define SIM_PCI_SUBSYS_ID	0x2E
#define SIM_PCI_ROM_ADDRESS	0x30
#define SIM_PCI_CAP_PTR		0x34
#define SIM_PCI_INTERRUPT_LINE	0x3C
#define SIM_PCI_INTERRUPT_PIN	0x3D

#define SIM_PCI_CAP_ID_PM	0x01
#define SIM_PCI_CAP_ID_MSI	0x05
#define SIM_PCI_CAP_ID_MSIX	0x11

#define SIM_PCI_MSI_FLAGS	0x02
#define  SIM_PCI_MSI_FLAGS_ENABLE	(1u << 0)
#define  SIM_PCI_MSI_FLAGS_QMASK	(7u << 1)	/* Multiple Message Capable */
#define  SIM_PCI_MSI_FLAGS_QSIZE	(7u << 4)	/* Multiple Message Enable */
#define  SIM_PCI_MSI_FLAGS_64BIT	(1u << 7)
#define  SIM_PCI_MSI_FLAGS_MASKBIT	(1u << 8)
#define SIM_PCI_MSI_ADDRESS_LO	0x04
#define SIM_PCI_MSI_ADDRESS_HI	0x08	/* 64-bit only */
#define SIM_PCI_MSI_DATA_32	0x08
#define SIM_PCI_MSI_MASK_32	0x0C
#define SIM_PCI_MSI_PENDING_32	0x10
#define SIM_PCI_MSI_DATA_64	0x0C
#define SIM_PCI_MSI_MASK_64	0x10
#define SIM_PCI_MSI_PENDING_64	0x14

#define SIM_PCI_MSIX_FLAGS	0x02
#define  SIM_PCI_MSIX_FLAGS_QSIZE	0x07FFu
#define  SIM_PCI_MSIX_FLAGS_MASKALL	(1u << 14)
#define  SIM_PCI_MSIX_FLAGS_ENABLE	(1u << 15)
#define SIM_PCI_MSIX_TABLE	0x04
#define SIM_PCI_MSIX_PBA	0x08
#define  SIM_PCI_MSIX_BIR_MASK		7u
#define SIM_PCI_MSIX_ENTRY_SIZE	16
#define  SIM_PCI_MSIX_ENTRY_ADDR_LO	0x0
#define  SIM_PCI_MSIX_ENTRY_ADDR_HI	0x4
#define  SIM_PCI_MSIX_ENTRY_DATA	0x8
#define  SIM_PCI_MSIX_ENTRY_CTRL	0xC
#define  SIM_PCI_MSIX_ENTRY_CTRL_MASK	(1u << 0)
#define SIM_PCI_MSIX_MAX_ENTRIES 2048

/* Identifiers of the simulator's own device models (sim_ims.h, sim_ntb.h). */
#define SIM_PCI_VENDOR_SIM		0x5349	/* made up: "SI" */
#define SIM_PCI_DEVICE_IMS_SLOTS	0x0001
#define SIM_PCI_DEVICE_IMS_QUEUE	0x0002
#define SIM_PCI_DEVICE_NTB		0x0003

struct sim_pci_bus;
struct sim_pci_dev;

/* ---- Bus (one PCI segment) ------------------------------------------------ */

/*
 * Create PCI segment @segment with buses 0..@nr_buses-1 (1..256).  The first
 * segment created on a machine installs the machine's PCI configuration
 * handler (sim_set_pci_cfg_handler); later segments chain to it.  @ecam_base
 * (1 MiB aligned) maps an ECAM window of @nr_buses MiB; 0 = no ECAM window.
 * Freed with the machine.  NULL on bad arguments, a duplicate segment, an
 * ECAM overlap, or a foreign configuration handler already installed.
 */
struct sim_pci_bus *sim_pci_bus_create(struct sim_machine *m, uint16_t segment,
				       uint64_t ecam_base, unsigned int nr_buses);
struct sim_machine *sim_pci_bus_machine(const struct sim_pci_bus *bus);
uint16_t sim_pci_bus_segment(const struct sim_pci_bus *bus);
/* The present function at @bdf, or NULL. */
struct sim_pci_dev *sim_pci_bus_dev(struct sim_pci_bus *bus, uint16_t bdf);

/* ---- Functions ---------------------------------------------------------------- */

enum sim_pci_bar_type {
	SIM_PCI_BAR_NONE = 0,
	SIM_PCI_BAR_MEM32,
	SIM_PCI_BAR_MEM64,	/* uses this BAR and the next one */
};

struct sim_pci_bar_config {
	enum sim_pci_bar_type type;
	bool prefetchable;
	uint64_t size;		/* power of two, >= 16 (MEM32: <= 2 GiB) */
	uint64_t addr;		/* assigned by "firmware"; size-aligned (MEM32: < 4 GiB) */
};

/*
 * A device model owning the parts of its BARs that are not the MSI-X table
 * or PBA.  Called with no simulator lock held (the hook may raise vectors,
 * master writes, schedule events).  @offset is relative to the BAR's base;
 * @size is 1, 2, 4 or 8.
 */
struct sim_pci_bar_ops {
	uint64_t (*read)(void *opaque, unsigned int bar, uint64_t offset, unsigned int size);
	void (*write)(void *opaque, unsigned int bar, uint64_t offset, uint64_t value,
		      unsigned int size);
};

struct sim_pci_dev_config {
	uint16_t vendor_id;		/* must not be 0xFFFF */
	uint16_t device_id;
	uint8_t revision;
	uint32_t class_code;		/* base << 16 | subclass << 8 | prog-if */
	uint16_t subsys_vendor_id;
	uint16_t subsys_id;
	uint8_t interrupt_pin;		/* 0 (none) .. 4; INTx itself is not modelled */
	uint16_t command;		/* command register as firmware left it (rw bits only) */
	struct sim_pci_bar_config bars[6];

	bool pm;			/* a Power Management capability (first in the list) */
	uint8_t pm_cap_offset;		/* 0 = automatic */

	bool msi;
	unsigned int msi_mmc_log2;	/* Multiple Message Capable: 0..5 (1..32 vectors) */
	bool msi_64bit;
	bool msi_maskable;		/* per-vector masking (Mask + Pending Bits) */
	uint8_t msi_cap_offset;		/* 0 = automatic */

	/*
	 * MSI-X.  BIR and offsets are taken as given (BIR 6/7 or a table
	 * beyond its BAR make a malformed but legal-to-build device); offsets
	 * must be 8-byte aligned.
	 */
	bool msix;
	unsigned int msix_table_size;	/* entries, 1..2048 */
	unsigned int msix_table_bir;	/* 0..7 */
	uint32_t msix_table_offset;
	unsigned int msix_pba_bir;	/* 0..7 */
	uint32_t msix_pba_offset;
	uint8_t msix_cap_offset;	/* 0 = automatic */

	const struct sim_pci_bar_ops *bar_ops;	/* NULL: the rest of each BAR reads 0 */
	void *bar_opaque;
};

/*
 * Plug a function in at @bdf (the slot must be free; re-plugging after
 * sim_pci_dev_destroy() is allowed).  Configuration space comes out of
 * reset except for what firmware set: BAR addresses and @command.  NULL on
 * bad configuration (non power-of-two BAR, misaligned address, overlapping
 * capabilities, ...) or an occupied slot.
 */
struct sim_pci_dev *sim_pci_dev_create(struct sim_pci_bus *bus, uint16_t bdf,
				       const struct sim_pci_dev_config *cfg);
/*
 * Unplug: the slot reads all-ones again, BARs stop decoding, raises are
 * dropped.  The object stays valid (inert) until the machine is destroyed.
 */
void sim_pci_dev_destroy(struct sim_pci_dev *dev);

bool sim_pci_dev_present(const struct sim_pci_dev *dev);
uint16_t sim_pci_dev_bdf(const struct sim_pci_dev *dev);
struct sim_machine *sim_pci_dev_machine(const struct sim_pci_dev *dev);
struct sim_pci_bus *sim_pci_dev_bus(const struct sim_pci_dev *dev);

/*
 * Raise MSI or MSI-X vector @vector (semantics above).  Any context, any
 * thread; never holds a simulator lock while the message is written.
 */
void sim_pci_dev_raise(struct sim_pci_dev *dev, unsigned int vector);

/*
 * For device models: a bus-master dword write by this function (requester
 * id = bdf), done only while Bus Master Enable is set and the function is
 * present.  Returns whether it was issued.
 */
bool sim_pci_dev_dma_write32(struct sim_pci_dev *dev, uint64_t addr, uint32_t value);
/* ... the same with another requester id (a proxy/alias, e.g. NTB). */
bool sim_pci_dev_dma_write32_as(struct sim_pci_dev *dev, uint16_t requester_id, uint64_t addr,
				uint32_t value);
bool sim_pci_dev_bus_master(struct sim_pci_dev *dev);
/* Where BAR @bar decodes right now; false if it does not decode. */
bool sim_pci_dev_bar_decoding(struct sim_pci_dev *dev, unsigned int bar, uint64_t *base);

/* ---- Test support: raw configuration access ------------------------------------ */

/*
 * Write configuration space bytes as they are, bypassing read-only and
 * rw1c semantics (to build malformed capabilities: bad BIR, table beyond the
 * BAR, capability-pointer loops, wrong IDs, ...).  Side effects follow as
 * for a normal write (BAR decode, pending delivery).  @size 1, 2 or 4, any
 * offset < 4096 (bytes beyond 4096 are dropped).
 */
void sim_pci_cfg_poke(struct sim_pci_dev *dev, uint16_t offset, unsigned int size,
		      uint32_t value);
/* Read configuration space without side effects. */
uint32_t sim_pci_cfg_peek(struct sim_pci_dev *dev, uint16_t offset, unsigned int size);
/* Where the capabilities were placed (0 if absent). */
uint8_t sim_pci_dev_msi_cap(const struct sim_pci_dev *dev);
uint8_t sim_pci_dev_msix_cap(const struct sim_pci_dev *dev);
uint8_t sim_pci_dev_pm_cap(const struct sim_pci_dev *dev);

/* ---- Test support: statistics and direct inspection --------------------------- */

struct sim_pci_stats {
	uint64_t raised;		/* sim_pci_dev_raise() calls */
	uint64_t sent;			/* messages written (at raise or later from pending) */
	uint64_t pending_set;		/* raises that found the vector masked */
	uint64_t dropped_disabled;	/* no MSI/MSI-X enabled, or function unplugged */
	uint64_t dropped_no_bus_master;	/* Bus Master Enable clear */
	uint64_t dropped_bad_vector;	/* MSI-X entry >= table size */
	uint64_t bar_conflicts;		/* BAR decode refused: range overlapped (device only) */
};
void sim_pci_dev_stats(struct sim_pci_dev *dev, struct sim_pci_stats *out);
/*
 * Per vector: MSI-X table entry, or MSI vector after sharing (k >= N counts
 * at N - 1).  A raise dropped before a vector is resolved counts at the
 * vector as passed (if < the per-vector array: max(32, table size)).
 */
void sim_pci_dev_vector_stats(struct sim_pci_dev *dev, unsigned int vector,
			      struct sim_pci_stats *out);

/* The last message this function sent (false if none yet). */
bool sim_pci_dev_last_msg(struct sim_pci_dev *dev, uint64_t *addr, uint32_t *data);

struct sim_pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};
/* MSI-X table entry @index as stored (false if beyond the table). */
bool sim_pci_msix_entry(struct sim_pci_dev *dev, unsigned int index,
			struct sim_pci_msix_entry *out);
bool sim_pci_msix_pending(struct sim_pci_dev *dev, unsigned int index);
/* MSI Mask Bits / Pending Bits registers (0 if the capability has none). */
uint32_t sim_pci_msi_mask_bits(struct sim_pci_dev *dev);
uint32_t sim_pci_msi_pending_bits(struct sim_pci_dev *dev);

#endif /* IKSIM_SIM_PCI_H */
