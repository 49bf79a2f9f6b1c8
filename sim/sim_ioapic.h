/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An I/O APIC (Intel 82093AA datasheet; version 0x20 adds the EOI
 * register), with the remappable redirection-entry format of the VT-d
 * specification (5.1.5.1 "I/OxAPIC Programming").
 *
 * ---- Registers ----------------------------------------------------------------
 *
 * MMIO at the base (default 0xFEC00000), 32-bit accesses only:
 *   0x00 IOREGSEL  bits 7:0 select the indirect register
 *   0x10 IOWIN     the selected register
 *   0x40 EOI       write: a vector; every level-triggered entry whose vector
 *                  field equals it has Remote IRR cleared (directed EOI)
 * Indirect registers:
 *   0x00 ID   27:24 (rw)        0x01 VER  7:0 = 0x20, 23:16 = entries - 1 (ro)
 *   0x02 ARB  27:24 (ro, = ID)
 *   0x10 + 2n  RTE n low:  7:0 vector, 10:8 delivery mode, 11 destination
 *              mode, 12 delivery status (ro, 0: messages go out at once),
 *              13 polarity (1 = active low), 14 Remote IRR (ro), 15 trigger
 *              mode (1 = level), 16 mask (1 after reset)
 *   0x11 + 2n  RTE n high: 31:24 destination (xAPIC)
 * Remappable format (high bit 16 = RTE bit 48 set): high 31:17 = index
 * 14:0, low bit 11 = index 15; the vector field is kept by software equal
 * to the pin (it is what the EOI register compares); the other fields
 * are as above.
 *
 * ---- Inputs and messages ------------------------------------------------------
 *
 * Input lines are set with sim_ioapic_set_line() (logical level: asserted
 * or not; the polarity bit only tells software how the wire is wired).
 *  - Edge entries: a 0 -> 1 transition sends one message if the entry is
 *    unmasked; while masked it is ignored (not held pending, as on the
 *    82093AA) and counted as masked_drops.
 *  - Level entries: while the line is asserted, the entry unmasked and
 *    Remote IRR clear, a message is sent and Remote IRR set.  Remote IRR
 *    is cleared by an EOI for the entry's vector: the EOI register
 *    (directed EOI), or a local APIC's broadcast EOI -- every LAPIC EOI
 *    that retires a level-triggered vector (TMR bit set) is broadcast to
 *    every I/O APIC of the machine unless that LAPIC has EOI-broadcast
 *    suppression on (SVR bit 12; the LAPIC reports the capability in its
 *    version register, bit 24).  A broadcast matches on the vector alone,
 *    whatever CPU the entry targets (as on the hardware);
 *    a line still asserted then delivers again.  Unmasking an asserted
 *    line with Remote IRR clear delivers.
 * Messages are bus-master writes with the I/O APIC's requester id
 * (default 0xF0F8 = f0:1f.0, the DMAR device scope's IOAPIC entry), so
 * interrupt remapping checks them: compatibility format address
 * 0xFEE00000 | dest << 12 | DM << 2, data vector | delivery << 8 | (level:
 * bits 15 and 14); remappable format address 0xFEE00000 | index[14:0] << 5
 * | 1 << 4 | index[15] << 2 (SHV clear), data as above.
 *
 * One mutex per I/O APIC, never held while a message is sent.  Freed with
 * the machine.
 */
#ifndef IKSIM_SIM_IOAPIC_H
#define IKSIM_SIM_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define SIM_IOAPIC_DEFAULT_BASE 0xFEC00000ull
#define SIM_IOAPIC_SIZE 0x1000ull
#define SIM_IOAPIC_DEFAULT_RID 0xF0F8u
#define SIM_IOAPIC_MAX_PINS 240u

#define SIM_IOAPIC_IOREGSEL	0x00
#define SIM_IOAPIC_IOWIN	0x10
#define SIM_IOAPIC_EOI		0x40
#define SIM_IOAPIC_REG_ID	0x00
#define SIM_IOAPIC_REG_VER	0x01
#define SIM_IOAPIC_REG_ARB	0x02
#define SIM_IOAPIC_REG_RTE(n)	(0x10 + 2 * (n))
#define SIM_IOAPIC_VERSION	0x20u

#define SIM_IOAPIC_RTE_DM_LOGICAL	(1u << 11)
#define SIM_IOAPIC_RTE_DELIVS		(1u << 12)
#define SIM_IOAPIC_RTE_POLARITY_LOW	(1u << 13)
#define SIM_IOAPIC_RTE_REMOTE_IRR	(1u << 14)
#define SIM_IOAPIC_RTE_LEVEL		(1u << 15)
#define SIM_IOAPIC_RTE_MASK		(1u << 16)
#define SIM_IOAPIC_RTE_HI_REMAP		(1u << 16)	/* bit 48 */
#define SIM_IOAPIC_RTE_HI_INDEX_SHIFT	17		/* bits 63:49 */
#define SIM_IOAPIC_RTE_LO_INDEX15	(1u << 11)

struct sim_ioapic_config {
	uint64_t base;			/* 4 KiB aligned; 0 = default */
	unsigned int nr_pins;		/* 1..240; 0 = 24 */
	uint8_t id;			/* initial ID */
	bool rid_given;
	uint16_t requester_id;		/* else SIM_IOAPIC_DEFAULT_RID */
};

struct sim_ioapic;

struct sim_ioapic *sim_ioapic_create(struct sim_machine *m, const struct sim_ioapic_config *cfg);
/* Drive input @pin (asserted or not).  Any thread. */
void sim_ioapic_set_line(struct sim_ioapic *io, unsigned int pin, bool asserted);
/* An edge: assert then deassert. */
void sim_ioapic_pulse(struct sim_ioapic *io, unsigned int pin);
/* A broadcast EOI for @vector (what a local APIC sends for a level vector). */
void sim_ioapic_eoi(struct sim_ioapic *io, unsigned int vector);
/*
 * The local APIC's EOI broadcast: sim_ioapic_eoi() on every I/O APIC of
 * @m (at most 16).  sim/lapic.c calls it for an EOI that retires a
 * level-triggered vector (TMR set) unless the LAPIC's SVR bit 12 (EOI
 * broadcast suppression; supported: version register bit 24) is set.
 */
void sim_ioapic_broadcast_eoi(struct sim_machine *m, unsigned int vector);

struct sim_ioapic_pin_stats {
	uint64_t sent;		/* messages sent */
	uint64_t masked_drops;	/* edges ignored while masked */
	uint64_t eois;		/* Remote IRR cleared by an EOI */
	uint64_t coalesced;	/* level assertions with Remote IRR already set */
};
void sim_ioapic_pin_stats(struct sim_ioapic *io, unsigned int pin, struct sim_ioapic_pin_stats *out);
/* The redirection entry as software would read it. */
uint64_t sim_ioapic_rte(struct sim_ioapic *io, unsigned int pin);

#endif /* IKSIM_SIM_IOAPIC_H */
