// SPDX-License-Identifier: BSD-2-Clause
/*
 * Sparse index store (see xarray.h).
 *
 * The tree has `height` levels; a tree of height h covers indices below
 * 64^h.  Inserting a larger index grows the tree by pushing the root down
 * under a new root.  Erasing frees nodes that become empty and shrinks the
 * tree while the root has only slot 0 in use.
 */
#include "xarray.h"

#include <irqkit/osl.h>

static unsigned int level_shift(unsigned int level)
{
	return level * IK_XA_SHIFT;
}

static uint64_t capacity(unsigned int height)
{
	unsigned int bits = height * IK_XA_SHIFT;

	return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}

static unsigned int slot_of(uint64_t index, unsigned int level)
{
	return (unsigned int)(index >> level_shift(level)) & (IK_XA_SLOTS - 1);
}

void ik_xa_init(struct ik_xa *xa)
{
	xa->root = NULL;
	xa->height = 0;
	xa->nr_entries = 0;
	xa->nr_nodes = 0;
}

void *ik_xa_load(const struct ik_xa *xa, uint64_t index)
{
	struct ik_xa_node *node = xa->root;
	unsigned int level;

	if (!node || index > capacity(xa->height))
		return NULL;
	for (level = xa->height - 1; level > 0; level--) {
		node = node->slots[slot_of(index, level)];
		if (!node)
			return NULL;
	}
	return node->slots[slot_of(index, 0)];
}

static struct ik_xa_node *node_alloc(struct ik_xa *xa, struct ik_xa_preload *pl)
{
	struct ik_xa_node *node;

	if (pl)
		node = pl->nr ? pl->nodes[--pl->nr] : NULL;
	else
		node = ik_os_alloc(sizeof(*node));

	if (node)
		xa->nr_nodes++;
	return node;
}

static void node_free(struct ik_xa *xa, struct ik_xa_node *node)
{
	xa->nr_nodes--;
	ik_os_free(node);
}

/*
 * Grow until @index fits.  New roots are allocated first and linked only
 * when all allocations succeeded, so a failure changes nothing.
 */
static int grow(struct ik_xa *xa, uint64_t index, struct ik_xa_preload *pl)
{
	struct ik_xa_node *chain[12];
	unsigned int need = xa->height ? xa->height : 1, extra, i;

	while (index > capacity(need))
		need++;
	if (!xa->root) {
		xa->height = need;
		return 0;
	}
	extra = need - xa->height;
	for (i = 0; i < extra; i++) {
		chain[i] = node_alloc(xa, pl);
		if (!chain[i])
			goto err_free_chain;
	}
	for (i = 0; i < extra; i++) {
		chain[i]->slots[0] = xa->root;
		chain[i]->count = 1;
		xa->root = chain[i];
		xa->height++;
	}
	return 0;

err_free_chain:
	while (i--)
		node_free(xa, chain[i]);
	return -IK_ENOMEM;
}

int ik_xa_insert_preloaded(struct ik_xa *xa, uint64_t index, void *entry,
			    struct ik_xa_preload *pl)
{
	struct ik_xa_node *path[12], *fresh[12];
	unsigned int nfresh = 0, level, depth = 0, old_height = xa->height;
	struct ik_xa_node *old_root = xa->root;
	struct ik_xa_node *node;
	int ret;

	if (!entry)
		return -IK_EINVAL;
	if (ik_xa_load(xa, index))
		return -IK_EEXIST;
	ret = grow(xa, index, pl);
	if (ret)
		return ret;
	if (!xa->root) {
		xa->root = node_alloc(xa, pl);
		if (!xa->root) {
			xa->height = old_height;
			return -IK_ENOMEM;
		}
		fresh[nfresh++] = xa->root;
	}
	node = xa->root;
	for (level = xa->height - 1; level > 0; level--) {
		unsigned int s = slot_of(index, level);
		struct ik_xa_node *child = node->slots[s];

		path[depth++] = node;
		if (!child) {
			child = node_alloc(xa, pl);
			if (!child)
				goto err_unwind;
			fresh[nfresh++] = child;
			node->slots[s] = child;
			node->count++;
		}
		node = child;
	}
	node->slots[slot_of(index, 0)] = entry;
	node->count++;
	xa->nr_entries++;
	return 0;

err_unwind:
	/* Unlink the nodes created on this path, deepest first. */
	while (depth--) {
		struct ik_xa_node *parent = path[depth];
		unsigned int s = slot_of(index, xa->height - 1 - depth);
		struct ik_xa_node *child = parent->slots[s];
		unsigned int i;

		for (i = 0; i < nfresh; i++)
			if (fresh[i] == child)
				break;
		if (i < nfresh && child) {
			parent->slots[s] = NULL;
			parent->count--;
			node_free(xa, child);
		}
	}
	if (old_root == NULL && xa->root) {
		node_free(xa, xa->root);
		xa->root = NULL;
		xa->height = old_height;
	}
	/* Drop the levels grow() pushed on top: each holds only the old root. */
	while (old_root && xa->height > old_height) {
		struct ik_xa_node *top = xa->root;

		xa->root = top->slots[0];
		xa->height--;
		node_free(xa, top);
	}
	return -IK_ENOMEM;
}

int ik_xa_insert(struct ik_xa *xa, uint64_t index, void *entry)
{
	return ik_xa_insert_preloaded(xa, index, entry, NULL);
}

