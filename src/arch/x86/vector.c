// SPDX-License-Identifier: BSD-2-Clause
/*
 * The x86 vector domain: root of every x86 interrupt hierarchy.
 *
 * Each interrupt owns at most one (CPU, vector) pair, plus the previous
 * pair while a move is in progress.  Vectors are scarce (about 200 per
 * CPU), so an allocated but not requested interrupt holds only a global
 * reservation and points at the shutdown placeholder; activation turns the
 * reservation into a real vector.  Managed interrupts instead reserve one
 * vector on every CPU of their mask, so their activation cannot fail.
 *
 * Moves never lose an interrupt: the old vector stays routed to the
 * interrupt until the first interrupt arrives on the new one, and is then
 * released on the old CPU, but only once that CPU's IRR no longer holds it.
 *
 * Locking: vector_lock (a spinlock, interrupts off) protects the matrix,
 * the per-CPU tables and every apic_chip_data.  It nests inside the
 * descriptor lock.  The tables are read without it on interrupt entry.
 */
#include <irqkit/matrix.h>
#include <irqkit/msi.h>

#include "apic.h"
#include "core/internals.h"
#include "x86_msi.h"

struct apic_chip_data {
	unsigned int irq;
	unsigned int cpu;
	unsigned int vector;            /* IK_X86_SHUTDOWN_VECTOR when none */
	unsigned int prev_cpu;
	unsigned int prev_vector;
	/*
	 * Software retriggers sent to the new target while a move is in
	 * progress and not yet matched by a hit there (desc lock; atomic for
	 * the unlocked peek).  See vector_retrigger().
	 */
	unsigned int move_retriggers;
	bool move_in_progress;
	bool is_managed;
	bool has_reserved;              /* holds a global matrix reservation */
	bool on_cleanup_list;
	struct ik_irq_desc *desc;
	struct apic_chip_data *cleanup_next;
};

/* Special values of a vector table slot besides a descriptor pointer. */
#define VECTOR_UNUSED ((struct ik_irq_desc *)0)
#define VECTOR_SHUTDOWN ((struct ik_irq_desc *)1)
#define VECTOR_RETRIGGERED ((struct ik_irq_desc *)2)
#define vector_is_desc(d) ((uintptr_t)(d) > 2)

typedef struct ik_irq_desc *vector_table_t[IK_X86_NR_VECTORS];

static struct {
	bool ready;
	struct ik_irq_domain *domain;
	struct ik_irq_matrix *matrix;
	ik_spinlock_t lock;
	unsigned int nr_cpus;
	vector_table_t *vector_irq;             /* [nr_cpus] */
	uint32_t *apic_id;                      /* [nr_cpus] */
	unsigned int *cur_vector;               /* [nr_cpus], vector being serviced */
	struct ik_x86_vector_stats *stats;      /* [nr_cpus] */
	struct apic_chip_data **cleanup_list;   /* [nr_cpus] */
	struct ik_os_work cleanup_retry;
	uint8_t port_vectors[16];
	unsigned int nr_port_vectors;
} vec;

static const struct ik_irq_chip vector_chip;

/* ---- Targets ------------------------------------------------------------ */

static void set_slot(unsigned int cpu, unsigned int vector, struct ik_irq_desc *desc)
{
	IK_WRITE_ONCE(vec.vector_irq[cpu][vector], desc);
}

static void set_target(struct ik_irq_data *d, unsigned int cpu, unsigned int vector)
{
	struct apic_chip_data *apicd = d->chip_data;
	ik_cpumask_t eff;

	apicd->cpu = cpu;
	apicd->vector = vector;
	if (vector != IK_X86_SHUTDOWN_VECTOR)
		set_slot(cpu, vector, apicd->desc);
	ik_cpumask_clear(&eff);
	ik_cpumask_set_cpu(cpu, &eff);
	ik_irq_data_update_effective_affinity(d, &eff);
}

static bool has_vector(const struct apic_chip_data *apicd)
{
	return apicd->vector != IK_X86_SHUTDOWN_VECTOR;
}

static unsigned int first_online_cpu(void)
{
	unsigned int cpu = ik_cpumask_first(ik_cpu_online_mask());

	return cpu < vec.nr_cpus ? cpu : 0;
}

static void cleanup_list_remove(struct apic_chip_data *apicd)
{
	struct apic_chip_data **pp;

	if (!apicd->on_cleanup_list)
		return;
	for (pp = &vec.cleanup_list[apicd->prev_cpu]; *pp; pp = &(*pp)->cleanup_next) {
		if (*pp == apicd) {
			*pp = apicd->cleanup_next;
			break;
		}
	}
	apicd->cleanup_next = NULL;
	apicd->on_cleanup_list = false;
}

