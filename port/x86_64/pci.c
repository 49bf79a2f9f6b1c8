// SPDX-License-Identifier: BSD-2-Clause
/*
 * PCI configuration access (ECAM from MCFG, else ports 0xCF8/0xCFC for the
 * first 256 bytes) for the library (ik_os_pci_cfg_*) and for tests, and
 * PCI functions as library devices bound to a no-op driver.
 */
#include "kern.h"

static ik_spinlock_t cf8_lock;

void pci_init(void)
{
	ik_os_spin_init(&cf8_lock);
}

static bool cfg_args_ok(uint16_t offset, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4) && !(offset & (size - 1)) && offset < 4096;
}

static uint64_t ecam_addr(uint16_t bdf, uint16_t offset)
{
	const struct port_acpi *a = port_acpi();

	if (!a->ecam_base || (bdf >> 8) > a->ecam_bus_end)
		return 0;
	return a->ecam_base + ((uint64_t)bdf << 12) + offset;
}

int ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
		       uint32_t *value)
{
	uint64_t pa;

	if (!cfg_args_ok(offset, size)) {
		*value = 0xFFFFFFFFu;
		return -IK_EINVAL;
	}
	*value = size == 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
	if (segment)
		return 0;
	pa = ecam_addr(bdf, offset);
	if (pa) {
		volatile void *p = (volatile void *)(uintptr_t)pa;

		*value = size == 1 ? *(volatile uint8_t *)p :
			 size == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
	} else if (!port_acpi()->ecam_base && offset < 256) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&cf8_lock);
		uint32_t v;

		port_outl(0xCF8, 0x80000000u | (uint32_t)bdf << 8 | (offset & 0xFC));
		v = port_inl(0xCFC) >> ((offset & 3) * 8);
		ik_os_spin_unlock_irqrestore(&cf8_lock, flags);
		*value = size == 4 ? v : v & ((1u << (size * 8)) - 1);
	}
	return 0;
}

int ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset, unsigned int size,
			uint32_t value)
{
	uint64_t pa;

	if (!cfg_args_ok(offset, size))
		return -IK_EINVAL;
	if (segment)
		return 0;
	pa = ecam_addr(bdf, offset);
	if (pa) {
		volatile void *p = (volatile void *)(uintptr_t)pa;

		if (size == 1)
			*(volatile uint8_t *)p = (uint8_t)value;
		else if (size == 2)
			*(volatile uint16_t *)p = (uint16_t)value;
		else
			*(volatile uint32_t *)p = value;
	} else if (!port_acpi()->ecam_base && offset < 256) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&cf8_lock);
		uint32_t shift = (offset & 3) * 8, v = value;

		port_outl(0xCF8, 0x80000000u | (uint32_t)bdf << 8 | (offset & 0xFC));
		if (size != 4) {
			uint32_t mask = ((1u << (size * 8)) - 1) << shift;

			v = (port_inl(0xCFC) & ~mask) | ((value << shift) & mask);
		}
		port_outl(0xCFC, v);
		ik_os_spin_unlock_irqrestore(&cf8_lock, flags);
	}
	return 0;
}

uint32_t port_pci_read(uint16_t bdf, uint16_t off, unsigned int size)
{
	uint32_t v;

	ik_os_pci_cfg_read(0, bdf, off, size, &v);
	return v;
}

void port_pci_write(uint16_t bdf, uint16_t off, unsigned int size, uint32_t v)
{
	ik_os_pci_cfg_write(0, bdf, off, size, v);
}

int port_pci_find(uint16_t vendor, uint16_t device, unsigned int nth, uint16_t *bdf)
{
	unsigned int last_bus = port_acpi()->ecam_base ? port_acpi()->ecam_bus_end : 255;

	for (unsigned int bus = 0; bus <= last_bus; bus++) {
		for (unsigned int dev = 0; dev < 32; dev++) {
			for (unsigned int fn = 0; fn < 8; fn++) {
				uint16_t b = IK_PCI_BDF(bus, dev, fn);
				uint32_t id = port_pci_read(b, 0, 4);

				if ((id & 0xFFFF) == 0xFFFF) {
					if (fn == 0)
						break;
					continue;
				}
				if ((id & 0xFFFF) == vendor && (id >> 16) == device && nth-- == 0) {
					*bdf = b;
					return 0;
				}
				if (fn == 0 && !(port_pci_read(b, IK_PCI_HEADER_TYPE, 1) & 0x80))
					break;
			}
		}
	}
	return -IK_ENODEV;
}

uint64_t port_pci_bar(uint16_t bdf, unsigned int bar)
{
	uint32_t lo, cmd;
	uint64_t base;

	if (bar >= IK_PCI_NUM_BARS)
		return 0;
	lo = port_pci_read(bdf, (uint16_t)(IK_PCI_BAR0 + 4 * bar), 4);
	if (lo & 1)
		return 0;	/* I/O BAR */
	base = lo & ~0xFull;
	if (((lo >> 1) & 3) == 2 && bar + 1 < IK_PCI_NUM_BARS)
		base |= (uint64_t)port_pci_read(bdf, (uint16_t)(IK_PCI_BAR0 + 4 * (bar + 1)), 4) << 32;
	cmd = port_pci_read(bdf, IK_PCI_COMMAND, 2);
	port_pci_write(bdf, IK_PCI_COMMAND, 2, cmd | IK_PCI_COMMAND_MEMORY | IK_PCI_COMMAND_MASTER);
	return base;
}

/* ---- Library devices -------------------------------------------------------------------- */

static int port_pci_probe(struct ik_device *dev)
{
	int ret = ik_pcim_enable_device(dev);

	if (ret)
		return ret;
	ik_pci_set_master(dev);
	return 0;
}

static const struct ik_driver port_pci_driver = {
	.name = "port-test",
	.probe = port_pci_probe,
};

int port_pci_device_get(uint16_t bdf, struct ik_device **out)
{
	struct ik_device *dev;
	int ret;

	ret = ik_pci_device_create(NULL, 0, bdf, &dev);
	if (ret)
		return ret;
	ik_device_set_msi_parent(dev, ik_x86_default_msi_parent());
	ret = ik_device_bind(dev, &port_pci_driver);
	if (ret) {
		ik_pci_device_destroy(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

void port_pci_device_put(struct ik_device *dev)
{
	if (dev)
		ik_pci_device_destroy(dev);
}
