// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-CPU interrupt vector matrix allocator.
 *
 * State
 * -----
 * Every CPU has two bitmaps over the matrix_bits vectors:
 *  - alloc_map:   vectors in use, plain or managed;
 *  - managed_map: vectors reserved for managed interrupts (in use or not).
 * The global system_map holds vectors that are taken on every CPU.
 *
 * Invariants (verified by ik_irq_matrix_check()):
 *  - alloc_map and managed_map lie inside the window [alloc_start,
 *    alloc_end) and never intersect system_map;
 *  - available         == |window & ~(system | managed | alloc)|, kept for
 *                         offline CPUs too, so a CPU's count is exact the
 *                         moment it comes online;
 *  - allocated         == |alloc & ~managed|   (plain vectors)
 *  - managed           == |managed|
 *  - managed_allocated == |managed & alloc|
 *  - global_available  == sum of available over online CPUs;
 *  - total_allocated   == sum of allocated over online CPUs;
 *  - online_maps       == number of online CPUs.
 * Global reservations are a bare counter: they hold no bit anywhere.
 *
 * Because "available" is exact, "available > 0" guarantees that the
 * first-free search in the window succeeds, and a managed reservation can
 * be checked for every CPU of its mask before anything is modified; it is
 * therefore all-or-nothing without needing an unwind path.
 *
 * CPU selection: two max-trees
 * ----------------------------
 * Both selections ("most available, lowest CPU on ties" for regular
 * allocation and "fewest managed in use, lowest CPU on ties" among CPUs
 * with a free managed reservation) are maximum searches over a packed
 * 32-bit key per CPU:
 *
 *   avail key   = available << 16             | (0xffff - cpu)
 *   managed key = (0xffff - managed_allocated) << 16 | (0xffff - cpu)
 *
 * and 0 when the CPU is not eligible (offline, nothing available, or no
 * unused managed reservation).  Because the CPU number is part of the key,
 * a plain integer maximum also resolves ties towards the lowest CPU, and a
 * key identifies its CPU.
 *
 * Each key lives in the leaves of a complete binary max-tree in heap
 * layout (node 1 is the root, node i has children 2i and 2i+1, leaf of CPU
 * c is node leaves + c).  The leaf count is a power of two of at least 64,
 * so the node covering the 64 CPUs of cpumask word w exists at index
 * leaves / 64 + w.  Memory: 2 * leaves * 4 bytes per tree (128 KiB for
 * both trees at 8192 CPUs, next to 80 bytes per CPU for the maps).
 *
 *  - Update after a counter change: rewrite the leaf and walk to the root
 *    recomputing max(left, right); stop as soon as a node keeps its value,
 *    since nothing above it can then change.  O(log n), usually less.
 *  - Query with mask == NULL ("every online CPU"): the root.  O(1).
 *  - Query with an explicit mask: the mask words that cover real CPUs are
 *    scanned in blocks of MX_SCAN_BLOCK words (512 CPUs), empty blocks skipped with a few
 *    wide ORs.  A word with a single CPU costs one leaf read.  For any
 *    other non-empty word the 64-CPU node is consulted first: if its key
 *    cannot beat the best found so far the word is pruned; if the word
 *    selects all of its CPUs the node key is the answer for that word;
 *    otherwise the subtree is descended, pruning on node keys and empty
 *    sub-masks, reading leaves directly once at most four CPUs remain.
 *    The scan stops early when the best candidate equals the root.
 *    Reading the mask is O(nr_cpus / 64) words and cannot be avoided; the
 *    rest is O(k log n) for k selected CPUs, usually much less.
 *
 * Masks: CPUs at or above nr_cpus are ignored everywhere.
 *
 * Locking: none.  The caller (the x86 vector domain) serialises all calls
 * with its vector lock.  Nothing here allocates or sleeps except create
 * and destroy.
 */
#include <irqkit/matrix.h>
#include <irqkit/osl.h>

#define MX_MAX_BITS 256u
#define MX_WORDS (MX_MAX_BITS / 64)

IK_STATIC_ASSERT(IK_CPUS_MAX <= 0xffff, "CPU numbers must fit in 16 bits of a tree key");

struct mx_cpumap {
	uint64_t alloc_map[MX_WORDS];
	uint64_t managed_map[MX_WORDS];
	uint16_t available;
	uint16_t allocated;
	uint16_t managed;
	uint16_t managed_allocated;
	bool online;
};

