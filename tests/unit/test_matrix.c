// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the per-CPU vector matrix allocator: directed cases for
 * each rule of the contract, then randomised operation sequences checked
 * after every step against ik_irq_matrix_check() and a naive reference
 * model kept in this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <irqkit/matrix.h>
#include <irqkit/osl.h>

#include "host_port.h"

#define BITS 256u
#define LO 0x20u
#define HI 0xECu
#define WIN (HI - LO)

/* ---- Helpers --------------------------------------------------------------- */

static struct ik_irq_matrix *make(unsigned int start, unsigned int end, unsigned int cpus,
				  bool online)
{
	struct ik_irq_matrix *m = ik_irq_matrix_create(BITS, start, end, cpus);

	assert_non_null(m);
	if (online)
		for (unsigned int cpu = 0; cpu < cpus; cpu++)
			ik_irq_matrix_online(m, cpu);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	return m;
}

static ik_cpumask_t mask_of(int n, ...)
{
	ik_cpumask_t mask;
	va_list ap;

	ik_cpumask_clear(&mask);
	va_start(ap, n);
	while (n--)
		ik_cpumask_set_cpu((unsigned int)va_arg(ap, int), &mask);
	va_end(ap);
	return mask;
}

static struct ik_irq_matrix_cpu_stats stats(const struct ik_irq_matrix *m, unsigned int cpu)
{
	struct ik_irq_matrix_cpu_stats st;

	assert_int_equal(ik_irq_matrix_cpu_stats(m, cpu, &st), 0);
	return st;
}

/* Everything observable through the API, for "nothing changed" checks. */
#define SNAP_CPUS 8
struct snapshot {
	unsigned int st[SNAP_CPUS][5]; /* no padding to compare */
	uint8_t used[SNAP_CPUS][BITS];
	unsigned int available, reserved, allocated;
};

static void snap(const struct ik_irq_matrix *m, unsigned int cpus, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	assert_true(cpus <= SNAP_CPUS);
	for (unsigned int cpu = 0; cpu < cpus; cpu++) {
		struct ik_irq_matrix_cpu_stats st = stats(m, cpu);

		s->st[cpu][0] = st.available;
		s->st[cpu][1] = st.allocated;
		s->st[cpu][2] = st.managed;
		s->st[cpu][3] = st.managed_allocated;
		s->st[cpu][4] = st.online;
		for (unsigned int bit = 0; bit < BITS; bit++)
			s->used[cpu][bit] = ik_irq_matrix_test(m, cpu, bit);
	}
	s->available = ik_irq_matrix_available(m);
	s->reserved = ik_irq_matrix_reserved(m);
	s->allocated = ik_irq_matrix_allocated(m);
}

static void assert_unchanged(const struct ik_irq_matrix *m, unsigned int cpus,
			     const struct snapshot *before)
{
	struct snapshot now;

	snap(m, cpus, &now);
	assert_memory_equal(&now, before, sizeof(now));
	assert_int_equal(ik_irq_matrix_check(m), 0);
}

static int setup_quiet(void **state)
{
	(void)state;
	sim_port_set_log_level(-1);
	return 0;
}

/* ---- Directed tests ------------------------------------------------------- */

