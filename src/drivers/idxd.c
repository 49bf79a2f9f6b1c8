// SPDX-License-Identifier: BSD-2-Clause
/*
 * Driver for the IDXD-like device whose IMS store is updated by commands
 * (include/irqkit/drivers/idxd.h).
 *
 * Per slot the driver keeps two states: the one the chip recorded (what
 * the core wants) and the one the device committed (what completed
 * commands put there).  A slot whose states may differ sits on the
 * device's dirty list.  Flushing turns each dirty slot into at most three
 * commands (ZERO for a fresh slot, MASK/UNMASK, an atomic WRITE_MSG),
 * rings the doorbell once per batch and waits for the COMPLETED count.
 *
 * Ownership of the command ring.  Exactly one context flushes at a time:
 * the owner, marked by idxd->busy under idxd->lock.  A bus-lock bracket
 * owns the ring from irq_bus_lock to the end of irq_bus_sync_unlock (and
 * holds the sleepable mutex, which serialises brackets).  The work item
 * owns it only if nobody does; otherwise it leaves, because every owner
 * lets go only in the same critical section that finds the dirty list
 * empty -- whatever was recorded before that is flushed by the owner,
 * whatever is recorded after it sees no bracket and queues the work again.
 * The work item never sleeps on the mutex: it could otherwise wait behind
 * (or, on a cooperative host, run nested inside) a bracket that is itself
 * waiting for the device.
 *
 * Lock order: bracket mutex -> ring ownership -> idxd->lock; the chip's
 * callbacks take idxd->lock inside the descriptor lock.
 */
#include <irqkit/drivers/idxd.h>
#include <irqkit/pci.h>

#include "core/internals.h"

/* BAR0 registers. */
#define REG_CAP           0x000u
#define  CAP_SLOTS(c)      ((c) & 0xFFFFu)
#define  CAP_QUEUES(c)     (((c) >> 16) & 0xFFu)
#define  CAP_RING_LOG2(c)  (((c) >> 24) & 0xFu)
#define REG_RING_TAIL     0x008u
#define REG_RING_HEAD     0x00Cu
#define REG_STATUS        0x010u
#define  STATUS_ERROR      IK_BIT(1)
#define  STATUS_CODE(s)    (((s) >> 8) & 0xFFu)
#define  STATUS_INDEX(s)   ((s) >> 16)
#define REG_COMPLETED     0x014u
#define REG_ERROR_CLEAR   0x018u
#define REG_QUERY_INDEX   0x020u
#define REG_QUERY_CTRL    0x030u
#define  CTRL_MASK         IK_BIT(0)
#define  CTRL_PENDING      IK_BIT(1)
#define REG_QUEUE_SLOT(q) (0x100u + 4u * (q))
#define  QUEUE_SLOT_VALID  IK_BIT(31)
#define REG_RING          0x1000u
#define DESC_SIZE         64u

/* Descriptor fields and opcodes. */
#define D_OP      0x00u
#define D_SLOT    0x04u
#define D_ADDR_LO 0x08u
#define D_ADDR_HI 0x0Cu
#define D_DATA    0x10u
#define D_PASID   0x14u
#define  D_PASID_EN IK_BIT(31)
enum { OP_WRITE_MSG = 1, OP_MASK = 2, OP_UNMASK = 3, OP_ZERO = 4 };

/* A slot may need three commands, so the ring needs at least four entries. */
#define MIN_RING_LOG2 2u
#define MAX_RING_LOG2 8u
#define BATCH_SLOTS 32u
#define MAX_CMDS_PER_SLOT 3u

/* Flags of idxd_flush_owned(). */
#define FLUSH_RELEASE     IK_BIT(0) /* give up ownership when done */
#define FLUSH_END_BRACKET IK_BIT(1) /* ... and close the bracket with it */

struct ik_idxd;

struct idxd_slot {
	struct ik_idxd *idxd;
	unsigned int slot;
	/* Recorded by the chip (idxd->lock). */
	struct ik_msi_msg msg;
	uint32_t pasid;                 /* descriptor PASID field */
	bool masked;
	/* Committed by the device, as far as completed commands tell (idxd->lock). */
	bool need_zero;                 /* fresh: start with ZERO */
	bool hw_valid;                  /* the fields below are known */
	struct ik_msi_msg hw_msg;
	uint32_t hw_pasid;
	bool hw_masked;
	/* The dirty list (idxd->lock). */
	bool dirty;
	struct idxd_slot *prev, *next;
};

struct idxd_wq {
	struct ik_idxd *idxd;
	struct ik_device *dev;
	unsigned int queue;
	int assoc_index;                /* the IMS index QUEUE_SLOT names, or -1 (wq_lock) */
};

