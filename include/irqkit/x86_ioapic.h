/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x86 I/O APIC: a domain whose hwirq is the input pin, below interrupt
 * remapping when it is on, else directly below the vector domain:
 *
 *   without remapping  VECTOR -> IO-APIC-<name>
 *   with remapping     VECTOR -> INTEL-IR -> IR-IO-APIC-<name>
 *
 * Each allocated pin's redirection entry (RTE) is composed from the
 * message of the level below: the compatibility format (destination,
 * vector) without remapping; with it the remappable format (RTE bit 48,
 * the IRTE index in bits 63:49 and 11, the pin in the vector field) with
 * the I/O APIC's requester id as the entry's source id.  The domain is
 * flagged IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO so the IR domain accepts it.
 *
 * Flows: edge pins use the edge flow (ack = local APIC EOI); level pins
 * the fasteoi flow whose EOI is the local APIC EOI followed by a directed
 * EOI through the I/O APIC's EOI register (version 0x20 or later) for
 * the vector field of the entry, which clears Remote IRR; a line still
 * asserted then delivers again.  Masking is the RTE mask bit: a level
 * line stays asserted while masked and delivers on unmask; an edge while
 * masked is lost (82093AA), so edge lines are masked only on disable and
 * around an RTE rewrite.
 *
 * Affinity: with remapping the IRTE is retargeted and the RTE is not
 * touched.  Without it, a level entry is rewritten masked (mask,
 * destination, vector + unmask: the line is held meanwhile); an edge entry
 * cannot be masked without losing edges, so it moves like a non-maskable
 * MSI store (include/irqkit/x86.h): on the CPU it targets, vector first,
 * then destination, then an IRR check and retrigger; asked from another
 * CPU the move is carried out from the pin's next interrupt.  All three
 * are lossless (tested with edges and assertions landing among the
 * register writes).
 *
 * Locking: one spinlock per I/O APIC serialises the IOREGSEL/IOWIN pairs;
 * it nests inside the descriptor lock.
 */
#ifndef IRQKIT_X86_IOAPIC_H
#define IRQKIT_X86_IOAPIC_H

#include <irqkit/device.h>
#include <irqkit/irqdomain.h>

#define IK_X86_IOAPIC_DEFAULT_BASE 0xFEC00000ull

struct ik_x86_ioapic;

struct ik_x86_ioapic_config {
	uint64_t base;          /* 0 = IK_X86_IOAPIC_DEFAULT_BASE */
	const char *name;       /* NULL = "ioapic0" */
	uint16_t segment;
	uint16_t requester_id;  /* the I/O APIC's source id from the DMAR device scope */
};

/**
 * ik_x86_ioapic_create - find the I/O APIC, mask every entry, create its
 * device (for the source id) and its domain below ik_x86_default_msi_parent().
 * Context: sleepable, after ik_x86_vector_init() (and ik_x86_ir_init()).
 * Return: 0; -IK_EINVAL; -IK_ENODEV (nothing there); -IK_ENOTSUPP (version
 * below 0x20: no EOI register); -IK_ENOMEM.  On failure nothing remains.
 */
int ik_x86_ioapic_create(const struct ik_x86_ioapic_config *cfg, struct ik_x86_ioapic **out);

/**
 * ik_x86_ioapic_destroy - remove the domain and the device
 * Context: sleepable.  Return: 0; -IK_EBUSY (pins still allocated: nothing done).
 */
int ik_x86_ioapic_destroy(struct ik_x86_ioapic *io);

struct ik_irq_domain *ik_x86_ioapic_domain(const struct ik_x86_ioapic *io);
struct ik_device *ik_x86_ioapic_device(const struct ik_x86_ioapic *io);
unsigned int ik_x86_ioapic_nr_pins(const struct ik_x86_ioapic *io);

/**
 * ik_x86_ioapic_alloc_irq - an interrupt for input @pin
 * @type:       IK_IRQ_TYPE_EDGE_RISING or IK_IRQ_TYPE_LEVEL_HIGH
 * @active_low: the wire's polarity (RTE bit 13)
 * The entry stays masked until the interrupt is started.
 * Context: sleepable.
 * Return: the irq; -IK_ERANGE (no such pin); -IK_EINVAL (bad type);
 * -IK_EBUSY (the pin has one); -IK_ENOSPC; -IK_ENOMEM; a level's error.
 */
int ik_x86_ioapic_alloc_irq(struct ik_x86_ioapic *io, unsigned int pin, unsigned int type,
			    bool active_low);

/**
 * ik_x86_ioapic_free_irq - free @pin's interrupt (handler freed first)
 * Context: sleepable.  Return: 0; -IK_ENOENT; -IK_EBUSY (a handler is installed).
 */
int ik_x86_ioapic_free_irq(struct ik_x86_ioapic *io, unsigned int pin);

/** ik_x86_ioapic_rte - the entry of @pin as the library last wrote it (tests, views). */
uint64_t ik_x86_ioapic_rte(struct ik_x86_ioapic *io, unsigned int pin);

#endif /* IRQKIT_X86_IOAPIC_H */
