/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-CPU interrupt vector matrix allocator (provider-facing).
 *
 * A matrix is a set of per-CPU bitmaps of `matrix_bits` vectors.  Vectors
 * [alloc_start, alloc_end) are allocatable; system vectors are reserved on
 * every CPU.  Besides bits that are assigned, the matrix tracks:
 *  - global reservations: a counter, no bit ("this interrupt will need a
 *    vector somewhere when it is activated");
 *  - managed reservations: one bit per CPU of a managed interrupt's mask,
 *    reserved at allocation so that activation on any of them cannot fail.
 *
 * CPUs at or above nr_cpus in a mask are ignored.  Misuse (bad CPU or
 * bit, freeing a bit that is not allocated, a managed flag that does not
 * match, a reserved allocation without a reservation) is logged and
 * changes nothing.
 *
 * Locking: the matrix has no lock.  The owner (the x86 vector domain)
 * serialises every call with its vector lock; all calls are atomic-safe
 * (no allocation, no sleeping) except create/destroy.
 */
#ifndef IRQKIT_MATRIX_H
#define IRQKIT_MATRIX_H

#include <irqkit/cpumask.h>

struct ik_irq_matrix;

struct ik_irq_matrix_cpu_stats {
	unsigned int available;         /* free, unreserved allocatable vectors */
	unsigned int allocated;         /* assigned non-managed vectors */
	unsigned int managed;           /* managed reservations (bits) */
	unsigned int managed_allocated; /* managed reservations in use */
	bool online;
};

/**
 * ik_irq_matrix_create - create a matrix
 * @matrix_bits: vectors per CPU (256 on x86), at most 256
 * @alloc_start: first allocatable vector
 * @alloc_end:   one past the last allocatable vector
 * @nr_cpus:     number of logical CPUs, 1..IK_CPUS_MAX; all start offline
 *
 * Context: sleepable.
 * Return: the matrix, or NULL on bad parameters or allocation failure.
 */
struct ik_irq_matrix *ik_irq_matrix_create(unsigned int matrix_bits, unsigned int alloc_start,
					   unsigned int alloc_end, unsigned int nr_cpus);

/** ik_irq_matrix_destroy - free a matrix (NULL ignored). Context: sleepable. */
void ik_irq_matrix_destroy(struct ik_irq_matrix *m);

/**
 * ik_irq_matrix_assign_system - reserve @bit on every CPU (exceptions, IPIs)
 * Must be called before any CPU goes online.
 * Return: 0, -IK_EINVAL if @bit is out of range, -IK_EBUSY after onlining.
 */
int ik_irq_matrix_assign_system(struct ik_irq_matrix *m, unsigned int bit);

/** ik_irq_matrix_online - the current contents of @cpu's map become usable. */
void ik_irq_matrix_online(struct ik_irq_matrix *m, unsigned int cpu);
/** ik_irq_matrix_offline - @cpu's map stops being usable (its bits are kept). */
void ik_irq_matrix_offline(struct ik_irq_matrix *m, unsigned int cpu);

/**
 * ik_irq_matrix_reserve_managed - reserve one vector on each CPU of @mask
 * May be called for offline CPUs.  All or nothing.
 * Return: 0, -IK_ENOSPC if some CPU has no free vector (nothing changed).
 */
int ik_irq_matrix_reserve_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask);

/**
 * ik_irq_matrix_remove_managed - undo one ik_irq_matrix_reserve_managed()
 * Drops one unallocated managed reservation on each CPU of @mask.
 */
void ik_irq_matrix_remove_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask);

/**
 * ik_irq_matrix_alloc_managed - allocate a reserved managed vector
 * Picks, among the online CPUs of @mask (NULL: all online CPUs) that still
 * have an unused managed reservation, the one with the fewest managed
 * vectors in use.
 * Return: the vector and *@cpu; -IK_ENOSPC; -IK_EINVAL if @cpu is NULL.
 */
int ik_irq_matrix_alloc_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask,
				unsigned int *cpu);

/** ik_irq_matrix_reserve - take one global reservation (a count, no bit). */
void ik_irq_matrix_reserve(struct ik_irq_matrix *m);
/** ik_irq_matrix_remove_reserved - drop one global reservation. */
void ik_irq_matrix_remove_reserved(struct ik_irq_matrix *m);

/**
 * ik_irq_matrix_alloc - allocate a vector on the best CPU
 * @mask:     candidate CPUs; NULL means every online CPU
 * @reserved: the caller holds a global reservation that this allocation
 *            consumes
 * @cpu:      out, the CPU chosen
 *
 * The best CPU is the online CPU in @mask with the most available vectors
 * (lowest number on ties); the vector is the lowest free one in the window.
 * Return: the vector; -IK_ENOSPC (nothing changed); -IK_EINVAL if @cpu
 * is NULL or @reserved is set while no global reservation is held.
 */
int ik_irq_matrix_alloc(struct ik_irq_matrix *m, const ik_cpumask_t *mask, bool reserved,
			unsigned int *cpu);

/**
 * ik_irq_matrix_assign - mark @bit allocated on the current CPU's map
 * (used for fixed legacy vectors); only inside the allocation window, and
 * allowed on offline CPUs. Return: 0, -IK_EINVAL, -IK_EBUSY.
 */
int ik_irq_matrix_assign(struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit);

/**
 * ik_irq_matrix_free - release a vector
 * @managed: the vector came from ik_irq_matrix_alloc_managed(); its bit
 *           stays reserved for the interrupt
 * Freeing a bit that is not allocated is reported and ignored.
 */
void ik_irq_matrix_free(struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit,
			bool managed);

/** ik_irq_matrix_available - free vectors on online CPUs, minus reservations;
 * with @cpudown, excluding the current CPU is the caller's job (see
 * ik_irq_matrix_can_offline()). */
unsigned int ik_irq_matrix_available(const struct ik_irq_matrix *m);
/** ik_irq_matrix_reserved - number of global reservations. */
unsigned int ik_irq_matrix_reserved(const struct ik_irq_matrix *m);
/** ik_irq_matrix_allocated - non-managed vectors allocated on online CPUs. */
unsigned int ik_irq_matrix_allocated(const struct ik_irq_matrix *m);

/**
 * ik_irq_matrix_can_offline - would the non-managed vectors allocated on
 * @cpu fit into the available vectors of the other online CPUs?  (Global
 * reservations are not subtracted, as in Linux: they hold no vector.)
 */
bool ik_irq_matrix_can_offline(const struct ik_irq_matrix *m, unsigned int cpu);

/** ik_irq_matrix_cpu_stats - per-CPU counters. Return: 0 or -IK_EINVAL. */
int ik_irq_matrix_cpu_stats(const struct ik_irq_matrix *m, unsigned int cpu,
			    struct ik_irq_matrix_cpu_stats *stats);

/**
 * ik_irq_matrix_test - true if @bit is in use on @cpu: a system vector, or
 * an allocated plain or managed vector (a managed reservation that is not
 * allocated does not count).
 */
bool ik_irq_matrix_test(const struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit);

/**
 * ik_irq_matrix_check - recompute every counter from the bitmaps
 * Return: 0 when consistent, -IK_EIO (and a log line) otherwise.  For tests.
 */
int ik_irq_matrix_check(const struct ik_irq_matrix *m);

#endif /* IRQKIT_MATRIX_H */