/* Complete binary max-tree of packed keys, see the comment at the top. */
struct mx_tree {
	uint32_t *node;         /* 2 * leaves entries; node[0] unused */
	unsigned int leaves;    /* power of two, >= 64 */
};

struct ik_irq_matrix {
	unsigned int matrix_bits;
	unsigned int alloc_start;
	unsigned int alloc_end;
	unsigned int nr_cpus;
	unsigned int nr_words;          /* cpumask words covering nr_cpus */
	uint64_t last_word_mask;        /* valid CPUs of word nr_words - 1 */
	unsigned int alloc_size;
	unsigned int systembits_inalloc;
	unsigned int global_available;
	unsigned int global_reserved;
	unsigned int total_allocated;
	unsigned int online_maps;
	uint64_t system_map[MX_WORDS];
	uint64_t window_map[MX_WORDS];  /* [alloc_start, alloc_end) */
	struct mx_cpumap *maps;
	struct mx_tree avail_tree;
	struct mx_tree managed_tree;
};

static void mx_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mx_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ik_os_vlog(level, fmt, ap);
	va_end(ap);
}

#define mx_misuse(...) mx_log(IK_LOG_WARN, "matrix: " __VA_ARGS__)

/* Open-coded so that the freestanding library needs no libgcc helper. */
static inline unsigned int mx_popcount(uint64_t w)
{
	w = w - ((w >> 1) & 0x5555555555555555ull);
	w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned int)((w * 0x0101010101010101ull) >> 56);
}

static inline bool mx_test(const uint64_t *map, unsigned int bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

static inline void mx_set(uint64_t *map, unsigned int bit)
{
	map[bit / 64] |= 1ull << (bit % 64);
}

static inline void mx_clear(uint64_t *map, unsigned int bit)
{
	map[bit / 64] &= ~(1ull << (bit % 64));
}

static inline bool mx_in_window(const struct ik_irq_matrix *m, unsigned int bit)
{
	return bit >= m->alloc_start && bit < m->alloc_end;
}

/* Lowest free vector of @cm in the window, or -1.  Free means not system,
 * not managed-reserved and not allocated. */
static int mx_first_free(const struct ik_irq_matrix *m, const struct mx_cpumap *cm)
{
	for (unsigned int i = 0; i < MX_WORDS; i++) {
		uint64_t w = m->window_map[i] &
			     ~(m->system_map[i] | cm->managed_map[i] | cm->alloc_map[i]);

		if (w)
			return (int)(i * 64 + (unsigned int)__builtin_ctzll(w));
	}
	return -1;
}

/* Lowest managed-reserved vector of @cm that is not in use, or -1. */
static int mx_first_managed_free(const struct mx_cpumap *cm)
{
	for (unsigned int i = 0; i < MX_WORDS; i++) {
		uint64_t w = cm->managed_map[i] & ~cm->alloc_map[i];

		if (w)
			return (int)(i * 64 + (unsigned int)__builtin_ctzll(w));
	}
	return -1;
}

/* ---- Max-trees --------------------------------------------------------- */

#define MX_KEY_CPU(key) (0xffffu - ((key) & 0xffffu))

static inline uint32_t mx_max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t mx_avail_key(const struct mx_cpumap *cm, unsigned int cpu)
{
	if (!cm->online || !cm->available)
		return 0;
	return (uint32_t)cm->available << 16 | (0xffffu - cpu);
}

static uint32_t mx_managed_key(const struct mx_cpumap *cm, unsigned int cpu)
{
	if (!cm->online || cm->managed_allocated >= cm->managed)
		return 0;
	return (uint32_t)(0xffffu - cm->managed_allocated) << 16 | (0xffffu - cpu);
}

static void mx_tree_set(struct mx_tree *t, unsigned int cpu, uint32_t key)
{
	uint32_t *n = t->node;
	unsigned int i = t->leaves + cpu;
	uint32_t k = key;

	if (n[i] == k)
		return;
	n[i] = k;
	while (i > 1) {
		/* k is n[i]; kept in a register rather than reloaded. */
		k = mx_max32(k, n[i ^ 1]);
		i >>= 1;
		/* An unchanged node leaves every ancestor unchanged. */
		if (n[i] == k)
			break;
		n[i] = k;
	}
}

/* Recompute both keys of @cpu after any change to its counters or online state. */
static void mx_update_cpu(struct ik_irq_matrix *m, unsigned int cpu)
{
	const struct mx_cpumap *cm = &m->maps[cpu];

	mx_tree_set(&m->avail_tree, cpu, mx_avail_key(cm, cpu));
	mx_tree_set(&m->managed_tree, cpu, mx_managed_key(cm, cpu));
}

/* Up to four selected CPUs, a subtree is resolved by reading their leaves. */
static inline bool mx_at_most_4(uint64_t bits)
{
	bits &= bits - 1;
	bits &= bits - 1;
	bits &= bits - 1;
	bits &= bits - 1;
	return !bits;
}

/*
 * Best key under node @idx, which covers @width leaves (width <= 64, a
 * power of two), restricted to the CPUs in @bits (bit i = leaf i of the
 * subtree, non-zero, no bits at or above @width), if it beats @best.
 */
static uint32_t mx_tree_best_sub(const uint32_t *n, unsigned int idx, unsigned int width,
				 uint64_t bits, uint32_t best)
{
	uint64_t full = width == 64 ? ~0ull : (1ull << width) - 1;

	if (n[idx] <= best)
		return best;
	if (bits == full)
		return n[idx];
	if (mx_at_most_4(bits)) {
		const uint32_t *leaf = &n[idx * width];

		while (bits) {
			best = mx_max32(best, leaf[__builtin_ctzll(bits)]);
			bits &= bits - 1;
		}
		return best;
	}
	width /= 2;
	full = (1ull << width) - 1;
	if (bits & full)
		best = mx_tree_best_sub(n, 2 * idx, width, bits & full, best);
	if (bits >> width)
		best = mx_tree_best_sub(n, 2 * idx + 1, width, bits >> width, best);
	return best;
}

/*
 * Mask scanning.  The mask must be read word by word up to nr_cpus, so for
 * big machines the scan is what costs: blocks of MX_SCAN_BLOCK words are
 * ORed together and empty blocks are skipped.  Plain 64-bit integers, four
 * independent OR chains (the loads and ORs overlap), no vector types: the
 * file builds for -mgeneral-regs-only / -mno-sse kernels.  Eight-word
 * blocks: short chains, and a non-empty block costs few extra reads.
 */
#define MX_SCAN_BLOCK 8

static inline bool mx_block_empty(const uint64_t *p)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;

	for (unsigned int i = 0; i < MX_SCAN_BLOCK; i += 4) {
		a |= p[i];
		b |= p[i + 1];
		c |= p[i + 2];
		d |= p[i + 3];
	}
	return !((a | b) | (c | d));
}