static void test_create_params(void **state)
{
	(void)state;
	assert_null(ik_irq_matrix_create(0, 0, 0, 1));
	assert_null(ik_irq_matrix_create(257, 0x20, 0xEC, 1));
	assert_null(ik_irq_matrix_create(256, 0x30, 0x30, 1));
	assert_null(ik_irq_matrix_create(256, 0x20, 257, 1));
	assert_null(ik_irq_matrix_create(256, 0x20, 0xEC, 0));
	assert_null(ik_irq_matrix_create(256, 0x20, 0xEC, IK_CPUS_MAX + 1));
	ik_irq_matrix_destroy(NULL);

	struct ik_irq_matrix *m = make(LO, HI, IK_CPUS_MAX, false);

	/* Everything starts offline with the whole window free. */
	assert_false(stats(m, IK_CPUS_MAX - 1).online);
	assert_int_equal(stats(m, 0).available, WIN);
	assert_int_equal(ik_irq_matrix_available(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_basic_alloc_free(void **state)
{
	struct ik_irq_matrix *m = make(LO, HI, 4, true);
	unsigned int cpu = 99;
	int vec;

	(void)state;
	assert_int_equal(ik_irq_matrix_available(m), 4 * WIN);
	vec = ik_irq_matrix_alloc(m, NULL, false, &cpu);
	assert_int_equal(vec, LO);
	assert_int_equal(cpu, 0);
	assert_true(ik_irq_matrix_test(m, 0, LO));
	assert_false(ik_irq_matrix_test(m, 1, LO));
	assert_int_equal(stats(m, 0).allocated, 1);
	assert_int_equal(stats(m, 0).available, WIN - 1);
	assert_int_equal(ik_irq_matrix_allocated(m), 1);
	assert_int_equal(ik_irq_matrix_available(m), 4 * WIN - 1);
	assert_int_equal(ik_irq_matrix_check(m), 0);

	ik_irq_matrix_free(m, 0, LO, false);
	assert_false(ik_irq_matrix_test(m, 0, LO));
	assert_int_equal(stats(m, 0).allocated, 0);
	assert_int_equal(ik_irq_matrix_allocated(m), 0);
	assert_int_equal(ik_irq_matrix_available(m), 4 * WIN);
	assert_int_equal(ik_irq_matrix_check(m), 0);

	/* Fixed assignment. */
	assert_int_equal(ik_irq_matrix_assign(m, 2, 0x31), 0);
	assert_true(ik_irq_matrix_test(m, 2, 0x31));
	assert_int_equal(stats(m, 2).allocated, 1);
	ik_irq_matrix_free(m, 2, 0x31, false);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_system_vectors(void **state)
{
	static const unsigned int sys[] = { 0x20, 0x21, 0x80, 0xEB, 0xEF, 0x02 };
	struct ik_irq_matrix *m = make(LO, HI, 2, false);
	ik_cpumask_t m0 = mask_of(1, 0);
	unsigned int cpu, n = 0;
	int vec;

	(void)state;
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(sys); i++)
		assert_int_equal(ik_irq_matrix_assign_system(m, sys[i]), 0);
	assert_int_equal(ik_irq_matrix_assign_system(m, 0x80), 0); /* idempotent */
	assert_int_equal(ik_irq_matrix_assign_system(m, BITS), -IK_EINVAL);
	/* 4 of them are inside the window. */
	assert_int_equal(stats(m, 1).available, WIN - 4);
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(sys); i++)
		assert_true(ik_irq_matrix_test(m, 1, sys[i]));

	ik_irq_matrix_online(m, 0);
	ik_irq_matrix_online(m, 1);
	assert_int_equal(ik_irq_matrix_assign_system(m, 0x90), -IK_EBUSY);
	assert_false(ik_irq_matrix_test(m, 0, 0x90));

	while ((vec = ik_irq_matrix_alloc(m, &m0, false, &cpu)) >= 0) {
		assert_int_equal(cpu, 0);
		assert_true((unsigned int)vec >= LO && (unsigned int)vec < HI);
		for (unsigned int i = 0; i < IK_ARRAY_SIZE(sys); i++)
			assert_int_not_equal(vec, (int)sys[i]);
		n++;
	}
	assert_int_equal(vec, -IK_ENOSPC);
	assert_int_equal(n, WIN - 4);
	/* System vectors cannot be assigned either. */
	assert_int_equal(ik_irq_matrix_assign(m, 1, 0x80), -IK_EBUSY);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_system_vector_in_use(void **state)
{
	struct ik_irq_matrix *m = make(LO, HI, 2, false);
	ik_cpumask_t m1 = mask_of(1, 1);

	(void)state;
	/* A managed reservation on an offline CPU blocks a system vector there. */
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m1), 0);
	assert_int_equal(ik_irq_matrix_assign_system(m, LO), -IK_EBUSY);
	assert_int_equal(stats(m, 0).available, WIN);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_window_respected(void **state)
{
	struct ik_irq_matrix *m = make(0x30, 0x40, 3, true);
	unsigned int cpu, count[3] = { 0 };
	int vec;

	(void)state;
	while ((vec = ik_irq_matrix_alloc(m, NULL, false, &cpu)) >= 0) {
		assert_true(vec >= 0x30 && vec < 0x40);
		count[cpu]++;
	}
	assert_int_equal(vec, -IK_ENOSPC);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(count[i], 16);
	/* Outside the window: neither assignable nor freeable. */
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x2f), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x40), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_least_loaded(void **state)
{
	struct ik_irq_matrix *m = make(LO, HI, 3, true);
	ik_cpumask_t m01 = mask_of(2, 0, 1);
	unsigned int cpu;

	(void)state;
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x50), 0);
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x51), 0);
	assert_int_equal(ik_irq_matrix_assign(m, 1, 0x50), 0);
	/* Loads 2,1,0. */
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), LO);
	assert_int_equal(cpu, 2);
	/* Loads 2,1,1: tie between 1 and 2, lowest wins. */
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), LO);
	assert_int_equal(cpu, 1);
	/* Restricted to {0,1}: loads 2,2: CPU 0, first free vector. */
	assert_int_equal(ik_irq_matrix_alloc(m, &m01, false, &cpu), LO);
	assert_int_equal(cpu, 0);
	assert_int_equal(ik_irq_matrix_alloc(m, &m01, false, &cpu), LO + 1);
	assert_int_equal(cpu, 1);
	/* An offline CPU is never chosen even when it is the emptiest. */
	ik_irq_matrix_offline(m, 2);
	ik_irq_matrix_free(m, 2, LO, false);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), LO + 1);
	assert_int_equal(cpu, 0);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_tie_break_lowest(void **state)
{
	struct ik_irq_matrix *m = make(LO, HI, 200, true);
	ik_cpumask_t hi = mask_of(3, 199, 130, 70);
	unsigned int cpu;

	(void)state;
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), LO);
	assert_int_equal(cpu, 0);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), LO);
	assert_int_equal(cpu, 1);
	assert_int_equal(ik_irq_matrix_alloc(m, &hi, false, &cpu), LO);
	assert_int_equal(cpu, 70);
	assert_int_equal(ik_irq_matrix_alloc(m, &hi, false, &cpu), LO);
	assert_int_equal(cpu, 130);
	assert_int_equal(ik_irq_matrix_alloc(m, &hi, false, &cpu), LO);
	assert_int_equal(cpu, 199);
	assert_int_equal(ik_irq_matrix_alloc(m, &hi, false, &cpu), LO + 1);
	assert_int_equal(cpu, 70);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_exhaustion(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x44, 2, true);
	ik_cpumask_t none = mask_of(0), off = mask_of(1, 3);
	struct snapshot before;
	unsigned int cpu = 77;

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_true(ik_irq_matrix_alloc(m, NULL, false, &cpu) >= 0x40);
	ik_irq_matrix_reserve(m);
	snap(m, 2, &before);
	cpu = 77;
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), -IK_ENOSPC);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, true, &cpu), -IK_ENOSPC);
	assert_int_equal(cpu, 77);
	assert_unchanged(m, 2, &before);
	assert_int_equal(ik_irq_matrix_reserved(m), 1);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &off), 0); /* CPU 3 > nr_cpus: ignored */
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), -IK_ENOSPC);
	assert_unchanged(m, 2, &before);

	/* Empty mask and a mask of CPUs that do not exist: nothing to choose. */
	ik_irq_matrix_free(m, 0, 0x41, false);
	snap(m, 2, &before);
	assert_int_equal(ik_irq_matrix_alloc(m, &none, false, &cpu), -IK_ENOSPC);
	assert_int_equal(ik_irq_matrix_alloc(m, &off, false, &cpu), -IK_ENOSPC);
	assert_unchanged(m, 2, &before);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, true, &cpu), 0x41);
	assert_int_equal(ik_irq_matrix_reserved(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_managed_reserve_unwind(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x44, 3, false);
	ik_cpumask_t all = mask_of(3, 0, 1, 2);
	struct snapshot before;

	(void)state;
	ik_irq_matrix_online(m, 0);
	/* CPU 2 stays offline: reservations are allowed there. */
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &all), 0);
	for (unsigned int cpu = 0; cpu < 3; cpu++) {
		assert_int_equal(stats(m, cpu).managed, 1);
		assert_int_equal(stats(m, cpu).available, 3);
	}
	assert_int_equal(ik_irq_matrix_available(m), 3);
	/* Fill CPU 1 completely. */
	for (unsigned int bit = 0x41; bit < 0x44; bit++)
		assert_int_equal(ik_irq_matrix_assign(m, 1, bit), 0);
	snap(m, 3, &before);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &all), -IK_ENOSPC);
	assert_unchanged(m, 3, &before);

	/* Remove is all-or-nothing too: CPU 1's reservation is in use. */
	ik_irq_matrix_online(m, 1);
	unsigned int cpu;
	ik_cpumask_t m1 = mask_of(1, 1);

	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m1, &cpu), 0x40);
	assert_int_equal(cpu, 1);
	snap(m, 3, &before);
	uint64_t warns = sim_port_warnings();

	ik_irq_matrix_remove_managed(m, &all);
	assert_true(sim_port_warnings() > warns);
	assert_unchanged(m, 3, &before);
	ik_irq_matrix_destroy(m);
}

