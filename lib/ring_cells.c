/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring, cell backend: creation, reset and size. The design, its invariants and the
 * memory-order labels are in ring_cells.h, next to the operations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/ring.h>

#include "ring_internal.h"

int lfq__ring_create(struct lfq_ring **ring, size_t capacity)
{
	unsigned bits = 0;

	while (((uint64_t)1 << bits) < capacity)
		bits++;
	const uint64_t head_bytes =
		(sizeof(struct lfq_ring) + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE;
	const uint64_t cell_bytes = (uint64_t)capacity * sizeof(struct lfq__cell);
	/* aligned_alloc wants a multiple of the alignment. */
	const uint64_t total =
		(head_bytes + cell_bytes + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE;

	if (total > SIZE_MAX)
		return -ENOMEM;
	char *mem = aligned_alloc(LFQ_CACHE_LINE, (size_t)total);

	if (!mem)
		return -ENOMEM;
	struct lfq_ring *r = (struct lfq_ring *)mem;

	memset(r, 0, sizeof(*r));
	r->cells = (struct lfq__cell *)(mem + head_bytes);
	r->bits = bits;
	r->lap = (uint64_t)1 << bits;
	r->mask = r->lap - 1;
	r->capacity = capacity;
	lfq__waitq_init(&r->not_empty);
	lfq__waitq_init(&r->not_full);
	lfq__ring_reset(r);
	*ring = r;
	return 0;
}

void lfq__ring_destroy(struct lfq_ring *ring)
{
	free(ring);
}

/*
 * Relaxed stores: the ring is not shared yet or again; whoever hands it to other threads
 * publishes it (lfq_ring_create's caller, or lfq_queue's segment cache, release/acquire).
 */
void lfq__ring_reset(struct lfq_ring *r)
{
	for (uint64_t i = 0; i < r->capacity; i++) {
		atomic_store_explicit(&r->cells[i].seq, lfq__cell_seq(i, LFQ_CELL_FREE),
				      memory_order_relaxed);
		atomic_store_explicit(&r->cells[i].item, 0, memory_order_relaxed);
	}
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->closed, 0, memory_order_relaxed);
}

/* Number of positions before p (a position encodes lap and index, not a count). */
static inline uint64_t count_of(const struct lfq_ring *r, uint64_t p)
{
	return (p >> r->bits) * r->capacity + (p & r->mask);
}

/*
 * A snapshot: both hints, each moved forward over what its cells prove done (a hint may lag
 * by the operations whose hint store was overtaken). At most capacity + 1 steps each, so the
 * call is wait-free; relaxed loads, as a snapshot needs no ordering.
 */
size_t lfq__ring_size(const struct lfq_ring *ring)
{
	struct lfq_ring *r = (struct lfq_ring *)ring;
	LFQ_SCHED_POINT();
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	LFQ_SCHED_POINT();
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

	for (size_t i = 0; i <= r->capacity; i++) {
		LFQ_SCHED_POINT();
		const uint64_t s =
			atomic_load_explicit(&lfq__cell_at(r, h)->seq, memory_order_relaxed);

		if (s <= lfq__cell_seq(h, LFQ_CELL_SEALED))
			break;
		h = lfq__cell_skip_consumed(r, s);
	}
	for (size_t i = 0; i <= r->capacity; i++) {
		LFQ_SCHED_POINT();
		const uint64_t s =
			atomic_load_explicit(&lfq__cell_at(r, t)->seq, memory_order_relaxed);

		if (s <= lfq__cell_seq(t, LFQ_CELL_FREE) || s == lfq__cell_seq(t, LFQ_CELL_SEALED))
			break;
		t = lfq__cell_skip_filled(r, s);
	}
	const uint64_t hc = count_of(r, h), tc = count_of(r, t);

	if (tc <= hc)
		return 0;
	return tc - hc >= r->capacity ? r->capacity : (size_t)(tc - hc);
}
