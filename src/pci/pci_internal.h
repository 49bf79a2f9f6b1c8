/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared between the PCI layer's files; not a public interface. */
#ifndef IK_PCI_INTERNAL_H
#define IK_PCI_INTERNAL_H

#include <irqkit/pci.h>

#include "core/internals.h"

/* Capability registers (PCI Local Bus 3.0 section 6.8). */
#define PCI_MSI_FLAGS          0x02
#define  PCI_MSI_FLAGS_ENABLE   0x0001u
#define  PCI_MSI_FLAGS_QMASK    0x000Eu  /* Multiple Message Capable, log2 */
#define  PCI_MSI_FLAGS_QSIZE    0x0070u  /* Multiple Message Enable, log2 */
#define  PCI_MSI_FLAGS_64BIT    0x0080u
#define  PCI_MSI_FLAGS_MASKBIT  0x0100u
#define PCI_MSI_ADDRESS_LO     0x04
#define PCI_MSI_ADDRESS_HI     0x08
#define PCI_MSI_DATA_32        0x08
#define PCI_MSI_MASK_32        0x0C
#define PCI_MSI_PENDING_32     0x10
#define PCI_MSI_DATA_64        0x0C
#define PCI_MSI_MASK_64        0x10
#define PCI_MSI_PENDING_64     0x14

#define PCI_MSIX_FLAGS         0x02
#define  PCI_MSIX_FLAGS_QSIZE   0x07FFu
#define  PCI_MSIX_FLAGS_MASKALL 0x4000u
#define  PCI_MSIX_FLAGS_ENABLE  0x8000u
#define PCI_MSIX_TABLE         0x04
#define PCI_MSIX_PBA           0x08
#define  PCI_MSIX_BIR_MASK      0x7u
#define PCI_MSIX_ENTRY_SIZE    16u
#define  PCI_MSIX_ENTRY_ADDR_LO 0x0
#define  PCI_MSIX_ENTRY_ADDR_HI 0x4
#define  PCI_MSIX_ENTRY_DATA    0x8
#define  PCI_MSIX_ENTRY_CTRL    0xC
#define  PCI_MSIX_ENTRY_CTRL_MASK 0x1u

#define PCI_PM_CTRL            0x04
#define  PCI_PM_CTRL_STATE_MASK 0x0003u

#define PCI_STATE_MAGIC 0x50434921u /* "PCI!" */

enum pci_irq_mode {
	PCI_MODE_NONE = 0,
	PCI_MODE_MSI,
	PCI_MODE_MSIX,
};

struct pci_state {
	uint32_t magic;
	struct ik_device *dev;
	uint16_t segment;
	uint16_t bdf;
	struct ik_pci_config cfg;       /* as found at create */
	uint32_t quirks;
	enum ik_pci_power_state power;
	bool disconnected;              /* IK_READ_ONCE/IK_WRITE_ONCE */
	uint16_t command;               /* the bits the library set (restore) */
	/*
	 * Guards the registers vectors share: the MSI mask and control
	 * registers, the MSI-X control register.  Taken in chip callbacks
	 * (descriptor lock held) and around whole-function updates.
	 */
	ik_spinlock_t lock;
	/* Under the device's MSI lock. */
	enum pci_irq_mode mode;
	unsigned int msi_nvec;          /* MSI: vectors enabled */
	struct ik_pci_msix_layout msix;/* MSI-X: the layout in use (validated at enable) */
	uint32_t msix_generation;       /* bumped at every MSI-X enable */
	bool devm_registered;           /* the vectors' device-managed action exists */
};

struct pci_state *pci_state_of(const struct ik_device *dev);

/* True if the function may be accessed (present and in D0). */
static inline bool pci_accessible(const struct pci_state *ps)
{
	return !IK_READ_ONCE(ps->disconnected) && IK_READ_ONCE(ps->power) == IK_PCI_D0;
}

/* Raw configuration access for a present function (no state checks). */
uint32_t pci_cfg_read(const struct pci_state *ps, uint16_t off, unsigned int size);
void pci_cfg_write(const struct pci_state *ps, uint16_t off, unsigned int size, uint32_t val);

/* log2 of the vectors an MSI capability offers (Multiple Message Capable, max 5). */
static inline unsigned int pci_msi_mmc(uint16_t flags)
{
	unsigned int mmc = (flags & PCI_MSI_FLAGS_QMASK) >> 1;

	return mmc > 5 ? 5 : mmc;
}

/*
 * Make the default device domain one built from @tmpl with @hwsize indices
 * (replacing a domain of the other kind).  Not under the MSI lock.
 * Return: 1 created, 0 the existing one fits, or an error.
 */
int pci_setup_domain(struct pci_state *ps, const struct ik_msi_domain_template *tmpl,
		     uint32_t hwsize);

/* msi.c / msix.c */
int pci_msi_enable(struct pci_state *ps, unsigned int min, unsigned int max, bool affinity,
		   const struct ik_irq_affinity_spread *spread);
void pci_msi_disable_locked(struct pci_state *ps);
int pci_msix_enable(struct pci_state *ps, unsigned int min, unsigned int max, bool affinity,
		    const struct ik_irq_affinity_spread *spread);
void pci_msix_disable_locked(struct pci_state *ps);
void pci_msi_restore(struct pci_state *ps);
void pci_msix_restore(struct pci_state *ps);
bool pci_vectors_busy_locked(struct pci_state *ps);

/* Affinity spreading: an array of @nvec entries (ik_os_free it) or NULL on no memory. */
struct ik_irq_affinity_desc *pci_spread_affinity(unsigned int nvec,
						 const struct ik_irq_affinity_spread *spread);

int pci_register_vectors_devm(struct pci_state *ps);
void pci_unregister_vectors_devm(struct pci_state *ps);
void pci_intx(struct pci_state *ps, bool enable);

#endif /* IK_PCI_INTERNAL_H */
