/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Simulator internals shared by the files in sim/.  Nothing outside sim/
 * may include this header: tests and tools use sim.h, the library uses
 * osl.h.
 */
#ifndef IKSIM_SIM_INTERNAL_H
#define IKSIM_SIM_INTERNAL_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqkit/osl.h>

#include "sim.h"

_Static_assert(SIM_MAX_CPUS <= 64, "destination sets are 64-bit masks");

#define SIM_NR_VECTORS 256
#define SIM_FIRST_LEGAL_VECTOR 16
#define SIM_IRR_WORDS (SIM_NR_VECTORS / 32)

/* ---- xAPIC register offsets (Intel SDM Vol. 3A, table 11-1) ---------- */
#define LAPIC_REG_ID		0x020
#define LAPIC_REG_VERSION	0x030
#define LAPIC_REG_TPR		0x080
#define LAPIC_REG_APR		0x090
#define LAPIC_REG_PPR		0x0A0
#define LAPIC_REG_EOI		0x0B0
#define LAPIC_REG_RRD		0x0C0
#define LAPIC_REG_LDR		0x0D0
#define LAPIC_REG_DFR		0x0E0
#define LAPIC_REG_SVR		0x0F0
#define LAPIC_REG_ISR		0x100
#define LAPIC_REG_TMR		0x180
#define LAPIC_REG_IRR		0x200
#define LAPIC_REG_ESR		0x280
#define LAPIC_REG_LVT_CMCI	0x2F0
#define LAPIC_REG_ICR_LO	0x300
#define LAPIC_REG_ICR_HI	0x310
#define LAPIC_REG_LVT_TIMER	0x320
#define LAPIC_REG_LVT_ERROR	0x370
#define LAPIC_REG_TIMER_INIT	0x380
#define LAPIC_REG_TIMER_CUR	0x390
#define LAPIC_REG_TIMER_DIV	0x3E0

#define LAPIC_VERSION_VALUE	0x00050014u	/* max LVT entry 5, version 0x14 */
#define LAPIC_SVR_ENABLE	(1u << 8)
#define LAPIC_LVT_MASKED	(1u << 16)
#define LAPIC_NR_LVT		7		/* CMCI + 0x320..0x370 */

#define LAPIC_ESR_SEND_ILLEGAL_VECTOR	(1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR	(1u << 6)
#define LAPIC_ESR_ILLEGAL_REGISTER	(1u << 7)

#define LAPIC_ICR_VECTOR_MASK	0xFFu
#define LAPIC_ICR_MODE_SHIFT	8
#define LAPIC_ICR_LOGICAL	(1u << 11)
#define LAPIC_ICR_BUSY		(1u << 12)
#define LAPIC_ICR_LEVEL		(1u << 15)
#define LAPIC_ICR_SHORTHAND_SHIFT 18

#define APIC_DM_FIXED		0
#define APIC_DM_LOWEST		1
#define APIC_DM_SMI		2
#define APIC_DM_NMI		4
#define APIC_DM_INIT		5
#define APIC_DM_STARTUP		6

#define APIC_SHORTHAND_NONE	0
#define APIC_SHORTHAND_SELF	1
#define APIC_SHORTHAND_ALL	2
#define APIC_SHORTHAND_OTHERS	3

/* ---- MSI compatibility format (Intel SDM Vol. 3A, 11.11) ------------- */
#define MSI_WINDOW_BASE		0xFEE00000ull
#define MSI_WINDOW_SIZE		0x00100000ull
#define MSI_ADDR_DEST_SHIFT	12
#define MSI_ADDR_REMAPPABLE	(1u << 4)
#define MSI_ADDR_RH		(1u << 3)
#define MSI_ADDR_LOGICAL	(1u << 2)
#define MSI_DATA_MODE_SHIFT	8
#define MSI_DATA_LEVEL_TRIGGER	(1u << 15)