struct ik_idxd {
	struct ik_device *pdev;
	uint64_t bar0;
	unsigned int nr_slots;
	unsigned int nr_queues;
	unsigned int ring_size;
	uint64_t timeout_ns;
	ik_mutex_t mutex;               /* bus-lock brackets */
	ik_mutex_t wq_lock;             /* wqs[], queue associations */
	struct idxd_wq **wqs;
	ik_spinlock_t lock;
	bool busy;                      /* the ring has an owner */
	bool bracket;                   /* that owner is a bracket: its sync flushes */
	struct idxd_slot *dirty_head, *dirty_tail;
	uint64_t *pool;                 /* slots in use */
	struct ik_os_work work;
	bool work_queued;
	bool work_running;
	struct ik_idxd_stats stats;     /* IK_ATOMIC_INC / IK_READ_ONCE */
	/* The ring's owner only. */
	uint32_t tail;
	uint32_t expected;              /* COMPLETED once everything submitted ran */
};

/* A dirty slot's state when a batch took it, and the commands for it. */
struct slot_snap {
	struct idxd_slot *s;
	struct ik_msi_msg msg;
	uint32_t pasid;
	bool masked;
	bool zero;
	bool write;
	unsigned int mask_op;           /* 0, OP_MASK or OP_UNMASK */
};

static void slot_dirty_push(struct ik_idxd *idxd, struct idxd_slot *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	s->next = NULL;
	s->prev = idxd->dirty_tail;
	if (idxd->dirty_tail)
		idxd->dirty_tail->next = s;
	else
		idxd->dirty_head = s;
	idxd->dirty_tail = s;
}

static void slot_dirty_unlink(struct ik_idxd *idxd, struct idxd_slot *s)
{
	if (!s->dirty)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		idxd->dirty_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		idxd->dirty_tail = s->prev;
	s->prev = s->next = NULL;
	s->dirty = false;
}

/* ---- The command ring ------------------------------------------------------ */

static uint32_t rd(const struct ik_idxd *idxd, uint32_t reg)
{
	return ik_os_mmio_read32(idxd->bar0 + reg);
}

static void wr(const struct ik_idxd *idxd, uint32_t reg, uint32_t value)
{
	ik_os_mmio_write32(idxd->bar0 + reg, value);
}

static bool idxd_gone(const struct ik_idxd *idxd)
{
	return ik_pci_is_disconnected(idxd->pdev) || rd(idxd, REG_STATUS) == 0xFFFFFFFFu;
}

/* Free ring entries (one is always kept free: TAIL + 1 == HEAD means full). */
static unsigned int ring_room(const struct ik_idxd *idxd)
{
	uint32_t head = rd(idxd, REG_RING_HEAD) & (idxd->ring_size - 1);

	return idxd->ring_size - 1 - ((idxd->tail - head) & (idxd->ring_size - 1));
}

static void emit(struct ik_idxd *idxd, unsigned int op, const struct slot_snap *sn)
{
	uint64_t d = idxd->bar0 + REG_RING + (uint64_t)idxd->tail * DESC_SIZE;

	/* Plain memory the device reads when it runs the command: no order needed. */
	ik_os_mmio_write32(d + D_OP, op);
	ik_os_mmio_write32(d + D_SLOT, sn->s->slot);
	if (op == OP_WRITE_MSG) {
		ik_os_mmio_write32(d + D_ADDR_LO, sn->msg.address_lo);
		ik_os_mmio_write32(d + D_ADDR_HI, sn->msg.address_hi);
		ik_os_mmio_write32(d + D_DATA, sn->msg.data);
		ik_os_mmio_write32(d + D_PASID, sn->pasid);
	}
	idxd->tail = (idxd->tail + 1) & (idxd->ring_size - 1);
	idxd->expected++;
	IK_ATOMIC_INC(idxd->stats.commands);
}

/*
 * Busy-wait until the device completed everything submitted.  Each
 * ik_os_cpu_relax() is a scheduling point on a cooperative host, which is
 * what lets the device's completion run at all.
 */
static int wait_completed(struct ik_idxd *idxd, uint32_t target, const char *what)
{
	uint64_t start = ik_os_time_ns();

	for (;;) {
		uint32_t done = rd(idxd, REG_COMPLETED);

		if ((int32_t)(done - target) >= 0)
			return 0;
		if (idxd_gone(idxd))
			return -IK_ENODEV;
		if (ik_os_time_ns() - start > IK_READ_ONCE(idxd->timeout_ns)) {
			IK_ATOMIC_INC(idxd->stats.timeouts);
			ik_err("irqkit: %s: IMS command queue: %s not completed after %llu ns "
			       "(completed %u, waiting for %u)\n", ik_device_name(idxd->pdev), what,
			       (unsigned long long)IK_READ_ONCE(idxd->timeout_ns), done, target);
			return -IK_EIO;
		}
		ik_os_cpu_relax();
	}
}

