// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86 interrupt remapping: the IR domain over a VT-d-style remapping unit.
 *
 * Each interrupt below the domain owns one interrupt remapping table entry
 * (IRTE) in memory; multi-vector MSI owns a power-of-two aligned block.
 * The entry holds the real (APIC ID, vector) of the vector level below and
 * the source id the unit checks requests against; the device's message
 * names the entry and never changes.
 *
 * Writing an entry is two 64-bit stores whose order matters, because the
 * unit may read the entry between them (a cache miss):
 *  - programming a free entry: high qword (source id) first, then the low
 *    qword with Present -- the entry is never present with a stale source
 *    id;
 *  - retargeting: only the low qword changes (destination and vector both
 *    live there), so one store switches atomically from old to new;
 *  - clearing: low qword (Present off) first, then the high qword.
 * The unit caches entries, so every change is followed by an index-
 * selective interrupt-entry-cache invalidation and a wait descriptor whose
 * status write tells that the unit is done.  Until then the unit may still
 * deliver through the old entry -- harmless, because the vector domain
 * keeps the old vector routed until an interrupt arrives on the new one.
 *
 * Register layouts: the Intel VT-d specification (chapter 11); the
 * simulator's sim/sim_vtd.h documents the same layouts.
 */
#include <irqkit/msi.h>
#include <irqkit/x86.h>
#include <irqkit/x86_ir.h>

#include "core/internals.h"

/* ---- Unit registers (VT-d specification, chapter 11) ------------------------- */

#define VTD_VER		0x000
#define VTD_CAP		0x008
#define VTD_ECAP	0x010
#define VTD_GCMD	0x018
#define VTD_GSTS	0x01C
#define VTD_FSTS	0x034
#define VTD_IQH		0x080
#define VTD_IQT		0x088
#define VTD_IQA		0x090
#define VTD_IRTA	0x0B8

#define ECAP_QI			IK_BIT64(1)
#define ECAP_IR			IK_BIT64(3)
#define ECAP_MHMV(ecap)		((unsigned int)((ecap) >> 20) & 0xF)

#define GCMD_QIE		IK_BIT(26)
#define GCMD_IRE		IK_BIT(25)
#define GCMD_SIRTP		IK_BIT(24)
#define GCMD_CFI		IK_BIT(23)
/* GSTS bits that report one-shot commands: never written back to GCMD. */
#define GSTS_ONESHOT		(IK_BIT(30) | IK_BIT(29) | IK_BIT(27) | IK_BIT(24))
#define GSTS_QIES		GCMD_QIE
#define GSTS_IRES		GCMD_IRE
#define GSTS_IRTPS		GCMD_SIRTP
#define GSTS_CFIS		GCMD_CFI

#define FSTS_IQE		IK_BIT(4)

/* Invalidation descriptors (128-bit). */
#define QI_SLOTS		256u		/* IQA.QS = 0: one 4 KiB page */
#define QI_DESC_IEC		4ull
#define QI_IEC_INDEX		IK_BIT64(4)
#define QI_IEC_IM_SHIFT		27
#define QI_IEC_IIDX_SHIFT	32
#define QI_DESC_WAIT		5ull
#define QI_WAIT_SW		IK_BIT64(5)
#define QI_WAIT_FN		IK_BIT64(6)
#define QI_WAIT_DATA_SHIFT	32

/* IRTE, remapped format. */
#define IRTE_P			IK_BIT64(0)
#define IRTE_VECTOR_SHIFT	16
#define IRTE_XAPIC_DST_SHIFT	40
#define IRTE_SQ_ALL		0ull
#define IRTE_SVT_SID		(1ull << 18)
#define IRTE_SVT_BUS		(2ull << 18)

/* Remappable message address. */
#define MSI_ADDR_BASE		0xFEE00000u
#define MSI_ADDR_FORMAT		IK_BIT(4)
#define MSI_ADDR_SHV		IK_BIT(3)
#define MSI_ADDR_HANDLE_SHIFT	5