/* Release the previous vector of a move.  vector_lock held. */
static void free_prev_vector(struct apic_chip_data *apicd, struct ik_irq_desc *mark)
{
	ik_lockdep_assert_held(&vec.lock);
	if (!apicd->move_in_progress)
		return;
	cleanup_list_remove(apicd);
	set_slot(apicd->prev_cpu, apicd->prev_vector, mark);
	ik_irq_matrix_free(vec.matrix, apicd->prev_cpu, apicd->prev_vector, apicd->is_managed);
	IK_WRITE_ONCE(apicd->move_in_progress, false);
	IK_ATOMIC_INC(vec.stats[apicd->prev_cpu].cleanups);
}

/*
 * Release every vector of @apicd and point it at the placeholder.  The
 * released slots are marked shut down: a message that was already on its
 * way when the interrupt was deactivated is absorbed, not reported.
 */
static void clear_vectors(struct ik_irq_data *d)
{
	struct apic_chip_data *apicd = d->chip_data;

	ik_lockdep_assert_held(&vec.lock);
	free_prev_vector(apicd, VECTOR_SHUTDOWN);
	if (has_vector(apicd)) {
		set_slot(apicd->cpu, apicd->vector, VECTOR_SHUTDOWN);
		ik_irq_matrix_free(vec.matrix, apicd->cpu, apicd->vector, apicd->is_managed);
	}
	set_target(d, first_online_cpu(), IK_X86_SHUTDOWN_VECTOR);
}

static void send_ipi(unsigned int cpu, unsigned int vector)
{
	ik_irqflags_t flags = ik_os_irq_save();

	apic_send_ipi(vec.apic_id[cpu], vector);
	ik_os_irq_restore(flags);
}

/*
 * Release (@cpu, @vector) without waiting for an interrupt on the new
 * target.  Only @cpu can read its own IRR: there an interrupt still
 * latched is replayed on the new target; from elsewhere it is replayed
 * unconditionally (at worst one extra interrupt, never a lost one).  The
 * slot is marked so that a stale IRR bit taken later is absorbed silently.
 * Return: true if the interrupt must be replayed on its new target.
 */
static bool release_vector_now(struct apic_chip_data *apicd, unsigned int cpu,
			       unsigned int vector)
{
	bool replay = cpu == ik_os_cpu_id() ? apic_irr_pending(vector) : true;

	set_slot(cpu, vector, VECTOR_RETRIGGERED);
	ik_irq_matrix_free(vec.matrix, cpu, vector, apicd->is_managed);
	return replay;
}

/*
 * Switch @d to (@cpu, @vector).  The old pair stays routed to the
 * interrupt as the move's previous target, also when its CPU is going
 * offline: the dying CPU releases it only after every device message has
 * been rewritten (see ik_x86_cpu_offline()).
 */
static void update_vector(struct ik_irq_data *d, unsigned int cpu, unsigned int vector)
{
	struct apic_chip_data *apicd = d->chip_data;

	ik_lockdep_assert_held(&vec.lock);
	if (has_vector(apicd)) {
		apicd->prev_cpu = apicd->cpu;
		apicd->prev_vector = apicd->vector;
		IK_WRITE_ONCE(apicd->move_retriggers, 0);
		IK_WRITE_ONCE(apicd->move_in_progress, true);
	}
	set_target(d, cpu, vector);
}

static int assign_vector_locked(struct ik_irq_data *d, const ik_cpumask_t *dest, bool reserved)
{
	struct apic_chip_data *apicd = d->chip_data;
	unsigned int cpu;
	int vector;

	ik_lockdep_assert_held(&vec.lock);
	/* Already on an online CPU of the mask: nothing to do. */
	if (has_vector(apicd) && ik_cpu_is_online(apicd->cpu) &&
	    ik_cpumask_test_cpu(apicd->cpu, dest))
		return 0;
	/* One move at a time: the core retries from the next interrupt. */
	if (apicd->move_in_progress)
		return -IK_EBUSY;
	if (apicd->is_managed)
		vector = ik_irq_matrix_alloc_managed(vec.matrix, dest, &cpu);
	else
		vector = ik_irq_matrix_alloc(vec.matrix, dest, reserved, &cpu);
	if (vector < 0)
		return vector;
	update_vector(d, cpu, (unsigned int)vector);
	return 0;
}

/* ---- Domain ops ------------------------------------------------------------ */

static void vector_free_one(struct ik_irq_domain *domain, unsigned int virq)
{
	struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq);
	struct apic_chip_data *apicd;
	ik_irqflags_t flags;

	if (!d || !d->chip_data)
		return;
	apicd = d->chip_data;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	clear_vectors(d);
	if (apicd->has_reserved)
		ik_irq_matrix_remove_reserved(vec.matrix);
	if (apicd->is_managed)
		ik_irq_matrix_remove_managed(vec.matrix, &d->common->affinity);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	ik_irq_domain_reset_irq_data(d);
	ik_os_free(apicd);
}

