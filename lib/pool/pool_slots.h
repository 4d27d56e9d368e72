/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's job queue: indices of job slots in a free ring and in one ready ring per
 * priority level, over the pool's slab of slots (pool_internal.h):
 *
 *     submit:  i = get_free() (none: full);  slots[i] = *job;  put_ready(level, i)
 *     worker:  i = get_ready(level) (none: empty); job = slots[i]; put_free(i); run job
 *
 * On the cell backend the rings are lfq_ring cell rings of indices (one double-width CAS per
 * put, one CAS per get: ring_cells.h); on the portable backend they are SCQ index rings
 * sharing one allocation (scq.h). Either way the slot hand-off is the ring's release/acquire
 * pair: slots[i] = *job happens-before the worker's copy through put_ready's publish (C4 /
 * E4) and get_ready's acquire (C2 / D3), and the copy happens-before the next submit's write
 * through put_free and get_free the same way. Closing the ready rings (K1, seq_cst) makes
 * every later put_ready fail, and get_ready drains them, then reports -EPIPE.
 */
#ifndef LFQ_POOL_SLOTS_H
#define LFQ_POOL_SLOTS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring_internal.h"
#include "scq.h"

#define LFQ_SLOTQ_LEVELS_MAX 8

struct lfq__slotq {
#if LFQ_RING_CELLS
	struct lfq_ring *ready[LFQ_SLOTQ_LEVELS_MAX];
	struct lfq_ring *free;
#else
	/* Its tail carries the closed bit. */
	struct lfq__scq ready[LFQ_SLOTQ_LEVELS_MAX];
	/* Exactly `capacity` indices at creation. */
	struct lfq__scq free;
	void *entries; /* every ring's entry array, one allocation */
#endif
	unsigned levels;
	size_t capacity;
};

/* Sets up empty ready rings and a free ring holding 0 .. capacity-1. 0 or -ENOMEM. */
int lfq__slotq_init(struct lfq__slotq *q, size_t capacity, unsigned levels);
/* Frees what init allocated (also after a failed init). */
void lfq__slotq_fini(struct lfq__slotq *q);

#if LFQ_RING_CELLS

static inline bool lfq__slotq_get_free(struct lfq__slotq *q, uint64_t *i)
{
	void *it;

	if (lfq__ring_pop_one(q->free, &it) != 0)
		return false;
	*i = (uint64_t)(uintptr_t)it;
	return true;
}

static inline void lfq__slotq_put_free(struct lfq__slotq *q, uint64_t i)
{
	/* Never full (it holds at most the capacity) and never closed. */
	const int rc = lfq__ring_push_one(q->free, (void *)(uintptr_t)i);

	assert(rc == 0);
	(void)rc;
}

/* False if the level was closed: the slot is still the caller's. */
static inline bool lfq__slotq_put_ready(struct lfq__slotq *q, unsigned level, uint64_t i)
{
	return lfq__ring_push_one(q->ready[level], (void *)(uintptr_t)i) == 0;
}

/* 0 with the slot, -EAGAIN if the level is empty, -EPIPE if it is closed and drained. */
static inline int lfq__slotq_get_ready(struct lfq__slotq *q, unsigned level, uint64_t *i)
{
	void *it;
	const int rc = lfq__ring_pop_one(q->ready[level], &it);

	if (rc == 0)
		*i = (uint64_t)(uintptr_t)it;
	return rc;
}

static inline bool lfq__slotq_closed(struct lfq__slotq *q, unsigned level)
{
	return lfq__ring_closed(q->ready[level]); /* K2 */
}

static inline void lfq__slotq_close(struct lfq__slotq *q)
{
	for (unsigned l = 0; l < q->levels; l++)
		lfq__ring_finalize(q->ready[l]); /* K1 */
}

/* Free slots: a snapshot, never above the capacity. */
static inline size_t lfq__slotq_free_count(struct lfq__slotq *q)
{
	return lfq__ring_size(q->free);
}

/* Jobs queued on a level: a snapshot from the head and tail hints (a wake-up hint only). */
static inline size_t lfq__slotq_ready_count(struct lfq__slotq *q, unsigned level)
{
	return lfq__ring_size(q->ready[level]);
}

#else /* SCQ */

static inline bool lfq__slotq_get_free(struct lfq__slotq *q, uint64_t *i)
{
	const uint64_t v = lfq__scq_dequeue(&q->free, LFQ_TP_NONE);

	if (v == LFQ_SCQ_EMPTY)
		return false;
	*i = v;
	return true;
}

static inline void lfq__slotq_put_free(struct lfq__slotq *q, uint64_t i)
{
	lfq__scq_enqueue(&q->free, i, false, LFQ_TP_NONE, LFQ_TP_NONE);
}

static inline bool lfq__slotq_put_ready(struct lfq__slotq *q, unsigned level, uint64_t i)
{
	return lfq__scq_enqueue(&q->ready[level], i, true, LFQ_TP_NONE, LFQ_TP_NONE);
}

/* K2: the closed bit of a level's tail, with the tail value it came with (seq_cst, as D6). */
static inline uint64_t lfq__slotq_tail(struct lfq__slotq *q, unsigned level)
{
	return atomic_load_explicit(&q->ready[level].tail, memory_order_seq_cst);
}

static inline int lfq__slotq_get_ready(struct lfq__slotq *q, unsigned level, uint64_t *i)
{
	struct lfq__scq *r = &q->ready[level];
	uint64_t v = lfq__scq_dequeue(r, LFQ_TP_NONE);

	if (v == LFQ_SCQ_EMPTY) {
		const uint64_t t = lfq__slotq_tail(q, level);

		if (!(t & LFQ_SCQ_CLOSED))
			return -EAGAIN;
		v = lfq__scq_drain(r, t & ~LFQ_SCQ_CLOSED, LFQ_TP_NONE);
		if (v == LFQ_SCQ_EMPTY)
			return -EPIPE;
	}
	*i = v;
	return 0;
}

static inline bool lfq__slotq_closed(struct lfq__slotq *q, unsigned level)
{
	return lfq__slotq_tail(q, level) & LFQ_SCQ_CLOSED;
}

static inline void lfq__slotq_close(struct lfq__slotq *q)
{
	/* K1: every later ticket of these rings carries the bit, and its enqueue fails. */
	for (unsigned l = 0; l < q->levels; l++)
		atomic_fetch_or_explicit(&q->ready[l].tail, LFQ_SCQ_CLOSED, memory_order_seq_cst);
}

/* Relaxed: a snapshot (the wake-up hysteresis uses it as a hint); after our own enqueue on
 * the free ring its tail is at least our ticket, so the last slot freed sees the final
 * state. */
static inline size_t lfq__slotq_free_count(struct lfq__slotq *q)
{
	const uint64_t head = atomic_load_explicit(&q->free.head, memory_order_relaxed);
	const uint64_t tail = atomic_load_explicit(&q->free.tail, memory_order_relaxed);
	const uint64_t n = tail > head ? tail - head : 0;

	return n > q->capacity ? q->capacity : (size_t)n;
}

/* Relaxed, as free_count: a wake-up hint only. */
static inline size_t lfq__slotq_ready_count(struct lfq__slotq *q, unsigned level)
{
	const uint64_t head = atomic_load_explicit(&q->ready[level].head, memory_order_relaxed);
	const uint64_t tail =
		atomic_load_explicit(&q->ready[level].tail, memory_order_relaxed) & ~LFQ_SCQ_CLOSED;

	return tail > head ? (size_t)(tail - head) : 0;
}

#endif

#endif /* LFQ_POOL_SLOTS_H */
