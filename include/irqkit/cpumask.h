/* SPDX-License-Identifier: BSD-2-Clause */
/* Fixed-size CPU masks over logical CPU numbers [0, IK_CPUS_MAX). */
#ifndef IRQKIT_CPUMASK_H
#define IRQKIT_CPUMASK_H

#include <irqkit/env.h>

#define IK_CPUMASK_WORDS IK_DIV_ROUND_UP(IK_CPUS_MAX, 64)

typedef struct ik_cpumask {
	uint64_t bits[IK_CPUMASK_WORDS];
} ik_cpumask_t;

static inline void ik_cpumask_clear(ik_cpumask_t *m)
{
	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		m->bits[i] = 0;
}

static inline void ik_cpumask_set_cpu(unsigned int cpu, ik_cpumask_t *m)
{
	m->bits[cpu / 64] |= 1ull << (cpu % 64);
}

static inline void ik_cpumask_clear_cpu(unsigned int cpu, ik_cpumask_t *m)
{
	m->bits[cpu / 64] &= ~(1ull << (cpu % 64));
}

static inline bool ik_cpumask_test_cpu(unsigned int cpu, const ik_cpumask_t *m)
{
	return cpu < IK_CPUS_MAX && (m->bits[cpu / 64] >> (cpu % 64)) & 1;
}

static inline void ik_cpumask_copy(ik_cpumask_t *dst, const ik_cpumask_t *src)
{
	*dst = *src;
}

/* dst = a & b; returns true if the result is not empty. */
static inline bool ik_cpumask_and(ik_cpumask_t *dst, const ik_cpumask_t *a,
				  const ik_cpumask_t *b)
{
	uint64_t any = 0;

	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		any |= dst->bits[i] = a->bits[i] & b->bits[i];
	return any != 0;
}

static inline bool ik_cpumask_intersects(const ik_cpumask_t *a, const ik_cpumask_t *b)
{
	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

static inline bool ik_cpumask_empty(const ik_cpumask_t *m)
{
	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		if (m->bits[i])
			return false;
	return true;
}

static inline bool ik_cpumask_equal(const ik_cpumask_t *a, const ik_cpumask_t *b)
{
	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		if (a->bits[i] != b->bits[i])
			return false;
	return true;
}

static inline unsigned int ik_cpumask_weight(const ik_cpumask_t *m)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
		n += (unsigned int)__builtin_popcountll(m->bits[i]);
	return n;
}

/* First set CPU at or after @start, or IK_CPUS_MAX if none. */
static inline unsigned int ik_cpumask_next(unsigned int start, const ik_cpumask_t *m)
{
	while (start < IK_CPUS_MAX) {
		uint64_t w = m->bits[start / 64] >> (start % 64);

		if (w)
			return start + (unsigned int)__builtin_ctzll(w);
		start = (start / 64 + 1) * 64;
	}
	return IK_CPUS_MAX;
}

static inline unsigned int ik_cpumask_first(const ik_cpumask_t *m)
{
	return ik_cpumask_next(0, m);
}

#define ik_for_each_cpu(cpu, mask)                                   \
	for ((cpu) = ik_cpumask_first(mask); (cpu) < IK_CPUS_MAX;     \
	     (cpu) = ik_cpumask_next((cpu) + 1, (mask)))

/* Mask with CPUs [0, n) set. */
static inline void ik_cpumask_setall(ik_cpumask_t *m, unsigned int n)
{
	ik_cpumask_clear(m);
	for (unsigned int cpu = 0; cpu < n && cpu < IK_CPUS_MAX; cpu++)
		ik_cpumask_set_cpu(cpu, m);
}

#endif /* IRQKIT_CPUMASK_H */
