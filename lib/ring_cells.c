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

uint64_t lfq__cell_ring_bytes(size_t capacity)
{
	const uint64_t cell_bytes = (uint64_t)capacity * sizeof(struct lfq__cell);

	/* A multiple of the line: aligned_alloc wants one, and a shared region ends on one. */
	return (LFQ_RING_CELLS_OFFSET + cell_bytes + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE *
	       LFQ_CACHE_LINE;
}

/* One 64-bit mixing step (a multiply-xorshift in the style of splitmix64's finalizer). */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9u;
	h ^= h >> 29;
	return h;
}

uint64_t lfq__cell_ring_check(const struct lfq_ring *r)
{
	/* Relaxed: the magic is read-only once the ring is shared; init computes the check
	 * before it publishes the magic, attach after it read the magic (acquire). */
	uint64_t h = mix(0, LFQ_LOAD(&((struct lfq_ring *)r)->magic, memory_order_relaxed));

	h = mix(h, r->version);
	h = mix(h, r->mask);
	h = mix(h, r->lap);
	h = mix(h, r->bits);
	h = mix(h, r->shared);
	h = mix(h, r->flags);
	h = mix(h, r->capacity);
	h = mix(h, r->cells_offset);
	h = mix(h, r->bytes);
	h = mix(h, r->not_empty.shared);
	h = mix(h, r->not_full.shared);
	return h;
}

void lfq__cell_ring_format(struct lfq_ring *r, size_t capacity, bool shared, unsigned flags)
{
	unsigned bits = 0;

	while (((uint64_t)1 << bits) < capacity)
		bits++;
	memset(r, 0, sizeof(*r));
	r->version = LFQ_RING_LAYOUT_VERSION;
	r->bits = bits;
	r->lap = (uint64_t)1 << bits;
	r->mask = r->lap - 1;
	r->shared = shared;
	r->flags = (uint16_t)flags;
	r->capacity = capacity;
	r->cells_offset = LFQ_RING_CELLS_OFFSET;
	r->bytes = lfq__cell_ring_bytes(capacity);
	if (shared) {
		lfq__waitq_init_shared(&r->not_empty);
		lfq__waitq_init_shared(&r->not_full);
	} else {
		lfq__waitq_init(&r->not_empty);
		lfq__waitq_init(&r->not_full);
		/* O5's release store is enough for push_wait sleepers once they fence with
		 * membarrier (waitq.h, W2a); where it is missing, O5 stays the seq_cst CAS. */
		if ((flags & LFQ__RING_MODE_SC) && lfq__waitq_asym_register()) {
			r->flags |= LFQ__RING_SC_PLAIN;
			r->not_full.asym = 1;
		}
	}
	lfq__ring_reset(r);
	/* The check covers the magic: set it first (relaxed: not yet published). */
	LFQ_STORE(&r->magic, LFQ_RING_MAGIC, memory_order_relaxed);
	r->check = lfq__cell_ring_check(r);
}

int lfq__ring_create(struct lfq_ring **ring, size_t capacity, unsigned flags)
{
	const uint64_t total = lfq__cell_ring_bytes(capacity);

	if (total > SIZE_MAX)
		return -ENOMEM;
	struct lfq_ring *r = aligned_alloc(LFQ_CACHE_LINE, (size_t)total);

	if (!r)
		return -ENOMEM;
	lfq__cell_ring_format(r, capacity, false, flags);
	*ring = r;
	return 0;
}

void lfq__ring_destroy(struct lfq_ring *ring)
{
	/* A shared ring lives in its creator's region: lfq_ring_shared_detach, not destroy. */
	if (ring->shared)
		return;
	free(ring);
}

/*
 * Relaxed stores: the ring is not shared yet or again; whoever hands it to other threads
 * publishes it (lfq_ring_create's caller, or lfq_queue's segment cache, release/acquire).
 */
