// SPDX-License-Identifier: BSD-2-Clause
/*
 * The simulated PCI segment shared by the PCI-based device kinds: created
 * with the first PCI device of a machine, with an ECAM window, and a
 * 64-bit BAR address allocator.
 */
#include "sim_pci.h"
#include "tool.h"

#define PCI_ECAM_BASE 0xE0000000ull
#define PCI_BAR_BASE 0x4000000000ull /* 64-bit BARs from 256 GiB up */

/* Per machine: kept in the world, which forgets it when the machine goes. */
struct sim_pci_bus *tool_pci_bus(struct world *w)
{
	if (!w->pci_bus) {
		w->pci_bus = sim_pci_bus_create(w->m, 0, PCI_ECAM_BASE, TOOL_PCI_BUSES);
		w->pci_next_bar = PCI_BAR_BASE;
	}
	return w->pci_bus;
}

void tool_pci_slot_taken(uint16_t bdf)
{
	set_action_detail("PCI address %02x:%02x.%x is already taken (give another 'bdf', or "
			  "leave it out to get a free one)",
			  bdf >> 8, (bdf >> 3) & 0x1F, bdf & 7);
}

uint64_t tool_pci_bar(struct world *w, uint64_t size)
{
	uint64_t base;

	if (!tool_pci_bus(w))
		return 0;
	base = (w->pci_next_bar + size - 1) & ~(size - 1);
	w->pci_next_bar = base + size;
	return base;
}