static void test_managed_alloc_fewest(void **state)
{
	struct ik_irq_matrix *m = make(LO, HI, 4, true);
	ik_cpumask_t m012 = mask_of(3, 0, 1, 2), m12 = mask_of(2, 1, 2);
	unsigned int cpu;

	(void)state;
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m012), 0);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m012), 0);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m12), 0);
	assert_int_equal(stats(m, 1).managed, 3);
	/* Plain allocation on CPU 0 must not change the managed choice. */
	assert_int_equal(ik_irq_matrix_alloc(m, &m012, false, &cpu), LO + 2);
	assert_int_equal(cpu, 0);

	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO);
	assert_int_equal(cpu, 0);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO);
	assert_int_equal(cpu, 1);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO);
	assert_int_equal(cpu, 2);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO + 1);
	assert_int_equal(cpu, 0);
	/* CPU 0 has no unused reservation left: it is skipped. */
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO + 1);
	assert_int_equal(cpu, 1);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m012, &cpu), LO + 1);
	assert_int_equal(cpu, 2);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), LO + 2);
	assert_int_equal(cpu, 1);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), LO + 2);
	assert_int_equal(cpu, 2);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), -IK_ENOSPC);
	assert_int_equal(stats(m, 1).managed_allocated, 3);
	/* Managed vectors are not "allocated" in the plain sense. */
	assert_int_equal(stats(m, 1).allocated, 0);
	assert_int_equal(ik_irq_matrix_allocated(m), 1);
	/* An offline CPU is not chosen. */
	ik_irq_matrix_free(m, 1, LO + 2, true);
	ik_irq_matrix_offline(m, 1);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), -IK_ENOSPC);
	ik_irq_matrix_online(m, 1);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, &cpu), LO + 2);
	assert_int_equal(cpu, 1);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_managed_free_keeps_reservation(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x42, 1, true);
	ik_cpumask_t m0 = mask_of(1, 0);
	unsigned int cpu;

	(void)state;
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m0), 0);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m0, &cpu), 0x40);
	assert_true(ik_irq_matrix_test(m, 0, 0x40));
	ik_irq_matrix_free(m, 0, 0x40, true);
	assert_false(ik_irq_matrix_test(m, 0, 0x40));
	assert_int_equal(stats(m, 0).managed, 1);
	assert_int_equal(stats(m, 0).managed_allocated, 0);
	assert_int_equal(stats(m, 0).available, 1);
	assert_int_equal(ik_irq_matrix_available(m), 1);
	/* The reserved bit is not handed out as a plain vector... */
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), 0x41);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, &cpu), -IK_ENOSPC);
	/* ...but comes back for the managed interrupt. */
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m0, &cpu), 0x40);
	ik_irq_matrix_free(m, 0, 0x40, true);
	ik_irq_matrix_free(m, 0, 0x41, false);
	ik_irq_matrix_remove_managed(m, &m0);
	assert_int_equal(stats(m, 0).managed, 0);
	assert_int_equal(stats(m, 0).available, 2);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_global_reservations(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x44, 2, true);
	unsigned int cpu;
	uint64_t warns;

	(void)state;
	assert_int_equal(ik_irq_matrix_available(m), 8);
	for (int i = 0; i < 3; i++)
		ik_irq_matrix_reserve(m);
	assert_int_equal(ik_irq_matrix_reserved(m), 3);
	assert_int_equal(ik_irq_matrix_available(m), 5);
	assert_true(ik_irq_matrix_alloc(m, NULL, true, &cpu) >= 0);
	assert_int_equal(ik_irq_matrix_reserved(m), 2);
	assert_int_equal(ik_irq_matrix_available(m), 5);
	assert_true(ik_irq_matrix_alloc(m, NULL, false, &cpu) >= 0);
	assert_int_equal(ik_irq_matrix_available(m), 4);
	ik_irq_matrix_remove_reserved(m);
	ik_irq_matrix_remove_reserved(m);
	assert_int_equal(ik_irq_matrix_reserved(m), 0);
	assert_int_equal(ik_irq_matrix_available(m), 6);
	/* Underflow and consuming a reservation nobody holds are misuse. */
	warns = sim_port_warnings();
	ik_irq_matrix_remove_reserved(m);
	assert_int_equal(ik_irq_matrix_reserved(m), 0);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, true, &cpu), -IK_EINVAL);
	assert_int_equal(sim_port_warnings(), warns + 2);
	assert_int_equal(ik_irq_matrix_allocated(m), 2);
	/* More reservations than vectors: available() saturates at 0. */
	for (int i = 0; i < 10; i++)
		ik_irq_matrix_reserve(m);
	assert_int_equal(ik_irq_matrix_available(m), 0);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_online_offline_accounting(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x50, 3, false);
	ik_cpumask_t m2 = mask_of(1, 2);
	unsigned int cpu;

	(void)state;
	assert_int_equal(ik_irq_matrix_available(m), 0);
	/* Assignment and reservation on an offline CPU count once it is online. */
	assert_int_equal(ik_irq_matrix_assign(m, 2, 0x45), 0);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m2), 0);
	assert_int_equal(ik_irq_matrix_allocated(m), 0);
	ik_irq_matrix_online(m, 0);
	ik_irq_matrix_online(m, 1);
	ik_irq_matrix_online(m, 2);
	assert_int_equal(ik_irq_matrix_available(m), 16 + 16 + 14);
	assert_int_equal(ik_irq_matrix_allocated(m), 1);
	assert_true(ik_irq_matrix_alloc(m, &m2, false, &cpu) >= 0);
	assert_int_equal(ik_irq_matrix_allocated(m), 2);
	ik_irq_matrix_offline(m, 2);
	assert_false(stats(m, 2).online);
	assert_int_equal(stats(m, 2).allocated, 2);
	assert_int_equal(ik_irq_matrix_available(m), 32);
	assert_int_equal(ik_irq_matrix_allocated(m), 0);
	/* Freeing on an offline CPU is allowed (vector cleanup after unplug). */
	ik_irq_matrix_free(m, 2, 0x45, false);
	assert_int_equal(ik_irq_matrix_available(m), 32);
	ik_irq_matrix_online(m, 2);
	assert_int_equal(ik_irq_matrix_available(m), 32 + 14);
	assert_int_equal(ik_irq_matrix_allocated(m), 1);
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_can_offline(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x44, 3, true);
	ik_cpumask_t m0 = mask_of(1, 0);
	unsigned int cpu;

	(void)state;
	ik_irq_matrix_offline(m, 2);
	for (unsigned int bit = 0x40; bit < 0x43; bit++)
		assert_int_equal(ik_irq_matrix_assign(m, 0, bit), 0);
	assert_int_equal(ik_irq_matrix_assign(m, 1, 0x40), 0);
	/* CPU 0: 3 to move, CPU 1 has 3 free (offline CPU 2 does not count). */
	assert_true(ik_irq_matrix_can_offline(m, 0));
	assert_true(ik_irq_matrix_can_offline(m, 1));
	assert_int_equal(ik_irq_matrix_assign(m, 1, 0x41), 0);
	/* Now 3 to move into 2, and 2 into 1. */
	assert_false(ik_irq_matrix_can_offline(m, 0));
	assert_false(ik_irq_matrix_can_offline(m, 1));
	/* An offline CPU has nothing to move into itself. */
	assert_true(ik_irq_matrix_can_offline(m, 2));
	/* Managed vectors are shut down, not moved: they do not count. */
	ik_irq_matrix_free(m, 0, 0x42, false);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m0), 0);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, &m0, &cpu), 0x42);
	assert_true(ik_irq_matrix_can_offline(m, 0));
	/* Global reservations do not block it either. */
	ik_irq_matrix_reserve(m);
	ik_irq_matrix_reserve(m);
	assert_true(ik_irq_matrix_can_offline(m, 0));
	assert_false(ik_irq_matrix_can_offline(m, 3));
	assert_int_equal(ik_irq_matrix_check(m), 0);
	ik_irq_matrix_destroy(m);
}

