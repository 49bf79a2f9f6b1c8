/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The simulated machine.
 *
 * This is hardware, not library: it implements registers with their real
 * formats (xAPIC local APIC, Intel SDM MSI compatibility format, later PCI
 * and VT-d).  The library reaches it only through the OS services layer
 * (include/irqkit/osl.h), which sim/host_port.c implements on top of this
 * API.  Tests and tools use this API to build machines and drive devices.
 *
 * One machine is "current" at a time: the host port serves the library's
 * OS services from it.
 */
#ifndef IKSIM_SIM_H
#define IKSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_CPUS 64
#define SIM_LAPIC_BASE 0xFEE00000ull
#define SIM_LAPIC_SIZE 0x100000ull

/* Vectors the host port (the "OS") owns; everything else goes to the library. */
#define SIM_VECTOR_CALL_FUNCTION 0xFB
#define SIM_VECTOR_SPURIOUS 0xFF

struct sim_machine;

struct sim_config {
	unsigned int nr_cpus;           /* 1..SIM_MAX_CPUS */
	bool apic_ids_given;            /* use apic_ids[], else APIC ID = cpu index */
	uint32_t apic_ids[SIM_MAX_CPUS];/* may be sparse; need not include 0 (< 0xFF) */
	uint64_t seed;                  /* deterministic scheduler seed */
	bool threaded;                  /* one host thread per CPU */
	/*
	 * Deterministic mode: probability (per mille) that a register access
	 * by library code becomes a point where a pending device event or
	 * interrupt delivery is interleaved.  0 means "default" (250).
	 */
	unsigned int interleave_permille;
	uint64_t ram_size;              /* bytes of RAM at physical 0; may be 0 */
};

/* ---- Machine ------------------------------------------------------------ */

/** Create a machine and make it current.  NULL on bad config. */
struct sim_machine *sim_create(const struct sim_config *cfg);
/** Stop CPU threads, free everything; clears "current" if it was. */
void sim_destroy(struct sim_machine *m);
/** The current machine (used by the host port). */
struct sim_machine *sim_current(void);

/* ---- Physical address space ------------------------------------------------ */

struct sim_region_ops {
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned int size);
	void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned int size);
};

/** Map an MMIO region; -EEXIST on overlap, -EINVAL on bad args. */
int sim_map_region(struct sim_machine *m, uint64_t base, uint64_t size,
		   const struct sim_region_ops *ops, void *opaque, const char *name);
/** Unmap the region starting at @base; -ENOENT if none. */
int sim_unmap_region(struct sim_machine *m, uint64_t base);

/*
 * Accesses issued by CPU @cpu.  0xFEE00000-0xFEEFFFFF is that CPU's own
 * local APIC.  Unmapped reads return all-ones; unmapped writes are counted
 * (SIM_STAT_UNMAPPED_WRITES).
 */
uint64_t sim_cpu_read(struct sim_machine *m, unsigned int cpu, uint64_t pa, unsigned int size);
void sim_cpu_write(struct sim_machine *m, unsigned int cpu, uint64_t pa, uint64_t value,
		   unsigned int size);

/*
 * A bus-master write by a device (@requester_id = bus:dev.fn).  A 32-bit
 * write to 0xFEExxxxx is an interrupt message decoded per the Intel SDM
 * compatibility format; anything else goes to RAM or MMIO.
 */
void sim_dma_write32(struct sim_machine *m, uint16_t requester_id, uint64_t pa, uint32_t value);

/*
 * Bus-master memory accesses of a device model (a remapping unit reading its
 * table, a status write): RAM or MMIO, no interrupt decode.  @size 1, 2, 4
 * or 8; unmapped reads return all-ones, unmapped writes are counted
 * (SIM_STAT_UNMAPPED_WRITES).
 */
uint64_t sim_dma_read(struct sim_machine *m, uint64_t pa, unsigned int size);
void sim_dma_write(struct sim_machine *m, uint64_t pa, uint64_t value, unsigned int size);

