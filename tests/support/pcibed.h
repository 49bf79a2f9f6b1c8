/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PCI test machine: the testbed (machine, host port, core, vector domain,
 * CPUs online) plus a simulated PCI segment, a tracer of every
 * configuration write the library makes, a configurable "remapping-like"
 * MSI parent between devices and the vector domain, and helpers to plug
 * functions, create their devices and count delivered interrupts.
 */
#ifndef IK_PCIBED_H
#define IK_PCIBED_H

#include <irqkit/msi.h>
#include <irqkit/pci.h>

#include <pthread.h>

#include "sim_pci.h"
#include "testbed.h"

#define PB_ECAM 0xE0000000ull
#define PB_BAR0 0xC0000000ull      /* 32-bit, 16 KiB: PBA at 0x2000 */
#define PB_BAR2 0x800000000ull     /* 64-bit prefetchable, 1 MiB: table at 0x3000 */
#define PB_BDF SIM_PCI_BDF(0, 3, 0)
#define PB_CFG_LOG_MAX 8192

struct pb_cfg_write {
	uint16_t bdf, offset;
	unsigned int size;
	uint32_t value;
};

struct pcibed {
	struct testbed tb;
	struct sim_pci_bus *bus;
	/* Configuration writes made through the hook (the library's). */
	struct pb_cfg_write log[PB_CFG_LOG_MAX];
	unsigned int nr_log;            /* under log_lock (threaded machines) */
	pthread_mutex_t log_lock;
	/* Called after each logged write (for snapshots at a given moment). */
	void (*on_cfg_write)(struct pcibed *pb, const struct pb_cfg_write *w);
	void *on_cfg_arg;
	/* The test MSI parent ("TIR-"), if created. */
	struct ik_irq_domain *tparent;
	struct ik_msi_parent_ops tparent_ops;
	uint32_t tparent_addr_hi;           /* composed into every message when non-zero */
	uint64_t tparent_masks, tparent_unmasks; /* its mask/unmask callbacks (destination) */
};

void pcibed_init(struct pcibed *pb, const struct testbed_opts *opts);
/* Tear down (every PCI device must be destroyed); returns leaked allocations. */
int64_t pcibed_fini(struct pcibed *pb);

/*
 * A function with BAR0 (32-bit, 16 KiB), BAR2 (64-bit prefetchable, 1 MiB
 * above 4 GiB), PM, MSI (8 vectors, 64-bit, maskable) and MSI-X (64 entries,
 * table in BAR2 at 0x3000, PBA in BAR0 at 0x2000).
 */
struct sim_pci_dev_config pcibed_std_config(void);
struct sim_pci_dev *pcibed_plug(struct pcibed *pb, uint16_t bdf,
				const struct sim_pci_dev_config *cfg);

/*
 * ik_pci_device_create() for @bdf with the MSI parent set (the vector
 * domain, or the test parent if created), memory decode and bus mastering
 * on.  Asserts success.
 */
struct ik_device *pcibed_device(struct pcibed *pb, uint16_t bdf);

/*
 * Create the test MSI parent below which devices created afterwards get
 * their domains: an intermediate level over the vector domain (like
 * remapping) offering @supported (IK_MSI_FLAG_* parent-restricted bits).
 */
void pcibed_tparent_create(struct pcibed *pb, uint32_t supported);
/* ... also forcing @required (e.g. IK_MSI_FLAG_MASK_PARENT: an ITS-like destination mask). */
void pcibed_tparent_create_ex(struct pcibed *pb, uint32_t supported, uint32_t required);

/* Counting handlers. */
struct pb_vec {
	unsigned int irq;
	uint64_t count;                 /* __atomic */
	bool unhandled;                 /* return IK_IRQ_NONE instead of HANDLED */
	unsigned int last_cpu;
};
ik_irqreturn_t pb_handler(unsigned int irq, void *dev_id);
int pb_request(struct pb_vec *v, unsigned int irq);
int pb_free(struct pb_vec *v);

/* Read an MSI-X table entry of @dev as stored by the function. */
struct sim_pci_msix_entry pb_entry(struct sim_pci_dev *dev, unsigned int index);

/* Configuration writes to @offset (absolute) of @bdf since log index @from. */
unsigned int pb_count_writes(struct pcibed *pb, unsigned int from, uint16_t bdf, uint16_t offset);

/* Total messages the machine's LAPICs accepted. */
uint64_t pb_msi_accepted(struct pcibed *pb);

/* Matrix fingerprint: sum over CPUs of allocated + managed + available, and reservations. */
struct pb_matrix {
	unsigned int allocated, managed, managed_allocated, available, reserved;
};
struct pb_matrix pb_matrix(struct pcibed *pb);
bool pb_matrix_equal(struct pb_matrix a, struct pb_matrix b);

#endif /* IK_PCIBED_H */