static void test_misuse_changes_nothing(void **state)
{
	struct ik_irq_matrix *m = make(0x40, 0x48, 4, true);
	ik_cpumask_t m01 = mask_of(2, 0, 1);
	struct ik_irq_matrix_cpu_stats st;
	struct snapshot before;
	unsigned int cpu;
	uint64_t warns;
	int plain, managed;

	(void)state;
	plain = ik_irq_matrix_alloc(m, NULL, false, &cpu);
	assert_int_equal(plain, 0x40);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, &m01), 0);
	/* CPU 0 got 0x41 as its reservation, CPU 1 got 0x40. */
	managed = ik_irq_matrix_alloc_managed(m, &m01, &cpu);
	assert_int_equal(managed, 0x41);
	assert_int_equal(cpu, 0);
	ik_irq_matrix_offline(m, 3);
	snap(m, 4, &before);
	warns = sim_port_warnings();

	ik_irq_matrix_online(m, 4);             /* bad CPU */
	ik_irq_matrix_online(m, 0);             /* already online */
	ik_irq_matrix_offline(m, 3);            /* already offline */
	ik_irq_matrix_offline(m, 1000);
	ik_irq_matrix_free(m, 0, 0x42, false);  /* not allocated */
	ik_irq_matrix_free(m, 0, 0x3f, false);  /* outside the window */
	ik_irq_matrix_free(m, 0, 0x200, false);
	ik_irq_matrix_free(m, 9, 0x40, false);  /* bad CPU */
	ik_irq_matrix_free(m, 0, 0x40, true);   /* plain freed as managed */
	ik_irq_matrix_free(m, 0, 0x41, false);  /* managed freed as plain */
	ik_irq_matrix_free(m, 1, 0x40, true);   /* reserved, never allocated */
	ik_irq_matrix_remove_managed(m, NULL);
	ik_irq_matrix_remove_managed(m, &(ik_cpumask_t){ { 0 } }); /* empty: no-op */
	ik_irq_matrix_remove_reserved(m);
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x40), -IK_EBUSY);
	assert_int_equal(ik_irq_matrix_assign(m, 1, 0x40), -IK_EBUSY); /* reserved */
	assert_int_equal(ik_irq_matrix_assign(m, 4, 0x42), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_assign(m, 0, 0x48), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_reserve_managed(m, NULL), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_alloc(m, NULL, false, NULL), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_alloc_managed(m, NULL, NULL), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_assign_system(m, 0x42), -IK_EBUSY);
	assert_int_equal(ik_irq_matrix_cpu_stats(m, 4, &st), -IK_EINVAL);
	assert_int_equal(ik_irq_matrix_cpu_stats(m, 0, NULL), -IK_EINVAL);
	assert_false(ik_irq_matrix_test(m, 4, 0x40));
	assert_false(ik_irq_matrix_test(m, 0, BITS));
	assert_false(ik_irq_matrix_can_offline(m, 4));

	assert_true(sim_port_warnings() >= warns + 18);
	assert_unchanged(m, 4, &before);
	ik_irq_matrix_destroy(m);
}