/* Memory layout inside the platform's region. */
#define MEM_QUEUE		0x0000ull
#define MEM_STATUS		0x1000ull
#define MEM_TABLE		0x2000ull

/* Bounded waits: a unit that never answers is an error, not a hang. */
#define CMD_POLL_LIMIT		100000u
#define QI_POLL_LIMIT		(1u << 20)

struct ir_data {
	unsigned int index;     /* this interrupt's IRTE */
	unsigned int base;      /* first IRTE of the block: the message handle */
	unsigned int block;     /* entries in the block; sub-handle 0 frees it */
	uint64_t lo, hi;        /* the entry as last computed */
	bool programmed;        /* present in the table */
};

static struct {
	bool ready;
	struct ik_irq_domain *domain;
	uint64_t unit;
	uint64_t queue, status, table;
	unsigned int nr_entries;
	unsigned int max_block;
	bool no_source_id;
	ik_spinlock_t lock;     /* everything below */
	uint64_t *bitmap;       /* allocated IRTEs */
	unsigned int used;
	unsigned int tail;      /* next queue slot */
	uint32_t seq;           /* last wait status value */
	struct ik_x86_ir_stats stats;
} ir;

static const struct ik_irq_chip ir_chip;

/* ---- Register and memory access -------------------------------------------- */

static uint32_t unit_read32(uint32_t reg)
{
	return ik_os_mmio_read32(ir.unit + reg);
}

static uint64_t unit_read64(uint32_t reg)
{
	return ik_os_mmio_read64(ir.unit + reg);
}

static void unit_write32(uint32_t reg, uint32_t v)
{
	ik_os_mmio_write32(ir.unit + reg, v);
}

static void unit_write64(uint32_t reg, uint64_t v)
{
	ik_os_mmio_write64(ir.unit + reg, v);
}

/*
 * One global command: the current status minus the one-shot bits (writing
 * those back would re-issue their commands), with @bit set or cleared.
 * Then wait for the status to follow.  The unit requires one change per
 * write.
 */
static int unit_command(uint32_t bit, bool on)
{
	uint32_t sts = unit_read32(VTD_GSTS) & ~GSTS_ONESHOT;

	unit_write32(VTD_GCMD, on ? sts | bit : sts & ~bit);
	for (unsigned int n = 0; n < CMD_POLL_LIMIT; n++) {
		if (((unit_read32(VTD_GSTS) & bit) != 0) == on)
			return 0;
		ik_os_cpu_relax();
	}
	ik_err("irqkit: remapping unit: command 0x%x did not complete\n", bit);
	return -IK_EIO;
}

/* Latch IRTA: SIRTP is one-shot, its completion is IRTPS. */
static int unit_set_table_pointer(void)
{
	uint32_t sts = unit_read32(VTD_GSTS) & ~GSTS_ONESHOT;

	unit_write32(VTD_GCMD, sts | GCMD_SIRTP);
	for (unsigned int n = 0; n < CMD_POLL_LIMIT; n++) {
		if (unit_read32(VTD_GSTS) & GSTS_IRTPS)
			return 0;
		ik_os_cpu_relax();
	}
	ik_err("irqkit: remapping unit: table pointer not latched\n");
	return -IK_EIO;
}

/* ---- Queued invalidation ------------------------------------------------------ */

static void qi_write_desc(unsigned int slot, uint64_t lo, uint64_t hi)
{
	uint64_t pa = ir.queue + 16ull * slot;

	ik_os_mmio_write64(pa, lo);
	ik_os_mmio_write64(pa + 8, hi);
}

/*
 * A queue error stopped the unit at IQH (a descriptor it did not accept):
 * overwrite that descriptor with a plain wait so the queue drains, and
 * clear the error.  The caller's operation has failed.
 */
