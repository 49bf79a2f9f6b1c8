/* SPDX-License-Identifier: BSD-2-Clause */
/* xAPIC register layout (Intel SDM Vol. 3, "Advanced Programmable Interrupt Controller"). */
#ifndef IK_X86_APIC_H
#define IK_X86_APIC_H

#include <irqkit/osl.h>
#include <irqkit/x86.h>

#define APIC_ID      0x020 /* bits 31:24 */
#define APIC_TPR     0x080
#define APIC_EOI     0x0B0
#define APIC_SVR     0x0F0
#define APIC_SVR_ENABLE IK_BIT(8)
#define APIC_SVR_SUPPRESS_EOI_BROADCAST IK_BIT(12) /* directed EOI: no broadcast to I/O APICs */
#define APIC_LVR     0x030
#define APIC_LVR_SUPPRESS_EOI_BROADCAST IK_BIT(24) /* the LAPIC can suppress it */
#define APIC_ISR     0x100
#define APIC_IRR     0x200
#define APIC_ICR_LO  0x300
#define APIC_ICR_HI  0x310
#define APIC_ICR_DM_FIXED  (0u << 8)
#define APIC_ICR_DEST_PHYS (0u << 11)
#define APIC_ICR_SH_NONE   (0u << 18)

/* MSI compatibility format (SDM "Message Signalled Interrupts"). */
#define MSI_ADDR_BASE        0xFEE00000u
#define MSI_ADDR_DEST_SHIFT  12
#define MSI_DATA_VECTOR_MASK 0xFFu
#define MSI_DATA_DM_FIXED    (0u << 8)
#define MSI_DATA_TRIGGER_EDGE (0u << 15)

static inline uint32_t apic_read(uint32_t reg)
{
	return ik_os_mmio_read32(IK_X86_LAPIC_BASE + reg);
}

static inline void apic_write(uint32_t reg, uint32_t value)
{
	ik_os_mmio_write32(IK_X86_LAPIC_BASE + reg, value);
}

static inline void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* Is @vector pending in this CPU's IRR? */
static inline bool apic_irr_pending(unsigned int vector)
{
	return (apic_read(APIC_IRR + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}

/* Send @vector to the CPU with @apic_id; local interrupts must be off. */
static inline void apic_send_ipi(uint32_t apic_id, unsigned int vector)
{
	apic_write(APIC_ICR_HI, apic_id << 24);
	apic_write(APIC_ICR_LO, vector | APIC_ICR_DM_FIXED | APIC_ICR_DEST_PHYS | APIC_ICR_SH_NONE);
}

#endif /* IK_X86_APIC_H */