unsigned int ik_xa_insert_cost(const struct ik_xa *xa, uint64_t index)
{
	unsigned int need = xa->height ? xa->height : 1, level;
	const struct ik_xa_node *node = xa->root;

	while (index > capacity(need))
		need++;
	/* Growing: new roots plus, at worst, a fresh path under the new top. */
	if (!node || need > xa->height)
		return node ? 2 * need : need;
	for (level = xa->height - 1; level > 0; level--) {
		node = node->slots[slot_of(index, level)];
		if (!node)
			return level;   /* one node per level below this one */
	}
	return 0;
}

int ik_xa_preload_fill_n(struct ik_xa_preload *pl, unsigned int n)
{
	if (n > IK_ARRAY_SIZE(pl->nodes))
		n = IK_ARRAY_SIZE(pl->nodes);
	while (pl->nr < n) {
		struct ik_xa_node *node = ik_os_alloc(sizeof(*node));

		if (!node)
			return -IK_ENOMEM;
		pl->nodes[pl->nr++] = node;
	}
	return 0;
}

int ik_xa_preload_fill(struct ik_xa_preload *pl)
{
	while (pl->nr < IK_ARRAY_SIZE(pl->nodes)) {
		struct ik_xa_node *node = ik_os_alloc(sizeof(*node));

		if (!node)
			return -IK_ENOMEM;
		pl->nodes[pl->nr++] = node;
	}
	return 0;
}

void ik_xa_preload_drain(struct ik_xa_preload *pl)
{
	while (pl->nr)
		ik_os_free(pl->nodes[--pl->nr]);
}

static void shrink(struct ik_xa *xa)
{
	while (xa->root && xa->height > 1 && xa->root->count == 1 && xa->root->slots[0]) {
		struct ik_xa_node *old = xa->root;

		xa->root = old->slots[0];
		xa->height--;
		node_free(xa, old);
	}
	if (xa->root && xa->root->count == 0) {
		node_free(xa, xa->root);
		xa->root = NULL;
		xa->height = 0;
	}
}

void *ik_xa_erase(struct ik_xa *xa, uint64_t index)
{
	struct ik_xa_node *path[12];
	unsigned int level, depth = 0;
	struct ik_xa_node *node = xa->root;
	void *entry;

	if (!node || index > capacity(xa->height))
		return NULL;
	for (level = xa->height - 1; level > 0; level--) {
		path[depth++] = node;
		node = node->slots[slot_of(index, level)];
		if (!node)
			return NULL;
	}
	entry = node->slots[slot_of(index, 0)];
	if (!entry)
		return NULL;
	node->slots[slot_of(index, 0)] = NULL;
	node->count--;
	xa->nr_entries--;
	/* Free emptied nodes bottom-up; the root is handled by shrink(). */
	level = 0;
	while (depth && node->count == 0) {
		struct ik_xa_node *parent = path[--depth];

		level++;
		parent->slots[slot_of(index, level)] = NULL;
		parent->count--;
		node_free(xa, node);
		node = parent;
	}
	shrink(xa);
	return entry;
}

/* Find the first entry >= *index within the subtree @node at @level. */
static void *find_in(struct ik_xa_node *node, unsigned int level, uint64_t base,
		     uint64_t *index, uint64_t max)
{
	uint64_t span = 1ull << level_shift(level);
	unsigned int s = *index > base ? (unsigned int)((*index - base) >> level_shift(level)) : 0;

	for (; s < IK_XA_SLOTS; s++) {
		uint64_t start = base + (uint64_t)s * span;
		void *slot = node->slots[s];

		if (start > max)
			return NULL;
		if (!slot)
			continue;
		if (level == 0) {
			if (start >= *index) {
				*index = start;
				return slot;
			}
			continue;
		}
		{
			uint64_t from = *index > start ? *index : start;
			void *found;

			found = find_in(slot, level - 1, start, &from, max);
			if (found) {
				*index = from;
				return found;
			}
		}
	}
	return NULL;
}

void *ik_xa_find(const struct ik_xa *xa, uint64_t *index, uint64_t max)
{
	uint64_t from = *index;
	void *found;

	if (!xa->root || from > capacity(xa->height) || from > max)
		return NULL;
	found = find_in(xa->root, xa->height - 1, 0, &from, max);
	if (found && from <= max) {
		*index = from;
		return found;
	}
	return NULL;
}

int ik_xa_find_free(const struct ik_xa *xa, uint64_t start, uint64_t max, uint64_t *index)
{
	for (uint64_t cur = start; cur <= max; cur++) {
		if (!ik_xa_load(xa, cur)) {
			*index = cur;
			return 0;
		}
		if (cur == UINT64_MAX)
			break;
	}
	return -IK_ENOSPC;
}

static void destroy_node(struct ik_xa *xa, struct ik_xa_node *node, unsigned int level)
{
	if (level > 0)
		for (unsigned int s = 0; s < IK_XA_SLOTS; s++)
			if (node->slots[s])
				destroy_node(xa, node->slots[s], level - 1);
	node_free(xa, node);
}

void ik_xa_destroy(struct ik_xa *xa)
{
	if (xa->root)
		destroy_node(xa, xa->root, xa->height - 1);
	ik_xa_init(xa);
}