static void qi_recover_locked(void)
{
	unsigned int head = (unsigned int)(unit_read64(VTD_IQH) >> 4) % QI_SLOTS;

	ik_err("irqkit: remapping unit rejected invalidation descriptor %u\n", head);
	ir.stats.errors++;
	qi_write_desc(head, QI_DESC_WAIT, 0);
	unit_write32(VTD_FSTS, FSTS_IQE);
}

/*
 * Submit @lo/@hi followed by a wait descriptor with a status write, and
 * wait for the status.  Submissions are serialised by ir.lock and each
 * one drains the queue, so the queue never holds more than two
 * descriptors and cannot fill.  IR lock held.
 */
static int qi_submit_sync_locked(uint64_t lo, uint64_t hi)
{
	unsigned int slot = ir.tail;
	bool failed = false;
	uint32_t seq;

	ik_lockdep_assert_held(&ir.lock);
	seq = ++ir.seq ? ir.seq : ++ir.seq;
	qi_write_desc(slot, lo, hi);
	qi_write_desc((slot + 1) % QI_SLOTS,
		      QI_DESC_WAIT | QI_WAIT_SW | QI_WAIT_FN | (uint64_t)seq << QI_WAIT_DATA_SHIFT,
		      ir.status);
	ir.tail = (slot + 2) % QI_SLOTS;
	unit_write64(VTD_IQT, (uint64_t)ir.tail << 4);
	for (unsigned int n = 0; n < QI_POLL_LIMIT; n++) {
		if (ik_os_mmio_read32(ir.status) == seq)
			return failed ? -IK_EIO : 0;
		if (unit_read32(VTD_FSTS) & FSTS_IQE) {
			qi_recover_locked();
			failed = true;
		}
		ir.stats.wait_polls++;
		ik_os_cpu_relax();
	}
	ir.stats.errors++;
	ik_err("irqkit: remapping unit: invalidation wait timed out\n");
	return -IK_EIO;
}

/* Invalidate the unit's cached copies of IRTEs [index, index + 2^mask). IR lock held. */
static int iec_flush_locked(unsigned int index, unsigned int mask)
{
	ir.stats.invalidations++;
	return qi_submit_sync_locked(QI_DESC_IEC | QI_IEC_INDEX |
				     (uint64_t)mask << QI_IEC_IM_SHIFT |
				     (uint64_t)index << QI_IEC_IIDX_SHIFT, 0);
}

static int iec_flush_global_locked(void)
{
	ir.stats.invalidations++;
	return qi_submit_sync_locked(QI_DESC_IEC, 0);
}

/* ---- Entries ---------------------------------------------------------------- */

static uint64_t irte_pa(unsigned int index)
{
	return ir.table + 16ull * index;
}

/* Make the entry present with @lo/@hi: source id first, then Present. */
static int irte_program_locked(struct ir_data *ird)
{
	ik_os_mmio_write64(irte_pa(ird->index) + 8, ird->hi);
	ik_os_mmio_write64(irte_pa(ird->index), ird->lo);
	ird->programmed = true;
	ir.stats.irte_writes++;
	return iec_flush_locked(ird->index, 0);
}

/* Retarget a present entry: the low qword alone, in one store. */
static int irte_retarget_locked(struct ir_data *ird)
{
	ik_os_mmio_write64(irte_pa(ird->index), ird->lo);
	ir.stats.irte_writes++;
	ir.stats.retargets++;
	return iec_flush_locked(ird->index, 0);
}

/* Clear an entry: Present off first, then the source id. */
static int irte_clear_locked(struct ir_data *ird)
{
	ik_os_mmio_write64(irte_pa(ird->index), 0);
	ik_os_mmio_write64(irte_pa(ird->index) + 8, 0);
	ird->programmed = false;
	ir.stats.irte_writes++;
	return iec_flush_locked(ird->index, 0);
}

static bool bitmap_test(unsigned int i)
{
	return (ir.bitmap[i / 64] >> (i % 64)) & 1;
}

