// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sparse index store (src/core/xarray.c): insert, load, erase, find and
 * find_free over sparse and huge indices, growth and shrink of the tree,
 * the preload path, allocation failure (which must change nothing) and
 * random operations checked against a reference model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/xarray.h"
#include "sim.h"

/* Entries are fake non-NULL pointers derived from the index. */
static void *entry_of(uint64_t index)
{
	return (void *)(uintptr_t)((index << 3) | 4);
}

static const uint64_t special[] = {
	0, 63, 64, 4095, (1ull << 32) + 5, UINT64_MAX - 1,
};

static struct sim_machine *machine;

static int group_setup(void **state)
{
	struct sim_config cfg = { .nr_cpus = 1, .seed = 1 };

	/* The host port's allocator is what the store allocates from. */
	machine = sim_create(&cfg);
	return machine ? 0 : -1;
}

static int group_teardown(void **state)
{
	sim_destroy(machine);
	return 0;
}

/* Nothing is found in an empty store, and nothing is allocated. */
static void test_empty(void **state)
{
	struct ik_xa xa;
	uint64_t idx = 0;
	int64_t base = sim_alloc_outstanding();

	ik_xa_init(&xa);
	for (size_t i = 0; i < IK_ARRAY_SIZE(special); i++) {
		assert_null(ik_xa_load(&xa, special[i]));
		assert_null(ik_xa_erase(&xa, special[i]));
	}
	assert_null(ik_xa_find(&xa, &idx, UINT64_MAX));
	assert_int_equal(ik_xa_find_free(&xa, 0, UINT64_MAX, &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(ik_xa_find_free(&xa, UINT64_MAX, UINT64_MAX, &idx), 0);
	assert_true(idx == UINT64_MAX);
	assert_int_equal(xa.nr_nodes, 0);
	assert_int_equal(xa.nr_entries, 0);
	assert_int_equal(sim_alloc_outstanding(), base);
	ik_xa_destroy(&xa);
	assert_int_equal(sim_alloc_outstanding(), base);
}

/*
 * Sparse and huge indices live side by side: each loads back, neighbours
 * stay empty, -IK_EEXIST and NULL entries are refused without a change,
 * and erasing everything frees every node.
 */
static void test_sparse_huge(void **state)
{
	struct ik_xa xa;
	int64_t base = sim_alloc_outstanding();

	ik_xa_init(&xa);
	for (size_t i = 0; i < IK_ARRAY_SIZE(special); i++) {
		assert_int_equal(ik_xa_insert(&xa, special[i], entry_of(special[i])), 0);
		assert_int_equal(xa.nr_entries, i + 1);
	}
	/* Six levels reach 2^36; UINT64_MAX - 1 needs all eleven. */
	assert_int_equal(xa.height, 11);
	for (size_t i = 0; i < IK_ARRAY_SIZE(special); i++) {
		uint64_t ix = special[i];
		uint64_t nr_nodes = xa.nr_nodes;

		assert_ptr_equal(ik_xa_load(&xa, ix), entry_of(ix));
		assert_int_equal(ik_xa_insert(&xa, ix, entry_of(ix + 1)), -IK_EEXIST);
		assert_ptr_equal(ik_xa_load(&xa, ix), entry_of(ix));
		assert_int_equal(xa.nr_nodes, nr_nodes);
		if (ix != 63 && ix != 4095 && ix != UINT64_MAX - 1)
			assert_null(ik_xa_load(&xa, ix + 1));
		if (ix != 0 && ix != 64)
			assert_null(ik_xa_load(&xa, ix - 1));
	}
	assert_null(ik_xa_load(&xa, UINT64_MAX));
	assert_null(ik_xa_load(&xa, 1ull << 32));
	assert_int_equal(ik_xa_insert(&xa, 7, NULL), -IK_EINVAL);
	assert_null(ik_xa_load(&xa, 7));
	assert_int_equal(xa.nr_entries, IK_ARRAY_SIZE(special));
	assert_int_equal(sim_alloc_outstanding() - base, (int64_t)xa.nr_nodes);

	/* Erase in an order that empties the tall branch first. */
	assert_ptr_equal(ik_xa_erase(&xa, UINT64_MAX - 1), entry_of(UINT64_MAX - 1));
	assert_null(ik_xa_erase(&xa, UINT64_MAX - 1));
	assert_int_equal(xa.height, 6);         /* shrunk back to what 2^32+5 needs */
	assert_ptr_equal(ik_xa_erase(&xa, (1ull << 32) + 5), entry_of((1ull << 32) + 5));
	assert_int_equal(xa.height, 2);         /* 4095 needs two levels */
	assert_int_equal(xa.nr_nodes, 4);       /* root, [0..63], [64..127], [4032..4095] */
	assert_ptr_equal(ik_xa_erase(&xa, 4095), entry_of(4095));
	assert_ptr_equal(ik_xa_erase(&xa, 64), entry_of(64));
	assert_int_equal(xa.height, 1);
	assert_int_equal(xa.nr_nodes, 1);
	assert_ptr_equal(ik_xa_erase(&xa, 63), entry_of(63));
	assert_ptr_equal(ik_xa_erase(&xa, 0), entry_of(0));
	assert_int_equal(xa.nr_nodes, 0);
	assert_int_equal(xa.nr_entries, 0);
	assert_null(xa.root);
	assert_int_equal(sim_alloc_outstanding(), base);
}

/* ik_xa_find walks entries in index order within [*index, max]. */
static void test_find(void **state)
{
	struct ik_xa xa;
	uint64_t idx, n = 0, entry_idx;
	void *entry;
	int64_t base = sim_alloc_outstanding();

	ik_xa_init(&xa);
	for (size_t i = IK_ARRAY_SIZE(special); i-- > 0;)
		assert_int_equal(ik_xa_insert(&xa, special[i], entry_of(special[i])), 0);
	assert_int_equal(ik_xa_insert(&xa, UINT64_MAX, entry_of(UINT64_MAX)), 0);

	ik_xa_for_each(&xa, entry_idx, entry) {
		uint64_t want = n < IK_ARRAY_SIZE(special) ? special[n] : UINT64_MAX;

		assert_true(entry_idx == want);
		assert_ptr_equal(entry, entry_of(want));
		n++;
	}
	assert_int_equal(n, IK_ARRAY_SIZE(special) + 1);

	idx = 1;
	assert_ptr_equal(ik_xa_find(&xa, &idx, UINT64_MAX), entry_of(63));
	assert_int_equal(idx, 63);
	idx = 65;
	assert_null(ik_xa_find(&xa, &idx, 4094));
	assert_int_equal(idx, 65);              /* untouched when nothing is found */
	assert_ptr_equal(ik_xa_find(&xa, &idx, 4095), entry_of(4095));
	assert_int_equal(idx, 4095);
	idx = 4096;
	assert_ptr_equal(ik_xa_find(&xa, &idx, UINT64_MAX), entry_of((1ull << 32) + 5));
	assert_true(idx == (1ull << 32) + 5);
	idx = (1ull << 32) + 6;
	assert_null(ik_xa_find(&xa, &idx, UINT64_MAX - 2));
	assert_ptr_equal(ik_xa_find(&xa, &idx, UINT64_MAX), entry_of(UINT64_MAX - 1));
	assert_true(idx == UINT64_MAX - 1);
	idx = UINT64_MAX;
	assert_ptr_equal(ik_xa_find(&xa, &idx, UINT64_MAX), entry_of(UINT64_MAX));
	idx = 10;
	assert_null(ik_xa_find(&xa, &idx, 5));  /* empty range */

	ik_xa_destroy(&xa);
	assert_int_equal(xa.nr_nodes, 0);
	assert_null(xa.root);
	assert_int_equal(sim_alloc_outstanding(), base);
}

/* ik_xa_find_free returns the first hole in [start, max] or -IK_ENOSPC. */
static void test_find_free(void **state)
{
	struct ik_xa xa;
	uint64_t idx;

	ik_xa_init(&xa);
	for (uint64_t i = 0; i < 64; i++)
		assert_int_equal(ik_xa_insert(&xa, i, entry_of(i)), 0);
	assert_int_equal(ik_xa_find_free(&xa, 0, UINT64_MAX, &idx), 0);
	assert_int_equal(idx, 64);
	assert_int_equal(ik_xa_find_free(&xa, 0, 63, &idx), -IK_ENOSPC);
	assert_int_equal(ik_xa_find_free(&xa, 10, 20, &idx), -IK_ENOSPC);
	assert_null(ik_xa_erase(&xa, 64));
	assert_ptr_equal(ik_xa_erase(&xa, 17), entry_of(17));
	assert_int_equal(ik_xa_find_free(&xa, 0, 63, &idx), 0);
	assert_int_equal(idx, 17);
	assert_int_equal(ik_xa_find_free(&xa, 18, 63, &idx), -IK_ENOSPC);

	/* The very top of the index space, without wrapping around. */
	assert_int_equal(ik_xa_insert(&xa, UINT64_MAX, entry_of(UINT64_MAX)), 0);
	assert_int_equal(ik_xa_find_free(&xa, UINT64_MAX, UINT64_MAX, &idx), -IK_ENOSPC);
	assert_int_equal(ik_xa_find_free(&xa, UINT64_MAX - 1, UINT64_MAX, &idx), 0);
	assert_true(idx == UINT64_MAX - 1);
	assert_int_equal(ik_xa_insert(&xa, UINT64_MAX - 1, entry_of(UINT64_MAX - 1)), 0);
	assert_int_equal(ik_xa_find_free(&xa, UINT64_MAX - 1, UINT64_MAX, &idx), -IK_ENOSPC);
	ik_xa_destroy(&xa);
}

/*
 * Preload: the insert takes its nodes from the preload only (no allocation
 * under the caller's lock), a preload that runs dry fails with nothing
 * changed, and the drain frees the rest.
 */
static void test_preload(void **state)
{
	struct ik_xa xa;
	struct ik_xa_preload pl = { .nr = 0 };
	int64_t base = sim_alloc_outstanding();
	uint64_t allocs;

	ik_xa_init(&xa);
	assert_int_equal(ik_xa_preload_fill(&pl), 0);
	assert_int_equal(pl.nr, IK_ARRAY_SIZE(pl.nodes));
	allocs = sim_alloc_count();
	/* From empty to height 11 takes 11 nodes. */
	assert_int_equal(ik_xa_insert_preloaded(&xa, UINT64_MAX - 1, entry_of(1), &pl), 0);
	assert_int_equal(sim_alloc_count(), allocs);
	assert_int_equal(pl.nr, IK_ARRAY_SIZE(pl.nodes) - 11);
	assert_int_equal(xa.nr_nodes, 11);
	/* Index 0 needs ten new nodes under the existing root: nine run dry. */
	ik_xa_preload_drain(&pl);
	assert_int_equal(ik_xa_preload_fill_n(&pl, 9), 0);
	allocs = sim_alloc_count();
	assert_int_equal(ik_xa_insert_cost(&xa, 0), 10);
	assert_int_equal(ik_xa_insert_preloaded(&xa, 0, entry_of(0), &pl), -IK_ENOMEM);
	assert_int_equal(sim_alloc_count(), allocs);
	assert_int_equal(xa.nr_nodes, 11);
	assert_int_equal(xa.nr_entries, 1);
	assert_null(ik_xa_load(&xa, 0));
	ik_xa_preload_drain(&pl);
	assert_int_equal(pl.nr, 0);

	assert_int_equal(ik_xa_preload_fill(&pl), 0);
	assert_int_equal(ik_xa_insert_preloaded(&xa, 0, entry_of(0), &pl), 0);
	assert_int_equal(pl.nr, IK_ARRAY_SIZE(pl.nodes) - 10);
	/* A neighbour of an existing entry needs no node at all. */
	assert_int_equal(ik_xa_insert_preloaded(&xa, 1, entry_of(1), &pl), 0);
	assert_int_equal(pl.nr, IK_ARRAY_SIZE(pl.nodes) - 10);
	ik_xa_preload_drain(&pl);
	assert_ptr_equal(ik_xa_load(&xa, 1), entry_of(1));

	/* A fill that fails keeps what it got, for the drain. */
	sim_alloc_fail_nth(5);
	assert_int_equal(ik_xa_preload_fill(&pl), -IK_ENOMEM);
	sim_alloc_fail_nth(0);
	assert_int_equal(pl.nr, 4);
	ik_xa_preload_drain(&pl);

	assert_ptr_equal(ik_xa_erase(&xa, UINT64_MAX - 1), entry_of(1));
	assert_ptr_equal(ik_xa_erase(&xa, 0), entry_of(0));
	assert_ptr_equal(ik_xa_erase(&xa, 1), entry_of(1));
	assert_int_equal(xa.nr_nodes, 0);
	assert_int_equal(sim_alloc_outstanding(), base);
}

struct xa_snapshot {
	struct ik_xa_node *root;
	unsigned int height;
	uint64_t nr_entries, nr_nodes;
	int64_t outstanding;
};

static void snap(const struct ik_xa *xa, struct xa_snapshot *s)
{
	s->root = xa->root;
	s->height = xa->height;
	s->nr_entries = xa->nr_entries;
	s->nr_nodes = xa->nr_nodes;
	s->outstanding = sim_alloc_outstanding();
}

static void assert_same(const struct ik_xa *xa, const struct xa_snapshot *s)
{
	assert_ptr_equal(xa->root, s->root);
	assert_int_equal(xa->height, s->height);
	assert_int_equal(xa->nr_entries, s->nr_entries);
	assert_int_equal(xa->nr_nodes, s->nr_nodes);
	assert_int_equal(sim_alloc_outstanding(), s->outstanding);
}

/*
 * Failing each allocation of an insert in turn (growth of the root and the
 * new path below it) leaves the store exactly as it was: same root, height,
 * node count and memory, and every entry still loads.
 */
/*
 * ik_xa_insert_cost() is an upper bound, and exact when the store does
 * not grow: inserting with exactly that many preloaded nodes always works,
 * and a path that exists costs nothing.  Random indices of mixed widths.
 */
static void test_insert_cost(void **state)
{
	struct ik_xa xa;
	struct ik_xa_preload pl = { .nr = 0 };
	int64_t base = sim_alloc_outstanding();
	uint64_t x = 0x9E3779B97F4A7C15ull, idx;
	unsigned int cost, height;

	ik_xa_init(&xa);
	for (unsigned int i = 0; i < 4000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		idx = x >> (x % 61);
		if (ik_xa_load(&xa, idx))
			continue;
		cost = ik_xa_insert_cost(&xa, idx);
		height = xa.height;
		assert_int_equal(ik_xa_preload_fill_n(&pl, cost), 0);
		assert_int_equal(ik_xa_insert_preloaded(&xa, idx, entry_of(idx), &pl), 0);
		if (xa.height == height)
			assert_int_equal(pl.nr, 0);     /* exact without growth */
		ik_xa_preload_drain(&pl);
		assert_int_equal(ik_xa_insert_cost(&xa, idx), 0);
		assert_int_equal(ik_xa_insert_cost(&xa, idx ^ 1), 0);  /* same leaf */
	}
	ik_xa_destroy(&xa);
	assert_int_equal(sim_alloc_outstanding(), base);
}

static void test_alloc_failure(void **state)
{
	static const uint64_t before[][3] = {
		{ 0, 0, 0 },                    /* count 0: from empty */
		{ 0, 63, 64 },
		{ 4095, 5, 0 },
		{ (1ull << 32) + 5, 0, 0 },
	};
	static const unsigned int nr_before[] = { 0, 3, 2, 1 };
	struct ik_xa xa;
	int64_t base = sim_alloc_outstanding();

	for (size_t b = 0; b < IK_ARRAY_SIZE(before); b++) {
		for (size_t t = 0; t < IK_ARRAY_SIZE(special); t++) {
			uint64_t target = special[t];
			bool present = false;
			unsigned int n;

			ik_xa_init(&xa);
			for (unsigned int i = 0; i < nr_before[b]; i++) {
				assert_int_equal(ik_xa_insert(&xa, before[b][i], entry_of(before[b][i])),
						 0);
				present |= before[b][i] == target;
			}
			if (present) {
				ik_xa_destroy(&xa);
				continue;
			}
			for (n = 1;; n++) {
				struct xa_snapshot s;
				int ret;

				snap(&xa, &s);
				sim_alloc_fail_nth(n);
				ret = ik_xa_insert(&xa, target, entry_of(target));
				sim_alloc_fail_nth(0);
				if (ret == 0)
					break;
				assert_int_equal(ret, -IK_ENOMEM);
				assert_same(&xa, &s);
				assert_null(ik_xa_load(&xa, target));
				for (unsigned int i = 0; i < nr_before[b]; i++)
					assert_ptr_equal(ik_xa_load(&xa, before[b][i]),
							 entry_of(before[b][i]));
				assert_true(n < 20);
			}
			assert_ptr_equal(ik_xa_load(&xa, target), entry_of(target));
			assert_int_equal(sim_alloc_outstanding() - base, (int64_t)xa.nr_nodes);
			ik_xa_destroy(&xa);
			assert_int_equal(sim_alloc_outstanding(), base);
		}
	}
}

/* ---- Random operations against a reference model ---------------------- */

#define MODEL_MAX 4096

struct model {
	uint64_t idx[MODEL_MAX];
	unsigned int nr;
};

static int model_pos(const struct model *m, uint64_t idx)
{
	for (unsigned int i = 0; i < m->nr; i++)
		if (m->idx[i] == idx)
			return (int)i;
	return -1;
}

/* Smallest model index in [from, max], or false. */
static bool model_find(const struct model *m, uint64_t from, uint64_t max, uint64_t *out)
{
	bool found = false;

	for (unsigned int i = 0; i < m->nr; i++) {
		if (m->idx[i] >= from && m->idx[i] <= max && (!found || m->idx[i] < *out)) {
			*out = m->idx[i];
			found = true;
		}
	}
	return found;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Indices clustered so that inserts, erases and finds collide often. */
static uint64_t random_index(uint64_t *s)
{
	uint64_t r = rng_next(s);

	switch (r % 6) {
	case 0:
		return rng_next(s) % 128;
	case 1:
		return rng_next(s) % 5000;
	case 2:
		return (1ull << 32) + rng_next(s) % 200;
	case 3:
		return UINT64_MAX - rng_next(s) % 100;
	case 4:
		return special[rng_next(s) % IK_ARRAY_SIZE(special)];
	default:
		return rng_next(s);
	}
}

static void run_model(uint64_t seed)
{
	static struct model m;
	struct ik_xa xa;
	uint64_t s = seed;
	int64_t base = sim_alloc_outstanding();

	m.nr = 0;
	ik_xa_init(&xa);
	for (unsigned int op = 0; op < 6000; op++) {
		uint64_t r = rng_next(&s) % 100, ix = random_index(&s), got, want = 0;
		int pos = model_pos(&m, ix);

		if (r < 45) {
			int ret;

			if (r < 5) {
				/* Occasionally an insert that fails at some allocation. */
				struct xa_snapshot sn;

				snap(&xa, &sn);
				sim_alloc_fail_nth(1 + rng_next(&s) % 4);
				ret = ik_xa_insert(&xa, ix, entry_of(ix));
				sim_alloc_fail_nth(0);
				if (ret == -IK_ENOMEM) {
					assert_same(&xa, &sn);
					continue;
				}
			} else {
				ret = ik_xa_insert(&xa, ix, entry_of(ix));
			}
			if (pos >= 0) {
				assert_int_equal(ret, -IK_EEXIST);
			} else if (m.nr < MODEL_MAX) {
				assert_int_equal(ret, 0);
				m.idx[m.nr++] = ix;
			} else {
				assert_int_equal(ret, 0);
				assert_ptr_equal(ik_xa_erase(&xa, ix), entry_of(ix));
			}
		} else if (r < 75) {
			void *e = ik_xa_erase(&xa, ix);

			if (pos >= 0) {
				assert_ptr_equal(e, entry_of(ix));
				m.idx[pos] = m.idx[--m.nr];
			} else {
				assert_null(e);
			}
		} else if (r < 85) {
			void *e = ik_xa_load(&xa, ix);

			if (pos >= 0)
				assert_ptr_equal(e, entry_of(ix));
			else
				assert_null(e);
		} else if (r < 95) {
			uint64_t max = (rng_next(&s) & 1) ? UINT64_MAX : ix + rng_next(&s) % 100000;
			void *e;

			if (max < ix)
				max = UINT64_MAX;
			got = ix;
			e = ik_xa_find(&xa, &got, max);
			if (model_find(&m, ix, max, &want)) {
				assert_non_null(e);
				assert_true(got == want);
				assert_ptr_equal(e, entry_of(want));
			} else {
				assert_null(e);
			}
		} else {
			/* A small window so the linear search stays cheap. */
			uint64_t max = ix + rng_next(&s) % 64, hole = ~0ull;
			bool any = false;
			int ret;

			if (max < ix)
				max = UINT64_MAX;
			for (uint64_t i = ix;; i++) {
				if (model_pos(&m, i) < 0) {
					hole = i;
					any = true;
					break;
				}
				if (i == max)
					break;
			}
			ret = ik_xa_find_free(&xa, ix, max, &got);
			if (any) {
				assert_int_equal(ret, 0);
				assert_true(got == hole);
			} else {
				assert_int_equal(ret, -IK_ENOSPC);
			}
		}
		assert_int_equal(xa.nr_entries, m.nr);
	}
	/* Everything the model holds is there, in order. */
	{
		uint64_t idx, prev = 0, n = 0;
		void *e;

		ik_xa_for_each(&xa, idx, e) {
			assert_true(n == 0 || idx > prev);
			assert_true(model_pos(&m, idx) >= 0);
			assert_ptr_equal(e, entry_of(idx));
			prev = idx;
			n++;
		}
		assert_int_equal(n, m.nr);
	}
	while (m.nr) {
		uint64_t ix = m.idx[--m.nr];

		assert_ptr_equal(ik_xa_erase(&xa, ix), entry_of(ix));
	}
	assert_int_equal(xa.nr_entries, 0);
	assert_int_equal(xa.nr_nodes, 0);
	assert_null(xa.root);
	assert_int_equal(sim_alloc_outstanding(), base);
}

static void test_random_model(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 3, 42, 1234, 0xdeadbeef, 99991, 7777777 };

	for (size_t i = 0; i < IK_ARRAY_SIZE(seeds); i++)
		run_model(seeds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sparse_huge),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_free),
		cmocka_unit_test(test_preload),
		cmocka_unit_test(test_insert_cost),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_random_model),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
