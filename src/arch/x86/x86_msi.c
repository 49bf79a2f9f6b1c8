// SPDX-License-Identifier: BSD-2-Clause
/*
 * x86-msi: how a device domain directly below the vector domain (no
 * interrupt remapping) rewrites its message when its interrupt moves.
 *
 * The message names the target itself: the address holds the destination
 * APIC ID, the data the vector.  A store writes them as separate registers
 * (PCI MSI: separate configuration writes), and a device that sends between
 * two writes sends whatever the registers hold at that moment.  A move that
 * changes both fields can therefore be seen half done: the new vector on
 * the old CPU, or the old vector on the new CPU.  The vector domain keeps
 * only the old pair and the new pair routed to the interrupt, so either mix
 * reaches no handler and the interrupt is lost.
 *
 * A maskable store is safe: it is masked around the write and sends what
 * arrived meanwhile, with the new message, on unmask.  For the rest the
 * update goes in two steps, each changing one field only:
 *
 *  1. new vector, current CPU (data only): a message sent meanwhile arrives
 *     on the current CPU at the old vector (still routed to the interrupt:
 *     the move keeps it until the first interrupt on the new target) or at
 *     the new vector, whose slot on this CPU was marked beforehand so a hit
 *     there is absorbed, not reported;
 *  2. new vector, new CPU (address only): a message sent meanwhile arrives
 *     at the new vector, here or on the new CPU;
 *  3. the new vector pending in this CPU's IRR means a message hit the
 *     intermediate target: retrigger the interrupt on its new target.
 *
 * Step 3 reads the local APIC, so the update must run on the CPU the
 * interrupt currently targets, with interrupts off (they are: the
 * descriptor lock is held) so that CPU cannot take the vector between the
 * last write and the check.  An update asked from another CPU answers
 * -IK_EBUSY before touching anything; the core keeps the request pending
 * and the vector domain carries it out from the interrupt's next ack, which
 * runs on the right CPU.
 *
 * There is no separate "x86-msi" domain level: which protocol a device
 * domain uses depends on its store and its real parent, so the vector
 * domain installs it in the device domain's chip when the domain is created
 * (an intermediate level such as remapping forwards init_dev_msi_info with
 * itself as the real parent, so remapped domains never get it).  The chip
 * is renamed after the protocol, which is what views show.
 */
#include "x86_msi.h"

#include "apic.h"
#include "core/internals.h"

static struct ik_x86_msi_stats stats;
static bool naive_update;

void x86_msi_reset(void)
{
	ik_memset(&stats, 0, sizeof(stats));
	IK_WRITE_ONCE(naive_update, false);
}

void ik_x86_msi_set_naive_update(bool naive)
{
	IK_WRITE_ONCE(naive_update, naive);
}

void ik_x86_msi_get_stats(struct ik_x86_msi_stats *out)
{
	if (!out)
		return;
	out->direct = IK_READ_ONCE(stats.direct);
	out->masked = IK_READ_ONCE(stats.masked);
	out->two_step = IK_READ_ONCE(stats.two_step);
	out->raced = IK_READ_ONCE(stats.raced);
	out->deferred = IK_READ_ONCE(stats.deferred);
	out->naive = IK_READ_ONCE(stats.naive);
}

/* ---- The predicate ----------------------------------------------------------- */

/*
 * Maskable: the store itself holds a message back while masked.  Masking
 * at the parent does not count: below the vector domain the parent is the
 * local APIC, which cannot mask one vector, so a MASK_PARENT-only store
 * is open while it is rewritten.
 */
static bool x86_msi_maskable(const struct ik_msi_domain_info *info)
{
	return (info->flags & IK_MSI_FLAG_MASK_SOURCE) != 0;
}

/* Remapped: some level between the store and the vector domain owns the target. */
static bool x86_msi_remapped(const struct ik_irq_domain *real_parent)
{
	return real_parent != ik_x86_vector_domain();
}

/* THE slow-path predicate: not maskable and not remapped. */
static bool x86_msi_needs_two_step(const struct ik_msi_domain_info *info,
				   const struct ik_irq_domain *real_parent)
{
	return !x86_msi_maskable(info) && !x86_msi_remapped(real_parent);
}

/* ---- Writing ----------------------------------------------------------------- */

static void write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	d->chip->irq_write_msi_msg(d, msg);
}

static bool same_address(const struct ik_msi_msg *a, const struct ik_msi_msg *b)
{
	return a->address_lo == b->address_lo && a->address_hi == b->address_hi;
}

/* ---- Maskable stores ------------------------------------------------------------ */

static int x86_msi_set_affinity_masked(struct ik_irq_data *d, const ik_cpumask_t *mask,
				       bool force)
{
	const struct ik_msi_domain_info *info = ik_msi_get_domain_info(d->domain);
	int ret = ik_irq_chip_set_affinity_parent(d, mask, force);
	bool open;

	if (ret != IK_IRQ_SET_MASK_OK && ret != IK_IRQ_SET_MASK_OK_NOCOPY)
		return ret;
	/*
	 * Masked, the store keeps what the device sends and delivers it on
	 * unmask with whatever message it then holds: never a mix.
	 */
	open = !ik_irqd_test(d, IK_IRQD_MASKED);
	if (open)
		info->source_mask(d);
	ik_msi_domain_write_msg(d);
	if (open)
		info->source_unmask(d);
	IK_ATOMIC_INC(stats.masked);
	return ret;
}

/* ---- Stores that cannot mask: the two-step update ------------------------------ */

