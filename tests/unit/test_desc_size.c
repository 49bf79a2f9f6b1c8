// SPDX-License-Identifier: BSD-2-Clause
/*
 * Memory per interrupt: the descriptor and the action must not grow past
 * their documented sizes (computed from sizeof of their parts, so the
 * bound follows IK_CPUS_MAX and the host's lock sizes), and a descriptor
 * allocation is exactly ik_irq_desc_bytes(nr_cpus): the per-CPU counts
 * live in the same allocation, none on the side.
 *
 * What it catches: a field added to struct ik_irq_desc or ik_irqaction
 * without shrinking something else, a reordering that opens holes, the
 * per-CPU counts going back to a separate allocation (the allocator count
 * differs), and a count array sized for fewer CPUs than there are (the
 * last CPU's count is read; ASan flags the overflow).
 *
 * bench/bench_msix_memory.c gives the whole per-vector picture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <irqkit/irq.h>
#include <irqkit/irqdomain.h>

#include "core/internals.h"
#include "host_port.h"
#include "sim.h"

/*
 * Documented bound of struct ik_irq_desc: the public parts (common data
 * with its two affinity masks, the outermost irq_data), the private
 * pending mask, the request mutex and the spinlock, plus 88 bytes of
 * scalars on LP64: 3 pointers (flow handler, action list, storm), 2
 * 64-bit fields (last unhandled time, storms) and 12 32-bit fields; no
 * padding.  336 bytes with IK_CPUS_MAX 256.
 */
#define DESC_SCALAR_BYTES 88u
#define DESC_BOUND                                                                     \
	(sizeof(struct ik_irq_common_data) + sizeof(struct ik_irq_data) +              \
	 sizeof(ik_cpumask_t) + sizeof(ik_mutex_t) + sizeof(ik_spinlock_t) +          \
	 DESC_SCALAR_BYTES)

/* ik_irqaction: 6 pointers, the thread work, 8 bytes of mask, flags, queued. */
#define ACTION_BOUND (6 * sizeof(void *) + sizeof(struct ik_os_work) + 8u)

static void test_desc_size_bound(void **state)
{
	(void)state;
	if (sizeof(void *) != 8)
		skip();
	printf("sizeof(struct ik_irq_desc) %zu (bound %zu), sizeof(struct ik_irqaction) %zu "
	       "(bound %zu), descriptor with 4 CPUs %zu\n",
	       sizeof(struct ik_irq_desc), (size_t)DESC_BOUND, sizeof(struct ik_irqaction),
	       (size_t)ACTION_BOUND, ik_irq_desc_bytes(4));
	assert_true(sizeof(struct ik_irq_desc) <= DESC_BOUND);
	assert_true(sizeof(struct ik_irqaction) <= ACTION_BOUND);
	/* The counts follow the fixed part without a hole. */
	assert_int_equal(offsetof(struct ik_irq_desc, kstat), sizeof(struct ik_irq_desc));
	assert_int_equal(ik_irq_desc_bytes(4), sizeof(struct ik_irq_desc) + 4 * sizeof(uint64_t));
}

/* A root domain without chip data: an allocation costs the descriptor only. */
static const struct ik_irq_chip nop_chip = { .name = "NOP" };

static int nop_alloc(struct ik_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < nr; i++) {
		int ret = ik_irq_domain_set_info(d, virq + i, virq + i, &nop_chip, NULL,
						 ik_handle_simple_irq, NULL);

		if (ret)
			return ret;
	}
	return 0;
}

static void nop_free(struct ik_irq_domain *d, unsigned int virq, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		ik_irq_domain_reset_irq_data(ik_irq_domain_get_irq_data(d, virq + i));
}

static const struct ik_irq_domain_ops nop_ops = { .alloc = nop_alloc, .free = nop_free };

static void check_alloc_bytes(unsigned int nr_cpus)
{
	struct sim_config cfg = { .nr_cpus = nr_cpus, .seed = 1 };
	struct sim_machine *m = sim_create(&cfg);
	struct ik_irq_domain *dom;
	int64_t baseline, before, descs = 0;
	int irq, warm;

	assert_non_null(m);
	sim_port_install(m, NULL);
	baseline = sim_alloc_outstanding();
	assert_int_equal(ik_core_init(), 0);
	dom = ik_irq_domain_create_hierarchy(NULL, 0, 0, "NOP", &nop_ops, NULL);
	assert_non_null(dom);
	/* The first number leaf and reverse-map node are not the descriptor's. */
	warm = ik_irq_domain_alloc_irqs(dom, 1, NULL, NULL);
	assert_true(warm > 0);

	/* Descriptor bytes alone, through the core's own allocation path. */
	before = sim_alloc_bytes_outstanding();
	irq = ik_irq_alloc_descs(1, NULL);
	assert_true(irq > 0);
	descs = sim_alloc_bytes_outstanding() - before;
	printf("%u CPUs: descriptor allocation %lld bytes, ik_irq_desc_bytes %zu\n", nr_cpus,
	       (long long)descs, ik_irq_desc_bytes(nr_cpus));
	assert_int_equal(descs, (int64_t)ik_irq_desc_bytes(nr_cpus));
	/* Every CPU has its count, the last one included (ASan: in bounds). */
	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++)
		assert_int_equal(ik_irq_count_cpu((unsigned int)irq, cpu), 0);
	assert_int_equal(ik_irq_count_cpu((unsigned int)irq, nr_cpus), 0);
	assert_int_equal(ik_irq_count((unsigned int)irq), 0);
	ik_irq_free_descs((unsigned int)irq, 1);
	assert_int_equal(sim_alloc_bytes_outstanding(), before);

	ik_irq_domain_free_irqs((unsigned int)warm, 1);
	assert_int_equal(ik_irq_domain_remove(dom), 0);
	assert_int_equal(ik_core_exit(), 0);
	assert_int_equal(sim_alloc_outstanding(), baseline);
	sim_destroy(m);
}

static void test_desc_alloc_bytes(void **state)
{
	(void)state;
	check_alloc_bytes(1);
	check_alloc_bytes(4);
	check_alloc_bytes(64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desc_size_bound),
		cmocka_unit_test(test_desc_alloc_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