static int submit_batch(struct ik_idxd *idxd, const struct slot_snap *snap, unsigned int n)
{
	uint32_t status;
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		const struct slot_snap *sn = &snap[i];

		if (sn->zero)
			emit(idxd, OP_ZERO, sn);
		if (sn->mask_op == OP_MASK)
			emit(idxd, OP_MASK, sn);
		if (sn->write)
			emit(idxd, OP_WRITE_MSG, sn);
		/* Unmask last: a fire held pending goes out with the new message. */
		if (sn->mask_op == OP_UNMASK)
			emit(idxd, OP_UNMASK, sn);
	}
	wr(idxd, REG_RING_TAIL, idxd->tail);
	IK_ATOMIC_INC(idxd->stats.batches);
	ret = wait_completed(idxd, idxd->expected, "update");
	if (ret)
		return ret;
	status = rd(idxd, REG_STATUS);
	if (status & STATUS_ERROR) {
		IK_ATOMIC_INC(idxd->stats.errors);
		ik_err("irqkit: %s: IMS command %u failed with status 0x%x\n",
		       ik_device_name(idxd->pdev), STATUS_INDEX(status), STATUS_CODE(status));
		wr(idxd, REG_ERROR_CLEAR, 1);
		return -IK_EIO;
	}
	return 0;
}

/* Take a dirty slot into a batch: what it wants and what the device must be told. */
static void snap_take(struct slot_snap *sn, struct idxd_slot *s)
{
	bool known = s->need_zero || s->hw_valid;
	struct ik_msi_msg base_msg = { 0, 0, 0 };
	uint32_t base_pasid = 0;
	bool base_masked = true;

	if (!s->need_zero && s->hw_valid) {
		base_msg = s->hw_msg;
		base_pasid = s->hw_pasid;
		base_masked = s->hw_masked;
	}
	sn->s = s;
	sn->msg = s->msg;
	sn->pasid = s->pasid;
	sn->masked = s->masked;
	sn->zero = s->need_zero;
	sn->write = !known || sn->msg.address_lo != base_msg.address_lo ||
		    sn->msg.address_hi != base_msg.address_hi || sn->msg.data != base_msg.data ||
		    sn->pasid != base_pasid;
	sn->mask_op = 0;
	if (!known || sn->masked != base_masked)
		sn->mask_op = sn->masked ? OP_MASK : OP_UNMASK;
}

/*
 * A batch finished with @err.  Success commits the snapshots.  A failure
 * leaves the device state unknown and the slots dirty, so that the next
 * flush writes them in full; a device that is gone takes nothing any more.
 */
static void batch_done(struct ik_idxd *idxd, const struct slot_snap *snap, unsigned int n, int err)
{
	for (unsigned int i = 0; i < n; i++) {
		struct idxd_slot *s = snap[i].s;

		if (!err) {
			s->need_zero = false;
			s->hw_valid = true;
			s->hw_msg = snap[i].msg;
			s->hw_pasid = snap[i].pasid;
			s->hw_masked = snap[i].masked;
		} else {
			s->hw_valid = false;
			if (err != -IK_ENODEV)
				slot_dirty_push(idxd, s);
		}
	}
	if (err == -IK_ENODEV)
		while (idxd->dirty_head)
			slot_dirty_unlink(idxd, idxd->dirty_head);
}

/*
 * Flush every dirty slot; the caller owns the ring.  With FLUSH_RELEASE
 * ownership ends in the critical section that found nothing left to do
 * (see the file comment for why that loses no record).  After an error no
 * further batch is started: the slots stay dirty for the next flush.
 */
static int idxd_flush_owned(struct ik_idxd *idxd, unsigned int flags)
{
	int ret = 0;

	for (;;) {
		struct slot_snap snap[BATCH_SLOTS];
		unsigned int n = 0, room = 0;
		ik_irqflags_t lflags;

		if (!ret) {
			room = ring_room(idxd);
			if (room < MAX_CMDS_PER_SLOT) {
				/* Left over from a batch that timed out: wait for it once more. */
				ret = wait_completed(idxd, idxd->expected, "earlier update");
				room = ret ? 0 : ring_room(idxd);
			}
		}
		lflags = ik_os_spin_lock_irqsave(&idxd->lock);
		while (!ret && idxd->dirty_head && n < BATCH_SLOTS &&
		       (n + 1) * MAX_CMDS_PER_SLOT <= room) {
			struct idxd_slot *s = idxd->dirty_head;

			slot_dirty_unlink(idxd, s);
			snap_take(&snap[n], s);
			/* Changed and changed back before the flush: nothing to send. */
			if (snap[n].zero || snap[n].write || snap[n].mask_op)
				n++;
		}
		if (!n) {
			if (flags & FLUSH_RELEASE) {
				idxd->busy = false;
				if (flags & FLUSH_END_BRACKET)
					idxd->bracket = false;
			}
			ik_os_spin_unlock_irqrestore(&idxd->lock, lflags);
			return ret;
		}
		ik_os_spin_unlock_irqrestore(&idxd->lock, lflags);

		ret = submit_batch(idxd, snap, n);
		lflags = ik_os_spin_lock_irqsave(&idxd->lock);
		batch_done(idxd, snap, n, ret);
		ik_os_spin_unlock_irqrestore(&idxd->lock, lflags);
	}
}