/* ---- Randomised test against a reference model ------------------------------ */

#define MW 4 /* words per bitmap */

struct model_cpu {
	uint64_t plain[MW];   /* plain allocated */
	uint64_t man[MW];     /* managed reserved */
	uint64_t mall[MW];    /* managed allocated (subset of man) */
	bool online;
};

struct model {
	unsigned int cpus, start, end;
	uint64_t sys[MW];
	unsigned int reserved;
	struct model_cpu c[IK_CPUS_MAX];
};

static uint64_t rng;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int rndn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static bool mtest(const uint64_t *map, unsigned int bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

static void mset(uint64_t *map, unsigned int bit)
{
	map[bit / 64] |= 1ull << (bit % 64);
}

static void mclr(uint64_t *map, unsigned int bit)
{
	map[bit / 64] &= ~(1ull << (bit % 64));
}

static bool model_free_bit(const struct model *md, unsigned int cpu, unsigned int bit)
{
	const struct model_cpu *c = &md->c[cpu];

	return bit >= md->start && bit < md->end && !mtest(md->sys, bit) &&
	       !mtest(c->plain, bit) && !mtest(c->man, bit);
}

static unsigned int model_avail(const struct model *md, unsigned int cpu)
{
	unsigned int n = 0;

	for (unsigned int bit = md->start; bit < md->end; bit++)
		n += model_free_bit(md, cpu, bit);
	return n;
}

static int model_first_free(const struct model *md, unsigned int cpu)
{
	for (unsigned int bit = md->start; bit < md->end; bit++)
		if (model_free_bit(md, cpu, bit))
			return (int)bit;
	return -1;
}

static unsigned int model_count(const uint64_t *map)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MW; i++)
		n += (unsigned int)__builtin_popcountll(map[i]);
	return n;
}