/* Fold the CPUs of one non-empty mask word @word (word index @w) into @best. */
static inline uint32_t mx_tree_best_word(const struct mx_tree *t, unsigned int w, uint64_t word,
					 uint32_t best)
{
	/* A single CPU (the common sparse case): its leaf, no descent. */
	if (!(word & (word - 1)))
		return mx_max32(best, t->node[t->leaves + w * 64 + (unsigned int)__builtin_ctzll(word)]);
	return mx_tree_best_sub(t->node, t->leaves / 64 + w, 64, word, best);
}

/* Best key among the CPUs of @mask (NULL: all); 0 if there is none. */
static uint32_t mx_tree_best(const struct ik_irq_matrix *m, const struct mx_tree *t,
			     const ik_cpumask_t *mask)
{
	const uint64_t *bits;
	unsigned int nw = m->nr_words, w = 0, nfull;
	uint32_t root = t->node[1], best = 0;

	if (!mask || !root)
		return root;

	/* A partial last word needs masking: leave it to the tail loop. */
	nfull = m->last_word_mask == ~0ull ? nw : nw - 1;
	bits = mask->bits;
	for (; w + MX_SCAN_BLOCK <= nfull; w += MX_SCAN_BLOCK) {
		if (mx_block_empty(bits + w))
			continue;
		for (unsigned int q = w; q < w + MX_SCAN_BLOCK; q += 4) {
			if (!(bits[q] | bits[q + 1] | bits[q + 2] | bits[q + 3]))
				continue;
			for (unsigned int j = q; j < q + 4; j++) {
				if (!bits[j])
					continue;
				best = mx_tree_best_word(t, j, bits[j], best);
				/* Nothing beats the overall maximum. */
				if (best == root)
					return best;
			}
		}
	}
	for (; w < nw; w++) {
		uint64_t word = bits[w];

		if (w == nw - 1)
			word &= m->last_word_mask;
		if (word)
			best = mx_tree_best_word(t, w, word, best);
	}
	return best;
}