struct sim_lapic {
	/*
	 * Protects every field below.  A leaf lock: never held while calling
	 * out of lapic.c (IDT entries, kicks, other LAPICs).
	 */
	pthread_mutex_t lock;
	uint32_t apic_id;
	uint32_t tpr;
	uint32_t ldr;
	uint32_t dfr;
	uint32_t svr;
	uint32_t esr;		/* visible value, latched by the last ESR write */
	uint32_t esr_pending;	/* errors since the last ESR write */
	uint32_t icr_lo;
	uint32_t icr_hi;
	uint32_t lvt[LAPIC_NR_LVT];
	uint32_t timer_init;
	uint32_t timer_div;
	uint32_t irr[SIM_IRR_WORDS];
	uint32_t isr[SIM_IRR_WORDS];
	uint32_t tmr[SIM_IRR_WORDS];
	uint64_t nmis;
};

struct sim_run_call;

struct sim_cpu {
	struct sim_machine *m;
	unsigned int index;
	int online;		/* __atomic */
	int if_flag;		/* __atomic; the CPU's EFLAGS.IF */
	unsigned int irq_depth;	/* IDT entries active; only the CPU's own context touches it */
	struct sim_lapic lapic;
	uint64_t vector_count[SIM_NR_VECTORS];	/* __atomic */

	/* Threaded mode: the CPU's host thread and what it is asked to do. */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t run_lock;	/* protects the fields below */
	pthread_cond_t run_cond;	/* the CPU thread waits here */
	pthread_cond_t done_cond;	/* sim_run_on_cpu callers wait here */
	uint64_t kicks;			/* bumped on every event that may need the CPU */
	struct sim_run_call *calls_head, *calls_tail;
	bool stop;
	int active;			/* __atomic; running a call or an IDT entry */
};

struct sim_region {
	uint64_t base;
	uint64_t size;
	const struct sim_region_ops *ops;
	void *opaque;
	char name[32];
};

struct sim_event {
	uint64_t due;
	uint64_t seq;		/* FIFO order among events due at the same tick */
	void (*fn)(void *arg);
	void *arg;
};

struct sim_cleanup {
	struct sim_cleanup *next;
	void (*fn)(void *arg);
	void *arg;
};

struct sim_port;

struct sim_machine {
	struct sim_config cfg;
	unsigned int nr_cpus;
	unsigned int interleave_permille;
	struct sim_cpu cpus[SIM_MAX_CPUS];

	uint8_t *ram;
	pthread_rwlock_t regions_lock;
	struct sim_region *regions;	/* sorted by base, never overlapping */
	unsigned int nr_regions;
	unsigned int regions_cap;

	sim_vector_entry_t idt_entry;	/* __atomic */
	void *idt_ctx;

	pthread_mutex_t pci_lock;
	const struct sim_pci_cfg_ops *pci_ops;
	void *pci_opaque;

	uint64_t stats[SIM_STAT_COUNT];	/* __atomic */

	/* Scheduler.  rng and now are shared with threads in threaded mode. */
	pthread_mutex_t rng_lock;
	uint64_t rng;
	uint64_t now;			/* __atomic */
	uint64_t actions;		/* __atomic; events, vectors, work items run */
	struct sim_event *events;	/* min-heap on (due, seq) */
	size_t nr_events;
	size_t events_cap;
	uint64_t event_seq;

	/* Deterministic mode: which CPU the single host thread is running as. */
	unsigned int cur_cpu;
	unsigned int ctx_depth;		/* 0: top level, current = first online CPU */
	uint64_t cur_task;
	uint64_t next_task;
	int spin_held;			/* __atomic; spinlocks held by anyone */
	unsigned int point_depth;
	bool work_running;

	sim_trace_fn_t trace_fn;
	void *trace_ctx;

	/* Interrupt-message interposer (sim_set_msi_interposer); __atomic. */
	sim_msi_interposer_fn msi_interposer;
	void *msi_interposer_opaque;
	/* Requester-id window (sim_set_dma_rid_window); fn is __atomic, published last. */
	sim_msi_interposer_fn rid_window_fn;
	void *rid_window_opaque;
	uint64_t rid_window_base, rid_window_size;

	struct sim_cleanup *cleanups;
	struct sim_port *port;
};