/* Become the ring's owner.  Sleepable; only a work item's flush can be in the way. */
static void idxd_own(struct ik_idxd *idxd, bool bracket)
{
	for (;;) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&idxd->lock);

		if (!idxd->busy) {
			idxd->busy = true;
			idxd->bracket = bracket;
			ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
			return;
		}
		ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
		ik_os_cpu_relax();
	}
}

/* Flush now, from process context, outside any bracket. */
static int idxd_sync(struct ik_idxd *idxd)
{
	int ret;

	ik_os_mutex_lock(&idxd->mutex);
	idxd_own(idxd, false);
	ret = idxd_flush_owned(idxd, FLUSH_RELEASE);
	ik_os_mutex_unlock(&idxd->mutex);
	return ret;
}

static void idxd_work_fn(struct ik_os_work *work)
{
	struct ik_idxd *idxd = ik_container_of(work, struct ik_idxd, work);
	ik_irqflags_t flags;

	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	idxd->work_queued = false;
	if (idxd->busy) {
		/* The owner flushes before letting go, this record included. */
		IK_ATOMIC_INC(idxd->stats.work_skipped);
		ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
		return;
	}
	idxd->busy = true;
	idxd->bracket = false;
	idxd->work_running = true;
	IK_ATOMIC_INC(idxd->stats.work_flushes);
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);

	idxd_flush_owned(idxd, FLUSH_RELEASE);

	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	idxd->work_running = false;
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
}

/* ---- The chip: record only --------------------------------------------------- */

static struct idxd_slot *slot_of(const struct ik_irq_data *d)
{
	const struct ik_msi_desc *desc = d->common->msi_desc;

	return (struct idxd_slot *)(uintptr_t)desc->data.dcookie;
}

enum { REC_NONE = -1, REC_UNMASK = 0, REC_MASK = 1 };

/*
 * Atomic context.  Inside a bracket the bracket's sync unlock writes the
 * change; outside one (an affinity move, a flow handler's mask) the work
 * item does, later, coalescing whatever else was recorded by then.
 */
static void idxd_record(struct ik_irq_data *d, const struct ik_msi_msg *msg, int mask)
{
	struct idxd_slot *s = slot_of(d);
	struct ik_idxd *idxd = s->idxd;
	ik_irqflags_t flags;
	bool kick = false;

	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	if (msg)
		s->msg = *msg;
	if (mask != REC_NONE)
		s->masked = mask == REC_MASK;
	slot_dirty_push(idxd, s);
	IK_ATOMIC_INC(idxd->stats.records);
	if (!idxd->bracket) {
		IK_ATOMIC_INC(idxd->stats.records_outside);
		if (!idxd->work_queued) {
			idxd->work_queued = true;
			kick = true;
		}
	}
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
	if (kick)
		ik_os_work_queue(&idxd->work);
}

static void idxd_mask(struct ik_irq_data *d)
{
	idxd_record(d, NULL, REC_MASK);
}

static void idxd_unmask(struct ik_irq_data *d)
{
	idxd_record(d, NULL, REC_UNMASK);
}

static void idxd_write_msg(struct ik_irq_data *d, const struct ik_msi_msg *msg)
{
	idxd_record(d, msg, REC_NONE);
}

static void idxd_bus_lock(struct ik_irq_data *d)
{
	struct ik_idxd *idxd = slot_of(d)->idxd;

	ik_os_mutex_lock(&idxd->mutex);
	idxd_own(idxd, true);
}

/* Sleepable: the recorded changes are on the device when this returns (or logged). */
static void idxd_bus_sync_unlock(struct ik_irq_data *d)
{
	struct ik_idxd *idxd = slot_of(d)->idxd;

	idxd_flush_owned(idxd, FLUSH_RELEASE | FLUSH_END_BRACKET);
	ik_os_mutex_unlock(&idxd->mutex);
}

/* The committed state, read back through the query window. */
static int idxd_get_state(struct ik_irq_data *d, unsigned int which, bool *state)
{
	struct idxd_slot *s = slot_of(d);
	struct ik_idxd *idxd = s->idxd;
	ik_irqflags_t flags;
	uint32_t ctrl;

	if (which != IK_IRQCHIP_STATE_PENDING && which != IK_IRQCHIP_STATE_MASKED)
		return -IK_EINVAL;
	/* The index and the readout are one window: keep them together. */
	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	wr(idxd, REG_QUERY_INDEX, s->slot);
	ctrl = rd(idxd, REG_QUERY_CTRL);
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
	if (ctrl == 0xFFFFFFFFu)
		return -IK_ENODEV;
	*state = (ctrl & (which == IK_IRQCHIP_STATE_PENDING ? CTRL_PENDING : CTRL_MASK)) != 0;
	return 0;
}

/* ---- Slots ------------------------------------------------------------------- */