static void mx_tree_init(struct mx_tree *t, uint32_t *storage, unsigned int leaves)
{
	t->node = storage;
	t->leaves = leaves;
}

/* ---- Creation ---------------------------------------------------------- */

struct ik_irq_matrix *ik_irq_matrix_create(unsigned int matrix_bits, unsigned int alloc_start,
					   unsigned int alloc_end, unsigned int nr_cpus)
{
	struct ik_irq_matrix *m;
	unsigned int leaves = 64;
	uint32_t *nodes;

	if (!matrix_bits || matrix_bits > MX_MAX_BITS || alloc_start >= alloc_end ||
	    alloc_end > matrix_bits || !nr_cpus || nr_cpus > IK_CPUS_MAX) {
		mx_misuse("bad parameters bits=%u window=[%u,%u) cpus=%u", matrix_bits,
			  alloc_start, alloc_end, nr_cpus);
		return NULL;
	}
	while (leaves < nr_cpus)
		leaves *= 2;

	m = ik_os_alloc(sizeof(*m));
	if (!m)
		return NULL;
	m->maps = ik_os_alloc(sizeof(*m->maps) * nr_cpus);
	nodes = ik_os_alloc(sizeof(*nodes) * 4 * leaves);
	if (!m->maps || !nodes) {
		ik_os_free(nodes);
		ik_os_free(m->maps);
		ik_os_free(m);
		return NULL;
	}
	/* The memory is zeroed: every key is 0 (no CPU online yet). */
	mx_tree_init(&m->avail_tree, nodes, leaves);
	mx_tree_init(&m->managed_tree, nodes + 2 * leaves, leaves);

	m->matrix_bits = matrix_bits;
	m->alloc_start = alloc_start;
	m->alloc_end = alloc_end;
	m->alloc_size = alloc_end - alloc_start;
	m->nr_cpus = nr_cpus;
	m->nr_words = IK_DIV_ROUND_UP(nr_cpus, 64);
	m->last_word_mask = nr_cpus % 64 ? (1ull << (nr_cpus % 64)) - 1 : ~0ull;
	for (unsigned int bit = alloc_start; bit < alloc_end; bit++)
		mx_set(m->window_map, bit);
	for (unsigned int cpu = 0; cpu < nr_cpus; cpu++)
		m->maps[cpu].available = (uint16_t)m->alloc_size;
	return m;
}

void ik_irq_matrix_destroy(struct ik_irq_matrix *m)
{
	if (!m)
		return;
	ik_os_free(m->avail_tree.node); /* both trees share one allocation */
	ik_os_free(m->maps);
	ik_os_free(m);
}

int ik_irq_matrix_assign_system(struct ik_irq_matrix *m, unsigned int bit)
{
	if (bit >= m->matrix_bits) {
		mx_misuse("system vector %u out of range", bit);
		return -IK_EINVAL;
	}
	if (m->online_maps) {
		mx_misuse("system vector %u assigned after CPUs went online", bit);
		return -IK_EBUSY;
	}
	if (mx_test(m->system_map, bit))
		return 0;
	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct mx_cpumap *cm = &m->maps[cpu];

		if (mx_test(cm->alloc_map, bit) || mx_test(cm->managed_map, bit)) {
			mx_misuse("system vector %u already in use on CPU %u", bit, cpu);
			return -IK_EBUSY;
		}
	}
	mx_set(m->system_map, bit);
	if (mx_in_window(m, bit)) {
		/* Every CPU is offline, so no key and no global count changes. */
		m->systembits_inalloc++;
		for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
			m->maps[cpu].available--;
	}
	return 0;
}

/* ---- Online / offline -------------------------------------------------- */

void ik_irq_matrix_online(struct ik_irq_matrix *m, unsigned int cpu)
{
	struct mx_cpumap *cm;

	if (cpu >= m->nr_cpus) {
		mx_misuse("online of bad CPU %u", cpu);
		return;
	}
	cm = &m->maps[cpu];
	if (cm->online) {
		mx_misuse("CPU %u is already online", cpu);
		return;
	}
	cm->online = true;
	m->online_maps++;
	m->global_available += cm->available;
	m->total_allocated += cm->allocated;
	mx_update_cpu(m, cpu);
}

