/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A VT-d-style interrupt-remapping unit (Intel Virtualization Technology
 * for Directed I/O, Architecture Specification: chapter 5 "Interrupt
 * Remapping", 6.5 "Invalidation", 7 "Fault Handling", 9.9/9.10 IRTE
 * formats, 11 "Register Descriptions").  Only interrupt remapping is
 * modelled: no DMA translation, no posted interrupts, xAPIC destinations
 * only (no EIM), 128-bit invalidation descriptors only.
 *
 * ---- Register file (4 KiB at the unit's base, default 0xFED90000) --------
 *
 * Offsets and layouts are the specification's.  32-bit registers take 4-byte
 * accesses, 64-bit registers 8-byte accesses or two 4-byte halves; other
 * sizes or misaligned accesses read 0 and are dropped.  Unlisted offsets
 * read 0.
 *
 *   0x000 VER     (32, ro)  0x10: version 1.0
 *   0x008 CAP     (64, ro)  ND = 2, SAGAW = 39-bit, MGAW = 38, FRO = 0x22
 *                            (fault recording at 0x220), NFR = records - 1
 *   0x010 ECAP    (64, ro)  QI (bit 1), IR (bit 3), IRO = 0x10 (IOTLB regs
 *                            at 0x100, read 0), MHMV (bits 23:20)
 *   0x018 GCMD    (32, wo)  31 TE (ignored: no DMA remapping), 30 SRTP,
 *                            29 SFL, 27 WBF (one-shot, status only),
 *                            26 QIE, 25 IRE, 24 SIRTP, 23 CFI.  Reads 0.
 *                            A write is a command: the persistent bits
 *                            (TE, QIE, IRE, CFI) take the written value,
 *                            a one-shot bit (SRTP, SFL, WBF, SIRTP) written
 *                            as 1 runs once.  Software must change one
 *                            thing per write (read GSTS, mask the one-shot
 *                            status bits, set or clear one bit); writes
 *                            that change more than one are carried out
 *                            but counted (gcmd_multi).
 *   0x01C GSTS    (32, ro)  31 TES (0), 30 RTPS, 29 FLS, 27 WBFS, 26 QIES,
 *                            25 IRES, 24 IRTPS, 23 CFIS.  Commands complete
 *                            at once.
 *   0x020 RTADDR  (64, rw)  stored, unused
 *   0x028 CCMD    (64, rw)  ICC (bit 63) reads back clear
 *   0x034 FSTS    (32)      0 PFO (rw1c), 1 PPF (ro: some FRCD has F set),
 *                            4 IQE (rw1c), 5 ICE, 6 ITE (rw1c, never set),
 *                            15:8 FRI (ro: oldest pending record)
 *   0x038 FECTL   (32)      31 IM (rw, 1 after reset), 30 IP (ro)
 *   0x03C FEDATA  (32)      bits 15:0 rw
 *   0x040 FEADDR  (32)      bits 31:2 rw
 *   0x044 FEUADDR (32)      rw
 *   0x080 IQH     (64, ro)  bits 18:4: next descriptor the unit fetches
 *   0x088 IQT     (64)      bits 18:4 rw: a write with QIES set makes the
 *                            unit process IQH..IQT, qi_delay ticks later
 *   0x090 IQA     (64)      63:12 base (4 KiB aligned), 2:0 QS: the queue
 *                            holds 256 << QS descriptors of 16 bytes
 *   0x09C ICS     (32)      0 IWC (rw1c)
 *   0x0A0 IECTL   (32)      31 IM (rw, 1 after reset), 30 IP (ro)
 *   0x0A4 IEDATA / 0x0A8 IEADDR / 0x0AC IEUADDR: as FEDATA/FEADDR/FEUADDR
 *   0x0B0 IQERCD  (64, ro)  3:0 IQEI of the last queue error
 *   0x0B8 IRTA    (64, rw)  63:12 table address, 11 EIME (ignored: no EIM),
 *                            3:0 S: the table has 2^(S+1) entries.
 *                            Takes effect only through GCMD.SIRTP.
 *   0x220 + 16*i FRCD[i] (128 = two 64-bit registers, i < NFR + 1):
 *            low  63:48 FI = interrupt index of the faulting request
 *                 (0 for compatibility-format requests), 47:0 0
 *            high 15:0 SID = requester id, 39:32 FR = fault reason,
 *                 62 T = 0 (interrupt requests are writes), 63 F (rw1c)
 *
 * ---- Interrupt requests ---------------------------------------------------
 *
 * Once created, the unit interposes on every bus-master write to
 * 0xFEE00000-0xFEEFFFFF (sim_dma_write32()):
 *  - IRES clear: the message goes on untranslated (the machine decodes it;
 *    a remappable-format message then counts SIM_STAT_MSI_BAD_FORMAT).
 *  - Compatibility format (address bit 4 clear): passed on if CFIS is set,
 *    else blocked with fault 0x25.
 *  - Remappable format: handle = address bits 19:5, handle[15] = address
 *    bit 2; SHV = address bit 3; index = handle + data[15:0] if SHV, else
 *    handle.  Blocked with fault 0x20 if data bits 31:16 are set, 0x23 if no
 *    table pointer was ever latched, 0x21 if index >= table size, 0x22 if the
 *    IRTE is not present, 0x24 if a present IRTE has reserved bits set
 *    (including IM = 1, posted, which is not supported; SVT = 3; delivery
 *    mode 3 or 6), 0x26 if source-id validation fails.  Otherwise the IRTE's
 *    destination, vector, destination mode, redirection hint, trigger and
 *    delivery mode are delivered as a compatibility-format message.
 *  - Source-id validation (IRTE high SVT/SQ/SID): SVT 0 none; SVT 1 compare
 *    the requester id with SID, SQ 0 all 16 bits, SQ 1 ignoring bit 2,
 *    SQ 2 ignoring bits 2:1, SQ 3 ignoring bits 2:0 (the function);
 *    SVT 2 the requester's bus must lie in [SID[15:8], SID[7:0]].
 *
 * Interrupt entry cache: a present IRTE read from memory is cached by
 * index, and later requests use the cached copy until an interrupt-entry-
 * cache invalidation (global, or index-selective covering the index)
 * drops it.  Nothing else refreshes it -- not SIRTP, not IRE, not time --
 * so software that changes an IRTE without invalidating keeps getting the
 * old translation (counted as stale_hits: a hit whose cached copy differs
 * from memory).  Non-present entries are never cached.
 *
 * Faults: every blocked request is recorded (primary fault logging) unless
 * its IRTE has FPD set (faults_suppressed) or the records overflow: a
 * record is written at the unit's next record index if that record's F is
 * clear, else PFO is set and the fault is lost (faults_lost); with PFO set
 * nothing more is recorded until software clears it.  A fault event is
 * generated when PPF goes 0 -> 1, PFO goes 0 -> 1 or IQE is set: with
 * FECTL.IM clear the message FEUADDR:FEADDR / FEDATA is sent at once as a
 * compatibility-format interrupt (never remapped); with IM set IP is set
 * and the message is sent when IM is cleared (IP clears when the status
 * conditions are all cleared first).  A blocked request is never
 * delivered.
 *
 * ---- Queued invalidation ----------------------------------------------------
 *
 * Descriptors (128-bit, low qword first):
 *   type 1, 2, 3 (context, IOTLB, device-TLB): accepted, nothing to do
 *   type 4 IEC: 4 G (0 global, 1 index-selective), 31:27 IM, 47:32 IIDX;
 *     index-selective drops entries IIDX with the low IM bits ignored.
 *     Reserved bits (8:5, 26:12, 63:48, high qword) or IM > MHMV: IQE.
 *   type 5 wait: 4 IF (set ICS.IWC, completion event), 5 SW (write the
 *     32-bit status data 63:32 to the status address, high qword 63:2),
 *     6 FN (fence: implied, descriptors complete in order).  Reserved bits
 *     (8, 31:12, high 1:0): IQE.
 *   any other type: IQE.
 * On IQE the unit stops with IQH at the bad descriptor (IQERCD.IQEI = 3
 * bad type, 4 reserved field) until software clears FSTS.IQE.  Descriptors
 * before a wait complete before its status write.
 *
 * ---- Concurrency ------------------------------------------------------------
 *
 * One mutex per unit, never held while a message, a status write or a
 * fault event is sent or an event is scheduled.  The unit is freed with the
 * machine.
 */
#ifndef IKSIM_SIM_VTD_H
#define IKSIM_SIM_VTD_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define SIM_VTD_DEFAULT_BASE 0xFED90000ull
#define SIM_VTD_SIZE 0x1000ull

/* Register offsets. */
#define SIM_VTD_VER		0x000
#define SIM_VTD_CAP		0x008
#define SIM_VTD_ECAP		0x010
#define SIM_VTD_GCMD		0x018
#define SIM_VTD_GSTS		0x01C
#define SIM_VTD_RTADDR		0x020
#define SIM_VTD_CCMD		0x028
#define SIM_VTD_FSTS		0x034
#define SIM_VTD_FECTL		0x038
#define SIM_VTD_FEDATA		0x03C
#define SIM_VTD_FEADDR		0x040
#define SIM_VTD_FEUADDR		0x044
#define SIM_VTD_IQH		0x080
#define SIM_VTD_IQT		0x088
#define SIM_VTD_IQA		0x090
#define SIM_VTD_ICS		0x09C
#define SIM_VTD_IECTL		0x0A0
#define SIM_VTD_IEDATA		0x0A4
#define SIM_VTD_IEADDR		0x0A8
#define SIM_VTD_IEUADDR		0x0AC
#define SIM_VTD_IQERCD		0x0B0
#define SIM_VTD_IRTA		0x0B8
#define SIM_VTD_FRCD		0x220	/* + 16 * record */

/* CAP / ECAP fields. */
#define SIM_VTD_CAP_FRO_SHIFT	24
#define SIM_VTD_CAP_NFR_SHIFT	40
#define SIM_VTD_ECAP_QI		(1ull << 1)
#define SIM_VTD_ECAP_IR		(1ull << 3)
#define SIM_VTD_ECAP_EIM	(1ull << 4)
#define SIM_VTD_ECAP_MHMV_SHIFT	20

/* GCMD / GSTS bits. */
#define SIM_VTD_GCMD_TE		(1u << 31)
#define SIM_VTD_GCMD_SRTP	(1u << 30)
#define SIM_VTD_GCMD_SFL	(1u << 29)
#define SIM_VTD_GCMD_WBF	(1u << 27)
#define SIM_VTD_GCMD_QIE	(1u << 26)
#define SIM_VTD_GCMD_IRE	(1u << 25)
#define SIM_VTD_GCMD_SIRTP	(1u << 24)
#define SIM_VTD_GCMD_CFI	(1u << 23)
#define SIM_VTD_GSTS_TES	SIM_VTD_GCMD_TE
#define SIM_VTD_GSTS_RTPS	SIM_VTD_GCMD_SRTP
#define SIM_VTD_GSTS_FLS	SIM_VTD_GCMD_SFL
#define SIM_VTD_GSTS_WBFS	SIM_VTD_GCMD_WBF
#define SIM_VTD_GSTS_QIES	SIM_VTD_GCMD_QIE
#define SIM_VTD_GSTS_IRES	SIM_VTD_GCMD_IRE
#define SIM_VTD_GSTS_IRTPS	SIM_VTD_GCMD_SIRTP
#define SIM_VTD_GSTS_CFIS	SIM_VTD_GCMD_CFI

/* FSTS, FECTL, ICS. */
#define SIM_VTD_FSTS_PFO	(1u << 0)
#define SIM_VTD_FSTS_PPF	(1u << 1)
#define SIM_VTD_FSTS_IQE	(1u << 4)
#define SIM_VTD_FSTS_ICE	(1u << 5)
#define SIM_VTD_FSTS_ITE	(1u << 6)
#define SIM_VTD_FSTS_FRI_SHIFT	8
#define SIM_VTD_FECTL_IM	(1u << 31)
#define SIM_VTD_FECTL_IP	(1u << 30)
#define SIM_VTD_ICS_IWC		(1u << 0)

/* FRCD high qword. */
#define SIM_VTD_FRCD_HI_F	(1ull << 63)
#define SIM_VTD_FRCD_HI_FR_SHIFT 32
#define SIM_VTD_FRCD_LO_FI_SHIFT 48

/* IRTA. */
#define SIM_VTD_IRTA_EIME	(1ull << 11)
#define SIM_VTD_IRTA_S_MASK	0xFull

/* IRTE (remapped format), low qword. */
#define SIM_VTD_IRTE_P		(1ull << 0)
#define SIM_VTD_IRTE_FPD	(1ull << 1)
#define SIM_VTD_IRTE_DM		(1ull << 2)	/* 1 = logical */
#define SIM_VTD_IRTE_RH		(1ull << 3)
#define SIM_VTD_IRTE_TM		(1ull << 4)	/* 1 = level */
#define SIM_VTD_IRTE_DLM_SHIFT	5		/* 3 bits */
#define SIM_VTD_IRTE_IM		(1ull << 15)	/* 1 = posted (not supported) */
#define SIM_VTD_IRTE_VECTOR_SHIFT 16
#define SIM_VTD_IRTE_DST_SHIFT	32		/* xAPIC: APIC ID in bits 47:40 */
#define SIM_VTD_IRTE_XAPIC_DST_SHIFT 40
/* IRTE high qword. */
#define SIM_VTD_IRTE_SID_MASK	0xFFFFull
#define SIM_VTD_IRTE_SQ_SHIFT	16
#define SIM_VTD_IRTE_SVT_SHIFT	18
#define SIM_VTD_SVT_NONE	0u
#define SIM_VTD_SVT_SID		1u
#define SIM_VTD_SVT_BUS		2u

/* Remappable-format message address. */
#define SIM_VTD_MSI_FORMAT	(1u << 4)
#define SIM_VTD_MSI_SHV		(1u << 3)
#define SIM_VTD_MSI_HANDLE15	(1u << 2)
#define SIM_VTD_MSI_HANDLE_SHIFT 5
static inline uint32_t sim_vtd_msi_addr(unsigned int handle, bool shv)
{
	return 0xFEE00000u | (handle & 0x7FFFu) << SIM_VTD_MSI_HANDLE_SHIFT |
	       ((handle >> 15) & 1u) << 2 | SIM_VTD_MSI_FORMAT | (shv ? SIM_VTD_MSI_SHV : 0);
}

/* Invalidation descriptors (low qword). */
#define SIM_VTD_DESC_IEC	4u
#define SIM_VTD_DESC_WAIT	5u
#define SIM_VTD_IEC_G_INDEX	(1ull << 4)
#define SIM_VTD_IEC_IM_SHIFT	27
#define SIM_VTD_IEC_IIDX_SHIFT	32
#define SIM_VTD_WAIT_IF		(1ull << 4)
#define SIM_VTD_WAIT_SW		(1ull << 5)
#define SIM_VTD_WAIT_FN		(1ull << 6)
#define SIM_VTD_WAIT_DATA_SHIFT	32

/* Fault reasons (interrupt remapping). */
enum sim_vtd_fault_reason {
	SIM_VTD_FR_RESERVED_REQUEST = 0x20,	/* reserved bits in the request */
	SIM_VTD_FR_INDEX = 0x21,		/* index beyond the table */
	SIM_VTD_FR_NOT_PRESENT = 0x22,
	SIM_VTD_FR_TABLE = 0x23,		/* no table pointer latched */
	SIM_VTD_FR_RESERVED_IRTE = 0x24,	/* reserved bits in a present IRTE */
	SIM_VTD_FR_COMPAT = 0x25,		/* compatibility format blocked */
	SIM_VTD_FR_SOURCE_ID = 0x26,		/* source-id validation failed */
};
#define SIM_VTD_FR_FIRST 0x20
#define SIM_VTD_NR_FR 7

#define SIM_VTD_MAX_FAULT_RECORDS 32
#define SIM_VTD_MAX_ENTRIES 65536u

struct sim_vtd_config {
	uint64_t base;			/* 4 KiB aligned; 0 = SIM_VTD_DEFAULT_BASE */
	unsigned int nr_fault_records;	/* 1..SIM_VTD_MAX_FAULT_RECORDS; 0 = 8 */
	bool mhmv_given;		/* else MHMV = 15 */
	unsigned int mhmv;		/* 0..15 */
	unsigned int qi_delay;		/* ticks from an IQT write to processing; 0 = in the write */
	bool no_ir, no_qi;		/* clear ECAP.IR / ECAP.QI (the unit then ignores IRE / QIE) */
};

struct sim_vtd;

/*
 * Create the unit, map its registers and interpose on interrupt messages.
 * One unit per machine.  NULL on bad configuration, an overlapping region
 * or an interposer already installed.  Freed with the machine.
 */
struct sim_vtd *sim_vtd_create(struct sim_machine *m, const struct sim_vtd_config *cfg);

/* ---- Test support: statistics and inspection ------------------------------ */

struct sim_vtd_stats {
	uint64_t requests;		/* interrupt messages seen */
	uint64_t remapped;		/* translated and passed to the LAPICs */
	uint64_t passed;		/* passed on untranslated (IRES clear, or CFIS set) */
	uint64_t blocked;		/* never delivered */
	uint64_t blocked_by_reason[SIM_VTD_NR_FR];	/* [reason - SIM_VTD_FR_FIRST] */
	uint64_t faults_recorded;	/* written to a fault recording register */
	uint64_t faults_suppressed;	/* blocked, not recorded: the IRTE has FPD */
	uint64_t faults_lost;		/* blocked, not recorded: records full (PFO) */
	uint64_t fault_events;		/* fault-event messages sent */
	uint64_t cache_hits;
	uint64_t cache_misses;		/* IRTE read from memory */
	uint64_t stale_hits;		/* hits whose cached IRTE differs from memory */
	uint64_t iec_global;		/* IEC invalidations processed */
	uint64_t iec_selective;
	uint64_t waits;			/* wait descriptors processed */
	uint64_t status_writes;
	uint64_t completion_events;	/* invalidation-completion messages sent */
	uint64_t descriptors;		/* descriptors processed */
	uint64_t queue_errors;		/* IQE raised */
	uint64_t gcmd_writes;
	uint64_t gcmd_multi;		/* GCMD writes that changed more than one thing */
};
void sim_vtd_get_stats(struct sim_vtd *u, struct sim_vtd_stats *out);

/* IRTE @index of the latched table, read from memory; false if none. */
bool sim_vtd_irte(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi);
/* The interrupt entry cache's copy of IRTE @index; false if not cached. */
bool sim_vtd_cached(struct sim_vtd *u, unsigned int index, uint64_t *lo, uint64_t *hi);
/* Entries of the latched table (0 if no table pointer was latched). */
unsigned int sim_vtd_table_entries(struct sim_vtd *u);
/* Present entries of the latched table (a scan of memory). */
unsigned int sim_vtd_present_entries(struct sim_vtd *u);

/* What the unit did, in order (the first SIM_VTD_LOG_MAX events are kept). */
enum sim_vtd_log_kind {
	SIM_VTD_LOG_GCMD,	/* a = value written, b = GSTS afterwards */
	SIM_VTD_LOG_IEC,	/* a = 0 global / 1 index-selective, b = IIDX | IM << 16 */
	SIM_VTD_LOG_WAIT,	/* a = status data, b = status address (0 without SW) */
	SIM_VTD_LOG_FAULT,	/* a = reason, b = requester id | index << 16 */
	SIM_VTD_LOG_QUEUE_ERROR,/* a = IQEI, b = IQH */
};
struct sim_vtd_log_entry {
	enum sim_vtd_log_kind kind;
	uint64_t a, b;
	uint64_t when;		/* sim_now() */
};
#define SIM_VTD_LOG_MAX 4096
/* Copies up to @max entries; returns the number of events logged so far. */
unsigned int sim_vtd_log(struct sim_vtd *u, struct sim_vtd_log_entry *out, unsigned int max);

#endif /* IKSIM_SIM_VTD_H */