static void bitmap_assign(unsigned int first, unsigned int n, bool set)
{
	for (unsigned int i = first; i < first + n; i++) {
		if (set)
			ir.bitmap[i / 64] |= IK_BIT64(i % 64);
		else
			ir.bitmap[i / 64] &= ~IK_BIT64(i % 64);
	}
}

static unsigned int roundup_pow2(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Lowest free block of @block (a power of two) entries, aligned to its size. */
static int irte_alloc_block(unsigned int block)
{
	ik_irqflags_t flags;
	int ret = -IK_ENOSPC;

	flags = ik_os_spin_lock_irqsave(&ir.lock);
	for (unsigned int base = 0; base + block <= ir.nr_entries; base += block) {
		unsigned int i;

		for (i = 0; i < block && !bitmap_test(base + i); i++)
			;
		if (i == block) {
			bitmap_assign(base, block, true);
			ir.used += block;
			ret = (int)base;
			break;
		}
	}
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	return ret;
}

static void irte_free_block(unsigned int base, unsigned int block)
{
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&ir.lock);

	bitmap_assign(base, block, false);
	ir.used -= block;
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
}

/*
 * The source id the unit checks requests against.  A device without DMA
 * aliases must use exactly its requester id.  With aliases (a bridge that
 * takes ownership of the transactions, an NTB that forwards peers' writes
 * under proxy ids) any of several ids is legitimate: the unit can verify
 * only a bus range, so verify the buses the ids span -- a single bus when
 * they share one (the NTB case), else [lowest, highest].
 */
static int ir_source_id(const struct ik_device *dev, uint64_t *hi)
{
	uint16_t aliases[IK_DEVICE_MAX_DMA_ALIASES];
	unsigned int n, lo_bus, hi_bus;
	uint16_t segment, rid;

	if (ir.no_source_id) {
		*hi = 0;
		return 0;
	}
	if (!dev || !ik_device_requester_id(dev, &segment, &rid)) {
		ik_err("irqkit: %s: no requester id: its interrupts cannot be remapped\n",
		       dev ? ik_device_name(dev) : "(no device)");
		return -IK_EINVAL;
	}
	n = ik_device_dma_aliases(dev, aliases, IK_DEVICE_MAX_DMA_ALIASES);
	if (!n) {
		*hi = IRTE_SVT_SID | IRTE_SQ_ALL | rid;
		return 0;
	}
	lo_bus = hi_bus = rid >> 8;
	for (unsigned int i = 0; i < n && i < IK_DEVICE_MAX_DMA_ALIASES; i++) {
		lo_bus = IK_MIN(lo_bus, (unsigned int)aliases[i] >> 8);
		hi_bus = IK_MAX(hi_bus, (unsigned int)aliases[i] >> 8);
	}
	*hi = IRTE_SVT_BUS | lo_bus << 8 | hi_bus;
	return 0;
}

/* The low qword for the vector level's current target: physical, fixed, edge. */
static int ir_target_lo(struct ik_irq_data *d, uint64_t *lo)
{
	struct ik_x86_irq_target t;
	uint32_t apic_id;

	if (ik_x86_irq_target(d->irq, &t))
		return -IK_ENOTCONN;
	apic_id = ik_x86_cpu_apic_id(t.cpu);
	if (apic_id > 0xFF) {
		ik_err("irqkit: irq %u: APIC ID %u needs extended interrupt mode\n", d->irq, apic_id);
		return -IK_ENOTSUPP;
	}
	*lo = IRTE_P | (uint64_t)(t.vector & 0xFF) << IRTE_VECTOR_SHIFT |
	      (uint64_t)apic_id << IRTE_XAPIC_DST_SHIFT;
	return 0;
}

/* ---- Chip --------------------------------------------------------------------- */

/*
 * Retarget through the vector domain, then the entry.  The device's
 * message stays as it is: OK_DONE tells the levels above not to rewrite
 * it.  The vector domain keeps the old vector until an interrupt arrives
 * on the new one, which can only happen through the new entry.
 */