static void vector_free(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		vector_free_one(domain, virq + i);
}

static int vector_alloc(struct ik_irq_domain *domain, unsigned int virq, unsigned int nr,
			void *arg)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		struct ik_irq_data *d = ik_irq_domain_get_irq_data(domain, virq + i);
		struct apic_chip_data *apicd = ik_os_alloc(sizeof(*apicd));
		ik_irqflags_t flags;

		if (!apicd) {
			ret = -IK_ENOMEM;
			goto err_free;
		}
		apicd->irq = virq + i;
		apicd->desc = ik_irq_data_to_desc(d);
		apicd->is_managed = ik_irqd_test(d, IK_IRQD_AFFINITY_MANAGED);
		flags = ik_os_spin_lock_irqsave(&vec.lock);
		if (apicd->is_managed) {
			ret = ik_irq_matrix_reserve_managed(vec.matrix, &d->common->affinity);
		} else {
			ik_irq_matrix_reserve(vec.matrix);
			apicd->has_reserved = true;
			ret = 0;
		}
		ik_os_spin_unlock_irqrestore(&vec.lock, flags);
		if (ret) {
			ik_os_free(apicd);
			goto err_free;
		}
		d->chip_data = apicd;
		apicd->vector = IK_X86_SHUTDOWN_VECTOR;
		apicd->cpu = first_online_cpu();
		ik_irq_domain_set_info(domain, virq + i, virq + i, &vector_chip, apicd,
				       ik_handle_edge_irq, NULL);
		ik_irqd_set(d, IK_IRQD_SINGLE_TARGET | IK_IRQD_HANDLE_ENFORCE_IRQCTX |
			       IK_IRQD_AFFINITY_ON_ACTIVATE);
		if (!apicd->is_managed)
			ik_irqd_set(d, IK_IRQD_CAN_RESERVE);
	}
	return 0;

err_free:
	vector_free(domain, virq, i);
	return ret;
}

static int vector_activate(struct ik_irq_domain *domain, struct ik_irq_data *d, bool reserve)
{
	struct apic_chip_data *apicd = d->chip_data;
	ik_cpumask_t mask;
	ik_irqflags_t flags;
	int ret = 0;

	flags = ik_os_spin_lock_irqsave(&vec.lock);
	if (reserve || has_vector(apicd))
		goto out_unlock;       /* placeholder, or already live */
	if (!ik_cpumask_and(&mask, &d->common->affinity, ik_cpu_online_mask())) {
		if (apicd->is_managed) {
			ret = -IK_EINVAL;
			goto out_unlock;
		}
		ik_cpumask_copy(&mask, ik_cpu_online_mask());
	}
	ret = assign_vector_locked(d, &mask, apicd->has_reserved);
	if (ret == -IK_ENOSPC && !apicd->is_managed &&
	    !ik_cpumask_equal(&mask, ik_cpu_online_mask())) {
		ik_warn("irqkit: irq %u: affinity broken due to vector space exhaustion", d->irq);
		ret = assign_vector_locked(d, ik_cpu_online_mask(), apicd->has_reserved);
	}
	if (!ret && apicd->has_reserved)
		apicd->has_reserved = false;    /* consumed by the allocation */
out_unlock:
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return ret;
}

static void vector_deactivate(struct ik_irq_domain *domain, struct ik_irq_data *d)
{
	struct apic_chip_data *apicd = d->chip_data;
	ik_irqflags_t flags;

	flags = ik_os_spin_lock_irqsave(&vec.lock);
	clear_vectors(d);
	if (!apicd->is_managed && !apicd->has_reserved) {
		ik_irq_matrix_reserve(vec.matrix);
		apicd->has_reserved = true;
	}
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
}

/*
 * Without remapping a vector block on one CPU cannot be guaranteed to be
 * aligned and contiguous, so multi-vector MSI is not offered: PCI falls back
 * to one vector.  MSI-X entries and device stores are independent slots,
 * so they may grow after enable.
 */
static const struct ik_msi_parent_ops x86_vector_msi_parent_ops = {
	.supported_flags = IK_MSI_FLAG_PCI_MSIX | IK_MSI_FLAG_PCI_MSIX_ALLOC_DYN |
			   IK_MSI_FLAG_DEVICE_MSI,
	.required_flags = IK_MSI_FLAG_USE_DEF_DOM_OPS | IK_MSI_FLAG_USE_DEF_CHIP_OPS,
	.bus_select_mask = IK_BIT(IK_MSI_BUS_PCI_MSI) | IK_BIT(IK_MSI_BUS_PCI_MSIX) |
			   IK_BIT(IK_MSI_BUS_IMS) | IK_BIT(IK_MSI_BUS_NTB) |
			   IK_BIT(IK_MSI_BUS_DEVICE),
	.prefix = "",
	/* Direct children also get the x86-msi affinity protocol (x86_msi.c). */
	.init_dev_msi_info = x86_msi_init_dev_msi_info,
};