static int pool_get(struct ik_idxd *idxd)
{
	for (unsigned int w = 0; w < IK_DIV_ROUND_UP(idxd->nr_slots, 64); w++) {
		uint64_t free = ~idxd->pool[w];
		unsigned int bit;

		if (!free)
			continue;
		bit = (unsigned int)__builtin_ctzll(free);
		if (w * 64 + bit >= idxd->nr_slots)
			break;
		idxd->pool[w] |= IK_BIT64(bit);
		return (int)(w * 64 + bit);
	}
	return -IK_ENOSPC;
}

static void pool_put(struct ik_idxd *idxd, unsigned int slot)
{
	idxd->pool[slot / 64] &= ~IK_BIT64(slot % 64);
}

/*
 * Return a slot.  The ring's owner takes it off the dirty list (a batch in
 * flight may hold it) and, unless @flush is false, first writes what was
 * recorded for it -- the zero message of its deactivation -- so that no
 * command of the old interrupt can land after a new owner got the slot.
 * Without @flush (the slot's set-up just failed: the device is not taking
 * commands) ownership ends without waiting for the device again; other
 * slots' changes recorded meanwhile go to the work item.
 */
static void slot_put(struct ik_idxd *idxd, struct idxd_slot *s, bool flush)
{
	ik_irqflags_t flags;
	bool kick = false;

	ik_os_mutex_lock(&idxd->mutex);
	idxd_own(idxd, false);
	if (flush)
		idxd_flush_owned(idxd, 0);
	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	slot_dirty_unlink(idxd, s);
	pool_put(idxd, s->slot);
	if (!flush) {
		idxd->busy = false;
		if (idxd->dirty_head && !idxd->work_queued) {
			idxd->work_queued = true;
			kick = true;
		}
	}
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
	if (flush)
		idxd_flush_owned(idxd, FLUSH_RELEASE);
	else if (kick)
		ik_os_work_queue(&idxd->work);
	ik_os_mutex_unlock(&idxd->mutex);
	ik_os_free(s);
}

static uint32_t pasid_field(uint64_t icookie)
{
	if (!(icookie & IK_IDXD_PASID_ENABLE))
		return 0;
	return D_PASID_EN | (uint32_t)(icookie & IK_IDXD_PASID_MAX);
}

/* Sleepable, the work queue's MSI lock held: take a slot and set it up on the device. */
static int idxd_prepare_desc(struct ik_irq_domain *domain, struct ik_msi_alloc_info *arg,
			     struct ik_msi_desc *desc)
{
	const struct idxd_wq *wq = ik_msi_get_domain_info(domain)->data;
	struct ik_idxd *idxd = wq->idxd;
	struct idxd_slot *s;
	ik_irqflags_t flags;
	int slot, ret;

	if (desc->data.icookie & ~(IK_IDXD_PASID_ENABLE | (uint64_t)IK_IDXD_PASID_MAX)) {
		ik_err("irqkit: %s: bad PASID cookie 0x%llx\n", ik_device_name(desc->dev),
		       (unsigned long long)desc->data.icookie);
		return -IK_EINVAL;
	}
	s = ik_os_alloc(sizeof(*s));
	if (!s)
		return -IK_ENOMEM;
	s->idxd = idxd;
	s->masked = true;
	s->pasid = pasid_field(desc->data.icookie);
	s->need_zero = true;

	flags = ik_os_spin_lock_irqsave(&idxd->lock);
	slot = pool_get(idxd);
	if (slot >= 0) {
		s->slot = (unsigned int)slot;
		slot_dirty_push(idxd, s);
	}
	ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
	if (slot < 0) {
		ik_os_free(s);
		return -IK_ENOSPC;
	}
	/* Zeroed (stale pending state dropped), masked, with its PASID. */
	ret = idxd_sync(idxd);
	if (ret) {
		slot_put(idxd, s, false);
		return ret;
	}
	desc->data.dcookie = (uint64_t)(uintptr_t)s;
	return 0;
}

static void idxd_release_desc(struct ik_irq_domain *domain, struct ik_msi_desc *desc)
{
	struct idxd_slot *s = (struct idxd_slot *)(uintptr_t)desc->data.dcookie;

	slot_put(s->idxd, s, true);
}

static const struct ik_msi_domain_template idxd_template = {
	.name = "IMS",
	.chip = {
		.name = "IDXD-IMS",
		.irq_mask = idxd_mask,
		.irq_unmask = idxd_unmask,
		.irq_write_msi_msg = idxd_write_msg,
		.irq_bus_lock = idxd_bus_lock,
		.irq_bus_sync_unlock = idxd_bus_sync_unlock,
		.irq_get_irqchip_state = idxd_get_state,
		.flags = IK_IRQCHIP_ONESHOT_SAFE,
	},
	.ops = {
		.prepare_desc = idxd_prepare_desc,
		.release_desc = idxd_release_desc,
	},
	.info = {
		.flags = IK_MSI_FLAG_ALLOC_SIMPLE_DESCS | IK_MSI_FLAG_FREE_DESCS |
			 IK_MSI_FLAG_MASK_SOURCE,
		.bus_token = IK_MSI_BUS_IMS,
	},
};