static int model_first_managed_free(const struct model_cpu *c)
{
	for (unsigned int bit = 0; bit < BITS; bit++)
		if (mtest(c->man, bit) && !mtest(c->mall, bit))
			return (int)bit;
	return -1;
}

static bool in_mask(const ik_cpumask_t *mask, unsigned int cpu)
{
	return !mask || ik_cpumask_test_cpu(cpu, mask);
}

/* Compare everything observable with the model. */
static void model_compare(const struct ik_irq_matrix *m, const struct model *md)
{
	unsigned int g_avail = 0, g_alloc = 0;

	assert_int_equal(ik_irq_matrix_check(m), 0);
	for (unsigned int cpu = 0; cpu < md->cpus; cpu++) {
		const struct model_cpu *c = &md->c[cpu];
		struct ik_irq_matrix_cpu_stats st = stats(m, cpu);
		unsigned int avail = model_avail(md, cpu);
		unsigned int bit = rndn(BITS);

		assert_int_equal(st.online, c->online);
		assert_int_equal(st.available, avail);
		assert_int_equal(st.allocated, model_count(c->plain));
		assert_int_equal(st.managed, model_count(c->man));
		assert_int_equal(st.managed_allocated, model_count(c->mall));
		assert_int_equal(ik_irq_matrix_test(m, cpu, bit),
				 mtest(md->sys, bit) || mtest(c->plain, bit) || mtest(c->mall, bit));
		if (c->online) {
			g_avail += avail;
			g_alloc += model_count(c->plain);
		}
	}
	assert_int_equal(ik_irq_matrix_reserved(m), md->reserved);
	assert_int_equal(ik_irq_matrix_allocated(m), g_alloc);
	assert_int_equal(ik_irq_matrix_available(m),
			 g_avail > md->reserved ? g_avail - md->reserved : 0);
}

/* Random masks of several shapes, to reach every path of the tree search. */
static const ik_cpumask_t *random_mask(const struct model *md, ik_cpumask_t *mask)
{
	unsigned int kind = rndn(8), n;

	ik_cpumask_clear(mask);
	switch (kind) {
	case 0:
		return NULL;
	case 1: /* one CPU, sometimes beyond nr_cpus */
		ik_cpumask_set_cpu(rndn(md->cpus + 2) % IK_CPUS_MAX, mask);
		break;
	case 2: /* a few CPUs */
		n = 1 + rndn(6);
		while (n--)
			ik_cpumask_set_cpu(rndn(md->cpus), mask);
		break;
	case 3: /* dense random */
		for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
			mask->bits[i] = rnd() | rnd();
		break;
	case 4: /* sparse random */
		for (unsigned int i = 0; i < IK_CPUMASK_WORDS; i++)
			mask->bits[i] = rnd() & rnd() & rnd();
		break;
	case 5: /* an aligned range (full tree nodes) */
		n = 1u << rndn(8);
		for (unsigned int cpu = (rndn(md->cpus) / n) * n, i = 0; i < n; i++)
			ik_cpumask_set_cpu((cpu + i) % IK_CPUS_MAX, mask);
		break;
	case 6: /* all possible CPUs, and some more */
		ik_cpumask_setall(mask, IK_MIN(md->cpus + rndn(3), IK_CPUS_MAX));
		break;
	default: /* empty */
		break;
	}
	return mask;
}