static const struct ik_irq_domain_ops vector_domain_ops = {
	.alloc = vector_alloc,
	.free = vector_free,
	.activate = vector_activate,
	.deactivate = vector_deactivate,
};

/* ---- Chip ----------------------------------------------------------------- */

static void cleanup_handler(void *arg);

/*
 * Complete a move at once, without waiting for an interrupt on the new
 * target (CPU offline).  See release_vector_now() for why that cannot lose
 * the interrupt.
 */
static void force_complete_move(struct apic_chip_data *apicd)
{
	bool replay;

	ik_lockdep_assert_held(&vec.lock);
	if (!apicd->move_in_progress)
		return;
	cleanup_list_remove(apicd);
	replay = release_vector_now(apicd, apicd->prev_cpu, apicd->prev_vector);
	IK_WRITE_ONCE(apicd->move_in_progress, false);
	IK_ATOMIC_INC(vec.stats[apicd->prev_cpu].cleanups);
	if (replay)
		send_ipi(apicd->cpu, apicd->vector);
}


static void cleanup_retry_fn(struct ik_os_work *work)
{
	ik_cpumask_t cpus;
	ik_irqflags_t flags;
	unsigned int cpu;

	ik_cpumask_clear(&cpus);
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	for (cpu = 0; cpu < vec.nr_cpus; cpu++)
		if (vec.cleanup_list[cpu])
			ik_cpumask_set_cpu(cpu, &cpus);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	/* Outside the lock: a call to the current CPU may run right here. */
	ik_for_each_cpu(cpu, &cpus)
		ik_os_cpu_call(cpu, cleanup_handler, NULL, false);
}

/*
 * Runs on the old CPU of moves.  A previous vector still pending in this
 * CPU's IRR will be delivered to the interrupt through the old slot, so
 * its release is postponed; the retry goes through process context so
 * that the pending vector is taken first (an immediate re-IPI would win
 * on priority and starve it).
 */
static void cleanup_handler(void *arg)
{
	unsigned int cpu = ik_os_cpu_id();
	struct apic_chip_data **pp;
	bool retry = false;

	ik_os_spin_lock(&vec.lock);
	pp = &vec.cleanup_list[cpu];
	while (*pp) {
		struct apic_chip_data *apicd = *pp;

		if (apic_irr_pending(apicd->prev_vector)) {
			IK_ATOMIC_INC(vec.stats[cpu].cleanups_postponed);
			retry = true;
			pp = &apicd->cleanup_next;
			continue;
		}
		free_prev_vector(apicd, VECTOR_UNUSED);
	}
	ik_os_spin_unlock(&vec.lock);
	if (retry)
		ik_os_work_queue(&vec.cleanup_retry);
}

/* The first interrupt arrived on the new target: release the old one. */
static void complete_move(struct apic_chip_data *apicd, unsigned int cpu, unsigned int vector)
{
	unsigned int target = ~0u;

	ik_os_spin_lock(&vec.lock);
	if (apicd->move_in_progress && !apicd->on_cleanup_list && apicd->cpu == cpu &&
	    apicd->vector == vector) {
		/* Perhaps our own retrigger, which proves nothing: wait for the next hit. */
		if (IK_READ_ONCE(apicd->move_retriggers)) {
			IK_ATOMIC_DEC(apicd->move_retriggers);
			ik_os_spin_unlock(&vec.lock);
			return;
		}
		/*
		 * A previous CPU that is going offline releases the vector
		 * itself once all messages are rewritten; only it can tell
		 * whether an interrupt is still latched there.
		 */
		if (ik_cpu_is_online(apicd->prev_cpu)) {
			apicd->cleanup_next = vec.cleanup_list[apicd->prev_cpu];
			vec.cleanup_list[apicd->prev_cpu] = apicd;
			apicd->on_cleanup_list = true;
			target = apicd->prev_cpu;
		}
	}
	ik_os_spin_unlock(&vec.lock);
	if (target != ~0u)
		ik_os_cpu_call(target, cleanup_handler, NULL, false);
}

static void vector_ack(struct ik_irq_data *d)
{
	struct apic_chip_data *apicd = d->chip_data;

	/* Unlocked peek; complete_move() re-checks under the lock. */
	if (ik_unlikely(IK_READ_ONCE(apicd->move_in_progress))) {
		unsigned int cpu = ik_os_cpu_id();

		complete_move(apicd, cpu, vec.cur_vector[cpu]);
	}
	apic_eoi();
	/* A move that had to wait for the previous one can go now. */
	if (ik_unlikely(ik_irqd_test(d, IK_IRQD_SETAFFINITY_PENDING)))
		ik_irq_move_pending(apicd->desc);
}