void ik_irq_matrix_offline(struct ik_irq_matrix *m, unsigned int cpu)
{
	struct mx_cpumap *cm;

	if (cpu >= m->nr_cpus) {
		mx_misuse("offline of bad CPU %u", cpu);
		return;
	}
	cm = &m->maps[cpu];
	if (!cm->online) {
		mx_misuse("CPU %u is already offline", cpu);
		return;
	}
	cm->online = false;
	m->online_maps--;
	m->global_available -= cm->available;
	m->total_allocated -= cm->allocated;
	mx_update_cpu(m, cpu);
}

/* ---- Managed reservations --------------------------------------------- */

/* Mask words with CPUs beyond nr_cpus ignored. */
static uint64_t mx_mask_word(const struct ik_irq_matrix *m, const ik_cpumask_t *mask,
			     unsigned int w)
{
	uint64_t word = mask->bits[w];

	return w == m->nr_words - 1 ? word & m->last_word_mask : word;
}

#define mx_for_each_cpu(m, mask, w, word, cpu)                                   \
	for ((w) = 0; (w) < (m)->nr_words; (w)++)                                \
		for ((word) = mx_mask_word((m), (mask), (w));                    \
		     (word) && ((cpu) = (w) * 64 + (unsigned int)__builtin_ctzll(word), 1); \
		     (word) &= (word) - 1)

int ik_irq_matrix_reserve_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask)
{
	unsigned int w, cpu;
	uint64_t word;

	if (!mask) {
		mx_misuse("managed reservation without a mask");
		return -IK_EINVAL;
	}
	/* "available" is exact, so checking first makes this all-or-nothing. */
	mx_for_each_cpu(m, mask, w, word, cpu) {
		if (!m->maps[cpu].available)
			return -IK_ENOSPC;
	}
	mx_for_each_cpu(m, mask, w, word, cpu) {
		struct mx_cpumap *cm = &m->maps[cpu];
		int bit = mx_first_free(m, cm);

		mx_set(cm->managed_map, (unsigned int)bit);
		cm->managed++;
		cm->available--;
		if (cm->online)
			m->global_available--;
		mx_update_cpu(m, cpu);
	}
	return 0;
}

void ik_irq_matrix_remove_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask)
{
	unsigned int w, cpu;
	uint64_t word;

	if (!mask) {
		mx_misuse("managed removal without a mask");
		return;
	}
	mx_for_each_cpu(m, mask, w, word, cpu) {
		const struct mx_cpumap *cm = &m->maps[cpu];

		if (cm->managed_allocated >= cm->managed) {
			mx_misuse("no unused managed reservation on CPU %u", cpu);
			return;
		}
	}
	mx_for_each_cpu(m, mask, w, word, cpu) {
		struct mx_cpumap *cm = &m->maps[cpu];
		int bit = mx_first_managed_free(cm);

		mx_clear(cm->managed_map, (unsigned int)bit);
		cm->managed--;
		cm->available++;
		if (cm->online)
			m->global_available++;
		mx_update_cpu(m, cpu);
	}
}

int ik_irq_matrix_alloc_managed(struct ik_irq_matrix *m, const ik_cpumask_t *mask,
				unsigned int *cpu)
{
	struct mx_cpumap *cm;
	uint32_t key;
	unsigned int c;
	int bit;

	if (!cpu) {
		mx_misuse("managed allocation without a CPU result");
		return -IK_EINVAL;
	}
	key = mx_tree_best(m, &m->managed_tree, mask);
	if (!key)
		return -IK_ENOSPC;
	c = MX_KEY_CPU(key);
	cm = &m->maps[c];
	bit = mx_first_managed_free(cm);
	mx_set(cm->alloc_map, (unsigned int)bit);
	cm->managed_allocated++;
	mx_update_cpu(m, c);
	*cpu = c;
	return bit;
}

/* ---- Global reservations ----------------------------------------------- */

void ik_irq_matrix_reserve(struct ik_irq_matrix *m)
{
	if (m->global_reserved >= m->global_available)
		mx_log(IK_LOG_INFO, "matrix: reservations exceed available vectors (%u >= %u)",
		       m->global_reserved, m->global_available);
	m->global_reserved++;
}