/* Expected CPU for a plain allocation, or -1. */
static int model_best_cpu(const struct model *md, const ik_cpumask_t *mask)
{
	int best = -1;
	unsigned int best_avail = 0;

	for (unsigned int cpu = 0; cpu < md->cpus; cpu++) {
		unsigned int avail;

		if (!md->c[cpu].online || !in_mask(mask, cpu))
			continue;
		avail = model_avail(md, cpu);
		if (avail > best_avail) {
			best_avail = avail;
			best = (int)cpu;
		}
	}
	return best;
}

static int model_best_managed_cpu(const struct model *md, const ik_cpumask_t *mask)
{
	int best = -1;
	unsigned int best_used = ~0u;

	for (unsigned int cpu = 0; cpu < md->cpus; cpu++) {
		const struct model_cpu *c = &md->c[cpu];
		unsigned int used = model_count(c->mall);

		if (!c->online || !in_mask(mask, cpu) || used >= model_count(c->man))
			continue;
		if (used < best_used) {
			best_used = used;
			best = (int)cpu;
		}
	}
	return best;
}

/* Pick a random allocated vector (plain or managed); false if none found. */
static bool model_pick_allocated(const struct model *md, unsigned int *cpu, unsigned int *bit,
				 bool *managed)
{
	for (int tries = 0; tries < 64; tries++) {
		unsigned int c = rndn(md->cpus), b = md->start + rndn(md->end - md->start);

		if (mtest(md->c[c].plain, b) || mtest(md->c[c].mall, b)) {
			*cpu = c;
			*bit = b;
			*managed = mtest(md->c[c].mall, b);
			return true;
		}
	}
	return false;
}

struct rand_cfg {
	unsigned int cpus, start, end, nsys, ops;
};

static void run_random(uint64_t seed, const struct rand_cfg *cfg, struct model *md)
{
	struct ik_irq_matrix *m = ik_irq_matrix_create(BITS, cfg->start, cfg->end, cfg->cpus);
	ik_cpumask_t maskbuf;
	const ik_cpumask_t *mask;
	unsigned int cpu, bit;
	bool managed;
	int ret, want;

	assert_non_null(m);
	rng = seed;
	memset(md, 0, sizeof(*md));
	md->cpus = cfg->cpus;
	md->start = cfg->start;
	md->end = cfg->end;
	for (unsigned int i = 0; i < cfg->nsys; i++) {
		bit = rndn(BITS);
		assert_int_equal(ik_irq_matrix_assign_system(m, bit), 0);
		mset(md->sys, bit);
	}
	for (cpu = 0; cpu < md->cpus; cpu++) {
		if (rndn(4)) {
			ik_irq_matrix_online(m, cpu);
			md->c[cpu].online = true;
		}
	}
	model_compare(m, md);

	for (unsigned int op = 0; op < cfg->ops; op++) {
		unsigned int kind = rndn(100);

		if (kind < 30) {                        /* plain allocation */
			bool res = rndn(3) == 0 && md->reserved;

			mask = random_mask(md, &maskbuf);
			want = model_best_cpu(md, mask);
			cpu = ~0u;
			ret = ik_irq_matrix_alloc(m, mask, res, &cpu);
			if (want < 0) {
				assert_int_equal(ret, -IK_ENOSPC);
				assert_int_equal(cpu, ~0u);
			} else {
				assert_int_equal(cpu, (unsigned int)want);
				assert_int_equal(ret, model_first_free(md, cpu));
				mset(md->c[cpu].plain, (unsigned int)ret);
				if (res)
					md->reserved--;
			}
		} else if (kind < 52) {                 /* free */
			if (model_pick_allocated(md, &cpu, &bit, &managed)) {
				ik_irq_matrix_free(m, cpu, bit, managed);
				mclr(managed ? md->c[cpu].mall : md->c[cpu].plain, bit);
			}
		} else if (kind < 56) {                 /* fixed assignment */
			cpu = rndn(md->cpus + 1);
			bit = rndn(BITS);
			ret = ik_irq_matrix_assign(m, cpu, bit);
			if (cpu >= md->cpus || bit < md->start || bit >= md->end) {
				assert_int_equal(ret, -IK_EINVAL);
			} else if (!model_free_bit(md, cpu, bit)) {
				assert_int_equal(ret, -IK_EBUSY);
			} else {
				assert_int_equal(ret, 0);
				mset(md->c[cpu].plain, bit);
			}
		} else if (kind < 62) {                 /* global reservations */
			if (rndn(2)) {
				ik_irq_matrix_reserve(m);
				md->reserved++;
			} else {
				ik_irq_matrix_remove_reserved(m);
				if (md->reserved)
					md->reserved--;
			}
		} else if (kind < 70) {                 /* managed reservation */
			bool fits = true;

			mask = random_mask(md, &maskbuf);
			if (!mask || rndn(2)) {         /* keep them small */
				ik_cpumask_clear(&maskbuf);
				for (unsigned int n = 1 + rndn(3); n; n--)
					ik_cpumask_set_cpu(rndn(md->cpus), &maskbuf);
				mask = &maskbuf;
			}
			for (cpu = 0; cpu < md->cpus; cpu++)
				if (in_mask(mask, cpu) && model_first_free(md, cpu) < 0)
					fits = false;
			ret = ik_irq_matrix_reserve_managed(m, mask);
			assert_int_equal(ret, fits ? 0 : -IK_ENOSPC);
			for (cpu = 0; fits && cpu < md->cpus; cpu++)
				if (in_mask(mask, cpu))
					mset(md->c[cpu].man, (unsigned int)model_first_free(md, cpu));
		} else if (kind < 75) {                 /* managed removal */
			bool ok = true;

			ik_cpumask_clear(&maskbuf);
			for (unsigned int n = 1 + rndn(3); n; n--)
				ik_cpumask_set_cpu(rndn(md->cpus), &maskbuf);
			for (cpu = 0; cpu < md->cpus; cpu++)
				if (in_mask(&maskbuf, cpu) && model_first_managed_free(&md->c[cpu]) < 0)
					ok = false;
			ik_irq_matrix_remove_managed(m, &maskbuf);
			for (cpu = 0; ok && cpu < md->cpus; cpu++)
				if (in_mask(&maskbuf, cpu))
					mclr(md->c[cpu].man,
					     (unsigned int)model_first_managed_free(&md->c[cpu]));
		} else if (kind < 87) {                 /* managed allocation */
			mask = random_mask(md, &maskbuf);
			want = model_best_managed_cpu(md, mask);
			ret = ik_irq_matrix_alloc_managed(m, mask, &cpu);
			if (want < 0) {
				assert_int_equal(ret, -IK_ENOSPC);
			} else {
				assert_int_equal(cpu, (unsigned int)want);
				assert_int_equal(ret, model_first_managed_free(&md->c[cpu]));
				mset(md->c[cpu].mall, (unsigned int)ret);
			}
		} else if (kind < 95) {                 /* hotplug */
			cpu = rndn(md->cpus);
			if (md->c[cpu].online) {
				unsigned int others = 0;

				for (unsigned int c = 0; c < md->cpus; c++)
					if (c != cpu && md->c[c].online)
						others += model_avail(md, c);
				assert_int_equal(ik_irq_matrix_can_offline(m, cpu),
						 model_count(md->c[cpu].plain) <= others);
				ik_irq_matrix_offline(m, cpu);
			} else {
				ik_irq_matrix_online(m, cpu);
			}
			md->c[cpu].online = !md->c[cpu].online;
		} else {                                /* misuse: must change nothing */
			cpu = rndn(md->cpus + 2);
			bit = rndn(BITS + 8);
			managed = rndn(2);
			if (cpu < md->cpus && bit < BITS &&
			    (managed ? mtest(md->c[cpu].mall, bit) : mtest(md->c[cpu].plain, bit)))
				continue; /* that would be a valid free */
			ik_irq_matrix_free(m, cpu, bit, managed);
		}
		model_compare(m, md);
	}
	ik_irq_matrix_destroy(m);
}