static int vector_set_affinity(struct ik_irq_data *d, const ik_cpumask_t *dest, bool force)
{
	ik_irqflags_t flags;
	int ret;

	flags = ik_os_spin_lock_irqsave(&vec.lock);
	ret = assign_vector_locked(d, dest, false);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return ret ? ret : IK_IRQ_SET_MASK_OK;
}

static void vector_compose_msi_msg(struct ik_irq_data *d, struct ik_msi_msg *msg)
{
	struct apic_chip_data *apicd = d->chip_data;
	uint32_t dest = vec.apic_id[apicd->cpu];

	if (dest > 0xFF)
		ik_warn("irqkit: irq %u: APIC ID %u needs extended destination IDs", d->irq, dest);
	msg->address_hi = 0;
	msg->address_lo = MSI_ADDR_BASE | ((dest & 0xFF) << MSI_ADDR_DEST_SHIFT);
	msg->data = MSI_DATA_DM_FIXED | MSI_DATA_TRIGGER_EDGE | (apicd->vector & MSI_DATA_VECTOR_MASK);
}

/*
 * A move completes on the first hit at the new target because the device
 * sent it after the rewrite, so everything the device sent earlier to the
 * old target has already landed there (posted writes stay in order).  A
 * software retrigger carries no such proof: a message sent before the
 * rewrite may still be on its way to the old slot.  Each retrigger during
 * a move therefore cancels one hit; a retrigger that merges with a device
 * hit in the IRR only delays the release to the next interrupt.
 */
static int vector_retrigger(struct ik_irq_data *d)
{
	struct apic_chip_data *apicd = d->chip_data;

	if (IK_READ_ONCE(apicd->move_in_progress))
		IK_ATOMIC_INC(apicd->move_retriggers);
	send_ipi(apicd->cpu, apicd->vector);
	return 1;
}

static const struct ik_irq_chip vector_chip = {
	.name = "APIC",
	.irq_ack = vector_ack,
	.irq_set_affinity = vector_set_affinity,
	.irq_compose_msi_msg = vector_compose_msi_msg,
	.irq_retrigger = vector_retrigger,
};

/* ---- Entry ------------------------------------------------------------------ */

void ik_x86_common_interrupt(unsigned int vector)
{
	unsigned int cpu = ik_os_cpu_id();
	struct ik_irq_desc *desc;

	if (ik_unlikely(!vec.ready || cpu >= vec.nr_cpus || vector >= IK_X86_NR_VECTORS)) {
		apic_eoi();
		return;
	}
	desc = IK_READ_ONCE(vec.vector_irq[cpu][vector]);
	if (ik_likely(vector_is_desc(desc))) {
		unsigned int outer = vec.cur_vector[cpu];

		ik_irq_flow_handler_t handler = IK_READ_ONCE(desc->handle_irq);

		if (ik_likely(handler)) {
			vec.cur_vector[cpu] = vector;
			handler(desc);
			vec.cur_vector[cpu] = outer;
			return;
		}
		IK_ATOMIC_INC(vec.stats[cpu].spurious);
		apic_eoi();
		return;
	}
	apic_eoi();
	if (desc == VECTOR_UNUSED) {
		IK_ATOMIC_INC(vec.stats[cpu].spurious);
		ik_warn("irqkit: cpu %u: no irq handler for vector 0x%x", cpu, vector);
	} else {
		/* A stray hit on a released slot: absorb it once, then forget the slot. */
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&vec.lock);

		if (desc == VECTOR_SHUTDOWN)
			IK_ATOMIC_INC(vec.stats[cpu].shutdown_hits);
		else
			IK_ATOMIC_INC(vec.stats[cpu].retriggered_hits);
		if (vector != IK_X86_SHUTDOWN_VECTOR &&
		    IK_READ_ONCE(vec.vector_irq[cpu][vector]) == desc)
			set_slot(cpu, vector, VECTOR_UNUSED);
		ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	}
}

/* ---- CPU hotplug ------------------------------------------------------------ */

