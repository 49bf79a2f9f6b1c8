/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * port/x86_64/port.h - bare-metal x86-64 port: what test code may use.
 *
 * The port boots the unchanged library on QEMU (q35, TCG): Multiboot v1 ->
 * long mode -> serial -> ACPI -> heap -> ik_core_init() -> vector domain ->
 * CPUs online -> (remapping) -> IO-APIC -> the test named on the command
 * line, on CPU 0 in process context.
 */
#ifndef PORT_X86_64_PORT_H
#define PORT_X86_64_PORT_H

#include <irqkit/device.h>
#include <irqkit/env.h>
#include <irqkit/irq.h>
#include <irqkit/irqchip.h>
#include <irqkit/irqdomain.h>
#include <irqkit/msi.h>
#include <irqkit/osl.h>
#include <irqkit/pci.h>
#include <irqkit/x86.h>
#include <irqkit/x86_hpet.h>
#include <irqkit/x86_ioapic.h>
#include <irqkit/x86_ir.h>

#define PORT_MAX_CPUS 8

/* Test registration: a linker section ".port_tests" collects them; no central table. */
struct port_test {
	const char *name;
	int (*fn)(void);
};
#define PORT_TEST(n) \
	static int port_test_fn_##n(void); \
	static const struct port_test port_test_##n \
		__attribute__((used, section(".port_tests"), aligned(8))) = { #n, port_test_fn_##n }; \
	static int port_test_fn_##n(void)
/* A test returns 0 on pass, nonzero on failure; it runs on CPU 0 in process
 * context (interrupts enabled, may sleep/poll), after the platform is up. */

/* Serial COM1; %d %i %u %x %lx %llx %llu %ld %lu %s %p %c, width/0-pad. */
void port_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* On failure: print "FAIL file:line: cond" and return 1. */
#define PORT_CHECK(cond) \
	do { \
		if (!(cond)) { \
			port_printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			return 1; \
		} \
	} while (0)
/* Same, printing both values as long long. */
#define PORT_CHECK_EQ(a, b) \
	do { \
		long long port_check_a_ = (long long)(a), port_check_b_ = (long long)(b); \
		if (port_check_a_ != port_check_b_) { \
			port_printf("FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
				    #a, #b, port_check_a_, port_check_b_); \
			return 1; \
		} \
	} while (0)

uint64_t port_time_ns(void);                      /* monotonic (TSC calibrated at boot) */
void port_delay_us(uint64_t us);                  /* process context: runs deferred work/timers while waiting */
/* Polls cond + deferred work; true if it held. */
bool port_wait(bool (*cond)(void *arg), void *arg, uint64_t timeout_ms);

unsigned int port_nr_cpus(void);                  /* CPUs brought up (== ik_os_cpu_count()) */
/* Run fn(arg) on @cpu in process context (interrupts enabled) and wait for it. 0, -IK_EINVAL, -IK_ENODEV */
int port_run_on_cpu(unsigned int cpu, void (*fn)(void *arg), void *arg);

/* Zeroed, identity-mapped (pointer == physical address), never freed. */
void *port_phys_alloc(size_t size, size_t align);

static inline uint32_t port_mmio_read32(uint64_t pa)
{
	return *(volatile uint32_t *)(uintptr_t)pa;
}

static inline void port_mmio_write32(uint64_t pa, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)pa = v;
}

static inline uint64_t port_mmio_read64(uint64_t pa)
{
	return *(volatile uint64_t *)(uintptr_t)pa;
}

static inline void port_mmio_write64(uint64_t pa, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)pa = v;
}

static inline void port_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t port_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void port_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t port_inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void port_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t port_inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

struct port_acpi {
	unsigned int nr_cpus;  uint32_t apic_id[PORT_MAX_CPUS];
	uint64_t ioapic_base;  uint32_t ioapic_gsi_base; uint8_t ioapic_id;
	uint32_t isa_gsi[16];  uint16_t isa_flags[16];   /* MADT interrupt source overrides applied (identity otherwise) */
	uint64_t drhd_base;    /* 0 when no DMAR */
	uint16_t ioapic_sid;   /* source id from the DMAR device scope (bus<<8|dev<<3|fn) */
	uint64_t hpet_base;    /* 0 when no HPET table */
	uint64_t ecam_base;    uint8_t ecam_bus_end;     /* from MCFG */
};
const struct port_acpi *port_acpi(void);

/* PCI (configuration via ECAM when present, else 0xCF8/0xCFC) */
uint32_t port_pci_read(uint16_t bdf, uint16_t off, unsigned int size);
void port_pci_write(uint16_t bdf, uint16_t off, unsigned int size, uint32_t v);
int port_pci_find(uint16_t vendor, uint16_t device, unsigned int nth, uint16_t *bdf); /* 0 or -IK_ENODEV */
uint64_t port_pci_bar(uint16_t bdf, unsigned int bar); /* memory BAR base (64-bit aware); enables memory decode + bus mastering */

/* The platform as the harness built it before the test ran. */
bool port_ir_enabled(void);                       /* kernel command line "ir=1" and a DRHD: ik_x86_ir_init() done */
struct ik_x86_ioapic *port_ioapic(void);          /* created at boot (with the DMAR source id when IR is on) */
/*
 * An ik_device for a PCI function, MSI parent ik_x86_default_msi_parent(), with the library's
 * PCI layer attached (ik_pci_device_create with port-side config accessors); bound to a no-op
 * driver so the test can allocate vectors.  Destroy with port_pci_device_put().
 */
int port_pci_device_get(uint16_t bdf, struct ik_device **out);
void port_pci_device_put(struct ik_device *dev);

/* ---- Additions (not part of the fixed interface above) ---------------------------------- */

/* The kernel command line value of @key ("key=value"), copied into @buf; false if absent. */
bool port_cmdline_get(const char *key, char *buf, size_t len);

/* Library log lines at IK_LOG_WARN or worse since boot (ik_os_vlog). */
uint64_t port_log_warnings(void);

#endif /* PORT_X86_64_PORT_H */