static int ir_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *mask, bool force)
{
	struct ir_data *ird = d->chip_data;
	ik_irqflags_t flags;
	uint64_t lo;
	int ret;

	ret = ik_irq_chip_set_affinity_parent(d, mask, force);
	if (ret < 0 || ret == IK_IRQ_SET_MASK_OK_DONE)
		return ret;
	if (ir_target_lo(d, &lo))
		return IK_IRQ_SET_MASK_OK_DONE;
	flags = ik_os_spin_lock_irqsave(&ir.lock);
	if (lo != ird->lo) {
		ird->lo = lo;
		if (ird->programmed && irte_retarget_locked(ird))
			ik_err("irqkit: irq %u: IRTE %u retargeted without invalidation\n", d->irq,
			       ird->index);
	}
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	return IK_IRQ_SET_MASK_OK_DONE;
}

static void ir_compose_msi_msg(struct ik_irq_data *d, struct ik_msi_msg *msg)
{
	const struct ir_data *ird = d->chip_data;

	msg->address_hi = 0;
	msg->address_lo = MSI_ADDR_BASE | (ird->base & 0x7FFF) << MSI_ADDR_HANDLE_SHIFT |
			  ((ird->base >> 15) & 1) << 2 | MSI_ADDR_FORMAT | MSI_ADDR_SHV;
	msg->data = ird->index - ird->base;
}

static const struct ik_irq_chip ir_chip = {
	.name = "INTEL-IR",
	.irq_ack = ik_irq_chip_ack_parent,
	.irq_set_affinity = ir_set_affinity,
	.irq_retrigger = ik_irq_chip_retrigger_hierarchy,
	.irq_compose_msi_msg = ir_compose_msi_msg,
};

/* ---- Domain ------------------------------------------------------------------- */

static void ir_free_one(struct ik_irq_data *d)
{
	struct ir_data *ird = d->chip_data;
	ik_irqflags_t flags;

	if (!ird)
		return;
	if (ird->programmed) {
		/* Deactivation clears the entry; this is only for a broken caller. */
		flags = ik_os_spin_lock_irqsave(&ir.lock);
		irte_clear_locked(ird);
		ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	}
	if (ird->index == ird->base)
		irte_free_block(ird->base, ird->block);
	ik_irq_domain_reset_irq_data(d);
	ik_os_free(ird);
}

static void ir_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq + i);

		if (d)
			ir_free_one(d);
	}
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
}

/*
 * Only per-device MSI domains of the MSI core, and domains that declare
 * they pass one (IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO: the IO-APIC), pass an
 * ik_msi_alloc_info down.  The MSI_DEVICE flag alone is not enough: a
 * driver's own per-device domain (the test device's) carries it with an
 * argument of its own, which must be refused, not read as alloc info.
 */
static bool from_msi_device_domain(unsigned int virq)
{
	struct ik_irq_data *outer = ik_irq_get_irq_data(virq);

	return outer && (ik_msi_get_domain_info(outer->domain) ||
			 (ik_irq_domain_flags(outer->domain) & IK_IRQ_DOMAIN_FLAG_MSI_ALLOC_INFO));
}

/*
 * The vector level first, then the block of entries, then the per-
 * interrupt data.  Entries are programmed at activation.  The vector
 * domain is asked for independent vectors: the aligned block multi-MSI
 * needs is the block of entries, not of vectors.
 */