int ik_x86_cpu_online(void)
{
	unsigned int cpu = ik_os_cpu_id();
	ik_irqflags_t flags;

	if (!vec.ready || cpu >= vec.nr_cpus)
		return -IK_ENODEV;
	vec.apic_id[cpu] = apic_read(APIC_ID) >> 24;
	apic_write(APIC_TPR, 0);
	/*
	 * Level I/O APIC entries are EOIed at the I/O APIC (directed EOI:
	 * ioapic.c, needed under remapping, where the LAPIC sees an edge).  A
	 * broadcast on top would clear Remote IRR early: the entry, still
	 * asserted, sends again and the directed EOI then clears the Remote
	 * IRR of that new message.  So suppress the broadcast where the LAPIC
	 * can (version bit 24).
	 */
	apic_write(APIC_SVR, APIC_SVR_ENABLE | 0xFF |
		   (apic_read(APIC_LVR) & APIC_LVR_SUPPRESS_EOI_BROADCAST ?
		    APIC_SVR_SUPPRESS_EOI_BROADCAST : 0));

	flags = ik_os_spin_lock_irqsave(&vec.lock);
	for (unsigned int v = 0; v < IK_X86_NR_VECTORS; v++)
		set_slot(cpu, v, VECTOR_UNUSED);
	set_slot(cpu, IK_X86_SHUTDOWN_VECTOR, VECTOR_SHUTDOWN);
	ik_irq_matrix_online(vec.matrix, cpu);
	ik_cpu_set_online(cpu, true);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);

	ik_irq_affinity_online_cpu(cpu);
	return 0;
}

static int migrate_one(unsigned int irq, void *arg)
{
	unsigned int cpu = *(unsigned int *)arg;
	struct ik_irq_data *d = ik_irq_domain_get_irq_data(vec.domain, irq);
	struct ik_irq_desc *desc;
	struct ik_irq_data *outer;
	struct apic_chip_data *apicd;
	ik_cpumask_t mask;
	ik_irqflags_t flags;
	int ret;

	if (!d || !d->chip_data)
		return 0;
	desc = ik_irq_to_desc(irq);
	outer = ik_irq_desc_get_irq_data(desc);
	apicd = d->chip_data;
	flags = ik_irq_desc_lock(desc);

	/* Moving again needs the previous move finished (previous target elsewhere). */
	ik_os_spin_lock(&vec.lock);
	if (apicd->cpu == cpu)
		force_complete_move(apicd);
	ik_os_spin_unlock(&vec.lock);

	if (apicd->cpu != cpu || !has_vector(apicd) || !ik_irqd_test(outer, IK_IRQD_ACTIVATED))
		goto out_unlock;
	if (ik_irqd_test(outer, IK_IRQD_SETAFFINITY_PENDING))
		ik_cpumask_copy(&mask, &desc->pending_mask);
	else
		ik_cpumask_copy(&mask, &outer->common->affinity);
	/*
	 * Pass the requested mask itself, not its online part: the move uses
	 * only online CPUs anyway, and the requested affinity (reported apart
	 * from the effective one) must keep the CPU going away.
	 */
	if (!ik_cpumask_intersects(&mask, ik_cpu_online_mask())) {
		if (apicd->is_managed) {
			ik_irq_shutdown_managed(desc);
			goto out_unlock;
		}
		ik_info("irqkit: irq %u: no longer affine to cpu %u", irq, cpu);
		ik_cpumask_copy(&mask, ik_cpu_online_mask());
	}
	ret = ik_irq_do_set_affinity(outer, &mask, false);
	if (ret == -IK_ENOSPC && !apicd->is_managed)
		ret = ik_irq_do_set_affinity(outer, ik_cpu_online_mask(), false);
	if (ret)
		ik_err("irqkit: irq %u: cannot move off cpu %u: %s", irq, cpu, ik_strerror(ret));
out_unlock:
	ik_irq_desc_unlock(desc, flags);
	return 0;
}

/*
 * Last step on the dying CPU: every interrupt has left it and every device
 * message has been rewritten, so nothing new can arrive here.  Release the
 * vectors the moves left behind, replaying on its new target any interrupt
 * still latched in this CPU's IRR.  (On real hardware the port must let
 * messages already in flight land before calling ik_x86_cpu_offline()'s
 * caller takes the CPU down.)
 */
static int release_left_behind(unsigned int irq, void *arg)
{
	unsigned int cpu = *(unsigned int *)arg;
	struct ik_irq_data *d = ik_irq_domain_get_irq_data(vec.domain, irq);
	struct apic_chip_data *apicd;

	if (!d || !d->chip_data)
		return 0;
	apicd = d->chip_data;
	ik_os_spin_lock(&vec.lock);
	if (apicd->move_in_progress && apicd->prev_cpu == cpu)
		force_complete_move(apicd);
	ik_os_spin_unlock(&vec.lock);
	return 0;
}