void ik_irq_matrix_remove_reserved(struct ik_irq_matrix *m)
{
	if (!m->global_reserved) {
		mx_misuse("removing a global reservation that was never taken");
		return;
	}
	m->global_reserved--;
}

/* ---- Regular allocation ----------------------------------------------- */

int ik_irq_matrix_alloc(struct ik_irq_matrix *m, const ik_cpumask_t *mask, bool reserved,
			unsigned int *cpu)
{
	struct mx_cpumap *cm;
	uint32_t key;
	unsigned int c;
	int bit;

	if (!cpu) {
		mx_misuse("allocation without a CPU result");
		return -IK_EINVAL;
	}
	if (reserved && !m->global_reserved) {
		mx_misuse("allocation consumes a global reservation that was never taken");
		return -IK_EINVAL;
	}
	key = mx_tree_best(m, &m->avail_tree, mask);
	if (!key)
		return -IK_ENOSPC;
	c = MX_KEY_CPU(key);
	cm = &m->maps[c];
	bit = mx_first_free(m, cm);
	mx_set(cm->alloc_map, (unsigned int)bit);
	cm->allocated++;
	cm->available--;
	m->global_available--;  /* c is online: it has a key */
	m->total_allocated++;
	if (reserved)
		m->global_reserved--;
	mx_update_cpu(m, c);
	*cpu = c;
	return bit;
}

int ik_irq_matrix_assign(struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit)
{
	struct mx_cpumap *cm;

	if (cpu >= m->nr_cpus || !mx_in_window(m, bit)) {
		mx_misuse("assign of vector %u on CPU %u out of range", bit, cpu);
		return -IK_EINVAL;
	}
	cm = &m->maps[cpu];
	if (mx_test(m->system_map, bit) || mx_test(cm->managed_map, bit) ||
	    mx_test(cm->alloc_map, bit)) {
		mx_misuse("assign of busy vector %u on CPU %u", bit, cpu);
		return -IK_EBUSY;
	}
	mx_set(cm->alloc_map, bit);
	cm->allocated++;
	cm->available--;
	if (cm->online) {
		m->global_available--;
		m->total_allocated++;
	}
	mx_update_cpu(m, cpu);
	return 0;
}

void ik_irq_matrix_free(struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit,
			bool managed)
{
	struct mx_cpumap *cm;

	if (cpu >= m->nr_cpus || !mx_in_window(m, bit)) {
		mx_misuse("free of vector %u on CPU %u out of range", bit, cpu);
		return;
	}
	cm = &m->maps[cpu];
	if (!mx_test(cm->alloc_map, bit)) {
		mx_misuse("free of unallocated vector %u on CPU %u", bit, cpu);
		return;
	}
	if (mx_test(cm->managed_map, bit) != managed) {
		mx_misuse("free of vector %u on CPU %u: %smanaged vector freed as %smanaged",
			  bit, cpu, managed ? "non-" : "", managed ? "" : "non-");
		return;
	}
	mx_clear(cm->alloc_map, bit);
	if (managed) {
		/* The bit stays in managed_map: still reserved, not available. */
		cm->managed_allocated--;
	} else {
		cm->allocated--;
		cm->available++;
		if (cm->online) {
			m->global_available++;
			m->total_allocated--;
		}
	}
	mx_update_cpu(m, cpu);
}

/* ---- Queries ------------------------------------------------------------ */

unsigned int ik_irq_matrix_available(const struct ik_irq_matrix *m)
{
	if (m->global_reserved >= m->global_available)
		return 0;
	return m->global_available - m->global_reserved;
}

unsigned int ik_irq_matrix_reserved(const struct ik_irq_matrix *m)
{
	return m->global_reserved;
}

unsigned int ik_irq_matrix_allocated(const struct ik_irq_matrix *m)
{
	return m->total_allocated;
}

bool ik_irq_matrix_can_offline(const struct ik_irq_matrix *m, unsigned int cpu)
{
	const struct mx_cpumap *cm;
	unsigned int others;

	if (cpu >= m->nr_cpus) {
		mx_misuse("can_offline of bad CPU %u", cpu);
		return false;
	}
	cm = &m->maps[cpu];
	others = m->global_available - (cm->online ? cm->available : 0);
	/* Managed vectors are shut down, not moved: they do not count. */
	return cm->allocated <= others;
}

int ik_irq_matrix_cpu_stats(const struct ik_irq_matrix *m, unsigned int cpu,
			    struct ik_irq_matrix_cpu_stats *stats)
{
	const struct mx_cpumap *cm;