static int ir_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr, void *arg)
{
	struct ik_msi_alloc_info *ai = arg, parent_arg;
	unsigned int block, i;
	uint64_t hi;
	int base, ret;

	if (!ai || !nr || !from_msi_device_domain(virq))
		return -IK_EINVAL;
	block = roundup_pow2(nr);
	if (block > ir.max_block) {
		ik_err("irqkit: remapping: %u entries in one block exceed the unit's %u\n", nr,
		       ir.max_block);
		return -IK_ENOSPC;
	}
	ret = ir_source_id(ai->dev, &hi);
	if (ret)
		return ret;
	parent_arg = *ai;
	parent_arg.flags &= ~IK_MSI_ALLOC_CONTIGUOUS;
	ret = ik_irq_domain_alloc_irqs_parent(domain, virq, nr, &parent_arg);
	if (ret)
		return ret;
	base = irte_alloc_block(block);
	if (base < 0) {
		ret = base;
		goto err_free_parent;
	}
	for (i = 0; i < nr; i++) {
		struct ir_data *ird = ik_os_alloc(sizeof(*ird));

		if (!ird) {
			ret = -IK_ENOMEM;
			goto err_free_data;
		}
		ird->index = (unsigned int)base + i;
		ird->base = (unsigned int)base;
		ird->block = block;
		ird->hi = hi;
		ik_irq_domain_set_hwirq_and_chip(domain, virq + i, ird->index, &ir_chip, ird);
	}
	return 0;

err_free_data:
	while (i--) {
		struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq + i);

		ik_os_free(d->chip_data);
		ik_irq_domain_reset_irq_data(d);
	}
	irte_free_block((unsigned int)base, block);
err_free_parent:
	ik_irq_domain_free_irqs_parent(domain, virq, nr);
	return ret;
}

/*
 * The vector level was activated first: point the entry at its target.
 * An entry already present (reservation mode activates once for the
 * placeholder vector, then again for the real one) is only retargeted: its
 * source id never changes while it is present.
 */
static int ir_activate(struct ik_irq_domain *domain, struct ik_irq_data *d, bool reserve)
{
	struct ir_data *ird = d->chip_data;
	ik_irqflags_t flags;
	uint64_t lo;
	int ret;

	ret = ir_target_lo(d, &lo);
	if (ret)
		return ret;
	flags = ik_os_spin_lock_irqsave(&ir.lock);
	if (!ird->programmed) {
		ird->lo = lo;
		ret = irte_program_locked(ird);
		if (ret)
			irte_clear_locked(ird);
	} else if (lo != ird->lo) {
		ird->lo = lo;
		ret = irte_retarget_locked(ird);
	}
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	return ret;
}

static void ir_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *d)
{
	struct ir_data *ird = d->chip_data;
	ik_irqflags_t flags;

	flags = ik_os_spin_lock_irqsave(&ir.lock);
	if (ird->programmed && irte_clear_locked(ird))
		ik_err("irqkit: irq %u: IRTE %u cleared without invalidation\n", d->irq, ird->index);
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
}

static const struct ik_irq_domain_ops ir_domain_ops = {
	.alloc = ir_alloc,
	.free = ir_free,
	.activate = ir_activate,
	.deactivate = ir_deactivate,
};

/*
 * What remapping offers device domains: what the vector domain offers plus
 * multi-vector MSI (an aligned block of entries, not of vectors).  The
 * per-device behaviour comes from the vector domain, which sees this
 * domain as the real parent and so keeps the plain message-rewrite path.
 */
static const struct ik_msi_parent_ops ir_msi_parent_ops = {
	.supported_flags = IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN |
			   IK_MSI_FLAG_DEVICE_MSI | IK_MSI_FLAG_MULTI_PCI_MSI,
	.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS,
	.bus_select_mask = IK_BIT(IK_MSI_BUS_PCI_MSI) | IK_BIT(IK_MSI_BUS_PCI_MSIX) |
			   IK_BIT(IK_MSI_BUS_IMS) | IK_BIT(IK_MSI_BUS_NTB) |
			   IK_BIT(IK_MSI_BUS_DEVICE),
	.prefix = "IR-",
	.init_dev_msi_info = ik_msi_parent_init_dev_msi_info,
};

/* ---- Enable / disable ------------------------------------------------------------ */

/* Whatever is on goes off: remapping first, then queued invalidation. */
static int unit_disable(void)
{
	uint32_t sts = unit_read32(VTD_GSTS);
	int ret = 0;

	if (sts & GSTS_IRES)
		ret = unit_command(GCMD_IRE, false);
	if (!ret && (sts & GSTS_QIES)) {
		/* A queue still being processed is let drain first. */
		for (unsigned int n = 0; n < CMD_POLL_LIMIT &&
		     unit_read64(VTD_IQH) != unit_read64(VTD_IQT); n++)
			ik_os_cpu_relax();
		ret = unit_command(GCMD_QIE, false);
	}
	return ret;
}

