/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A sparse index store: a radix tree of 64-way nodes keyed by 64-bit
 * indices, growing in height as needed.  Lookup is O(log64 n).  Used for
 * interrupt descriptors, domain reverse maps and per-device MSI
 * descriptor stores.  No internal locking: the owner serialises writers
 * and readers.
 */
#ifndef IK_CORE_XARRAY_H
#define IK_CORE_XARRAY_H

#include <irqkit/env.h>

#define IK_XA_SHIFT 6
#define IK_XA_SLOTS (1u << IK_XA_SHIFT)

struct ik_xa_node {
	void *slots[IK_XA_SLOTS];
	uint32_t count;                 /* non-NULL slots */
};

struct ik_xa {
	struct ik_xa_node *root;        /* NULL when empty */
	unsigned int height;            /* levels below and including root */
	uint64_t nr_entries;
	uint64_t nr_nodes;
};

void ik_xa_init(struct ik_xa *xa);
/** Return: the entry at @index, or NULL. */
void *ik_xa_load(const struct ik_xa *xa, uint64_t index);
/**
 * ik_xa_store - put @entry (non-NULL) at @index
 * Return: 0, -IK_EEXIST if occupied (nothing changed), -IK_ENOMEM (nothing
 * changed), -IK_EINVAL for a NULL entry.
 */
int ik_xa_insert(struct ik_xa *xa, uint64_t index, void *entry);
/*
 * Preloading, for inserts under a spinlock: fill the preload in sleepable
 * context, insert with it under the lock (no allocation happens there),
 * then drain what is left.
 */
struct ik_xa_preload {
	/*
	 * The worst insert grows a one-level store to eleven levels (ten new
	 * roots) and then builds a fresh ten-node path under the new top.
	 */
	struct ik_xa_node *nodes[22];
	unsigned int nr;
};
/** Return: 0 or -IK_ENOMEM (what was allocated stays in @pl for draining). */
int ik_xa_preload_fill(struct ik_xa_preload *pl);
/** As ik_xa_preload_fill(), but only until @pl holds @n nodes. */
int ik_xa_preload_fill_n(struct ik_xa_preload *pl, unsigned int n);
/**
 * ik_xa_insert_cost - an upper bound of the nodes an insert at @index
 * would allocate now (0 if the path exists).  Valid until the next write.
 */
unsigned int ik_xa_insert_cost(const struct ik_xa *xa, uint64_t index);
void ik_xa_preload_drain(struct ik_xa_preload *pl);
/** As ik_xa_insert() but takes nodes only from @pl; -IK_ENOMEM if it runs dry. */
int ik_xa_insert_preloaded(struct ik_xa *xa, uint64_t index, void *entry,
			   struct ik_xa_preload *pl);
/** Return: the removed entry, or NULL if none.  Frees emptied nodes. */
void *ik_xa_erase(struct ik_xa *xa, uint64_t index);
/**
 * ik_xa_find - first entry with index in [*index, max]
 * Return: the entry and its index in *@index, or NULL.
 */
void *ik_xa_find(const struct ik_xa *xa, uint64_t *index, uint64_t max);
/**
 * ik_xa_find_free - first free index in [start, max]
 * Return: 0 and *@index, or -IK_ENOSPC.
 */
int ik_xa_find_free(const struct ik_xa *xa, uint64_t start, uint64_t max, uint64_t *index);
/** Free all nodes (the entries themselves belong to the caller). */
void ik_xa_destroy(struct ik_xa *xa);

#define ik_xa_for_each(xa, idx, entry)                                             \
	for ((idx) = 0, (entry) = ik_xa_find((xa), &(idx), UINT64_MAX); (entry);   \
	     (entry) = ((idx) == UINT64_MAX ? NULL : ((idx)++, ik_xa_find((xa), &(idx), UINT64_MAX))))

#endif /* IK_CORE_XARRAY_H */
