/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An ITS-style interrupt translation service (modelled on the ARM GICv3
 * ITS: a doorbell that devices write event ids to, a device table, per-
 * device event tables in memory, a collection table, a command queue in
 * memory, LPIs whose configuration table in memory holds the enable bit).
 * Layouts are simplified where noted; this is the register reference the
 * library's src/arch/its/ is written from.
 *
 * ---- How LPIs reach the (x86) CPUs of this simulator ---------------------
 *
 * Each CPU has an "LPI interface" in the ITS frame (like a GIC
 * redistributor + CPU interface): a notification message (address, data)
 * the ITS writes as an ordinary MSI whenever an LPI targeted at that CPU
 * becomes pending and enabled, and an acknowledge register (IAR) that
 * returns the lowest pending, enabled LPI targeted at the CPU and clears
 * its pending bit (1023 = none).  Software demultiplexes: on the
 * notification vector it reads IAR until 1023 and handles each LPI.  There
 * is no active state and no EOI: an LPI that fires again while its handler
 * runs becomes pending again and is notified again.
 *
 * ---- Frame (SIM_ITS_SIZE bytes at the base, default 0xFE800000) -----------
 *
 * 32-bit registers take 4-byte accesses, 64-bit ones 8-byte accesses;
 * anything else reads 0 and is dropped.
 *
 *   0x0000 CTLR      (32, rw) bit 0 Enabled: translations are dropped (and
 *                              counted) while clear; commands run anyway
 *   0x0008 TYPER     (64, ro) 4:0 event id bits - 1 (15), 12:8 device id
 *                              bits - 1 (15), 23:16 collections - 1,
 *                              31:24 ITT entry size in bytes (8)
 *   0x0080 CBASER    (64, rw) 51:12 queue base (4 KiB aligned), 7:0 pages - 1,
 *                              63 Valid.  Writing it resets CREADR and
 *                              CWRITER to 0.
 *   0x0088 CWRITER   (64, rw) 19:5 offset of the next free command slot; a
 *                              write runs every command from CREADR up to it,
 *                              in the write (commands complete at once)
 *   0x0090 CREADR    (64, ro) 19:5 offset of the next command the ITS reads
 *   0x00A0 PROPBASER (64, rw) 51:12 LPI configuration table, 4:0 id bits - 1:
 *                              LPI ids are 8192 .. 2^(bits) - 1 (bits 14..17;
 *                              other values act as 14),
 *                              one byte per LPI at (id - 8192): bit 0 Enable,
 *                              7:2 priority (ignored).  Writing it drops the
 *                              cached configuration (everything disabled
 *                              until INV/INVALL).
 *   0x00C0 ERR       (32, ro) opcode << 8 | reason of the last bad command
 *   0x10040 TRANSLATER (32, wo) the doorbell: a device's write of the event
 *                              id, tagged with its requester id = device id
 *                              (reached through sim_dma_write32 only; CPU
 *                              writes are ignored)
 *   0x20000 + 0x100 * cpu: the CPU's LPI interface
 *            +0x00 NOTIFY_ADDR (32, rw)  +0x04 NOTIFY_DATA (32, rw)
 *            +0x08 NOTIFY_CTRL (32, rw) bit 0 enable
 *            +0x10 IAR         (32, ro) acknowledge (above)
 *
 * ---- Commands (32 bytes: four little-endian qwords DW0..DW3) --------------
 *
 *   DW0 7:0 opcode, 63:32 DeviceID; DW1 31:0 EventID, 63:32 LPI id;
 *   DW2 15:0 ICID, 50:16 target CPU, 63 Valid.
 *
 *   0x01 MOVI    device, event, ICID: the event's LPI now targets ICID
 *                (its pending state follows; it is notified there)
 *   0x03 INT     device, event: make the LPI pending (software retrigger)
 *   0x04 CLEAR   device, event: clear the LPI's pending state
 *   0x05 SYNC    target CPU: completes at once (every command before it has
 *                taken effect when CREADR passes it)
 *   0x08 MAPD    device; DW1 4:0 event id bits - 1 (the ITT has 2^(bits)
 *                entries of 8 bytes); DW2 51:8 ITT address, 63 Valid
 *                (Valid clear unmaps the device; its ITT is not touched)
 *   0x09 MAPC    DW2 ICID, target CPU, Valid
 *   0x0A MAPTI   device, event, LPI id, ICID
 *   0x0B MAPI    device, event, ICID: LPI id = event id
 *   0x0C INV     device, event: reload the LPI's configuration byte
 *   0x0D INVALL  ICID: reload the configuration of every LPI mapped to ICID
 *   0x0F DISCARD device, event: unmap the event, clear the LPI's pending state
 *
 *   A bad command (unknown opcode, device not mapped, event beyond the ITT,
 *   LPI id out of range, ICID beyond the collections) is skipped, recorded
 *   in ERR and counted (cmd_errors).
 *
 *   An ITT entry in memory is 63 Valid, 47:32 ICID, 31:0 LPI id; the ITS
 *   writes it on MAPTI/MAPI/MOVI/DISCARD and reads it on every translation.
 *   The device table and the collection table are internal to the ITS.
 *
 * ---- Translation ------------------------------------------------------------
 *
 * doorbell write (rid, event): ITS disabled -> dropped_disabled; device not
 * mapped (a device whose requester id has no MAPD) -> dropped_unmapped_device;
 * event beyond its ITT -> dropped_event_range; ITT entry invalid ->
 * dropped_unmapped_event; else the LPI becomes pending (already pending:
 * coalesced), and if its cached configuration is enabled and its collection
 * is mapped, the target CPU is notified.  An LPI whose cached enable bit is
 * clear stays pending and is notified when an INV/INVALL enables it.
 * Translations that use a cached byte differing from memory count as
 * stale_hits (a missing INV shows in tests).
 */