/* ---- Work queues ---------------------------------------------------------------- */

static const struct ik_driver idxd_wq_driver;

static struct ik_idxd *idxd_of(struct ik_device *pdev)
{
	if (!pdev || ik_device_driver(pdev) != &ik_idxd_driver)
		return NULL;
	return ik_device_get_drvdata(pdev);
}

static struct idxd_wq *wq_of(struct ik_device *dev)
{
	if (!dev || ik_device_driver(dev) != &idxd_wq_driver)
		return NULL;
	return ik_device_get_drvdata(dev);
}

struct wq_args {
	struct ik_idxd *idxd;
	unsigned int queue;
};

static void wq_free(void *data)
{
	struct idxd_wq *wq = data;
	struct ik_idxd *idxd = wq->idxd;

	ik_os_mutex_lock(&idxd->wq_lock);
	idxd->wqs[wq->queue] = NULL;
	ik_os_mutex_unlock(&idxd->wq_lock);
	ik_os_free(wq);
}

/* Runs before the domain goes: the queue stops signalling through a slot being freed. */
static void wq_detach(void *data)
{
	struct idxd_wq *wq = data;
	struct ik_idxd *idxd = wq->idxd;

	ik_os_mutex_lock(&idxd->wq_lock);
	if (wq->assoc_index >= 0 && !ik_pci_is_disconnected(idxd->pdev))
		wr(idxd, REG_QUEUE_SLOT(wq->queue), 0);
	wq->assoc_index = -1;
	ik_os_mutex_unlock(&idxd->wq_lock);
}

/* Device-managed on the child, in order: the wq state, its domain, the detach. */
static int wq_probe(struct ik_device *dev)
{
	const struct wq_args *args = ik_device_get_drvdata(dev);
	struct idxd_wq *wq;
	int ret;

	ik_device_set_drvdata(dev, NULL);
	if (!args)
		return -IK_EINVAL;
	wq = ik_os_alloc(sizeof(*wq));
	if (!wq)
		return -IK_ENOMEM;
	wq->idxd = args->idxd;
	wq->dev = dev;
	wq->queue = args->queue;
	wq->assoc_index = -1;
	ik_os_mutex_lock(&wq->idxd->wq_lock);
	if (wq->idxd->wqs[wq->queue]) {
		ik_os_mutex_unlock(&wq->idxd->wq_lock);
		ik_os_free(wq);
		return -IK_EBUSY;
	}
	wq->idxd->wqs[wq->queue] = wq;
	ik_os_mutex_unlock(&wq->idxd->wq_lock);
	ret = ik_devm_add_action(dev, wq_free, wq);
	if (ret) {
		wq_free(wq);
		return ret;
	}
	ret = ik_ims_create_domain(dev, &idxd_template, wq->idxd->nr_slots, wq);
	if (ret)
		return ret;
	ret = ik_devm_add_action(dev, wq_detach, wq);
	if (ret)
		return ret;
	ik_device_set_drvdata(dev, wq);
	return 0;
}

static const struct ik_driver idxd_wq_driver = {
	.name = "idxd-wq",
	.probe = wq_probe,
};

/*
 * "<function>.wq<queue>": the queue devices of two functions must not share
 * a name, since their IMS domains are named after them.
 */
static void wq_name(char *buf, const char *fn, unsigned int queue)
{
	char digits[4];
	unsigned int n = 0, pos = 0;

	while (*fn && pos < IK_DEVICE_NAME_MAX - 8)
		buf[pos++] = *fn++;
	buf[pos++] = '.';
	do {
		digits[n++] = (char)('0' + queue % 10);
		queue /= 10;
	} while (queue && n < sizeof(digits));
	buf[pos++] = 'w';
	buf[pos++] = 'q';
	while (n)
		buf[pos++] = digits[--n];
	buf[pos] = '\0';
}

int ik_idxd_wq_add(struct ik_device *pdev, unsigned int queue, struct ik_device **out)
{
	struct ik_idxd *idxd = idxd_of(pdev);
	struct wq_args args = { .idxd = idxd, .queue = queue };
	struct ik_device *child;
	char name[IK_DEVICE_NAME_MAX];
	int ret;

	if (!idxd || !out)
		return -IK_EINVAL;
	if (queue >= idxd->nr_queues)
		return -IK_ERANGE;
	wq_name(name, ik_device_name(pdev), queue);
	ret = ik_device_create(pdev, name, &child);
	if (ret)
		return ret;
	/* The probe takes its arguments from drvdata and clears it. */
	ik_device_set_drvdata(child, &args);
	ret = ik_device_bind(child, &idxd_wq_driver);
	if (ret) {
		ik_device_destroy(child);
		return ret;
	}
	*out = child;
	return 0;
}

