/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring layout of the portable backend (SCQ, for targets without a double-width CAS).
 * Private: the public header exposes an opaque struct and no atomics.
 */
#ifndef LFQ_RING_SCQ_H
#define LFQ_RING_SCQ_H

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
	unsigned flags; /* LFQ_RING_SP | LFQ_RING_SC: what the bulk calls need */
	/* LFQ_RING_SC only, the single consumer's own: the indices that a pop_bulk took from aq
	 * but could not hand out (fewer than n were in), oldest first, from stash[stash_head].
	 * Every later pop hands them out before it takes from aq. Their slots stay occupied
	 * (not in fq), so capacity and size are unchanged. NULL without LFQ_RING_SC. */
	uint64_t *stash;
	size_t stash_head, stash_count;
	/* Sleepers of pop_wait (woken by pushes) and of push_wait (woken by pops), each on a
	 * line of its own: the fast paths only read them. */
	LFQ_CACHE_ALIGNED struct lfq__waitq not_empty;
	LFQ_CACHE_ALIGNED struct lfq__waitq not_full;
	LFQ_CACHE_ALIGNED char pad_end;
};

#endif /* LFQ_RING_SCQ_H */