/* Would the vector domain move @vd's interrupt for @mask? (Mirrors assign_vector_locked.) */
static bool vector_would_move(unsigned int cpu, unsigned int vector, const ik_cpumask_t *mask)
{
	return vector == IK_X86_SHUTDOWN_VECTOR || !ik_cpu_is_online(cpu) ||
	       !ik_cpumask_test_cpu(cpu, mask);
}

static int x86_msi_set_affinity_two_step(struct ik_irq_data *d, const ik_cpumask_t *mask,
					 bool force)
{
	struct ik_irq_data *vd = d->parent_data;
	struct ik_msi_msg old_msg, new_msg, mid_msg;
	unsigned int old_cpu, old_vector, new_cpu, new_vector;
	bool started = ik_irqd_test(d, IK_IRQD_STARTED);
	unsigned int here = ik_os_cpu_id();
	int ret;

	x86_vector_get_target(vd, &old_cpu, &old_vector);
	/*
	 * Only the CPU the interrupt targets can run the update (step 3 reads
	 * its IRR).  Elsewhere, refuse before anything changed: the core keeps
	 * the mask pending and the next interrupt's ack, on that CPU, retries.
	 */
	if (started && old_vector != IK_X86_SHUTDOWN_VECTOR && here != old_cpu &&
	    vector_would_move(old_cpu, old_vector, mask)) {
		IK_ATOMIC_INC(stats.deferred);
		return -IK_EBUSY;
	}
	if (ik_irq_chip_compose_msi_msg(vd, &old_msg))
		return -IK_EIO;
	ret = ik_irq_chip_set_affinity_parent(d, mask, force);
	if (ret != IK_IRQ_SET_MASK_OK && ret != IK_IRQ_SET_MASK_OK_NOCOPY)
		return ret;
	x86_vector_get_target(vd, &new_cpu, &new_vector);
	if (ik_irq_chip_compose_msi_msg(vd, &new_msg))
		return -IK_EIO;

	/*
	 * One write is enough when nothing can be delivered through a mix:
	 * the interrupt is not started (no handler, nothing to lose), nothing
	 * was routed before (placeholder vector), or only one field changes
	 * (each register write then yields the old or the new message).
	 */
	if (!started || old_vector == IK_X86_SHUTDOWN_VECTOR || old_msg.data == new_msg.data ||
	    same_address(&old_msg, &new_msg)) {
		ik_msi_domain_write_msg(d);
		IK_ATOMIC_INC(stats.direct);
		return ret;
	}
	if (IK_READ_ONCE(naive_update)) {
		ik_msi_domain_write_msg(d);
		IK_ATOMIC_INC(stats.naive);
		return ret;
	}
	/* Cannot happen (checked above); a remote update could not check the IRR. */
	if (IK_WARN_ON(here != old_cpu)) {
		ik_msi_domain_write_msg(d);
		IK_ATOMIC_INC(stats.direct);
		return ret;
	}

	/* 1. New vector, current CPU: a message sent now lands here either way. */
	x86_vector_mark_stray_slot(old_cpu, new_vector);
	mid_msg = old_msg;
	mid_msg.data = new_msg.data;
	write_msg(d, &mid_msg);
	/* 2. New CPU: the vector no longer changes. */
	ik_msi_domain_write_msg(d);
	/*
	 * 3. From here on every message goes to the new target.  One sent
	 * between the writes and caught at the intermediate target waits in
	 * this CPU's IRR (interrupts are off): send it to the new target.  Its
	 * copy here is absorbed by the marked slot when this CPU takes it.
	 */
	if (apic_irr_pending(new_vector)) {
		ik_irq_chip_retrigger_hierarchy(d);
		IK_ATOMIC_INC(stats.raced);
	}
	IK_ATOMIC_INC(stats.two_step);
	return ret;
}

/* ---- Installing it --------------------------------------------------------------- */

int x86_msi_init_dev_msi_info(struct ik_device *dev, struct ik_irq_domain *domain,
			      struct ik_irq_domain *real_parent, struct ik_msi_domain_info *info)
{
	struct ik_irq_chip *chip = info->chip;
	int ret = ik_msi_lib_init_dev_msi_info(dev, domain, real_parent, info);

	if (ret)
		return ret;
	/*
	 * Only where the generic rewrite was installed: a remapped domain keeps
	 * it (its message never names a vector), a store with its own affinity
	 * callback or IK_MSI_FLAG_NO_AFFINITY is left alone.
	 */
	if (x86_msi_remapped(real_parent) || chip->irq_set_affinity != ik_msi_domain_set_affinity)
		return 0;
	if (x86_msi_needs_two_step(info, real_parent)) {
		chip->irq_set_affinity = x86_msi_set_affinity_two_step;
		chip->name = IK_X86_MSI_CHIP_TWO_STEP;
	} else {
		chip->irq_set_affinity = x86_msi_set_affinity_masked;
		chip->name = IK_X86_MSI_CHIP_MASKED;
	}
	return 0;
}

enum ik_x86_msi_protocol ik_x86_msi_domain_protocol(const struct ik_irq_domain *domain)
{
	const struct ik_msi_domain_info *info = ik_msi_get_domain_info(domain);

	if (!info || !info->chip)
		return IK_X86_MSI_NONE;
	if (info->chip->irq_set_affinity == x86_msi_set_affinity_two_step)
		return IK_X86_MSI_TWO_STEP;
	if (info->chip->irq_set_affinity == x86_msi_set_affinity_masked)
		return IK_X86_MSI_MASKED;
	return IK_X86_MSI_NONE;
}