/* ---- machine.c ------------------------------------------------------ */
void sim_stat_inc(struct sim_machine *m, enum sim_stat which);
unsigned int sim_first_online_cpu(const struct sim_machine *m);
void sim_machine_add_cleanup(struct sim_machine *m, void (*fn)(void *), void *arg);
void sim_trace(struct sim_machine *m, enum sim_trace_type type, unsigned int cpu,
	       unsigned int vector, uint64_t value);
/* Print a diagnostic and abort: for states the simulated machine cannot continue from. */
void sim_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- lapic.c -------------------------------------------------------- */
void sim_lapic_reset(struct sim_lapic *l, uint32_t apic_id);
uint32_t sim_lapic_read(struct sim_machine *m, unsigned int cpu, uint32_t offset);
void sim_lapic_write(struct sim_machine *m, unsigned int cpu, uint32_t offset, uint32_t value);
/* Latch @vector into @cpu's IRR; returns true if it merged with a pending one. */
bool sim_lapic_accept(struct sim_machine *m, unsigned int cpu, unsigned int vector, bool level);
/* Clear IRR/ISR/TMR (a CPU going away); returns the IRR bits dropped. */
unsigned int sim_lapic_discard_vectors(struct sim_machine *m, unsigned int cpu);
void sim_lapic_flag_error(struct sim_machine *m, unsigned int cpu, uint32_t esr_bits);
bool sim_lapic_sw_enabled(struct sim_machine *m, unsigned int cpu);
uint32_t sim_lapic_ppr(struct sim_machine *m, unsigned int cpu);
bool sim_lapic_logical_match(struct sim_machine *m, unsigned int cpu, uint32_t dest);
/* Highest IRR vector that beats the PPR (IF not considered), or -1. */
int sim_lapic_deliverable(struct sim_machine *m, unsigned int cpu);
/* Move the deliverable vector from IRR to ISR and return it, or -1. */
int sim_lapic_ack(struct sim_machine *m, unsigned int cpu);

/* ---- msi.c ---------------------------------------------------------- */
void sim_msi_deliver(struct sim_machine *m, uint64_t addr, uint32_t data);
void sim_ipi_send(struct sim_machine *m, unsigned int from, uint32_t icr_lo, uint32_t icr_hi);

/* ---- sched.c -------------------------------------------------------- */
void sim_sched_init(struct sim_machine *m);
int sim_threads_start(struct sim_machine *m);
void sim_threads_stop(struct sim_machine *m);
void sim_sched_fini(struct sim_machine *m);
/* Threaded mode: wake @cpu's thread because something changed for it. */
void sim_kick_cpu(struct sim_machine *m, unsigned int cpu);

/* The context the calling code runs in (a CPU, its IF, lock/task identity). */
unsigned int sim_ctx_cpu(struct sim_machine *m);
bool sim_ctx_is_cpu(struct sim_machine *m, unsigned int cpu);
bool sim_ctx_irqs_enabled(struct sim_machine *m);
void sim_ctx_set_irqs(struct sim_machine *m, bool enabled);
bool sim_ctx_in_irq(struct sim_machine *m);
uint32_t sim_ctx_lock_owner(struct sim_machine *m);
uint64_t sim_ctx_task(struct sim_machine *m);
/* IF went 0 -> 1 in the current context: take what is pending, then a point. */
void sim_ctx_irqs_enabled_point(struct sim_machine *m);
/*
 * Deterministic mode: do everything that can be done now (due events,
 * deliverable interrupts, one work item), or run the next event early if
 * nothing else can.  Returns the number of actions taken.
 */
uint64_t sim_det_step(struct sim_machine *m);
/* Threaded mode: is any CPU busy or any interrupt deliverable? */
uint64_t sim_actions(const struct sim_machine *m);

/* ---- host_port.c ------------------------------------------------------ */
int sim_port_machine_init(struct sim_machine *m);
void sim_port_machine_stop(struct sim_machine *m);
void sim_port_machine_fini(struct sim_machine *m);
/* Dequeue one work item (its state reset so it may be requeued), or NULL. */
struct ik_os_work *sim_port_dequeue_work(struct sim_machine *m);
bool sim_port_idle(struct sim_machine *m);

#endif /* IKSIM_SIM_INTERNAL_H */