int ik_idxd_wq_slot(struct ik_device *wq_dev, int index)
{
	const struct ik_msi_desc *desc;
	int ret = -IK_ENOENT;

	if (!wq_of(wq_dev) || index < 0)
		return -IK_ENOENT;
	ik_msi_lock_descs(wq_dev);
	desc = ik_msi_find_desc(wq_dev, IK_MSI_SECONDARY_DOMAIN, (uint32_t)index);
	if (desc && desc->irq)
		ret = (int)((const struct idxd_slot *)(uintptr_t)desc->data.dcookie)->slot;
	ik_msi_unlock_descs(wq_dev);
	return ret;
}

struct ik_msi_map ik_idxd_wq_alloc_irq(struct ik_device *wq_dev,
				       const struct ik_irq_affinity_desc *affinity,
				       uint64_t icookie)
{
	struct ik_msi_map map = { .index = -IK_EINVAL, .virq = 0 };
	struct idxd_wq *wq = wq_of(wq_dev);
	int slot;

	if (!wq)
		return map;
	map = ik_ims_alloc_irq(wq_dev, affinity, icookie);
	if (map.index < 0)
		return map;
	/* The mask must reach the device inside ik_disable_irq()'s bracket. */
	ik_irq_set_disable_unlazy(map.virq, true);
	slot = ik_idxd_wq_slot(wq_dev, map.index);
	ik_os_mutex_lock(&wq->idxd->wq_lock);
	if (wq->assoc_index < 0 && slot >= 0) {
		wr(wq->idxd, REG_QUEUE_SLOT(wq->queue), QUEUE_SLOT_VALID | (uint32_t)slot);
		wq->assoc_index = map.index;
	}
	ik_os_mutex_unlock(&wq->idxd->wq_lock);
	return map;
}

int ik_idxd_wq_free_irq(struct ik_device *wq_dev, struct ik_msi_map map)
{
	struct idxd_wq *wq = wq_of(wq_dev);
	bool detached = false;
	int slot = -1, ret;

	if (!wq)
		return -IK_EINVAL;
	/* Detach the queue first: a new owner of the slot must not get its completions. */
	ik_os_mutex_lock(&wq->idxd->wq_lock);
	if (map.index >= 0 && map.index == wq->assoc_index &&
	    ik_msi_get_virq(wq_dev, IK_MSI_SECONDARY_DOMAIN, (uint32_t)map.index) == (int)map.virq) {
		slot = ik_idxd_wq_slot(wq_dev, map.index);
		wr(wq->idxd, REG_QUEUE_SLOT(wq->queue), 0);
		wq->assoc_index = -1;
		detached = true;
	}
	ik_os_mutex_unlock(&wq->idxd->wq_lock);
	ret = ik_ims_free_irq(wq_dev, map);
	if (ret && detached) {
		/* Nothing was freed (a handler is still installed): reattach. */
		ik_os_mutex_lock(&wq->idxd->wq_lock);
		wr(wq->idxd, REG_QUEUE_SLOT(wq->queue), QUEUE_SLOT_VALID | (uint32_t)slot);
		wq->assoc_index = map.index;
		ik_os_mutex_unlock(&wq->idxd->wq_lock);
	}
	return ret;
}

/* ---- The function's driver ------------------------------------------------------ */

int ik_idxd_get_stats(struct ik_device *pdev, struct ik_idxd_stats *out)
{
	struct ik_idxd *idxd = idxd_of(pdev);

	if (!idxd || !out)
		return -IK_EINVAL;
	out->commands = IK_READ_ONCE(idxd->stats.commands);
	out->batches = IK_READ_ONCE(idxd->stats.batches);
	out->records = IK_READ_ONCE(idxd->stats.records);
	out->records_outside = IK_READ_ONCE(idxd->stats.records_outside);
	out->work_flushes = IK_READ_ONCE(idxd->stats.work_flushes);
	out->work_skipped = IK_READ_ONCE(idxd->stats.work_skipped);
	out->timeouts = IK_READ_ONCE(idxd->stats.timeouts);
	out->errors = IK_READ_ONCE(idxd->stats.errors);
	return 0;
}

int ik_idxd_set_timeout_ns(struct ik_device *pdev, uint64_t ns)
{
	struct ik_idxd *idxd = idxd_of(pdev);

	if (!idxd)
		return -IK_EINVAL;
	IK_WRITE_ONCE(idxd->timeout_ns, ns ? ns : IK_IDXD_DEFAULT_TIMEOUT_NS);
	return 0;
}

unsigned int ik_idxd_nr_slots(struct ik_device *pdev)
{
	struct ik_idxd *idxd = idxd_of(pdev);

	return idxd ? idxd->nr_slots : 0;
}

unsigned int ik_idxd_nr_queues(struct ik_device *pdev)
{
	struct ik_idxd *idxd = idxd_of(pdev);

	return idxd ? idxd->nr_queues : 0;
}

int ik_idxd_flush(struct ik_device *pdev)
{
	struct ik_idxd *idxd = idxd_of(pdev);

	return idxd ? idxd_sync(idxd) : -IK_EINVAL;
}