void lfq__ring_reset(struct lfq_ring *r)
{
	for (uint64_t i = 0; i < r->capacity; i++) {
		struct lfq__cell *c = lfq__cell_at(r, i);

		LFQ_STORE(&c->seq, lfq__cell_seq(i, LFQ_CELL_FREE), memory_order_relaxed);
		LFQ_STORE(&c->item, 0, memory_order_relaxed);
	}
	LFQ_STORE(&r->tail, 0, memory_order_relaxed);
	LFQ_STORE(&r->head, 0, memory_order_relaxed);
	LFQ_STORE(&r->closed, 0, memory_order_relaxed);
	r->sp_limit = 0;
#ifdef LFQ_RING_BLIND_PUSH
	/* Every cell is FREE of its first lap with item 0 (I4): the first lap has room. */
	LFQ_STORE(&r->room, r->lap, memory_order_relaxed);
#endif
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
	uint64_t h = LFQ_LOAD(&r->head, memory_order_relaxed);
	LFQ_SCHED_POINT();
	uint64_t t = LFQ_LOAD(&r->tail, memory_order_relaxed);

	for (size_t i = 0; i <= r->capacity; i++) {
		LFQ_SCHED_POINT();
		const uint64_t s = LFQ_LOAD(&lfq__cell_at(r, h)->seq, memory_order_relaxed);

		if (s <= lfq__cell_seq(h, LFQ_CELL_SEALED))
			break;
		h = lfq__cell_skip_consumed(r, s);
	}
	for (size_t i = 0; i <= r->capacity; i++) {
		LFQ_SCHED_POINT();
		const uint64_t s = LFQ_LOAD(&lfq__cell_at(r, t)->seq, memory_order_relaxed);

		if (s <= lfq__cell_seq(t, LFQ_CELL_FREE) || s == lfq__cell_seq(t, LFQ_CELL_SEALED))
			break;
		t = lfq__cell_skip_filled(r, s);
	}
	const uint64_t hc = count_of(r, h), tc = count_of(r, t);

	if (tc <= hc)
		return 0;
	return tc - hc >= r->capacity ? r->capacity : (size_t)(tc - hc);
}

/* The position `count` positions from the start (count_of's inverse). */
static inline uint64_t position_of(const struct lfq_ring *r, uint64_t count)
{
	return (count / r->capacity) << r->bits | count % r->capacity;
}

/*
 * All or nothing, for the single producer: the cell of the n-th position from t being
 * FREE(last) proves position last - lap consumed, hence (consumption in order, I1) every
 * position below it, so all n cells are free; nobody else fills them, so they stay free
 * until we do. Only a seal of position t (close) can still stop the loop.
 */
size_t lfq__ring_push_bulk(struct lfq_ring *r, void *const *items, size_t n)
{
	if (!(r->flags & LFQ__RING_MODE_SP) || n == 0 || n > r->capacity)
		return 0;
	LFQ_SCHED_POINT();
	uint64_t t = LFQ_LOAD(&r->tail, memory_order_relaxed); /* O1 */
	const uint64_t last = position_of(r, count_of(r, t) + n - 1);
	/* C2 for the last cell; each put_sp re-reads its own. */
	LFQ_SCHED_POINT();
	const uint64_t s = LFQ_LOAD(&lfq__cell_at(r, last)->seq, memory_order_acquire);

	if (s != lfq__cell_seq(last, LFQ_CELL_FREE))
		return 0;
	size_t k = 0;

	while (k < n && lfq__cell_put_sp(r, &t, items[k]) == 0)
		k++;
	if (k) { /* O4 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->tail, t, memory_order_relaxed);
	}
	return k;
}

/*
 * For the single consumer: FULL(last) in the cell of the n-th position from h proves every
 * position up to last filled (I1), and nobody else consumes them.
 */
size_t lfq__ring_pop_bulk(struct lfq_ring *r, void **items, size_t n)
{
	if (!(r->flags & LFQ__RING_MODE_SC) || n == 0 || n > r->capacity)
		return 0;
	LFQ_SCHED_POINT();
	uint64_t h = LFQ_LOAD(&r->head, memory_order_relaxed); /* O1 */
	const uint64_t last = position_of(r, count_of(r, h) + n - 1);
	/* C2: acquire, so the n items are visible (each take_sc re-reads its cell anyway). */
	LFQ_SCHED_POINT();
	const uint64_t s = LFQ_LOAD(&lfq__cell_at(r, last)->seq, memory_order_acquire);

	if (s != lfq__cell_seq(last, LFQ_CELL_FULL))
		return 0;
	size_t k = 0;

	while (k < n && lfq__cell_take_sc(r, &h, &items[k]) == 0)
		k++;
	assert(k == n);
	if (k) { /* O4: release, for O6 */
		LFQ_SCHED_POINT();
		LFQ_STORE(&r->head, h, memory_order_release);
	}
	return k;
}