#ifndef IKSIM_SIM_ITS_H
#define IKSIM_SIM_ITS_H

#include "sim.h"

#define SIM_ITS_DEFAULT_BASE   0xFE800000ull
#define SIM_ITS_SIZE           0x40000ull

#define SIM_ITS_CTLR           0x0000
#define SIM_ITS_TYPER          0x0008
#define SIM_ITS_CBASER         0x0080
#define SIM_ITS_CWRITER        0x0088
#define SIM_ITS_CREADR         0x0090
#define SIM_ITS_PROPBASER      0x00A0
#define SIM_ITS_ERR            0x00C0
#define SIM_ITS_TRANSLATER     0x10040
#define SIM_ITS_CPU_BASE       0x20000
#define SIM_ITS_CPU_STRIDE     0x100
#define SIM_ITS_NOTIFY_ADDR    0x00
#define SIM_ITS_NOTIFY_DATA    0x04
#define SIM_ITS_NOTIFY_CTRL    0x08
#define SIM_ITS_IAR            0x10

#define SIM_ITS_LPI_BASE       8192u
#define SIM_ITS_LPI_NONE       1023u
#define SIM_ITS_MAX_ID_BITS    17u
#define SIM_ITS_EVENT_BITS     16u
#define SIM_ITS_NR_COLLECTIONS 64u

#define SIM_ITS_CMD_MOVI       0x01
#define SIM_ITS_CMD_INT        0x03
#define SIM_ITS_CMD_CLEAR      0x04
#define SIM_ITS_CMD_SYNC       0x05
#define SIM_ITS_CMD_MAPD       0x08
#define SIM_ITS_CMD_MAPC       0x09
#define SIM_ITS_CMD_MAPTI      0x0A
#define SIM_ITS_CMD_MAPI       0x0B
#define SIM_ITS_CMD_INV        0x0C
#define SIM_ITS_CMD_INVALL     0x0D
#define SIM_ITS_CMD_DISCARD    0x0F

struct sim_its;

struct sim_its_config {
	uint64_t base;          /* 0 = SIM_ITS_DEFAULT_BASE; SIM_ITS_SIZE aligned */
};

/*
 * Map the frame and install the doorbell as the machine's requester-id
 * window (sim_set_dma_rid_window).  NULL on bad config, overlap, or a window
 * already installed.  Freed with the machine.
 */
struct sim_its *sim_its_create(struct sim_machine *m, const struct sim_its_config *cfg);

struct sim_its_stats {
	uint64_t translations;          /* doorbell writes that set an LPI pending */
	uint64_t coalesced;             /* ... of which on an LPI already pending */
	uint64_t dropped_disabled;
	uint64_t dropped_unmapped_device;
	uint64_t dropped_event_range;
	uint64_t dropped_unmapped_event;
	uint64_t notifies;              /* notification messages written */
	uint64_t acks;                  /* LPIs returned by IAR */
	uint64_t commands;              /* commands run (bad ones included) */
	uint64_t cmd_errors;
	uint64_t invs;                  /* INV + INVALL */
	uint64_t syncs;
	uint64_t movis;
	uint64_t stale_hits;
};
void sim_its_get_stats(struct sim_its *its, struct sim_its_stats *out);

/* Inspection (tests). */
bool sim_its_lpi_pending(struct sim_its *its, uint32_t lpi);
bool sim_its_lpi_cached_enabled(struct sim_its *its, uint32_t lpi);
/* The device's ITT: false if @devid is not mapped. */
bool sim_its_device(struct sim_its *its, uint32_t devid, uint64_t *itt, unsigned int *event_bits);
/* The event's mapping (read from the ITT): false if none. */
bool sim_its_event(struct sim_its *its, uint32_t devid, uint32_t event, uint32_t *lpi,
		   unsigned int *icid);
/* The CPU a collection targets, or -1. */
int sim_its_collection_cpu(struct sim_its *its, unsigned int icid);

#endif /* IKSIM_SIM_ITS_H */