	if (cpu >= m->nr_cpus || !stats)
		return -IK_EINVAL;
	cm = &m->maps[cpu];
	stats->available = cm->available;
	stats->allocated = cm->allocated;
	stats->managed = cm->managed;
	stats->managed_allocated = cm->managed_allocated;
	stats->online = cm->online;
	return 0;
}

bool ik_irq_matrix_test(const struct ik_irq_matrix *m, unsigned int cpu, unsigned int bit)
{
	if (cpu >= m->nr_cpus || bit >= m->matrix_bits)
		return false;
	return mx_test(m->system_map, bit) || mx_test(m->maps[cpu].alloc_map, bit);
}

/* ---- Consistency check ------------------------------------------------- */

static int mx_check_tree(const struct ik_irq_matrix *m, const struct mx_tree *t,
			 const char *name, uint32_t (*keyf)(const struct mx_cpumap *, unsigned int))
{
	const uint32_t *n = t->node;

	for (unsigned int i = 0; i < t->leaves; i++) {
		uint32_t want = i < m->nr_cpus ? keyf(&m->maps[i], i) : 0;

		if (n[t->leaves + i] != want) {
			mx_log(IK_LOG_ERR, "matrix check: %s key of CPU %u is %x, expected %x",
			       name, i, n[t->leaves + i], want);
			return -IK_EIO;
		}
	}
	for (unsigned int i = t->leaves - 1; i >= 1; i--) {
		if (n[i] != mx_max32(n[2 * i], n[2 * i + 1])) {
			mx_log(IK_LOG_ERR, "matrix check: %s node %u is %x, children %x %x",
			       name, i, n[i], n[2 * i], n[2 * i + 1]);
			return -IK_EIO;
		}
	}
	return 0;
}

int ik_irq_matrix_check(const struct ik_irq_matrix *m)
{
	unsigned int g_avail = 0, g_alloc = 0, online = 0, sys_in = 0;

	for (unsigned int i = 0; i < MX_WORDS; i++)
		sys_in += mx_popcount(m->system_map[i] & m->window_map[i]);
	if (sys_in != m->systembits_inalloc) {
		mx_log(IK_LOG_ERR, "matrix check: %u system vectors in window, counted %u",
		       sys_in, m->systembits_inalloc);
		return -IK_EIO;
	}

	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
		const struct mx_cpumap *cm = &m->maps[cpu];
		unsigned int avail = 0, alloc = 0, man = 0, man_alloc = 0;

		for (unsigned int i = 0; i < MX_WORDS; i++) {
			uint64_t a = cm->alloc_map[i], mg = cm->managed_map[i];

			if ((a | mg) & (~m->window_map[i] | m->system_map[i])) {
				mx_log(IK_LOG_ERR,
				       "matrix check: CPU %u has bits outside the window or on system vectors",
				       cpu);
				return -IK_EIO;
			}
			avail += mx_popcount(m->window_map[i] & ~(m->system_map[i] | mg | a));
			alloc += mx_popcount(a & ~mg);
			man += mx_popcount(mg);
			man_alloc += mx_popcount(mg & a);
		}
		if (avail != cm->available || alloc != cm->allocated || man != cm->managed ||
		    man_alloc != cm->managed_allocated) {
			mx_log(IK_LOG_ERR,
			       "matrix check: CPU %u counters avl %u alloc %u man %u mac %u, bitmaps say %u %u %u %u",
			       cpu, cm->available, cm->allocated, cm->managed, cm->managed_allocated,
			       avail, alloc, man, man_alloc);
			return -IK_EIO;
		}
		if (cm->online) {
			online++;
			g_avail += avail;
			g_alloc += alloc;
		}
	}
	if (online != m->online_maps || g_avail != m->global_available ||
	    g_alloc != m->total_allocated) {
		mx_log(IK_LOG_ERR,
		       "matrix check: online %u avl %u alloc %u, maps say %u %u %u",
		       m->online_maps, m->global_available, m->total_allocated, online, g_avail,
		       g_alloc);
		return -IK_EIO;
	}
	if (mx_check_tree(m, &m->avail_tree, "available", mx_avail_key) ||
	    mx_check_tree(m, &m->managed_tree, "managed", mx_managed_key))
		return -IK_EIO;
	return 0;
}