static int unit_enable(unsigned int s)
{
	ik_irqflags_t flags;
	int ret;

	/* An empty table: nothing is present before it is allocated. */
	for (unsigned int i = 0; i < ir.nr_entries; i++) {
		ik_os_mmio_write64(irte_pa(i), 0);
		ik_os_mmio_write64(irte_pa(i) + 8, 0);
	}
	ik_os_mmio_write32(ir.status, 0);
	ir.tail = 0;
	ir.seq = 0;
	unit_write64(VTD_IQA, ir.queue);        /* QS = 0: 256 descriptors */
	unit_write64(VTD_IQT, 0);
	ret = unit_command(GCMD_QIE, true);
	if (ret)
		return ret;
	unit_write64(VTD_IRTA, ir.table | s);   /* EIME clear: xAPIC destinations */
	ret = unit_set_table_pointer();
	if (!ret) {
		/* The unit may hold entries of a previous table: drop them all. */
		flags = ik_os_spin_lock_irqsave(&ir.lock);
		ret = iec_flush_global_locked();
		ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	}
	/* Compatibility-format messages would bypass remapping: keep them blocked. */
	if (!ret && (unit_read32(VTD_GSTS) & GSTS_CFIS))
		ret = unit_command(GCMD_CFI, false);
	if (!ret)
		ret = unit_command(GCMD_IRE, true);
	if (ret)
		unit_disable();
	return ret;
}

static unsigned int ilog2_u(unsigned int n)
{
	unsigned int l = 0;

	while (n >>= 1)
		l++;
	return l;
}

int ik_x86_ir_init(const struct ik_x86_ir_config *cfg)
{
	struct ik_irq_domain *vector = ik_x86_vector_domain();
	unsigned int nr;
	uint64_t ecap;
	uint32_t ver;
	int ret;

	if (ir.ready)
		return -IK_EBUSY;
	if (!cfg || !vector || (cfg->mem_phys & 0xFFF) || cfg->mem_size < IK_X86_IR_MEM_SIZE(2))
		return -IK_EINVAL;
	nr = cfg->nr_entries;
	if (!nr) {
		nr = IK_X86_IR_MAX_ENTRIES;
		while (nr > 2 && IK_X86_IR_MEM_SIZE(nr) > cfg->mem_size)
			nr >>= 1;
	}
	if (nr < 2 || nr > IK_X86_IR_MAX_ENTRIES || (nr & (nr - 1)) ||
	    IK_X86_IR_MEM_SIZE(nr) > cfg->mem_size)
		return -IK_EINVAL;

	ir.unit = cfg->unit_base;
	ver = unit_read32(VTD_VER);
	ecap = unit_read64(VTD_ECAP);
	if (ver == 0xFFFFFFFFu || !ver) {
		ik_err("irqkit: no remapping unit at 0x%llx\n", (unsigned long long)cfg->unit_base);
		return -IK_ENODEV;
	}
	if (!(ecap & ECAP_IR) || !(ecap & ECAP_QI)) {
		ik_err("irqkit: remapping unit lacks %s\n",
		       ecap & ECAP_IR ? "queued invalidation" : "interrupt remapping");
		return -IK_ENODEV;
	}

	ik_os_spin_init(&ir.lock);
	ir.nr_entries = nr;
	ir.max_block = IK_MIN(IK_X86_IR_MAX_BLOCK, 1u << ECAP_MHMV(ecap));
	ir.no_source_id = cfg->no_source_id;
	ir.queue = cfg->mem_phys + MEM_QUEUE;
	ir.status = cfg->mem_phys + MEM_STATUS;
	ir.table = cfg->mem_phys + MEM_TABLE;
	ir.used = 0;
	ik_memset(&ir.stats, 0, sizeof(ir.stats));
	ir.bitmap = ik_os_alloc(IK_DIV_ROUND_UP(nr, 64) * sizeof(uint64_t));
	if (!ir.bitmap)
		return -IK_ENOMEM;
	ir.domain = ik_irq_domain_create_hierarchy(vector, IK_IRQ_DOMAIN_FLAG_MSI_PARENT |
						   (ir.no_source_id ? 0 : IK_IRQ_DOMAIN_FLAG_MSI_REMAP),
						   nr, "INTEL-IR", &ir_domain_ops, NULL);
	if (!ir.domain) {
		ret = -IK_ENOMEM;
		goto err_free_bitmap;
	}
	ret = ik_msi_parent_set_ops(ir.domain, &ir_msi_parent_ops);
	if (ret)
		goto err_remove_domain;
	/* A previous owner (firmware, a kexec'd kernel) may have left it on. */
	ret = unit_disable();
	if (!ret)
		ret = unit_enable(ilog2_u(nr) - 1);
	if (ret)
		goto err_remove_domain;
	ir.stats.entries = nr;
	IK_WRITE_ONCE(ir.ready, true);
	return 0;

err_remove_domain:
	ik_irq_domain_remove(ir.domain);
	ir.domain = NULL;
err_free_bitmap:
	ik_os_free(ir.bitmap);
	ir.bitmap = NULL;
	return ret;
}