/*
 * Last of the function's device-managed resources: every slot is back
 * (the work queues went in remove), but a work item queued by a late
 * record may still be pending or running; it must be done before the
 * memory goes.
 */
static void idxd_free(void *data)
{
	struct ik_idxd *idxd = data;

	for (;;) {
		ik_irqflags_t flags = ik_os_spin_lock_irqsave(&idxd->lock);
		bool idle = !idxd->work_queued && !idxd->work_running;

		ik_os_spin_unlock_irqrestore(&idxd->lock, flags);
		if (idle)
			break;
		ik_os_cpu_relax();
	}
	IK_WARN_ON(idxd->dirty_head != NULL);
	ik_os_free(idxd->pool);
	ik_os_free(idxd->wqs);
	ik_os_mutex_destroy(&idxd->wq_lock);
	ik_os_mutex_destroy(&idxd->mutex);
	ik_os_free(idxd);
}

static int idxd_setup_ring(struct ik_idxd *idxd)
{
	uint32_t head;

	/* Whatever a previous owner left: errors cleared, the ring drained. */
	wr(idxd, REG_ERROR_CLEAR, 1);
	idxd->tail = rd(idxd, REG_RING_TAIL) & (idxd->ring_size - 1);
	head = rd(idxd, REG_RING_HEAD) & (idxd->ring_size - 1);
	idxd->expected = rd(idxd, REG_COMPLETED) + ((idxd->tail - head) & (idxd->ring_size - 1));
	if (head != idxd->tail && wait_completed(idxd, idxd->expected, "previous owner's ring"))
		return -IK_EIO;
	for (unsigned int q = 0; q < idxd->nr_queues; q++)
		wr(idxd, REG_QUEUE_SLOT(q), 0);
	return 0;
}

static int idxd_probe(struct ik_device *pdev)
{
	struct ik_idxd *idxd;
	uint32_t cap;
	int ret;

	if (!ik_dev_is_pci(pdev) || !(ik_pci_resource_flags(pdev, 0) & IK_PCI_RES_MEM))
		return -IK_ENODEV;
	ret = ik_pcim_enable_device(pdev);
	if (ret)
		return ret;
	idxd = ik_os_alloc(sizeof(*idxd));
	if (!idxd)
		return -IK_ENOMEM;
	ik_os_mutex_init(&idxd->mutex);
	ik_os_mutex_init(&idxd->wq_lock);
	ik_os_spin_init(&idxd->lock);
	idxd->work.fn = idxd_work_fn;
	idxd->pdev = pdev;
	idxd->timeout_ns = IK_IDXD_DEFAULT_TIMEOUT_NS;
	idxd->bar0 = ik_pci_resource_start(pdev, 0);
	cap = rd(idxd, REG_CAP);
	idxd->nr_slots = CAP_SLOTS(cap);
	idxd->nr_queues = CAP_QUEUES(cap);
	if (!idxd->nr_slots || CAP_RING_LOG2(cap) < MIN_RING_LOG2 ||
	    CAP_RING_LOG2(cap) > MAX_RING_LOG2 ||
	    REG_RING + (DESC_SIZE << CAP_RING_LOG2(cap)) > ik_pci_resource_len(pdev, 0)) {
		ik_err("irqkit: %s: IMS command queue: bad capability 0x%x\n",
		       ik_device_name(pdev), cap);
		ret = -IK_EINVAL;
		goto err_free;
	}
	idxd->ring_size = 1u << CAP_RING_LOG2(cap);
	idxd->pool = ik_os_alloc(IK_DIV_ROUND_UP(idxd->nr_slots, 64) * sizeof(uint64_t));
	if (idxd->nr_queues)
		idxd->wqs = ik_os_alloc(idxd->nr_queues * sizeof(*idxd->wqs));
	if (!idxd->pool || (idxd->nr_queues && !idxd->wqs)) {
		ret = -IK_ENOMEM;
		goto err_free;
	}
	ik_pci_set_master(pdev);
	ret = idxd_setup_ring(idxd);
	if (ret)
		goto err_free;
	ret = ik_devm_add_action(pdev, idxd_free, idxd);
	if (ret)
		goto err_free;
	ik_device_set_drvdata(pdev, idxd);
	return 0;

err_free:
	idxd_free(idxd);
	return ret;
}

/* The work queues first: their interrupts' slots and commands need the device. */
static void idxd_remove(struct ik_device *pdev)
{
	struct ik_idxd *idxd = ik_device_get_drvdata(pdev);

	for (;;) {
		struct ik_device *child = NULL;

		ik_os_mutex_lock(&idxd->wq_lock);
		for (unsigned int q = 0; q < idxd->nr_queues && !child; q++)
			if (idxd->wqs[q])
				child = idxd->wqs[q]->dev;
		ik_os_mutex_unlock(&idxd->wq_lock);
		if (!child)
			break;
		ik_device_destroy(child);
	}
}

const struct ik_driver ik_idxd_driver = {
	.name = "idxd",
	.probe = idxd_probe,
	.remove = idxd_remove,
};
