/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x86 platform: the vector domain (root of every x86 hierarchy) and the
 * local APIC entry path.
 *
 * Per-CPU bring-up and tear-down run on the CPU concerned.  The vector
 * domain composes compatibility-format MSI messages (physical destination
 * mode, fixed delivery, edge).
 */
#ifndef IRQKIT_X86_H
#define IRQKIT_X86_H

#include <irqkit/irqdomain.h>

/* Vector layout (x86 IDT). */
#define IK_X86_FIRST_EXTERNAL_VECTOR 0x20
#define IK_X86_SYSCALL_VECTOR        0x80
#define IK_X86_FIRST_SYSTEM_VECTOR   0xEC
#define IK_X86_SHUTDOWN_VECTOR       0xEF /* placeholder target of reserved/shut-down interrupts */
#define IK_X86_NR_VECTORS            256

#define IK_X86_LAPIC_BASE 0xFEE00000ull

/**
 * ik_x86_vector_init - create the vector domain and its matrix
 * @extra_system_vectors: vectors the port owns (IPIs), reserved on every
 *                        CPU; may be NULL
 * @nr_extra:             their number
 *
 * Context: sleepable, after ik_core_init(), before any CPU is brought up.
 * Return: 0; -IK_EBUSY (already initialised); -IK_ENOMEM; -IK_EINVAL (a
 * vector outside 0x20..0xFF).
 */
int ik_x86_vector_init(const uint8_t *extra_system_vectors, unsigned int nr_extra);

/**
 * ik_x86_vector_exit - tear down the vector domain
 * Return: 0; -IK_EBUSY if interrupts are still allocated in it.
 */
int ik_x86_vector_exit(void);

/** ik_x86_vector_domain - the root domain, or NULL before init. */
struct ik_irq_domain *ik_x86_vector_domain(void);

/**
 * ik_x86_cpu_online - bring the calling CPU's interrupt handling up
 * Enables the local APIC, reads its APIC ID, makes its vectors
 * allocatable and restarts managed interrupts whose mask includes it.
 * Context: on the CPU itself, sleepable.  Return: 0, -IK_ENODEV.
 */
int ik_x86_cpu_online(void);

/**
 * ik_x86_cpu_offline - take the calling CPU out of interrupt handling
 * Moves every interrupt targeting it (completing moves in progress and
 * replaying interrupts pending in its IRR on their new targets), shuts
 * down managed interrupts that have no other CPU.  Refused if the other
 * CPUs cannot absorb its vectors.
 * Context: on the CPU itself, sleepable.  Return: 0; -IK_ENOSPC (refused,
 * nothing changed); -IK_EBUSY (last online CPU); -IK_ENODEV.
 */
int ik_x86_cpu_offline(void);

/**
 * ik_x86_common_interrupt - entry for a device vector taken by this CPU
 * Looks the vector up in the CPU's table and runs the flow handler, which
 * EOIs through the vector chip.  A vector with no interrupt is EOIed and
 * counted as spurious.
 * Context: hard interrupt, local interrupts disabled.
 */
void ik_x86_common_interrupt(unsigned int vector);

/** ik_x86_cpu_apic_id - APIC ID read at bring-up, or UINT32_MAX. */
uint32_t ik_x86_cpu_apic_id(unsigned int cpu);

struct ik_x86_vector_stats {
	uint64_t spurious;          /* vectors with no interrupt behind them */
	uint64_t shutdown_hits;     /* messages to the shutdown placeholder */
	uint64_t retriggered_hits;  /* stray hits on a slot marked during a move */
	uint64_t cleanups;          /* old vectors released after a move */
	uint64_t cleanups_postponed;/* cleanup deferred: old vector still pending */
};
/** ik_x86_vector_stats - per-CPU counters. Return: 0 or -IK_EINVAL. */
int ik_x86_vector_stats(unsigned int cpu, struct ik_x86_vector_stats *stats);

