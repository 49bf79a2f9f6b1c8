/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * irqkit OS services layer.
 *
 * Every service the library needs from its host is declared here, and
 * nothing else: memory, locks, CPU-local operations, cross-CPU calls,
 * deferred sleepable work, register access, logging and time.  A port (the
 * simulator's host port in sim/, the bare-metal port later) implements all
 * of these.  The library reaches hardware only through the register
 * accessors below; it never sees the host's data structures.
 */
#ifndef IRQKIT_OSL_H
#define IRQKIT_OSL_H

#include <irqkit/env.h>

/* ---- Memory ------------------------------------------------------------ */

/**
 * ik_os_alloc - allocate zeroed memory
 * @size: bytes, > 0
 *
 * Context: sleepable.  The library never allocates in atomic context.
 * Return: zeroed memory aligned for any object, or NULL.  Hosts use this as
 * the failure-injection point: tests may make any allocation fail.
 */
void *ik_os_alloc(size_t size);

/**
 * ik_os_free - free memory from ik_os_alloc(); NULL is ignored
 * Context: any.
 */
void ik_os_free(void *ptr);

/* ---- Interrupt state of the current CPU -------------------------------- */

typedef uintptr_t ik_irqflags_t;

/** ik_os_irq_save - disable local interrupts, return the previous state. Context: any. */
ik_irqflags_t ik_os_irq_save(void);
/** ik_os_irq_restore - restore a state from ik_os_irq_save(). Context: any. */
void ik_os_irq_restore(ik_irqflags_t flags);
/** ik_os_irqs_disabled - true if local interrupts are disabled. Context: any. */
bool ik_os_irqs_disabled(void);

/* ---- Spinlocks ----------------------------------------------------------- */

/* Storage belongs to the library; its meaning belongs to the host. */
typedef struct ik_spinlock {
	uint32_t opaque[2];
} ik_spinlock_t;

/** ik_os_spin_init - initialise an unlocked spinlock. Context: any. */
void ik_os_spin_init(ik_spinlock_t *lock);
/**
 * ik_os_spin_lock_irqsave - disable local interrupts, then take @lock
 * Context: any.  Return: the interrupt state to pass to the unlock.
 */
ik_irqflags_t ik_os_spin_lock_irqsave(ik_spinlock_t *lock);
/** ik_os_spin_unlock_irqrestore - release @lock, then restore @flags. */
void ik_os_spin_unlock_irqrestore(ik_spinlock_t *lock, ik_irqflags_t flags);
/** ik_os_spin_lock - take @lock; local interrupts must already be disabled. */
void ik_os_spin_lock(ik_spinlock_t *lock);
/** ik_os_spin_unlock - release @lock taken with ik_os_spin_lock(). */
void ik_os_spin_unlock(ik_spinlock_t *lock);
/** ik_os_spin_held - true if the current CPU holds @lock (for assertions). */
bool ik_os_spin_held(const ik_spinlock_t *lock);

/* ---- Sleepable mutexes ------------------------------------------------- */

typedef struct ik_mutex {
	uint64_t opaque[8];
} ik_mutex_t;

/** ik_os_mutex_init - initialise @mutex. Context: sleepable. */
void ik_os_mutex_init(ik_mutex_t *mutex);
/** ik_os_mutex_destroy - release host resources of an unlocked @mutex. */
void ik_os_mutex_destroy(ik_mutex_t *mutex);
/** ik_os_mutex_lock - take @mutex, sleeping if needed. Context: sleepable. */
void ik_os_mutex_lock(ik_mutex_t *mutex);
/** ik_os_mutex_unlock - release @mutex. Context: sleepable. */
void ik_os_mutex_unlock(ik_mutex_t *mutex);
/** ik_os_mutex_held - true if the current thread holds @mutex. */
bool ik_os_mutex_held(const ik_mutex_t *mutex);

/* ---- CPUs ----------------------------------------------------------------- */

/**
 * ik_os_cpu_count - number of possible logical CPUs, numbered 0..n-1
 * Context: any.  Logical numbers are dense; hardware IDs (APIC IDs) need not be.
 */
unsigned int ik_os_cpu_count(void);

/** ik_os_cpu_id - logical number of the CPU running the caller. Context: any. */
unsigned int ik_os_cpu_id(void);

/**
 * ik_os_cpu_relax - spin-wait hint
 *
 * Called in every busy-wait loop of the library.  It is also a point where a
 * host that runs CPUs cooperatively lets other CPUs, devices and deferred
 * work make progress.  Context: any.
 */
void ik_os_cpu_relax(void);

/**
 * ik_os_cpu_call - run @fn(@arg) on @cpu in interrupt context (an IPI)
 * @cpu:  logical CPU
 * @fn:   function, runs with local interrupts disabled on @cpu
 * @arg:  its argument
 * @wait: if true, return after @fn has completed; must then not be called
 *        with interrupts disabled.  If false, return once the call is queued.
 *
 * When @cpu is the calling CPU the host may run @fn right away (with local
 * interrupts disabled), so the caller must not hold a lock that @fn takes.
 *
 * Context: sleepable when @wait; any when !@wait.
 * Return: 0, -IK_EINVAL for a CPU number out of range, -IK_ENODEV if the
 * CPU cannot take calls (not running).
 */
int ik_os_cpu_call(unsigned int cpu, void (*fn)(void *arg), void *arg, bool wait);

/* ---- Deferred, sleepable work (threaded handlers) ------------------------- */

struct ik_os_work {
	void (*fn)(struct ik_os_work *work);
	/* Owned by the host while queued. */
	struct ik_os_work *host_next;
	uint32_t host_state;
};

/**
 * ik_os_work_queue - run @work->fn(@work) later in sleepable process context
 *
 * Queuing a work item that is already queued and has not started is a no-op.
 * Context: any.
 */
void ik_os_work_queue(struct ik_os_work *work);

/* ---- One-shot timers ------------------------------------------------------ */

struct ik_os_timer {
	void (*fn)(struct ik_os_timer *timer);
	/* Owned by the host; zero before first use (ik_os_alloc memory is). */
	uint64_t host_private[8];
};

/**
 * ik_os_timer_arm - run @timer->fn(@timer) once, @delay_ns from now
 *
 * The callback runs in sleepable process context (like ik_os_work_queue()
 * work), never before the delay has passed on ik_os_time_ns().  Arming a
 * timer that is pending (armed, or expired with its callback not yet
 * started) is a no-op; arming it from its own callback is allowed.
 * Context: any.
 */
void ik_os_timer_arm(struct ik_os_timer *timer, uint64_t delay_ns);

/**
 * ik_os_timer_cancel_sync - disarm @timer and wait for its callback
 *
 * After return the callback is not running and will not run unless the
 * timer is armed again, so the memory holding @timer may be freed.  Called
 * from the callback itself it only disarms (it cannot wait for itself).
 * Context: sleepable; the caller must not hold anything the callback takes.
 * Return: true if a pending run was cancelled.
 */
bool ik_os_timer_cancel_sync(struct ik_os_timer *timer);

/* ---- Register access --------------------------------------------------- */

/*
 * Physical MMIO.  Addresses 0xFEE00000-0xFEEFFFFF reach the local APIC of
 * the calling CPU.  Every access is a point where device events may be
 * interleaved.  Context: any.
 */
uint32_t ik_os_mmio_read32(uint64_t phys);
void ik_os_mmio_write32(uint64_t phys, uint32_t value);
uint64_t ik_os_mmio_read64(uint64_t phys);
void ik_os_mmio_write64(uint64_t phys, uint64_t value);

/**
 * ik_os_pci_cfg_read - read PCI configuration space
 * @segment: PCI segment group
 * @bdf:     bus << 8 | device << 3 | function
 * @offset:  register offset, aligned to @size
 * @size:    1, 2 or 4
 * @value:   result; all-ones when no function responds
 *
 * Context: any.  Return: 0, or -IK_EINVAL for a bad size/alignment/offset.
 */
int ik_os_pci_cfg_read(uint16_t segment, uint16_t bdf, uint16_t offset,
		       unsigned int size, uint32_t *value);
/** ik_os_pci_cfg_write - write PCI configuration space; as ik_os_pci_cfg_read(). */
int ik_os_pci_cfg_write(uint16_t segment, uint16_t bdf, uint16_t offset,
			unsigned int size, uint32_t value);

/* ---- Log and time --------------------------------------------------------- */

#define IK_LOG_ERR 0
#define IK_LOG_WARN 1
#define IK_LOG_INFO 2
#define IK_LOG_DEBUG 3

/**
 * ik_os_log - emit a log line
 * @level: IK_LOG_*
 * @fmt:   printf-style format; the library uses %d %u %x %lx %llu %llx %s %p
 *
 * Context: any.
 */
void ik_os_vlog(int level, const char *fmt, va_list ap);

/** ik_os_time_ns - monotonic time in nanoseconds. Context: any. */
uint64_t ik_os_time_ns(void);

#endif /* IRQKIT_OSL_H */