/*
 * Interrupt-message interposer: where an IOMMU's interrupt remapping sits
 * (sim_vtd.h).  While one is installed, every sim_dma_write32() to the
 * interrupt window 0xFEE00000-0xFEEFFFFF is handed to @fn instead of the
 * compatibility-format decoder; @fn decides what, if anything, reaches the
 * LAPICs.  Called on the writer's thread with no simulator lock held.  One
 * per machine: -EBUSY if another is installed; @fn NULL removes it.
 */
typedef void (*sim_msi_interposer_fn)(void *opaque, uint16_t requester_id, uint64_t addr,
				      uint32_t data);
int sim_set_msi_interposer(struct sim_machine *m, sim_msi_interposer_fn fn, void *opaque);

/*
 * Requester-id window: where a translator's doorbell sits (sim_its.h).
 * While one is installed, every sim_dma_write32() to [@base, @base + @size)
 * outside the interrupt window is handed to @fn with the writer's requester
 * id instead of going to RAM or MMIO (CPU writes are not affected).  Called
 * on the writer's thread with no simulator lock held.  One per machine:
 * -EBUSY if another is installed, -EINVAL for an empty or wrapping window;
 * @fn NULL removes it.
 */
int sim_set_dma_rid_window(struct sim_machine *m, uint64_t base, uint64_t size,
			   sim_msi_interposer_fn fn, void *opaque);

/* ---- CPUs ------------------------------------------------------------------ */

/*
 * Local APICs come out of reset as the SDM says: software-disabled (SVR =
 * 0xFF), TPR 0, DFR flat, LDR 0.  A disabled LAPIC accepts no fixed
 * interrupts (messages to it count as SIM_STAT_MSI_NO_DEST).  The host
 * port's sim_port_install() enables every LAPIC as an OS would at boot.
 * ESR follows the SDM: errors become visible in ESR after a write to ESR
 * (write, then read), and the next write clears them.
 */

unsigned int sim_nr_cpus(const struct sim_machine *m);
uint32_t sim_cpu_apic_id(const struct sim_machine *m, unsigned int cpu);

/*
 * The interrupt descriptor table: one entry function for all vectors.  The
 * CPU calls it with its interrupts disabled when it takes @vector (the
 * vector has moved IRR -> ISR).  The entry must write EOI itself, like an OS.
 */
typedef void (*sim_vector_entry_t)(void *ctx, unsigned int vector);
void sim_set_idt(struct sim_machine *m, sim_vector_entry_t entry, void *ctx);

/*
 * A CPU that is offline takes no interrupts; messages to it are counted as
 * SIM_STAT_MSI_NO_DEST.  Taking a CPU offline discards what its LAPIC still
 * had pending or in service (as the INIT at the next bring-up would): each
 * discarded IRR bit is counted in SIM_STAT_OFFLINE_DISCARDED, which is the
 * number of interrupts stranded on CPUs that went away.  The register
 * configuration (SVR, LDR, DFR, TPR) is kept, as if the OS restored it.
 */
void sim_cpu_set_online(struct sim_machine *m, unsigned int cpu, bool online);
bool sim_cpu_is_online(const struct sim_machine *m, unsigned int cpu);

/* ---- Execution ----------------------------------------------------------- */

/*
 * Run @fn(@arg) as process context on @cpu (interrupts enabled) and return
 * when it has finished.  Deterministic mode: runs on the calling host
 * thread with @cpu as the current CPU.  Threaded mode: runs on @cpu's thread.
 *
 * @fn must return with interrupts enabled and no spinlock held (the
 * simulator aborts with a message otherwise).
 */
void sim_run_on_cpu(struct sim_machine *m, unsigned int cpu, void (*fn)(void *), void *arg);