static void test_random_vs_model(void **state)
{
	static const uint64_t seeds[] = {
		1, 2, 3, 42, 0xdeadbeef, 0x1234567890abcdefull, 7777, 31337,
		0xfeedface, 99991, 123456789, 0xabad1dea, 555, 65537, 0xc0ffee, 271828,
	};
	static struct model md;
	unsigned int total = 0;

	(void)state;
	for (unsigned int i = 0; i < IK_ARRAY_SIZE(seeds); i++) {
		struct rand_cfg cfg;

		rng = seeds[i] ^ 0x5a5a5a5a5a5a5a5aull;
		/* Small windows exhaust often; CPU counts cover partial words. */
		cfg.cpus = 1 + rndn(i % 4 == 3 ? IK_CPUS_MAX : 72);
		cfg.start = rndn(200);
		cfg.end = cfg.start + 1 + rndn(i % 2 ? 12 : 56);
		cfg.nsys = rndn(6);
		cfg.ops = 20000;
		run_random(seeds[i], &cfg, &md);
		total += cfg.ops;
	}
	assert_int_equal(total, 16 * 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_params),
		cmocka_unit_test(test_basic_alloc_free),
		cmocka_unit_test(test_system_vectors),
		cmocka_unit_test(test_system_vector_in_use),
		cmocka_unit_test(test_window_respected),
		cmocka_unit_test(test_least_loaded),
		cmocka_unit_test(test_tie_break_lowest),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_managed_reserve_unwind),
		cmocka_unit_test(test_managed_alloc_fewest),
		cmocka_unit_test(test_managed_free_keeps_reservation),
		cmocka_unit_test(test_global_reservations),
		cmocka_unit_test(test_online_offline_accounting),
		cmocka_unit_test(test_can_offline),
		cmocka_unit_test(test_misuse_changes_nothing),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, setup_quiet, NULL);
}