int ik_x86_cpu_offline(void)
{
	unsigned int cpu = ik_os_cpu_id();
	unsigned int irqs[IK_X86_NR_VECTORS];
	unsigned int nr = 0;
	ik_irqflags_t flags;
	bool ok;

	if (!vec.ready || cpu >= vec.nr_cpus || !ik_cpu_is_online(cpu))
		return -IK_ENODEV;
	if (ik_cpumask_weight(ik_cpu_online_mask()) == 1)
		return -IK_EBUSY;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	ok = ik_irq_matrix_can_offline(vec.matrix, cpu);
	if (ok)
		ik_cpu_set_online(cpu, false);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	if (!ok)
		return -IK_ENOSPC;

	/*
	 * Only interrupts with a vector on this CPU (current, or the previous
	 * one of a move in progress) have anything to do here, and each of
	 * them holds a slot of its vector table: walk those (a snapshot taken
	 * before anything moves), not every interrupt of the system, so that
	 * an offline costs time in the vectors it migrates.
	 */
	flags = ik_os_irq_save();
	ik_os_spin_lock(&vec.lock);
	for (unsigned int v = 0; v < IK_X86_NR_VECTORS; v++) {
		struct ik_irq_desc *desc = vec.vector_irq[cpu][v];

		if (vector_is_desc(desc))
			irqs[nr++] = ik_irq_desc_get_irq_data(desc)->irq;
	}
	ik_os_spin_unlock(&vec.lock);
	for (unsigned int i = 0; i < nr; i++)
		migrate_one(irqs[i], &cpu);
	for (unsigned int i = 0; i < nr; i++)
		release_left_behind(irqs[i], &cpu);
	ik_os_spin_lock(&vec.lock);
	ik_irq_matrix_offline(vec.matrix, cpu);
	ik_os_spin_unlock(&vec.lock);
	ik_os_irq_restore(flags);
	return 0;
}

/* ---- For the x86-msi protocol (x86_msi.h) ------------------------------------ */

void x86_vector_get_target(const struct ik_irq_data *vd, unsigned int *cpu, unsigned int *vector)
{
	const struct apic_chip_data *apicd = vd->chip_data;
	ik_irqflags_t flags = ik_os_spin_lock_irqsave(&vec.lock);

	*cpu = apicd->cpu;
	*vector = apicd->vector;
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
}

void x86_vector_mark_stray_slot(unsigned int cpu, unsigned int vector)
{
	ik_irqflags_t flags;

	if (cpu >= vec.nr_cpus || vector >= IK_X86_NR_VECTORS)
		return;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	/* Reset to unused when the stray is taken, or at the CPU's next bring-up. */
	if (!vector_is_desc(vec.vector_irq[cpu][vector]))
		set_slot(cpu, vector, VECTOR_RETRIGGERED);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
}

/* ---- Setup and queries ----------------------------------------------------- */

static void *alloc_array(size_t n, size_t size)
{
	return ik_os_alloc(n * size);
}

static void free_tables(void)
{
	ik_irq_matrix_destroy(vec.matrix);
	ik_os_free(vec.vector_irq);
	ik_os_free(vec.apic_id);
	ik_os_free(vec.cur_vector);
	ik_os_free(vec.stats);
	ik_os_free(vec.cleanup_list);
	vec.matrix = NULL;
	vec.vector_irq = NULL;
	vec.apic_id = NULL;
	vec.cur_vector = NULL;
	vec.stats = NULL;
	vec.cleanup_list = NULL;
}

int ik_x86_vector_init(const uint8_t *extra_system_vectors, unsigned int nr_extra)
{
	unsigned int n = ik_os_cpu_count();
	int ret = -IK_ENOMEM;

	if (vec.ready)
		return -IK_EBUSY;
	if (!ik_core_ready() || n == 0 || n > IK_CPUS_MAX || nr_extra > IK_ARRAY_SIZE(vec.port_vectors))
		return -IK_EINVAL;
	for (unsigned int i = 0; i < nr_extra; i++)
		if (extra_system_vectors[i] < IK_X86_FIRST_EXTERNAL_VECTOR)
			return -IK_EINVAL;
	vec.nr_cpus = n;
	vec.matrix = ik_irq_matrix_create(IK_X86_NR_VECTORS, IK_X86_FIRST_EXTERNAL_VECTOR,
					  IK_X86_FIRST_SYSTEM_VECTOR, n);
	vec.vector_irq = alloc_array(n, sizeof(*vec.vector_irq));
	vec.apic_id = alloc_array(n, sizeof(*vec.apic_id));
	vec.cur_vector = alloc_array(n, sizeof(*vec.cur_vector));
	vec.stats = alloc_array(n, sizeof(*vec.stats));
	vec.cleanup_list = alloc_array(n, sizeof(*vec.cleanup_list));
	if (!vec.matrix || !vec.vector_irq || !vec.apic_id || !vec.cur_vector || !vec.stats ||
	    !vec.cleanup_list)
		goto err_free_tables;
	for (unsigned int cpu = 0; cpu < n; cpu++)
		vec.apic_id[cpu] = UINT32_MAX;
	/* System vectors: the syscall gate and everything the port owns. */
	ret = ik_irq_matrix_assign_system(vec.matrix, IK_X86_SYSCALL_VECTOR);
	for (unsigned int i = 0; i < nr_extra && !ret; i++)
		if (extra_system_vectors[i] < IK_X86_FIRST_SYSTEM_VECTOR)
			ret = ik_irq_matrix_assign_system(vec.matrix, extra_system_vectors[i]);
	if (ret)
		goto err_free_tables;
	ik_os_spin_init(&vec.lock);
	vec.cleanup_retry.fn = cleanup_retry_fn;
	vec.domain = ik_irq_domain_create_hierarchy(NULL, IK_IRQ_DOMAIN_FLAG_MSI_PARENT,
						    IK_NR_IRQS_MAX, "VECTOR",
						    &vector_domain_ops, NULL);
	if (!vec.domain) {
		ret = -IK_ENOMEM;
		goto err_free_tables;
	}
	ik_msi_parent_set_ops(vec.domain, &x86_vector_msi_parent_ops);
	x86_msi_reset();
	vec.ready = true;
	return 0;

err_free_tables:
	free_tables();
	return ret;
}