/*
 * Queue a device event: @fn(@arg) runs @delay ticks from now (virtual time;
 * one tick per interleaving point).  Events run in (due time, queue order).
 * An interleaving point with nothing due may run the earliest event early
 * (so races around it are reachable); sim_run_until_idle() advances the
 * clock to each event's due time.  Deterministic mode only; threaded mode
 * runs it at once on the caller's thread.
 */
void sim_schedule(struct sim_machine *m, uint64_t delay, void (*fn)(void *), void *arg);

/*
 * Run until no device event is queued, no CPU has a deliverable interrupt
 * and no host work is queued.  Deterministic mode: returns the number of
 * actions taken (events run + vectors taken + work items run, nested ones
 * included); aborts after 10^8.  Threaded mode: waits until all CPU threads
 * and the worker are idle with nothing deliverable; returns the polls made.
 */
uint64_t sim_run_until_idle(struct sim_machine *m);

/*
 * An interleaving point (the host port calls this on every register access,
 * in ik_os_cpu_relax() and when interrupts are re-enabled).  Advances the
 * clock one tick.  Deterministic mode: with probability
 * interleave_permille/1000 runs due events, delivers interrupts (to the
 * current CPU if its IF is set; to other CPUs with IF set only if no
 * spinlock is held anywhere) and runs one host work item if the current
 * context is process context with IF set.  Threaded mode: the calling CPU
 * thread takes its deliverable interrupts if its IF is set.
 */
void sim_point(struct sim_machine *m);

/*
 * Change the interleaving probability of a running machine (per thousand
 * points, 1..1000; 0 = the default 250) and return the previous value.
 * Deterministic mode, from the thread driving the machine (tools that must
 * not miss a point, e.g. to catch a register half rewritten).
 */
unsigned int sim_set_interleave(struct sim_machine *m, unsigned int permille);

/** Deterministic random numbers from the machine's seed. */
uint64_t sim_rand(struct sim_machine *m);
uint64_t sim_now(const struct sim_machine *m);

/* ---- Inspection (tests and tools; never used by the library) ------------- */

bool sim_lapic_irr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector);
bool sim_lapic_isr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector);
bool sim_lapic_tmr_test(struct sim_machine *m, unsigned int cpu, unsigned int vector);

/*
 * The CPU the calling code runs as: in deterministic mode the CPU selected
 * by sim_run_on_cpu() or an interrupt delivery, else the first online CPU;
 * in threaded mode the CPU thread's own CPU, else the first online CPU.
 * (The host port's ik_os_cpu_id() returns the same.)
 */
unsigned int sim_cpu_current(struct sim_machine *m);

enum sim_stat {
	SIM_STAT_MSI_ACCEPTED,      /* messages latched into some IRR */
	SIM_STAT_MSI_NO_DEST,       /* destination matched no (online, enabled) CPU */
	SIM_STAT_MSI_ILLEGAL_VECTOR,/* vector 0..15: counted, ESR "receive illegal vector" */
	SIM_STAT_MSI_BAD_FORMAT,    /* not a compatibility-format message, no remapping */
	SIM_STAT_NO_IDT,            /* vector taken with no IDT entry installed */
	SIM_STAT_INTERRUPTS_TAKEN,  /* vectors taken by CPUs (all CPUs) */
	SIM_STAT_IPIS_SENT,
	SIM_STAT_UNMAPPED_WRITES,
	SIM_STAT_MSI_COALESCED,     /* accepted, but merged with an IRR bit already set */
	SIM_STAT_EOIS,              /* EOI writes that retired an ISR bit */
	SIM_STAT_LEVEL_EOIS,        /* ... of which for a level-triggered vector (TMR set) */
	SIM_STAT_EVENTS_RUN,        /* sim_schedule() events run */
	SIM_STAT_NMIS,              /* NMI IPIs received (counted, not delivered) */
	SIM_STAT_OFFLINE_DISCARDED, /* IRR bits discarded when their CPU went offline */
	SIM_STAT_COUNT
};
uint64_t sim_stat(const struct sim_machine *m, enum sim_stat which);
/** Vectors taken per CPU and vector (for tests). */
uint64_t sim_cpu_vector_count(const struct sim_machine *m, unsigned int cpu, unsigned int vector);