int ik_x86_ir_exit(void)
{
	int ret;

	if (!ir.ready)
		return 0;
	ret = ik_irq_domain_remove(ir.domain);
	if (ret)
		return ret;
	IK_WRITE_ONCE(ir.ready, false);
	ir.domain = NULL;
	if (unit_disable())
		ik_err("irqkit: remapping unit did not turn off\n");
	ik_os_free(ir.bitmap);
	ir.bitmap = NULL;
	return 0;
}

/* ---- Queries ---------------------------------------------------------------------- */

struct ik_irq_domain *ik_x86_ir_domain(void)
{
	return IK_READ_ONCE(ir.ready) ? ir.domain : NULL;
}

struct ik_irq_domain *ik_x86_default_msi_parent(void)
{
	struct ik_irq_domain *d = ik_x86_ir_domain();

	return d ? d : ik_x86_vector_domain();
}

bool ik_x86_ir_device_isolated(const struct ik_device *dev)
{
	for (struct ik_irq_domain *d = ik_device_msi_parent(dev); d; d = ik_irq_domain_parent(d))
		if (ik_irq_domain_flags(d) & IK_IRQ_DOMAIN_FLAG_MSI_REMAP)
			return true;
	return false;
}

int ik_x86_ir_irq_info(unsigned int irq, struct ik_x86_ir_irq_info *info)
{
	struct ik_irq_data *d = ik_x86_ir_domain() ? ik_irq_domain_get_irq_data(ir.domain, irq) : NULL;
	const struct ir_data *ird;
	ik_irqflags_t flags;

	if (!d || !d->chip_data || !info)
		return -IK_ENOENT;
	ird = d->chip_data;
	flags = ik_os_spin_lock_irqsave(&ir.lock);
	info->index = ird->index;
	info->handle = ird->base;
	info->sub_handle = ird->index - ird->base;
	info->block = ird->block;
	info->programmed = ird->programmed;
	info->irte_lo = ird->programmed ? ird->lo : 0;
	info->irte_hi = ird->programmed ? ird->hi : 0;
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	return 0;
}

int ik_x86_ir_get_stats(struct ik_x86_ir_stats *stats)
{
	ik_irqflags_t flags;

	if (!ik_x86_ir_domain() || !stats)
		return -IK_ENODEV;
	flags = ik_os_spin_lock_irqsave(&ir.lock);
	*stats = ir.stats;
	stats->used = ir.used;
	ik_os_spin_unlock_irqrestore(&ir.lock, flags);
	return 0;
}
