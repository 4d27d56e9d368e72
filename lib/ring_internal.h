/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring layout. Private: the public header exposes an opaque struct and no atomics.
 */
#ifndef LFQ_RING_INTERNAL_H
#define LFQ_RING_INTERNAL_H

#include <stddef.h>

#include "scq.h"
#include "waitq.h"

struct lfq_ring {
	/* Indices of slots holding items, in FIFO order. Its tail carries the closed bit. */
	struct lfq__scq aq;
	/* Indices of free slots; exactly `capacity` of them at creation. */
	struct lfq__scq fq;
	/* Read-only after create. */
	void **data; /* capacity slots; slot i is owned by whoever holds index i */
	size_t capacity;
	/* Sleepers of pop_wait (woken by pushes) and of push_wait (woken by pops), each on a
	 * line of its own: the fast paths only read them. */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED char pad_end;
};

/*
 * The ring's operations without their wake-up calls, for lfq_queue's segments (which have
 * their own eventcounts). Same results as the public calls: 0, -EAGAIN, -EPIPE.
 */
int lfq__ring_push_one(struct lfq_ring *ring, void *item);
int lfq__ring_pop_one(struct lfq_ring *ring, void **item);
size_t lfq__ring_push_burst(struct lfq_ring *ring, void *const *items, size_t n);
size_t lfq__ring_pop_burst(struct lfq_ring *ring, void **items, size_t n);
/* Close without waking anyone: LSCQ's "finalize". */
void lfq__ring_finalize(struct lfq_ring *ring);
/* Back to empty and open, for reuse. Only while no other thread can reach the ring. */
void lfq__ring_reset(struct lfq_ring *ring);

#endif /* LFQ_RING_INTERNAL_H */