int ik_x86_vector_exit(void)
{
	int ret;

	if (!vec.ready)
		return 0;
	ret = ik_irq_domain_remove(vec.domain);
	if (ret)
		return ret;
	vec.ready = false;
	vec.domain = NULL;
	free_tables();
	return 0;
}

struct ik_irq_domain *ik_x86_vector_domain(void)
{
	return vec.ready ? vec.domain : NULL;
}

uint32_t ik_x86_cpu_apic_id(unsigned int cpu)
{
	return vec.ready && cpu < vec.nr_cpus ? vec.apic_id[cpu] : UINT32_MAX;
}

int ik_x86_vector_stats(unsigned int cpu, struct ik_x86_vector_stats *stats)
{
	if (!vec.ready || cpu >= vec.nr_cpus || !stats)
		return -IK_EINVAL;
	/* Counters are bumped without a common lock (entry path): read each once. */
	stats->spurious = IK_READ_ONCE(vec.stats[cpu].spurious);
	stats->shutdown_hits = IK_READ_ONCE(vec.stats[cpu].shutdown_hits);
	stats->retriggered_hits = IK_READ_ONCE(vec.stats[cpu].retriggered_hits);
	stats->cleanups = IK_READ_ONCE(vec.stats[cpu].cleanups);
	stats->cleanups_postponed = IK_READ_ONCE(vec.stats[cpu].cleanups_postponed);
	return 0;
}

int ik_x86_irq_target(unsigned int irq, struct ik_x86_irq_target *t)
{
	struct ik_irq_data *d = vec.ready ? ik_irq_domain_get_irq_data(vec.domain, irq) : NULL;
	struct apic_chip_data *apicd;
	ik_irqflags_t flags;

	if (!d || !d->chip_data || !t)
		return -IK_ENOENT;
	apicd = d->chip_data;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	t->cpu = apicd->cpu;
	t->vector = apicd->vector;
	t->prev_cpu = apicd->prev_cpu;
	t->prev_vector = apicd->prev_vector;
	t->move_in_progress = apicd->move_in_progress;
	t->is_managed = apicd->is_managed;
	t->has_reserved = apicd->has_reserved;
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return 0;
}

int ik_x86_matrix_check(void)
{
	ik_irqflags_t flags;
	int ret;

	if (!vec.ready)
		return -IK_EINVAL;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	ret = ik_irq_matrix_check(vec.matrix);
	for (unsigned int cpu = 0; cpu < vec.nr_cpus && !ret; cpu++) {
		for (unsigned int v = IK_X86_FIRST_EXTERNAL_VECTOR; v < IK_X86_FIRST_SYSTEM_VECTOR; v++) {
			if (vector_is_desc(vec.vector_irq[cpu][v]) &&
			    !ik_irq_matrix_test(vec.matrix, cpu, v)) {
				ik_err("irqkit: cpu %u vector 0x%x routed but not allocated", cpu, v);
				ret = -IK_EIO;
				break;
			}
		}
	}
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return ret;
}

int ik_x86_matrix_cpu_stats(unsigned int cpu, struct ik_irq_matrix_cpu_stats *stats)
{
	ik_irqflags_t flags;
	int ret;

	if (!vec.ready)
		return -IK_EINVAL;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	ret = ik_irq_matrix_cpu_stats(vec.matrix, cpu, stats);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return ret;
}

unsigned int ik_x86_matrix_reserved(void)
{
	ik_irqflags_t flags;
	unsigned int n;

	if (!vec.ready)
		return 0;
	flags = ik_os_spin_lock_irqsave(&vec.lock);
	n = ik_irq_matrix_reserved(vec.matrix);
	ik_os_spin_unlock_irqrestore(&vec.lock, flags);
	return n;
}
