/* SPDX-License-Identifier: BSD-2-Clause */
/* Interrupt core internals: descriptors, actions, domains. */
#ifndef IK_CORE_INTERNALS_H
#define IK_CORE_INTERNALS_H

#include <irqkit/irqdomain.h>
#include <irqkit/osl.h>

#include "xarray.h"

/*
 * One installed handler.  Laid out without holes (80 bytes on LP64, checked
 * by tests/unit/test_desc_size.c): the interrupt number is the descriptor's
 * (desc->irq_data.irq) and the flags fit 16 bits (static assert in manage.c).
 */
struct ik_irqaction {
	ik_irq_handler_t handler;
	ik_irq_handler_t thread_fn;
	void *dev_id;
	const char *name;
	struct ik_irq_desc *desc;
	struct ik_irqaction *next;
	struct ik_os_work thread_work;
	uint32_t thread_mask;           /* this action's bit in desc->threads_oneshot */
	uint16_t flags;                 /* IK_IRQF_* */
	bool thread_queued;             /* under desc->lock */
};

/*
 * Field order avoids holes: the 4-byte fields (and the 4-aligned spinlock)
 * sit together, and the per-CPU counts are a flexible array in the same
 * allocation (one load less in the flow handlers, no pointer).  The
 * descriptor takes ik_irq_desc_bytes(nr_cpus); test_desc_size.c holds it
 * to the documented bound.
 */
struct ik_irq_desc {
	struct ik_irq_common_data common;
	struct ik_irq_data irq_data;    /* outermost level */
	ik_irq_flow_handler_t handle_irq;
	struct ik_irqaction *action;    /* list, modified under lock + request_mutex */
	struct ik_storm *storm;         /* handled-storm policy (storm.c), or NULL */
	/* Spurious detection (spurious.c), under lock. */
	uint64_t last_unhandled_ns;
	uint64_t storms;                /* storms detected, under lock */
	ik_cpumask_t pending_mask;      /* deferred affinity move */
	ik_mutex_t request_mutex;
	uint32_t istate;                /* IK_IRQS_*, under lock */
	unsigned int depth;             /* nested disables; 1 while shut down */
	unsigned int nr_actions;
	uint32_t irq_count;             /* spurious.c, under lock */
	uint32_t irqs_unhandled;        /* spurious.c, under lock */
	uint32_t spurious_disables;     /* spurious.c, under lock; saturates */
	uint32_t threads_handled;       /* threaded handlers that returned HANDLED */
	uint32_t threads_handled_last;  /* snapshot, bit 31: accounting deferred */
	/* Threaded handlers. */
	uint32_t threads_oneshot;       /* threads that must finish before unmask */
	uint32_t threads_active;        /* queued or running threads */
	uint32_t handlers_running;      /* CPUs inside the actions of this desc */
	unsigned int alloc_nr;          /* size of the allocation this desc starts; 0 if not first */
	ik_spinlock_t lock;
	uint64_t kstat[];               /* per-CPU handled counts, ik_nr_cpus() of them */
};

/* Bytes of one descriptor allocation with its per-CPU counts. */
static inline size_t ik_irq_desc_bytes(unsigned int nr_cpus)
{
	return sizeof(struct ik_irq_desc) + (size_t)nr_cpus * sizeof(uint64_t);
}

#define ik_desc_irqd(desc) (&(desc)->irq_data)

static inline bool ik_desc_test_istate(const struct ik_irq_desc *desc, uint32_t bit)
{
	return (desc->istate & bit) != 0;
}

/* log.c */
void ik_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ik_warn(...) ik_log(IK_LOG_WARN, __VA_ARGS__)
#define ik_err(...) ik_log(IK_LOG_ERR, __VA_ARGS__)
#define ik_info(...) ik_log(IK_LOG_INFO, __VA_ARGS__)
/* Report a broken invariant with its location; returns @cond. */
bool ik_warn_on(bool cond, const char *expr, const char *file, int line);
#define IK_WARN_ON(cond) ik_warn_on(!!(cond), #cond, __FILE__, __LINE__)
/*
 * Lock assertions at the top of helpers that need a lock held; compiled in
 * with IK_LOCKDEP (the default for test builds), out for production.
 */
#ifdef IK_LOCKDEP
#define ik_lockdep_assert_held(lock) IK_WARN_ON(!ik_os_spin_held(lock))
#else
#define ik_lockdep_assert_held(lock) ((void)(lock))
#endif

void ik_memset(void *dst, int c, size_t n);
void ik_memcpy(void *dst, const void *src, size_t n);

/* irqdesc.c */
bool ik_core_ready(void);
int ik_irq_alloc_descs(unsigned int nr, const struct ik_irq_affinity_desc *affinity);
void ik_irq_free_descs(unsigned int irq, unsigned int nr);
unsigned int ik_nr_cpus(void);
/* Take/release the descriptor lock and the chip bus lock around configuration. */
struct ik_irq_desc *ik_irq_get_desc_buslock(unsigned int irq, ik_irqflags_t *flags);
void ik_irq_put_desc_busunlock(struct ik_irq_desc *desc, ik_irqflags_t flags);
void ik_chip_bus_lock(struct ik_irq_desc *desc);
void ik_chip_bus_sync_unlock(struct ik_irq_desc *desc);

/* chip.c: state machine helpers, descriptor lock held */
int ik_irq_startup(struct ik_irq_desc *desc, bool resend);
void ik_irq_shutdown(struct ik_irq_desc *desc);
void ik_irq_enable(struct ik_irq_desc *desc);
void ik_irq_disable(struct ik_irq_desc *desc);
void ik_mask_irq(struct ik_irq_desc *desc);
void ik_unmask_irq(struct ik_irq_desc *desc);
int ik_irq_activate(struct ik_irq_desc *desc);
ik_irqreturn_t ik_handle_irq_event(struct ik_irq_desc *desc);

/* Count one handled interrupt on the current CPU; descriptor lock held. */
static inline void ik_kstat_incr(struct ik_irq_desc *desc)
{
	uint64_t *count = &desc->kstat[ik_os_cpu_id()];

	/* Only this CPU writes its counter; readers on other CPUs load it once. */
	IK_WRITE_ONCE(*count, *count + 1);
}

/* resend.c */
int ik_check_irq_resend(struct ik_irq_desc *desc, bool inject);

/* spurious.c */
void ik_note_interrupt(struct ik_irq_desc *desc, ik_irqreturn_t ret);
void ik_spurious_reset(struct ik_irq_desc *desc);

/* storm.c */
void ik_storm_note(struct ik_irq_desc *desc);
void ik_storm_stop(struct ik_irq_desc *desc);
void ik_storm_free(struct ik_irq_desc *desc);

/* manage.c */
void ik_irq_wake_thread(struct ik_irq_desc *desc, struct ik_irqaction *action);

/* irqdomain.c */
bool ik_irq_domains_empty(void);
const struct ik_irq_domain_ops *ik_irq_domain_get_ops(const struct ik_irq_domain *domain);
void ik_irq_domain_set_msi_parent_ops(struct ik_irq_domain *domain, const void *ops);
const void *ik_irq_domain_get_msi_parent_ops(const struct ik_irq_domain *domain);

/* device.c: where the MSI core keeps a device's MSI data. */
struct ik_device;
void **ik_device_msi_data_slot(struct ik_device *dev);

#endif /* IK_CORE_INTERNALS_H */