/* ---- PCI configuration space ---------------------------------------------- */

/*
 * Handler for configuration accesses (a PCI/ECAM model plugs in here).  The
 * host port has already validated @size (1, 2, 4), alignment and @offset
 * (< 4096).  Without a handler reads return all-ones and writes are ignored.
 */
struct sim_pci_cfg_ops {
	int (*read)(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		    unsigned int size, uint32_t *value);
	int (*write)(void *opaque, uint16_t segment, uint16_t bdf, uint16_t offset,
		     unsigned int size, uint32_t value);
};
void sim_set_pci_cfg_handler(struct sim_machine *m, const struct sim_pci_cfg_ops *ops,
			     void *opaque);
int sim_pci_cfg_read(struct sim_machine *m, uint16_t segment, uint16_t bdf, uint16_t offset,
		     unsigned int size, uint32_t *value);
int sim_pci_cfg_write(struct sim_machine *m, uint16_t segment, uint16_t bdf, uint16_t offset,
		      unsigned int size, uint32_t value);

/* ---- Trace (tools; deterministic mode gives a reproducible sequence) ------ */

enum sim_trace_type {
	SIM_TRACE_EVENT,        /* a scheduled event ran; value = due tick */
	SIM_TRACE_MSI,          /* a message was accepted; vector, value = address */
	SIM_TRACE_IPI,          /* an IPI was sent by cpu; value = ICR high:low */
	SIM_TRACE_IRQ_ENTER,    /* cpu took vector */
	SIM_TRACE_IRQ_EXIT,
	SIM_TRACE_EOI,          /* cpu retired vector */
	SIM_TRACE_WORK,         /* a host work item ran on cpu */
};
typedef void (*sim_trace_fn_t)(void *ctx, enum sim_trace_type type, uint64_t now,
			       unsigned int cpu, unsigned int vector, uint64_t value);
/* Install a trace callback (NULL to remove).  Called with no sim locks held. */
void sim_set_trace(struct sim_machine *m, sim_trace_fn_t fn, void *ctx);

/* ---- Allocation failure injection (the host port's ik_os_alloc) ----------- */

/* Fail the allocation number @n from now (1 = the next one); 0 disables. */
void sim_alloc_fail_nth(uint64_t n);
/* Allocations made and bytes outstanding through ik_os_alloc. */
uint64_t sim_alloc_count(void);
int64_t sim_alloc_outstanding(void);
int64_t sim_alloc_bytes_outstanding(void);

/* ---- Test device --------------------------------------------------------- */

/*
 * A minimal bus-master device with @nr_slots message slots in an MMIO
 * window at @base (16 bytes per slot):
 *   +0x0 ADDR_LO  +0x4 ADDR_HI  +0x8 DATA
 *   +0xC CTRL: bit 0 MASK (rw), bit 1 PENDING (ro), write bit 31 = FIRE
 * Firing reads the slot's registers at that moment (so a half-written
 * message is sent as it stands) and writes DATA to ADDR_HI:ADDR_LO.  A fire
 * while MASK is set sets PENDING instead; clearing MASK with PENDING set
 * sends the message then.
 */
struct sim_testdev;
struct sim_testdev *sim_testdev_create(struct sim_machine *m, uint64_t base,
				       unsigned int nr_slots, uint16_t requester_id);
void sim_testdev_fire(struct sim_testdev *dev, unsigned int slot);
uint64_t sim_testdev_fired(const struct sim_testdev *dev, unsigned int slot);   /* fire requests */
uint64_t sim_testdev_sent(const struct sim_testdev *dev, unsigned int slot);    /* messages written */

#endif /* IKSIM_SIM_H */