/* Where an interrupt currently points, for views and tests. */
struct ik_x86_irq_target {
	unsigned int cpu, vector;
	unsigned int prev_cpu, prev_vector;
	bool move_in_progress;
	bool is_managed;
	bool has_reserved;          /* holds a global reservation, no vector */
};
/** Return: 0, -IK_ENOENT (no vector-domain level for @irq). */
int ik_x86_irq_target(unsigned int irq, struct ik_x86_irq_target *target);

/**
 * ik_x86_matrix_check - run the matrix consistency check under the vector
 * lock and cross-check the per-CPU vector tables against it.
 * Return: 0, -IK_EIO.  For tests.
 */
int ik_x86_matrix_check(void);

/** Matrix counters of @cpu, under the vector lock. */
struct ik_irq_matrix_cpu_stats;
int ik_x86_matrix_cpu_stats(unsigned int cpu, struct ik_irq_matrix_cpu_stats *stats);

/** ik_x86_matrix_reserved - global matrix reservations (allocated, not activated). */
unsigned int ik_x86_matrix_reserved(void);

/* ---- x86-msi: message updates of device domains below the vector domain ---- */

/*
 * Without interrupt remapping an MSI message names its target itself: the
 * address holds the destination APIC ID, the data the vector.  How a device
 * domain whose real parent is the vector domain rewrites its message when
 * the interrupt moves is decided once, when the domain is created, by one
 * predicate: the two-step update is used iff the store is NOT MASKABLE
 * (the domain does not declare IK_MSI_FLAG_MASK_SOURCE; masking "at the
 * parent" does not count, the local APIC cannot mask a vector) and NOT
 * REMAPPED (its real parent is the vector domain).  The device domain's
 * chip is renamed after the protocol, so views show it.  See
 * docs/x86-msi-affinity.md.
 */
enum ik_x86_msi_protocol {
	IK_X86_MSI_NONE = 0,    /* not below the vector domain (remapped), not an MSI
				   device domain, or the store moves by itself */
	IK_X86_MSI_MASKED,      /* maskable: the new message is written masked */
	IK_X86_MSI_TWO_STEP,    /* new vector on the current CPU, then the new destination,
				   then an IRR check and retrigger */
};
#define IK_X86_MSI_CHIP_MASKED   "x86-MSI-masked"
#define IK_X86_MSI_CHIP_TWO_STEP "x86-MSI-2step"

/** ik_x86_msi_domain_protocol - the protocol of @domain. Context: any. */
enum ik_x86_msi_protocol ik_x86_msi_domain_protocol(const struct ik_irq_domain *domain);

/*
 * Where the two-step update runs.  Its last step reads the local APIC's IRR,
 * which only the CPU currently serving the interrupt can do, so it runs
 * there: called on that CPU (from ik_irq_set_affinity() there, or on a CPU
 * going offline) it runs at once; called elsewhere the move is left pending
 * and carried out from the interrupt's next ack on that CPU (as Linux does
 * for every non-remapped move).  Interrupts not started yet, and moves that
 * change only the vector or only the destination, are written directly.
 */
struct ik_x86_msi_stats {
	uint64_t direct;        /* one write: not started, or a single field changes */
	uint64_t masked;        /* maskable store, written masked */
	uint64_t two_step;      /* two-step updates */
	uint64_t raced;         /* ... that found the new vector in the IRR and retriggered */
	uint64_t deferred;      /* asked from another CPU: left for the next interrupt */
	uint64_t naive;         /* final message written at once (ik_x86_msi_set_naive_update) */
};
/** ik_x86_msi_get_stats - counters since ik_x86_vector_init(). Context: any. */
void ik_x86_msi_get_stats(struct ik_x86_msi_stats *stats);

/**
 * ik_x86_msi_set_naive_update - FOR TESTS AND DEMONSTRATIONS ONLY
 * With @naive, domains using IK_X86_MSI_TWO_STEP write the final message at
 * once instead (same CPU, same deferral): a device that sends between the
 * address and data writes can then lose an interrupt, which is what the
 * lossless tests must be able to observe.  Reset to false by
 * ik_x86_vector_init().  Context: any.
 */
void ik_x86_msi_set_naive_update(bool naive);

#endif /* IRQKIT_X86_H */
